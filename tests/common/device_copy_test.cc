// The GPU kernels' copy routine (common/device_copy.cuh) compiled for the host and run one
// "thread" at a time: every pair of source and destination offsets mod 16, lengths around the
// 16-byte vector edges, warp- and block-sized thread counts. Every byte of a guarded window is
// compared with memcpy's, and every load is checked to stay inside the aligned 4-byte words that
// hold the source range (the bound that keeps the GPU from reading past a page). No GPU needed:
// gpu.kernels.* runs the kernels themselves on the GPU machine.
#include "common/device_copy.cuh"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace tcpxp {
namespace {

// Loads that fail the test when they leave [lo, hi).
struct CheckedLoads {
  static inline uintptr_t lo = 0, hi = 0;
  static inline bool out_of_bounds = false;
  template <typename T>
  static T load(const T* p) {
    auto a = reinterpret_cast<uintptr_t>(p);
    if (a < lo || a + sizeof(T) > hi) out_of_bounds = true;
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
};

constexpr uint8_t kGuard = 0xA5;

TEST(DeviceCopy, EveryAlignmentEveryLengthInBoundsOnTheHost) {
  // 32-bit words as storage: the routine reads the source as words and writes 16-byte vectors.
  constexpr size_t kWindow = 8192;
  std::vector<uint32_t> src_words(kWindow / 4), dst_words(kWindow / 4);
  auto* src_base = reinterpret_cast<char*>(src_words.data()) + 64;
  auto* dst_base = reinterpret_cast<char*>(dst_words.data()) + 64;
  std::mt19937 rng(3);
  for (auto& w : src_words) w = static_cast<uint32_t>(rng());
  std::vector<uint64_t> lengths = {0,  1,  2,  3,  4,  5,  15,  16,  17,  18,   31,   32,
                                   33, 47, 48, 63, 64, 65, 100, 255, 256, 1000, 4095, 4096};
  for (uint32_t nthreads : {16u, 32u, 256u}) {
    for (uint32_t so = 0; so < 16; ++so) {
      for (uint32_t d = 0; d < 16; ++d) {
        for (uint64_t len : lengths) {
          std::memset(dst_words.data(), kGuard, kWindow);
          const char* src = src_base + so;
          char* dst = dst_base + d;
          auto s = reinterpret_cast<uintptr_t>(src);
          CheckedLoads::lo = s & ~uintptr_t{3};
          CheckedLoads::hi = (s + len + 3) & ~uintptr_t{3};
          CheckedLoads::out_of_bounds = false;
          for (uint32_t tid = 0; tid < nthreads; ++tid) {
            device_copy::copyBytes<CheckedLoads>(dst, src, len, tid, nthreads);
          }
          std::vector<uint8_t> want(kWindow, kGuard);
          std::memcpy(want.data() + 64 + d, src, len);
          ASSERT_EQ(0, std::memcmp(want.data(), dst_words.data(), kWindow))
              << nthreads << " threads, src offset " << so << ", dst offset " << d << ", " << len
              << " bytes";
          ASSERT_FALSE(CheckedLoads::out_of_bounds)
              << "a load left the source's aligned words: " << nthreads << " threads, src offset "
              << so << ", " << len << " bytes";
        }
      }
    }
  }
}

}  // namespace
}  // namespace tcpxp
