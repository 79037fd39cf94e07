// The GPU gather of the UNPACK receive path: copy a scatter list of bounce-buffer fragments
// into the destination buffer. One launch per received request; the count is read on the device
// (the slot's cnt), so the host never waits for it.
#pragma once

#include <cstdint>

#include "datapath/unpack_abi.h"

namespace tcpxp::datapath {

// Enqueues the gather on `stream` (a cudaStream_t). Returns a cudaError_t value (0 = success).
int launchGather(const UnpackFragment* frags, const uint64_t* count, const char* bounce, char* dst,
                 void* stream);

// One copy of a copy list: `len` bytes from `src` to `dst`, either of them device memory or
// mapped pinned host memory (a vector's pieces and its staging slot).
struct CopyItem {
  const char* src;
  char* dst;
  uint64_t len;
};
// The longest item a list holds: longer stretches are cut, so that one block never copies much
// more than the others.
inline constexpr uint64_t kCopyItemMaxBytes = 64 * 1024;

// Enqueues on `stream` one kernel that performs the `n` copies of `items` (readable by the GPU:
// mapped pinned memory, unchanged until the kernel finished). Returns a cudaError_t value.
int launchCopyList(const CopyItem* items, int n, void* stream);

// Batched form for benchmarks and tests: `n` lists back to back (frag lists of 2048 entries
// each, counts, destinations).
int launchGatherBatch(const UnpackFragment* frags, const uint64_t* counts, const char* bounce,
                      char* const* dsts, int n, void* stream);

}  // namespace tcpxp::datapath
