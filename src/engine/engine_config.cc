#include "engine/engine_config.h"

#include "common/cpu_affinity.h"
#include "common/env.h"
#include "common/log.h"
#include "control/control_wire.h"

namespace tcpxp::engine {

namespace {

// The knobs the engine reads, in the order --help and info print them.
constexpr KnobDoc kTransport{"UCCL_P2P_TRANSPORT", "auto",
                             "tcpx = the TCPX plugin, tcp = the built-in socket transport",
                             choiceKnob("tcpx,tcp,auto", /*error_if_malformed=*/true)};
constexpr KnobDoc kPluginPath{"UCCL_TCPX_PLUGIN_PATH",
                              "/usr/local/tcpx/lib64/libnccl-net.so, then libnccl-net.so",
                              "the TCPX plugin library"};
constexpr KnobDoc kNumChannels{"UCCL_TCPX_NUM_CHANNELS", "4",
                               "channels (comm pairs) per connection, 1..32",
                               integerKnob(1, kMaxChannels)};
constexpr KnobDoc kChunkBytes{
    "UCCL_TCPX_CHUNK_BYTES", "512K with TCPX, 1M with the built-in transport",
    "bytes per posted request, 4K .. 4M-1", bytesKnob(kMinChunkBytes, kMaxChunkBytes)};
constexpr KnobDoc kInlineBytes{
    "UCCL_TCPX_INLINE_BYTES", "64K",
    "transfers up to this size travel inside control frames (one round trip), 0 .. 64K",
    bytesKnob(0, control::kMaxInlineBytes)};
constexpr KnobDoc kDevs{"UCCL_TCPX_DEV", "auto (PCIe-local NIC of the GPU, else 0)",
                        "transport devices of the channels, round robin: 2 | 0,1,2,3 | eth1,eth3"};
constexpr KnobDoc kBootstrapPortBase{"UCCL_TCPX_BOOTSTRAP_PORT_BASE", "0",
                                     "control port = base + GPU index; 0 = ephemeral",
                                     integerKnob(0, 65535)};
constexpr KnobDoc kTimeoutMs{"UCCL_TCPX_TIMEOUT_MS", "30000",
                             "a peer silent this long (heartbeats keep idle ones alive), or a "
                             "handshake or posted data without progress this long, fails the "
                             "connection",
                             integerKnob(100, 3600 * 1000)};
constexpr KnobDoc kMaxConnections{
    "UCCL_TCPX_MAX_CONNECTIONS", "1024",
    "connections an endpoint holds at once (accepted, dialled and in handshake); a peer past "
    "it is refused with a message that says so",
    integerKnob(1, 65536)};
constexpr KnobDoc kStagingBytes{"UCCL_TCPX_STAGING_BYTES", "64M",
                                "pinned staging memory per connection (staged path)",
                                bytesKnob(4 << 20, int64_t{16} << 30)};
constexpr KnobDoc kMetricsPort{
    "UCCL_TCPX_METRICS_PORT", "0 (off)",
    "serve Prometheus metrics (traffic per NIC and channel) on this port + GPU index",
    integerKnob(0, 65535)};
constexpr KnobDoc kTrace{
    "UCCL_TCPX_TRACE", "unset (off)",
    "PREFIX: each piece's stage times to PREFIX.<pid>.<conn>.csv (scripts/trace_report.py)"};
constexpr KnobDoc kVectorBatch{
    "UCCL_TCPX_VECTOR_BATCH", "1",
    "one-sided vectors travel as one request of all their pieces (WriteVec/ReadVec); 0 = each "
    "piece its own transfer",
    boolKnob()};
constexpr KnobDoc kEmulateGpuBuffers{
    "UCCL_TCPX_EMULATE_GPU_BUFFERS", "0",
    "tests: with no GPU and a built-in transport that takes GPU memory (UCCL_SOCKET_UNPACK=1 or "
    "UCCL_SOCKET_GPU_DIRECT=1), host buffers take the GPU paths",
    boolKnob()};
constexpr KnobDoc kIpcScope{
    "UCCL_TCPX_IPC_SCOPE", "unset (one scope per user)",
    "connect_local/accept_local meet only processes of the same user and scope (by GPU BDF)"};

}  // namespace

const std::vector<KnobDoc>& engineKnobs() {
  static const std::vector<KnobDoc> knobs = {
      kTransport,      kPluginPath,   kNumChannels,       kChunkBytes,
      kInlineBytes,    kDevs,         kBootstrapPortBase, kTimeoutMs,
      kMaxConnections, kStagingBytes, kLogLevelKnob,      kPinThreadsKnob,
      kMetricsPort,    kTrace,        kGpuKnob,           kEmulateGpuBuffers,
      kVectorBatch,    kIpcScope,     kDisableIpcKnob,
  };
  return knobs;
}

EngineConfig EngineConfig::fromEnv() {
  EngineConfig c;
  std::string transport = envString(kTransport.name, "");
  Parsed choice = parseKnob(kTransport, transport);
  if (transport.empty()) {
    c.transport.clear();
  } else if (!choice.ok()) {
    // Not a fallback to auto: a typo must not quietly pick another transport.
    c.error = std::string(kTransport.name) + "=" + transport + ": " + choice.message;
  } else {
    c.transport = choice.value == 0 ? "tcpx" : choice.value == 1 ? "tcp" : "";
  }
  c.plugin_path = envString(kPluginPath.name, "");
  c.num_channels = static_cast<int>(envInt(kNumChannels, c.num_channels));
  c.chunk_bytes = envInt(kChunkBytes, 0, "the transport's default");
  c.inline_bytes = envInt(kInlineBytes, c.inline_bytes);
  c.devs = envString(kDevs.name, "");
  c.bootstrap_port_base = static_cast<int>(envInt(kBootstrapPortBase, c.bootstrap_port_base));
  c.timeout_ms = envInt(kTimeoutMs, c.timeout_ms);
  c.max_connections = envInt(kMaxConnections, c.max_connections);
  c.metrics_port = static_cast<int>(envInt(kMetricsPort, 0));
  c.trace_prefix = envString(kTrace.name, "");
  c.staging_bytes = envInt(kStagingBytes, c.staging_bytes);
  c.emulate_gpu_buffers = envBool(kEmulateGpuBuffers, false);
  c.vector_batch = envBool(kVectorBatch, true);
  c.ipc_scope = envString(kIpcScope.name, "");
  return c;
}

}  // namespace tcpxp::engine
