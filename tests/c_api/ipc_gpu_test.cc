// The C API's same-host CUDA IPC path, in NIXL's UCCL plugin's order (ai-dynamo/nixl
// src/plugins/uccl: registerMem -> get_ipc_info; loadRemoteConnInfo -> uccl_engine_connect with
// the peer's BDF; prepXfer -> conn_is_local, update_ipc_info per descriptor; postXfer ->
// write_vector / read_vector with ipc_bufs; checkXfer -> xfer_status), between two processes on
// GPU 0: the peer is this binary again, run as CApiIpcGpuPeer.Serve. Every byte is checked.
// Skips without a GPU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/self_peer.h"
#include "uccl_engine.h"

namespace {

using tcpxp::testing::readExactly;
using tcpxp::testing::SelfPeer;
using tcpxp::testing::writeExactly;
using Clock = std::chrono::steady_clock;

constexpr const char* kPeerVar = "TCPXP_CAPI_IPC_GPU_PEER";
constexpr size_t kBytes = (16u << 20) + 333;

int gpus() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

std::string lastError() {
  const char* e = uccl_engine_last_error();
  return e ? e : "";
}

// Check [off, off + len) of the peer's buffer against pattern(total, seed)[src_off, ...].
struct Cmd {
  uint32_t op = 0, seed = 0;  // op 0: quit, 1: check
  uint64_t off = 0, len = 0, src_off = 0, total = 0;
};

bool sendString(int fd, const std::string& s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  return writeExactly(fd, &n, sizeof(n)) && writeExactly(fd, s.data(), n);
}
bool recvString(int fd, std::string* s) {
  uint32_t n = 0;
  if (!readExactly(fd, &n, sizeof(n)) || n > 4096) return false;
  s->resize(n);
  return readExactly(fd, s->data(), n);
}

TEST(CApiIpcGpuPeer, Serve) {
  int in = -1, out = -1;
  if (!tcpxp::testing::peerPipes(kPeerVar, &in, &out)) {
    GTEST_SKIP() << "runs only as the peer process of the CApiIpcGpu tests";
  }
  uccl_engine_t* eng = uccl_engine_create_gpu(0);
  ASSERT_NE(eng, nullptr) << lastError();
  void* buf = nullptr;
  ASSERT_EQ(cudaMalloc(&buf, kBytes), cudaSuccess);
  auto init = pattern(kBytes, 1);
  ASSERT_EQ(cudaMemcpy(buf, init.data(), kBytes, cudaMemcpyHostToDevice), cudaSuccess);
  uccl_mr_t mr = 0;
  ASSERT_EQ(uccl_engine_reg(eng, reinterpret_cast<uintptr_t>(buf), kBytes, &mr), 0) << lastError();
  char ipc[IPC_INFO_SIZE] = {};
  bool has_ipc = false;
  ASSERT_EQ(uccl_engine_get_ipc_info(eng, reinterpret_cast<uintptr_t>(buf), ipc, &has_ipc), 0)
      << lastError();
  ASSERT_TRUE(has_ipc);
  char* md = nullptr;
  ASSERT_EQ(uccl_engine_get_metadata(eng, &md), 0) << lastError();
  std::string metadata(md);
  uccl_engine_free_metadata(md);
  uint64_t base = reinterpret_cast<uintptr_t>(buf);
  ASSERT_TRUE(sendString(out, metadata));
  ASSERT_TRUE(writeExactly(out, ipc, sizeof(ipc)));
  ASSERT_TRUE(writeExactly(out, &base, sizeof(base)));
  char ip[64];
  int remote_gpu = -1;
  uccl_conn_t* conn = uccl_engine_accept(eng, ip, sizeof(ip), &remote_gpu);
  ASSERT_NE(conn, nullptr) << lastError();
  EXPECT_FALSE(uccl_engine_conn_is_local(conn));  // accepted connections are not (as UCCL)
  for (;;) {
    Cmd c;
    if (!readExactly(in, &c, sizeof(c), 120000) || c.op == 0) break;
    uint32_t answer = 2;
    if (c.off <= kBytes && c.len <= kBytes - c.off) {
      std::vector<uint8_t> got(c.len);
      auto want = pattern(c.total, c.seed);
      answer = cudaMemcpy(got.data(), static_cast<char*>(buf) + c.off, c.len,
                          cudaMemcpyDeviceToHost) == cudaSuccess &&
                       std::memcmp(got.data(), want.data() + c.src_off, c.len) == 0
                   ? 0
                   : 1;
    }
    ASSERT_TRUE(writeExactly(out, &answer, sizeof(answer)));
  }
  uccl_engine_conn_destroy(conn);
  uccl_engine_mr_destroy(eng, mr);
  uccl_engine_destroy(eng);
  cudaFree(buf);
}

bool metadataParts(const std::string& s, std::string* ip, int* port, std::string* bdf) {
  size_t q = s.find('?'), colon = s.rfind(':', q);
  if (q == std::string::npos || colon == std::string::npos) return false;
  *ip = s.substr(0, colon);
  *port = std::atoi(s.c_str() + colon + 1);
  *bdf = s.substr(q + 1);
  return *port > 0;
}

// 0: done and succeeded; -1: failed; -2: not done within the deadline.
int pollDone(uccl_conn_t* conn, uint64_t id) {
  for (auto end = Clock::now() + std::chrono::seconds(60); Clock::now() < end;) {
    bool done = false;
    if (uccl_engine_xfer_poll(conn, id, &done, nullptr) != 0) return -1;
    if (done) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(100));  // backoff; deadline bounds it
  }
  return -2;
}

class CApiIpcGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gpus() == 0) GTEST_SKIP() << "no GPU on this machine: GPU tests run on the GPU machine";
    peer_ = std::make_unique<SelfPeer>(kPeerVar, "CApiIpcGpuPeer.Serve");
    ASSERT_TRUE(peer_->ok());
    a_ = uccl_engine_create_gpu(0);
    ASSERT_NE(a_, nullptr) << lastError();
    std::string md, ip, bdf;
    int port = 0;
    ASSERT_TRUE(recvString(peer_->in(), &md));
    ASSERT_TRUE(readExactly(peer_->in(), ipc_, sizeof(ipc_)));
    ASSERT_TRUE(readExactly(peer_->in(), &base_, sizeof(base_)));
    ASSERT_TRUE(metadataParts(md, &ip, &port, &bdf)) << md;
    conn_ = uccl_engine_connect(a_, ip.c_str(), bdf.c_str(), port, /*same_process=*/false);
    ASSERT_NE(conn_, nullptr) << lastError();
    ASSERT_EQ(cudaMalloc(&local_, kBytes), cudaSuccess);
    ASSERT_EQ(uccl_engine_reg(a_, reinterpret_cast<uintptr_t>(local_), kBytes, &lmr_), 0)
        << lastError();
  }
  void TearDown() override {
    if (peer_ && peer_->ok()) {
      Cmd quit;
      (void)writeExactly(peer_->out(), &quit, sizeof(quit));
    }
    if (conn_) uccl_engine_conn_destroy(conn_);
    if (lmr_) uccl_engine_mr_destroy(a_, lmr_);
    if (a_) uccl_engine_destroy(a_);
    if (peer_ && peer_->ok()) {
      EXPECT_EQ(peer_->join(), 0) << "the peer process failed";
    }
    if (local_) cudaFree(local_);
  }
  bool peerHas(uint64_t off, uint64_t len, uint32_t seed, uint64_t src_off, uint64_t total) {
    Cmd c{1, seed, off, len, src_off, total};
    uint32_t answer = 9;
    return writeExactly(peer_->out(), &c, sizeof(c)) &&
           readExactly(peer_->in(), &answer, sizeof(answer)) && answer == 0;
  }
  // prepXfer's per-descriptor blob: the registration's, narrowed to [addr, addr + size).
  std::vector<char> narrowed(uint64_t off, size_t size) {
    std::vector<char> b(ipc_, ipc_ + IPC_INFO_SIZE);
    EXPECT_EQ(uccl_engine_update_ipc_info(b.data(), base_ + off, base_, size), 0) << lastError();
    return b;
  }

  std::unique_ptr<SelfPeer> peer_;
  uccl_engine_t* a_ = nullptr;
  uccl_conn_t* conn_ = nullptr;
  char ipc_[IPC_INFO_SIZE] = {};
  uint64_t base_ = 0;
  void* local_ = nullptr;
  uccl_mr_t lmr_ = 0;
};

