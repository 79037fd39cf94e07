// The data-path layer (docs/DESIGN.md, layer 4): how the bytes of one posted piece get between
// the user's buffer and the transport. One interface, one file per path:
//   direct_path.cc  the transport reads/writes the user's buffer itself
//   staged_path.cc  GPU memory over a host-only transport: pinned staging slots, copies on one
//                   CUDA stream per direction, in transfer order over all channels
//   unpack_path.cc  TCPX's GPU receive: bytes land in bounce pages, a gather copies them out
//   inline_path.cc  small transfers whose bytes travel inside a control frame
//   vector_path.cc  one-sided vectors: host pieces as vectored requests where the transport takes
//                   them, else gathered into / scattered from host staging slots
// A path owns its pools, streams and ordering; the engine's channels only call the steps below,
// in this order, and never ask which path a piece takes:
//   queued -> prepare (until ready) -> [sends: copied?] -> buffer -> (post) -> posted
//     -> [receives: startLanding -> landed?] -> release
//   or, for a receive its peer refused after it was queued: queued -> skip (until done)
// Driver thread only. Adding a path: one file implementing DataPath, a PathKind, one line in
// choosePath (path_choice.cc) and one in makePath (path_set.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "datapath/path_choice.h"
#include "datapath/unpack_abi.h"
#include "transport/mem_region.h"
#include "transport/net.h"

namespace tcpxp::datapath {

// One buffer of a vector transfer (its pieces are moved as one stream of their total).
struct IoSpan {
  char* ptr = nullptr;
  uint32_t len = 0;
  transport::MemRegion* region = nullptr;  // the registration holding it (vectored requests)
};

// One piece of a transfer, as a path sees it: at most one transport request.
struct Piece {
  char* user = nullptr;  // the user's bytes of this piece
  uint32_t len = 0;
  uint32_t channel = 0;    // the channel that posts it
  bool receiving = false;  // bytes come from the peer
  bool on_gpu = false;     // `user` is GPU memory (not only registered as such)
  transport::MemRegion* user_region = nullptr;      // the registration holding `user`
  const transport::UnpackHandle* bounce = nullptr;  // receive: the comm's bounce pages (unpack)
  int unpack_slot = 0;  // receive: k % 16 of its irecv on the comm (set when posted)
  int slot = -1;        // path state: staging slot
  int event = -1;       // path state: GPU event of a copy or gather in flight
  int64_t copy_ns = 0;  // when a staging copy of a send started (tracing), 0 if none
  // Vector path: the piece is `len` bytes of the transfer's spans, from byte `span_skip` of
  // spans[span_first] on, over `span_count` of them (`user` is unused).
  const IoSpan* spans = nullptr;
  uint32_t span_first = 0;
  uint32_t span_skip = 0;
  uint32_t span_count = 0;
};

// What the transport is handed for a piece: `data` in `region`, or, when `vectored`, the
// piece's stretches of its spans as one vectored request (pieceStretches; no copy).
struct PostBuffer {
  char* data = nullptr;
  transport::MemRegion* region = nullptr;
  bool vectored = false;
};

// The stretches of a vector piece, each with its span's handle on `comm` (registered on first
// use), for transport::Net::isendv/irecvv. Overwrites *out.
Status pieceStretches(const Piece& p, const transport::Net& net, void* comm,
                      std::vector<transport::NetStretch>* out);

// Time a path spent in CUDA calls, and staging copies of sends (logged per connection).
struct PathCounters {
  uint64_t cuda_ns = 0, cuda_calls = 0;     // copies and kernels started (with their events)
  uint64_t poll_ns = 0, polls = 0;          // completion checks (GpuStream::query)
  uint64_t stage_ns = 0, staged_sends = 0;  // device->host copy started -> seen complete
};

// Adds the time of one CUDA call to a path's counters.
// kPoll: a completion check, counted apart (the driver repeats them while work is in flight).
class CudaCallTimer {
 public:
  enum Kind { kStart, kPoll };
  explicit CudaCallTimer(PathCounters& c, Kind kind = kStart)
      : c_(c), kind_(kind), start_(nowNs()) {}
  ~CudaCallTimer() {
    auto ns = static_cast<uint64_t>(nowNs() - start_);
    if (kind_ == kPoll) {
      c_.poll_ns += ns;
      ++c_.polls;
    } else {
      c_.cuda_ns += ns;
      ++c_.cuda_calls;
    }
  }
  CudaCallTimer(const CudaCallTimer&) = delete;
  CudaCallTimer& operator=(const CudaCallTimer&) = delete;

