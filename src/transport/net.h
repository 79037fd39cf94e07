// The C++ face of one ncclNet v7 table: typed sizes, Status results, and the boundary rules
// (int sizes, null comm/request means "not yet"). The layers above see only this header.
//
// Threading: a comm must be driven by one thread at a time (TCPX has no locking per comm).
// Ownership: comms returned here are closed with the matching close*(); mhandles with deregMr.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "transport/transports.h"

namespace tcpxp::transport {

class NetPlugin;
inline constexpr size_t kNetHandleBytes = 128;
using NetHandle = std::array<uint8_t, kNetHandleBytes>;

enum class MemKind { kHost, kCuda };

struct NetProperties {
  std::string name;
  std::string pci_path;  // empty on virtual interfaces
  bool supports_host = false;
  bool supports_cuda = false;
  bool unpack = false;  // GPU receives land in bounce pages (TCPX devmem path)
  // GPU transfers over this size are better staged by the engine (the built-in transport's GPU
  // direct mode: UCCL_SOCKET_GPU_DIRECT_MAX); TCPX moves every GPU transfer itself.
  size_t gpu_direct_max_bytes = SIZE_MAX;
  int speed_mbps = 0;
  int max_recvs = 1;
};

// What accept() reports for an UNPACK comm: where the scatter lists and bounce pages live.
struct UnpackHandle {
  void* meta = nullptr;    // netUnpackMeta* (device-visible address)
  void* bounce = nullptr;  // bounce buffer base (device address on a GPU)
  bool on_device = false;  // false: host memory (the built-in emulation without a GPU)
};

// One stretch of a vectored request: `size` bytes at `data`, inside the registration `mhandle`.
struct NetStretch {
  void* data = nullptr;
  size_t size = 0;
  void* mhandle = nullptr;
};

class Net {
 public:
  // Largest request the TCPX rules allow (one request stays under 4 MiB).
  static constexpr size_t kMaxRequestBytes = (size_t{4} << 20) - 1;
  static constexpr int kMaxOutstanding = 16;
  // Most stretches of one vectored request.
  static constexpr size_t kMaxStretches = 1024;

  explicit Net(NetPlugin* plugin) : plugin_(plugin) {}
  const std::string& name() const;
  // The request size this transport moves best (transports.h: preferredChunk).
  ChunkPreference preferredChunk() const;

  Status devices(int* count) const;
  Status properties(int dev, NetProperties* out) const;
  Status listen(int dev, NetHandle* handle, void** listen_comm) const;
  // One non-blocking step. *send_comm stays null until connected; pass the same handle each time.
  Status connect(int dev, NetHandle* handle, void** send_comm) const;
  // One non-blocking step. For UNPACK transports *unpack is filled once *recv_comm is set.
  Status accept(void* listen_comm, void** recv_comm, UnpackHandle* unpack) const;
  Status regMr(void* comm, void* data, size_t size, MemKind kind, void** mhandle) const;
  Status deregMr(void* comm, void* mhandle) const;
  // *request stays null when the transport cannot take it yet (retry later).
  Status isend(void* send_comm, void* data, size_t size, void* mhandle, void** request) const;
  Status irecv(void* recv_comm, void* data, size_t size, void* mhandle, void** request) const;
  // Whether isendv/irecvv exist: the built-in socket transport of this process, unless
  // UCCL_SOCKET_IOV=0; never TCPX or any table loaded from a library (not part of ncclNet v7).
  bool hasVectored() const;
  // One request over 1..kMaxStretches stretches of host memory (registered as kHost), moved
  // straight from or into them. Every rule of isend/irecv holds for it as a whole: the sum
  // under 4 MiB, 16 outstanding, FIFO tests, irecvConsumed; it pairs with any request of the
  // same size at the peer. The list is copied. kNotSupported without hasVectored().
  Status isendv(void* send_comm, const NetStretch* stretches, size_t count, void** request) const;
  Status irecvv(void* recv_comm, const NetStretch* stretches, size_t count, void** request) const;
  // Only on the oldest incomplete request of its comm.
  Status test(void* request, bool* done) const;
  bool needsConsume() const;
  Status irecvConsumed(void* recv_comm, void* request) const;
  Status closeSend(void* send_comm) const;
  Status closeRecv(void* recv_comm) const;
  Status closeListen(void* listen_comm) const;

 private:
  NetPlugin* plugin_;
};

}  // namespace tcpxp::transport
