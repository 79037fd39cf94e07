#include "api/cli/choices.h"

#include "common/env.h"
#include "engine/transport_select.h"

namespace tcpxp::cli {

MachineChoices machineChoices(bool allow_probe, const std::string& plugin_flag) {
  MachineChoices m;
  m.config = engine::EngineConfig::fromEnv();
  if (!plugin_flag.empty()) m.config.plugin_path = plugin_flag;
  m.plugin_path = engine::findTcpxPlugin(m.config);
  m.plugin_source = m.plugin_path.empty()                             ? ""
                    : !plugin_flag.empty()                            ? "--plugin"
                    : !envString("UCCL_TCPX_PLUGIN_PATH", "").empty() ? "UCCL_TCPX_PLUGIN_PATH"
                    : m.plugin_path == engine::kDefaultTcpxPluginPath ? "default path"
                                                                      : "LD_LIBRARY_PATH";
  m.transport =
      engine::decideTransport(m.config, engine::gatherTransportFacts(m.config, allow_probe));
  // Endpoint::create fails with it before deciding anything; say so rather than "auto".
  if (!m.config.error.empty()) m.transport.reason = m.config.error + "; endpoints fail to create";
  m.devices = engine::expectedDevicePciFacts(m.transport.kind, &m.devices_source);
  m.chunk = engine::decideChunkBytes(m.config, engine::transportChunkPreference(m.transport.kind));
  transport::TransportCapsPreview caps = engine::transportCapsPreview(m.transport.kind);
  m.caps_why = caps.why;
  datapath::TransportCaps dc{caps.moves_gpu_memory, caps.unpack};
  m.host = engine::decideBufferPaths(false, dc);
  m.gpu = engine::decideBufferPaths(true, dc);
  return m;
}

bool placeGpu(const MachineChoices& m, const GpuDevice& gpu, std::string* devices,
              std::string* why) {
  engine::PciFacts facts;
  facts.pci_path = gpu.pci_path;
  facts.numa_node = gpu.numa_node;
  engine::DeviceDecision d;
  Status st = engine::decideDevices(m.config.devs, m.devices, gpu.index, facts, &d);
  if (!st.isOk()) {
    devices->clear();
    *why = st.message();
    return false;
  }
  devices->clear();
  for (int dev : d.devs) {
    *devices += (devices->empty() ? "" : ",") + m.devices[static_cast<size_t>(dev)].name;
  }
  *why = d.reason;
  return true;
}

}  // namespace tcpxp::cli
