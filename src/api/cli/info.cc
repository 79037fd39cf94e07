// tcpx-p2p info: what this machine offers the engine and what the engine would choose, asked
// of the engine's own deciders (choices.h). It never initialises a transport in this process:
// the TCPX plugin is dlopen'ed and inspected, and only the engine's probe child (a separate
// process, as at endpoint creation) calls its init.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "api/cli/args.h"
#include "api/cli/choices.h"
#include "api/cli/commands.h"
#include "api/cli/topology.h"
#include "common/env.h"
#include "engine/transport_select.h"

namespace tcpxp::cli {
namespace {

const Command kInfo = {
    .name = "info",
    .usage = "info [--no-dlopen] [--env]",
    .summary =
        "Prints this machine's GPUs (name, PCI BDF, NUMA node) and NICs (state, speed, PCI path, "
        "NUMA node),\n"
        "the transport an endpoint would use and why, its devices for each GPU, the chunk size and "
        "the data\n"
        "path of host and GPU buffers (each with the rule that decided it: the engine's own "
        "deciders), and\n"
        "every environment variable with its current value and default. The TCPX plugin is "
        "dlopen'ed and\n"
        "inspected here; its init only runs in the engine's probe child process, when every other "
        "prerequisite\n"
        "holds.",
    .flags =
        {
            {"--no-dlopen", nullptr,
             "only check that the TCPX plugin file exists; do not load or probe it"},
            {"--env", nullptr, "only the environment variables (as tcpx-p2p --help-env)"},
        },
    .env_notes =
        "UCCL_P2P_TRANSPORT and UCCL_TCPX_PLUGIN_PATH decide the transport; UCCL_SOCKET_IFNAME the "
        "socket\n"
        "transport's interfaces.\n",
    .examples =
        "tcpx-p2p info\nUCCL_P2P_TRANSPORT=tcpx UCCL_TCPX_PLUGIN_PATH=/opt/tcpx/libnccl-net.so "
        "tcpx-p2p info\n",
};

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

void printMapping(const MachineChoices& m, const std::vector<GpuDevice>& gpus) {
  std::printf(
      "\nGPU -> NIC (the transport devices of an endpoint on each GPU)\n"
      "  rule: the device sharing the deepest PCIe bridge/switch with the GPU; else one on its "
      "NUMA node;\n"
      "        else device 0. UCCL_TCPX_DEV overrides.\n"
      "  devices: %s:",
      m.devices_source.c_str());
  if (m.devices.empty()) std::printf(" none");
  for (size_t i = 0; i < m.devices.size(); ++i) {
    std::printf("%s %zu=%s", i ? "," : "", i, m.devices[i].name.c_str());
  }
  std::printf("\n");
  if (gpus.empty()) {
    std::printf("  (no GPU)\n");
    return;
  }
  for (const GpuDevice& g : gpus) {
    std::string devices, why;
    bool ok = placeGpu(m, g, &devices, &why);
    std::printf("  GPU %d -> %-16s [%s]\n", g.index, ok ? devices.c_str() : "(error)", why.c_str());
  }
}

std::string pluginVerdict(const std::string& path, bool do_dlopen) {
  if (path.empty()) return "not found";
  if (!do_dlopen) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? "exists (not loaded: --no-dlopen)" : "not found";
  }
  transport::PluginInspection p = engine::inspectTcpxPlugin(path);
  if (!p.exists) return "not found";
  if (!p.loads) return "exists but does not load: " + p.error;
  if (!p.has_symbol) return "loads but exports no ncclNetPlugin_v7";
  if (!p.complete) return "loads, but " + p.error;
  return "loads and exports ncclNetPlugin_v7 \"" + p.name + "\" (init not called here)";
}

void printTransport(const MachineChoices& m, bool do_dlopen) {
  std::string choice = envString("UCCL_P2P_TRANSPORT", "");
  std::printf("\nTransport\n");
  std::printf("  UCCL_P2P_TRANSPORT    %s\n",
              choice.empty() ? "(unset: automatic)" : choice.c_str());
  std::printf("  TCPX plugin           %s%s: %s\n",
              m.plugin_path.empty() ? engine::kDefaultTcpxPluginPath : m.plugin_path.c_str(),
              m.plugin_source.empty() ? "" : (" (" + m.plugin_source + ")").c_str(),
              pluginVerdict(m.plugin_path, do_dlopen).c_str());
  std::printf("  would use             %s%s\n  because               %s\n",
              transport::transportKindName(m.transport.kind),
              m.transport.tentative ? " (if its probe passes)" : "", m.transport.reason.c_str());
  if (m.transport.kind == engine::TransportKind::kBuiltin) {
    transport::BuiltinSettings sc = engine::builtinTransportSettings();
    std::printf("  socket devices        UCCL_SOCKET_IFNAME=%s:",
                sc.ifname.empty() ? "(unset)" : sc.ifname.c_str());
    if (sc.interfaces.empty()) std::printf(" none (no up interface with an address matches)");
    for (size_t i = 0; i < sc.interfaces.size(); ++i) {
      std::printf("%s %zu=%s %s", i ? "," : "", i, sc.interfaces[i].name.c_str(),
                  sc.interfaces[i].ip.c_str());
    }
    std::printf("\n");
    std::printf("  socket I/O            %s (%s)\n",
                sc.caller_io ? "in the driver's own isend/test calls, no helper threads"
                             : "a helper thread per data socket",
                sc.io_reason.c_str());
    std::printf("  vectors               %s\n",
                sc.iov ? "host pieces as vectored requests, straight from and into the buffers "
                         "(UCCL_SOCKET_IOV=1)"
                       : "host pieces copied through staging slots (UCCL_SOCKET_IOV=0)");
  }
  std::printf("  channels              %d per connection\n", m.config.num_channels);
  std::printf("  chunk                 %s (%s)\n", formatBytes(m.chunk.bytes).c_str(),
              m.chunk.reason.c_str());
}

void printDataPaths(const MachineChoices& m) {
  std::printf("\nData paths on %s (transfers up to UCCL_TCPX_INLINE_BYTES = %s go inline)\n",
              transport::transportKindName(m.transport.kind),
              formatBytes(static_cast<uint64_t>(m.config.inline_bytes)).c_str());
  std::printf("  transport             %s\n", m.caps_why.c_str());
  auto print = [](const char* what, const engine::BufferPaths& p) {
    std::printf("  %-21s send: %s (%s)\n", what, datapath::pathKindName(p.send.kind),
                p.send.reason.c_str());
    std::printf("  %-21s receive: %s (%s)\n", "", datapath::pathKindName(p.receive.kind),
                p.receive.reason.c_str());
  };
  print("host memory", m.host);
  print("GPU memory", m.gpu);
}

}  // namespace

int runInfo(int argc, char** argv) {
  Args args;
  if (!args.parse(kInfo, argc, argv, 2)) return usageError(kInfo, args.error());
  if (args.helpRequested()) {
    printHelp(kInfo, stdout);
    return kExitOk;
  }
  if (args.has("--env")) {
    printEnvTable(stdout);
    return kExitOk;
  }
  std::string source;
  std::vector<GpuDevice> gpus = discoverGpus(&source);
  std::vector<NicDevice> nics = discoverNics();
  bool do_dlopen = !args.has("--no-dlopen");
  MachineChoices choices = machineChoices(/*allow_probe=*/do_dlopen);
  printGpus(gpus, source);
  printNics(nics);
  printTransport(choices, do_dlopen);
  printMapping(choices, gpus);
  printDataPaths(choices);
  std::printf("\nEnvironment (VALUE: this process)\n");
  printEnvTable(stdout);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace tcpxp::cli
