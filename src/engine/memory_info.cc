#include "engine/memory_info.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "transport/device_memory.h"

#ifdef TCPXP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tcpxp::engine {

bool allocationRange(const void* ptr, uintptr_t* base, size_t* size) {
  return transport::device::allocationRange(ptr, base, size);
}

#ifdef TCPXP_HAVE_CUDA
int gpuCount() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
}

MemoryInfo classifyMemory(const void* ptr) {
  MemoryInfo info;
  if (gpuCount() == 0) return info;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();
    return info;
  }
  if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) {
    info.kind = transport::MemKind::kCuda;
    info.device = attr.device;
  }
  return info;
}

int currentGpu() {
  if (gpuCount() == 0) return -1;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return dev;
}

std::string gpuBdf(int gpu_index) {
  if (gpu_index < 0 || gpu_index >= gpuCount()) return "";
  char bdf[32] = {};
  if (cudaDeviceGetPCIBusId(bdf, sizeof(bdf), gpu_index) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  std::string out(bdf);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
#else
int gpuCount() { return 0; }
int currentGpu() { return -1; }
MemoryInfo classifyMemory(const void*) { return {}; }
std::string gpuBdf(int) { return ""; }
#endif

// msync() walks the process's mappings and fails with ENOMEM where a page of the range is not
// mapped; MS_ASYNC makes it do nothing else.
bool hostRangeMapped(const void* ptr, size_t size) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(ptr) & ~(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + size;
  if (::msync(reinterpret_cast<void*>(begin), end - begin, MS_ASYNC) == 0) return true;
  return errno != ENOMEM;
}

}  // namespace tcpxp::engine
