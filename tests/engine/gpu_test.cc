// GPU end to end: GPU0 -> GPU1 (one process, one Endpoint per GPU, each with its own driver
// thread) through the built-in transport. Run by ctest in normal mode (staged data path) and in
// UNPACK emulation (GPU bounce pages + gather kernel). Skips without a GPU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <future>
#include <random>
#include <vector>

#include "control/fifo_item.h"
#include "engine/endpoint.h"
#include "engine/engine_config.h"

namespace tcpxp::engine {
namespace {

#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x

int gpus() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

class GpuEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gpus() == 0) GTEST_SKIP() << "no GPU on this machine: GPU tests run on the GPU machine";
    src_gpu_ = 0;
    dst_gpu_ = gpus() > 1 ? 1 : 0;
    ASSERT_TRUE(Endpoint::create(src_gpu_, &a_).isOk());
    ASSERT_TRUE(Endpoint::create(dst_gpu_, &b_).isOk());
    auto accepted = std::async(std::launch::async, [&] {
      ConnId id = 0;
      EXPECT_TRUE(b_->accept(&id, nullptr, nullptr, nullptr, 20000).isOk());
      return id;
    });
    Status st = a_->connect("127.0.0.1", dst_gpu_, b_->info().port, &ab_);
    ASSERT_TRUE(st.isOk()) << st.toString();
    ba_ = accepted.get();
  }
  void* gpuAlloc(int gpu, size_t bytes) {
    void* p = nullptr;
    cudaSetDevice(gpu);
    EXPECT_EQ(cudaMalloc(&p, bytes), cudaSuccess);
    allocs_.push_back(p);
    return p;
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    for (void* p : allocs_) cudaFree(p);
  }
  void scatteredVectorsBothWays(size_t max_piece);

  int src_gpu_ = 0, dst_gpu_ = 0;
  std::unique_ptr<Endpoint> a_, b_;
  ConnId ab_ = 0, ba_ = 0;
  std::vector<void*> allocs_;
};

