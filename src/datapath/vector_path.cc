// Vector: the pieces of a WriteVec/ReadVec move as one stream of their total, cut into chunks
// like any transfer. The transport thus sees chunk-sized requests whatever the piece size: posted
// one by one, 4096 pieces of 8 KiB cost 4096 requests (and as inline frames 4096 control
// frames), the reason readv ran at 0.30 of one read of the same total (issue 23).
//
// Host memory over a transport with vectored requests (the built-in socket transport): a chunk
// is one request over its pieces' stretches, which the transport writes and reads straight from
// and into them (sendmsg/readv): no copy, no slot. Staging them cost two memcpys of every byte
// on the driver thread, as much CPU as the transfer itself on loopback (0.39-0.82 of contiguous,
// BENCHMARKS.md section 20). Otherwise (TCPX, GPU memory, a chunk of over 1024 stretches), a
// send gathers its chunk's share of the pieces into a staging slot before the isend; a receive
// lands in a slot and is scattered into the pieces before it is consumed.
//
// Host memory is copied with memcpy on the driver thread (a 512 KiB chunk takes ~50 us, less
// than the transport takes to move it). GPU memory is copied by one kernel per chunk (a copy
// list, datapath/gather_kernel.h) between the pieces and the pinned slot, on a stream per
// direction, awaited with an event like the staged path's copies: one cudaMemcpyAsync per
// piece cost ~2-5 us of driver time each. A chunk of more than kItemsPerSlot stretches (pieces
// of a few bytes) falls back to one cudaMemcpyAsync per stretch.
//
// Slots are taken in the order pieces were queued over all channels, in both directions, for
// the reason staged_path.cc gives (otherwise a deadlock once the pool is smaller than all the
// windows), from one pool shared by both directions as there (TwoWaySlots: each keeps 2 slots
// per channel); a channel holds at most kCopyAhead gathered sends it has not posted. Vectored
// pieces hold nothing and take no turn. The slots are allocated on the first staged piece.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "common/ring.h"
#include "datapath/data_path.h"
#include "datapath/gpu_stream.h"

namespace tcpxp::datapath {
namespace {

// Calls fn(span_ptr, piece_offset, bytes) for each stretch of the piece's spans, in order.
template <typename Fn>
void forEachStretch(const Piece& p, Fn&& fn) {
  size_t left = p.len, done = 0, skip = p.span_skip;
  for (uint32_t i = p.span_first; left > 0; ++i, skip = 0) {
    size_t take = std::min<size_t>(p.spans[i].len - skip, left);
    fn(p.spans[i].ptr + skip, done, take);
    done += take;
    left -= take;
  }
}

class VectorPath final : public DataPath {
 public:
  PathKind kind() const override { return PathKind::kVector; }

  Status init(const PathParams& params) {
    device_ = params.device;
    events_ = static_cast<int>(params.events);
    slot_bytes_ = params.chunk_bytes;
    vectored_requests_ = params.vectored_requests;
    // The staging budget (UCCL_TCPX_STAGING_BYTES) for both directions, at least two slots
    // per channel each way: taken in queue order, any number of slots moves every piece.
    reserve_ = 2 * params.channels;
    slots_ = std::max(params.staging_bytes / slot_bytes_, 2 * reserve_);
    ahead_.assign(params.channels, 0);
    return Status::ok();
  }

  // Whether the piece goes to the transport as one vectored request.
  bool vectored(const Piece& p) const {
    return vectored_requests_ && p.user_region->kind() == transport::MemKind::kHost &&
           p.span_count <= transport::Net::kMaxStretches;
  }

  // The staging slots, made on the first staged piece (a host connection whose vectors all go
  // as vectored requests holds none).
  Status allocateSlots() {
    if (base_ != nullptr) return Status::ok();
    size_t bytes = slots_ * slot_bytes_;
    // Pinned memory for a GPU endpoint (copies go straight to the copy engine); plain pages for
    // a host endpoint, which must not create a CUDA context.
    if (device_ >= 0 && PinnedBuffer::create(bytes, &pinned_).isOk()) {
      base_ = pinned_->data();
    } else {
      plain_ = static_cast<char*>(std::aligned_alloc(4096, bytes));
      if (plain_ == nullptr) {
        return Status(Code::kResourceExhausted,
                      "vector staging: cannot allocate " + std::to_string(bytes) + " bytes");
      }
      base_ = plain_;
    }
    // Each slot's copy list (GPU endpoints): written before its kernel, reused once the slot
    // is free again, so no list changes under a running kernel.
    if (pinned_ != nullptr &&
        !PinnedBuffer::create(slots_ * kItemsPerSlot * sizeof(CopyItem), &items_).isOk()) {
      items_.reset();
    }
    free_.reset(slots_, reserve_);
    region_.reset(base_, slots_ * slot_bytes_, transport::MemKind::kHost);
    LOG_INFO("vector staging: %zu slots of %zu bytes for both directions, %zu kept for each",
             slots_, slot_bytes_, free_.reserve());
    return Status::ok();
  }

