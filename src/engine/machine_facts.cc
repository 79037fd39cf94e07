// The gatherers of decisions.h: the facts the deciders need, read from this machine.
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "common/env.h"
#include "common/file_util.h"
#include "engine/decisions.h"
#include "engine/memory_info.h"
#include "engine/transport_select.h"

namespace tcpxp::engine {
namespace {

bool isBdf(const std::string& s) {
  // dddd:bb:dd.f, hex digits
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11}) {
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// The path up to and including its last BDF component ("" when it has none): a NIC's device
// link may point below its PCI function (virtio-net: .../0000:00:04.0/virtio1).
std::string trimToBdf(const std::string& path) {
  std::string bdf = bdfOfPath(path);
  if (bdf.empty()) return "";
  return path.substr(0, path.rfind(bdf) + bdf.size());
}

// NCCL interface syntax: "eth1,eth2" prefixes, "=eth1" exact, "^docker" excludes.
bool ifnameSelects(const std::string& filter, const std::string& name) {
  if (filter.empty()) return true;
  bool exclude = filter[0] == '^';
  std::string list = exclude ? filter.substr(1) : filter;
  bool exact = !list.empty() && list[0] == '=';
  if (exact) list = list.substr(1);
  bool hit = false;
  size_t start = 0;
  while (start <= list.size() && !hit) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string want = list.substr(start, end - start);
    start = end + 1;
    if (want.empty()) continue;
    hit = exact ? name == want : name.compare(0, want.size(), want) == 0;
  }
  return exclude ? !hit : hit;
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

std::string sysfsRealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return "";
  std::string out(buf);
  std::string root = sysfsRoot();
  if (root != "/sys" && out.compare(0, root.size(), root) == 0)
    out = "/sys" + out.substr(root.size());
  return out;
}

std::string bdfOfPath(const std::string& path) {
  size_t end = path.size();
  while (end > 0) {
    size_t slash = path.rfind('/', end - 1);
    size_t begin = slash == std::string::npos ? 0 : slash + 1;
    std::string c = path.substr(begin, end - begin);
    if (isBdf(c)) return c;
    if (slash == std::string::npos) break;
    end = slash;
  }
  return "";
}

std::string pciPathOfBdf(const std::string& bdf) {
  if (bdf.empty()) return "";
  return sysfsRealPath(sysfsRoot() + "/bus/pci/devices/" + bdf);
}

int numaNodeOfBdf(const std::string& bdf) {
  if (bdf.empty()) return -1;
  std::string text = readFirstLine(sysfsRoot() + "/bus/pci/devices/" + bdf + "/numa_node");
  if (text.empty()) return -1;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  return *end == '\0' ? static_cast<int>(v) : -1;
}

PciFacts gpuPciFacts(int gpu_index) {
  PciFacts f;
  std::string bdf = gpuBdf(gpu_index);
  f.name = gpu_index < 0 ? "" : "GPU " + std::to_string(gpu_index);
  f.pci_path = pciPathOfBdf(bdf);
  f.numa_node = numaNodeOfBdf(bdf);
  return f;
}

PciFacts nicPciFacts(const std::string& name, const std::string& pci_path) {
  PciFacts f;
  f.name = name;
  f.pci_path = trimToBdf(pci_path);
  f.numa_node = numaNodeOfBdf(bdfOfPath(f.pci_path));
  return f;
}

std::vector<PciFacts> devicePciFacts(const std::vector<transport::NetProperties>& devices) {
  std::vector<PciFacts> out;
  for (const transport::NetProperties& p : devices) out.push_back(nicPciFacts(p.name, p.pci_path));
  return out;
}

std::vector<PciFacts> expectedDevicePciFacts(TransportKind kind, std::string* source) {
  std::vector<PciFacts> out;
  if (kind == TransportKind::kBuiltin) {
    transport::BuiltinSettings s = transport::builtinSettings();
    for (const transport::BuiltinInterface& i : s.interfaces) {
      out.push_back(nicPciFacts(i.name, i.pci_path));
    }
    *source = "the built-in transport's interfaces (UCCL_SOCKET_IFNAME=" +
              (s.ifname.empty() ? std::string("(unset)") : s.ifname) + ")";
    return out;
  }
  std::string filter = envString("NCCL_GPUDIRECTTCPX_SOCKET_IFNAME", "");
  std::vector<std::string> names;
  std::string net = sysfsRoot() + "/class/net";
  if (DIR* d = ::opendir(net.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && ifnameSelects(filter, n)) names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    PciFacts f = nicPciFacts(n, sysfsRealPath(net + "/" + n + "/device"));
    if (!f.pci_path.empty()) out.push_back(f);
  }
  *source = filter.empty() ? "TCPX's devices as it would list them: every PCI NIC "
                             "(NCCL_GPUDIRECTTCPX_SOCKET_IFNAME unset), sorted by name"
                           : "TCPX's devices as it would list them: NCCL_GPUDIRECTTCPX_SOCKET_"
                             "IFNAME=" +
                                 filter + ", sorted by name";
  return out;
}

RxdmFacts rxdmFacts() {
  RxdmFacts r;
  r.dir = envString("NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX", "");
  r.dir_from_env = !r.dir.empty();
  if (!r.dir_from_env) r.dir = "/tmp";
  auto isSocket = [&](const std::string& name) {
    struct stat st {};
    return ::stat((r.dir + "/" + name).c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  };
  for (const char* name : kRxdmFlowSteeringSockets) {
    if (!isSocket(name)) r.missing.push_back(name);
  }
  r.flow_steering = r.missing.empty();
  const std::string fd_prefix = "get_gpu_fd_";
  if (DIR* d = ::opendir(r.dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(fd_prefix, 0) != 0) continue;
      std::string bdf = n.substr(fd_prefix.size());
      if (isSocket(n) && isSocket("get_gpu_metadata_" + bdf)) r.gpu_buffers.push_back(bdf);
    }
    ::closedir(d);
  }
  std::sort(r.gpu_buffers.begin(), r.gpu_buffers.end());
  return r;
}

std::string describeRxdmAbsence(const RxdmFacts& rx) {
  std::string names;
  for (const std::string& m : rx.missing) names += (names.empty() ? "" : " and ") + m;
  return "rxdm (TCPX's receive-datapath manager) is not running: no " + names +
         " unix socket under " + rx.dir +
         (rx.dir_from_env ? " (NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX)"
                          : " (NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX unset; GCP uses /run/tcpx)");
}

TransportFacts gatherTransportFacts(const EngineConfig& config, bool allow_probe) {
  TransportFacts f;
  f.plugin_path = findTcpxPlugin(config);
  f.gpu_count = gpuCount();
  RxdmFacts rxdm = rxdmFacts();
  f.rxdm_present = rxdm.flow_steering;
  f.rxdm_dir = rxdm.dir;
  if (!rxdm.flow_steering) f.rxdm_absence = describeRxdmAbsence(rxdm);
  if (allow_probe) {
    std::string path = f.plugin_path;
    f.probe = [path] { return probeTcpxInChild(path); };
  }
  return f;
}

}  // namespace tcpxp::engine
