// Conformance suite for any ncclNet v7 library: TCPX behaviour, the facts of docs/TCPX.md that
// hold for the real plugin and for the built-in transport alike. Written to TCPX's rules so that
// it runs unchanged against TCPX: host memory for data, a caller-allocated 16-byte aligned device
// handle for accept, one accept per listen comm, requests under 4 MiB, only FIFO heads tested, at
// most 16 outstanding requests per comm, irecvConsumed after every completed receive in FIFO
// order, each comm driven by one thread, and every wait bounded (no progress for kStallLimit
// fails the test). The built-in transport's stricter answers where TCPX's behaviour is undefined
// or fatal (a second accept, requests of 4 MiB and more) are its guard rails, tested against the
// built-in only in builtin_guard_rails_test.cc.
//
// Library: $TCPXP_CONFORMANCE_PLUGIN, by default the standalone build of the built-in socket
// transport. Mode: getProperties' netDeviceType; UNPACK adds the scatter-list checks. Every test
// runs in its own process (conformance_runner.cc), so a plugin that crashes in one test cannot
// hide the results of the others.
#include <gtest/gtest.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conformance_harness.h"
#include "transport/abi/net_v7.h"
#include "transport/plugin_loader.h"
#include "transport/transports.h"

namespace tcpxp::conformance {
std::string pluginUnderTest() {
  const char* env = std::getenv("TCPXP_CONFORMANCE_PLUGIN");
  return env && *env ? env : TCPXP_SOCKET_PLUGIN_PATH;
}
}  // namespace tcpxp::conformance

