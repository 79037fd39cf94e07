#include "engine/engine_config.h"

#include "common/env.h"
#include "common/log.h"
#include "control/control_wire.h"

namespace tcpxp::engine {

const std::vector<KnobDoc>& engineKnobs() {
  static const std::vector<KnobDoc> knobs = {
      {"UCCL_P2P_TRANSPORT", "auto", "tcpx = the TCPX plugin, tcp = the built-in socket transport"},
      {"UCCL_TCPX_PLUGIN_PATH", "/usr/local/tcpx/lib64/libnccl-net.so, then libnccl-net.so",
       "the TCPX plugin library"},
      {"UCCL_TCPX_NUM_CHANNELS", "4", "channels (comm pairs) per connection, 1..32"},
      {"UCCL_TCPX_CHUNK_BYTES", "512K with TCPX, 1M with the built-in transport",
       "bytes per posted request, 4K .. 4M-1"},
      {"UCCL_TCPX_INLINE_BYTES", "64K",
       "transfers up to this size travel inside control frames (one round trip), 0 .. 64K"},
      {"UCCL_TCPX_DEV", "auto (PCIe-local NIC of the GPU, else 0)",
       "transport devices of the channels, round robin: 2 | 0,1,2,3 | eth1,eth3"},
      {"UCCL_TCPX_BOOTSTRAP_PORT_BASE", "0", "control port = base + GPU index; 0 = ephemeral"},
      {"UCCL_TCPX_TIMEOUT_MS", "30000", "a transfer or handshake without progress this long fails"},
      {"UCCL_TCPX_STAGING_BYTES", "64M", "pinned staging memory per connection (staged path)"},
      {"UCCL_TCPX_DEBUG", "WARN", "log level: NONE ERROR WARN INFO DEBUG TRACE (or 0..5)"},
      {"UCCL_TCPX_PIN_THREADS", "auto (on with > 1 NUMA node)",
       "pin driver and socket helper threads to their NIC's NUMA node: 1 | 0 | auto"},
      {"UCCL_TCPX_METRICS_PORT", "0 (off)",
       "serve Prometheus metrics (traffic per NIC and channel) on this port + GPU index"},
      {"UCCL_TCPX_TRACE", "unset (off)",
       "PREFIX: each piece's stage times to PREFIX.<pid>.<conn>.csv (scripts/trace_report.py)"},
      {"UCCL_TCPX_GPU", "-1 (host only)", "GPU of an engine made by uccl_engine_create (C API)"},
      {"UCCL_TCPX_EMULATE_GPU_BUFFERS", "0",
       "tests: with the UNPACK emulation and no GPU, host buffers take the GPU receive path"},
  };
  return knobs;
}

EngineConfig EngineConfig::fromEnv() {
  EngineConfig c;
  c.transport = envString("UCCL_P2P_TRANSPORT", "");
  if (!c.transport.empty() && c.transport != "tcpx" && c.transport != "tcp") {
    LOG_WARN("UCCL_P2P_TRANSPORT=%s is not 'tcpx' or 'tcp'; choosing automatically",
             c.transport.c_str());
    c.transport.clear();
  }
  c.plugin_path = envString("UCCL_TCPX_PLUGIN_PATH", "");
  c.num_channels = static_cast<int>(envInt("UCCL_TCPX_NUM_CHANNELS", c.num_channels, 1, 32));
  c.chunk_bytes =
      envInt("UCCL_TCPX_CHUNK_BYTES", 0, 4096, (4 << 20) - 1, "the transport's default");
  c.inline_bytes = envInt("UCCL_TCPX_INLINE_BYTES", c.inline_bytes, 0, control::kMaxInlineBytes);
  c.devs = envString("UCCL_TCPX_DEV", "");
  c.bootstrap_port_base =
      static_cast<int>(envInt("UCCL_TCPX_BOOTSTRAP_PORT_BASE", c.bootstrap_port_base, 0, 65535));
  c.timeout_ms = envInt("UCCL_TCPX_TIMEOUT_MS", c.timeout_ms, 100, 3600 * 1000);
  c.metrics_port = static_cast<int>(envInt("UCCL_TCPX_METRICS_PORT", 0, 0, 65535));
  c.trace_prefix = envString("UCCL_TCPX_TRACE", "");
  c.staging_bytes = envInt("UCCL_TCPX_STAGING_BYTES", c.staging_bytes, 4 << 20, int64_t{16} << 30);
  return c;
}

}  // namespace tcpxp::engine
