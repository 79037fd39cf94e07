// tcpx-p2p info: what this machine offers the engine and what the engine would choose.
// Only reads: it never initialises a transport (TCPX's init kills a process without a GPU
// driver), it only checks that the plugin library loads and exports ncclNetPlugin_v7.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "api/cli/args.h"
#include "api/cli/buffer.h"
#include "api/cli/commands.h"
#include "api/cli/topology.h"
#include "common/env.h"
#include "engine/engine_config.h"
#include "engine/transport_select.h"
#include "transport/socket/socket_config.h"
#include "transport/socket/socket_devices.h"

namespace tcpxp::cli {
namespace {

const Command kInfo = {
    .name = "info",
    .usage = "info [--no-dlopen]",
    .summary =
        "Prints this machine's GPUs (name, PCI BDF, NUMA node) and NICs (state, speed, PCI path, "
        "NUMA node),\n"
        "the GPU -> NIC mapping by PCIe locality (and the rule that decided it), the transport an "
        "endpoint\n"
        "would use and why, and every environment variable with its current value and default.\n"
        "The TCPX plugin is only dlopen'ed and its ncclNetPlugin_v7 symbol looked up; init is "
        "never called.",
    .flags =
        {
            {"--no-dlopen", nullptr, "only check that the TCPX plugin file exists; do not load it"},
        },
    .env_notes =
        "UCCL_P2P_TRANSPORT and UCCL_TCPX_PLUGIN_PATH decide the transport; UCCL_SOCKET_IFNAME the "
        "socket\n"
        "transport's interfaces.\n",
    .examples =
        "tcpx-p2p info\nUCCL_P2P_TRANSPORT=tcpx UCCL_TCPX_PLUGIN_PATH=/opt/tcpx/libnccl-net.so "
        "tcpx-p2p info\n",
};

// "10.0.0.1:0" -> "10.0.0.1" (the devices' addresses carry no port yet).
std::string ipOnly(std::string addr) {
  if (addr.size() > 2 && addr.compare(addr.size() - 2, 2, ":0") == 0) addr.resize(addr.size() - 2);
  return addr;
}

std::string numaText(int node) { return node < 0 ? "-" : std::to_string(node); }

void printGpus(const std::vector<GpuDevice>& gpus, const std::string& source) {
  std::printf("GPUs: %zu (%s)\n", gpus.size(), source.c_str());
  if (gpus.empty()) return;
  std::printf("  %-4s %-28s %-13s %-5s %s\n", "GPU", "NAME", "BDF", "NUMA", "PCI PATH");
  for (const GpuDevice& g : gpus) {
    std::printf("  %-4d %-28s %-13s %-5s %s\n", g.index, g.name.empty() ? "?" : g.name.c_str(),
                g.bdf.empty() ? "?" : g.bdf.c_str(), numaText(g.numa_node).c_str(),
                g.pci_path.empty() ? "?" : g.pci_path.c_str());
  }
}

void printNics(const std::vector<NicDevice>& nics) {
  std::printf("\nNICs: %zu (/sys/class/net)\n", nics.size());
  std::printf("  %-12s %-8s %-12s %-13s %-5s %s\n", "NAME", "STATE", "SPEED", "BDF", "NUMA",
              "PCI PATH");
  for (const NicDevice& n : nics) {
    std::string speed = n.speed_mbps > 0 ? std::to_string(n.speed_mbps) + " Mb/s" : "-";
    std::printf("  %-12s %-8s %-12s %-13s %-5s %s\n", n.name.c_str(), n.state.c_str(),
                speed.c_str(), n.bdf.empty() ? "-" : n.bdf.c_str(), numaText(n.numa_node).c_str(),
                n.pci_path.empty() ? "(virtual)" : n.pci_path.c_str());
  }
}

void printMapping(const std::vector<GpuDevice>& gpus, const std::vector<NicDevice>& nics) {
  std::printf(
      "\nGPU -> NIC by PCIe locality\n"
      "  rule: the NICs sharing the deepest PCIe bridge/switch with the GPU; else the GPU's NUMA "
      "node;\n"
      "        else the same root complex; else every physical NIC. UCCL_TCPX_DEV overrides.\n");
  if (gpus.empty()) {
    std::printf("  (no GPU)\n");
    return;
  }
  for (const GpuDevice& g : gpus) {
    NicMatch m = nearestNics(g, nics);
    std::string list;
    for (const std::string& n : m.nics) list += (list.empty() ? "" : ",") + n;
    std::printf("  GPU %d -> %-16s [%s]\n", g.index, list.empty() ? "(none)" : list.c_str(),
                m.rule.c_str());
  }
}

// Checks the TCPX plugin without initialising it. Returns a one-line verdict.
std::string checkPlugin(const std::string& path, bool do_dlopen, bool* usable) {
  *usable = false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "not found";
  if (!do_dlopen) return "exists (not loaded: --no-dlopen)";
  // RTLD_LOCAL: its thousands of symbols stay private. Never dlclose'd (the loader's rule).
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = ::dlerror();
    return std::string("exists but does not load: ") + (err ? err : "?");
  }
  if (::dlsym(handle, "ncclNetPlugin_v7") == nullptr)
    return "loads but exports no ncclNetPlugin_v7";
  *usable = true;
  return "loads and exports ncclNetPlugin_v7 (init not called)";
}

void printTransport(bool do_dlopen) {
  std::string choice = envString("UCCL_P2P_TRANSPORT", "");
  std::string path = engine::findTcpxPlugin(engine::EngineConfig::fromEnv());
  if (path.empty()) path = engine::kDefaultTcpxPluginPath;
  bool usable = false;
  std::string verdict = checkPlugin(path, do_dlopen, &usable);
  std::printf("\nTransport\n");
  std::printf("  UCCL_P2P_TRANSPORT    %s\n",
              choice.empty() ? "(unset: automatic)" : choice.c_str());
  std::printf("  TCPX plugin           %s (%s): %s\n", path.c_str(),
              envString("UCCL_TCPX_PLUGIN_PATH", "").empty() ? "search" : "UCCL_TCPX_PLUGIN_PATH",
              verdict.c_str());
  std::string use, why;
  if (choice == "tcpx") {
    use = "tcpx (the TCPX plugin)";
    why = usable ? "UCCL_P2P_TRANSPORT=tcpx"
                 : "UCCL_P2P_TRANSPORT=tcpx, but the plugin is not usable: creating an endpoint "
                   "will fail";
  } else if (choice == "tcp") {
    use = "tcp (the built-in socket transport)";
    why = "UCCL_P2P_TRANSPORT=tcp";
  } else {
    use = "tcp (the built-in socket transport)";
    why = choice.empty() ? "automatic"
                         : "UCCL_P2P_TRANSPORT=" + choice + " is not tcpx or tcp: automatic";
    why += usable ? "; the engine does not yet pick TCPX automatically: set "
                    "UCCL_P2P_TRANSPORT=tcpx to use it"
                  : "; no usable TCPX plugin";
  }
  std::printf("  would use             %s\n  because               %s\n", use.c_str(), why.c_str());
  if (use.rfind("tcp ", 0) == 0) {
    transport::socket::SocketConfig sc = transport::socket::SocketConfig::fromEnv();
    std::vector<transport::socket::NetDevice> devs = transport::socket::discoverDevices(sc.ifname);
    std::printf("  socket devices        UCCL_SOCKET_IFNAME=%s:",
                sc.ifname.empty() ? "(unset)" : sc.ifname.c_str());
    if (devs.empty()) std::printf(" none (no up interface with an address matches)");
    for (size_t i = 0; i < devs.size(); ++i) {
      std::printf("%s %zu=%s %s", i ? "," : "", i, devs[i].name.c_str(),
                  ipOnly(devs[i].addr.toString()).c_str());
    }
    std::printf("\n");
    const char* io_why = sc.unpack                ? "UNPACK emulation always uses helpers"
                         : sc.helper_threads >= 0 ? "UCCL_SOCKET_HELPERS"
                         : sc.callerIo()          ? "auto: fewer than 8 hardware threads"
                                                  : "auto: 8 or more hardware threads";
    std::printf("  socket I/O            %s (%s)\n",
                sc.callerIo() ? "in the driver's own isend/test calls, no helper threads"
                              : "a helper thread per data socket",
                io_why);
  }
  engine::EngineConfig ec = engine::EngineConfig::fromEnv();
  std::string chunk = ec.chunk_bytes > 0
                          ? formatBytes(static_cast<uint64_t>(ec.chunk_bytes))
                          : formatBytes(engine::EngineConfig::kTcpxChunkBytes) + " with TCPX, " +
                                formatBytes(engine::EngineConfig::kSocketChunkBytes) +
                                " with the built-in transport";
  std::printf("  channels / chunk      %d channels per connection, chunk %s\n", ec.num_channels,
              chunk.c_str());
}

}  // namespace

int runInfo(int argc, char** argv) {
  Args args;
  if (!args.parse(kInfo, argc, argv, 2)) return usageError(kInfo, args.error());
  if (args.helpRequested()) {
    printHelp(kInfo, stdout);
    return kExitOk;
  }
  std::string source;
  std::vector<GpuDevice> gpus = discoverGpus(&source);
  std::vector<NicDevice> nics = discoverNics();
  printGpus(gpus, source);
  printNics(nics);
  printMapping(gpus, nics);
  printTransport(!args.has("--no-dlopen"));
  std::printf("\nEnvironment (VALUE: this process)\n");
  printEnvTable(stdout, /*with_current=*/true);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace tcpxp::cli