namespace {

using namespace tcpxp::conformance;  // NOLINT(build/namespaces): the suite's own harness
using tcpxp::transport::NetPlugin;

// ---------------------------------------------------------------------------------------------
// Fixtures

class Conformance : public NetTest {};

// TCPX's own rules, each with the code TCPX returns; the built-in transport must match them.
class TcpxRules : public NetTest {};

// The UNPACK receive path (netDeviceType 1): scatter lists into bounce pages.
class Unpack : public NetTest {
 protected:
  void SetUp() override {
    NetTest::SetUp();
    if (HasFatalFailure()) return;
    if (!unpack_) {
      GTEST_SKIP() << "the plugin reports netDeviceType " << props_.netDeviceType
                   << " (not UNPACK); run with UCCL_SOCKET_UNPACK=1 for the built-in transport";
    }
  }
  // regMr(NCCL_PTR_CUDA) dereferences the device's pciPath in TCPX (net_tcpx.cc:797): on lo and
  // virtual NICs it is NULL and the process crashes. Such tests run on real GPUDirect-TCPX
  // hardware or against the built-in's UNPACK emulation; elsewhere they skip, saying why.
  void skipWithoutCudaRegistration() {
    if (tcpxp::transport::isBuiltinName(net().name) || props_.pciPath != nullptr) return;
    GTEST_SKIP() << "needs regMr(NCCL_PTR_CUDA), but device 0 ("
                 << (props_.name ? props_.name : "?") << ") of '" << net().name
                 << "' has no pciPath (lo or a virtual NIC): TCPX dereferences it there and "
                    "crashes the process (docs/TCPX.md). Runs on GPUDirect-TCPX hardware or "
                    "against the built-in transport's UNPACK emulation";
  }
};

// ---------------------------------------------------------------------------------------------
// Setup

TEST_F(Conformance, InitDevicesAndProperties) {
  NetPlugin* again = nullptr;
  ASSERT_TRUE(NetPlugin::load(pluginUnderTest(), &again).isOk());
  EXPECT_EQ(&again->table(), g_net) << "a second load must reuse the one init of the process";
  EXPECT_NE(net().name, nullptr);
  int ndev = 0;
  ASSERT_EQ(net().devices(&ndev), ncclSuccess);
  ASSERT_GE(ndev, 1);
  for (int dev = 0; dev < ndev; ++dev) {
    ncclNetProperties_v7_t p{};
    ASSERT_EQ(net().getProperties(dev, &p), ncclSuccess) << "dev " << dev;
    EXPECT_NE(p.name, nullptr) << "dev " << dev;
    EXPECT_EQ(p.maxRecvs, 1) << "dev " << dev;
    EXPECT_TRUE(p.ptrSupport & NCCL_PTR_HOST) << "dev " << dev;
    EXPECT_GT(p.speed, 0) << "dev " << dev;
    EXPECT_GE(p.maxComms, 1) << "dev " << dev;
    if (p.netDeviceType == NCCL_NET_DEVICE_UNPACK) {
      EXPECT_EQ(p.netDeviceVersion, NCCL_NET_DEVICE_UNPACK_VERSION) << "dev " << dev;
      EXPECT_TRUE(p.ptrSupport & NCCL_PTR_CUDA) << "UNPACK receives GPU buffers; dev " << dev;
    } else {
      EXPECT_EQ(p.netDeviceType, NCCL_NET_DEVICE_HOST) << "dev " << dev;
    }
    EXPECT_EQ(p.netDeviceType, props_.netDeviceType) << "all devices share one mode";
  }
}

TEST_F(Conformance, ListenConnectAcceptNonBlocking) {
  Pair p;
  void* listen = nullptr;
  ASSERT_TRUE(connectPair(&p, 0, &listen));
  EXPECT_NE(p.send, nullptr);
  EXPECT_NE(p.recv, nullptr);
  EXPECT_EQ(net().closeListen(listen), ncclSuccess);
  if (unpack_) {
    EXPECT_EQ(p.recv_dev_ptr, &p.recv_dev) << "accept must fill the caller's struct";
    EXPECT_EQ(p.recv_dev.netDeviceType, NCCL_NET_DEVICE_UNPACK);
    EXPECT_EQ(p.recv_dev.netDeviceVersion, NCCL_NET_DEVICE_UNPACK_VERSION);
    EXPECT_NE(p.recv_dev.handle, nullptr);
  }
  // A second connection on the same device works independently of the first.
  Pair q;
  ASSERT_TRUE(connectPair(&q));
}

// ---------------------------------------------------------------------------------------------
// Transfers

TEST_F(Conformance, TransfersOfManySizesAtOffsets) {
  const int sizes[] = {0,          1,
                       2,          3,
                       7,          31,
                       255,        4095,
                       4096,       4097,
                       65535,      65537,
                       1 << 20,    (1 << 20) + 1,
                       3 << 20,    (3 << 20) + 5,
                       kMaxRequest};
  const size_t offsets[][2] = {{0, 0}, {1, 4095}, {4093, 13}};  // {src, dst} inside a registration
  std::vector<Msg> plan;
  for (int size : sizes) {
    for (const auto& off : offsets) plan.push_back({size, off[0], off[1]});
  }
  Rig rig;
  makeRig(&rig, kMaxRequest + 8192, kMaxRequest + 8192, 1);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(runPlan(rig, plan, 1));
  release(&rig);
}

TEST_F(Conformance, SixteenPipelinedRequestsOnOneComm) {
  Rig rig;
  std::vector<Msg> plan = randomPlan(kMaxOutstanding, 1 << 20, kMaxOutstanding, 2);
  plan[0].size = 0;
  plan[1].size = 1;
  plan[2].size = 1 << 20;
  makeRig(&rig, (1 << 20) + 4096, dstBytes(1 << 20, kMaxOutstanding), 2);
  ASSERT_FALSE(HasFatalFailure());
  // Post all 16 sends and all 16 receives, then test the heads in order.
  Fifo sends("send comm"), recvs("recv comm");
  for (const Msg& m : plan) {
    void* req = nullptr;
    ASSERT_EQ(postSend(rig.pair, rig.src.get() + m.src_off, m.size, rig.src_mr->get(), &req),
              ncclSuccess);
    ASSERT_NE(req, nullptr);
    sends.push(req);
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    const Msg& m = plan[i];
    void* req = nullptr;
    ASSERT_EQ(postRecv(rig.pair, rig.dst.get() + m.dst_off, m.size, rig.dst_mr->get(), &req),
              ncclSuccess);
    ASSERT_NE(req, nullptr);
    recvs.push(req, [&, i, req] {
      EXPECT_EQ(firstMismatch(rig.dst.get() + plan[i].dst_off, rig.src.get() + plan[i].src_off,
                              plan[i].size),
                -1)
          << "message #" << i;
      EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, req), ncclSuccess);
    });
  }
  EXPECT_TRUE(drain({&sends, &recvs}));
  EXPECT_EQ(sends.completed(), kMaxOutstanding);
  EXPECT_EQ(recvs.completed(), kMaxOutstanding);
  release(&rig);
}

