// What `bench --verify` writes and checks: before each size the sending buffer holds the pair's
// pattern and the receiving buffer a sentinel; after the timed transfers the receiving buffer must
// hold the pattern, every byte. Byte k of a pattern is (k + seed) % 251, so a shift, a stale
// buffer or another pair's or size's data shows; the sentinel (0xff) is never a pattern byte.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/cli/buffer.h"
#include "common/status.h"

namespace tcpxp::cli {

// A seed per (pair, step): pairs and steps differ.
uint32_t patternSeed(uint32_t pair, uint32_t step);

// The first `n` bytes of `buf` (host or GPU memory; GPU memory through a bounded host copy).
Status fillPattern(Buffer& buf, uint64_t n, uint32_t seed);
Status fillSentinel(Buffer& buf, uint64_t n);
// OK when the first `n` bytes hold the pattern; else *mismatch describes the first wrong byte and
// how many bytes still hold the sentinel (never written). An error status only when the buffer
// cannot be read.
Status checkPattern(const Buffer& buf, uint64_t n, uint32_t seed, std::string* mismatch);

// Vector modes: `len` bytes from offset `src` of the pattern-filled buffer to `dst` of this one.
struct MovedPiece {
  uint64_t src = 0, dst = 0, len = 0;
};
// OK when every piece's bytes at `dst` hold the pattern of its `src` range; else *mismatch says
// which piece and byte first differ.
Status checkMoved(const Buffer& buf, const std::vector<MovedPiece>& pieces, uint32_t seed,
                  std::string* mismatch);

}  // namespace tcpxp::cli
