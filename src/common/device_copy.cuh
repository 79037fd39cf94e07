// A byte copy for GPU threads that stays fast at any alignment (CUDA sources only).
//
// UNPACK fragments and vector pieces start anywhere: a fragment of a jittered (or real
// devmem-TCP) scatter list is rarely 16-byte aligned on both sides, and the byte-by-byte loop
// the kernels fell back to ran the 512 KiB gather at ~8 GB/s (issue 23). Here the destination
// is aligned first; each 16-byte store is then built from aligned 4-byte loads of the source
// joined with funnel shifts, so every access is a full word whatever the two offsets are.
#pragma once

#include <cstdint>

namespace tcpxp::device_copy {

// Copies `len` bytes from src to dst (not overlapping) with threads `tid` of `nthreads`
// (nthreads >= 16: a warp or a block). Reads no byte outside the aligned 4-byte words that
// hold [src, src + len), so never past a page the source touches.
__device__ inline void copyBytes(char* __restrict__ dst, const char* __restrict__ src, uint64_t len,
                                 uint32_t tid, uint32_t nthreads) {
  uint64_t head = (16 - (reinterpret_cast<uintptr_t>(dst) & 15)) & 15;
  if (head > len) head = len;
  if (tid < head) dst[tid] = src[tid];
  dst += head;
  src += head;
  len -= head;
  const uint64_t vecs = len / 16;
  uint4* __restrict__ out = reinterpret_cast<uint4*>(dst);
  const uintptr_t s = reinterpret_cast<uintptr_t>(src);
  if ((s & 15) == 0) {
    const uint4* in = reinterpret_cast<const uint4*>(src);
#pragma unroll 4
    for (uint64_t v = tid; v < vecs; v += nthreads) out[v] = in[v];
  } else if ((s & 3) == 0) {
    const uint32_t* in = reinterpret_cast<const uint32_t*>(src);
#pragma unroll 4
    for (uint64_t v = tid; v < vecs; v += nthreads) {
      const uint32_t* p = in + 4 * v;
      out[v] = make_uint4(p[0], p[1], p[2], p[3]);
    }
  } else {
    // Word k of a vector is bytes [4k + r, 4k + r + 4) of the aligned words from src & ~3:
    // the fifth word starts inside the vector's last source bytes, so it is in bounds.
    const uint32_t shift = 8 * static_cast<uint32_t>(s & 3);
    const uint32_t* in = reinterpret_cast<const uint32_t*>(s & ~uintptr_t{3});
#pragma unroll 4
    for (uint64_t v = tid; v < vecs; v += nthreads) {
      const uint32_t* p = in + 4 * v;
      const uint32_t a0 = p[0], a1 = p[1], a2 = p[2], a3 = p[3], a4 = p[4];
      out[v] = make_uint4(__funnelshift_r(a0, a1, shift), __funnelshift_r(a1, a2, shift),
                          __funnelshift_r(a2, a3, shift), __funnelshift_r(a3, a4, shift));
    }
  }
  const uint64_t tail = vecs * 16;
  if (tid < len - tail) dst[tail + tid] = src[tail + tid];
}

}  // namespace tcpxp::device_copy