TEST_F(Conformance, MoreThanSixteenSequentialMessagesReuseSlots) {
  Rig rig;
  std::vector<Msg> plan = randomPlan(70, 64 << 10, 3, 3);
  makeRig(&rig, (64 << 10) + 4096, dstBytes(64 << 10, 3), 3);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(runPlan(rig, plan, 3));
  // One at a time as well: every slot used several times.
  std::vector<Msg> serial = randomPlan(40, 4096, 1, 4);
  EXPECT_TRUE(runPlan(rig, serial, 1));
  release(&rig);
}

TEST_F(Conformance, BothDirectionsAtOnce) {
  // Peer A sends on ab and receives on ba; peer B the reverse; one thread per peer.
  constexpr int kMax = 1 << 20, kWindow = 8;
  Rig ab, ba;
  makeRig(&ab, kMax + 4096, dstBytes(kMax, kWindow), 5);
  ASSERT_FALSE(HasFatalFailure());
  makeRig(&ba, kMax + 4096, dstBytes(kMax, kWindow), 6);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<Msg> plan_ab = randomPlan(24, kMax, kWindow, 7);
  std::vector<Msg> plan_ba = randomPlan(24, kMax, kWindow, 8);
  auto peer = [&](Rig& out, const std::vector<Msg>& out_plan, Rig& in,
                  const std::vector<Msg>& in_plan) {
    SendSide send(out.pair, out.src.get(), out.src_mr->get(), out_plan, kWindow);
    RecvSide recv(in.pair, in.dst.get(), in.dst_mr->get(), in.src.get(), in_plan, kWindow, unpack_);
    EXPECT_TRUE(run({&send, &recv}));
  };
  std::thread a([&] { peer(ab, plan_ab, ba, plan_ba); });
  std::thread b([&] { peer(ba, plan_ba, ab, plan_ab); });
  a.join();
  b.join();
  release(&ab);
  release(&ba);
}

TEST_F(Conformance, ManyCommsAtOnce) {
  constexpr int kPairs = 16, kThreads = 4, kMax = 256 << 10, kWindow = 4;
  std::vector<std::unique_ptr<Rig>> rigs;
  std::vector<std::vector<Msg>> plans;
  for (int i = 0; i < kPairs; ++i) {
    rigs.push_back(std::make_unique<Rig>());
    makeRig(rigs.back().get(), kMax + 4096, dstBytes(kMax, kWindow), 100 + i);
    ASSERT_FALSE(HasFatalFailure()) << "pair " << i;
    plans.push_back(randomPlan(10, kMax, kWindow, 200 + i));
  }
  // Thread t drives pairs t, t + 4, ...: every comm belongs to exactly one thread.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<Side>> owned;
      std::vector<Side*> sides;
      for (int i = t; i < kPairs; i += kThreads) {
        Rig& r = *rigs[i];
        owned.push_back(
            std::make_unique<SendSide>(r.pair, r.src.get(), r.src_mr->get(), plans[i], kWindow));
        owned.push_back(std::make_unique<RecvSide>(r.pair, r.dst.get(), r.dst_mr->get(),
                                                   r.src.get(), plans[i], kWindow, unpack_));
      }
      for (auto& s : owned) sides.push_back(s.get());
      EXPECT_TRUE(run(sides)) << "thread " << t;
    });
  }
  for (auto& t : threads) t.join();
  for (auto& r : rigs) release(r.get());
}

