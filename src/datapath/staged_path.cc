// Staged: GPU memory over a host-only transport. Sends copy device -> pinned before the isend,
// receives land in pinned slots and copy pinned -> device after the transport reports them.
//
// Sends and receives stage through separate pools: with one shared pool, both peers could fill
// it with sends waiting for receives that have no slot left.
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
    size_t half = params.staging_bytes / 2;
    TCPXP_RETURN_IF_ERROR(StagingPool::create(params.chunk_bytes, half, &send_pool_));
    TCPXP_RETURN_IF_ERROR(StagingPool::create(params.chunk_bytes, half, &recv_pool_));
    send_region_.reset(send_pool_->base(), send_pool_->bytes(), transport::MemKind::kHost);
    recv_region_.reset(recv_pool_->base(), recv_pool_->bytes(), transport::MemKind::kHost);
    ahead_.assign(params.channels, 0);
    LOG_INFO("staging: %zu + %zu bytes of pinned memory (%zu slots of %zu bytes each way)",
             send_pool_->bytes(), recv_pool_->bytes(), send_pool_->slots(), params.chunk_bytes);
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
        p.slot = recv_pool_->acquire();
      }
      *ready = p.slot >= 0;
      return Status::ok();
    }
    // A send is ready once its device->host copy started: only on its channel's turn in the
    // connection's copy order, with at most kCopyAhead pieces of a channel copied, not posted.
    if (ahead_[p.channel] >= kCopyAhead) return Status::ok();
    if (send_turns_.empty() || send_turns_.front() != p.channel) return Status::ok();
    if (p.slot < 0) p.slot = send_pool_->acquire();
    if (p.slot < 0) return Status::ok();
    CudaCallTimer timer(counters_);
    TCPXP_RETURN_IF_ERROR(send_stream_->copy(send_pool_->slot(p.slot), p.user, p.len));
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

  PostBuffer buffer(const Piece& p) const override {
    if (p.receiving) return {recv_pool_->slot(p.slot), &recv_region_};
    return {send_pool_->slot(p.slot), &send_region_};
  }

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

  Status startLanding(Piece& p) override {
    CudaCallTimer timer(counters_);
    TCPXP_RETURN_IF_ERROR(recv_stream_->copy(p.user, recv_pool_->slot(p.slot), p.len));
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
    if (p.slot >= 0) (p.receiving ? recv_pool_ : send_pool_)->release(p.slot);
    p.slot = -1;
  }

  void forgetComm(const transport::Net& net, void* comm) override {
    send_region_.forget(net, comm);
    recv_region_.forget(net, comm);
  }

  size_t stagingBytes() const override { return send_pool_->bytes() + recv_pool_->bytes(); }

 private:
  std::unique_ptr<StagingPool> send_pool_, recv_pool_;
  mutable transport::MemRegion send_region_, recv_region_;
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
