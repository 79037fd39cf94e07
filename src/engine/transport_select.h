// Chooses the transport an Endpoint uses: UCCL_P2P_TRANSPORT=tcpx (the TCPX plugin), tcp (the
// built-in socket transport) or unset (TCPX when usable, else built-in). The choice and its
// reason are logged once per process.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine_config.h"
#include "transport/plugin_loader.h"

namespace tcpxp::engine {

Status selectTransport(const EngineConfig& config, transport::NetPlugin** out, std::string* why);

// Where GCP A3-high images stage the TCPX plugin.
inline constexpr const char* kDefaultTcpxPluginPath = "/usr/local/tcpx/lib64/libnccl-net.so";

// The TCPX plugin library to use: UCCL_TCPX_PLUGIN_PATH, else kDefaultTcpxPluginPath if it
// exists, else libnccl-net.so in a LD_LIBRARY_PATH directory; "" if none.
std::string findTcpxPlugin(const EngineConfig& config);
// Sets what TCPX needs where the user did not (NCCL_DYNAMIC_CHUNK_SIZE, a short flow-steering
// wait, 1 x 4 sockets); never overrides. Returns the "NAME=value" pairs it set.
std::vector<std::string> applyTcpxEnvDefaults();

}  // namespace tcpxp::engine
