// Endpoint: the engine's public C++ API, one per GPU (or host-only), compatible with the UCCL P2P
// engine (docs/UCCL_API.md). Thread-safe: every call hands its work to the endpoint's driver
// thread and waits for the answer (or, for *Async calls, only for the checks).
//
// Blocking calls take an `interrupted` callback, polled every few milliseconds (the Python
// binding checks for Ctrl-C there); they give up with kTimeout when it returns true.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/connection.h"
#include "engine/engine_config.h"
#include "engine/ipc_connections.h"
#include "engine/transfer.h"

namespace tcpxp::transport {
class NetPlugin;
}

namespace tcpxp::engine {

class Driver;
using FifoBlob = std::array<uint8_t, 64>;
using Interrupted = std::function<bool()>;

struct EndpointInfo {
  int gpu_index = -1;                       // -1: host-only endpoint
  std::string ip;                           // address peers use for the control connection
  uint16_t port = 0;                        // control (bootstrap) port
  std::string bdf;                          // PCI BDF of the GPU, "" when host-only
  std::string transport;                    // transport (plugin) name
  int dev = 0;                              // transport device index
  int metrics_port = 0;                     // Prometheus endpoint, 0 if none
  std::string dev_name;                     // its interface name
  bool transport_moves_gpu_memory = false;  // ptrSupport has CUDA
  // GPU transfers larger than this are staged by the engine (UCCL_SOCKET_GPU_DIRECT_MAX).
  size_t gpu_direct_max_bytes = SIZE_MAX;
  std::vector<int> devs;  // devices of the channels, round robin
  std::vector<std::string> dev_names;
  std::string placement;              // why these devices (decideDevices)
  bool unpack = false;                // GPU receives land in bounce pages (TCPX, or the emulation)
  int num_channels = 0;               // channels per connection this side asks for
  size_t chunk_bytes = 0;             // bytes per posted request
  std::string transport_reason;       // why this transport was chosen (decideTransport)
  std::string chunk_reason;           // why this chunk size (decideChunkBytes)
  bool builtin_transport = false;     // the built-in socket transport (else a plugin: TCPX)
  std::string transport_detail;       // built-in: "4 sockets/comm[, UNPACK emulation]"
  bool emulated_gpu_buffers = false;  // host buffers take GPU paths (UCCL_TCPX_EMULATE_GPU_BUFFERS)
  std::string ipc;                    // the same-host CUDA IPC path: what works here
};

struct NicStats {
  int dev = 0;
  std::string name;
  TrafficCounters counters;
};
struct EndpointStats {
  std::vector<NicStats> nics;                // every transport device; closed connections included
  std::vector<ConnectionStats> connections;  // the live connections
  std::vector<ChannelStats> channels;        // the live connections' channels
};

// One piece of a vector call.
struct Segment {
  MrId mr = 0;
  void* ptr = nullptr;
  size_t size = 0;
  FifoBlob fifo{};  // write/read: the peer's advertisement
};

class Endpoint {
 public:
  // gpu_index -1: host memory only. The transport comes from UCCL_P2P_TRANSPORT.
  static Status create(int gpu_index, std::unique_ptr<Endpoint>* out);
  // The same on a given transport table (tests: a fault-injecting decorator table).
  static Status create(int gpu_index, transport::NetPlugin* transport,
                       std::unique_ptr<Endpoint>* out);
  ~Endpoint();

  const EndpointInfo& info() const { return info_; }
  // UCCL get_metadata wire format (control/metadata.h).
  std::vector<uint8_t> metadata() const;

  Status connect(const std::string& ip, int remote_gpu, int remote_port, ConnId* out,
                 const Interrupted& interrupted = nullptr);
  Status accept(ConnId* out, std::string* remote_ip, int* remote_gpu,
                const Interrupted& interrupted = nullptr, int64_t timeout_ms = -1);
  // Makes a blocked accept() return kBusy.
  void stopAccept();
  Status closeConnection(ConnId conn);

  Status reg(void* ptr, size_t size, MrId* out);
  Status dereg(MrId mr);
  // conn 0: any connection may use it (the newer UCCL signature).
  Status advertise(ConnId conn, MrId mr, void* ptr, size_t size, FifoBlob* out);

  Status sendAsync(ConnId conn, std::span<const Segment> segs, XferId* out);
  Status recvAsync(ConnId conn, std::span<const Segment> segs, XferId* out);
  Status writeAsync(ConnId conn, std::span<const Segment> segs, XferId* out);
  Status readAsync(ConnId conn, std::span<const Segment> segs, XferId* out);
  // done: the transfer finished (the id is then released); its error, if any, is returned.
  // bytes: for recv, the bytes received.
  Status poll(XferId id, bool* done, size_t* bytes = nullptr);
  // Waits until done, or kTimeout after `timeout_ms` (-1: no limit of its own; the connection's
  // liveness check, UCCL_TCPX_TIMEOUT_MS, still ends a transfer whose peer stopped answering).
  Status wait(XferId id, const Interrupted& interrupted = nullptr, size_t* bytes = nullptr,
              int64_t timeout_ms = -1);

  Status sendNotify(ConnId conn, const std::string& name, const std::string& msg);
  // Traffic per NIC and per channel (bytes of completed requests, busy time).
  Status stats(EndpointStats* out);
  std::vector<Notification> takeNotifications();

  // ---- Same host, GPU memory: CUDA IPC (endpoint_ipc.cc, engine/ipc_connections.h) ----
  // A connection to the process in accept_local() on GPU `remote_bdf` of this host (retries
  // until UCCL_TCPX_TIMEOUT_MS). Its id is one of connect()'s: poll, wait, closeConnection.
  Status connectLocal(const std::string& remote_bdf, ConnId* out,
                      const Interrupted& interrupted = nullptr);
  // Waits for one connectLocal() to this endpoint's GPU (timeout_ms -1: no limit).
  Status acceptLocal(std::string* remote_bdf, ConnId* out, const Interrupted& interrupted = nullptr,
                     int64_t timeout_ms = -1);
  bool isLocal(ConnId conn);
  // The 128-byte blob through which a peer of this host reaches GPU buffer [ptr, ptr + size).
  Status advertiseIpc(void* ptr, size_t size, datapath::IpcBlob* out);
  // IPC copies into (write) or out of (read) the peers' advertised buffers, on a local
  // connection or a live network one. *out is polled like any transfer.
  Status writeIpcAsync(ConnId conn, std::span<const IpcSegment> segs, XferId* out);
  Status readIpcAsync(ConnId conn, std::span<const IpcSegment> segs, XferId* out);

 private:
  enum class Op { kSend, kRecv, kWrite, kRead };
  Status submit(Op op, ConnId conn, std::span<const Segment> segs, XferId* out);
  Endpoint() = default;
  void makeIpc(const EngineConfig& config);  // endpoint_ipc.cc

  EndpointInfo info_;
  bool emulate_gpu_buffers_ = false;
  std::unique_ptr<Driver> driver_;
  // The overlap check's lists, reused (driver thread): fresh lists of thousands of pieces cost
  // a page fault per 4 KiB every vector.
  std::vector<control::VecPiece> overlap_dst_, overlap_scratch_;
  std::unique_ptr<IpcConnections> ipc_;  // after driver_: goes first (uses its completions)
  std::unique_ptr<class MetricsServer> metrics_;  // UCCL_TCPX_METRICS_PORT; stops before driver_
};

// The IPv4 address this machine offers for control connections (UCCL get_oob_ip()).
std::string oobIp();

}  // namespace tcpxp::engine
