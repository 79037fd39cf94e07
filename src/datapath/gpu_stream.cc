#include "datapath/gpu_stream.h"

#include <algorithm>

#include "common/clock.h"
#include "common/cpu_relax.h"
#include "common/log.h"

#ifdef TCPXP_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "datapath/gather_kernel.h"
#endif

namespace tcpxp::datapath {

#ifdef TCPXP_HAVE_CUDA
namespace {
Status cudaCheck(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  return Status(Code::kCudaError, std::string(what) + ": " + cudaGetErrorString(err));
}
}  // namespace

Status useDevice(int device) { return cudaCheck(cudaSetDevice(device), "cudaSetDevice"); }

Status GpuStream::create(int device, int events, std::unique_ptr<GpuStream>* out) {
  std::unique_ptr<GpuStream> s(new GpuStream());
  s->device_ = device;
  TCPXP_RETURN_IF_ERROR(useDevice(device));
  cudaStream_t stream = nullptr;
  TCPXP_RETURN_IF_ERROR(
      cudaCheck(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate"));
  s->stream_ = stream;
  s->events_.resize(static_cast<size_t>(events));
  s->seq_.assign(static_cast<size_t>(events), 0);
  for (int i = events - 1; i >= 0; --i) {
    cudaEvent_t ev = nullptr;
    TCPXP_RETURN_IF_ERROR(
        cudaCheck(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate"));
    s->events_[i] = ev;
    s->free_.push_back(i);
  }
  *out = std::move(s);
  return Status::ok();
}

GpuStream::~GpuStream() {
  if (stream_) cudaStreamSynchronize(static_cast<cudaStream_t>(stream_));
  for (void* ev : events_) {
    if (ev) cudaEventDestroy(static_cast<cudaEvent_t>(ev));
  }
  if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

Status GpuStream::copy(void* dst, const void* src, size_t bytes) {
  return cudaCheck(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream_)),
      "cudaMemcpyAsync");
}

Status GpuStream::copyAndWait(void* dst, const void* src, size_t bytes) {
  TCPXP_RETURN_IF_ERROR(copy(dst, src, bytes));
  int ev = record();
  if (ev < 0) {
    return cudaCheck(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)),
                     "cudaStreamSynchronize");
  }
  bool done = false;
  Status st;
  while (st.isOk() && !done) {
    st = queryNow(ev, &done);  // a small transfer waits on it: no gap between queries
    if (!done) cpuRelax();
  }
  release(ev);
  return st;
}

Status GpuStream::gather(const UnpackFragment* frags, const uint64_t* count, const char* bounce,
                         char* dst) {
  return cudaCheck(static_cast<cudaError_t>(launchGather(frags, count, bounce, dst, stream_)),
                   "gather kernel");
}

Status GpuStream::copyList(const CopyItem* items, int n) {
  return cudaCheck(static_cast<cudaError_t>(launchCopyList(items, n, stream_)), "copy-list kernel");
}

int GpuStream::record() {
  if (free_.empty()) return -1;
  int ev = free_.back();
  if (cudaEventRecord(static_cast<cudaEvent_t>(events_[ev]), static_cast<cudaStream_t>(stream_)) !=
      cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  free_.pop_back();
  seq_[ev] = ++recorded_;
  return ev;
}

Status GpuStream::query(int event, bool* done) {
  const uint64_t seq = seq_[event];
  if (seq <= done_upto_) {
    *done = true;
    return Status::ok();
  }
  const int64_t now = nowNs();
  if (seq >= miss_seq_ && miss_seq_ != 0 && now - miss_ns_ < kQueryGapNs) {
    *done = false;
    return Status::ok();
  }
  TCPXP_RETURN_IF_ERROR(queryNow(event, done));
  if (!*done) {
    miss_seq_ = seq;
    miss_ns_ = now;
  }
  return Status::ok();
}

Status GpuStream::queryNow(int event, bool* done) {
  cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(events_[event]));
  if (err == cudaErrorNotReady) {
    *done = false;
    return Status::ok();
  }
  *done = true;
  if (err == cudaSuccess) done_upto_ = std::max(done_upto_, seq_[event]);
  return cudaCheck(err, "GPU copy or gather");
}

void GpuStream::release(int event) { free_.push_back(event); }

Status PinnedBuffer::create(size_t bytes, std::unique_ptr<PinnedBuffer>* out) {
  std::unique_ptr<PinnedBuffer> b(new PinnedBuffer());
  void* data = nullptr;
  TCPXP_RETURN_IF_ERROR(cudaCheck(
      cudaHostAlloc(&data, bytes, cudaHostAllocPortable | cudaHostAllocMapped), "cudaHostAlloc"));
  b->data_ = static_cast<char*>(data);
  b->size_ = bytes;
  *out = std::move(b);
  return Status::ok();
}

PinnedBuffer::~PinnedBuffer() {
  if (data_) cudaFreeHost(data_);
}

Status StagingPool::create(size_t slot_bytes, size_t total_bytes, size_t reserve,
                           std::unique_ptr<StagingPool>* out) {
  std::unique_ptr<StagingPool> p(new StagingPool());
  p->slot_bytes_ = slot_bytes;
  p->slots_ = std::max<size_t>(2, total_bytes / slot_bytes);
  TCPXP_RETURN_IF_ERROR(PinnedBuffer::create(p->slots_ * slot_bytes, &p->memory_));
  p->free_.reset(p->slots_, std::max<size_t>(1, reserve));
  *out = std::move(p);
  return Status::ok();
}

#else
namespace {
Status noCuda() { return Status(Code::kNotSupported, "GPU data path: built without CUDA"); }
}  // namespace
Status useDevice(int) { return noCuda(); }
Status GpuStream::create(int, int, std::unique_ptr<GpuStream>*) { return noCuda(); }
GpuStream::~GpuStream() = default;
Status GpuStream::copy(void*, const void*, size_t) { return noCuda(); }
Status GpuStream::copyAndWait(void*, const void*, size_t) { return noCuda(); }
Status GpuStream::gather(const UnpackFragment*, const uint64_t*, const char*, char*) {
  return noCuda();
}
Status GpuStream::copyList(const CopyItem*, int) { return noCuda(); }
int GpuStream::record() { return -1; }
Status GpuStream::query(int, bool* done) {
  *done = true;
  return noCuda();
}
void GpuStream::release(int) {}
Status PinnedBuffer::create(size_t, std::unique_ptr<PinnedBuffer>*) { return noCuda(); }
PinnedBuffer::~PinnedBuffer() = default;
Status StagingPool::create(size_t, size_t, size_t, std::unique_ptr<StagingPool>*) {
  return noCuda();
}
#endif

}  // namespace tcpxp::datapath
