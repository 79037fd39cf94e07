#include "transport/device_memory.h"

#include "common/log.h"

#ifdef TCPXP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tcpxp::transport::device {

#ifdef TCPXP_HAVE_CUDA
namespace {
Status cudaStatus(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  return Status(Code::kCudaError, std::string(what) + ": " + cudaGetErrorString(err));
}
}  // namespace

bool gpuUsable() {
  static const bool usable = [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      LOG_DEBUG("no usable GPU: %s", cudaGetErrorString(err));
      cudaGetLastError();
      return false;
    }
    return count > 0;
  }();
  return usable;
}
Status allocDevice(size_t bytes, void** out) {
  return cudaStatus(cudaMalloc(out, bytes), "cudaMalloc");
}
void freeDevice(void* ptr) {
  if (ptr) cudaFree(ptr);
}
Status allocPinned(size_t bytes, void** out) {
  return cudaStatus(cudaHostAlloc(out, bytes, cudaHostAllocMapped | cudaHostAllocPortable),
                    "cudaHostAlloc");
}
void freePinned(void* ptr) {
  if (ptr) cudaFreeHost(ptr);
}
Status devicePointerOf(void* pinned_host, void** out) {
  return cudaStatus(cudaHostGetDevicePointer(out, pinned_host, 0), "cudaHostGetDevicePointer");
}
Status copyToDevice(void* dst, const void* src, size_t bytes) {
  return cudaStatus(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
}
Status copyToHost(void* dst, const void* src, size_t bytes) {
  return cudaStatus(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
}
Status copyToDeviceAsync(void* dst, const void* src, size_t bytes) {
  return cudaStatus(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cudaStreamPerThread),
                    "cudaMemcpyAsync H2D");
}
Status copyToHostAsync(void* dst, const void* src, size_t bytes) {
  return cudaStatus(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cudaStreamPerThread),
                    "cudaMemcpyAsync D2H");
}
Status syncThreadStream() {
  return cudaStatus(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
}
bool isDevicePointer(const void* ptr) {
  if (!gpuUsable()) return false;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}
int deviceOf(const void* ptr) {
  if (!gpuUsable()) return -1;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged ? attr.device : -1;
}
Status useDevice(int device) {
  // Called per GPU piece by the helpers: the runtime call only when the device changes.
  thread_local int current = -1;
  if (device == current) return Status::ok();
  TCPXP_RETURN_IF_ERROR(cudaStatus(cudaSetDevice(device), "cudaSetDevice"));
  current = device;
  return Status::ok();
}
bool allocationRange(const void* ptr, uintptr_t* base, size_t* size) {
  // Through the runtime's driver entry point: linking libcuda would make the library unloadable
  // on machines without a GPU driver.
  using GetRange = int (*)(unsigned long long*, size_t*, unsigned long long);
  static GetRange get_range = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &fn, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      return GetRange{nullptr};
    }
    return reinterpret_cast<GetRange>(fn);
  }();
  if (get_range == nullptr) return false;
  unsigned long long b = 0;
  size_t s = 0;
  if (get_range(&b, &s, reinterpret_cast<unsigned long long>(ptr)) != 0) return false;
  *base = static_cast<uintptr_t>(b);
  *size = s;
  return true;
}
#else
namespace {
Status noCuda() { return Status(Code::kNotSupported, "built without CUDA (TCPXP_CUDA=OFF)"); }
}  // namespace
bool gpuUsable() { return false; }
Status allocDevice(size_t, void**) { return noCuda(); }
void freeDevice(void*) {}
Status allocPinned(size_t, void**) { return noCuda(); }
void freePinned(void*) {}
Status devicePointerOf(void*, void**) { return noCuda(); }
Status copyToDevice(void*, const void*, size_t) { return noCuda(); }
Status copyToHost(void*, const void*, size_t) { return noCuda(); }
Status copyToDeviceAsync(void*, const void*, size_t) { return noCuda(); }
Status copyToHostAsync(void*, const void*, size_t) { return noCuda(); }
Status syncThreadStream() { return noCuda(); }
Status scatterToDeviceAsync(char*, const char*, const ScatterPiece*, int) { return noCuda(); }
bool isDevicePointer(const void*) { return false; }
int deviceOf(const void*) { return -1; }
Status useDevice(int) { return noCuda(); }
bool allocationRange(const void*, uintptr_t*, size_t*) { return false; }
#endif

}  // namespace tcpxp::transport::device
