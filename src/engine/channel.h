// One channel of a connection: a send comm (data to the peer) and a recv comm (data from the
// peer) of the transport, each with a queue of pieces waiting to be posted and a FIFO window of
// at most 16 posted requests, tested head first. Driver thread only.
//
// Both peers append pieces to a channel in the same order (derived from the order of Cts
// messages, see connection.h), so the k-th isend here pairs with the k-th irecv there.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "engine/registry.h"
#include "engine/ring.h"
#include "engine/transfer.h"
#include "transport/net.h"

namespace tcpxp::engine {

struct ChunkOp {
  Transfer* xfer = nullptr;
  char* ptr = nullptr;
  uint32_t len = 0;
  void* request = nullptr;
  bool tested = false;  // receive reported done, waiting to be consumed (in FIFO order)
};

class Channel {
 public:
  void* send_comm = nullptr;
  void* recv_comm = nullptr;

  void queueSend(const ChunkOp& op) { send_queue_.push(op); }
  void queueRecv(const ChunkOp& op) { recv_queue_.push(op); }
  bool idle() const { return send_queue_.empty() && send_inflight_.empty() && recv_queue_.empty() && recv_inflight_.empty(); }
  bool hasPosted() const { return !send_inflight_.empty() || !recv_inflight_.empty(); }

  // Posts what the windows allow and tests the FIFO heads. Each finished piece increments its
  // transfer's chunks_done and is appended to `finished` (one entry per piece).
  Status progress(const transport::Net& net, Registry& registry, std::vector<Transfer*>* finished,
                  bool* did_work);
  // Transport handles of this channel's comms are dropped and the comms closed.
  void close(const transport::Net& net, Registry& registry);

 private:
  Status postSends(const transport::Net& net, Registry& registry, bool* did_work);
  Status postRecvs(const transport::Net& net, Registry& registry, bool* did_work);

  Ring<ChunkOp> send_queue_, send_inflight_;
  Ring<ChunkOp> recv_queue_, recv_inflight_;
  size_t recv_tested_ = 0;  // entries of recv_inflight_ already reported done (a prefix)
};

}  // namespace tcpxp::engine