TEST_F(Conformance, TestNeverWritesSizes) {
  Rig rig;
  makeRig(&rig, 8192, 8192, 9);
  ASSERT_FALSE(HasFatalFailure());
  void* sreq = nullptr;
  void* rreq = nullptr;
  ASSERT_EQ(postRecv(rig.pair, rig.dst.get(), 5000, rig.dst_mr->get(), &rreq), ncclSuccess);
  ASSERT_EQ(postSend(rig.pair, rig.src.get(), 5000, rig.src_mr->get(), &sreq), ncclSuccess);
  int sdone = 0, rdone = 0;
  const auto deadline = Clock::now() + kStallLimit;
  while ((!sdone || !rdone) && Clock::now() < deadline) {
    int sizes[4] = {kSizesSentinel, kSizesSentinel, kSizesSentinel, kSizesSentinel};
    if (!sdone) {
      ASSERT_EQ(net().test(sreq, &sdone, sizes), ncclSuccess);
    }
    if (!rdone) {
      ASSERT_EQ(net().test(rreq, &rdone, sizes), ncclSuccess);
    }
    for (int s : sizes) ASSERT_EQ(s, kSizesSentinel) << "test() wrote `sizes`";
  }
  ASSERT_TRUE(sdone && rdone) << "transfer not done within " << kStallLimit.count() << " s";
  EXPECT_EQ(firstMismatch(rig.dst.get(), rig.src.get(), 5000), -1);
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, rreq), ncclSuccess);
  release(&rig);
}

TEST_F(Conformance, CloseWithRequestsOutstanding) {
  constexpr int kSize = 2 << 20;
  // `sending`: sends nobody receives. `receiving`: receives nobody sends.
  Rig sending, receiving;
  makeRig(&sending, 3 * kSize, kSize, 10);
  ASSERT_FALSE(HasFatalFailure());
  makeRig(&receiving, kSize, 3 * kSize, 11);
  ASSERT_FALSE(HasFatalFailure());
  Fifo sends("send comm"), recvs("recv comm");
  for (int i = 0; i < 3; ++i) {
    void* req = nullptr;
    ASSERT_EQ(
        postSend(sending.pair, sending.src.get() + i * kSize, kSize, sending.src_mr->get(), &req),
        ncclSuccess);
    sends.push(req);
    ASSERT_EQ(postRecv(receiving.pair, receiving.dst.get() + i * kSize, kSize,
                       receiving.dst_mr->get(), &req),
              ncclSuccess);
    recvs.push(req);
  }
  // Give both a chance to progress (a receive that cannot complete must stay not done).
  for (int i = 0; i < 200; ++i) {
    bool progressed = false;
    if (!sends.empty()) {
      ASSERT_TRUE(sends.poll(&progressed));
    }
    ASSERT_TRUE(recvs.poll(&progressed));
    ASSERT_FALSE(progressed && recvs.size() < 3) << "a receive completed without a send";
    std::this_thread::yield();
  }
  const auto start = Clock::now();
  release(&sending);
  release(&receiving);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5)) << "closing with work in flight hung";
}

// ---------------------------------------------------------------------------------------------
// TCPX rules and their codes

TEST_F(TcpxRules, SeventeenthOutstandingIsendFailsWith3) {
  Rig rig;
  makeRig(&rig, 4096, dstBytes(64, kMaxOutstanding), 12);
  ASSERT_FALSE(HasFatalFailure());
  Fifo sends("send comm"), recvs("recv comm");
  for (int i = 0; i < kMaxOutstanding; ++i) {
    void* req = nullptr;
    ASSERT_EQ(postSend(rig.pair, rig.src.get() + i, 64, rig.src_mr->get(), &req), ncclSuccess);
    ASSERT_NE(req, nullptr);
    sends.push(req);
  }
  void* extra = nullptr;
  EXPECT_EQ(postSend(rig.pair, rig.src.get(), 64, rig.src_mr->get(), &extra), ncclInternalError);
  EXPECT_EQ(extra, nullptr);
  for (int i = 0; i < kMaxOutstanding; ++i) {
    void* req = nullptr;
    ASSERT_EQ(postRecv(rig.pair, rig.dst.get() + i * 4160, 64, rig.dst_mr->get(), &req),
              ncclSuccess);
    recvs.push(req, [&, i, req] {
      EXPECT_EQ(firstMismatch(rig.dst.get() + i * 4160, rig.src.get() + i, 64), -1);
      EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, req), ncclSuccess);
    });
  }
  ASSERT_TRUE(drain({&sends, &recvs}));
  // The refused isend left the comm usable.
  EXPECT_TRUE(runPlan(rig, {{64, 0, 0}}, 1));
  release(&rig);
}

