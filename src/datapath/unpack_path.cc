// Unpack: TCPX's GPU receive (docs/TCPX.md). The bytes of a receive land in 4 KiB bounce pages
// and the transport writes a scatter list (slot k % 16 of the comm's metadata); a gather copies
// the fragments into the user's buffer: a GPU kernel on this path's stream, or the CPU when the
// bounce buffer is host memory (the built-in emulation without a GPU). The channel consumes the
// request only after landed() says the gather completed: consuming earlier hands the pages back
// to the NIC while the gather still reads them.
#include "datapath/cpu_gather.h"
#include "datapath/data_path.h"
#include "datapath/gpu_stream.h"

namespace tcpxp::datapath {
namespace {

class UnpackPath final : public DataPath {
 public:
  Status init(const PathParams& params) {
    // No stream without a GPU: the emulation's host bounce buffer is gathered on the CPU.
    if (params.device < 0) return Status::ok();
    return GpuStream::create(params.device, static_cast<int>(params.events), &stream_);
  }
  PathKind kind() const override { return PathKind::kUnpack; }

  Status prepare(Piece& p, bool* ready) override {
    (void)p;
    *ready = true;
    return Status::ok();
  }
  PostBuffer buffer(const Piece& p) const override { return {p.user, p.user_region}; }

  Status startLanding(Piece& p) override {
    const UnpackFragment* frags = slotFragments(p.bounce->meta, p.unpack_slot);
    const uint64_t* count = slotCount(p.bounce->meta, p.unpack_slot);
    const char* bounce = static_cast<const char*>(p.bounce->bounce);
    if (!p.bounce->on_device) {
      if (!cpuGather(frags, *count, bounce, p.user, p.len)) {
        return Status(Code::kProtocolError, "UNPACK scatter list out of range");
      }
      return Status::ok();
    }
    if (!stream_) return Status(Code::kNotSupported, "GPU gather without a GPU (device -1)");
    CudaCallTimer timer(counters_);
    TCPXP_RETURN_IF_ERROR(stream_->gather(frags, count, bounce, p.user));
    p.event = stream_->record();
    if (p.event < 0) return Status(Code::kResourceExhausted, "no free CUDA event on a recv stream");
    return Status::ok();
  }

  Status landed(Piece& p, bool* done) override {
    *done = true;
    if (p.event < 0) return Status::ok();
    CudaCallTimer timer(counters_, CudaCallTimer::kPoll);
    TCPXP_RETURN_IF_ERROR(stream_->query(p.event, done));
    if (*done) {
      stream_->release(p.event);
      p.event = -1;
    }
    return Status::ok();
  }

 private:
  std::unique_ptr<GpuStream> stream_;  // gathers, in the order the receives completed
};

}  // namespace

Status makeUnpackPath(const PathParams& params, std::unique_ptr<DataPath>* out) {
  auto path = std::make_unique<UnpackPath>();
  TCPXP_RETURN_IF_ERROR(path->init(params));
  *out = std::move(path);
  return Status::ok();
}

}  // namespace tcpxp::datapath
