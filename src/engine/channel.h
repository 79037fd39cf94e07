// One channel of a connection: a send comm (data to the peer) and a recv comm (data from the
// peer) of the transport, each with a queue of pieces waiting to be posted and a FIFO window of
// at most 16 posted requests, tested head first. Driver thread only.
//
// Both peers append pieces to a channel in the same order (derived from the order of Cts
// messages, see connection.h), so the k-th isend here pairs with the k-th irecv there.
//
// Data paths (docs/DESIGN.md, layer 4), chosen per transfer:
//   direct  the transport reads/writes the buffer itself (host memory; GPU memory on TCPX sends)
//   staged  GPU memory over a host-only transport: device->pinned copy before the isend,
//           pinned->device copy after the receive, on this channel's CUDA streams
//   unpack  TCPX-style GPU receive: bytes land in bounce pages; a gather (GPU kernel, or CPU when
//           the bounce buffer is host memory) copies them out; irecvConsumed only after it.
// A receive is consumed (irecvConsumed, in FIFO order) once its bytes are in the user's buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "datapath/gpu_stream.h"
#include "engine/registry.h"
#include "engine/ring.h"
#include "engine/transfer.h"
#include "transport/net.h"

namespace tcpxp::engine {

enum class DataPath : uint8_t { kDirect, kStaged, kUnpack };
const char* dataPathName(DataPath path);

struct ChunkOp {
  Transfer* xfer = nullptr;
  char* ptr = nullptr;  // the user's bytes of this piece
  uint32_t len = 0;
  DataPath path = DataPath::kDirect;
  void* request = nullptr;
  int staging = -1;      // staging slot (staged path)
  int event = -1;        // GPU event of the copy or gather in flight
  int unpack_slot = 0;   // k % 16 of this irecv on its comm (unpack path)
  bool tested = false;   // receive reported done
  bool landing = false;  // receive: copy/gather to the user's buffer started
  // When each stage began (steady clock ns), for the counters and the trace:
  //   send: queued, staging copy started (0 for direct), isend posted
  //   recv: queued, irecv posted, received (landing started)
  int64_t at_ns[3] = {};
};

// What a channel's data paths need from its connection (may be empty for a host endpoint).
// Sends and receives stage through separate pools: with one shared pool, both peers could fill
// it with sends waiting for receives that have no slot left.
//
// One CUDA stream per direction for the whole connection, not one per channel: the copy engine
// runs one copy at a time anyway, and with a stream per channel it served the channels' queued
// copies one channel after the other, so channel 3 of a 64 MiB write began sending 1.7 ms after
// channel 0 (UCCL_TCPX_TRACE, run 34). Staged sends start their device->host copies in the order
// the pieces were queued over all channels (send_copy_turns: the channel of each staged piece
// not yet copied), so every channel's first piece is ready after a few copies.
struct PathResources {
  datapath::StagingPool* send_staging = nullptr;
  datapath::StagingPool* recv_staging = nullptr;
  Registration* send_staging_reg = nullptr;
  Registration* recv_staging_reg = nullptr;
  datapath::GpuStream* send_stream = nullptr;  // staging copies of sends
  datapath::GpuStream* recv_stream = nullptr;  // staging copies and gathers of receives
  Ring<uint32_t>* send_copy_turns = nullptr;
  Ring<uint32_t>* recv_slot_turns = nullptr;  // same for staged receives and their slots
  transport::UnpackHandle unpack;             // set per channel from accept()
};

// Bytes and requests a channel completed, and how long it had requests posted. The *_ns sums
// say where pieces spent their time (logged per channel when the connection ends):
//   stage   device->host copy of a staged send, started -> seen complete
//   send    isend posted -> test() done
//   recv    irecv posted -> test() done (includes waiting for the sender)
//   land    received -> in the user's buffer (host->device copy or gather) and consumed
//   cuda    spent inside CUDA calls (copy, record, query) by the driver thread for this channel
struct ChannelCounters {
  uint64_t bytes_sent = 0, bytes_received = 0, sends = 0, receives = 0, busy_ns = 0;
  uint64_t stage_ns = 0, staged_sends = 0, send_ns = 0, recv_ns = 0, land_ns = 0;
  uint64_t cuda_ns = 0, cuda_calls = 0;
};

class Channel {
 public:
  void* send_comm = nullptr;
  void* recv_comm = nullptr;
  uint32_t index = 0;  // in its connection
  int dev = 0;         // transport device (NIC) of both comms
  ChannelCounters counters;
  PathResources paths;

  // Pieces ready to post beyond the window, and staged copies started ahead of their isends.
  // 8 rather than 4: the copies queue on one stream for all channels, and 4 left the copy
  // engine idle between them (256 MiB GPU writes 20.6 -> 26.9 GB/s, run 38).
  static constexpr size_t kCopyAhead = 8;

  // Staged pieces also take their turn in paths.send_copy_turns (the caller pushes it).
  void queueSend(ChunkOp op);
  void queueRecv(ChunkOp op);
  // Finished pieces, kept while `tracing` (UCCL_TCPX_TRACE): 's'/'r', its transfer (the
  // initiator's id * 2, + 1 when this side initiated: unique per side), len, the three stage
  // starts of ChunkOp::at_ns and when it finished.
  struct TraceRecord {
    char dir;
    uint32_t len;
    uint64_t xfer;
    int64_t t[4];
  };
  bool tracing = false;
  std::vector<TraceRecord> trace;
  // Receives queued or posted: how busy this channel's incoming direction is.
  size_t recvBacklog() const { return recv_queue_.size() + recv_inflight_.size(); }
  bool idle() const {
    return send_queue_.empty() && send_inflight_.empty() && recv_queue_.empty() &&
           recv_inflight_.empty();
  }

  // Posts what the windows allow and tests the FIFO heads. Each finished piece increments its
  // transfer's chunks_done and is appended to `finished` (one entry per piece).
  Status progress(const transport::Net& net, Registry& registry, std::vector<Transfer*>* finished,
                  bool* did_work);
  // Drops the transport's handles on this channel's comms and closes them.
  void close(const transport::Net& net, Registry& registry);

 private:
  Status postSends(const transport::Net& net, Registry& registry, bool* did_work);
  Status postRecvs(const transport::Net& net, Registry& registry, bool* did_work);
  Status testSends(const transport::Net& net, std::vector<Transfer*>* finished, bool* did_work);
  Status testRecvs(const transport::Net& net, std::vector<Transfer*>* finished, bool* did_work);
  Status startLanding(ChunkOp& op);
  void traceFinished(char dir, const ChunkOp& op, int64_t finished_ns);
  Status landed(ChunkOp& op, bool* done);

  Ring<ChunkOp> send_queue_, send_inflight_;
  Ring<ChunkOp> recv_queue_, recv_inflight_;
  size_t send_copies_ = 0;      // leading send_queue_ entries ready to post (copy started)
  size_t staged_ahead_ = 0;     // of those, staged pieces (their copies hold staging slots)
  size_t recv_tested_ = 0;      // leading recv_inflight_ entries reported done
  uint64_t recv_posted_ = 0;    // irecvs posted on recv_comm (their k % 16 is the unpack slot)
  int64_t busy_since_ns_ = -1;  // when requests were first posted, -1 while none are
};

}  // namespace tcpxp::engine