TEST_F(TcpxRules, SeventeenthIrecvFailsWith3UntilOneIsConsumed) {
  Rig rig;
  makeRig(&rig, 4096, dstBytes(64, kMaxOutstanding + 1), 13);
  ASSERT_FALSE(HasFatalFailure());
  Fifo sends("send comm"), recvs("recv comm");
  std::vector<void*> completed;
  auto post = [&](int i) {
    void* req = nullptr;
    ASSERT_EQ(postRecv(rig.pair, rig.dst.get() + i * 4160, 64, rig.dst_mr->get(), &req),
              ncclSuccess);
    recvs.push(req, [&completed, req] { completed.push_back(req); });
    ASSERT_EQ(postSend(rig.pair, rig.src.get() + i, 64, rig.src_mr->get(), &req), ncclSuccess);
    sends.push(req);
  };
  for (int i = 0; i < kMaxOutstanding; ++i) post(i);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(drain({&sends, &recvs}));
  ASSERT_EQ(completed.size(), size_t{kMaxOutstanding});
  // All 16 are done but none consumed: they still count.
  void* extra = nullptr;
  EXPECT_EQ(postRecv(rig.pair, rig.dst.get(), 64, rig.dst_mr->get(), &extra), ncclInternalError);
  EXPECT_EQ(extra, nullptr);
  ASSERT_EQ(net().irecvConsumed(rig.pair.recv, 1, completed[0]), ncclSuccess);
  post(kMaxOutstanding);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(drain({&sends, &recvs}));
  for (size_t i = 1; i < completed.size(); ++i) {
    EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, completed[i]), ncclSuccess) << i;
  }
  for (int i = 0; i <= kMaxOutstanding; ++i) {
    EXPECT_EQ(firstMismatch(rig.dst.get() + i * 4160, rig.src.get() + i, 64), -1) << i;
  }
  release(&rig);
}

TEST_F(TcpxRules, TestOnAnythingButTheFifoHeadFailsWith3) {
  Rig rig;
  makeRig(&rig, 8192, 8192, 14);
  ASSERT_FALSE(HasFatalFailure());
  void* s[2];
  void* r[2];
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(postRecv(rig.pair, rig.dst.get() + i * 4096, 100, rig.dst_mr->get(), &r[i]),
              ncclSuccess);
    ASSERT_EQ(postSend(rig.pair, rig.src.get() + i * 4096, 100, rig.src_mr->get(), &s[i]),
              ncclSuccess);
  }
  int done = 0;
  EXPECT_EQ(testOnce(s[1], &done), ncclInternalError);
  EXPECT_EQ(testOnce(r[1], &done), ncclInternalError);
  Fifo sends("send comm"), recvs("recv comm");
  for (int i = 0; i < 2; ++i) {
    sends.push(s[i]);
    recvs.push(r[i], [&, i] {
      EXPECT_EQ(firstMismatch(rig.dst.get() + i * 4096, rig.src.get() + i * 4096, 100), -1);
      EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[i]), ncclSuccess);
    });
  }
  EXPECT_TRUE(drain({&sends, &recvs}));
  release(&rig);
}

