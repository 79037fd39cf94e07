// tcpx-p2p doctor: checks everything a GCP user gets wrong before TCPX can run (the plugin
// library, the GPU driver, GPUs and NICs, rxdm's sockets, the environment traps, dmabuf) and
// prints each finding as [OK], [WARN] or [FAIL] with the exact fix.
//
// It never calls the plugin's init (TCPX's init exits the process without a GPU driver): the
// library is dlopen'ed, ncclNetPlugin_v7 looked up, its name read and its members validated.
// Exit status: 0 no FAIL (TCPX ready), 1 at least one FAIL, 2 bad flags.
#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "api/cli/args.h"
#include "api/cli/commands.h"
#include "api/cli/topology.h"
#include "engine/engine_config.h"
#include "engine/transport_select.h"
#include "transport/abi/net_v7.h"
#include "transport/plugin_loader.h"

namespace tcpxp::cli {
namespace {

const Command kDoctor = {
    .name = "doctor",
    .usage = "doctor [--plugin PATH] [--json]",
    .summary =
        "Checks that this machine is ready for GPUDirect-TCPX and prints every finding as [OK], "
        "[WARN] or [FAIL]\n"
        "with the exact fix: the plugin library (found, loads, exports ncclNetPlugin_v7, complete "
        "table),\n"
        "the GPU driver, GPUs and NICs with the GPU -> NIC mapping, rxdm's unix sockets, the "
        "NCCL_* environment\n"
        "traps of TCPX, and kernel dmabuf support. The plugin's init is never called.\n"
        "Exit status: 0 ready (no FAIL), 1 not ready, 2 bad flags.",
    .flags =
        {
            {"--plugin", "PATH",
             "the plugin library to check (default: UCCL_TCPX_PLUGIN_PATH, else\n"
             "/usr/local/tcpx/lib64/libnccl-net.so, else libnccl-net.so on LD_LIBRARY_PATH)"},
            {"--json", nullptr, "print the findings as JSON instead of text"},
        },
    .env_notes =
        "UCCL_TCPX_PLUGIN_PATH, NCCL_GPUDIRECTTCPX_* and NCCL_* as TCPX reads them. "
        "TCPXP_SYSFS_ROOT and\n"
        "TCPXP_PROCFS_ROOT (default /sys, /proc) point the checks at another tree (tests).\n",
    .examples =
        "tcpx-p2p doctor\n"
        "source scripts/gcp-a3/env.sh && tcpx-p2p doctor --json\n",
};

enum class Level { kOk, kWarn, kFail };

struct Finding {
  Level level;
  std::string check;    // "plugin", "gpu", "env", ...
  std::string message;  // what was found
  std::string fix;      // what to do; "" for OK
};

class Report {
 public:
  void ok(const std::string& check, const std::string& msg) { add(Level::kOk, check, msg, ""); }
  void warn(const std::string& check, const std::string& msg, const std::string& fix) {
    add(Level::kWarn, check, msg, fix);
  }
  void fail(const std::string& check, const std::string& msg, const std::string& fix) {
    add(Level::kFail, check, msg, fix);
  }
  bool anyFail() const {
    for (const Finding& f : findings_) {
      if (f.level == Level::kFail) return true;
    }
    return false;
  }
  const std::vector<Finding>& findings() const { return findings_; }

