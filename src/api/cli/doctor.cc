// tcpx-p2p doctor: checks everything a GCP user gets wrong before TCPX can run (the plugin
// library, the transport the engine would choose, the GPU driver, GPUs and NICs, rxdm's sockets,
// the environment traps, dmabuf) and the built-in transport (interfaces, a self-test), prints
// each finding as [OK], [WARN] or [FAIL] with the fix, then one verdict: the transport an
// endpoint on this machine will use and whether it is ready.
//
// The plugin's init never runs in this process (TCPX's init exits the process without a GPU
// driver): the library is inspected (dlopen, ncclNetPlugin_v7, name, members), and the engine's
// own transport decision runs its probe child process only when every other prerequisite holds.
// Exit status: 0 the transport that will be used is ready (and is the one --require names), 1 not,
// 2 bad flags.
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "api/cli/args.h"
#include "api/cli/choices.h"
#include "api/cli/commands.h"
#include "api/cli/doctor.h"
#include "api/cli/topology.h"
#include "engine/transport_select.h"

namespace tcpxp::cli {
namespace doctor {

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

const char* scopeName(Scope s) {
  switch (s) {
    case Scope::kTcpx:
      return "tcpx";
    case Scope::kBuiltin:
      return "built-in";
    case Scope::kBoth:
      return "both";
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

}  // namespace doctor

namespace {

using namespace doctor;  // NOLINT: the report and helpers of this command

const Command kDoctor = {
    .name = "doctor",
    .usage = "doctor [--plugin PATH] [--require tcpx|built-in] [--json]",
    .summary =
        "Checks both transports and says which one an endpoint on this machine will use and "
        "whether it is ready.\n"
        "TCPX: the plugin library (found, loads, exports ncclNetPlugin_v7, complete table), the "
        "GPU driver, GPUs\n"
        "and NICs with the GPU -> NIC mapping, rxdm's unix sockets, the NCCL_* traps of TCPX and "
        "kernel dmabuf\n"
        "support (the plugin's init is never called). Built-in socket transport: its interfaces "
        "and a self-test\n"
        "(two endpoints of this process move 1 MiB both ways, every byte checked). Every finding "
        "is [OK], [WARN]\n"
        "or [FAIL] with the exact fix.\n"
        "Exit status: 0 the transport that will be used is ready, 1 it is not (or it is not the "
        "one --require\n"
        "names), 2 bad flags.",
    .flags =
        {
            {"--plugin", "PATH",
             "the plugin library to check (default: UCCL_TCPX_PLUGIN_PATH, else\n"
             "/usr/local/tcpx/lib64/libnccl-net.so, else libnccl-net.so on LD_LIBRARY_PATH)"},
            {"--require", "KIND",
             "exit 1 unless the transport that will be used is KIND (tcpx | built-in) and\n"
             "ready (the GCP launchers pass tcpx)"},
            {"--json", nullptr, "print the findings and both verdicts as JSON instead of text"},
        },
    .env_notes =
        "UCCL_TCPX_PLUGIN_PATH, NCCL_GPUDIRECTTCPX_* and NCCL_* as TCPX reads them; "
        "UCCL_SOCKET_IFNAME for\n"
        "the built-in transport. TCPXP_SYSFS_ROOT and TCPXP_PROCFS_ROOT (default /sys, /proc) "
        "point the checks\n"
        "at another tree (tests).\n",
    .examples =
        "tcpx-p2p doctor\n"
        "source scripts/gcp-a3/env.sh && tcpx-p2p doctor --require tcpx --json\n",
};

// ---- plugin -------------------------------------------------------------------------------

void checkPlugin(Report& r, const MachineChoices& m) {
  const char* fix_path =
      "install the TCPX plugin (GCP: the nccl-plugin-gpudirecttcpx container copies it to "
      "/usr/local/tcpx/lib64) and export UCCL_TCPX_PLUGIN_PATH=/usr/local/tcpx/lib64/"
      "libnccl-net.so";
  const std::string& path = m.plugin_path;
  if (path.empty()) {
    r.fail("plugin",
           "no TCPX plugin found (UCCL_TCPX_PLUGIN_PATH unset, no " +
               std::string(engine::kDefaultTcpxPluginPath) +
               ", no libnccl-net.so on LD_LIBRARY_PATH)",
           fix_path);
    return;
  }
  transport::PluginInspection p = engine::inspectTcpxPlugin(path);
  if (!p.exists) {
    r.fail("plugin",
           path + " (" + m.plugin_source + ") does not exist; UCCL_TCPX_PLUGIN_PATH must name it",
           fix_path);
    return;
  }
  r.ok("plugin", path + " (" + m.plugin_source + ") exists");
  if (!p.loads) {
    r.fail("plugin", path + " does not load: " + p.error,
           "install the libraries it needs (ldd " + path +
               "); add /usr/local/tcpx/lib64 (and the CUDA libraries) to LD_LIBRARY_PATH");
    return;
  }
  r.ok("plugin", "dlopen(RTLD_NOW|RTLD_LOCAL) succeeded");
  if (!p.has_symbol) {
    r.fail("plugin", path + " exports no ncclNetPlugin_v7 (not an ncclNet v7 plugin)",
           "point UCCL_TCPX_PLUGIN_PATH at TCPX's libnccl-net.so (GPUDirectTCPX_v7, plugin "
           "3.1.x)");
    return;
  }
  r.ok("plugin", "exports ncclNetPlugin_v7, name \"" + p.name + "\" (init not called)");
  if (!p.complete) {
    r.fail("plugin", "incomplete table: " + p.error,
           "use a complete ncclNet v7 plugin (TCPX's libnccl-net.so)");
    return;
  }
  r.ok("plugin", "every required member of the v7 table is present");
}

// ---- the engine's choices -----------------------------------------------------------------

void checkTransport(Report& r, const MachineChoices& m) {
  std::string what = std::string("an endpoint would use ") +
                     transport::transportKindName(m.transport.kind) + ": " + m.transport.reason;
  if (m.transport.kind == engine::TransportKind::kTcpx) {
    r.ok("transport", what);
  } else if (m.config.transport == "tcp") {
    r.warn("transport", what, "unset UCCL_P2P_TRANSPORT (or set it to tcpx) to use TCPX");
  } else {
    r.warn("transport", what, "fix the FAIL findings below, or export UCCL_P2P_TRANSPORT=tcpx");
  }
  r.ok("transport", "chunk " + formatBytes(m.chunk.bytes) + " (" + m.chunk.reason + ")");
  r.ok("transport", "host buffers: " + engine::describeBufferPaths(m.host));
  r.ok("transport", "GPU buffers: " + engine::describeBufferPaths(m.gpu));
}

// ---- GPUs and NICs ------------------------------------------------------------------------

std::string numaText(int node) { return node < 0 ? "-" : std::to_string(node); }

void checkGpusAndNics(Report& r, const MachineChoices& m) {
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
  // The mapping bears on the transport that will be used (UCCL_TCPX_DEV names its devices).
  r.setScope(m.transport.kind == engine::TransportKind::kTcpx ? Scope::kTcpx : Scope::kBuiltin);
  for (const GpuDevice& g : gpus) {
    std::string devices, why;
    bool placed = placeGpu(m, g, &devices, &why);
    std::string msg = "GPU " + std::to_string(g.index) + " -> " +
                      (placed ? devices : std::string("(error)")) + " [" + why + "]";
    if (!placed) {
      r.fail("mapping", msg,
             "fix UCCL_TCPX_DEV (device indices or names of " + m.devices_source + ")");
    } else if (why.rfind("PCIe-local", 0) != 0 && why.rfind("UCCL_TCPX_DEV", 0) != 0) {
      r.warn("mapping", msg, "set UCCL_TCPX_DEV per process to the GPU's PCIe-local NIC");
    } else {
      r.ok("mapping", msg);
    }
  }
  r.setScope(Scope::kTcpx);
}

// ---- rxdm ---------------------------------------------------------------------------------

void checkRxdm(Report& r) {
  engine::RxdmFacts rx = engine::rxdmFacts();
  std::string where =
      rx.dir + (rx.dir_from_env ? " (NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX)"
                                : " (NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX unset: /tmp)");
  if (!rx.flow_steering) {
    r.fail("rxdm", engine::describeRxdmAbsence(rx),
           "start the receive-datapath-manager (GCP: the tcpgpudmarxd container with "
           "--uds_path=/run/tcpx and -v /run/tcpx:/run/tcpx) and export "
           "NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX=/run/tcpx");
    return;
  }
  r.ok("rxdm", "flow-steering unix sockets rx_rule_manager and rx_rule_uninstall under " + where);
  if (rx.gpu_buffers.empty()) {
    r.fail("rxdm",
           "no GPU receive-buffer sockets (get_gpu_fd_<PCI>, get_gpu_metadata_<PCI>) under " +
               where + ": TCPX cannot register GPU memory",
           "start rxdm with every GPU (GCP: tcpgpudmarxd --gpu_nic_preset a3vm)");
    return;
  }
  std::string bdfs;
  for (const std::string& b : rx.gpu_buffers) bdfs += (bdfs.empty() ? "" : ", ") + b;
  r.ok("rxdm", "GPU receive-buffer sockets for " + std::to_string(rx.gpu_buffers.size()) +
                   " GPU(s): " + bdfs);
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
}

// Which transport an endpoint will use, and whether each is ready.
struct Verdict {
  Scope used;
  std::string used_name;  // "tcpx" | "built-in socket"
  std::string reason;     // the engine's reason (decideTransport)
  bool tcpx_ready;
  bool builtin_ready;
  bool used_ready() const { return used == Scope::kTcpx ? tcpx_ready : builtin_ready; }
};

Verdict decideVerdict(const Report& r, const MachineChoices& m) {
  Verdict v;
  v.used = m.transport.kind == engine::TransportKind::kTcpx ? Scope::kTcpx : Scope::kBuiltin;
  v.used_name = transport::transportKindName(m.transport.kind);
  v.reason = m.transport.reason;
  v.tcpx_ready = r.count(Level::kFail, Scope::kTcpx) == 0;
  v.builtin_ready = r.count(Level::kFail, Scope::kBuiltin) == 0;
  return v;
}

void printVerdict(const Report& r, const Verdict& v) {
  auto line = [&](const char* name, Scope s, bool ready) {
    std::printf("%-9s %s: %d FAIL, %d WARN\n", name, ready ? "READY" : "NOT READY",
                r.count(Level::kFail, s), r.count(Level::kWarn, s));
  };
  std::printf("\n");
  line("TCPX", Scope::kTcpx, v.tcpx_ready);
  line("built-in", Scope::kBuiltin, v.builtin_ready);
  std::printf("verdict: %s: an endpoint on this machine will use %s: %s\n",
              v.used_ready() ? "READY" : "NOT READY", v.used_name.c_str(), v.reason.c_str());
}

void printJson(const Report& r, const Verdict& v) {
  std::printf(
      "{\n  \"ready\": %s,\n  \"transport\": \"%s\",\n  \"reason\": \"%s\",\n  "
      "\"tcpx_ready\": %s,\n  \"builtin_ready\": %s,\n  \"findings\": [",
      v.used_ready() ? "true" : "false", scopeName(v.used), jsonEscape(v.reason).c_str(),
      v.tcpx_ready ? "true" : "false", v.builtin_ready ? "true" : "false");
  bool first = true;
  for (const Finding& f : r.findings()) {
    std::printf(
        "%s\n    {\"level\": \"%s\", \"scope\": \"%s\", \"check\": \"%s\", \"message\": "
        "\"%s\", \"fix\": \"%s\"}",
        first ? "" : ",", levelName(f.level), scopeName(f.scope), jsonEscape(f.check).c_str(),
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
  std::string require = args.text("--require", "");
  if (args.has("--require") && require != "tcpx" && require != "built-in") {
    args.fail("--require takes tcpx or built-in, not '" + require + "'");
  }
  if (!args.ok()) return usageError(kDoctor, args.error());
  Report r;
  MachineChoices m = machineChoices(/*allow_probe=*/true, plugin);
  r.setScope(Scope::kTcpx);
  checkPlugin(r, m);
  checkTransport(r, m);
  checkGpusAndNics(r, m);
  checkRxdm(r);
  checkEnvironment(r);
  checkDmabuf(r);
  r.setScope(Scope::kBuiltin);
  checkBuiltin(r);
  Verdict v = decideVerdict(r, m);
  if (args.has("--json")) {
    printJson(r, v);
  } else {
    printText(r);
    printVerdict(r, v);
  }
  std::fflush(stdout);
  bool required = require.empty() || require == scopeName(v.used);
  if (!required) {
    std::fprintf(stderr, "doctor: --require %s, but an endpoint here would use %s\n",
                 require.c_str(), v.used_name.c_str());
  }
  return v.used_ready() && required ? kExitOk : kExitFailure;
}

}  // namespace tcpxp::cli
