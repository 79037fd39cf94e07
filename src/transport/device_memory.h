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
// Synchronous copies (cudaMemcpy, the legacy default stream: ordered after the work of every
// blocking stream in the process, so they see what a plugin wrote from any of its streams): for
// one-time reads and writes of handles, not per chunk.
Status copyToDevice(void* dst, const void* src, size_t bytes);
Status copyToHost(void* dst, const void* src, size_t bytes);
// Asynchronous copies on this thread's own stream; wait with syncThreadStream(). Per chunk: a
// legacy-stream copy would serialize every helper thread's copies and landings in the process.
Status copyToDeviceAsync(void* dst, const void* src, size_t bytes);
Status copyToHostAsync(void* dst, const void* src, size_t bytes);
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
// The GPU whose memory `ptr` is (device or managed memory), else -1.
int deviceOf(const void* ptr);
// Makes `device` the calling thread's current GPU (cudaSetDevice, skipped when this function set
// that device last on this thread): a helper thread's copies then run on that GPU's per-thread
// stream, and no context is made on GPU 0 for another GPU's bytes.
Status useDevice(int device);
// The CUDA allocation holding `ptr` (cuMemGetAddressRange); false for other memory or without
// a driver.
bool allocationRange(const void* ptr, uintptr_t* base, size_t* size);

}  // namespace tcpxp::transport::device