TEST_F(CApiIpcGpu, NixlCallOrderMovesVerifiedBytesByIpc) {
  ASSERT_TRUE(uccl_engine_conn_is_local(conn_)) << lastError();
  auto src = pattern(kBytes, 7);
  ASSERT_EQ(cudaMemcpy(local_, src.data(), kBytes, cudaMemcpyHostToDevice), cudaSuccess);
  char* l = static_cast<char*>(local_);
  // Three descriptors: odd sizes, odd offsets on both sides.
  const std::vector<std::array<uint64_t, 3>> d = {
      {1, 3, 4097}, {9000, 70001, (1 << 20) + 5}, {kBytes - 999, 12, 999}};
  std::vector<std::vector<char>> blobs;
  std::vector<char*> ipc_bufs;
  std::vector<void*> ptrs;
  std::vector<size_t> sizes;
  for (const auto& [roff, loff, len] : d) {
    blobs.push_back(narrowed(roff, len));
    ptrs.push_back(l + loff);
    sizes.push_back(len);
  }
  for (auto& b : blobs) ipc_bufs.push_back(b.data());
  std::vector<uccl_mr_t> mrs(d.size(), lmr_);
  std::vector<FifoItem> fifos(d.size());  // not read on the IPC path
  uint64_t tid = 0;
  ASSERT_EQ(uccl_engine_write_vector(conn_, mrs, ptrs, sizes, fifos, 3, &tid, ipc_bufs), 0)
      << lastError();
  ASSERT_EQ(pollDone(conn_, tid), 0) << lastError();
  for (const auto& [roff, loff, len] : d) EXPECT_TRUE(peerHas(roff, len, 7, loff, kBytes));

  // read_vector back into cleared memory; xfer_status (UCCL's bool) reports it done.
  ASSERT_EQ(cudaMemset(local_, 0, kBytes), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // asynchronous: before the engine's copies
  ASSERT_EQ(uccl_engine_read_vector(conn_, mrs, ptrs, sizes, fifos, 3, &tid, ipc_bufs), 0)
      << lastError();
  bool done = false;
  for (auto end = Clock::now() + std::chrono::seconds(60); !done && Clock::now() < end;) {
    done = uccl_engine_xfer_status(conn_, tid);
  }
  ASSERT_TRUE(done);
  std::vector<uint8_t> got(kBytes);
  ASSERT_EQ(cudaMemcpy(got.data(), local_, kBytes, cudaMemcpyDeviceToHost), cudaSuccess);
  for (const auto& [roff, loff, len] : d) {
    EXPECT_EQ(0, std::memcmp(got.data() + loff, src.data() + loff, len)) << roff;
  }
}

TEST_F(CApiIpcGpu, RefusedBlobsFailTheCallNotSilently) {
  ASSERT_TRUE(uccl_engine_conn_is_local(conn_));
  // update_ipc_info outside what the blob describes: -1, blob unchanged.
  std::vector<char> b(ipc_, ipc_ + IPC_INFO_SIZE);
  EXPECT_EQ(uccl_engine_update_ipc_info(b.data(), base_ + kBytes - 10, base_, 11), -1);
  EXPECT_EQ(0, std::memcmp(b.data(), ipc_, IPC_INFO_SIZE));
  // A forged handle: the call fails (nothing started), never a transfer that reads as done.
  std::vector<char> forged(ipc_, ipc_ + IPC_INFO_SIZE);
  for (size_t i = 8; i < 72; ++i) forged[i] = static_cast<char>(forged[i] ^ 0x5A);
  uint64_t tid = 0;
  EXPECT_EQ(uccl_engine_write_vector(conn_, {lmr_}, {local_}, {4096}, {FifoItem{}}, 1, &tid,
                                     {forged.data()}),
            -1);
  EXPECT_NE(lastError().find("cudaIpcOpenMemHandle"), std::string::npos) << lastError();
  // Host memory on this side.
  std::vector<uint8_t> host(4096);
  EXPECT_EQ(uccl_engine_write_vector(conn_, {lmr_}, {host.data()}, {4096}, {FifoItem{}}, 1, &tid,
                                     {b.data()}),
            -1);
  EXPECT_NE(lastError().find("not GPU memory"), std::string::npos) << lastError();
  // get_ipc_info: host memory has none; an address that starts no registration is an error.
  uccl_mr_t hmr = 0;
  ASSERT_EQ(uccl_engine_reg(a_, reinterpret_cast<uintptr_t>(host.data()), host.size(), &hmr), 0);
  char info[IPC_INFO_SIZE];
  bool has_ipc = true;
  EXPECT_EQ(uccl_engine_get_ipc_info(a_, reinterpret_cast<uintptr_t>(host.data()), info, &has_ipc),
            0);
  EXPECT_FALSE(has_ipc);
  EXPECT_EQ(uccl_engine_get_ipc_info(a_, reinterpret_cast<uintptr_t>(local_) + 1, info, &has_ipc),
            -1);
  uccl_engine_mr_destroy(a_, hmr);
  // The connection still works.
  auto src = pattern(4096, 8);
  ASSERT_EQ(cudaMemcpy(local_, src.data(), 4096, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(
      uccl_engine_write_vector(conn_, {lmr_}, {local_}, {4096}, {FifoItem{}}, 1, &tid, {b.data()}),
      0)
      << lastError();
  ASSERT_EQ(pollDone(conn_, tid), 0) << lastError();
  EXPECT_TRUE(peerHas(0, 4096, 8, 0, 4096));
}

}  // namespace
