// An endpoint's same-host CUDA IPC connections (connect_local / accept_local) and the IPC copies
// of any connection (write_ipc / read_ipc and their vector forms; the C API's ipc_bufs).
// Thread-safe: API threads call in; the copier's poller thread finishes transfers.
//
// A local connection's id comes from the driver's counter (the same id space as network
// connections: poll, wait and close work on it); its transfers are IPC copies only. Each
// connection keeps the peer allocations it opened (datapath::IpcImports) until it closes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "common/status.h"
#include "datapath/cuda_ipc.h"
#include "engine/completions.h"
#include "engine/local_rendezvous.h"
#include "engine/transfer.h"

namespace tcpxp::engine {

struct IpcSegment {
  void* ptr = nullptr;  // local GPU memory
  size_t size = 0;
  datapath::IpcBlob info{};  // the peer's advertise_ipc blob
};

class IpcConnections {
 public:
  struct Config {
    int gpu = -1;               // the endpoint's GPU (-1: host-only: rendezvous only)
    std::string bdf;            // its PCI BDF
    std::string scope;          // UCCL_TCPX_IPC_SCOPE
    int64_t timeout_ms = 0;     // UCCL_TCPX_TIMEOUT_MS: connect_local's deadline
    size_t max_imports = 1024;  // open peer allocations per connection
  };
  using NewId = std::function<Status(ConnId*)>;

  // config.bdf is normalized (normalizeBdf) when it can be: both sides name it the same way.
  IpcConnections(Config config, Completions& completions, NewId new_id);
  ~IpcConnections();  // waits for copies in flight, closes every imported handle

  Status connect(const std::string& remote_bdf, const std::function<bool()>& interrupted,
                 ConnId* out);
  Status accept(const std::function<bool()>& interrupted, int64_t timeout_ms,
                std::string* remote_bdf, ConnId* out);
  bool isLocal(ConnId conn);
  // Closes a local connection, or drops the imports a network connection used (`local` false).
  // Waits for its copies in flight. kNotFound for an unknown local connection.
  Status close(ConnId conn, bool local);

  // The blob of GPU buffer [ptr, ptr + size).
  Status advertise(void* ptr, size_t size, datapath::IpcBlob* out);
  // write: local -> peer; read: peer -> local. One completion slot for all segments (*out).
  Status transfer(bool write, ConnId conn, std::span<const IpcSegment> segs, XferId* out);

  // What info says about this path.
  static std::string describe(int gpu);

 private:
  // A new local connection to `peer`: its id, registered here.
  Status addConn(const LocalPeer& peer, ConnId* out);
  struct Conn {
    LocalPeer peer;
    bool local = false;  // made by connect_local / accept_local
    std::unique_ptr<datapath::IpcImports> imports;
    int in_flight = 0;  // transfers not yet finished
  };
  Status copier(datapath::IpcCopier** out);  // made on first use (under mu_)
  LocalPeer self() const;

  Config config_;
  Completions& completions_;
  NewId new_id_;
  std::mutex mu_;
  std::condition_variable cv_;  // a transfer finished
  std::map<ConnId, Conn> conns_;
  std::unique_ptr<datapath::IpcCopier> copier_;
};

}  // namespace tcpxp::engine
