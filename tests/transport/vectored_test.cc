// Vectored requests of the built-in socket transport (abi/net_vectored.h), through the wrapper
// transport::Net: stretches of odd sizes at odd addresses, 1 to 1024 of them, cut differently on
// each side, requests split over several data sockets, many in flight; every byte checked and
// every byte around the stretches untouched. The TCPX rules hold for them as for isend/irecv, and
// the limits are refused with errors. ctest runs each test in its own process (one init each),
// with helper threads and with caller I/O (UCCL_SOCKET_HELPERS), and in UNPACK mode.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "transport/net.h"
#include "transport/plugin_loader.h"
#include "transport/socket/socket_wire.h"
#include "transport/socket/stretch_list.h"

namespace tcpxp::transport {
namespace {

using Clock = std::chrono::steady_clock;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;
constexpr auto kStallLimit = std::chrono::seconds(10);  // no progress this long fails
constexpr char kUntouched = static_cast<char>(0xA5);

// `len` bytes at offset `at` of a side's buffer.
struct Cut {
  size_t at = 0;
  size_t len = 0;
};

// One message: the sender's stretches and the receiver's (the same total). `plain`: posted with
// isend/irecv (one cut), as the peer of a vectored request.
struct Message {
  std::vector<Cut> send, recv;
  bool plain_send = false, plain_recv = false;
};

// Appends cuts of `total` bytes in lengths of [min_len, max_len] (the last one shorter), each
// after a gap of 0..max_gap bytes from `*cursor` on, so that stretches start at odd addresses.
std::vector<Cut> cutsOf(size_t total, size_t min_len, size_t max_len, size_t max_gap,
                        std::mt19937* rng, size_t* cursor) {
  std::vector<Cut> cuts;
  std::uniform_int_distribution<size_t> len(min_len, max_len), gap(0, max_gap);
  for (size_t left = total; left > 0;) {
    size_t n = std::min(len(*rng), left);
    *cursor += gap(*rng);
    cuts.push_back({*cursor, n});
    *cursor += n;
    left -= n;
  }
  return cuts;
}

class Vectored : public ::testing::Test {
 protected:
  void SetUp() override {
    NetPlugin* plugin = nullptr;
    Status st = NetPlugin::builtinSocket(&plugin);
    ASSERT_TRUE(st.isOk()) << st.toString();
    net_ = std::make_unique<Net>(plugin);
    ASSERT_TRUE(net_->hasVectored()) << "the built-in transport offers no vectored requests";
    NetHandle handle{};
    void* listen = nullptr;
    ASSERT_TRUE(net_->listen(0, &handle, &listen).isOk());
    const auto deadline = Clock::now() + kStallLimit;
    while (send_ == nullptr || recv_ == nullptr) {
      if (send_ == nullptr) {
        ASSERT_TRUE(net_->connect(0, &handle, &send_).isOk());
      }
      if (recv_ == nullptr) {
        ASSERT_TRUE(net_->accept(listen, &recv_, nullptr).isOk());
      }
      ASSERT_LT(Clock::now(), deadline) << "connect/accept did not finish";
      std::this_thread::yield();
    }
    ASSERT_TRUE(net_->closeListen(listen).isOk());
  }

  void TearDown() override {
    if (smr_) {
      EXPECT_TRUE(net_->deregMr(send_, smr_).isOk());
    }
    if (rmr_) {
      EXPECT_TRUE(net_->deregMr(recv_, rmr_).isOk());
    }
    if (send_) {
      EXPECT_TRUE(net_->closeSend(send_).isOk());
    }
    if (recv_) {
      EXPECT_TRUE(net_->closeRecv(recv_).isOk());
    }
  }

