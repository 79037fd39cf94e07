#include "engine/transport_select.h"

#include <mutex>

#include "common/log.h"

namespace tcpxp::engine {
namespace {
constexpr const char* kDefaultTcpxPath = "/usr/local/tcpx/lib64/libnccl-net.so";
}

Status selectTransport(const EngineConfig& config, transport::NetPlugin** out, std::string* why) {
  static std::once_flag logged;
  if (config.transport == "tcpx") {
    std::string path = config.plugin_path.empty() ? kDefaultTcpxPath : config.plugin_path;
    *why = "UCCL_P2P_TRANSPORT=tcpx, plugin " + path;
    TCPXP_RETURN_IF_ERROR(transport::NetPlugin::load(path, out));
  } else {
    // Automatic use of TCPX (with its prerequisite checks and a probe in a child process, since
    // its init exits the process without a GPU driver) arrives with the TCPX issue; until then
    // automatic selection means the built-in transport.
    *why = config.transport == "tcp" ? "UCCL_P2P_TRANSPORT=tcp" : "default";
    TCPXP_RETURN_IF_ERROR(transport::NetPlugin::builtinSocket(out));
  }
  std::call_once(logged, [&] { LOG_INFO("transport: %s (%s)", (*out)->name().c_str(), why->c_str()); });
  return Status::ok();
}

}  // namespace tcpxp::engine
