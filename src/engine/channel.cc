#include "engine/channel.h"

#include <chrono>

#include "common/log.h"
#include "datapath/cpu_gather.h"

namespace tcpxp::engine {
namespace {
int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Adds the time of one CUDA call to the channel's counters.
class CudaCallTimer {
 public:
  explicit CudaCallTimer(ChannelCounters& c) : c_(c), start_(nowNs()) {}
  ~CudaCallTimer() {
    c_.cuda_ns += static_cast<uint64_t>(nowNs() - start_);
    ++c_.cuda_calls;
  }
  CudaCallTimer(const CudaCallTimer&) = delete;
  CudaCallTimer& operator=(const CudaCallTimer&) = delete;

 private:
  ChannelCounters& c_;
  int64_t start_;
};

constexpr size_t kMaxTraceRecords = size_t{1} << 20;  // per channel (48 MiB)
}  // namespace

void Channel::queueSend(ChunkOp op) {
  op.at_ns[0] = nowNs();
  send_queue_.push(op);
}
void Channel::queueRecv(ChunkOp op) {
  op.at_ns[0] = nowNs();
  recv_queue_.push(op);
}

void Channel::traceFinished(char dir, const ChunkOp& op, int64_t finished_ns) {
  if (!tracing || trace.size() >= kMaxTraceRecords) return;
  // The initiator's id, told apart from the peer's by who initiated.
  uint64_t xfer = op.xfer->id * 2 + (op.xfer->api_id != 0 ? 1 : 0);
  trace.push_back({dir, op.len, xfer, {op.at_ns[0], op.at_ns[1], op.at_ns[2], finished_ns}});
}

const char* dataPathName(DataPath path) {
  switch (path) {
    case DataPath::kDirect:
      return "direct";
    case DataPath::kStaged:
      return "staged";
    case DataPath::kUnpack:
      return "unpack";
  }
  return "?";
}

Status Channel::postSends(const transport::Net& net, Registry& registry, bool* did_work) {
  // Pieces become ready to post in queue order, up to kCopyAhead beyond the window. A staged
  // piece is ready once its device->host copy started, which happens only on this channel's
  // turn in the connection's copy order, with at most kCopyAhead staged pieces copied and not
  // yet posted: the staging pool and the copy engine are shared by the connection's channels.
  while (send_copies_ < send_queue_.size() &&
         send_inflight_.size() + send_copies_ < transport::Net::kMaxOutstanding + kCopyAhead) {
    ChunkOp& op = send_queue_.at(send_copies_);
    if (op.path == DataPath::kStaged) {
      if (staged_ahead_ >= kCopyAhead) break;
      if (paths.send_copy_turns->empty() || paths.send_copy_turns->front() != index) break;
      if (op.staging < 0) op.staging = paths.send_staging->acquire();
      if (op.staging < 0) break;
      CudaCallTimer timer(counters);
      TCPXP_RETURN_IF_ERROR(
          paths.send_stream->copy(paths.send_staging->slot(op.staging), op.ptr, op.len));
      op.event = paths.send_stream->record();
      if (op.event < 0) break;  // retried next round; the copy is simply enqueued again
      paths.send_copy_turns->pop();
      ++staged_ahead_;
      op.at_ns[1] = nowNs();
      *did_work = true;
    }
    ++send_copies_;
  }
  while (send_copies_ > 0 && send_inflight_.size() < transport::Net::kMaxOutstanding) {
    ChunkOp op = send_queue_.front();
    char* data = op.ptr;
    Registration* reg = op.xfer->reg;
    if (op.path == DataPath::kStaged) {
      bool copied = false;
      CudaCallTimer timer(counters);
      TCPXP_RETURN_IF_ERROR(paths.send_stream->query(op.event, &copied));
      if (!copied) break;
      data = paths.send_staging->slot(op.staging);
      reg = paths.send_staging_reg;
    }
    void* mh = nullptr;
    TCPXP_RETURN_IF_ERROR(registry.mhandleFor(reg, send_comm, net, &mh));
    TCPXP_RETURN_IF_ERROR(net.isend(send_comm, data, op.len, mh, &op.request));
    if (op.request == nullptr) break;  // the transport is not ready: retry next round
    int64_t now = nowNs();
    if (op.event >= 0) {
      paths.send_stream->release(op.event);
      --staged_ahead_;
      counters.stage_ns += static_cast<uint64_t>(now - op.at_ns[1]);
      ++counters.staged_sends;
    }
    op.event = -1;
    op.at_ns[2] = now;
    send_queue_.pop();
    --send_copies_;
    send_inflight_.push(op);
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::postRecvs(const transport::Net& net, Registry& registry, bool* did_work) {
  // A receive counts against the 16 until it is consumed.
  while (!recv_queue_.empty() && recv_inflight_.size() < transport::Net::kMaxOutstanding) {
    ChunkOp op = recv_queue_.front();
    char* data = op.ptr;
    Registration* reg = op.xfer->reg;
    if (op.path == DataPath::kStaged) {
      // Staging slots go to receives in the order their pieces were queued over all channels,
      // as the sender stages them: then the oldest unfinished piece always gets a slot on both
      // sides. Taken in channel order instead, a channel's window could hold every slot while
      // the sender's slots wait on the other channels: a deadlock once the pool is smaller
      // than all the windows (16 MiB of staging, run 36).
      if (paths.recv_slot_turns->empty() || paths.recv_slot_turns->front() != index) break;
      op.staging = paths.recv_staging->acquire();
      if (op.staging < 0) break;
      data = paths.recv_staging->slot(op.staging);
      reg = paths.recv_staging_reg;
    }
    void* mh = nullptr;
    Status st = registry.mhandleFor(reg, recv_comm, net, &mh);
    if (st.isOk()) st = net.irecv(recv_comm, data, op.len, mh, &op.request);
    if (!st.isOk() || op.request == nullptr) {
      if (op.staging >= 0) paths.recv_staging->release(op.staging);
      TCPXP_RETURN_IF_ERROR(st);
      break;
    }
    if (op.path == DataPath::kStaged) paths.recv_slot_turns->pop();
    op.unpack_slot = static_cast<int>(recv_posted_++ % datapath::kUnpackSlots);
    op.at_ns[1] = nowNs();
    recv_queue_.pop();
    recv_inflight_.push(op);
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
    if (op.staging >= 0) paths.send_staging->release(op.staging);
    int64_t done_ns = nowNs();
    counters.send_ns += static_cast<uint64_t>(done_ns - op.at_ns[2]);
    traceFinished('s', op, done_ns);
    counters.bytes_sent += op.len;
    ++counters.sends;
    ++op.xfer->chunks_done;
    finished->push_back(op.xfer);
    send_inflight_.pop();
    *did_work = true;
  }
  return Status::ok();
}

// Starts moving a received piece into the user's buffer (a no-op for the direct path).
Status Channel::startLanding(ChunkOp& op) {
  op.landing = true;
  if (op.path == DataPath::kDirect) return Status::ok();
  if (op.path == DataPath::kUnpack && !paths.unpack.on_device) {
    if (!datapath::cpuGather(datapath::slotFragments(paths.unpack.meta, op.unpack_slot),
                             *datapath::slotCount(paths.unpack.meta, op.unpack_slot),
                             static_cast<const char*>(paths.unpack.bounce), op.ptr, op.len)) {
      return Status(Code::kProtocolError, "UNPACK scatter list out of range");
    }
    return Status::ok();
  }
  CudaCallTimer timer(counters);
  if (op.path == DataPath::kStaged) {
    TCPXP_RETURN_IF_ERROR(
        paths.recv_stream->copy(op.ptr, paths.recv_staging->slot(op.staging), op.len));
  } else {
    TCPXP_RETURN_IF_ERROR(
        paths.recv_stream->gather(datapath::slotFragments(paths.unpack.meta, op.unpack_slot),
                                  datapath::slotCount(paths.unpack.meta, op.unpack_slot),
                                  static_cast<const char*>(paths.unpack.bounce), op.ptr));
  }
  op.event = paths.recv_stream->record();
  if (op.event < 0) return Status(Code::kResourceExhausted, "no free CUDA event on a recv stream");
  return Status::ok();
}

Status Channel::landed(ChunkOp& op, bool* done) {
  *done = true;
  if (op.event < 0) return Status::ok();
  CudaCallTimer timer(counters);
  TCPXP_RETURN_IF_ERROR(paths.recv_stream->query(op.event, done));
  if (*done) {
    paths.recv_stream->release(op.event);
    op.event = -1;
  }
  return Status::ok();
}

Status Channel::testRecvs(const transport::Net& net, std::vector<Transfer*>* finished,
                          bool* did_work) {
  while (recv_tested_ < recv_inflight_.size()) {
    ChunkOp& op = recv_inflight_.at(recv_tested_);
    bool done = false;
    TCPXP_RETURN_IF_ERROR(net.test(op.request, &done));
    if (!done) break;
    op.tested = true;
    int64_t now = nowNs();
    counters.recv_ns += static_cast<uint64_t>(now - op.at_ns[1]);
    op.at_ns[2] = now;
    TCPXP_RETURN_IF_ERROR(startLanding(op));
    ++recv_tested_;
    *did_work = true;
  }
  // Consume in FIFO order, each only after its bytes are in the user's buffer: consuming earlier
  // would hand TCPX's pages back to the NIC while the gather still reads them.
  while (recv_tested_ > 0) {
    ChunkOp& op = recv_inflight_.front();
    bool done = false;
    TCPXP_RETURN_IF_ERROR(landed(op, &done));
    if (!done) break;
    TCPXP_RETURN_IF_ERROR(net.irecvConsumed(recv_comm, op.request));
    if (op.staging >= 0) paths.recv_staging->release(op.staging);
    int64_t landed_ns = nowNs();
    counters.land_ns += static_cast<uint64_t>(landed_ns - op.at_ns[2]);
    traceFinished('r', op, landed_ns);
    counters.bytes_received += op.len;
    ++counters.receives;
    ++op.xfer->chunks_done;
    finished->push_back(op.xfer);
    recv_inflight_.pop();
    --recv_tested_;
    *did_work = true;
  }
  return Status::ok();
}

Status Channel::progress(const transport::Net& net, Registry& registry,
                         std::vector<Transfer*>* finished, bool* did_work) {
  bool work = false;
  TCPXP_RETURN_IF_ERROR(postSends(net, registry, &work));
  TCPXP_RETURN_IF_ERROR(postRecvs(net, registry, &work));
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
    TCPXP_RETURN_IF_ERROR(postSends(net, registry, &work));
    TCPXP_RETURN_IF_ERROR(postRecvs(net, registry, &work));
    *did_work = true;
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
  send_copies_ = 0;
  staged_ahead_ = 0;
  recv_tested_ = 0;
}

}  // namespace tcpxp::engine
