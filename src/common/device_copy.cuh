// A byte copy for GPU threads that stays fast at any alignment.
//
// UNPACK fragments and vector pieces start anywhere: a fragment of a jittered (or real
// devmem-TCP) scatter list is rarely 16-byte aligned on both sides, and the byte-by-byte loop
// the kernels fell back to ran the 512 KiB gather at ~8 GB/s (issue 23). Here the destination
// is aligned first; each 16-byte store is then built from aligned 4-byte loads of the source
// joined with funnel shifts, so every access is a full word whatever the two offsets are.
//
// The same code compiles for the host (no __CUDACC__), where a test runs it one "thread" at a
// time for every alignment, with loads that check their bounds (tests/common): CI has no GPU.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define TCPXP_COPY_FN __device__ __forceinline__
#define TCPXP_COPY_UNROLL _Pragma("unroll 4")
#else
#define TCPXP_COPY_FN inline
#define TCPXP_COPY_UNROLL
#endif

namespace tcpxp::device_copy {

#ifdef __CUDACC__
using Vec16 = uint4;
TCPXP_COPY_FN Vec16 vec16(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return make_uint4(a, b, c, d);
}
// Bytes [shift / 8, shift / 8 + 4) of the 8 bytes lo, hi (little-endian).
TCPXP_COPY_FN uint32_t joinWords(uint32_t lo, uint32_t hi, uint32_t shift) {
  return __funnelshift_r(lo, hi, shift);
}
#else
struct alignas(16) Vec16 {
  uint32_t x, y, z, w;
};
inline Vec16 vec16(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return {a, b, c, d}; }
inline uint32_t joinWords(uint32_t lo, uint32_t hi, uint32_t shift) {
  return static_cast<uint32_t>(((uint64_t{hi} << 32) | lo) >> (shift & 31));
}
#endif

// How the copy reads the source: plain loads (kernels), or checked ones (tests).
struct PlainLoads {
  template <typename T>
  TCPXP_COPY_FN static T load(const T* p) {
    return *p;
  }
};

// Copies `len` bytes from src to dst (not overlapping) with threads `tid` of `nthreads`
// (nthreads >= 16: a warp or a block). Reads no byte outside the aligned 4-byte words that
// hold [src, src + len), so never past a page the source touches.
template <typename Loads = PlainLoads>
TCPXP_COPY_FN void copyBytes(char* __restrict__ dst, const char* __restrict__ src, uint64_t len,
                             uint32_t tid, uint32_t nthreads) {
  uint64_t head = (16 - (reinterpret_cast<uintptr_t>(dst) & 15)) & 15;
  if (head > len) head = len;
  if (tid < head) dst[tid] = Loads::load(src + tid);
  dst += head;
  src += head;
  len -= head;
  const uint64_t vecs = len / 16;
  Vec16* __restrict__ out = reinterpret_cast<Vec16*>(dst);
  const uintptr_t s = reinterpret_cast<uintptr_t>(src);
  if ((s & 15) == 0) {
    const Vec16* in = reinterpret_cast<const Vec16*>(src);
    TCPXP_COPY_UNROLL
    for (uint64_t v = tid; v < vecs; v += nthreads) out[v] = Loads::load(in + v);
  } else if ((s & 3) == 0) {
    const uint32_t* in = reinterpret_cast<const uint32_t*>(src);
    TCPXP_COPY_UNROLL
    for (uint64_t v = tid; v < vecs; v += nthreads) {
      const uint32_t* p = in + 4 * v;
      out[v] = vec16(Loads::load(p), Loads::load(p + 1), Loads::load(p + 2), Loads::load(p + 3));
    }
  } else {
    // Word k of a vector is bytes [4k + r, 4k + r + 4) of the aligned words from src & ~3:
    // the fifth word starts inside the vector's last source bytes, so it is in bounds.
    const uint32_t shift = 8 * static_cast<uint32_t>(s & 3);
    const uint32_t* in = reinterpret_cast<const uint32_t*>(s & ~uintptr_t{3});
    TCPXP_COPY_UNROLL
    for (uint64_t v = tid; v < vecs; v += nthreads) {
      const uint32_t* p = in + 4 * v;
      const uint32_t a0 = Loads::load(p), a1 = Loads::load(p + 1), a2 = Loads::load(p + 2),
                     a3 = Loads::load(p + 3), a4 = Loads::load(p + 4);
      out[v] = vec16(joinWords(a0, a1, shift), joinWords(a1, a2, shift), joinWords(a2, a3, shift),
                     joinWords(a3, a4, shift));
    }
  }
  const uint64_t tail = vecs * 16;
  if (tid < len - tail) dst[tail + tid] = Loads::load(src + tail + tid);
}

}  // namespace tcpxp::device_copy