  ~VectorPath() override {
    // Streams before the memory: their destructors wait for copies still using the slots.
    send_stream_.reset();
    recv_stream_.reset();
    std::free(plain_);
  }

  void queued(const Piece& p) override {
    if (!vectored(p)) (p.receiving ? recv_turns_ : send_turns_).push(p.channel);
  }

  Status prepare(Piece& p, bool* ready) override {
    *ready = vectored(p);
    if (*ready) return Status::ok();
    TCPXP_RETURN_IF_ERROR(allocateSlots());
    if (p.receiving) {
      if (p.slot < 0) {
        if (recv_turns_.empty() || recv_turns_.front() != p.channel) return Status::ok();
        p.slot = free_.acquire(TwoWaySlots::kRecv);
      }
      *ready = p.slot >= 0;
      return Status::ok();
    }
    if (ahead_[p.channel] >= kCopyAhead) return Status::ok();
    if (send_turns_.empty() || send_turns_.front() != p.channel) return Status::ok();
    if (p.slot < 0) p.slot = free_.acquire(TwoWaySlots::kSend);
    if (p.slot < 0) return Status::ok();
    char* slot = slotAt(p.slot);
    if (p.on_gpu) {
      TCPXP_RETURN_IF_ERROR(gpuStream(&send_stream_));
      CudaCallTimer timer(counters_);
      CopyItem* list = itemsOf(p.slot);
      int n = list ? fillItems(p, list, slot, /*to_slot=*/true) : -1;
      if (n >= 0) {
        TCPXP_RETURN_IF_ERROR(send_stream_->copyList(list, n));
      } else {
        Status st = Status::ok();
        forEachStretch(p, [&](const char* src, size_t at, size_t len) {
          if (st.isOk()) st = send_stream_->copy(slot + at, src, len);
        });
        TCPXP_RETURN_IF_ERROR(st);
      }
      p.event = send_stream_->record();
      if (p.event < 0) return Status::ok();  // retried next round; the copies are enqueued again
    } else {
      forEachStretch(p,
                     [&](const char* src, size_t at, size_t n) { std::memcpy(slot + at, src, n); });
    }
    send_turns_.pop();
    ++ahead_[p.channel];
    p.copy_ns = nowNs();
    *ready = true;
    return Status::ok();
  }

  Status copied(Piece& p, bool* done) override {
    if (p.event < 0) {
      *done = true;
      return Status::ok();
    }
    CudaCallTimer timer(counters_, CudaCallTimer::kPoll);
    return send_stream_->query(p.event, done);
  }

  PostBuffer buffer(const Piece& p) const override {
    if (vectored(p)) return {nullptr, nullptr, true};
    return {slotAt(p.slot), &region_};
  }

  Status skip(Piece& p, bool* done) override {
    *done = vectored(p) || (!recv_turns_.empty() && recv_turns_.front() == p.channel);
    if (*done && !vectored(p)) recv_turns_.pop();
    return Status::ok();
  }

  void posted(Piece& p) override {
    if (vectored(p)) return;
    if (p.receiving) {
      recv_turns_.pop();
      return;
    }
    if (p.event >= 0) send_stream_->release(p.event);
    p.event = -1;
    --ahead_[p.channel];
    counters_.stage_ns += static_cast<uint64_t>(nowNs() - p.copy_ns);
    ++counters_.staged_sends;
  }

  Status startLanding(Piece& p) override {
    if (vectored(p)) return Status::ok();  // the transport read into the pieces
    const char* slot = slotAt(p.slot);
    if (!p.on_gpu) {
      forEachStretch(p, [&](char* dst, size_t at, size_t n) { std::memcpy(dst, slot + at, n); });
      return Status::ok();
    }
    TCPXP_RETURN_IF_ERROR(gpuStream(&recv_stream_));
    CudaCallTimer timer(counters_);
    CopyItem* list = itemsOf(p.slot);
    int n = list ? fillItems(p, list, const_cast<char*>(slot), /*to_slot=*/false) : -1;
    if (n >= 0) {
      TCPXP_RETURN_IF_ERROR(recv_stream_->copyList(list, n));
    } else {
      Status st = Status::ok();
      forEachStretch(p, [&](char* dst, size_t at, size_t len) {
        if (st.isOk()) st = recv_stream_->copy(dst, slot + at, len);
      });
      TCPXP_RETURN_IF_ERROR(st);
    }
    p.event = recv_stream_->record();
    if (p.event < 0) return Status(Code::kResourceExhausted, "no free CUDA event on a recv stream");
    return Status::ok();
  }