  // Buffers for the messages (the extents of their cuts, plus a margin), registered once: the
  // source filled with a pattern, the destination with kUntouched.
  void makeBuffers(const std::vector<Message>& msgs) {
    size_t send_end = 0, recv_end = 0;
    for (const Message& m : msgs) {
      for (const Cut& c : m.send) send_end = std::max(send_end, c.at + c.len);
      for (const Cut& c : m.recv) recv_end = std::max(recv_end, c.at + c.len);
    }
    src_.resize(send_end + 64);
    std::mt19937 rng(42);
    for (char& b : src_) b = static_cast<char>(rng());
    dst_.assign(recv_end + 64, kUntouched);
    if (smr_) {
      ASSERT_TRUE(net_->deregMr(send_, smr_).isOk());
    }
    if (rmr_) {
      ASSERT_TRUE(net_->deregMr(recv_, rmr_).isOk());
    }
    ASSERT_TRUE(net_->regMr(send_, src_.data(), src_.size(), MemKind::kHost, &smr_).isOk());
    ASSERT_TRUE(net_->regMr(recv_, dst_.data(), dst_.size(), MemKind::kHost, &rmr_).isOk());
  }

  std::vector<NetStretch> stretches(const std::vector<Cut>& cuts, std::vector<char>& buf,
                                    void* mh) {
    std::vector<NetStretch> list;
    for (const Cut& c : cuts) list.push_back({buf.data() + c.at, c.len, mh});
    return list;
  }

  Status postSend(const Message& m, void** request) {
    if (m.plain_send) {
      return net_->isend(send_, src_.data() + m.send[0].at, m.send[0].len, smr_, request);
    }
    std::vector<NetStretch> list = stretches(m.send, src_, smr_);
    Status st = net_->isendv(send_, list.data(), list.size(), request);
    // The transport copied the list: the caller may reuse it at once.
    std::fill(list.begin(), list.end(), NetStretch{});
    return st;
  }

  Status postRecv(const Message& m, void** request) {
    if (m.plain_recv) {
      return net_->irecv(recv_, dst_.data() + m.recv[0].at, m.recv[0].len, rmr_, request);
    }
    std::vector<NetStretch> list = stretches(m.recv, dst_, rmr_);
    Status st = net_->irecvv(recv_, list.data(), list.size(), request);
    std::fill(list.begin(), list.end(), NetStretch{});
    return st;
  }

  // Moves the messages in order with at most `depth` requests posted per comm, testing only the
  // FIFO heads and consuming each receive once done; both comms are driven from this thread (in
  // caller-I/O mode the bytes move inside these calls).
  AssertionResult moveAll(const std::vector<Message>& msgs, size_t depth) {
    std::vector<void*> sreq(msgs.size()), rreq(msgs.size());
    size_t sent = 0, received = 0, sposted = 0, rposted = 0;
    auto last_progress = Clock::now();
    while (sent < msgs.size() || received < msgs.size()) {
      bool progressed = false;
      while (sposted < msgs.size() && sposted - sent < depth) {
        Status st = postSend(msgs[sposted], &sreq[sposted]);
        if (!st.isOk()) return AssertionFailure() << "send #" << sposted << ": " << st.toString();
        if (sreq[sposted] == nullptr) break;
        ++sposted;
        progressed = true;
      }
      while (rposted < msgs.size() && rposted - received < depth) {
        Status st = postRecv(msgs[rposted], &rreq[rposted]);
        if (!st.isOk()) return AssertionFailure() << "recv #" << rposted << ": " << st.toString();
        if (rreq[rposted] == nullptr) break;
        ++rposted;
        progressed = true;
      }
      bool done = false;
      if (sent < sposted) {
        Status st = net_->test(sreq[sent], &done);
        if (!st.isOk()) return AssertionFailure() << "test send #" << sent << ": " << st.toString();
        if (done) ++sent, progressed = true;
      }
      if (received < rposted) {
        Status st = net_->test(rreq[received], &done);
        if (!st.isOk()) {
          return AssertionFailure() << "test recv #" << received << ": " << st.toString();
        }
        if (done) {
          st = net_->irecvConsumed(recv_, rreq[received]);
          if (!st.isOk()) return AssertionFailure() << "irecvConsumed: " << st.toString();
          ++received;
          progressed = true;
        }
      }
      if (progressed) {
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > kStallLimit) {
        return AssertionFailure() << "no progress for " << kStallLimit.count() << " s: " << sent
                                  << "/" << msgs.size() << " sent, " << received << " received";
      }
    }
    return AssertionSuccess();
  }

