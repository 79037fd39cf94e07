// The machine's GPUs and NICs as sysfs describes them, and the GPU -> NIC mapping by PCIe
// locality. Read-only: nothing here initialises a transport.
#pragma once

#include <string>
#include <vector>

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

// "/sys" and "/proc", or TCPXP_SYSFS_ROOT / TCPXP_PROCFS_ROOT (tests point them at fake trees).
std::string sysfsRoot();
std::string procfsRoot();

// GPUs from the CUDA runtime; when it sees none, NVIDIA display/3D controllers found in sysfs
// (*source says which).
std::vector<GpuDevice> discoverGpus(std::string* source);
// Every interface in /sys/class/net, sorted by name.
std::vector<NicDevice> discoverNics();

struct NicMatch {
  std::vector<std::string> nics;
  std::string
      rule;  // how they were chosen, e.g. "PCIe: behind 0000:00:02.0 (shared switch/bridge)"
};

// For one GPU, the physical NICs nearest on the PCIe tree:
//  1. those sharing the deepest bridge or switch below the root complex with the GPU;
//  2. else those on the GPU's NUMA node;
//  3. else those under the same root complex;
//  4. else every physical NIC (no locality information).
NicMatch nearestNics(const GpuDevice& gpu, const std::vector<NicDevice>& nics);

// The PCI address in a sysfs path: its last "dddd:bb:dd.f" component, or "".
std::string bdfOfPath(const std::string& path);

}  // namespace tcpxp::cli
