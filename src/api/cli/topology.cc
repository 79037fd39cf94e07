#include "api/cli/topology.h"

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "api/cli/buffer.h"
#include "common/file_util.h"
#include "engine/memory_info.h"

namespace tcpxp::cli {
namespace {

int readInt(const std::string& path, int fallback) {
  std::string text = readFirstLine(path);
  if (text.empty()) return fallback;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 0);
  return (*end == '\0') ? static_cast<int>(v) : fallback;
}

std::vector<std::string> listDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<GpuDevice> discoverGpus(std::string* source) {
  std::vector<GpuDevice> gpus;
  int n = gpuCount();
  for (int i = 0; i < n; ++i) {
    GpuDevice g;
    g.index = i;
    g.name = gpuName(i);
    g.bdf = engine::gpuBdf(i);
    g.pci_path = engine::pciPathOfBdf(g.bdf);
    g.numa_node = engine::numaNodeOfBdf(g.bdf);
    gpus.push_back(g);
  }
  if (n > 0) {
    *source = "CUDA runtime";
    return gpus;
  }
  // No CUDA GPUs: NVIDIA VGA (0x0300) and 3D (0x0302) controllers that sysfs lists.
  for (const std::string& bdf : listDir(sysfsRoot() + "/bus/pci/devices")) {
    std::string dir = sysfsRoot() + "/bus/pci/devices/" + bdf;
    std::string vendor = readFirstLine(dir + "/vendor");
    std::string cls = readFirstLine(dir + "/class");
    if (vendor != "0x10de" || (cls.rfind("0x0300", 0) != 0 && cls.rfind("0x0302", 0) != 0))
      continue;
    GpuDevice g;
    g.index = static_cast<int>(gpus.size());
    g.name = "PCI 10de:" + readFirstLine(dir + "/device").substr(2);
    g.bdf = bdf;
    g.pci_path = engine::pciPathOfBdf(bdf);
    g.numa_node = engine::numaNodeOfBdf(bdf);
    gpus.push_back(g);
  }
  *source = gpus.empty()
                ? "none found (CUDA runtime and sysfs)"
                : "sysfs only (the CUDA runtime sees no GPU: no driver, or a CUDA-less build)";
  return gpus;
}

std::vector<NicDevice> discoverNics() {
  std::vector<NicDevice> nics;
  for (const std::string& name : listDir(sysfsRoot() + "/class/net")) {
    std::string dir = sysfsRoot() + "/class/net/" + name;
    NicDevice nic;
    nic.name = name;
    nic.state = readFirstLine(dir + "/operstate");
    if (nic.state.empty()) nic.state = "?";
    nic.speed_mbps = readInt(dir + "/speed", -1);
    engine::PciFacts f = engine::nicPciFacts(name, engine::sysfsRealPath(dir + "/device"));
    nic.pci_path = f.pci_path;
    nic.bdf = engine::bdfOfPath(f.pci_path);
    nic.numa_node = f.numa_node;
    nics.push_back(nic);
  }
  return nics;
}

}  // namespace tcpxp::cli