 private:
  PathCounters& c_;
  Kind kind_;
  int64_t start_;
};

class DataPath {
 public:
  virtual ~DataPath() = default;
  virtual PathKind kind() const = 0;

  // The piece was queued on its channel: orderings across channels start from here.
  virtual void queued(const Piece& p) { (void)p; }
  // Starts what must happen before the piece can be posted (a staging copy, a slot). *ready
  // false: not yet (no slot, not this channel's turn); call again later.
  virtual Status prepare(Piece& p, bool* ready) = 0;
  // Sends: whether the piece's bytes are ready for the transport (a staging copy finished).
  virtual Status copied(Piece& p, bool* done) {
    (void)p;
    *done = true;
    return Status::ok();
  }
  // The memory to post (after prepare said ready).
  virtual PostBuffer buffer(const Piece& p) const = 0;
  // The transport took the request.
  virtual void posted(Piece& p) { (void)p; }
  // Receives: the transport reported the bytes received; start moving them to the user.
  virtual Status startLanding(Piece& p) {
    (void)p;
    return Status::ok();
  }
  // Receives: whether the bytes are in the user's buffer (then the request may be consumed).
  virtual Status landed(Piece& p, bool* done) {
    (void)p;
    *done = true;
    return Status::ok();
  }
  // The request completed (send) or was consumed (receive): give back what the piece held.
  virtual void release(Piece& p) { (void)p; }
  // A queued receive that will never be posted (its read was refused after it was queued): its
  // place in the path's order is given up, as posting would; false in *done until that place
  // comes (the channel asks again next round). Nothing was prepared for it.
  virtual Status skip(Piece& p, bool* done) {
    (void)p;
    *done = true;
    return Status::ok();
  }
  // Drops the path's own registrations on `comm` (before the comm closes).
  virtual void forgetComm(const transport::Net& net, void* comm) {
    (void)net;
    (void)comm;
  }
  // Pinned staging memory the path holds (reported per connection).
  virtual size_t stagingBytes() const { return 0; }
  const PathCounters& counters() const { return counters_; }

 protected:
  PathCounters counters_;
};

// What paths are made from: one set per connection.
struct PathParams {
  int device = -1;                 // CUDA device of the GPU buffers (-1: none)
  size_t channels = 1;             // channels of the connection
  size_t chunk_bytes = 0;          // largest piece
  size_t staging_bytes = 0;        // pinned staging per connection (both directions together)
  size_t events = 0;               // GPU events per stream: pieces that may be in flight at once
  size_t inline_bytes = 0;         // largest inline transfer
  bool vectored_requests = false;  // the transport takes vectored requests (TransportCaps)
};

// Makers, one per file.
std::unique_ptr<DataPath> makeDirectPath();
Status makeStagedPath(const PathParams& params, std::unique_ptr<DataPath>* out);
Status makeUnpackPath(const PathParams& params, std::unique_ptr<DataPath>* out);
std::unique_ptr<DataPath> makeInlinePath(const PathParams& params);
Status makeVectorPath(const PathParams& params, std::unique_ptr<DataPath>* out);

// Sends of this many staged pieces may be copied ahead of their posting, per channel: the
// copies queue on one stream for all channels, and 4 left the copy engine idle between them
// (256 MiB GPU writes 20.6 -> 26.9 GB/s, run 38).
inline constexpr size_t kCopyAhead = 8;

}  // namespace tcpxp::datapath
