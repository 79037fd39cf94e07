// The engine's choices, each made by ONE function that returns the answer and why (STYLE habit
// 15): which transport, which transport devices for a GPU, which chunk size, which data path a
// buffer takes (datapath/path_choice.h). Endpoint::create acts on the answers; `tcpx-p2p info`,
// `doctor` and `bench` print the same answers by calling the same functions.
//
// The deciders are pure functions over "facts" structs (tests feed them fake facts); the
// gatherers at the end read the facts from this machine (sysfs, the environment, rxdm's socket
// directory). Nothing here initialises a transport.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "datapath/path_choice.h"
#include "engine/engine_config.h"
#include "transport/net.h"
#include "transport/transports.h"

namespace tcpxp::engine {

using transport::TransportKind;

// ---- transport: tcpx or built-in ---------------------------------------------------------------

enum class ProbeVerdict {
  kPassed,  // the plugin's init + devices succeeded in a child process
  kFailed,
  kNotRun,  // the caller chose not to run it (`info --no-dlopen`)
};
struct ProbeResult {
  ProbeVerdict verdict = ProbeVerdict::kNotRun;
  std::string why;  // failure or skip reason
};

struct TransportFacts {
  std::string plugin_path;    // the TCPX plugin library found (findTcpxPlugin), "" when none
  int gpu_count = 0;          // GPUs the CUDA runtime sees
  bool rxdm_present = false;  // rxdm's flow-steering sockets exist (RxdmFacts below)
  std::string rxdm_dir;       // where rxdm's unix sockets were looked for
  std::string rxdm_absence;   // what is missing, when !rxdm_present (describeRxdmAbsence)
  // Runs TCPX's init + devices in a child process. Called only when every other prerequisite
  // holds (it costs up to seconds); null means "not run".
  std::function<ProbeResult()> probe;
};

struct TransportDecision {
  TransportKind kind = TransportKind::kBuiltin;
  std::string reason;
  std::string plugin_path;  // the library to load when kind is kTcpx
  // kTcpx chosen from every prerequisite but without the probe (ProbeVerdict::kNotRun): the
  // engine would still run it and fall back to the built-in transport if it fails.
  bool tentative = false;
};

// UCCL_P2P_TRANSPORT (config.transport) = tcpx | tcp forces the choice; unset: TCPX when a
// plugin is found, a GPU is present, rxdm's sockets exist and the probe passes; else built-in.
TransportDecision decideTransport(const EngineConfig& config, const TransportFacts& facts);

// ---- transport devices of a GPU ----------------------------------------------------------------

struct PciFacts {
  std::string name;  // interface name (NICs)
  std::string
      pci_path;  // sysfs path of the PCI function, "/sys/devices/pci0000:00/..."; "" virtual
  int numa_node = -1;
};

struct DeviceDecision {
  std::vector<int> devs;  // transport device indices of the channels, round robin
  std::string reason;
};

// `spec` (UCCL_TCPX_DEV): "" = by locality to `gpu` (index -1: host-only); else device indices
// or names, comma-separated, in that order. Locality: the device sharing the deepest PCIe
// bridge/switch below the root complex with the GPU (path components, not characters); else
// the first on the GPU's NUMA node; else device 0. Errors: kNotFound (no device),
// kInvalidArgument (spec names no such device; the message lists them).
Status decideDevices(const std::string& spec, const std::vector<PciFacts>& devices, int gpu_index,
                     const PciFacts& gpu, DeviceDecision* out);

// How many leading PCI components (root complex, bridges, the device) two sysfs paths share;
// "sys" and "devices" do not count.
size_t pciCommonDepth(const std::string& a, const std::string& b);

// ---- chunk size --------------------------------------------------------------------------------

struct ChunkDecision {
  size_t bytes = 0;
  std::string reason;
};
// UCCL_TCPX_CHUNK_BYTES (config.chunk_bytes > 0) overrides the transport's preference.
ChunkDecision decideChunkBytes(const EngineConfig& config,
                               const transport::ChunkPreference& transport_pref);
ChunkDecision decideChunkBytes(const EngineConfig& config, const transport::Net& net);

// ---- data paths --------------------------------------------------------------------------------

// The paths of a buffer's bytes beyond the inline size, both ways (datapath::choosePath).
struct BufferPaths {
  datapath::PathChoice send;
  datapath::PathChoice receive;
};
BufferPaths decideBufferPaths(bool gpu_memory, const datapath::TransportCaps& caps);
// "direct (host memory: ...)" or "send: direct (...); receive: unpack (...)".
std::string describeBufferPaths(const BufferPaths& paths);

// ---- gathering the facts from this machine -----------------------------------------------------

// "/sys" and "/proc", or TCPXP_SYSFS_ROOT / TCPXP_PROCFS_ROOT (tests point them at fake trees).
std::string sysfsRoot();
std::string procfsRoot();
// realpath(), spelled under "/sys" even in a fake tree (so paths compare alike); "" on error.
std::string sysfsRealPath(const std::string& path);
// The PCI address in a sysfs path: its last "dddd:bb:dd.f" component, or "".
std::string bdfOfPath(const std::string& path);
// The sysfs path of PCI function `bdf` (spelled under /sys even in a fake tree) and its NUMA node.
std::string pciPathOfBdf(const std::string& bdf);
int numaNodeOfBdf(const std::string& bdf);
// The locality facts of GPU `gpu_index` (-1: none) and of a transport's devices.
PciFacts gpuPciFacts(int gpu_index);
PciFacts nicPciFacts(const std::string& name, const std::string& pci_path);
std::vector<PciFacts> devicePciFacts(const std::vector<transport::NetProperties>& devices);
// The devices a transport would offer, without loading it: the built-in transport's interfaces;
// for TCPX the PCI NICs named by NCCL_GPUDIRECTTCPX_SOCKET_IFNAME (all PCI NICs when unset),
// sorted by name as TCPX sorts them. *source says which.
std::vector<PciFacts> expectedDevicePciFacts(TransportKind kind, std::string* source);

// rxdm (TCPX's receive-datapath manager) is there when its own unix sockets are (docs/TCPX.md):
// rx_rule_manager and rx_rule_uninstall (flow steering; TCPX's accept needs them), and per GPU
// get_gpu_fd_<PCI address> and get_gpu_metadata_<PCI address> (its receive buffer). Any other
// socket in the directory proves nothing.
inline constexpr const char* kRxdmFlowSteeringSockets[] = {"rx_rule_manager", "rx_rule_uninstall"};
struct RxdmFacts {
  std::string dir;  // NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX, else /tmp
  bool dir_from_env = false;
  bool flow_steering = false;            // both flow-steering sockets are present
  std::vector<std::string> missing;      // the flow-steering sockets that are not
  std::vector<std::string> gpu_buffers;  // PCI addresses with both GPU buffer sockets, sorted
};
RxdmFacts rxdmFacts();
// "rxdm (...) is not running: no rx_rule_manager and rx_rule_uninstall unix socket under DIR
// (...)".
std::string describeRxdmAbsence(const RxdmFacts& rx);

// Every fact decideTransport needs; `probe` runs the child probe (engine/transport_select.h)
// when `allow_probe`, else it is left null.
TransportFacts gatherTransportFacts(const EngineConfig& config, bool allow_probe);

}  // namespace tcpxp::engine
