#include "transport/transports.h"

#include "common/env.h"
#include "common/quantity.h"
#include "transport/plugin_loader.h"
#include "transport/socket/socket_config.h"
#include "transport/socket/socket_devices.h"
#include "transport/socket/socket_net.h"
#include "transport/socket/socket_wire.h"

namespace tcpxp::transport {
namespace {

constexpr size_t kMinChunkBytes = 4096;
constexpr size_t kMaxChunkBytes = (size_t{4} << 20) - 1;  // one request stays under 4 MiB
// TCPX's own chunk (GCP's configs set NCCL_DYNAMIC_CHUNK_SIZE=524288).
constexpr size_t kTcpxChunkBytes = 512 << 10;
// Fewer, larger staging copies and requests moved 256 MiB GPU writes ~30% faster over the
// built-in transport (BENCHMARKS.md, runs 40, 41, 46).
constexpr size_t kBuiltinChunkBytes = 1 << 20;

// "10.0.0.1:0" -> "10.0.0.1" (the devices' addresses carry no port yet).
std::string ipOnly(std::string addr) {
  if (addr.size() > 2 && addr.compare(addr.size() - 2, 2, ":0") == 0) addr.resize(addr.size() - 2);
  return addr;
}

}  // namespace

const char* transportKindName(TransportKind kind) {
  return kind == TransportKind::kTcpx ? "tcpx" : "built-in socket";
}

Status loadPlugin(const std::string& path, NetPlugin** out) { return NetPlugin::load(path, out); }

Status loadBuiltin(NetPlugin** out) { return NetPlugin::builtinSocket(out); }

TransportCapsPreview capsPreview(TransportKind kind) {
  if (kind == TransportKind::kTcpx) {
    return {true, true, "TCPX reports ptrSupport HOST|CUDA and netDeviceType UNPACK"};
  }
  const socket::SocketConfig config = socket::SocketConfig::fromEnv();
  if (config.unpack) {
    return {true, true, "UCCL_SOCKET_UNPACK=1: the built-in transport emulates TCPX's GPU receive"};
  }
  if (config.gpu_direct) {
    const int64_t max = config.gpu_direct_max_bytes;
    return {true, false,
            "UCCL_SOCKET_GPU_DIRECT=1: the built-in transport's helpers copy GPU memory beside "
            "their reads and writes" +
                (max > 0 ? " (transfers up to " + formatSize(max) +
                               ", UCCL_SOCKET_GPU_DIRECT_MAX; larger ones are staged)"
                         : std::string())};
  }
  return {false, false, "the built-in transport moves host memory only"};
}

ChunkPreference preferredChunk(TransportKind kind) {
  if (kind == TransportKind::kBuiltin) {
    return {kBuiltinChunkBytes, "the built-in transport's preferred chunk"};
  }
  // A plain number: TCPX itself does not read "512K" as 512 KiB.
  const int64_t dynamic =
      envInt("NCCL_DYNAMIC_CHUNK_SIZE", 0, 0, INT64_MAX, "TCPX's chunk (524288 when unset)");
  if (dynamic <= 0) return {kTcpxChunkBytes, "TCPX's chunk (NCCL_DYNAMIC_CHUNK_SIZE unset)"};
  size_t bytes = static_cast<size_t>(dynamic);
  std::string reason = "TCPX's chunk (NCCL_DYNAMIC_CHUNK_SIZE=" + std::to_string(dynamic) + ")";
  if (bytes < kMinChunkBytes || bytes > kMaxChunkBytes) {
    bytes = bytes < kMinChunkBytes ? kMinChunkBytes : kMaxChunkBytes;
    reason += ", clamped to " + std::to_string(bytes) + " (a request is 4 KiB .. 4 MiB-1)";
  }
  return {bytes, reason};
}

bool isBuiltinName(const std::string& table_name) { return table_name == socket::kSocketNetName; }

std::string builtinHandleHost(const uint8_t* handle) {
  socket::ListenInfo info;
  if (!socket::decodeHandle(handle, &info).isOk()) return "";
  return hostOf(info.addr);
}

const std::vector<KnobDoc>& builtinKnobs() { return socket::socketKnobs(); }

BuiltinSettings builtinSettings(bool with_interfaces) {
  socket::SocketConfig sc = socket::SocketConfig::fromEnv();
  BuiltinSettings s;
  s.ifname = sc.ifname;
  s.nsocks = sc.nsocks;
  s.unpack = sc.unpack;
  s.caller_io = sc.callerIo();
  s.iov = sc.iov;
  s.io_reason = sc.unpack                ? "UNPACK emulation always uses helpers"
                : sc.helper_threads >= 0 ? "UCCL_SOCKET_HELPERS"
                : sc.callerIo()          ? "auto: fewer than 8 hardware threads"
                                         : "auto: 8 or more hardware threads";
  if (!with_interfaces) return s;
  for (const socket::NetDevice& d : socket::discoverDevices(sc.ifname)) {
    s.interfaces.push_back({d.name, ipOnly(d.addr.toString()), d.pci_path});
  }
  return s;
}

}  // namespace tcpxp::transport
