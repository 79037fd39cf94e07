// The machine's GPUs and NICs as sysfs describes them, for printing. Read-only: nothing here
// initialises a transport. The GPU -> device mapping is the engine's (choices.h).
#pragma once

#include <string>
#include <vector>

#include "engine/decisions.h"

namespace tcpxp::cli {

struct GpuDevice {
  int index = 0;
  std::string name;      // from CUDA, or "PCI 10de:2330" when only sysfs knows it
  std::string bdf;       // "0000:4a:00.0"
  std::string pci_path;  // realpath of /sys/bus/pci/devices/<bdf>
  int numa_node = -1;
};

struct NicDevice {
  std::string name;      // "eth1"
  std::string state;     // operstate: up, down, unknown
  int speed_mbps = -1;   // -1 when the driver does not say
  std::string bdf;       // "" for virtual interfaces
  std::string pci_path;  // realpath of the PCI device, "" when virtual
  int numa_node = -1;
};

// "/sys" and "/proc", or TCPXP_SYSFS_ROOT / TCPXP_PROCFS_ROOT (the engine's gatherers).
using engine::procfsRoot;
using engine::sysfsRoot;

// GPUs from the CUDA runtime; when it sees none, NVIDIA display/3D controllers found in sysfs
// (*source says which).
std::vector<GpuDevice> discoverGpus(std::string* source);
// Every interface in /sys/class/net, sorted by name.
std::vector<NicDevice> discoverNics();

}  // namespace tcpxp::cli