  Status landed(Piece& p, bool* done) override {
    if (p.event < 0) {
      *done = true;
      return Status::ok();
    }
    CudaCallTimer timer(counters_, CudaCallTimer::kPoll);
    TCPXP_RETURN_IF_ERROR(recv_stream_->query(p.event, done));
    if (*done) {
      recv_stream_->release(p.event);
      p.event = -1;
    }
    return Status::ok();
  }

  void release(Piece& p) override {
    if (p.slot >= 0) free_.release(p.receiving ? TwoWaySlots::kRecv : TwoWaySlots::kSend, p.slot);
    p.slot = -1;
  }

  void forgetComm(const transport::Net& net, void* comm) override { region_.forget(net, comm); }

  size_t stagingBytes() const override { return base_ ? slots_ * slot_bytes_ : 0; }

 private:
  char* slotAt(int i) const { return base_ + static_cast<size_t>(i) * slot_bytes_; }
  static constexpr int kItemsPerSlot = 1024;
  CopyItem* itemsOf(int slot) const {
    if (!items_) return nullptr;
    return reinterpret_cast<CopyItem*>(items_->data()) + static_cast<size_t>(slot) * kItemsPerSlot;
  }
  // The copy list between the piece's stretches and its slot, stretches cut at
  // kCopyItemMaxBytes; -1 when it needs more than kItemsPerSlot items.
  static int fillItems(const Piece& p, CopyItem* list, char* slot, bool to_slot) {
    int n = 0;
    bool fits = true;
    forEachStretch(p, [&](const char* span, size_t at, size_t len) {
      for (size_t off = 0; fits && off < len; off += kCopyItemMaxBytes) {
        if (n == kItemsPerSlot) {
          fits = false;
          return;
        }
        uint64_t take = std::min<uint64_t>(kCopyItemMaxBytes, len - off);
        char* piece = const_cast<char*>(span) + off;
        list[n++] = to_slot ? CopyItem{piece, slot + at + off, take}
                            : CopyItem{slot + at + off, piece, take};
      }
    });
    return fits ? n : -1;
  }
  // The copy stream of one direction, made on the first GPU piece.
  Status gpuStream(std::unique_ptr<GpuStream>* stream) {
    if (*stream) return Status::ok();
    return GpuStream::create(device_, events_, stream);
  }

  int device_ = -1;
  int events_ = 0;
  bool vectored_requests_ = false;
  size_t slot_bytes_ = 0, slots_ = 0, reserve_ = 0;
  std::unique_ptr<PinnedBuffer> pinned_;
  std::unique_ptr<PinnedBuffer> items_;  // kItemsPerSlot copy items per slot
  char* plain_ = nullptr;
  char* base_ = nullptr;
  TwoWaySlots free_;  // shared by sends and receives
  mutable transport::MemRegion region_;
  std::unique_ptr<GpuStream> send_stream_, recv_stream_;
  Ring<uint32_t> send_turns_, recv_turns_;  // channels of the queued pieces, in queue order
  std::vector<size_t> ahead_;               // per channel: sends gathered, not yet posted
};

}  // namespace

Status pieceStretches(const Piece& p, const transport::Net& net, void* comm,
                      std::vector<transport::NetStretch>* out) {
  out->clear();
  // Consecutive spans share a registration (usually all do): look its handle up once.
  transport::MemRegion* region = nullptr;
  void* mh = nullptr;
  Status st = Status::ok();
  forEachStretch(p, [&](const char* ptr, size_t, size_t len) {
    const IoSpan& span = p.spans[p.span_first + out->size()];
    if (st.isOk() && span.region != region) {
      region = span.region;
      st = region ? region->mhandle(net, comm, &mh)
                  : Status(Code::kInternal, "a vector's span has no registration");
    }
    out->push_back({const_cast<char*>(ptr), len, mh});
  });
  return st;
}

Status makeVectorPath(const PathParams& params, std::unique_ptr<DataPath>* out) {
  auto path = std::make_unique<VectorPath>();
  TCPXP_RETURN_IF_ERROR(path->init(params));
  *out = std::move(path);
  return Status::ok();
}

}  // namespace tcpxp::datapath
