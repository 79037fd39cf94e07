// The GPU copy kernels at every alignment: the UNPACK gather (datapath/gather_kernel.h), the
// vector path's copy list, and the UNPACK emulation's landing scatter
// (transport/device_memory.h). Each case copies random bytes with every pair of source and
// destination offsets mod 16 and lengths around the 16-byte vector edges, into a buffer
// pre-filled with a guard pattern, and compares every byte with a host copy: a wrong byte
// inside or a written byte outside fails. Skips without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "datapath/gather_kernel.h"
#include "transport/device_memory.h"

namespace tcpxp {
namespace {

bool haveGpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

// Device buffer of `n` bytes, freed at scope end.
struct DeviceBytes {
  explicit DeviceBytes(size_t n) : size(n) { EXPECT_EQ(cudaMalloc(&ptr, n), cudaSuccess); }
  ~DeviceBytes() { cudaFree(ptr); }
  char* data() const { return static_cast<char*>(ptr); }
  void* ptr = nullptr;
  size_t size;
};

constexpr uint8_t kGuard = 0xA5;
// Lengths at and around the edges of the 16-byte body (head, vectors, tail), and whole pages.
const std::vector<uint32_t> kLengths = {0,  1,  2,  3,   15,   16,   17,  31,
                                        33, 47, 64, 255, 1000, 4095, 4096};

struct Case {
  uint32_t src_off, dst_off, len;
};

std::vector<Case> allCases() {
  std::vector<Case> out;
  for (uint32_t s = 0; s < 16; ++s)
    for (uint32_t d = 0; d < 16; ++d)
      for (uint32_t len : kLengths) out.push_back({s, d, len});
  return out;
}

class GpuKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveGpu()) GTEST_SKIP() << "no GPU on this machine: GPU tests run on the GPU machine";
  }
  // Source: random bytes; destination: the guard. Each case gets its own 8 KiB window on both
  // sides (cases run in one launch), so a case writing outside its window shows up.
  static constexpr size_t kWindow = 8192;
  void fill(size_t cases) {
    src_host_.resize(cases * kWindow);
    std::mt19937 rng(7);
    for (auto& b : src_host_) b = static_cast<uint8_t>(rng());
    src_ = std::make_unique<DeviceBytes>(src_host_.size());
    dst_ = std::make_unique<DeviceBytes>(src_host_.size());
    ASSERT_EQ(cudaMemcpy(src_->data(), src_host_.data(), src_host_.size(), cudaMemcpyHostToDevice),
              cudaSuccess);
    ASSERT_EQ(cudaMemset(dst_->data(), kGuard, dst_->size), cudaSuccess);
  }
  void check(const std::vector<Case>& cases) {
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    std::vector<uint8_t> got(dst_->size);
    ASSERT_EQ(cudaMemcpy(got.data(), dst_->data(), got.size(), cudaMemcpyDeviceToHost),
              cudaSuccess);
    std::vector<uint8_t> want(got.size(), kGuard);
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      std::memcpy(want.data() + i * kWindow + c.dst_off, src_host_.data() + i * kWindow + c.src_off,
                  c.len);
    }
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      ASSERT_EQ(0, std::memcmp(got.data() + i * kWindow, want.data() + i * kWindow, kWindow))
          << "src offset " << c.src_off << ", dst offset " << c.dst_off << ", " << c.len
          << " bytes";
    }
  }
  std::vector<uint8_t> src_host_;
  std::unique_ptr<DeviceBytes> src_, dst_;
};

TEST_F(GpuKernels, CopyListAtEveryAlignment) {
  const auto cases = allCases();
  fill(cases.size());
  std::vector<datapath::CopyItem> items;
  for (size_t i = 0; i < cases.size(); ++i) {
    items.push_back({src_->data() + i * kWindow + cases[i].src_off,
                     dst_->data() + i * kWindow + cases[i].dst_off, cases[i].len});
  }
  DeviceBytes list(items.size() * sizeof(datapath::CopyItem));
  ASSERT_EQ(cudaMemcpy(list.data(), items.data(), list.size, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(datapath::launchCopyList(reinterpret_cast<const datapath::CopyItem*>(list.data()),
                                     static_cast<int>(items.size()), nullptr),
            0);
  check(cases);
}

TEST_F(GpuKernels, GatherAtEveryAlignment) {
  // One scatter list per source offset: fragments (bounce windows) into one destination, each
  // case in its own window of the destination (dst_off = window + offset).
  const auto cases = allCases();
  fill(cases.size());
  std::vector<datapath::UnpackFragment> frags;
  for (size_t i = 0; i < cases.size(); ++i) {
    datapath::UnpackFragment f{};
    f.src_off = static_cast<uint32_t>(i * kWindow + cases[i].src_off);
    f.len = cases[i].len;
    f.dst_off = i * kWindow + cases[i].dst_off;
    frags.push_back(f);
  }
  // launchGather takes one list of up to kUnpackMaxFragments: launch in slices.
  DeviceBytes list(frags.size() * sizeof(datapath::UnpackFragment));
  ASSERT_EQ(cudaMemcpy(list.data(), frags.data(), list.size, cudaMemcpyHostToDevice), cudaSuccess);
  DeviceBytes counts(sizeof(uint64_t) * (frags.size() / datapath::kUnpackMaxFragments + 1));
  auto* fl = reinterpret_cast<const datapath::UnpackFragment*>(list.data());
  auto* cl = reinterpret_cast<uint64_t*>(counts.data());
  for (size_t at = 0, k = 0; at < frags.size(); at += datapath::kUnpackMaxFragments, ++k) {
    uint64_t n = std::min<uint64_t>(datapath::kUnpackMaxFragments, frags.size() - at);
    ASSERT_EQ(cudaMemcpy(cl + k, &n, sizeof(n), cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(datapath::launchGather(fl + at, cl + k, src_->data(), dst_->data(), nullptr), 0);
  }
  check(cases);
}

TEST_F(GpuKernels, EmulationScatterAtEveryAlignment) {
  // The landing scatter copies pieces of <= 4096 bytes; its piece list must be GPU-readable.
  const auto cases = allCases();
  fill(cases.size());
  std::vector<transport::device::ScatterPiece> pieces;
  for (size_t i = 0; i < cases.size(); ++i) {
    pieces.push_back({i * kWindow + cases[i].dst_off,
                      static_cast<uint32_t>(i * kWindow + cases[i].src_off), cases[i].len});
  }
  DeviceBytes list(pieces.size() * sizeof(transport::device::ScatterPiece));
  ASSERT_EQ(cudaMemcpy(list.data(), pieces.data(), list.size, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_TRUE(transport::device::scatterToDeviceAsync(
                  dst_->data(), src_->data(),
                  reinterpret_cast<const transport::device::ScatterPiece*>(list.data()),
                  static_cast<int>(pieces.size()))
                  .isOk());
  ASSERT_TRUE(transport::device::syncThreadStream().isOk());
  check(cases);
}

}  // namespace
}  // namespace tcpxp
