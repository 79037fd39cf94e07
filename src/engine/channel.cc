#include "engine/channel.h"

#include "common/log.h"

namespace tcpxp::engine {

Status Channel::postSends(const transport::Net& net, Registry& registry, bool* did_work) {
  while (!send_queue_.empty() && send_inflight_.size() < transport::Net::kMaxOutstanding) {
    ChunkOp op = send_queue_.front();
    void* mh = nullptr;
    TCPXP_RETURN_IF_ERROR(registry.mhandleFor(op.xfer->reg, send_comm, net, &mh));
    TCPXP_RETURN_IF_ERROR(net.isend(send_comm, op.ptr, op.len, mh, &op.request));
    if (op.request == nullptr) break;  // the transport is not ready: retry next round
    send_queue_.pop();
    send_inflight_.push(op);
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::postRecvs(const transport::Net& net, Registry& registry, bool* did_work) {
  // A receive counts against the 16 until it is consumed.
  while (!recv_queue_.empty() && recv_inflight_.size() < transport::Net::kMaxOutstanding) {
    ChunkOp op = recv_queue_.front();
    void* mh = nullptr;
    TCPXP_RETURN_IF_ERROR(registry.mhandleFor(op.xfer->reg, recv_comm, net, &mh));
    TCPXP_RETURN_IF_ERROR(net.irecv(recv_comm, op.ptr, op.len, mh, &op.request));
    if (op.request == nullptr) break;
    recv_queue_.pop();
    recv_inflight_.push(op);
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::progress(const transport::Net& net, Registry& registry,
                         std::vector<Transfer*>* finished, bool* did_work) {
  TCPXP_RETURN_IF_ERROR(postSends(net, registry, did_work));
  TCPXP_RETURN_IF_ERROR(postRecvs(net, registry, did_work));
  // Sends: test the FIFO head until one is not done.
  while (!send_inflight_.empty()) {
    bool done = false;
    TCPXP_RETURN_IF_ERROR(net.test(send_inflight_.front().request, &done));
    if (!done) break;
    Transfer* x = send_inflight_.front().xfer;
    send_inflight_.pop();
    ++x->chunks_done;
    finished->push_back(x);
    *did_work = true;
  }
  // Receives: test the oldest untested one; consume from the front, in order, once landed.
  while (recv_tested_ < recv_inflight_.size()) {
    ChunkOp& op = recv_inflight_.at(recv_tested_);
    bool done = false;
    TCPXP_RETURN_IF_ERROR(net.test(op.request, &done));
    if (!done) break;
    op.tested = true;
    ++recv_tested_;
    *did_work = true;
  }
  while (!recv_inflight_.empty() && recv_inflight_.front().tested) {
    ChunkOp op = recv_inflight_.front();
    TCPXP_RETURN_IF_ERROR(net.irecvConsumed(recv_comm, op.request));
    recv_inflight_.pop();
    --recv_tested_;
    ++op.xfer->chunks_done;
    finished->push_back(op.xfer);
  }
  // Moving the window may allow more posts right away.
  if (*did_work) {
    TCPXP_RETURN_IF_ERROR(postSends(net, registry, did_work));
    TCPXP_RETURN_IF_ERROR(postRecvs(net, registry, did_work));
  }
  return Status::ok();
}

void Channel::close(const transport::Net& net, Registry& registry) {
  if (send_comm) {
    registry.forgetComm(send_comm, net);
    Status st = net.closeSend(send_comm);
    if (!st.isOk()) LOG_WARN("closing send comm: %s", st.toString().c_str());
    send_comm = nullptr;
  }
  if (recv_comm) {
    registry.forgetComm(recv_comm, net);
    Status st = net.closeRecv(recv_comm);
    if (!st.isOk()) LOG_WARN("closing recv comm: %s", st.toString().c_str());
    recv_comm = nullptr;
  }
  send_queue_ = Ring<ChunkOp>();
  send_inflight_ = Ring<ChunkOp>();
  recv_queue_ = Ring<ChunkOp>();
  recv_inflight_ = Ring<ChunkOp>();
  recv_tested_ = 0;
}

}  // namespace tcpxp::engine
