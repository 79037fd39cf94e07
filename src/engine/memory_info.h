// Where a pointer lives (host or which GPU) and a GPU's PCI address; CUDA-less builds report
// host memory and no GPUs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "transport/net.h"

namespace tcpxp::engine {

struct MemoryInfo {
  transport::MemKind kind = transport::MemKind::kHost;
  int device = -1;
};

MemoryInfo classifyMemory(const void* ptr);
// "0000:4a:00.0" for GPU `gpu_index`, "" for -1 or when there is no such GPU.
std::string gpuBdf(int gpu_index);
int gpuCount();
// The calling thread's current CUDA device (cudaGetDevice); -1 when there is no GPU.
int currentGpu();
// Whether every page of [ptr, ptr + size) is mapped in this process (host memory).
bool hostRangeMapped(const void* ptr, size_t size);
// The allocation (cuMemGetAddressRange) holding device pointer `ptr`; false if unknown.
bool allocationRange(const void* ptr, uintptr_t* base, size_t* size);

}  // namespace tcpxp::engine
