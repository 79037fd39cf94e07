#include "api/cli/kv_workload.h"

#include <cstdio>
#include <cstring>
#include <vector>

namespace tcpxp::cli {
namespace {

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void fillPage(uint8_t* dst, uint64_t n, uint32_t layer, uint32_t block, uint32_t kv) {
  uint64_t state =
      (uint64_t{layer} << 40) ^ (uint64_t{block} << 8) ^ kv ^ 0x6b76636163686521ULL;  // "kvcache!"
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word = splitmix64(&state);
    std::memcpy(dst + i, &word, 8);
  }
  if (i < n) {
    uint64_t word = splitmix64(&state);
    std::memcpy(dst + i, &word, n - i);
  }
}

void fillRegion(const KvShape& shape, uint8_t* region) {
  for (uint32_t l = 0; l < shape.layers; ++l) {
    for (uint32_t kv = 0; kv < 2; ++kv) {
      for (uint32_t b = 0; b < shape.blocks; ++b) {
        fillPage(region + shape.pageOffset(l, b, kv), shape.block_bytes, l, b, kv);
      }
    }
  }
}

KvCheck checkRegion(const KvShape& shape, const uint8_t* region) {
  KvCheck check;
  std::vector<uint8_t> want(shape.block_bytes);
  for (uint32_t l = 0; l < shape.layers; ++l) {
    for (uint32_t kv = 0; kv < 2; ++kv) {
      for (uint32_t b = 0; b < shape.blocks; ++b) {
        fillPage(want.data(), want.size(), l, b, kv);
        const uint8_t* got = region + shape.pageOffset(l, b, kv);
        ++check.pages_checked;
        if (std::memcmp(got, want.data(), want.size()) == 0) continue;
        ++check.bad_pages;
        for (uint64_t i = 0; i < want.size(); ++i) {
          if (got[i] == want[i]) continue;
          if (check.bad_bytes == 0) {
            check.layer = l;
            check.block = b;
            check.kv = kv;
            check.offset = i;
            check.got = got[i];
            check.want = want[i];
          }
          ++check.bad_bytes;
        }
      }
    }
  }
  return check;
}

std::string KvCheck::describe(uint64_t total_bytes) const {
  if (ok()) {
    return "verified OK (" + std::to_string(pages_checked) + " pages, " +
           std::to_string(total_bytes) + " bytes)";
  }
  char first[160];
  std::snprintf(first, sizeof(first),
                "first at layer %u block %u %s offset %llu: got 0x%02x, want 0x%02x", layer, block,
                kv == 0 ? "K" : "V", static_cast<unsigned long long>(offset), got, want);
  return "verification FAILED: " + std::to_string(bad_bytes) + " mismatches in " +
         std::to_string(bad_pages) + " of " + std::to_string(pages_checked) + " pages; " + first;
}

}  // namespace tcpxp::cli