  // Every message's bytes, in stream order, at its receive cuts; every other byte untouched.
  AssertionResult verify(const std::vector<Message>& msgs) const {
    std::vector<char> want(dst_.size(), kUntouched);
    for (const Message& m : msgs) {
      std::vector<char> stream;
      for (const Cut& c : m.send) stream.insert(stream.end(), &src_[c.at], &src_[c.at] + c.len);
      size_t at = 0;
      for (const Cut& c : m.recv) {
        std::memcpy(&want[c.at], stream.data() + at, c.len);
        at += c.len;
      }
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if (dst_[i] != want[i]) {
        return AssertionFailure() << "destination byte " << i << " is " << int(dst_[i] & 0xff)
                                  << ", expected " << int(want[i] & 0xff);
      }
    }
    return AssertionSuccess();
  }

  std::unique_ptr<Net> net_;
  void* send_ = nullptr;
  void* recv_ = nullptr;
  void* smr_ = nullptr;
  void* rmr_ = nullptr;
  std::vector<char> src_, dst_;
};

// The shapes the tests below mix: 1 and many stretches, cut differently on each side, laid out
// from the cursors on (which end past them).
std::vector<Message> mixedShapes(std::mt19937* rng, size_t* s, size_t* r) {
  std::vector<Message> msgs;
  auto add = [&](size_t total, size_t smin, size_t smax, size_t rmin, size_t rmax) {
    Message m;
    m.send = cutsOf(total, smin, smax, 63, rng, s);
    m.recv = cutsOf(total, rmin, rmax, 63, rng, r);
    msgs.push_back(std::move(m));
    return &msgs.back();
  };
  // Exactly 1024 stretches of 1..59 bytes on one side, one stretch on the other: with its
  // header, a piece over them needs more than kIovMax iovecs (two sendmsg calls).
  auto tiny = [&](bool on_send) {
    Message m;
    std::vector<Cut>& many = on_send ? m.send : m.recv;
    size_t* at = on_send ? s : r;
    std::uniform_int_distribution<size_t> len(1, 59);
    size_t total = 0;
    for (size_t i = 0; i < Net::kMaxStretches; ++i) {
      size_t n = len(*rng);
      *at += i % 3;
      many.push_back({*at, n});
      *at += n;
      total += n;
    }
    m.plain_send = !on_send;
    m.plain_recv = on_send;
    (on_send ? m.recv : m.send).push_back({(on_send ? *r : *s) + 1, total});
    (on_send ? *r : *s) += total + 1;
    msgs.push_back(std::move(m));
  };
  add(12345, 12345, 12345, 12345, 12345);  // 1 stretch each side
  add(100000, 100, 20000, 100, 20000);     // odd sizes both sides
  tiny(true);
  tiny(false);
  add(3 << 20, 3072, 3072, 3072, 3100);                        // 1024 stretches, over sockets
  add(777777, 777777, 777777, 4096, 4096)->plain_send = true;  // isend -> irecvv
  add(555555, 1000, 9000, 555555, 555555)->plain_recv = true;  // isendv -> irecv
  // Empty stretches anywhere in the list move nothing.
  Message& e = *add(70001, 5000, 30000, 7, 40000);
  e.send.insert(e.send.begin(), Cut{e.send[0].at, 0});
  e.recv.insert(e.recv.begin() + 1, Cut{e.recv[1].at, 0});
  e.recv.push_back(Cut{e.recv.back().at, 0});
  return msgs;
}

TEST(StretchList, SliceMapsOffsetsOntoStretches) {
  char buf[100];
  const tcpxpNetStretch_v1_t list[] = {
      {buf, 10, nullptr}, {buf + 20, 0, nullptr}, {buf + 30, 5, nullptr}, {buf + 50, 20, nullptr}};
  socket::StretchList s;
  s.assign(list, 4);
  EXPECT_EQ(s.bytes(), 35u);
  iovec iov[4];
  // [8, 8 + 10): the end of the first, the whole third (the empty one skipped), the fourth's start.
  ASSERT_EQ(s.slice(8, 10, iov, 4), 3);
  EXPECT_EQ(iov[0].iov_base, buf + 8);
  EXPECT_EQ(iov[0].iov_len, 2u);
  EXPECT_EQ(iov[1].iov_base, buf + 30);
  EXPECT_EQ(iov[1].iov_len, 5u);
  EXPECT_EQ(iov[2].iov_base, buf + 50);
  EXPECT_EQ(iov[2].iov_len, 3u);
  // At most `max`: the caller resumes where they end.
  ASSERT_EQ(s.slice(8, 10, iov, 2), 2);
  // An offset at a stretch boundary starts in the next non-empty stretch.
  ASSERT_EQ(s.slice(10, 1, iov, 4), 1);
  EXPECT_EQ(iov[0].iov_base, buf + 30);
  ASSERT_EQ(s.slice(15, 20, iov, 4), 1);
  EXPECT_EQ(iov[0].iov_base, buf + 50);
  EXPECT_EQ(iov[0].iov_len, 20u);
  s.assign(buf + 1, 7);
  ASSERT_EQ(s.slice(3, 4, iov, 4), 1);
  EXPECT_EQ(iov[0].iov_base, buf + 4);
  EXPECT_EQ(s.bytes(), 7u);
}

TEST_F(Vectored, OddStretchesArriveByteForByteOneAtATime) {
  std::mt19937 rng(1);
  size_t s = 3, r = 5;  // odd starts
  std::vector<Message> msgs = mixedShapes(&rng, &s, &r);
  makeBuffers(msgs);
  ASSERT_TRUE(moveAll(msgs, 1));
  EXPECT_TRUE(verify(msgs));
}

TEST_F(Vectored, ManyInFlightEachSplitOverSockets) {
  // 3 MiB requests of 1024 stretches go out in several pieces on several data sockets, idle
  // comm or busy (socket_send.cc), whose boundaries fall inside stretches on both sides.
  EXPECT_GE(socket::splitRequest(3 << 20, 64 << 10, 4).pieces, 2u);
  EXPECT_GE(socket::splitBusyRequest(3 << 20, 256 << 10, 512 << 10, 4).pieces, 2u);
  std::mt19937 rng(2);
  std::vector<Message> msgs;
  size_t s = 1, r = 7;
  for (int round = 0; round < 3; ++round) {
    for (Message& m : mixedShapes(&rng, &s, &r)) msgs.push_back(std::move(m));
  }
  makeBuffers(msgs);
  ASSERT_TRUE(moveAll(msgs, Net::kMaxOutstanding));
  EXPECT_TRUE(verify(msgs));
}

TEST_F(Vectored, LimitsAreRefusedWithErrors) {
  std::vector<char> buf(8 << 20);
  void* smr = nullptr;
  void* rmr = nullptr;
  ASSERT_TRUE(net_->regMr(send_, buf.data(), buf.size(), MemKind::kHost, &smr).isOk());
  ASSERT_TRUE(net_->regMr(recv_, buf.data(), buf.size(), MemKind::kHost, &rmr).isOk());
  void* req = reinterpret_cast<void*>(1);
  auto both = [&](const std::vector<NetStretch>& s, void* smh, void* rmh, const char* what) {
    SCOPED_TRACE(what);
    std::vector<NetStretch> send = s, recv = s;
    for (auto& x : send) x.mhandle = smh;
    for (auto& x : recv) x.mhandle = rmh;
    Status st = net_->isendv(send_, send.data(), send.size(), &req);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
    EXPECT_EQ(req, nullptr);
    st = net_->irecvv(recv_, recv.data(), recv.size(), &req);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
    EXPECT_EQ(req, nullptr);
  };
  both({}, smr, rmr, "no stretches");
  both(std::vector<NetStretch>(Net::kMaxStretches + 1, {buf.data(), 1, nullptr}), smr, rmr,
       "1025 stretches");
  both({{buf.data(), 2 << 20, nullptr}, {buf.data() + (2 << 20), 2 << 20, nullptr}}, smr, rmr,
       "4 MiB in all");
  both({{buf.data(), 100, nullptr}, {buf.data() + buf.size() - 10, 11, nullptr}}, smr, rmr,
       "a stretch past its registration");
  both({{buf.data(), 100, nullptr}}, nullptr, nullptr, "no mhandle");

  // The transport's own checks, below the wrapper's (what a caller of the raw ops gets).
  const tcpxpNetVectored_v1_t* ops = nullptr;
  NetPlugin* plugin = nullptr;
  ASSERT_TRUE(NetPlugin::builtinSocket(&plugin).isOk());
  ops = plugin->vectored();
  ASSERT_NE(ops, nullptr);
  std::vector<tcpxpNetStretch_v1_t> raw(TCPXP_NET_MAX_STRETCHES + 1, {buf.data(), 1, smr});
  EXPECT_EQ(ops->isendv(send_, raw.data(), TCPXP_NET_MAX_STRETCHES + 1, &req), ncclInvalidArgument);
  EXPECT_EQ(ops->isendv(send_, raw.data(), 0, &req), ncclInvalidArgument);
  EXPECT_EQ(ops->isendv(send_, nullptr, 1, &req), ncclInvalidArgument);
  raw[0] = {buf.data(), 4 << 20, smr};
  EXPECT_EQ(ops->isendv(send_, raw.data(), 1, &req), ncclInvalidArgument);
  raw[0] = {buf.data() + 1, buf.size(), rmr};
  EXPECT_EQ(ops->irecvv(recv_, raw.data(), 1, &req), ncclInvalidArgument);
  EXPECT_EQ(ops->irecvv(nullptr, raw.data(), 1, &req), ncclInvalidArgument);
  EXPECT_TRUE(net_->deregMr(send_, smr).isOk());
  EXPECT_TRUE(net_->deregMr(recv_, rmr).isOk());
}

TEST_F(Vectored, TcpxRulesHoldForThemAsForIsendAndIrecv) {
  std::vector<Message> msgs(Net::kMaxOutstanding + 1);
  std::mt19937 rng(3);
  size_t s = 1, r = 1;
  for (Message& m : msgs) {
    m.send = cutsOf(5000, 100, 900, 3, &rng, &s);
    m.recv = cutsOf(5000, 100, 900, 3, &rng, &r);
  }
  msgs[3].plain_send = msgs[4].plain_recv = true;  // mixed with plain requests in one window
  msgs[3].send = {Cut{s, 5000}};
  msgs[4].recv = {Cut{r, 5000}};
  makeBuffers(msgs);
  std::vector<void*> sreq(msgs.size()), rreq(msgs.size());
  // 16 outstanding per comm, plain and vectored together: the 17th is refused.
  for (size_t i = 0; i < Net::kMaxOutstanding; ++i) {
    ASSERT_TRUE(postSend(msgs[i], &sreq[i]).isOk());
    ASSERT_TRUE(postRecv(msgs[i], &rreq[i]).isOk());
    ASSERT_NE(sreq[i], nullptr);
    ASSERT_NE(rreq[i], nullptr);
  }
  EXPECT_FALSE(postSend(msgs.back(), &sreq.back()).isOk());
  EXPECT_FALSE(postRecv(msgs.back(), &rreq.back()).isOk());
  // test() on anything but the FIFO head is refused.
  bool done = false;
  EXPECT_FALSE(net_->test(sreq[1], &done).isOk());
  EXPECT_FALSE(net_->test(rreq[1], &done).isOk());
  // Every receive completes; none is consumed yet, so the window stays full.
  const auto deadline = Clock::now() + kStallLimit;
  for (size_t i = 0, j = 0; i < Net::kMaxOutstanding || j < Net::kMaxOutstanding;) {
    ASSERT_LT(Clock::now(), deadline) << i << " sends and " << j << " receives done";
    if (i < Net::kMaxOutstanding) {
      ASSERT_TRUE(net_->test(sreq[i], &done).isOk());
      if (done) ++i;
    }
    if (j < Net::kMaxOutstanding) {
      ASSERT_TRUE(net_->test(rreq[j], &done).isOk());
      if (done) ++j;
    }
  }
  EXPECT_FALSE(postRecv(msgs.back(), &rreq.back()).isOk()) << "a receive counts until consumed";
  // irecvConsumed in FIFO order only.
  EXPECT_FALSE(net_->irecvConsumed(recv_, rreq[1]).isOk());
  for (size_t i = 0; i < Net::kMaxOutstanding; ++i) {
    ASSERT_TRUE(net_->irecvConsumed(recv_, rreq[i]).isOk());
  }
  // The comms still work (a refusal is no failure of the comm).
  std::vector<Message> last(msgs.end() - 1, msgs.end());
  ASSERT_TRUE(moveAll(last, 1));
  EXPECT_TRUE(verify(std::vector<Message>(msgs.begin(), msgs.end())));
}

TEST_F(Vectored, CudaRegistrationsAreRefused) {
  if (!builtinSettings(false).unpack) {
    GTEST_SKIP() << "NCCL_PTR_CUDA registrations need UCCL_SOCKET_UNPACK=1";
  }
  // 4 KiB-aligned host memory registered as CUDA (the emulation without a GPU); with a GPU the
  // transport wants GPU memory there, which the refusal does not depend on.
  auto* page = static_cast<char*>(std::aligned_alloc(4096, 1 << 16));
  ASSERT_NE(page, nullptr);
  void* smr = nullptr;
  void* rmr = nullptr;
  Status st = net_->regMr(send_, page, 1 << 16, MemKind::kCuda, &smr);
  if (!st.isOk()) {
    std::free(page);
    GTEST_SKIP() << "no CUDA registration of host memory here (a GPU is usable): " << st.toString();
  }
  ASSERT_TRUE(net_->regMr(recv_, page, 1 << 16, MemKind::kCuda, &rmr).isOk());
  NetStretch one{page, 4096, smr};
  void* req = nullptr;
  EXPECT_EQ(net_->isendv(send_, &one, 1, &req).code(), Code::kInvalidArgument);
  one.mhandle = rmr;
  EXPECT_EQ(net_->irecvv(recv_, &one, 1, &req).code(), Code::kInvalidArgument);
  EXPECT_TRUE(net_->deregMr(send_, smr).isOk());
  EXPECT_TRUE(net_->deregMr(recv_, rmr).isOk());
  std::free(page);
  // Host registrations still take vectored receives in UNPACK mode (no bounce pages).
  std::mt19937 rng(4);
  size_t s = 0, r = 9;
  std::vector<Message> msgs = mixedShapes(&rng, &s, &r);
  makeBuffers(msgs);
  ASSERT_TRUE(moveAll(msgs, Net::kMaxOutstanding));
  EXPECT_TRUE(verify(msgs));
}

TEST(VectoredOffer, ALoadedLibraryHasNone) {
  // The same transport built as libnccl-net-tcpxp.so: reached through the v7 table alone.
  NetPlugin* plugin = nullptr;
  ASSERT_TRUE(NetPlugin::load(TCPXP_SOCKET_PLUGIN_PATH, &plugin).isOk());
  Net net(plugin);
  EXPECT_FALSE(net.hasVectored());
  NetStretch one{};
  void* req = reinterpret_cast<void*>(1);
  EXPECT_EQ(net.isendv(nullptr, &one, 1, &req).code(), Code::kNotSupported);
  EXPECT_EQ(req, nullptr);
  EXPECT_EQ(net.irecvv(nullptr, &one, 1, &req).code(), Code::kNotSupported);
}

TEST(VectoredOffer, UcclSocketIovOffTurnsThemOff) {
  // Read at init: this test's process initialises the built-in transport here (ctest runs each
  // test alone).
  ASSERT_EQ(setenv("UCCL_SOCKET_IOV", "0", 1), 0);
  NetPlugin* plugin = nullptr;
  ASSERT_TRUE(NetPlugin::builtinSocket(&plugin).isOk());
  EXPECT_FALSE(Net(plugin).hasVectored());
}

}  // namespace
}  // namespace tcpxp::transport
