#include "api/cli/topology.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "api/cli/buffer.h"
#include "engine/memory_info.h"

namespace tcpxp::cli {
namespace {

std::string readFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

int readInt(const std::string& path, int fallback) {
  std::string text = readFirstLine(path);
  if (text.empty()) return fallback;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 0);
  return (*end == '\0') ? static_cast<int>(v) : fallback;
}

// The resolved path, spelled under "/sys" even when TCPXP_SYSFS_ROOT points at a fake tree, so
// that PCIe locality compares the same components either way.
std::string realPath(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return "";
  std::string out(buf);
  std::string root = sysfsRoot();
  if (root != "/sys" && out.compare(0, root.size(), root) == 0)
    out = "/sys" + out.substr(root.size());
  return out;
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

bool isBdf(const std::string& s) {
  // dddd:bb:dd.f, hex digits
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11}) {
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    std::string c = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (!c.empty() && c != "sys" && c != "devices") out.push_back(c);
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return out;
}

// Number of leading path components (root complex, bridges, ...) two devices share.
size_t commonDepth(const std::string& a, const std::string& b) {
  std::vector<std::string> x = components(a), y = components(b);
  size_t n = 0;
  while (n < x.size() && n < y.size() && x[n] == y[n]) ++n;
  return n;
}

// The sysfs path of a PCI device up to and including its BDF component.
std::string trimToBdf(const std::string& path) {
  std::string bdf = bdfOfPath(path);
  if (bdf.empty()) return "";
  return path.substr(0, path.rfind(bdf) + bdf.size());
}

}  // namespace

std::string sysfsRoot() {
  const char* v = std::getenv("TCPXP_SYSFS_ROOT");
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string("/sys");
}

std::string procfsRoot() {
  const char* v = std::getenv("TCPXP_PROCFS_ROOT");
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string("/proc");
}

std::string bdfOfPath(const std::string& path) {
  std::vector<std::string> parts = components(path);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (isBdf(*it)) return *it;
  }
  return "";
}

std::vector<GpuDevice> discoverGpus(std::string* source) {
  std::vector<GpuDevice> gpus;
  int n = gpuCount();
  for (int i = 0; i < n; ++i) {
    GpuDevice g;
    g.index = i;
    g.name = gpuName(i);
    g.bdf = engine::gpuBdf(i);
    if (!g.bdf.empty()) {
      g.pci_path = realPath(sysfsRoot() + "/bus/pci/devices/" + g.bdf);
      g.numa_node = readInt(sysfsRoot() + "/bus/pci/devices/" + g.bdf + "/numa_node", -1);
    }
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
    g.pci_path = realPath(dir);
    g.numa_node = readInt(dir + "/numa_node", -1);
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
    nic.pci_path = trimToBdf(realPath(dir + "/device"));
    nic.bdf = bdfOfPath(nic.pci_path);
    if (!nic.bdf.empty())
      nic.numa_node = readInt(sysfsRoot() + "/bus/pci/devices/" + nic.bdf + "/numa_node", -1);
    nics.push_back(nic);
  }
  return nics;
}

NicMatch nearestNics(const GpuDevice& gpu, const std::vector<NicDevice>& nics) {
  NicMatch m;
  std::vector<const NicDevice*> physical;
  for (const NicDevice& n : nics) {
    if (!n.pci_path.empty()) physical.push_back(&n);
  }
  if (physical.empty()) {
    m.rule = "no physical (PCI) NIC";
    return m;
  }
  size_t best = 0;
  for (const NicDevice* n : physical) best = std::max(best, commonDepth(gpu.pci_path, n->pci_path));
  if (!gpu.pci_path.empty() && best >= 2) {
    std::vector<std::string> parts = components(gpu.pci_path);
    for (const NicDevice* n : physical) {
      if (commonDepth(gpu.pci_path, n->pci_path) == best) m.nics.push_back(n->name);
    }
    m.rule = "PCIe: shares the bridge/switch " + parts[best - 1] + " (" + std::to_string(best) +
             " common path levels)";
    return m;
  }
  if (gpu.numa_node >= 0) {
    for (const NicDevice* n : physical) {
      if (n->numa_node == gpu.numa_node) m.nics.push_back(n->name);
    }
    if (!m.nics.empty()) {
      m.rule = "same NUMA node " + std::to_string(gpu.numa_node);
      return m;
    }
  }
  if (!gpu.pci_path.empty() && best == 1) {
    for (const NicDevice* n : physical) {
      if (commonDepth(gpu.pci_path, n->pci_path) == 1) m.nics.push_back(n->name);
    }
    m.rule = "same PCI root complex " + components(gpu.pci_path)[0];
    return m;
  }
  for (const NicDevice* n : physical) m.nics.push_back(n->name);
  m.rule = "no locality information: every physical NIC";
  return m;
}

}  // namespace tcpxp::cli