TEST_F(TcpxRules, TestAfterDoneReportsNotDone) {
  Rig rig;
  makeRig(&rig, 4096, 4096, 15);
  ASSERT_FALSE(HasFatalFailure());
  void *sreq = nullptr, *rreq = nullptr;
  ASSERT_EQ(postRecv(rig.pair, rig.dst.get(), 1000, rig.dst_mr->get(), &rreq), ncclSuccess);
  ASSERT_EQ(postSend(rig.pair, rig.src.get(), 1000, rig.src_mr->get(), &sreq), ncclSuccess);
  Fifo sends("send comm"), recvs("recv comm");
  sends.push(sreq);
  recvs.push(rreq);
  ASSERT_TRUE(drain({&sends, &recvs}));
  int done = -1;
  EXPECT_EQ(testOnce(sreq, &done), ncclSuccess);
  EXPECT_EQ(done, 0) << "a send tested again after done=1 must report done=0";
  EXPECT_EQ(testOnce(rreq, &done), ncclSuccess);
  EXPECT_EQ(done, 0) << "a receive tested again after done=1 must report done=0";
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, rreq), ncclSuccess);
  EXPECT_EQ(testOnce(rreq, &done), ncclSuccess);
  EXPECT_EQ(done, 0) << "a consumed receive must report done=0";
  EXPECT_EQ(firstMismatch(rig.dst.get(), rig.src.get(), 1000), -1);
  release(&rig);
}

TEST_F(TcpxRules, IrecvConsumedOnlyOnceInFifoOrderFailsWith3) {
  Rig rig;
  makeRig(&rig, 8192, 8192, 16);
  ASSERT_FALSE(HasFatalFailure());
  Fifo sends("send comm"), recvs("recv comm");
  void* r[3];
  for (int i = 0; i < 2; ++i) {
    void* s = nullptr;
    ASSERT_EQ(postRecv(rig.pair, rig.dst.get() + i * 4096, 10, rig.dst_mr->get(), &r[i]),
              ncclSuccess);
    ASSERT_EQ(postSend(rig.pair, rig.src.get() + i * 4096, 10, rig.src_mr->get(), &s), ncclSuccess);
    sends.push(s);
    recvs.push(r[i]);
  }
  ASSERT_TRUE(drain({&sends, &recvs}));
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[1]), ncclInternalError) << "out of order";
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[0]), ncclSuccess);
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[0]), ncclInternalError) << "twice";
  // A receive that is not done yet cannot be consumed either.
  ASSERT_EQ(postRecv(rig.pair, rig.dst.get(), 10, rig.dst_mr->get(), &r[2]), ncclSuccess);
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[1]), ncclSuccess);
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[1]), ncclInternalError) << "twice";
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[2]), ncclInternalError) << "not done";
  void* s = nullptr;
  ASSERT_EQ(postSend(rig.pair, rig.src.get(), 10, rig.src_mr->get(), &s), ncclSuccess);
  sends.push(s);
  recvs.push(r[2]);
  ASSERT_TRUE(drain({&sends, &recvs}));
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, r[2]), ncclSuccess);
  release(&rig);
}

TEST_F(TcpxRules, IrecvAndIrecvConsumedTakeExactlyOneBuffer) {
  Rig rig;
  makeRig(&rig, 8192, 8192, 17);
  ASSERT_FALSE(HasFatalFailure());
  void* datas[2] = {rig.dst.get(), rig.dst.get() + 4096};
  int sizes[2] = {10, 10};
  int tags[2] = {0, 0};
  void* mhs[2] = {rig.dst_mr->get(), rig.dst_mr->get()};
  void* req = nullptr;
  EXPECT_EQ(net().irecv(rig.pair.recv, 2, datas, sizes, tags, mhs, &req), ncclInternalError);
  EXPECT_EQ(req, nullptr);
  // The comm still works, and irecvConsumed insists on n == 1 as well.
  void *sreq = nullptr, *rreq = nullptr;
  ASSERT_EQ(postRecv(rig.pair, rig.dst.get(), 10, rig.dst_mr->get(), &rreq), ncclSuccess);
  ASSERT_EQ(postSend(rig.pair, rig.src.get(), 10, rig.src_mr->get(), &sreq), ncclSuccess);
  Fifo sends("send comm"), recvs("recv comm");
  sends.push(sreq);
  recvs.push(rreq);
  ASSERT_TRUE(drain({&sends, &recvs}));
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 2, rreq), ncclInternalError);
  EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, rreq), ncclSuccess);
  EXPECT_EQ(firstMismatch(rig.dst.get(), rig.src.get(), 10), -1);
  release(&rig);
}

