// The C API (libtcpx_p2p.so) end to end: two engines in one process over loopback, driven only
// through uccl_engine.h, as NIXL's UCCL backend drives it. Every wait is bounded.
#include "uccl_engine.h"  // C++: UCCL's std::vector signatures too, with no define

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

extern "C" int tcpxp_c_header_check(void);  // c_header_check.c, compiled as C11

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto kDeadline = 20s;

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// Loopback and a short timeout also when run outside ctest (which sets the same values).
const bool kEnvironment = [] {
  setenv("UCCL_SOCKET_IFNAME", "lo", /*overwrite=*/0);
  setenv("UCCL_TCPX_TIMEOUT_MS", "10000", /*overwrite=*/0);
  return true;
}();

// "ip:port?bdf" or "[ip6]:port?bdf", parsed the way a UCCL client does it.
bool parseMetadata(const std::string& s, std::string* ip, int* port, std::string* bdf) {
  size_t q = s.find('?');
  if (q == std::string::npos) return false;
  std::string hostport = s.substr(0, q);
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos || colon + 1 == hostport.size()) return false;
  std::string host = hostport.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  *ip = host;
  *port = std::atoi(hostport.c_str() + colon + 1);
  *bdf = s.substr(q + 1);
  return !ip->empty() && *port > 0;
}

FifoItem toItem(const char (&buf)[UCCL_ENGINE_FIFO_SIZE]) {
  FifoItem item;
  std::memcpy(&item, buf, sizeof(item));
  return item;
}

// Polls uccl_engine_xfer_status (UCCL's bool form) until it reports done or the deadline passes.
bool statusDone(uccl_conn_t* conn, uint64_t id) {
  for (auto end = Clock::now() + kDeadline; Clock::now() < end; std::this_thread::sleep_for(1ms)) {
    if (uccl_engine_xfer_status(conn, id)) return true;
  }
  return false;
}

// Polls uccl_engine_xfer_poll: 0 when the transfer succeeded, -1 when it failed, -2 on timeout.
int pollDone(uccl_conn_t* conn, uint64_t id, size_t* bytes = nullptr) {
  for (auto end = Clock::now() + kDeadline; Clock::now() < end; std::this_thread::sleep_for(1ms)) {
    bool done = false;
    if (uccl_engine_xfer_poll(conn, id, &done, bytes) != 0) return done ? -1 : -3;
    if (done) return 0;
  }
  return -2;
}

std::string lastError() { return uccl_engine_last_error(); }

TEST(CApiHeader, CompilesAsCWithTheSameLayout) {
  EXPECT_EQ(tcpxp_c_header_check(), 0);
  EXPECT_EQ(sizeof(FifoItem), 64u);
  EXPECT_EQ(sizeof(notify_msg_t), 512u);
}

TEST(CApiEngine, MetadataIsIpPortBdf) {
  uccl_engine_t* e = uccl_engine_create(4, false);  // UCCL_TCPX_GPU unset: host-only
  ASSERT_NE(e, nullptr) << lastError();
  char* md = nullptr;
  ASSERT_EQ(uccl_engine_get_metadata(e, &md), 0) << lastError();
  ASSERT_NE(md, nullptr);
  std::string text(md);
  delete[] md;  // new[], as NIXL's plugin expects
  std::string ip, bdf;
  int port = 0;
  EXPECT_TRUE(parseMetadata(text, &ip, &port, &bdf)) << text;
  const char* ifname = std::getenv("UCCL_SOCKET_IFNAME");
  if (ifname != nullptr && std::string(ifname) == "lo") {
    EXPECT_EQ(ip, "127.0.0.1") << text;
  }
  EXPECT_EQ(bdf, "") << "host-only engines have no BDF: " << text;
  uccl_engine_destroy(e);
}

