// Chooses the transport an Endpoint uses: UCCL_P2P_TRANSPORT=tcpx (the TCPX plugin), tcp (the
// built-in socket transport) or unset (TCPX when usable, else built-in). The choice and its
// reason are logged once per process.
#pragma once

#include <string>

#include "common/status.h"
#include "engine/engine_config.h"
#include "transport/plugin_loader.h"

namespace tcpxp::engine {

Status selectTransport(const EngineConfig& config, transport::NetPlugin** out, std::string* why);

}  // namespace tcpxp::engine
