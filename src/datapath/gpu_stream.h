// A CUDA stream with a pool of events created once, for the driver thread's copies and gathers.
// Nothing here allocates or creates CUDA objects after create(). In a build without CUDA,
// create() returns kNotSupported.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "datapath/gather_kernel.h"

namespace tcpxp::datapath {

class GpuStream {
 public:
  // `events`: how many copies or gathers may be awaited at once.
  static Status create(int device, int events, std::unique_ptr<GpuStream>* out);
  ~GpuStream();
  GpuStream(const GpuStream&) = delete;
  GpuStream& operator=(const GpuStream&) = delete;

  Status copy(void* dst, const void* src, size_t bytes);
  // copy(), then spins on an event until everything on this stream finished (small inline
  // transfers). Spinning, not cudaStreamSynchronize: that sleeps when the application chose
  // blocking sync for its context, adding a thread wakeup to every small transfer.
  Status copyAndWait(void* dst, const void* src, size_t bytes);
  Status gather(const UnpackFragment* frags, const uint64_t* count, const char* bounce, char* dst);
  // The copies of a copy list in one kernel (launchCopyList: `items` stays valid until done).
  Status copyList(const CopyItem* items, int n);
  // An event after everything enqueued so far, or -1 when all events are in use.
  int record();
  // *done once the work before `event` finished; an error means the GPU work failed.
  // Events complete in the order they were recorded, so one that follows an event found done
  // needs no CUDA call, and one at or after an event found not done within the last
  // kQueryGapNs is not done yet either: the driver polls every turn, and each cudaEventQuery
  // costs ~0.7 us (71 of them per 512 KiB UNPACK request, issue 23).
  Status query(int event, bool* done);
  void release(int event);
  static constexpr int64_t kQueryGapNs = 4000;

 private:
  GpuStream() = default;
  Status queryNow(int event, bool* done);
  int device_ = -1;
  void* stream_ = nullptr;
  std::vector<void*> events_;
  std::vector<uint64_t> seq_;  // per event: its place in recording order (from 1)
  std::vector<int> free_;
  uint64_t recorded_ = 0;   // events recorded so far
  uint64_t done_upto_ = 0;  // every event up to this one has completed
  uint64_t miss_seq_ = 0;   // the last event a CUDA query found not done...
  int64_t miss_ns_ = 0;     // ...and when
};

// Pinned (page-locked) host memory. Copies between it and the GPU go straight to the copy
// engine; from pageable memory CUDA first copies through its own pinned buffer.
class PinnedBuffer {
 public:
  static Status create(size_t bytes, std::unique_ptr<PinnedBuffer>* out);
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  PinnedBuffer() = default;
  char* data_ = nullptr;
  size_t size_ = 0;
};

// Equal slots handed out oldest first: a FIFO of free slot indices (staging pools, the vector
// path's slots).
class SlotRing {
 public:
  void reset(size_t slots) {
    free_.resize(slots);
    for (size_t i = 0; i < slots; ++i) free_[i] = static_cast<int>(i);
    head_ = 0;
    count_ = slots;
  }
  int acquire() {
    if (count_ == 0) return -1;
    int s = free_[head_];
    head_ = (head_ + 1) % free_.size();
    --count_;
    return s;
  }
  void release(int slot) {
    free_[(head_ + count_) % free_.size()] = slot;
    ++count_;
  }
  size_t available() const { return count_; }

 private:
  std::vector<int> free_;
  size_t head_ = 0, count_ = 0;
};

// The slots of one pool shared by sends and receives. Either direction may take any free slot
// while the other can still get `reserve` slots: a one-way stream (KV cache flows prefill ->
// decode) can use nearly the whole pool, where a fixed half each way kept half of the pinned
// memory idle. (It moved no faster on the 1 x H100 machine: the socket path was the limit
// there, BENCHMARKS.md section 27.) The reserve keeps what separate pools gave: sends cannot
// hold every slot while the receives that would let the peer's sends finish wait for one, on
// either peer.
class TwoWaySlots {
 public:
  enum Direction { kSend = 0, kRecv = 1 };
  // `reserve` is capped at half the slots.
  void reset(size_t slots, size_t reserve) {
    ring_.reset(slots);
    reserve_ = reserve < slots / 2 ? reserve : slots / 2;
    held_[0] = held_[1] = 0;
  }
  int acquire(Direction d) {
    size_t other = held_[1 - d];
    size_t owed = other < reserve_ ? reserve_ - other : 0;
    if (ring_.available() <= owed) return -1;
    ++held_[d];
    return ring_.acquire();
  }
  void release(Direction d, int slot) {
    ring_.release(slot);
    --held_[d];
  }
  size_t held(Direction d) const { return held_[d]; }
  size_t reserve() const { return reserve_; }

 private:
  SlotRing ring_;
  size_t reserve_ = 0;
  size_t held_[2] = {0, 0};
};

// Pinned host memory cut into equal slots (staging of GPU data over a host-only transport).
// Free slots are handed out oldest first (FIFO), not most recently freed first: a slot the CPU
// just read or wrote (socket send or receive) still has its lines in the CPU caches, and DMA
// into or out of it right away was measured slower (64 MiB GPU writes 17.2 -> 22.1 GB/s, run 38).
// Sends and receives share the slots (TwoWaySlots); the pool has at least two.
class StagingPool {
 public:
  using Direction = TwoWaySlots::Direction;
  static Status create(size_t slot_bytes, size_t total_bytes, size_t reserve,
                       std::unique_ptr<StagingPool>* out);
  int acquire(Direction d) { return free_.acquire(d); }  // -1 when none may be taken
  void release(Direction d, int slot) { free_.release(d, slot); }
  size_t reserve() const { return free_.reserve(); }
  char* slot(int i) const { return base() + static_cast<size_t>(i) * slot_bytes_; }
  char* base() const { return memory_->data(); }
  size_t bytes() const { return slot_bytes_ * slots_; }
  size_t slots() const { return slots_; }

 private:
  StagingPool() = default;
  std::unique_ptr<PinnedBuffer> memory_;
  size_t slot_bytes_ = 0;
  size_t slots_ = 0;
  TwoWaySlots free_;
};

// Makes `device` current on the calling thread (the driver thread of a GPU endpoint).
Status useDevice(int device);

}  // namespace tcpxp::datapath