TEST(CApiEngine, StopAcceptWakesABlockedAccept) {
  uccl_engine_t* e = uccl_engine_create_gpu(-1);
  ASSERT_NE(e, nullptr) << lastError();
  auto accepted = std::async(std::launch::async, [e] {
    char ip[64];
    int gpu = 0;
    return uccl_engine_accept(e, ip, sizeof(ip), &gpu);
  });
  std::this_thread::sleep_for(50ms);
  uccl_engine_stop_accept(e);
  ASSERT_EQ(accepted.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(accepted.get(), nullptr);
  // Stopped for good: a later accept returns at once.
  EXPECT_EQ(uccl_engine_accept(e, nullptr, 0, nullptr), nullptr);
  uccl_engine_destroy(e);
}

TEST(CApiEngine, NullAndUnknownEngineHandlesAreErrors) {
  alignas(64) char fake[256] = {};
  auto* bogus = reinterpret_cast<uccl_engine_t*>(fake);
  char* md = nullptr;
  uccl_mr_t mr = 0;
  char fifo[UCCL_ENGINE_FIFO_SIZE];
  std::vector<uint8_t> buf(4096);
  for (uccl_engine_t* e : {static_cast<uccl_engine_t*>(nullptr), bogus}) {
    EXPECT_EQ(uccl_engine_get_metadata(e, &md), -1);
    EXPECT_NE(lastError(), "");
    EXPECT_EQ(uccl_engine_reg(e, addr(buf.data()), buf.size(), &mr), -1);
    EXPECT_EQ(uccl_engine_prepare_fifo(e, 1, buf.data(), buf.size(), fifo), -1);
    EXPECT_EQ(uccl_engine_connect(e, "127.0.0.1", -1, 1), nullptr);
    EXPECT_EQ(uccl_engine_accept(e, nullptr, 0, nullptr), nullptr);
    uccl_engine_stop_accept(e);
    uccl_engine_mr_destroy(e, 1);
    uccl_engine_destroy(e);
    EXPECT_EQ(lastError().rfind("uccl_engine_destroy: ", 0), 0u) << lastError();
  }
  EXPECT_EQ(md, nullptr);
  EXPECT_EQ(mr, 0u);
  EXPECT_NE(lastError().find("not live"), std::string::npos) << lastError();
}

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)uccl_engine_get_notifs();  // process-wide: drop what an earlier test left unread
    a_ = uccl_engine_create(4, false);
    ASSERT_NE(a_, nullptr) << lastError();
    b_ = uccl_engine_create_gpu(-1);
    ASSERT_NE(b_, nullptr) << lastError();
    char* md = nullptr;
    ASSERT_EQ(uccl_engine_get_metadata(b_, &md), 0) << lastError();
    std::string text(md);
    uccl_engine_free_metadata(md);  // the C way to release it
    std::string ip, bdf;
    int port = 0;
    ASSERT_TRUE(parseMetadata(text, &ip, &port, &bdf)) << text;

    char peer_ip[64] = {};
    int peer_gpu = 7;
    std::string accept_error;
    std::thread acceptor([&] {
      ba_ = uccl_engine_accept(b_, peer_ip, sizeof(peer_ip), &peer_gpu);
      if (ba_ == nullptr) accept_error = lastError();
    });
    ab_ = uccl_engine_connect(a_, ip.c_str(), -1, port);
    std::string connect_error = ab_ == nullptr ? lastError() : "";
    if (ab_ == nullptr) uccl_engine_stop_accept(b_);  // never leave the acceptor blocked
    acceptor.join();
    ASSERT_NE(ab_, nullptr) << connect_error;
    ASSERT_NE(ba_, nullptr) << accept_error;
    EXPECT_EQ(peer_gpu, -1);
    EXPECT_EQ(std::string(peer_ip), ip);  // loopback: the connector's source is the same IP
    EXPECT_EQ(uccl_engine_start_listener(ab_), 0) << lastError();  // UCCL compatibility no-op
    EXPECT_EQ(uccl_engine_start_listener(ba_), 0) << lastError();
  }

  void TearDown() override {
    if (ab_ != nullptr) uccl_engine_conn_destroy(ab_);
    if (ba_ != nullptr) uccl_engine_conn_destroy(ba_);
    if (a_ != nullptr) uccl_engine_destroy(a_);
    if (b_ != nullptr) uccl_engine_destroy(b_);
  }

  static uccl_mr_t reg(uccl_engine_t* e, const std::vector<uint8_t>& buf) {
    uccl_mr_t mr = 0;
    EXPECT_EQ(uccl_engine_reg(e, addr(buf.data()), buf.size(), mr), 0) << lastError();  // C++ &
    EXPECT_NE(mr, 0u);
    return mr;
  }

  static FifoItem advertise(uccl_engine_t* e, uccl_mr_t mr, const void* p, size_t n) {
    char fifo[UCCL_ENGINE_FIFO_SIZE] = {};
    EXPECT_EQ(uccl_engine_prepare_fifo(e, mr, p, n, fifo), 0) << lastError();
    FifoItem item = toItem(fifo);
    EXPECT_EQ(item.addr, addr(p));
    EXPECT_EQ(item.size, n);
    return item;
  }

  uccl_engine_t* a_ = nullptr;
  uccl_engine_t* b_ = nullptr;
  uccl_conn_t* ab_ = nullptr;  // a's connection to b
  uccl_conn_t* ba_ = nullptr;  // b's connection from a
};

TEST_F(CApi, WriteThenReadWithXferStatusPolling) {
  const size_t size = (size_t{1} << 20) + 13;
  auto local = pattern(size, 1);
  std::vector<uint8_t> remote(size, 0), back(size, 0);
  uccl_mr_t lmr = reg(a_, local), bmr = reg(a_, back), rmr = reg(b_, remote);
  FifoItem item = advertise(b_, rmr, remote.data(), size);

  uint64_t tid = 0;
  ASSERT_EQ(uccl_engine_write(ab_, lmr, local.data(), size, item, &tid), 0) << lastError();
  ASSERT_TRUE(statusDone(ab_, tid));
  EXPECT_EQ(remote, local);

  ASSERT_EQ(uccl_engine_read(ab_, bmr, back.data(), size, item, &tid), 0) << lastError();
  size_t bytes = 0;
  ASSERT_EQ(pollDone(ab_, tid, &bytes), 0) << lastError();
  EXPECT_EQ(back, local);
  // The id was released when done was reported.
  bool done = false;
  EXPECT_EQ(uccl_engine_xfer_poll(ab_, tid, &done, nullptr), -1);
  EXPECT_FALSE(done);
  EXPECT_TRUE(uccl_engine_xfer_status(ab_, tid));

  uccl_engine_mr_destroy(a_, lmr);
  uccl_engine_mr_destroy(a_, bmr);
  uccl_engine_mr_destroy(b_, rmr);
}

