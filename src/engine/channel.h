// One channel of a connection: a send comm (data to the peer) and a recv comm (data from the
// peer) of the transport, each with a queue of pieces waiting to be posted and a FIFO window of
// at most 16 posted requests, tested head first. Driver thread only.
//
// Both peers append pieces to a channel in the same order (derived from the order of Cts and
// Read messages, see connection.h), so the k-th isend here pairs with the k-th irecv there. A
// read's receives queued before the peer said yes wait at the head of their channels until it
// does (Transfer::gate).
// How a piece's bytes get to or from the transport is its data path's business
// (datapath/data_path.h); a receive is consumed (irecvConsumed, in FIFO order) only once its
// path says the bytes are in the user's buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "common/ring.h"
#include "common/status.h"
#include "datapath/data_path.h"
#include "engine/transfer.h"
#include "transport/net.h"

namespace tcpxp::engine {

struct ChunkOp {
  Transfer* xfer = nullptr;
  datapath::DataPath* path = nullptr;
  datapath::Piece piece;
  void* request = nullptr;
  // When each stage began (steady clock ns), for the counters and the trace:
  //   send: queued, staging copy started (0 for direct), isend posted
  //   recv: queued, irecv posted, received (landing started)
  int64_t at_ns[3] = {};
};

// Bytes and requests a channel completed, and how long it had requests posted. The *_ns sums
// say where pieces spent their time (logged per channel when the connection ends):
//   send    isend posted -> test() done
//   recv    irecv posted -> test() done (includes waiting for the sender)
//   land    received -> in the user's buffer (host->device copy or gather) and consumed
//   recv_net_ns  driver time in the transport calls that move a receive (irecv, the test that
//                finds it done, irecvConsumed): with the data path's launch and completion
//                check, what a received request costs the driver thread
//   recv_poll_ns the tests that found a receive not done yet (recv_polls of them): waiting
struct ChannelCounters {
  uint64_t bytes_sent = 0, bytes_received = 0, sends = 0, receives = 0, busy_ns = 0;
  uint64_t send_ns = 0, recv_ns = 0, land_ns = 0;
  uint64_t recv_net_ns = 0, recv_poll_ns = 0, recv_polls = 0;
};

class Channel {
 public:
  void* send_comm = nullptr;
  void* recv_comm = nullptr;
  uint32_t index = 0;              // in its connection
  int dev = 0;                     // transport device (NIC) of both comms
  transport::UnpackHandle unpack;  // from accept(): the recv comm's bounce pages (UNPACK)
  ChannelCounters counters;

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
  Status progress(const transport::Net& net, std::vector<Transfer*>* finished, bool* did_work);
  // Closes both comms (their registrations were dropped first) and forgets every piece.
  void close(const transport::Net& net);

 private:
  Status postSends(const transport::Net& net, bool* did_work);
  // Also skips the pieces of refused reads (counted done: into `finished`).
  Status postRecvs(const transport::Net& net, std::vector<Transfer*>* finished, bool* did_work);
  Status testSends(const transport::Net& net, std::vector<Transfer*>* finished, bool* did_work);
  Status testRecvs(const transport::Net& net, std::vector<Transfer*>* finished, bool* did_work);
  void traceFinished(char dir, const ChunkOp& op, int64_t finished_ns);
  // isend/irecv of what the piece's path hands over (one buffer or its vectored stretches).
  Status postRequest(const transport::Net& net, ChunkOp& op, bool receiving);

  Ring<ChunkOp> send_queue_, send_inflight_;
  Ring<ChunkOp> recv_queue_, recv_inflight_;
  size_t send_prepared_ = 0;    // leading send_queue_ entries whose path said ready
  size_t recv_tested_ = 0;      // leading recv_inflight_ entries reported done
  uint64_t recv_posted_ = 0;    // irecvs posted on recv_comm (their k % 16 is the unpack slot)
  int64_t busy_since_ns_ = -1;  // when requests were first posted, -1 while none are
  std::vector<transport::NetStretch> stretches_;  // a vectored request's list (the transport
                                                  // copies it)
};

}  // namespace tcpxp::engine
