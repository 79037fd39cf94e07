// The demo's KV-cache-shaped workload: `layers` layers, each holding a K and a V tensor of
// `blocks` pages of `block_bytes`. Every page has a deterministic byte pattern seeded by
// (layer, block, kv), so the receiver can check every byte without a copy of the sender's data.
//
// Region layout (the same on both sides; one advertisement per layer):
//   layer l:  [ K: block 0 | block 1 | ... | block B-1 ][ V: block 0 | ... | block B-1 ]
//   page (l, b, kv) at l * layerBytes() + kv * B * block_bytes + b * block_bytes
#pragma once

#include <cstdint>
#include <string>

namespace tcpxp::cli {

struct KvShape {
  uint32_t layers = 0;
  uint32_t blocks = 0;
  uint64_t block_bytes = 0;

  uint64_t layerBytes() const { return 2 * uint64_t{blocks} * block_bytes; }
  uint64_t totalBytes() const { return layers * layerBytes(); }
  uint64_t pages() const { return 2 * uint64_t{layers} * blocks; }
  uint64_t pageOffset(uint32_t layer, uint32_t block, uint32_t kv) const {
    return layer * layerBytes() + (kv * uint64_t{blocks} + block) * block_bytes;
  }
};

// Writes page (layer, block, kv)'s pattern into dst[0, n).
void fillPage(uint8_t* dst, uint64_t n, uint32_t layer, uint32_t block, uint32_t kv);
// Writes every page's pattern into a host image of the whole region.
void fillRegion(const KvShape& shape, uint8_t* region);

struct KvCheck {
  uint64_t pages_checked = 0;
  uint64_t bad_pages = 0;
  uint64_t bad_bytes = 0;
  // The first bad byte.
  uint32_t layer = 0, block = 0, kv = 0;
  uint64_t offset = 0;  // within the page
  uint8_t got = 0, want = 0;

  bool ok() const { return bad_bytes == 0; }
  // "verified OK (1024 pages, 67108864 bytes)" or "3 mismatches in 1 page: first at ...".
  std::string describe(uint64_t total_bytes) const;
};

// Compares a host image of the region with the patterns.
KvCheck checkRegion(const KvShape& shape, const uint8_t* region);

}  // namespace tcpxp::cli