TEST_F(CApi, SendRecvBlockingAndAsync) {
  const size_t size = (size_t{2} << 20) + 5;
  auto src = pattern(size, 2);
  std::vector<uint8_t> dst(size + 64, 0xEE);
  uccl_mr_t smr = reg(a_, src), rmr = reg(b_, dst);

  uint64_t tx = 0;
  ASSERT_EQ(uccl_engine_send(ab_, smr, src.data(), size, &tx), 0) << lastError();
  ASSERT_EQ(uccl_engine_recv(ba_, rmr, dst.data(), dst.size()), 0) << lastError();
  ASSERT_EQ(pollDone(ab_, tx), 0) << lastError();
  EXPECT_TRUE(std::equal(src.begin(), src.end(), dst.begin()));
  EXPECT_EQ(dst[size], 0xEE);

  // Non-blocking receive (extension); recv size is a maximum, the poll reports what came.
  std::fill(dst.begin(), dst.end(), 0);
  uint64_t rx = 0;
  ASSERT_EQ(uccl_engine_recv_async(ba_, rmr, dst.data(), dst.size(), &rx), 0) << lastError();
  ASSERT_EQ(uccl_engine_send(ab_, smr, src.data(), 1000, &tx), 0) << lastError();
  size_t got = 0;
  ASSERT_EQ(pollDone(ba_, rx, &got), 0) << lastError();
  ASSERT_EQ(pollDone(ab_, tx), 0) << lastError();
  EXPECT_EQ(got, 1000u);
  EXPECT_TRUE(std::equal(src.begin(), src.begin() + 1000, dst.begin()));
}

TEST_F(CApi, VectorForms) {
  const std::vector<size_t> sizes = {1, 4096, (size_t{1} << 20) + 3};
  std::vector<std::vector<uint8_t>> src, remote, back, dst;
  std::vector<uccl_mr_t> smr, rmr, bmr, dmr;
  std::vector<FifoItem> items;
  for (size_t i = 0; i < sizes.size(); ++i) {
    src.push_back(pattern(sizes[i], static_cast<uint32_t>(10 + i)));
    remote.emplace_back(sizes[i], 0);
    back.emplace_back(sizes[i], 0);
    dst.emplace_back(sizes[i], 0);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    smr.push_back(reg(a_, src[i]));
    bmr.push_back(reg(a_, back[i]));
    rmr.push_back(reg(b_, remote[i]));
    dmr.push_back(reg(b_, dst[i]));
    items.push_back(advertise(b_, rmr[i], remote[i].data(), sizes[i]));
  }
  const int n = static_cast<int>(sizes.size());
  std::vector<void*> src_p, back_p, dst_p;
  std::vector<const void*> src_cp;
  for (size_t i = 0; i < sizes.size(); ++i) {
    src_p.push_back(src[i].data());
    src_cp.push_back(src[i].data());
    back_p.push_back(back[i].data());
    dst_p.push_back(dst[i].data());
  }

  // write_vector / read_vector through UCCL's std::vector signatures.
  uint64_t tid = 0;
  ASSERT_EQ(uccl_engine_write_vector(ab_, smr, src_p, sizes, items, n, &tid), 0) << lastError();
  ASSERT_EQ(pollDone(ab_, tid), 0) << lastError();
  EXPECT_EQ(remote, src);
  ASSERT_EQ(uccl_engine_read_vector(ab_, bmr, back_p, sizes, items, n, &tid), 0) << lastError();
  ASSERT_EQ(pollDone(ab_, tid), 0) << lastError();
  EXPECT_EQ(back, src);

  // send_vector (C arrays) into recv_vector (blocking, std::vector form) on B. Fresh buffers:
  // rewriting `remote` here would race (for TSan) with B's sends that served the read.
  ASSERT_EQ(uccl_engine_send_vector(ab_, smr.data(), src_cp.data(), sizes.data(), n, &tid), 0)
      << lastError();
  ASSERT_EQ(uccl_engine_recv_vector(ba_, dmr, dst_p, sizes, n), 0) << lastError();
  ASSERT_EQ(pollDone(ab_, tid), 0) << lastError();
  EXPECT_EQ(dst, src);

  // Mismatched std::vector lengths are an error, not an out-of-bounds read.
  EXPECT_EQ(uccl_engine_write_vector(ab_, smr, src_p, sizes, items, n + 1, &tid), -1);
}

