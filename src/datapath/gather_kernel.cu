#include <cuda_runtime.h>

#include "common/device_copy.cuh"
#include "datapath/gather_kernel.h"

namespace tcpxp::datapath {
namespace {

constexpr int kWarpsPerBlock = 8;
// Blocks per scatter list: 32 x 8 warps take a 512 KiB request's ~170 jittered fragments in
// one pass. One launch per 512 KiB list moved 59.8 GB/s on an H100 against 40.2 with 16 blocks
// (jittered fragments in GPU memory; 16.1 against 12.7 from pinned host memory); with whole
// 4 KiB pages 16 and 32 did the same (BENCHMARKS.md section 29).
constexpr int kGatherBlocks = 32;

// One warp per fragment (<= 4096 bytes), at any alignment (common/device_copy.cuh).
__device__ void copyFragment(const char* src, char* dst, uint32_t len, int lane) {
  device_copy::copyBytes(dst, src, len, static_cast<uint32_t>(lane), 32);
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

// One block per item, at any alignment (common/device_copy.cuh).
__global__ void copyListKernel(const CopyItem* items) {
  const CopyItem it = items[blockIdx.x];
  device_copy::copyBytes(it.dst, it.src, it.len, threadIdx.x, kCopyThreads);
}

}  // namespace

int launchCopyList(const CopyItem* items, int n, void* stream) {
  if (n <= 0) return 0;
  copyListKernel<<<n, kCopyThreads, 0, static_cast<cudaStream_t>(stream)>>>(items);
  return static_cast<int>(cudaGetLastError());
}

int launchGather(const UnpackFragment* frags, const uint64_t* count, const char* bounce, char* dst,
                 void* stream) {
  gatherKernel<<<kGatherBlocks, kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(stream)>>>(
      frags, count, bounce, dst);
  return static_cast<int>(cudaGetLastError());
}

int launchGatherBatch(const UnpackFragment* frags, const uint64_t* counts, const char* bounce,
                      char* const* dsts, int n, void* stream) {
  dim3 grid(kGatherBlocks, static_cast<unsigned>(n));
  gatherBatchKernel<<<grid, kWarpsPerBlock * 32, 0, static_cast<cudaStream_t>(stream)>>>(
      frags, counts, bounce, dsts);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace tcpxp::datapath
