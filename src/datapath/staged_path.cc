// Staged: GPU memory over a host-only transport. Sends copy device -> pinned before the isend,
// receives land in pinned slots and copy pinned -> device after the transport reports them.
//
// Sends and receives share one pool, each direction keeping a reserve of slots the other cannot
// take (TwoWaySlots): with no reserve, both peers could fill it with sends waiting for receives
// that have no slot left; with a fixed half each way, a one-way stream left half the pool idle.
//
// One CUDA stream per direction for the whole connection, not one per channel: the copy engine
// runs one copy at a time anyway, and with a stream per channel it served the channels' queued
// copies one channel after the other, so channel 3 of a 64 MiB write began sending 1.7 ms after
// channel 0 (UCCL_TCPX_TRACE, run 34). Staged sends start their device->host copies in the order
// the pieces were queued over all channels (send_turns_), so every channel's first piece is
// ready after a few copies. Receives take their staging slots in that same order (recv_turns_):
// then the oldest unfinished piece always gets a slot on both sides. Taken in channel order
// instead, a channel's window could hold every slot while the sender's slots wait on the other
// channels: a deadlock once the pool is smaller than all the windows (16 MiB of staging, run 36).
#include <vector>

#include "common/log.h"
#include "common/ring.h"
#include "datapath/data_path.h"
#include "datapath/gpu_stream.h"

namespace tcpxp::datapath {
namespace {

class StagedPath final : public DataPath {
 public:
  PathKind kind() const override { return PathKind::kStaged; }

  Status init(const PathParams& params) {
    int events = static_cast<int>(params.events);
    TCPXP_RETURN_IF_ERROR(GpuStream::create(params.device, events, &send_stream_));
    TCPXP_RETURN_IF_ERROR(GpuStream::create(params.device, events, &recv_stream_));
    // Two slots per channel each way keep every channel moving in both directions at once.
    const size_t reserve = 2 * static_cast<size_t>(params.channels);
    TCPXP_RETURN_IF_ERROR(
        StagingPool::create(params.chunk_bytes, params.staging_bytes, reserve, &pool_));
    region_.reset(pool_->base(), pool_->bytes(), transport::MemKind::kHost);
    ahead_.assign(params.channels, 0);
    LOG_INFO(
        "staging: %zu bytes of pinned memory, %zu slots of %zu bytes for both directions, "
        "%zu kept for each",
        pool_->bytes(), pool_->slots(), params.chunk_bytes, pool_->reserve());
    return Status::ok();
  }

  ~StagedPath() override {
    // Streams before the pools: their destructors wait for copies still using the slots.
    send_stream_.reset();
    recv_stream_.reset();
  }

  void queued(const Piece& p) override {
    (p.receiving ? recv_turns_ : send_turns_).push(p.channel);
  }

  Status prepare(Piece& p, bool* ready) override {
    *ready = false;
    if (p.receiving) {
      if (p.slot < 0) {
        if (recv_turns_.empty() || recv_turns_.front() != p.channel) return Status::ok();
        p.slot = pool_->acquire(TwoWaySlots::kRecv);
      }
      *ready = p.slot >= 0;
      return Status::ok();
    }
    // A send is ready once its device->host copy started: only on its channel's turn in the
    // connection's copy order, with at most kCopyAhead pieces of a channel copied, not posted.
    if (ahead_[p.channel] >= kCopyAhead) return Status::ok();
    if (send_turns_.empty() || send_turns_.front() != p.channel) return Status::ok();
    if (p.slot < 0) p.slot = pool_->acquire(TwoWaySlots::kSend);
    if (p.slot < 0) return Status::ok();
    CudaCallTimer timer(counters_);
    TCPXP_RETURN_IF_ERROR(send_stream_->copy(pool_->slot(p.slot), p.user, p.len));
    p.event = send_stream_->record();
    if (p.event < 0) return Status::ok();  // retried next round; the copy is simply enqueued again
    send_turns_.pop();
    ++ahead_[p.channel];
    p.copy_ns = nowNs();
    *ready = true;
    return Status::ok();
  }

  Status copied(Piece& p, bool* done) override {
    CudaCallTimer timer(counters_, CudaCallTimer::kPoll);
    return send_stream_->query(p.event, done);
  }

  PostBuffer buffer(const Piece& p) const override { return {pool_->slot(p.slot), &region_}; }

  void posted(Piece& p) override {
    if (p.receiving) {
      recv_turns_.pop();
      return;
    }
    send_stream_->release(p.event);
    p.event = -1;
    --ahead_[p.channel];
    counters_.stage_ns += static_cast<uint64_t>(nowNs() - p.copy_ns);
    ++counters_.staged_sends;
  }

  Status skip(Piece& p, bool* done) override {
    *done = !recv_turns_.empty() && recv_turns_.front() == p.channel;
    if (*done) recv_turns_.pop();
    return Status::ok();
  }

  Status startLanding(Piece& p) override {
    CudaCallTimer timer(counters_);
    TCPXP_RETURN_IF_ERROR(recv_stream_->copy(p.user, pool_->slot(p.slot), p.len));
    p.event = recv_stream_->record();
    if (p.event < 0) return Status(Code::kResourceExhausted, "no free CUDA event on a recv stream");
    return Status::ok();
  }

  Status landed(Piece& p, bool* done) override {
    CudaCallTimer timer(counters_, CudaCallTimer::kPoll);
    TCPXP_RETURN_IF_ERROR(recv_stream_->query(p.event, done));
    if (*done) {
      recv_stream_->release(p.event);
      p.event = -1;
    }
    return Status::ok();
  }

  void release(Piece& p) override {
    if (p.slot >= 0) pool_->release(p.receiving ? TwoWaySlots::kRecv : TwoWaySlots::kSend, p.slot);
    p.slot = -1;
  }

  void forgetComm(const transport::Net& net, void* comm) override { region_.forget(net, comm); }

  size_t stagingBytes() const override { return pool_->bytes(); }

 private:
  std::unique_ptr<StagingPool> pool_;  // shared by sends and receives
  mutable transport::MemRegion region_;
  std::unique_ptr<GpuStream> send_stream_;  // staging copies of sends
  std::unique_ptr<GpuStream> recv_stream_;  // staging copies of receives
  Ring<uint32_t> send_turns_, recv_turns_;  // channels of the queued pieces, in queue order
  std::vector<size_t> ahead_;               // per channel: sends copied, not yet posted
};

}  // namespace

Status makeStagedPath(const PathParams& params, std::unique_ptr<DataPath>* out) {
  auto path = std::make_unique<StagedPath>();
  TCPXP_RETURN_IF_ERROR(path->init(params));
  *out = std::move(path);
  return Status::ok();
}

}  // namespace tcpxp::datapath