// One accept per listen comm: a second accept is undefined in TCPX (it reads freed memory, hands
// back the first recv comm again, then the process aborts in a double free), so the rule is
// "accept until the recv comm appears, then close the listen comm". The recv comm outlives it.
TEST_F(TcpxRules, ListenCommClosesAfterItsOneAcceptAndTheRecvCommWorks) {
  Rig rig;
  void* listen = nullptr;
  ASSERT_TRUE(connectPair(&rig.pair, 0, &listen));
  EXPECT_EQ(net().closeListen(listen), ncclSuccess);
  rig.src = allocHost(8192);
  rig.dst = allocHost(8192);
  fillPattern(rig.src.get(), 8192, 18);
  rig.src_mr = std::make_unique<Mr>(rig.pair.send, rig.src.get(), 8192, NCCL_PTR_HOST);
  rig.dst_mr = std::make_unique<Mr>(rig.pair.recv, rig.dst.get(), 8192, NCCL_PTR_HOST);
  ASSERT_EQ(rig.src_mr->rc(), ncclSuccess);
  ASSERT_EQ(rig.dst_mr->rc(), ncclSuccess);
  EXPECT_TRUE(runPlan(rig, {{5000, 3, 0}, {0, 0, 0}, {4096, 0, 4096}}, 2));
  release(&rig);
}

// TCPX checks no request size: host isend/irecv of 4 and 16 MiB succeed and complete with the
// right bytes (its only bound, over 2048 fragments in one GPU receive, exits the process). The
// built-in refuses them instead (a guard rail, builtin_guard_rails_test.cc). Either is TCPX
// behaviour as far as a driver can tell: a refusal is an error code with no request, on both
// sides, leaving the comm usable; an acceptance moves the bytes exactly.
TEST_F(TcpxRules, HostRequestsOf4MiBAndMoreMoveIntactOrAreRefusedCleanly) {
  constexpr int kBig = 16 << 20;
  Rig rig;
  makeRig(&rig, kBig, kBig, 18);
  ASSERT_FALSE(HasFatalFailure());
  std::string outcome;
  for (int size : {4 << 20, kBig}) {
    const std::string what = std::to_string(size) + "-byte host request";
    std::memset(rig.dst.get(), 0, kBig);
    void* sreq = nullptr;
    void* rreq = nullptr;
    ncclResult_t src = postSend(rig.pair, rig.src.get(), size, rig.src_mr->get(), &sreq);
    ncclResult_t rrc = postRecv(rig.pair, rig.dst.get(), size, rig.dst_mr->get(), &rreq);
    if (src != ncclSuccess || rrc != ncclSuccess) {
      EXPECT_NE(src, ncclSuccess) << what << ": irecv refused (" << rrc << ") but isend taken";
      EXPECT_NE(rrc, ncclSuccess) << what << ": isend refused (" << src << ") but irecv taken";
      EXPECT_EQ(sreq, nullptr) << what << ": a refused isend returned a request";
      EXPECT_EQ(rreq, nullptr) << what << ": a refused irecv returned a request";
      outcome += what + ": refused (isend " + std::to_string(src) + ", irecv " +
                 std::to_string(rrc) + "); ";
      if (src == ncclSuccess || rrc == ncclSuccess) break;  // requests left that cannot pair
      continue;
    }
    ASSERT_NE(sreq, nullptr) << what;
    ASSERT_NE(rreq, nullptr) << what;
    Fifo sends("send comm"), recvs("recv comm");
    sends.push(sreq);
    recvs.push(rreq, [&] {
      EXPECT_EQ(firstMismatch(rig.dst.get(), rig.src.get(), size), -1)
          << what << ": received bytes differ from the sent ones";
      EXPECT_EQ(net().irecvConsumed(rig.pair.recv, 1, rreq), ncclSuccess) << what;
    });
    EXPECT_TRUE(drain({&sends, &recvs})) << what;
    outcome += what + ": moved; ";
  }
  RecordProperty("oversized_requests", outcome);
  // Whatever happened, the comm still pairs the largest driver-sized request correctly.
  EXPECT_TRUE(runPlan(rig, {{kMaxRequest, 1, 0}}, 1)) << outcome;
  release(&rig);
}

