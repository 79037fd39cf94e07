// Inline: transfers of at most UCCL_TCPX_INLINE_BYTES travel inside one control frame (one round
// trip instead of request, clear-to-send, data, Done). The sender's buffer() is the bytes to put
// in the frame; the receiver copies the frame's bytes into buffer() and lands them. Host memory
// is used as it is; GPU memory goes through one pinned buffer, copies waited for on the spot
// (the frame is built or consumed right after): from pageable frame memory CUDA would first stage
// the bytes itself (no faster or slower for 8-byte writes, run 45), and one pinned buffer keeps
// one copy path for both directions.
#include "datapath/data_path.h"
#include "datapath/gpu_stream.h"

namespace tcpxp::datapath {
namespace {

class InlinePath final : public DataPath {
 public:
  InlinePath(int device, size_t capacity) : device_(device), capacity_(capacity) {}
  PathKind kind() const override { return PathKind::kInline; }

  Status prepare(Piece& p, bool* ready) override {
    *ready = true;
    if (!onGpu(p)) return Status::ok();
    TCPXP_RETURN_IF_ERROR(resources(p.len));
    if (p.receiving || p.len == 0) return Status::ok();
    CudaCallTimer timer(counters_);
    return stream_->copyAndWait(pinned_->data(), p.user, p.len);
  }

  PostBuffer buffer(const Piece& p) const override {
    if (!onGpu(p)) return {p.user, p.user_region};
    return {pinned_->data(), nullptr};
  }

  Status startLanding(Piece& p) override {
    if (!onGpu(p) || p.len == 0) return Status::ok();
    CudaCallTimer timer(counters_);
    return stream_->copyAndWait(p.user, pinned_->data(), p.len);
  }

 private:
  static bool onGpu(const Piece& p) { return p.on_gpu; }
  // The copies' stream and pinned buffer, made on the first GPU transfer.
  Status resources(size_t n) {
    if (!stream_) TCPXP_RETURN_IF_ERROR(GpuStream::create(device_, 1, &stream_));
    if (!pinned_) TCPXP_RETURN_IF_ERROR(PinnedBuffer::create(capacity_, &pinned_));
    if (n > pinned_->size()) {
      return Status(Code::kInvalidArgument, "inline copy larger than the inline limit");
    }
    return Status::ok();
  }

  int device_;
  size_t capacity_;  // largest inline transfer
  std::unique_ptr<PinnedBuffer> pinned_;
  std::unique_ptr<GpuStream> stream_;
};

}  // namespace

std::unique_ptr<DataPath> makeInlinePath(const PathParams& params) {
  return std::make_unique<InlinePath>(params.device, params.inline_bytes);
}

}  // namespace tcpxp::datapath
