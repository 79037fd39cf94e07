// The few CUDA runtime calls the transports need (the socket transport, and net.cc reading a
// device handle), behind plain functions so that no transport header depends on CUDA. In a build
// without CUDA every call reports that no GPU is usable and device allocations fail with
// kNotSupported.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace tcpxp::transport::device {

// A CUDA device exists and the runtime initialises (never exits the process).
bool gpuUsable();
// Device memory (cudaMalloc) and mapped pinned host memory (cudaHostAllocMapped).
Status allocDevice(size_t bytes, void** out);
void freeDevice(void* ptr);
Status allocPinned(size_t bytes, void** out);
void freePinned(void* ptr);
Status devicePointerOf(void* pinned_host, void** out);
// Synchronous copies (the calling helper thread is the only one waiting on them).
Status copyToDevice(void* dst, const void* src, size_t bytes);
Status copyToHost(void* dst, const void* src, size_t bytes);
// Asynchronous host->device copy on this thread's own stream; wait with syncThreadStream().
Status copyToDeviceAsync(void* dst, const void* src, size_t bytes);
Status syncThreadStream();
// One piece of a scatter: `len` bytes from src + src_off to dst_base + dst_off.
struct ScatterPiece {
  uint64_t dst_off;
  uint32_t src_off;
  uint32_t len;
};
// Enqueues on this thread's stream one kernel copying `n` pieces (each <= 4096 bytes) from
// device memory `src` into device memory at `dst_base`. `pieces` must be readable by the GPU
// (mapped pinned memory) and stay unchanged until syncThreadStream() returns.
Status scatterToDeviceAsync(char* dst_base, const char* src, const ScatterPiece* pieces, int n);
// True if `ptr` is device (or managed) memory.
bool isDevicePointer(const void* ptr);
// The CUDA allocation holding `ptr` (cuMemGetAddressRange); false for other memory or without
// a driver.
bool allocationRange(const void* ptr, uintptr_t* base, size_t* size);

}  // namespace tcpxp::transport::device
