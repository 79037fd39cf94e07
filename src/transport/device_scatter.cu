// The UNPACK emulation's landing scatter (transport/device_memory.h): one kernel per received
// chunk instead of one cudaMemcpyAsync per 4 KiB fragment, which capped the emulation at
// ~1.2 GB/s on an H200 (issue 23).
#include <cuda_runtime.h>

#include "common/device_copy.cuh"
#include "transport/device_memory.h"

namespace tcpxp::transport::device {
namespace {

constexpr int kThreads = 256;

// One block per piece (<= 4096 bytes). The emulation jitters fragment lengths and in-page
// positions, so most pieces are unaligned: common/device_copy.cuh copies them in whole words.
__global__ void scatterKernel(char* dst_base, const char* src, const ScatterPiece* pieces) {
  const ScatterPiece p = pieces[blockIdx.x];
  device_copy::copyBytes(dst_base + p.dst_off, src + p.src_off, p.len, threadIdx.x, kThreads);
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
