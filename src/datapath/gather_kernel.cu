#include <cuda_runtime.h>

#include "datapath/gather_kernel.h"

namespace tcpxp::datapath {
namespace {

constexpr int kWarpsPerBlock = 8;

// One warp per fragment (<= 4096 bytes): 16-byte vectors when source and destination are both
// 16-byte aligned, else 8/4-byte words when possible, else bytes. Any alignment is correct.
__device__ void copyFragment(const char* src, char* dst, uint32_t len, int lane) {
  auto both = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst);
  uint32_t done = 0;
  if ((both & 15) == 0) {
    uint32_t n = len / 16;
    for (uint32_t i = lane; i < n; i += 32) {
      reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(src)[i];
    }
    done = n * 16;
  } else if ((both & 7) == 0) {
    uint32_t n = len / 8;
    for (uint32_t i = lane; i < n; i += 32) {
      reinterpret_cast<uint2*>(dst)[i] = reinterpret_cast<const uint2*>(src)[i];
    }
    done = n * 8;
  } else if ((both & 3) == 0) {
    uint32_t n = len / 4;
    for (uint32_t i = lane; i < n; i += 32) {
      reinterpret_cast<uint32_t*>(dst)[i] = reinterpret_cast<const uint32_t*>(src)[i];
    }
    done = n * 4;
  }
  for (uint32_t i = done + lane; i < len; i += 32) dst[i] = src[i];
}

__global__ void gatherKernel(const UnpackFragment* frags, const uint64_t* count, const char* bounce,
                             char* dst) {
  const uint64_t n = *count;
  const int lane = threadIdx.x & 31;
  const uint64_t warp = blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
  const uint64_t stride = uint64_t{gridDim.x} * kWarpsPerBlock;
  for (uint64_t i = warp; i < n; i += stride) {
    UnpackFragment f = frags[i];
    copyFragment(bounce + f.src_off, dst + f.dst_off, f.len, lane);
  }
}

__global__ void gatherBatchKernel(const UnpackFragment* frags, const uint64_t* counts,
                                  const char* bounce, char* const* dsts) {
  // blockIdx.y selects the list.
  const int list = blockIdx.y;
  const uint64_t n = counts[list];
  const UnpackFragment* lf = frags + size_t{static_cast<size_t>(list)} * kUnpackMaxFragments;
  const int lane = threadIdx.x & 31;
  const uint64_t warp = blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
  const uint64_t stride = uint64_t{gridDim.x} * kWarpsPerBlock;
  for (uint64_t i = warp; i < n; i += stride) {
    UnpackFragment f = lf[i];
    copyFragment(bounce + f.src_off, dsts[list] + f.dst_off, f.len, lane);
  }
}

constexpr int kCopyThreads = 256;

// One block per item. The body moves in 16-byte (else 4-byte) words when source and
// destination share that alignment; the head up to it and the tail go byte by byte.
__global__ void copyListKernel(const CopyItem* items) {
  const CopyItem it = items[blockIdx.x];
  const char* src = it.src;
  char* dst = it.dst;
  uint64_t len = it.len;
  const auto s = reinterpret_cast<uintptr_t>(src), d = reinterpret_cast<uintptr_t>(dst);
  uint64_t word = ((s ^ d) & 15) == 0 ? 16 : ((s ^ d) & 3) == 0 ? 4 : 1;
  uint64_t head = word == 1 ? 0 : (word - (s & (word - 1))) & (word - 1);
  if (head > len) head = len;
  for (uint64_t i = threadIdx.x; i < head; i += kCopyThreads) dst[i] = src[i];
  src += head;
  dst += head;
  len -= head;
  uint64_t body = 0;
  if (word == 16) {
    body = len / 16;
    for (uint64_t i = threadIdx.x; i < body; i += kCopyThreads) {
      reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(src)[i];
    }
    body *= 16;
  } else if (word == 4) {
    body = len / 4;
    for (uint64_t i = threadIdx.x; i < body; i += kCopyThreads) {
      reinterpret_cast<uint32_t*>(dst)[i] = reinterpret_cast<const uint32_t*>(src)[i];
    }
    body *= 4;
  }
  for (uint64_t i = body + threadIdx.x; i < len; i += kCopyThreads) dst[i] = src[i];
}

}  // namespace

int launchCopyList(const CopyItem* items, int n, void* stream) {
  if (n <= 0) return 0;
  copyListKernel<<<n, kCopyThreads, 0, static_cast<cudaStream_t>(stream)>>>(items);
  return static_cast<int>(cudaGetLastError());
}

int launchGather(const UnpackFragment* frags, const uint64_t* count, const char* bounce, char* dst,
                 void* stream) {
  // 16 blocks x 8 warps covers a 512 KiB request (128 fragments) in one pass and a 4 MiB one
  // (up to 2048) in 16; more blocks only add launch cost.
  gatherKernel<<<16, kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(stream)>>>(frags, count,
                                                                                  bounce, dst);
  return static_cast<int>(cudaGetLastError());
}

int launchGatherBatch(const UnpackFragment* frags, const uint64_t* counts, const char* bounce,
                      char* const* dsts, int n, void* stream) {
  dim3 grid(16, static_cast<unsigned>(n));
  gatherBatchKernel<<<grid, kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(stream)>>>(
      frags, counts, bounce, dsts);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace tcpxp::datapath
