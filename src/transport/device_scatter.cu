// The UNPACK emulation's landing scatter (transport/device_memory.h): one kernel per received
// chunk instead of one cudaMemcpyAsync per 4 KiB fragment, which capped the emulation at
// ~1.2 GB/s on an H200 (issue 23).
#include <cuda_runtime.h>

#include "transport/device_memory.h"

namespace tcpxp::transport::device {
namespace {

constexpr int kThreads = 256;

// One block per piece (<= 4096 bytes): 16-byte words when source, destination and length allow,
// else 4-byte words, else bytes (the emulation jitters fragment lengths and in-page positions,
// so most pieces are unaligned). Device-to-device, so byte loads still coalesce.
__global__ void scatterKernel(char* dst_base, const char* src, const ScatterPiece* pieces) {
  const ScatterPiece p = pieces[blockIdx.x];
  const char* s = src + p.src_off;
  char* d = dst_base + p.dst_off;
  const auto both = reinterpret_cast<uintptr_t>(s) | reinterpret_cast<uintptr_t>(d);
  uint32_t done = 0;
  if ((both & 15) == 0) {
    const uint32_t n = p.len / 16;
    for (uint32_t i = threadIdx.x; i < n; i += kThreads) {
      reinterpret_cast<uint4*>(d)[i] = reinterpret_cast<const uint4*>(s)[i];
    }
    done = n * 16;
  } else if ((both & 3) == 0) {
    const uint32_t n = p.len / 4;
    for (uint32_t i = threadIdx.x; i < n; i += kThreads) {
      reinterpret_cast<uint32_t*>(d)[i] = reinterpret_cast<const uint32_t*>(s)[i];
    }
    done = n * 4;
  }
  for (uint32_t i = done + threadIdx.x; i < p.len; i += kThreads) d[i] = s[i];
}

}  // namespace

Status scatterToDeviceAsync(char* dst_base, const char* src, const ScatterPiece* pieces, int n) {
  if (n <= 0) return Status::ok();
  scatterKernel<<<n, kThreads, 0, cudaStreamPerThread>>>(dst_base, src, pieces);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return Status::ok();
  return Status(Code::kCudaError, std::string("scatter kernel launch: ") + cudaGetErrorString(err));
}

}  // namespace tcpxp::transport::device