TEST_F(CApi, NotificationsRoundTrip) {
  notify_msg_t out{};
  std::snprintf(out.name, sizeof(out.name), "agent-a");
  for (size_t i = 0; i < 255; ++i) out.msg[i] = static_cast<char>(i % 7);  // binary, with NULs
  ASSERT_EQ(uccl_engine_send_notif(ab_, &out), 0) << lastError();
  notify_msg_t back{};
  std::snprintf(back.name, sizeof(back.name), "agent-b");
  std::snprintf(back.msg, sizeof(back.msg), "done");
  ASSERT_EQ(uccl_engine_send_notif(ba_, &back), 0) << lastError();

  // C form: bounded batches; UCCL form: std::vector of everything queued.
  std::vector<notify_msg_t> got;
  for (auto end = Clock::now() + kDeadline; got.size() < 2 && Clock::now() < end;) {
    notify_msg_t one[1];
    size_t count = 0;
    ASSERT_EQ(uccl_engine_get_notifs(one, 1, &count), 0) << lastError();
    ASSERT_LE(count, 1u);
    if (count == 1) {
      got.push_back(one[0]);
    } else {
      std::vector<notify_msg_t> rest = uccl_engine_get_notifs();
      got.insert(got.end(), rest.begin(), rest.end());
      if (rest.empty()) std::this_thread::sleep_for(1ms);
    }
  }
  ASSERT_EQ(got.size(), 2u);
  const notify_msg_t* at_b = std::strcmp(got[0].name, "agent-a") == 0 ? &got[0] : &got[1];
  const notify_msg_t* at_a = at_b == &got[0] ? &got[1] : &got[0];
  EXPECT_STREQ(at_b->name, "agent-a");
  EXPECT_EQ(std::memcmp(at_b->msg, out.msg, sizeof(out.msg)), 0);
  EXPECT_STREQ(at_a->name, "agent-b");
  EXPECT_EQ(std::memcmp(at_a->msg, back.msg, sizeof(back.msg)), 0);
  size_t count = 1;
  EXPECT_EQ(uccl_engine_get_notifs(nullptr, 0, &count), 0);
  EXPECT_EQ(count, 0u);

  // All 256 bytes of msg travel (UCCL sends them all); name must be terminated.
  notify_msg_t full{};
  std::snprintf(full.name, sizeof(full.name), "full");
  std::memset(full.msg, 'x', sizeof(full.msg));
  ASSERT_EQ(uccl_engine_send_notif(ab_, &full), 0) << lastError();
  std::vector<notify_msg_v_t> sized;
  for (auto end = Clock::now() + kDeadline; sized.empty() && Clock::now() < end;) {
    sized = uccl_engine_get_notifs_v();
    if (sized.empty()) std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(sized.size(), 1u);
  EXPECT_EQ(sized[0].name, "full");
  EXPECT_EQ(sized[0].msg, std::string(256, 'x'));
  notify_msg_t unterminated{};
  std::memset(unterminated.name, 'n', sizeof(unterminated.name));
  EXPECT_EQ(uccl_engine_send_notif(ab_, &unterminated), -1);
  EXPECT_EQ(uccl_engine_send_notif(ab_, nullptr), -1);
  EXPECT_EQ(uccl_engine_get_notifs(nullptr, 1, &count), -1);
  EXPECT_EQ(uccl_engine_get_notifs(&full, 1, nullptr), -1);
}

TEST_F(CApi, UpdateFifoNarrowsTheTarget) {
  const size_t size = 64 << 10;
  std::vector<uint8_t> remote(size, 0);
  auto local = pattern(4096, 3);
  uccl_mr_t lmr = reg(a_, local), rmr = reg(b_, remote);
  FifoItem item = advertise(b_, rmr, remote.data(), size);

  FifoItem sub = item;
  ASSERT_EQ(uccl_engine_update_fifo(sub, addr(remote.data()) + 8192, 4096), 0) << lastError();
  EXPECT_EQ(sub.addr, addr(remote.data()) + 8192);
  EXPECT_EQ(sub.size, 4096u);
  EXPECT_EQ(std::memcmp(&sub.rkey, &item.rkey, 64 - offsetof(FifoItem, rkey) - 32), 0);
  uint64_t tid = 0;
  ASSERT_EQ(uccl_engine_write(ab_, lmr, local.data(), 4096, sub, &tid), 0) << lastError();
  ASSERT_EQ(pollDone(ab_, tid), 0) << lastError();
  EXPECT_TRUE(std::equal(local.begin(), local.end(), remote.begin() + 8192));
  EXPECT_TRUE(std::all_of(remote.begin(), remote.begin() + 8192, [](uint8_t v) { return v == 0; }));
  EXPECT_TRUE(std::all_of(remote.begin() + 12288, remote.end(), [](uint8_t v) { return v == 0; }));

  // Pointed past the advertisement: submitted, then refused by the passive side. The bool form
  // ends the polling loop; the int form reports the failure.
  FifoItem outside = item;
  ASSERT_EQ(uccl_engine_update_fifo(&outside, addr(remote.data()) + size, 4096), 0);
  ASSERT_EQ(uccl_engine_write(ab_, lmr, local.data(), 4096, outside, &tid), 0) << lastError();
  EXPECT_EQ(pollDone(ab_, tid), -1);
  EXPECT_NE(lastError().find("kRefused"), std::string::npos) << lastError();
  ASSERT_EQ(uccl_engine_write(ab_, lmr, local.data(), 4096, outside, &tid), 0) << lastError();
  EXPECT_TRUE(statusDone(ab_, tid));
  EXPECT_NE(lastError().find("uccl_engine_xfer_status"), std::string::npos) << lastError();

  // An item that prepare_fifo did not produce is refused and left as it was.
  FifoItem junk{};
  junk.addr = 42;
  EXPECT_EQ(uccl_engine_update_fifo(&junk, 1, 1), -1);
  EXPECT_EQ(junk.addr, 42u);
  EXPECT_EQ(uccl_engine_update_fifo(nullptr, 1, 1), -1);
}

TEST_F(CApi, BadTransferArgumentsAreErrors) {
  std::vector<uint8_t> small(4096, 1), remote(4096, 0);
  uccl_mr_t mr = reg(a_, small), rmr = reg(b_, remote);
  FifoItem item = advertise(b_, rmr, remote.data(), remote.size());
  std::vector<uint8_t> big(8192, 1);
  uint64_t tid = 0;

  // Beyond the registration, beyond the advertisement, unknown mr, NULL buffer / out-param.
  EXPECT_EQ(uccl_engine_send(ab_, mr, small.data(), 8192, &tid), -1);
  EXPECT_EQ(uccl_engine_send(ab_, mr, small.data() + 1, 4096, &tid), -1);
  EXPECT_EQ(uccl_engine_write(ab_, mr, small.data(), 8192, item, &tid), -1);
  EXPECT_EQ(uccl_engine_write(ab_, 999999, small.data(), 16, item, &tid), -1);
  EXPECT_EQ(uccl_engine_send(ab_, 0, small.data(), 16, &tid), -1);
  EXPECT_EQ(uccl_engine_send(ab_, mr, nullptr, 16, &tid), -1);
  EXPECT_EQ(uccl_engine_send(ab_, mr, small.data(), 16, nullptr), -1);
  // A recv's size is a maximum (clamped to the registration, as UCCL's scripts need): a recv of
  // 8192 into this 4096-byte registration would be valid. One outside the registration is not.
  EXPECT_EQ(uccl_engine_recv(ba_, rmr, big.data(), 16), -1);
  EXPECT_EQ(uccl_engine_prepare_fifo(b_, rmr, remote.data(), 8192, reinterpret_cast<char*>(&item)),
            -1);
  EXPECT_EQ(uccl_engine_prepare_fifo(b_, rmr, remote.data(), 16, nullptr), -1);
  EXPECT_EQ(uccl_engine_prepare_fifo(b_, 999999, remote.data(), 16, reinterpret_cast<char*>(&item)),
            -1);
  FifoItem junk{};
  EXPECT_EQ(uccl_engine_read(ab_, mr, small.data(), 16, junk, &tid), -1);

  // Vector forms: no pieces, NULL arrays.
  const void* ptrs[1] = {small.data()};
  size_t sizes[1] = {16};
  EXPECT_EQ(uccl_engine_send_vector(ab_, &mr, ptrs, sizes, 0, &tid), -1);
  EXPECT_EQ(uccl_engine_send_vector(ab_, nullptr, ptrs, sizes, 1, &tid), -1);
  EXPECT_EQ(uccl_engine_write_vector(ab_, &mr, nullptr, sizes, &item, 1, &tid), -1);
  void* vptrs[1] = {small.data()};
  EXPECT_EQ(uccl_engine_read_vector(ab_, &mr, vptrs, sizes, nullptr, 1, &tid), -1);
  EXPECT_EQ(uccl_engine_recv_vector(ba_, &rmr, nullptr, sizes, 1), -1);

  // Registration: NULL, size 0, NULL out-param; dereg of an unknown id.
  uccl_mr_t out = 0;
  EXPECT_EQ(uccl_engine_reg(a_, 0, 16, &out), -1);
  EXPECT_EQ(uccl_engine_reg(a_, addr(big.data()), 0, &out), -1);
  EXPECT_EQ(uccl_engine_reg(a_, addr(big.data()), big.size(), nullptr), -1);
  EXPECT_EQ(out, 0u);
  uccl_engine_mr_destroy(a_, 999999);
  EXPECT_EQ(lastError().rfind("uccl_engine_mr_destroy: ", 0), 0u) << lastError();

  // Unknown transfer ids: the bool form ends a polling loop, the int form says why.
  EXPECT_TRUE(uccl_engine_xfer_status(ab_, 123456789));
  bool done = false;
  EXPECT_EQ(uccl_engine_xfer_poll(ab_, 123456789, &done, nullptr), -1);
  EXPECT_FALSE(done);
  EXPECT_EQ(uccl_engine_xfer_poll(ab_, 1, nullptr, nullptr), -1);

  // Metadata and connect arguments.
  EXPECT_EQ(uccl_engine_get_metadata(a_, nullptr), -1);
  EXPECT_EQ(uccl_engine_connect(a_, nullptr, -1, 1), nullptr);
  EXPECT_EQ(uccl_engine_connect(a_, "not-an-ip", -1, 1), nullptr);
  EXPECT_EQ(uccl_engine_connect(a_, "127.0.0.1", -1, 70000), nullptr);

  // The connection still works after all that.
  uint64_t tx = 0;
  ASSERT_EQ(uccl_engine_send(ab_, mr, small.data(), 16, &tx), 0) << lastError();
  ASSERT_EQ(uccl_engine_recv(ba_, rmr, remote.data(), remote.size()), 0) << lastError();
  ASSERT_EQ(pollDone(ab_, tx), 0) << lastError();
}

TEST_F(CApi, UnknownConnectionHandlesAreErrors) {
  alignas(64) char fake[256] = {};
  std::vector<uint8_t> buf(64);
  uccl_mr_t mr = reg(a_, buf);
  FifoItem item{};
  notify_msg_t msg{};
  uint64_t tid = 0;
  for (uccl_conn_t* c :
       {static_cast<uccl_conn_t*>(nullptr), reinterpret_cast<uccl_conn_t*>(fake)}) {
    EXPECT_EQ(uccl_engine_send(c, mr, buf.data(), 16, &tid), -1);
    EXPECT_EQ(uccl_engine_write(c, mr, buf.data(), 16, item, &tid), -1);
    EXPECT_EQ(uccl_engine_read(c, mr, buf.data(), 16, item, &tid), -1);
    EXPECT_EQ(uccl_engine_recv(c, mr, buf.data(), 16), -1);
    EXPECT_EQ(uccl_engine_send_notif(c, &msg), -1);
    EXPECT_TRUE(uccl_engine_xfer_status(c, 1));
    EXPECT_EQ(uccl_engine_start_listener(c), -1);
    uccl_engine_conn_destroy(c);
    EXPECT_EQ(lastError().rfind("uccl_engine_conn_destroy: ", 0), 0u) << lastError();
  }
  // A destroyed connection handle is no longer live.
  uccl_engine_conn_destroy(ab_);
  uccl_conn_t* stale = ab_;
  ab_ = nullptr;
  EXPECT_EQ(uccl_engine_send(stale, mr, buf.data(), 16, &tid), -1);
  EXPECT_NE(lastError().find("not live"), std::string::npos) << lastError();
}

TEST_F(CApi, DestroyWakesABlockedRecvAndReleasesItsConnections) {
  std::vector<uint8_t> buf(4096);
  uccl_mr_t mr = reg(b_, buf);
  uccl_conn_t* conn = ba_;
  auto recv = std::async(std::launch::async, [conn, mr, &buf] {
    return uccl_engine_recv(conn, mr, buf.data(), buf.size());
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(recv.wait_for(0s), std::future_status::timeout) << "recv returned with nothing sent";
  uccl_engine_destroy(b_);
  b_ = nullptr;
  ASSERT_EQ(recv.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(recv.get(), -1);
  // ba_ was released with its engine: using it is an error, not a crash.
  uccl_conn_t* stale = ba_;
  ba_ = nullptr;
  EXPECT_TRUE(uccl_engine_xfer_status(stale, 1));
  uccl_engine_conn_destroy(stale);
  EXPECT_NE(lastError().find("not live"), std::string::npos) << lastError();
}

}  // namespace

namespace {

// UCCL's connect takes the peer's GPU as a string: a BDF (then the port is required), an index,
// or nothing (host-only peers have no BDF in their metadata). Malformed text is an error.
TEST_F(CApi, ConnectTakesUcclsGpuStringForms) {
  char* md = nullptr;
  ASSERT_EQ(uccl_engine_get_metadata(b_, &md), 0) << lastError();
  std::string ip, bdf;
  int port = 0;
  ASSERT_TRUE(parseMetadata(md, &ip, &port, &bdf)) << md;
  delete[] md;

  EXPECT_EQ(uccl_engine_connect(a_, ip.c_str(), "not-a-bdf", port), nullptr);
  EXPECT_NE(lastError().find("neither a PCI BDF"), std::string::npos) << lastError();
  EXPECT_EQ(uccl_engine_connect(a_, ip.c_str(), "0000:4a:00.0", 0), nullptr);
  EXPECT_NE(lastError().find("pass the port"), std::string::npos) << lastError();
  EXPECT_EQ(uccl_engine_connect(a_, ip.c_str(), "0000:4a:00.0:1", port), nullptr);
  EXPECT_EQ(uccl_engine_connect(a_, ip.c_str(), "123456", port), nullptr);

  // Each accepted form makes a connection that b accepts.
  const char* forms[] = {"0000:4a:00.0", "4A:00.0", "0", "", nullptr};
  for (const char* gpu : forms) {
    std::thread acceptor([this] {
      uccl_conn_t* c = uccl_engine_accept(b_, nullptr, 0, nullptr);
      if (c != nullptr) uccl_engine_conn_destroy(c);
    });
    uccl_conn_t* c = uccl_engine_connect(a_, ip.c_str(), gpu, port, /*same_process=*/false);
    std::string error = c == nullptr ? lastError() : "";
    if (c == nullptr) uccl_engine_stop_accept(b_);  // never leave the acceptor blocked
    acceptor.join();
    ASSERT_NE(c, nullptr) << (gpu ? gpu : "NULL") << ": " << error;
    EXPECT_FALSE(uccl_engine_conn_is_local(c));
    uccl_engine_conn_destroy(c);
  }
}

// same_process = true: an engine connected to itself (NIXL does this for every agent) is an
// ordinary loopback connection that moves bytes.
TEST_F(CApi, SameProcessConnectionToItself) {
  char* md = nullptr;
  ASSERT_EQ(uccl_engine_get_metadata(a_, &md), 0) << lastError();
  std::string ip, bdf;
  int port = 0;
  ASSERT_TRUE(parseMetadata(md, &ip, &port, &bdf)) << md;
  delete[] md;
  uccl_conn_t* in = nullptr;
  std::thread acceptor([&] { in = uccl_engine_accept(a_, nullptr, 0, nullptr); });
  uccl_conn_t* self = uccl_engine_connect(a_, ip.c_str(), bdf.c_str(), port, true);
  std::string error = self == nullptr ? lastError() : "";
  if (self == nullptr) uccl_engine_stop_accept(a_);
  acceptor.join();
  ASSERT_NE(self, nullptr) << error;
  ASSERT_NE(in, nullptr);
  EXPECT_FALSE(uccl_engine_conn_is_local(self));

  auto src = pattern(100000, 7);
  std::vector<uint8_t> dst(src.size(), 0);
  uccl_mr_t smr = reg(a_, src), dmr = reg(a_, dst);
  FifoItem item = advertise(a_, dmr, dst.data(), dst.size());
  uint64_t tid = 0;
  ASSERT_EQ(uccl_engine_write(self, smr, src.data(), src.size(), item, &tid), 0) << lastError();
  ASSERT_EQ(pollDone(self, tid), 0) << lastError();
  EXPECT_EQ(dst, src);
  uccl_engine_conn_destroy(self);
  uccl_engine_conn_destroy(in);
}

// Host-only engines (these): no connection is local, host memory has no IPC info, ipc_bufs are
// not read. The GPU form is tests/c_api/ipc_gpu_test.cc.
TEST_F(CApi, IpcCallsOnHostOnlyEngines) {
  EXPECT_FALSE(uccl_engine_conn_is_local(ab_));
  EXPECT_FALSE(uccl_engine_conn_is_local(ba_));
  EXPECT_FALSE(uccl_engine_conn_is_local(nullptr));
  EXPECT_NE(lastError().find("uccl_engine_conn_is_local"), std::string::npos) << lastError();

  std::vector<uint8_t> buf(1 << 16, 1);
  uccl_mr_t mr = reg(b_, buf);
  char blob[IPC_INFO_SIZE];
  std::memset(blob, 0x77, sizeof(blob));
  bool has_ipc = true;
  ASSERT_EQ(uccl_engine_get_ipc_info(b_, addr(buf.data()), blob, &has_ipc), 0) << lastError();
  EXPECT_FALSE(has_ipc);
  EXPECT_TRUE(std::all_of(blob, blob + IPC_INFO_SIZE, [](char c) { return c == 0; }));
  EXPECT_EQ(uccl_engine_get_ipc_info(b_, addr(buf.data()), nullptr, &has_ipc), -1);
  EXPECT_EQ(uccl_engine_get_ipc_info(b_, addr(buf.data()), blob, nullptr), -1);
  EXPECT_EQ(uccl_engine_get_ipc_info(nullptr, addr(buf.data()), blob, &has_ipc), -1);
  // Not the start of a registration: -1, as UCCL.
  EXPECT_EQ(uccl_engine_get_ipc_info(b_, addr(buf.data() + 8), blob, &has_ipc), -1);
  EXPECT_NE(lastError().find("not the start of a registration"), std::string::npos) << lastError();

  // update_ipc_info refuses a blob get_ipc_info did not make, and leaves it unchanged.
  std::memset(blob, 0x5A, sizeof(blob));
  char before[IPC_INFO_SIZE];
  std::memcpy(before, blob, sizeof(blob));
  EXPECT_EQ(uccl_engine_update_ipc_info(blob, 0x1000 + 4096, 0x1000, 512), -1);
  EXPECT_NE(lastError().find("bad magic"), std::string::npos) << lastError();
  EXPECT_EQ(std::memcmp(before, blob, sizeof(blob)), 0);
  EXPECT_EQ(uccl_engine_update_ipc_info(nullptr, 0, 0, 0), -1);

  // The vector calls with ipc_bufs (as NIXL passes them for local connections): not read.
  auto src = pattern(buf.size(), 8);
  uccl_mr_t smr = reg(a_, src);
  FifoItem item = advertise(b_, mr, buf.data(), buf.size());
  std::vector<char> junk(IPC_INFO_SIZE, 0x5A);
  uint64_t tid = 0;
  ASSERT_EQ(uccl_engine_write_vector(ab_, {smr}, {src.data()}, {src.size()}, {item}, 1, &tid,
                                     {junk.data()}),
            0)
      << lastError();
  ASSERT_EQ(pollDone(ab_, tid), 0) << lastError();
  EXPECT_EQ(buf, src);
  // Given but shorter than num_iovs: an error, not an out-of-bounds read.
  EXPECT_EQ(uccl_engine_read_vector(ab_, {smr, smr}, {src.data(), src.data()}, {16, 16},
                                    {item, item}, 2, &tid, {junk.data()}),
            -1);
}

// uccl_engine_xfer_status never lets a failed transfer pass as a success: it returns true (the
// transfer is over) and the next send_notif on that connection from this thread fails, which is
// what NIXL's plugin turns into NIXL_ERR_BACKEND. Only that one call, on that connection, on
// that thread.
TEST_F(CApi, FailedTransferRefusesTheNextNotification) {
  std::vector<uint8_t> remote(4096, 0), local = pattern(4096, 9);
  uccl_mr_t lmr = reg(a_, local), rmr = reg(b_, remote);
  FifoItem item = advertise(b_, rmr, remote.data(), remote.size());
  uccl_engine_mr_destroy(b_, rmr);  // the target goes away
  notify_msg_t msg{};
  std::snprintf(msg.name, sizeof(msg.name), "a");
  std::snprintf(msg.msg, sizeof(msg.msg), "done");

  auto failed_transfer = [&] {
    uint64_t tid = 0;
    EXPECT_EQ(uccl_engine_read(ab_, lmr, local.data(), 4096, item, &tid), 0) << lastError();
    EXPECT_TRUE(statusDone(ab_, tid));
  };
  failed_transfer();
  EXPECT_EQ(uccl_engine_send_notif(ab_, &msg), -1);
  EXPECT_NE(lastError().find("not sent: transfer"), std::string::npos) << lastError();
  EXPECT_EQ(uccl_engine_send_notif(ab_, &msg), 0) << "refused once only: " << lastError();

  failed_transfer();
  EXPECT_EQ(uccl_engine_send_notif(ba_, &msg), 0) << "another connection: " << lastError();
  failed_transfer();
  EXPECT_FALSE(uccl_engine_conn_is_local(ab_));  // any other call clears it
  EXPECT_EQ(uccl_engine_send_notif(ab_, &msg), 0) << lastError();
  failed_transfer();
  std::thread other([&] { EXPECT_EQ(uccl_engine_send_notif(ab_, &msg), 0) << lastError(); });
  other.join();
  notify_msg_v_t v{"a", "v"};
  EXPECT_EQ(uccl_engine_send_notif_v(ab_, &v), -1) << "the _v form is refused too";

  // A successful transfer arms nothing.
  std::vector<uint8_t> ok_remote(4096, 0);
  uccl_mr_t okmr = reg(b_, ok_remote);
  FifoItem ok_item = advertise(b_, okmr, ok_remote.data(), ok_remote.size());
  uint64_t tid = 0;
  ASSERT_EQ(uccl_engine_write(ab_, lmr, local.data(), 4096, ok_item, &tid), 0) << lastError();
  ASSERT_TRUE(statusDone(ab_, tid));
  EXPECT_EQ(uccl_engine_send_notif(ab_, &msg), 0) << lastError();
  EXPECT_EQ(ok_remote, local);

  // What arrived (at b, and one at a: get_notifs drains the whole process): the five that were
  // sent, none of the refused ones.
  std::vector<notify_msg_v_t> got;
  for (auto end = Clock::now() + kDeadline; got.size() < 5 && Clock::now() < end;) {
    auto more = uccl_engine_get_notifs_v();
    got.insert(got.end(), more.begin(), more.end());
    if (more.empty()) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(got.size(), 5u);
}

// UCCL HEAD's variable-length notifications: the length as sent, up to the wire's 256 bytes.
TEST_F(CApi, VariableLengthNotifications) {
  const std::vector<std::string> bodies = {"", std::string("ab\0\0", 4), std::string(256, 'z')};
  for (const std::string& body : bodies) {
    notify_msg_v_t m{"sender", body};
    ASSERT_EQ(uccl_engine_send_notif_v(ab_, &m), 0) << lastError();
  }
  std::vector<notify_msg_v_t> got;
  for (auto end = Clock::now() + kDeadline; got.size() < bodies.size() && Clock::now() < end;) {
    auto more = uccl_engine_get_notifs_v();
    got.insert(got.end(), more.begin(), more.end());
    if (more.empty()) std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(got.size(), bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_EQ(got[i].name, "sender");
    EXPECT_EQ(got[i].msg, bodies[i]) << i;
  }
  notify_msg_v_t too_long{"sender", std::string(257, 'z')};
  EXPECT_EQ(uccl_engine_send_notif_v(ab_, &too_long), -1);
  notify_msg_v_t nul_name{std::string("a\0b", 3), "x"};
  EXPECT_EQ(uccl_engine_send_notif_v(ab_, &nul_name), -1);
  notify_msg_v_t long_name{std::string(256, 'n'), "x"};
  EXPECT_EQ(uccl_engine_send_notif_v(ab_, &long_name), -1);
  EXPECT_EQ(uccl_engine_send_notif_v(ab_, nullptr), -1);
  EXPECT_EQ(uccl_engine_send_notif_bytes(ab_, nullptr, 1, nullptr, 0), -1);
}

}  // namespace