TEST_F(GpuEndToEnd, RandomSizesAndOffsetsVerified) {
  const size_t cap = (size_t{64} << 20) + 8192;
  char* src = static_cast<char*>(gpuAlloc(src_gpu_, cap));
  char* dst = static_cast<char*>(gpuAlloc(dst_gpu_, cap));
  MrId smr = 0, dmr = 0;
  ASSERT_TRUE(a_->reg(src, cap, &smr).isOk());
  ASSERT_TRUE(b_->reg(dst, cap, &dmr).isOk());
  std::mt19937_64 rng(42);
  std::vector<size_t> sizes = {1,
                               7,
                               4095,
                               4097,
                               65536,
                               524288 + 3,
                               (size_t{1} << 20) + 1,
                               (size_t{4} << 20) - 1,
                               size_t{16} << 20,
                               size_t{64} << 20};
  for (int i = 0; i < 6; ++i) sizes.push_back(1 + rng() % (size_t{8} << 20));
  for (size_t size : sizes) {
    size_t soff = rng() % 4096, doff = rng() % 4096;
    std::vector<uint8_t> host(size), back(size + 2);
    for (auto& b : host) b = static_cast<uint8_t>(rng());
    CUDA_OK(cudaMemcpy(src + soff, host.data(), size, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(dst, 0xA5, cap));
    // The engine copies on its own non-blocking streams: like any caller, finish the buffers'
    // producers first (cudaMemset is asynchronous).
    CUDA_OK(cudaDeviceSynchronize());
    bool one_sided = size % 2 == 0;
    XferId tx = 0, rx = 0;
    if (one_sided) {
      FifoBlob fifo{};
      ASSERT_TRUE(b_->advertise(ba_, dmr, dst + doff, size, &fifo).isOk());
      Segment w{smr, src + soff, size, fifo};
      ASSERT_TRUE(a_->writeAsync(ab_, {&w, 1}, &tx).isOk());
      Status st = a_->wait(tx);
      ASSERT_TRUE(st.isOk()) << st.toString();
    } else {
      Segment r{dmr, dst + doff, size};
      Segment s{smr, src + soff, size};
      ASSERT_TRUE(b_->recvAsync(ba_, {&r, 1}, &rx).isOk());
      ASSERT_TRUE(a_->sendAsync(ab_, {&s, 1}, &tx).isOk());
      Status st = b_->wait(rx);
      ASSERT_TRUE(st.isOk()) << st.toString();
      ASSERT_TRUE(a_->wait(tx).isOk());
    }
    CUDA_OK(cudaMemcpy(back.data(), dst + doff, size + 2 <= cap - doff ? size + 2 : size,
                       cudaMemcpyDeviceToHost));
    ASSERT_TRUE(std::equal(host.begin(), host.end(), back.begin()))
        << (one_sided ? "write" : "send/recv") << " of " << size << " bytes differs";
    if (size + 2 <= cap - doff) {
      EXPECT_EQ(back[size], 0xA5) << "byte after the " << size << "-byte transfer was written";
    }
  }
}

// The pinned staging is made while connecting, so the first transfer does not pay for it (and
// does not stall the driver thread), and it stays within UCCL_TCPX_STAGING_BYTES.
TEST_F(GpuEndToEnd, StagingIsHeldFromConnectAndBounded) {
  // None where the transport takes every GPU transfer itself (TCPX, UNPACK, GPU direct without
  // a limit); with GPU direct up to UCCL_SOCKET_GPU_DIRECT_MAX, the larger ones need it.
  const EndpointInfo& info = a_->info();
  const bool all_direct = info.transport_moves_gpu_memory && info.gpu_direct_max_bytes == SIZE_MAX;
  const size_t expected = all_direct ? 0 : EngineConfig::fromEnv().staging_bytes;
  for (auto [ep, conn] : {std::pair{a_.get(), ab_}, std::pair{b_.get(), ba_}}) {
    EndpointStats st;
    ASSERT_TRUE(ep->stats(&st).isOk());
    ASSERT_EQ(st.connections.size(), 1u);
    EXPECT_EQ(st.connections[0].conn, conn);
    EXPECT_EQ(st.connections[0].staging_bytes, expected)
        << "pinned staging right after connect (UCCL_TCPX_STAGING_BYTES)";
  }
}

// The engine's own staging is not in the user's registration ids: dereg of any id the user was
// not given finds nothing, and the connection still moves bytes afterwards.
TEST_F(GpuEndToEnd, StagingIsNotInTheUsersIdSpace) {
  const size_t size = (size_t{4} << 20) + 3;
  char* src = static_cast<char*>(gpuAlloc(src_gpu_, size));
  char* dst = static_cast<char*>(gpuAlloc(dst_gpu_, size));
  MrId smr = 0, rmr = 0;
  ASSERT_TRUE(a_->reg(src, size, &smr).isOk());
  ASSERT_TRUE(b_->reg(dst, size, &rmr).isOk());
  for (auto [ep, mine] : {std::pair{a_.get(), smr}, std::pair{b_.get(), rmr}}) {
    for (MrId id = 1; id <= 64; ++id) {
      if (id == mine) continue;
      EXPECT_EQ(ep->dereg(id).code(), Code::kNotFound) << "mr_id " << id;
    }
  }
  std::vector<uint8_t> host(size);
  std::mt19937 rng(11);
  for (auto& b : host) b = static_cast<uint8_t>(rng());
  CUDA_OK(cudaMemcpy(src, host.data(), size, cudaMemcpyHostToDevice));
  XferId rx = 0, tx = 0;
  Segment r{rmr, dst, size};
  Segment s{smr, src, size};
  ASSERT_TRUE(b_->recvAsync(ba_, {&r, 1}, &rx).isOk());
  ASSERT_TRUE(a_->sendAsync(ab_, {&s, 1}, &tx).isOk());
  Status st = b_->wait(rx);
  ASSERT_TRUE(st.isOk()) << st.toString();
  ASSERT_TRUE(a_->wait(tx).isOk());
  std::vector<uint8_t> back(size);
  CUDA_OK(cudaMemcpy(back.data(), dst, size, cudaMemcpyDeviceToHost));
  EXPECT_TRUE(host == back);
}

TEST_F(GpuEndToEnd, ReadFromPeerGpu) {
  const size_t size = (size_t{32} << 20) + 5;
  char* remote = static_cast<char*>(gpuAlloc(dst_gpu_, size));
  char* local = static_cast<char*>(gpuAlloc(src_gpu_, size));
  std::vector<uint8_t> host(size);
  std::mt19937 rng(7);
  for (auto& b : host) b = static_cast<uint8_t>(rng());
  CUDA_OK(cudaMemcpy(remote, host.data(), size, cudaMemcpyHostToDevice));
  MrId rmr = 0, lmr = 0;
  ASSERT_TRUE(b_->reg(remote, size, &rmr).isOk());
  ASSERT_TRUE(a_->reg(local, size, &lmr).isOk());
  FifoBlob fifo{};
  ASSERT_TRUE(b_->advertise(0, rmr, remote, size, &fifo).isOk());
  Segment r{lmr, local, size, fifo};
  XferId x = 0;
  ASSERT_TRUE(a_->readAsync(ab_, {&r, 1}, &x).isOk());
  Status st = a_->wait(x);
  ASSERT_TRUE(st.isOk()) << st.toString();
  std::vector<uint8_t> back(size);
  CUDA_OK(cudaMemcpy(back.data(), local, size, cudaMemcpyDeviceToHost));
  EXPECT_TRUE(host == back);
}

// Vectors (WriteVec/ReadVec) of GPU memory: the pieces gathered into and scattered from host
// staging slots with a copy per piece stretch on the path's streams (datapath/vector_path.cc).
// Both peers write to each other at once, 8 transfers in flight each way, larger than the staging
// pool: sends and receives share one pool of slots, and each direction keeps a reserve the other
// cannot take. Without it, both peers' sends could hold every slot while the receives that would
// let the other side's sends finish wait for one (a hang; the test's timeout would catch it).
TEST_F(GpuEndToEnd, WritesBothWaysAtOnceShareTheStaging) {
  constexpr size_t kSize = (size_t{12} << 20) + 4097;
  constexpr int kInFlight = 8;
  constexpr int kRounds = 3;
  const size_t cap = kSize * kInFlight;
  struct Side {
    Endpoint* ep;
    ConnId conn;
    int gpu;
    char* src;
    char* dst;
    MrId src_mr, dst_mr;
    std::vector<uint8_t> pattern;
  };
  Side sides[2] = {{a_.get(), ab_, src_gpu_, nullptr, nullptr, 0, 0, {}},
                   {b_.get(), ba_, dst_gpu_, nullptr, nullptr, 0, 0, {}}};
  std::mt19937_64 rng(23);
  for (Side& s : sides) {
    s.src = static_cast<char*>(gpuAlloc(s.gpu, cap));
    s.dst = static_cast<char*>(gpuAlloc(s.gpu, cap));
    s.pattern.resize(cap);
    for (auto& b : s.pattern) b = static_cast<uint8_t>(rng());
    CUDA_OK(cudaMemcpy(s.src, s.pattern.data(), cap, cudaMemcpyHostToDevice));
    ASSERT_TRUE(s.ep->reg(s.src, cap, &s.src_mr).isOk());
    ASSERT_TRUE(s.ep->reg(s.dst, cap, &s.dst_mr).isOk());
  }
  for (int round = 0; round < kRounds; ++round) {
    for (Side& s : sides) CUDA_OK(cudaMemset(s.dst, 0xA5, cap));
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<std::pair<Endpoint*, XferId>> started;
    for (int i = 0; i < kInFlight; ++i) {
      for (int from = 0; from < 2; ++from) {
        Side& w = sides[from];
        Side& r = sides[1 - from];
        FifoBlob fifo{};
        ASSERT_TRUE(r.ep->advertise(r.conn, r.dst_mr, r.dst + i * kSize, kSize, &fifo).isOk());
        Segment seg{w.src_mr, w.src + i * kSize, kSize, fifo};
        XferId x = 0;
        ASSERT_TRUE(w.ep->writeAsync(w.conn, {&seg, 1}, &x).isOk());
        started.emplace_back(w.ep, x);
      }
    }
    for (auto [ep, x] : started) {
      Status st = ep->wait(x);
      ASSERT_TRUE(st.isOk()) << "round " << round << ": " << st.toString();
    }
    for (int to = 0; to < 2; ++to) {
      std::vector<uint8_t> seen(cap);
      CUDA_OK(cudaMemcpy(seen.data(), sides[to].dst, cap, cudaMemcpyDeviceToHost));
      ASSERT_TRUE(seen == sides[1 - to].pattern)
          << "round " << round << ": the bytes written to side " << to << " differ";
    }
  }
}

// Odd sizes at odd offsets, scattered on both sides (the remote side in reverse order), written
// then read back; GPU on both sides, and a host buffer on the served side.
// Pieces of 1..20000 bytes at odd offsets: the vector path's copy-list kernel, both ways.
TEST_F(GpuEndToEnd, VectorsOfScatteredPiecesBothWays) { scatteredVectorsBothWays(20000); }
// Pieces of 1..6 bytes: a 1 MiB chunk holds more than 1024 stretches, so the vector path falls
// back to one copy per stretch.
TEST_F(GpuEndToEnd, VectorsOfTinyPiecesTakeTheCopyPerStretch) { scatteredVectorsBothWays(6); }

void GpuEndToEnd::scatteredVectorsBothWays(size_t max_piece) {
  constexpr size_t kPieces = 3000;
  std::mt19937_64 rng(11);
  std::vector<size_t> sizes(kPieces), loff(kPieces), roff(kPieces);
  size_t at = 3;
  for (size_t i = 0; i < kPieces; ++i) {
    sizes[i] = 1 + rng() % max_piece;
    loff[i] = at;
    at += sizes[i] + 1 + rng() % 64;
  }
  const size_t cap = at + 64;
  at = 5;
  for (size_t k = 0; k < kPieces; ++k) {
    size_t i = kPieces - 1 - k;
    roff[i] = at;
    at += sizes[i] + 1 + rng() % 64;
  }
  const size_t rcap = at + 64;
  for (bool remote_on_host : {false, true}) {
    SCOPED_TRACE(remote_on_host ? "served side: host memory" : "GPU to GPU");
    // Whole 2 MiB allocations: cudaMalloc places small ones inside a shared 2 MiB page, not
    // on the 4 KiB boundary registration requires (the second pair here would be refused).
    constexpr size_t kGpuPage = size_t{2} << 20;
    auto pages = [](size_t n) { return (n + kGpuPage - 1) / kGpuPage * kGpuPage; };
    char* local = static_cast<char*>(gpuAlloc(src_gpu_, pages(cap)));
    std::vector<uint8_t> remote_host(remote_on_host ? rcap : 0);
    char* remote = remote_on_host ? reinterpret_cast<char*>(remote_host.data())
                                  : static_cast<char*>(gpuAlloc(dst_gpu_, pages(rcap)));
    std::vector<uint8_t> src(cap);
    for (auto& b : src) b = static_cast<uint8_t>(rng());
    CUDA_OK(cudaMemcpy(local, src.data(), cap, cudaMemcpyHostToDevice));
    if (remote_on_host) {
      std::fill(remote_host.begin(), remote_host.end(), 0xA5);
    } else {
      CUDA_OK(cudaMemset(remote, 0xA5, rcap));
    }
    CUDA_OK(cudaDeviceSynchronize());
    MrId lmr = 0, rmr = 0;
    Status reg_st = a_->reg(local, cap, &lmr);
    ASSERT_TRUE(reg_st.isOk()) << reg_st.toString();
    reg_st = b_->reg(remote, rcap, &rmr);
    ASSERT_TRUE(reg_st.isOk()) << reg_st.toString();
    FifoBlob whole{};
    ASSERT_TRUE(b_->advertise(ba_, rmr, remote, rcap, &whole).isOk());
    std::vector<Segment> segs(kPieces);
    for (size_t i = 0; i < kPieces; ++i) {
      segs[i] = Segment{lmr, local + loff[i], sizes[i], whole};
      ASSERT_TRUE(control::updateFifoItem(segs[i].fifo.data(),
                                          reinterpret_cast<uint64_t>(remote + roff[i]), sizes[i])
                      .isOk());
    }
    XferId x = 0;
    ASSERT_TRUE(a_->writeAsync(ab_, segs, &x).isOk());
    Status st = a_->wait(x);
    ASSERT_TRUE(st.isOk()) << st.toString();
    std::vector<uint8_t> seen(rcap);
    if (remote_on_host) {
      seen = remote_host;
    } else {
      CUDA_OK(cudaMemcpy(seen.data(), remote, rcap, cudaMemcpyDeviceToHost));
    }
    std::vector<uint8_t> want(rcap, 0xA5);
    for (size_t i = 0; i < kPieces; ++i) {
      std::copy_n(src.begin() + static_cast<ptrdiff_t>(loff[i]), sizes[i],
                  want.begin() + static_cast<ptrdiff_t>(roff[i]));
    }
    ASSERT_TRUE(seen == want) << "writev: the GPU pieces differ";
    // Read them back into a cleared local buffer.
    CUDA_OK(cudaMemset(local, 0x5A, cap));
    CUDA_OK(cudaDeviceSynchronize());
    ASSERT_TRUE(a_->readAsync(ab_, segs, &x).isOk());
    st = a_->wait(x);
    ASSERT_TRUE(st.isOk()) << st.toString();
    std::vector<uint8_t> back(cap);
    CUDA_OK(cudaMemcpy(back.data(), local, cap, cudaMemcpyDeviceToHost));
    std::vector<uint8_t> want_back(cap, 0x5A);
    for (size_t i = 0; i < kPieces; ++i) {
      std::copy_n(src.begin() + static_cast<ptrdiff_t>(loff[i]), sizes[i],
                  want_back.begin() + static_cast<ptrdiff_t>(loff[i]));
    }
    ASSERT_TRUE(back == want_back) << "readv: the GPU pieces differ";
    EXPECT_TRUE(a_->dereg(lmr).isOk());
    EXPECT_TRUE(b_->dereg(rmr).isOk());
  }
}

}  // namespace
}  // namespace tcpxp::engine
