#include "engine/channel.h"

#include "common/log.h"

namespace tcpxp::engine {
namespace {
constexpr size_t kMaxTraceRecords = size_t{1} << 20;  // per channel (48 MiB)
}  // namespace

void Channel::queueSend(ChunkOp op) {
  op.at_ns[0] = nowNs();
  op.piece.channel = index;
  op.piece.receiving = false;
  op.path->queued(op.piece);
  send_queue_.push(op);
}

void Channel::queueRecv(ChunkOp op) {
  op.at_ns[0] = nowNs();
  op.piece.channel = index;
  op.piece.receiving = true;
  op.piece.bounce = &unpack;
  op.path->queued(op.piece);
  recv_queue_.push(op);
}

void Channel::traceFinished(char dir, const ChunkOp& op, int64_t finished_ns) {
  if (!tracing || trace.size() >= kMaxTraceRecords) return;
  // The initiator's id, told apart from the peer's by who initiated.
  uint64_t xfer = op.xfer->id * 2 + (op.xfer->api_id != 0 ? 1 : 0);
  trace.push_back({dir, op.piece.len, xfer, {op.at_ns[0], op.at_ns[1], op.at_ns[2], finished_ns}});
}

Status Channel::postRequest(const transport::Net& net, ChunkOp& op, bool receiving) {
  void* comm = receiving ? recv_comm : send_comm;
  datapath::PostBuffer buf = op.path->buffer(op.piece);
  if (buf.vectored) {
    TCPXP_RETURN_IF_ERROR(datapath::pieceStretches(op.piece, net, comm, &stretches_));
    return receiving ? net.irecvv(comm, stretches_.data(), stretches_.size(), &op.request)
                     : net.isendv(comm, stretches_.data(), stretches_.size(), &op.request);
  }
  void* mh = nullptr;
  TCPXP_RETURN_IF_ERROR(buf.region->mhandle(net, comm, &mh));
  return receiving ? net.irecv(comm, buf.data, op.piece.len, mh, &op.request)
                   : net.isend(comm, buf.data, op.piece.len, mh, &op.request);
}

Status Channel::postSends(const transport::Net& net, bool* did_work) {
  // Pieces become ready to post in queue order, up to kCopyAhead beyond the window (a staged
  // piece is ready once its device->host copy started; its path decides when that may be).
  while (send_prepared_ < send_queue_.size() &&
         send_inflight_.size() + send_prepared_ <
             transport::Net::kMaxOutstanding + datapath::kCopyAhead) {
    ChunkOp& op = send_queue_.at(send_prepared_);
    bool ready = false;
    TCPXP_RETURN_IF_ERROR(op.path->prepare(op.piece, &ready));
    if (!ready) break;
    ++send_prepared_;
    if (op.piece.copy_ns) *did_work = true;
  }
  while (send_prepared_ > 0 && send_inflight_.size() < transport::Net::kMaxOutstanding) {
    ChunkOp op = send_queue_.front();
    bool copied = false;
    TCPXP_RETURN_IF_ERROR(op.path->copied(op.piece, &copied));
    if (!copied) break;
    TCPXP_RETURN_IF_ERROR(postRequest(net, op, /*receiving=*/false));
    if (op.request == nullptr) break;  // the transport is not ready: retry next round
    op.path->posted(op.piece);
    op.at_ns[1] = op.piece.copy_ns;
    op.at_ns[2] = nowNs();
    send_queue_.pop();
    --send_prepared_;
    send_inflight_.push(op);
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::postRecvs(const transport::Net& net, std::vector<Transfer*>* finished,
                          bool* did_work) {
  // A receive counts against the 16 until it is consumed.
  while (!recv_queue_.empty() && recv_inflight_.size() < transport::Net::kMaxOutstanding) {
    ChunkOp& op = recv_queue_.front();
    if (op.xfer->gate == Gate::kAwaitingOk) break;  // the peer may yet refuse it: wait
    if (op.xfer->gate == Gate::kRefused) {
      // The peer sends nothing for it: never posted, it only gives up its turn.
      bool skipped = false;
      TCPXP_RETURN_IF_ERROR(op.path->skip(op.piece, &skipped));
      if (!skipped) break;
      ++op.xfer->chunks_done;
      finished->push_back(op.xfer);
      recv_queue_.pop();
      *did_work = true;
      continue;
    }
    bool ready = false;
    TCPXP_RETURN_IF_ERROR(op.path->prepare(op.piece, &ready));
    if (!ready) break;
    int64_t start = nowNs();
    TCPXP_RETURN_IF_ERROR(postRequest(net, op, /*receiving=*/true));
    op.at_ns[1] = nowNs();
    counters.recv_net_ns += static_cast<uint64_t>(op.at_ns[1] - start);
    if (op.request == nullptr) break;  // retried next round; the path keeps what it holds
    op.path->posted(op.piece);
    op.piece.unpack_slot = static_cast<int>(recv_posted_++ % datapath::kUnpackSlots);
    recv_inflight_.push(op);
    recv_queue_.pop();
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::testSends(const transport::Net& net, std::vector<Transfer*>* finished,
                          bool* did_work) {
  while (!send_inflight_.empty()) {
    ChunkOp& op = send_inflight_.front();
    bool done = false;
    TCPXP_RETURN_IF_ERROR(net.test(op.request, &done));
    if (!done) break;
    op.path->release(op.piece);
    int64_t done_ns = nowNs();
    counters.send_ns += static_cast<uint64_t>(done_ns - op.at_ns[2]);
    traceFinished('s', op, done_ns);
    counters.bytes_sent += op.piece.len;
    ++counters.sends;
    ++op.xfer->chunks_done;
    finished->push_back(op.xfer);
    send_inflight_.pop();
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::testRecvs(const transport::Net& net, std::vector<Transfer*>* finished,
                          bool* did_work) {
  while (recv_tested_ < recv_inflight_.size()) {
    ChunkOp& op = recv_inflight_.at(recv_tested_);
    bool done = false;
    int64_t start = nowNs();
    TCPXP_RETURN_IF_ERROR(net.test(op.request, &done));
    int64_t now = nowNs();
    if (!done) {
      counters.recv_poll_ns += static_cast<uint64_t>(now - start);
      ++counters.recv_polls;
      break;
    }
    counters.recv_net_ns += static_cast<uint64_t>(now - start);
    counters.recv_ns += static_cast<uint64_t>(now - op.at_ns[1]);
    op.at_ns[2] = now;
    TCPXP_RETURN_IF_ERROR(op.path->startLanding(op.piece));
    ++recv_tested_;
    *did_work = true;
  }
  // Consume in FIFO order, each only after its bytes are in the user's buffer: consuming earlier
  // would hand TCPX's pages back to the NIC while the gather still reads them.
  while (recv_tested_ > 0) {
    ChunkOp& op = recv_inflight_.front();
    bool done = false;
    TCPXP_RETURN_IF_ERROR(op.path->landed(op.piece, &done));
    if (!done) break;
    int64_t start = nowNs();
    TCPXP_RETURN_IF_ERROR(net.irecvConsumed(recv_comm, op.request));
    op.path->release(op.piece);
    int64_t landed_ns = nowNs();
    counters.recv_net_ns += static_cast<uint64_t>(landed_ns - start);
    counters.land_ns += static_cast<uint64_t>(landed_ns - op.at_ns[2]);
    traceFinished('r', op, landed_ns);
    counters.bytes_received += op.piece.len;
    ++counters.receives;
    ++op.xfer->chunks_done;
    finished->push_back(op.xfer);
    recv_inflight_.pop();
    --recv_tested_;
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::progress(const transport::Net& net, std::vector<Transfer*>* finished,
                         bool* did_work) {
  bool work = false;
  TCPXP_RETURN_IF_ERROR(postSends(net, &work));
  TCPXP_RETURN_IF_ERROR(postRecvs(net, finished, &work));
  TCPXP_RETURN_IF_ERROR(testSends(net, finished, &work));
  TCPXP_RETURN_IF_ERROR(testRecvs(net, finished, &work));
  // Busy time: while any request is posted on either comm.
  bool posted = !send_inflight_.empty() || !recv_inflight_.empty();
  if (posted != (busy_since_ns_ >= 0)) {
    int64_t now = nowNs();
    if (posted) {
      busy_since_ns_ = now;
    } else {
      counters.busy_ns += static_cast<uint64_t>(now - busy_since_ns_);
      busy_since_ns_ = -1;
    }
  }
  if (work) {
    // The windows moved: post again right away.
    TCPXP_RETURN_IF_ERROR(postSends(net, &work));
    TCPXP_RETURN_IF_ERROR(postRecvs(net, finished, &work));
    *did_work = true;
  }
  return Status::ok();
}

void Channel::close(const transport::Net& net) {
  if (send_comm) {
    Status st = net.closeSend(send_comm);
    if (!st.isOk()) LOG_WARN("closing send comm: %s", st.toString().c_str());
    send_comm = nullptr;
  }
  if (recv_comm) {
    Status st = net.closeRecv(recv_comm);
    if (!st.isOk()) LOG_WARN("closing recv comm: %s", st.toString().c_str());
    recv_comm = nullptr;
  }
  send_queue_ = Ring<ChunkOp>();
  send_inflight_ = Ring<ChunkOp>();
  recv_queue_ = Ring<ChunkOp>();
  recv_inflight_ = Ring<ChunkOp>();
  send_prepared_ = 0;
  recv_tested_ = 0;
}

}  // namespace tcpxp::engine