// ---------------------------------------------------------------------------------------------
// UNPACK

TEST_F(Unpack, AcceptFillsTheDeviceHandle) {
  Pair p;
  ASSERT_TRUE(connectPair(&p));
  EXPECT_EQ(p.recv_dev.netDeviceType, NCCL_NET_DEVICE_UNPACK);
  EXPECT_EQ(p.recv_dev.netDeviceVersion, NCCL_NET_DEVICE_UNPACK_VERSION);
  ASSERT_NE(p.recv_dev.handle, nullptr);
  UnpackView view(p.recv_dev);
  EXPECT_NE(view.handle().meta, nullptr);
  EXPECT_NE(view.handle().bounce_buf, nullptr);
}

TEST_F(Unpack, ScatterListsGatherToTheSentBytes) {
  skipWithoutCudaRegistration();
  if (IsSkipped()) return;
  const int sizes[] = {0, 1, 4095, 4096, 4097, 65537, (1 << 20) + 3, 3 << 20, kMaxRequest};
  std::vector<Msg> plan;
  for (int size : sizes) {
    plan.push_back({size, 0, 0, true});
    plan.push_back({size, 7, 8192 + 5, true});  // unaligned source, irecv inside the registration
  }
  Rig rig;
  makeRig(&rig, kMaxRequest + 4096, 4096, 19);
  ASSERT_FALSE(HasFatalFailure());
  {
    CudaRegisteredBuffer dev(rig.pair.recv, kMaxRequest + 16384);
    ASSERT_TRUE(dev.ok());
    EXPECT_TRUE(runPlan(rig, plan, 1, &dev));
    // Pipelined: 16 in flight, every slot of the metadata in use at once.
    std::vector<Msg> piped = randomPlan(32, 1 << 20, 1, 20);
    for (auto& m : piped) m.device = true;
    EXPECT_TRUE(runPlan(rig, piped, kMaxOutstanding, &dev));
  }
  release(&rig);
}

TEST_F(Unpack, HostRegisteredReceivesLandDirectlyWithNoFragments) {
  skipWithoutCudaRegistration();
  if (IsSkipped()) return;
  // Device and host receives interleaved on one comm: the k-th receive uses slot k % 16 either way.
  constexpr int kMax = 256 << 10, kWindow = 5;
  std::vector<Msg> plan = randomPlan(40, kMax, kWindow, 21);
  for (size_t i = 0; i < plan.size(); ++i) plan[i].device = i % 3 == 1;
  for (auto& m : plan) {
    if (m.device) m.dst_off = m.dst_off % 4096;  // receives into the CUDA buffer are not written
  }
  Rig rig;
  makeRig(&rig, kMax + 4096, dstBytes(kMax, kWindow), 22);
  ASSERT_FALSE(HasFatalFailure());
  {
    CudaRegisteredBuffer dev(rig.pair.recv, kMax + 8192);
    ASSERT_TRUE(dev.ok());
    EXPECT_TRUE(runPlan(rig, plan, kWindow, &dev));
  }
  release(&rig);
}

TEST_F(Unpack, PagesAreRecycledByIrecvConsumed) {
  skipWithoutCudaRegistration();
  if (IsSkipped()) return;
  // 96 near-4 MiB receives, 16 in flight (~64 MiB of bounce pages wanted at once): the run only
  // completes if every consumed receive returns its pages.
  std::vector<Msg> plan;
  std::mt19937_64 rng(23);
  for (int i = 0; i < 96; ++i) {
    plan.push_back({kMaxRequest - static_cast<int>(rng() % 65536), rng() % 65536, 0, true});
  }
  Rig rig;
  makeRig(&rig, kMaxRequest + 65536, 4096, 24);
  ASSERT_FALSE(HasFatalFailure());
  {
    CudaRegisteredBuffer dev(rig.pair.recv, kMaxRequest);
    ASSERT_TRUE(dev.ok());
    EXPECT_TRUE(runPlan(rig, plan, kMaxOutstanding, &dev));
  }
  release(&rig);
}

}  // namespace
