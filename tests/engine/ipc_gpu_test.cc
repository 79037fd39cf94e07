// The same-host CUDA IPC path on a GPU: two processes on GPU 0 (the peer is this binary run as
// IpcGpuPeer.Serve, tests/common/self_peer.h). The peer owns a GPU buffer, accepts with
// acceptLocal, advertises it, and on command fills or checks byte ranges of it; the test
// process connects with connectLocal and moves bytes with writeIpcAsync / readIpcAsync (one and
// several segments, odd sizes and offsets, many in flight), every byte checked on both sides.
// Hostile blobs (a handle that does not open, a range past the real allocation) fail with
// clear errors and the connection keeps working. Skips without a GPU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/self_peer.h"
#include "datapath/cuda_ipc.h"
#include "engine/endpoint.h"

namespace tcpxp::engine {
namespace {

using datapath::IpcBlob;
using tcpxp::testing::readExactly;
using tcpxp::testing::SelfPeer;
using tcpxp::testing::writeExactly;

constexpr const char* kPeerVar = "TCPXP_IPC_GPU_PEER";
constexpr size_t kPeerBytes = (64u << 20) + 4099;  // odd on purpose

int gpus() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (size_t i = 0; i + 4 <= n; i += 4) {
    uint32_t r = rng();
    std::memcpy(&v[i], &r, 4);
  }
  for (size_t i = n & ~size_t{3}; i < n; ++i) v[i] = static_cast<uint8_t>(rng());
  return v;
}

// Commands to the peer: fill or check [off, off + len) of its buffer against
// pattern(total, seed)[src_off, src_off + len), or advertise that range.
enum : uint32_t { kQuit = 0, kCheck = 1, kFill = 2, kAdvertise = 3 };
struct Cmd {
  uint32_t op = kQuit, seed = 0;
  uint64_t off = 0, len = 0, src_off = 0, total = 0;
};

// ---- the peer process ----

TEST(IpcGpuPeer, Serve) {
  int in = -1, out = -1;
  if (!tcpxp::testing::peerPipes(kPeerVar, &in, &out)) {
    GTEST_SKIP() << "runs only as the peer process of the gpu.ipc tests";
  }
  std::unique_ptr<Endpoint> ep;
  ASSERT_TRUE(Endpoint::create(0, &ep).isOk());
  char* buf = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&buf), kPeerBytes), cudaSuccess);
  auto init = pattern(kPeerBytes, 1);
  ASSERT_EQ(cudaMemcpy(buf, init.data(), kPeerBytes, cudaMemcpyHostToDevice), cudaSuccess);
  char bdf[16] = {};
  std::strncpy(bdf, ep->info().bdf.c_str(), sizeof(bdf) - 1);
  ASSERT_TRUE(writeExactly(out, bdf, sizeof(bdf)));
  std::string remote;
  ConnId conn = 0;
  Status st = ep->acceptLocal(&remote, &conn, nullptr, 60000);
  ASSERT_TRUE(st.isOk()) << st.toString();
  IpcBlob blob{};
  st = ep->advertiseIpc(buf, kPeerBytes, &blob);
  ASSERT_TRUE(st.isOk()) << st.toString();
  ASSERT_TRUE(writeExactly(out, blob.data(), blob.size()));
  for (;;) {
    Cmd c;
    if (!readExactly(in, &c, sizeof(c), 120000) || c.op == kQuit) break;
    uint32_t answer = 0;
    if (c.off > kPeerBytes || c.len > kPeerBytes - c.off) {
      answer = 2;
    } else if (c.op == kAdvertise) {
      st = ep->advertiseIpc(buf + c.off, c.len, &blob);
      answer = st.isOk() ? 0 : 3;
    } else {
      auto want = pattern(c.total, c.seed);
      if (c.op == kFill) {
        answer = cudaMemcpy(buf + c.off, want.data() + c.src_off, c.len, cudaMemcpyHostToDevice) ==
                         cudaSuccess
                     ? 0
                     : 4;
      } else {
        std::vector<uint8_t> got(c.len);
        answer = cudaMemcpy(got.data(), buf + c.off, c.len, cudaMemcpyDeviceToHost) == cudaSuccess
                     ? 0
                     : 4;
        if (answer == 0 && std::memcmp(got.data(), want.data() + c.src_off, c.len) != 0) answer = 1;
      }
    }
    ASSERT_TRUE(writeExactly(out, &answer, sizeof(answer)));
    if (c.op == kAdvertise) {
      ASSERT_TRUE(writeExactly(out, blob.data(), blob.size()));
    }
  }
  EXPECT_TRUE(ep->closeConnection(conn).isOk());
  cudaFree(buf);
}

// ---- the tests ----

class IpcGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gpus() == 0) GTEST_SKIP() << "no GPU on this machine: GPU tests run on the GPU machine";
    // This process and its peer meet only each other.
    setenv("UCCL_TCPX_IPC_SCOPE", ("gpu-ipc-test." + std::to_string(::getpid())).c_str(), 1);
    peer_ = std::make_unique<SelfPeer>(kPeerVar, "IpcGpuPeer.Serve");
    ASSERT_TRUE(peer_->ok());
    ASSERT_TRUE(Endpoint::create(0, &ep_).isOk());
    char bdf[16] = {};
    ASSERT_TRUE(readExactly(peer_->in(), bdf, sizeof(bdf)));
    Status st = ep_->connectLocal(bdf, &conn_);
    ASSERT_TRUE(st.isOk()) << st.toString();
    EXPECT_TRUE(ep_->isLocal(conn_));
    ASSERT_TRUE(readExactly(peer_->in(), whole_.data(), whole_.size()));
    ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&local_), kPeerBytes), cudaSuccess);
  }
  void TearDown() override {
    if (peer_ && peer_->ok()) {
      Cmd quit;
      (void)writeExactly(peer_->out(), &quit, sizeof(quit));
      EXPECT_EQ(peer_->join(), 0) << "the peer process failed";
    }
    if (ep_ && conn_ != 0) {
      EXPECT_TRUE(ep_->closeConnection(conn_).isOk());
    }
    if (local_) cudaFree(local_);
    unsetenv("UCCL_TCPX_IPC_SCOPE");
  }

  uint32_t ask(Cmd c, IpcBlob* blob = nullptr) {
    uint32_t answer = 99;
    EXPECT_TRUE(writeExactly(peer_->out(), &c, sizeof(c)));
    EXPECT_TRUE(readExactly(peer_->in(), &answer, sizeof(answer)));
    if (c.op == kAdvertise) {
      IpcBlob b{};
      EXPECT_TRUE(readExactly(peer_->in(), b.data(), b.size()));
      if (blob) *blob = b;
    }
    return answer;
  }
  // The peer's bytes [off, off + len) equal pattern(total, seed)[src_off ...].
  bool peerHas(uint64_t off, uint64_t len, uint32_t seed, uint64_t src_off, uint64_t total) {
    return ask(Cmd{kCheck, seed, off, len, src_off, total}) == 0;
  }
  IpcBlob advertised(uint64_t off, uint64_t len) {
    IpcBlob b{};
    EXPECT_EQ(ask(Cmd{kAdvertise, 0, off, len, 0, 0}, &b), 0u);
    return b;
  }
  void fillLocal(size_t off, const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(cudaMemcpy(local_ + off, bytes.data(), bytes.size(), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  std::vector<uint8_t> localBytes(size_t off, size_t len) {
    std::vector<uint8_t> v(len);
    EXPECT_EQ(cudaMemcpy(v.data(), local_ + off, len, cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }
  Status run(bool write, std::vector<IpcSegment> segs) {
    XferId id = 0;
    Status st = write ? ep_->writeIpcAsync(conn_, segs, &id) : ep_->readIpcAsync(conn_, segs, &id);
    if (!st.isOk()) return st;
    return ep_->wait(id, nullptr, nullptr, 60000);
  }

  std::unique_ptr<SelfPeer> peer_;
  std::unique_ptr<Endpoint> ep_;
  ConnId conn_ = 0;
  IpcBlob whole_{};
  char* local_ = nullptr;
};

TEST_F(IpcGpu, ReadsAndWritesTheWholeBufferEveryByteChecked) {
  Status st = run(false, {IpcSegment{local_, kPeerBytes, whole_}});
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(localBytes(0, kPeerBytes), pattern(kPeerBytes, 1));

  fillLocal(0, pattern(kPeerBytes, 2));
  st = run(true, {IpcSegment{local_, kPeerBytes, whole_}});
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_TRUE(peerHas(0, kPeerBytes, 2, 0, kPeerBytes));
}

TEST_F(IpcGpu, OddSizesAndOffsetsBothWays) {
  auto src = pattern(kPeerBytes, 3);
  fillLocal(0, src);
  // (peer offset, local offset, length): 1 byte, unaligned, one stream, split over streams.
  const std::vector<std::array<uint64_t, 3>> cases = {{0, 0, 1},
                                                      {7, 13, 255},
                                                      {4097, 1, (64 << 10) + 1},
                                                      {3, 5, (17 << 20) + 5},
                                                      {kPeerBytes - 1, 0, 1},
                                                      {kPeerBytes - 12345, 77, 12345}};
  for (const auto& [peer_off, local_off, len] : cases) {
    IpcBlob b = advertised(peer_off, len);
    Status st = run(true, {IpcSegment{local_ + local_off, len, b}});
    ASSERT_TRUE(st.isOk()) << st.toString();
    EXPECT_TRUE(peerHas(peer_off, len, 3, local_off, kPeerBytes)) << peer_off << "+" << len;
    // The blob narrowed on this side (uccl_engine_update_ipc_info's way) reaches the same bytes.
    IpcBlob narrowed = whole_;
    ASSERT_TRUE(datapath::updateIpcInfo(narrowed.data(), 1000 + peer_off, 1000, len).isOk());
    ASSERT_EQ(cudaMemset(local_, 0, kPeerBytes), cudaSuccess);
    // The engine copies on its own non-blocking streams: finish the memset first (it is
    // asynchronous for device memory), or it may land after the read's bytes.
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    st = run(false, {IpcSegment{local_ + local_off + 1, len, narrowed}});
    ASSERT_TRUE(st.isOk()) << st.toString();
    auto got = localBytes(local_off + 1, len);
    EXPECT_EQ(0, std::memcmp(got.data(), src.data() + local_off, len)) << peer_off << "+" << len;
    fillLocal(0, src);
  }
}

TEST_F(IpcGpu, VectorFormsAndManyInFlight) {
  auto src = pattern(kPeerBytes, 4);
  fillLocal(0, src);
  const std::vector<std::array<uint64_t, 3>> parts = {
      {1, 2, 4097}, {10000, 20000, (1 << 20) + 3}, {5 << 20, 9 << 20, 777}};
  std::vector<IpcSegment> segs;
  for (const auto& [peer_off, local_off, len] : parts) {
    segs.push_back(IpcSegment{local_ + local_off, len, advertised(peer_off, len)});
  }
  Status st = run(true, segs);
  ASSERT_TRUE(st.isOk()) << st.toString();
  for (const auto& [peer_off, local_off, len] : parts) {
    EXPECT_TRUE(peerHas(peer_off, len, 4, local_off, kPeerBytes));
  }
  // Eight transfers in flight at once, 4 MiB + 1 each, into disjoint ranges; polled to the end.
  constexpr size_t kEach = (4 << 20) + 1;
  std::vector<XferId> ids;
  for (size_t i = 0; i < 8; ++i) {
    IpcBlob b = advertised(i * kEach, kEach);
    XferId id = 0;
    IpcSegment s{local_ + 3 + i * kEach, kEach, b};
    st = ep_->writeIpcAsync(conn_, {&s, 1}, &id);
    ASSERT_TRUE(st.isOk()) << st.toString();
    ids.push_back(id);
  }
  for (XferId id : ids) {
    st = ep_->wait(id, nullptr, nullptr, 60000);
    ASSERT_TRUE(st.isOk()) << st.toString();
  }
  EXPECT_TRUE(peerHas(0, 8 * kEach, 4, 3, kPeerBytes));
}

TEST_F(IpcGpu, HostileBlobsAndHostMemoryFailClearlyThenTheConnectionStillWorks) {
  // A handle that is not one (magic and ranges fine): cudaIpcOpenMemHandle refuses it.
  IpcBlob forged = whole_;
  for (size_t i = 8; i < 72; ++i) forged[i] ^= 0x5A;
  Status st = run(false, {IpcSegment{local_, 4096, forged}});
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("cudaIpcOpenMemHandle"), std::string::npos) << st.toString();

  // The blob's claim of a bigger allocation is checked against the real one once opened.
  datapath::IpcInfo info;
  ASSERT_TRUE(datapath::decodeIpcInfo(whole_.data(), whole_.size(), &info).isOk());
  info.alloc_bytes = uint64_t{1} << 40;
  info.offset = kPeerBytes + (64 << 20);  // past any rounding of the real allocation
  info.size = 4096;
  IpcBlob past{};
  datapath::encodeIpcInfo(info, past.data());
  st = run(true, {IpcSegment{local_, 4096, past}});
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
  EXPECT_NE(st.message().find("not inside the peer's allocation"), std::string::npos)
      << st.toString();

  // Host memory on this side.
  std::vector<uint8_t> host(4096);
  st = run(true, {IpcSegment{host.data(), host.size(), whole_}});
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
  EXPECT_NE(st.message().find("not GPU memory"), std::string::npos) << st.toString();
  // Host memory on the peer's side cannot be advertised.
  IpcBlob unused{};
  EXPECT_EQ(ep_->advertiseIpc(host.data(), host.size(), &unused).code(), Code::kInvalidArgument);

  // Nothing above moved a byte; the connection still works.
  EXPECT_TRUE(peerHas(0, kPeerBytes, 1, 0, kPeerBytes));
  fillLocal(0, pattern(4096, 5));
  st = run(true, {IpcSegment{local_, 4096, whole_}});
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_TRUE(peerHas(0, 4096, 5, 0, 4096));
}

TEST_F(IpcGpu, ClosedConnectionRefusesTransfers) {
  ASSERT_TRUE(ep_->closeConnection(conn_).isOk());
  XferId id = 0;
  IpcSegment s{local_, 64, whole_};
  EXPECT_EQ(ep_->writeIpcAsync(conn_, {&s, 1}, &id).code(), Code::kNotFound);
  conn_ = 0;
}

}  // namespace
}  // namespace tcpxp::engine
