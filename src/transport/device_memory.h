// The few CUDA runtime calls the transports need (the socket transport, and net.cc reading a
// device handle), behind plain functions so that no transport header depends on CUDA. In a build
// without CUDA every call reports that no GPU is usable and device allocations fail with
// kNotSupported.
#pragma once

#include <cstddef>

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
// True if `ptr` is device (or managed) memory.
bool isDevicePointer(const void* ptr);

}  // namespace tcpxp::transport::device
