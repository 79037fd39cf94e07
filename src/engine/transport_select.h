// Acts on the transport decision (decisions.h: decideTransport): gathers the facts once per
// process, logs the choice and its reason, sets TCPX's environment defaults and loads the
// table. Also what that needs: the plugin search and the probe child process.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/decisions.h"
#include "engine/engine_config.h"
#include "transport/transports.h"

namespace tcpxp::engine {

// The transport of this process (decided once; UCCL_P2P_TRANSPORT, plugin, GPU, rxdm, probe)
// and its handle. *decision is set also when loading fails.
Status selectTransport(const EngineConfig& config, transport::NetPlugin** out,
                       TransportDecision* decision);

// Where GCP A3-high images stage the TCPX plugin.
inline constexpr const char* kDefaultTcpxPluginPath = "/usr/local/tcpx/lib64/libnccl-net.so";

// The TCPX plugin library to use: UCCL_TCPX_PLUGIN_PATH, else kDefaultTcpxPluginPath if it
// exists, else libnccl-net.so in a LD_LIBRARY_PATH directory; "" if none.
std::string findTcpxPlugin(const EngineConfig& config);
// Sets what TCPX needs where the user did not (NCCL_DYNAMIC_CHUNK_SIZE, a short flow-steering
// wait, 1 x 4 sockets); never overrides. Returns the "NAME=value" pairs it set.
std::vector<std::string> applyTcpxEnvDefaults();
// Runs the plugin's init + devices in a child process (with applyTcpxEnvDefaults there), bounded
// by 30 s: TCPX's init calls exit() without a GPU driver or rxdm, which must not take the caller
// down. The plugin's init never runs in the calling process.
ProbeResult probeTcpxInChild(const std::string& path);

// What the CLI prints about the built-in transport (without loading it).
inline const std::vector<KnobDoc>& builtinTransportKnobs() { return transport::builtinKnobs(); }
inline transport::BuiltinSettings builtinTransportSettings() {
  return transport::builtinSettings();
}
inline transport::TransportCapsPreview transportCapsPreview(TransportKind kind) {
  return transport::capsPreview(kind);
}
inline transport::ChunkPreference transportChunkPreference(TransportKind kind) {
  return transport::preferredChunk(kind);
}
// The TCPX plugin library at `path`, looked at without init (transport::inspectPlugin).
inline transport::PluginInspection inspectTcpxPlugin(const std::string& path) {
  return transport::inspectPlugin(path);
}

}  // namespace tcpxp::engine