 private:
  void add(Level level, const std::string& check, const std::string& msg, const std::string& fix) {
    findings_.push_back(Finding{level, check, msg, fix});
  }
  std::vector<Finding> findings_;
};

const char* levelTag(Level l) {
  switch (l) {
    case Level::kOk:
      return "[OK]";
    case Level::kWarn:
      return "[WARN]";
    case Level::kFail:
      return "[FAIL]";
  }
  return "?";
}

const char* levelName(Level l) {
  switch (l) {
    case Level::kOk:
      return "ok";
    case Level::kWarn:
      return "warn";
    case Level::kFail:
      return "fail";
  }
  return "?";
}

// ---- small helpers ------------------------------------------------------------------------

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool isSet(const char* name) { return !env(name).empty(); }

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string firstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A plain non-negative decimal integer (what TCPX's env parsing accepts reliably).
bool parseUnsigned(const std::string& text, long long* out) {
  std::string t = trim(text);
  if (t.empty() || t.size() > 18) return false;
  long long v = 0;
  for (char c : t) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}. False on junk.
bool parseCpuList(const std::string& text, std::set<long long>* out) {
  std::string t = trim(text);
  if (t.empty()) return false;
  for (const std::string& part : split(t, ',')) {
    size_t dash = part.find('-');
    long long lo = 0, hi = 0;
    if (dash == std::string::npos) {
      if (!parseUnsigned(part, &lo)) return false;
      hi = lo;
    } else if (!parseUnsigned(part.substr(0, dash), &lo) ||
               !parseUnsigned(part.substr(dash + 1), &hi) || hi < lo || hi - lo > 65536) {
      return false;
    }
    for (long long c = lo; c <= hi; ++c) out->insert(c);
  }
  return true;
}

std::string joinCpus(const std::set<long long>& cpus) {
  std::string s;
  for (long long c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

std::vector<std::string> interfaceNames() {
  std::vector<std::string> out;
  DIR* d = ::opendir((sysfsRoot() + "/class/net").c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

// NCCL interface syntax: "eth1,eth2" prefixes, "=eth1" exact, "^docker" excludes.
bool interfaceMatches(const std::string& entry, const std::vector<std::string>& names) {
  bool exact = !entry.empty() && entry[0] == '=';
  std::string want = exact ? entry.substr(1) : entry;
  for (const std::string& n : names) {
    if (exact ? n == want : n.compare(0, want.size(), want) == 0) return true;
  }
  return false;
}

// ---- plugin -------------------------------------------------------------------------------

// The path to check and where it came from, or "" when nothing was found.
std::string pluginPath(const std::string& flag, std::string* source) {
  if (!flag.empty()) {
    *source = "--plugin";
    return flag;
  }
  // The engine's own search (engine/transport_select.h), so both always agree.
  std::string path = engine::findTcpxPlugin(engine::EngineConfig::fromEnv());
  *source = path.empty()                             ? ""
            : isSet("UCCL_TCPX_PLUGIN_PATH")         ? "UCCL_TCPX_PLUGIN_PATH"
            : path == engine::kDefaultTcpxPluginPath ? "default path"
                                                     : "LD_LIBRARY_PATH";
  return path;
}

void checkPlugin(Report& r, const std::string& flag) {
  const char* fix_path =
      "install the TCPX plugin (GCP: the nccl-plugin-gpudirecttcpx container copies it to "
      "/usr/local/tcpx/lib64) and export UCCL_TCPX_PLUGIN_PATH=/usr/local/tcpx/lib64/"
      "libnccl-net.so";
  std::string source;
  std::string path = pluginPath(flag, &source);
  if (path.empty()) {
    r.fail("plugin",
           "no TCPX plugin found (UCCL_TCPX_PLUGIN_PATH unset, no " +
               std::string(engine::kDefaultTcpxPluginPath) +
               ", no libnccl-net.so on LD_LIBRARY_PATH)",
           fix_path);
    return;
  }
  if (!exists(path)) {
    r.fail("plugin", path + " (" + source + ") does not exist; UCCL_TCPX_PLUGIN_PATH must name it",
           fix_path);
    return;
  }
  r.ok("plugin", path + " (" + source + ") exists");
  // RTLD_LOCAL: its thousands of symbols stay private. Never dlclose'd (the loader's rule).
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = ::dlerror();
    r.fail("plugin", path + " does not load: " + (err ? err : "?"),
           "install the libraries it needs (ldd " + path +
               "); add /usr/local/tcpx/lib64 (and the CUDA libraries) to LD_LIBRARY_PATH");
    return;
  }
  r.ok("plugin", "dlopen(RTLD_NOW|RTLD_LOCAL) succeeded");
  const auto* table = static_cast<const ncclNet_v7_t*>(::dlsym(handle, "ncclNetPlugin_v7"));
  if (table == nullptr) {
    r.fail("plugin", path + " exports no ncclNetPlugin_v7 (not an ncclNet v7 plugin)",
           "point UCCL_TCPX_PLUGIN_PATH at TCPX's libnccl-net.so (GPUDirectTCPX_v7, plugin "
           "3.1.x)");
    return;
  }
  std::string name = table->name ? table->name : "(null)";
  r.ok("plugin", "exports ncclNetPlugin_v7, name \"" + name + "\" (init not called)");
  Status st = transport::NetPlugin::validate(*table, path);
  if (!st.isOk()) {
    r.fail("plugin", "incomplete table: " + st.message(),
           "use a complete ncclNet v7 plugin (TCPX's libnccl-net.so)");
    return;
  }
  r.ok("plugin", "every required member of the v7 table is present");
  std::string choice = env("UCCL_P2P_TRANSPORT");
  if (choice != "tcpx") {
    r.warn("plugin",
           "UCCL_P2P_TRANSPORT=" + (choice.empty() ? std::string("(unset)") : choice) +
               ": the engine will use the built-in socket transport",
           "export UCCL_P2P_TRANSPORT=tcpx");
  }
}

// ---- GPUs and NICs ------------------------------------------------------------------------

std::string numaText(int node) { return node < 0 ? "-" : std::to_string(node); }

void checkGpusAndNics(Report& r) {
  std::string proc_version = procfsRoot() + "/driver/nvidia/version";
  if (exists(proc_version) || exists("/dev/nvidia0")) {
    std::string v = firstLine(proc_version);
    r.ok("gpu", "NVIDIA driver present" + (v.empty() ? std::string() : ": " + v));
  } else {
    r.fail("gpu",
           "no NVIDIA driver (" + proc_version +
               " and /dev/nvidia0 missing): TCPX's init exits the process without one",
           "run on a GPU node with the NVIDIA driver loaded (GCP A3: the COS/GKE GPU driver "
           "installer, then check nvidia-smi)");
  }
  std::string source;
  std::vector<GpuDevice> gpus = discoverGpus(&source);
  if (gpus.empty()) {
    r.fail("gpu", "no GPU: " + source,
           "run on a GPU node; with containers pass the devices through (--gpus all / "
           "nvidia.com/gpu)");
  }
  for (const GpuDevice& g : gpus) {
    r.ok("gpu", "GPU " + std::to_string(g.index) + " " + (g.name.empty() ? "?" : g.name) + " BDF " +
                    (g.bdf.empty() ? "?" : g.bdf) + " NUMA " + numaText(g.numa_node));
  }
  std::vector<NicDevice> nics = discoverNics();
  int physical = 0;
  for (const NicDevice& n : nics) {
    if (n.pci_path.empty()) continue;
    ++physical;
    r.ok("nic", n.name + " (" + n.state + ") PCI " + n.pci_path + " NUMA " + numaText(n.numa_node));
  }
  if (physical == 0) {
    r.warn("nic", "no physical (PCI) NIC under " + sysfsRoot() + "/class/net",
           "run on a node with the gVNIC data NICs (GCP A3-high: eth1..eth4)");
  }
  for (const GpuDevice& g : gpus) {
    NicMatch m = nearestNics(g, nics);
    std::string list;
    for (const std::string& n : m.nics) list += (list.empty() ? "" : ",") + n;
    std::string msg = "GPU " + std::to_string(g.index) + " -> " +
                      (list.empty() ? std::string("(none)") : list) + " [" + m.rule + "]";
    if (list.empty()) {
      r.warn("mapping", msg, "set UCCL_TCPX_DEV per process to the GPU's PCIe-local NIC");
    } else {
      r.ok("mapping", msg);
    }
  }
}

// ---- rxdm ---------------------------------------------------------------------------------

void checkRxdm(Report& r) {
  std::string prefix = env("NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX");
  bool from_env = !prefix.empty();
  if (!from_env) prefix = "/tmp";
  std::string found;
  if (DIR* d = ::opendir(prefix.c_str())) {
    while (dirent* e = ::readdir(d)) {
      struct stat st {};
      std::string p = prefix + "/" + e->d_name;
      if (::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        found = p;
        break;
      }
    }
    ::closedir(d);
  }
  std::string where = prefix + (from_env ? " (NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX)"
                                         : " (NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX unset: /tmp)");
  if (!found.empty()) {
    r.ok("rxdm", "unix socket " + found + " under " + where);
    return;
  }
  r.fail("rxdm", "no rxdm unix socket under " + where,
         "start the receive-datapath-manager (GCP: the tcpgpudmarxd container with "
         "--uds_path=/run/tcpx and -v /run/tcpx:/run/tcpx) and export "
         "NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX=/run/tcpx");
}

// ---- environment traps --------------------------------------------------------------------

void checkChunkSize(Report& r) {
  const char* k = "NCCL_DYNAMIC_CHUNK_SIZE";
  std::string fix = "export NCCL_DYNAMIC_CHUNK_SIZE=524288 (on both sides)";
  if (!isSet(k)) {
    r.warn("env",
           std::string(k) +
               " unset: the plugin's default 0 hangs every transfer; the "
               "engine sets 524288 when unset",
           fix);
    return;
  }
  long long v = 0;
  if (!parseUnsigned(env(k), &v)) {
    r.fail("env", std::string(k) + "=" + env(k) + " is not a number", fix);
  } else if (v == 0) {
    r.fail("env", std::string(k) + "=0: every transfer hangs forever", fix);
  } else {
    r.ok("env", std::string(k) + "=" + std::to_string(v));
  }
}

void checkFlowSteeringWait(Report& r) {
  const char* k = "NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS";
  std::string fix = std::string("export ") + k + "=50000";
  if (!isSet(k)) {
    r.warn("env",
           std::string(k) +
               " unset: the plugin sleeps 5 s at the end of every accept "
               "(the engine sets 50000 when unset)",
           fix);
    return;
  }
  long long v = 0;
  if (!parseUnsigned(env(k), &v)) {
    r.fail("env", std::string(k) + "=" + env(k) + " is not a number", fix);
  } else if (v > 1000000) {
    r.warn("env", std::string(k) + "=" + std::to_string(v) + ": over 1 s slept per accept", fix);
  } else {
    r.ok("env", std::string(k) + "=" + std::to_string(v));
  }
}

void checkSockets(Report& r) {
  // The values the engine uses when unset (it sets 1 x 4).
  long long threads = 1, socks = 4;
  bool ok = true;
  struct Knob {
    const char* name;
    long long* value;
    const char* fix;
  };
  for (const Knob& k : {Knob{"NCCL_SOCKET_NTHREADS", &threads, "export NCCL_SOCKET_NTHREADS=1"},
                        Knob{"NCCL_NSOCKS_PERTHREAD", &socks, "export NCCL_NSOCKS_PERTHREAD=4"}}) {
    if (!isSet(k.name)) continue;
    if (!parseUnsigned(env(k.name), k.value) || *k.value < 1) {
      r.fail("env", std::string(k.name) + "=" + env(k.name) + " is not a positive number", k.fix);
      ok = false;
    }
  }
  if (!ok) return;
  std::string what = "NCCL_SOCKET_NTHREADS x NCCL_NSOCKS_PERTHREAD = " + std::to_string(threads) +
                     " x " + std::to_string(socks) + " = " + std::to_string(threads * socks);
  if (threads * socks > 8) {
    r.fail("env", what + " > 8 data sockets per comm (TCPX's limit)",
           "export NCCL_SOCKET_NTHREADS=1 NCCL_NSOCKS_PERTHREAD=4");
  } else {
    r.ok("env", what + " data sockets per comm" +
                    (isSet("NCCL_SOCKET_NTHREADS") && isSet("NCCL_NSOCKS_PERTHREAD")
                         ? ""
                         : " (engine defaults where unset)"));
  }
}

void checkInterfaces(Report& r, const std::vector<std::string>& names) {
  const char* ctrl = "NCCL_GPUDIRECTTCPX_CTRL_DEV";
  if (!isSet(ctrl)) {
    r.warn("env", std::string(ctrl) + " unset: the control sockets may go over a data NIC",
           "export NCCL_GPUDIRECTTCPX_CTRL_DEV=eth0 (the control NIC)");
  } else if (!interfaceMatches(trim(env(ctrl)), names)) {
    r.fail("env", std::string(ctrl) + "=" + env(ctrl) + ": no such interface",
           "export NCCL_GPUDIRECTTCPX_CTRL_DEV=<control NIC> (see ip -br link; GCP: eth0)");
  } else {
    r.ok("env", std::string(ctrl) + "=" + env(ctrl));
  }
  const char* data = "NCCL_GPUDIRECTTCPX_SOCKET_IFNAME";
  std::string fix_data =
      "export NCCL_GPUDIRECTTCPX_SOCKET_IFNAME=eth1,eth2,eth3,eth4 (the data NICs; see ip -br "
      "link)";
  if (!isSet(data)) {
    r.warn("env", std::string(data) + " unset: the plugin picks the data NICs itself", fix_data);
    return;
  }
  std::string missing;
  for (const std::string& raw : split(env(data), ',')) {
    std::string e = trim(raw);
    if (e.empty() || e[0] == '^') continue;  // exclusions name nothing that must exist
    if (!interfaceMatches(e, names)) missing += (missing.empty() ? "" : ",") + e;
  }
  if (!missing.empty()) {
    r.fail("env", std::string(data) + "=" + env(data) + ": no such interface: " + missing,
           fix_data);
  } else {
    r.ok("env",
         std::string(data) + "=" + env(data) + " (devices are these interfaces sorted by name)");
  }
}

// "eth1:8-21,112-125;eth2:..." -> cores of each NIC outside its NUMA node.
void checkBindings(Report& r, const char* var, const std::vector<std::string>& names) {
  if (!isSet(var)) return;  // the plugin uses the NIC's NUMA CPUs: the right default
  std::string value = env(var);
  std::string fix = std::string("export ") + var +
                    "=\"eth1:<cpus of eth1's NUMA node>;eth2:...\" (cpus from "
                    "/sys/devices/system/node/node<N>/cpulist), or unset it";
  bool all_ok = true;
  for (const std::string& raw : split(value, ';')) {
    std::string item = trim(raw);
    if (item.empty()) continue;
    size_t colon = item.find(':');
    std::set<long long> cpus;
    if (colon == std::string::npos || colon == 0 || !parseCpuList(item.substr(colon + 1), &cpus)) {
      r.fail("env", std::string(var) + ": malformed entry \"" + item + "\" (want IF:CPULIST)", fix);
      all_ok = false;
      continue;
    }
    std::string nic = item.substr(0, colon);
    bool known = false;
    for (const std::string& n : names) known = known || n == nic;
    if (!known) {
      r.warn("env", std::string(var) + ": no interface " + nic, fix);
      all_ok = false;
      continue;
    }
    std::string numa = firstLine(sysfsRoot() + "/class/net/" + nic + "/device/numa_node");
    long long node = 0;
    if (!parseUnsigned(numa, &node)) continue;  // -1 or virtual: nothing to compare with
    std::set<long long> local;
    std::string list_path =
        sysfsRoot() + "/devices/system/node/node" + std::to_string(node) + "/cpulist";
    if (!parseCpuList(firstLine(list_path), &local)) continue;
    std::set<long long> outside;
    for (long long c : cpus) {
      if (local.count(c) == 0) outside.insert(c);
    }
    if (!outside.empty()) {
      r.warn("env",
             std::string(var) + ": " + nic + " is on NUMA node " + std::to_string(node) +
                 " but cores " + joinCpus(outside) + " are not (node " + std::to_string(node) +
                 ": " + firstLine(list_path) + ")",
             fix);
      all_ok = false;
    }
  }
  if (all_ok) r.ok("env", std::string(var) + "=" + value + " (cores on each NIC's NUMA node)");
}

void checkEnvironment(Report& r) {
  std::vector<std::string> names = interfaceNames();
  checkChunkSize(r);
  checkFlowSteeringWait(r);
  checkSockets(r);
  checkInterfaces(r, names);
  checkBindings(r, "NCCL_GPUDIRECTTCPX_TX_BINDINGS", names);
  checkBindings(r, "NCCL_GPUDIRECTTCPX_RX_BINDINGS", names);
}

// ---- dmabuf (a hint only) -----------------------------------------------------------------

void checkDmabuf(Report& r) {
  std::string release = firstLine(procfsRoot() + "/sys/kernel/osrelease");
  std::string kernel = release.empty() ? "" : " (kernel " + release + ")";
  if (exists(sysfsRoot() + "/kernel/dmabuf")) {
    r.ok("dmabuf", sysfsRoot() + "/kernel/dmabuf present" + kernel +
                       "; devmem-TCP itself is only proven by rxdm and the plugin");
  } else {
    r.warn("dmabuf",
           "hint: " + sysfsRoot() + "/kernel/dmabuf not visible" + kernel +
               ": GPU receives need Google's devmem-TCP kernel with dmabuf",
           "use a GCP A3 image with the GPUDirect-TCPX kernel (COS or the A3 Ubuntu image); "
           "ignore this hint if rxdm runs");
  }
}

// ---- output -------------------------------------------------------------------------------

std::string jsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

void printText(const Report& r) {
  std::string section;
  for (const Finding& f : r.findings()) {
    if (f.check != section) {
      section = f.check;
      std::printf("%s%s\n", section == r.findings().front().check ? "" : "\n", section.c_str());
    }
    std::printf("  %-6s %s\n", levelTag(f.level), f.message.c_str());
    if (!f.fix.empty()) std::printf("         fix: %s\n", f.fix.c_str());
  }
  int fails = 0, warns = 0;
  for (const Finding& f : r.findings()) {
    fails += f.level == Level::kFail;
    warns += f.level == Level::kWarn;
  }
  std::printf("\n%s: %d FAIL, %d WARN\n", fails ? "TCPX NOT READY" : "TCPX READY", fails, warns);
}

void printJson(const Report& r) {
  std::printf("{\n  \"ready\": %s,\n  \"findings\": [", r.anyFail() ? "false" : "true");
  bool first = true;
  for (const Finding& f : r.findings()) {
    std::printf(
        "%s\n    {\"level\": \"%s\", \"check\": \"%s\", \"message\": \"%s\", \"fix\": \"%s\"}",
        first ? "" : ",", levelName(f.level), jsonEscape(f.check).c_str(),
        jsonEscape(f.message).c_str(), jsonEscape(f.fix).c_str());
    first = false;
  }
  std::printf("\n  ]\n}\n");
}

}  // namespace

int runDoctor(int argc, char** argv) {
  Args args;
  if (!args.parse(kDoctor, argc, argv, 2)) return usageError(kDoctor, args.error());
  if (args.helpRequested()) {
    printHelp(kDoctor, stdout);
    return kExitOk;
  }
  std::string plugin = args.text("--plugin", "");
  if (args.has("--plugin") && plugin.empty()) args.fail("--plugin needs a path");
  if (!args.ok()) return usageError(kDoctor, args.error());
  Report r;
  checkPlugin(r, plugin);
  checkGpusAndNics(r);
  checkRxdm(r);
  checkEnvironment(r);
  checkDmabuf(r);
  if (args.has("--json")) {
    printJson(r);
  } else {
    printText(r);
  }
  std::fflush(stdout);
  return r.anyFail() ? kExitFailure : kExitOk;
}

}  // namespace tcpxp::cli
