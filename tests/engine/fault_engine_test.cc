// Transport failures on real connections (issue 20, item 7): two host-memory endpoints in one
// process over loopback, each on its own side of the fault-injecting decorator table
// (tests/transport/fault_net.h) around the built-in socket transport. A chosen call on one side
// fails (or a request never finishes); then, for every kind of transfer and both inline and
// channel-sized transfers:
//   - every transfer on both sides ends within a bound, with a clear error or, where it
//     finished before the fault, with every byte verified;
//   - every registration can be deregistered (nothing is left in flight);
//   - the failed connection refuses new transfers with a clear error;
//   - a new connection between the same endpoints moves verified bytes;
//   - the process's open file descriptors return to their count before the connection.
// Uses only the public API (engine/endpoint.h, transport/plugin_loader.h).
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/endpoint.h"
#include "engine_test_util.h"
#include "transport/fault_net.h"

namespace tcpxp::engine {
namespace {

using tcpxp::testing::FaultNet;
using tcpxp::testing::NetCall;
using tcpxp::testing::netCallName;
using testing::pattern;

constexpr int64_t kBoundMs = 10000;         // every transfer must end within this
constexpr size_t kSmall = 4096;             // inline: travels in control frames, no isend
constexpr size_t kLarge = size_t{4} << 20;  // several chunks on several channels
constexpr int kA = 0, kB = 1;               // endpoint a is on decorator side 0, b on side 1

int openFds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

bool mentions(const Status& st, const std::string& what) {
  return st.message().find(what) != std::string::npos;
}

enum class Kind { kSendRecv, kWrite, kRead, kVectorWrite };
const char* kindName(Kind k) {
  switch (k) {
    case Kind::kSendRecv:
      return "SendRecv";
    case Kind::kWrite:
      return "Write";
    case Kind::kRead:
      return "Read";
    case Kind::kVectorWrite:
      return "VectorWrite";
  }
  return "?";
}
// The side whose transport sends the data (isend) and the one that receives it (irecv).
int dataSender(Kind k) { return k == Kind::kRead ? kB : kA; }
int dataReceiver(Kind k) { return k == Kind::kRead ? kA : kB; }

struct Conn {
  ConnId ab = 0, ba = 0;  // a's id of the connection, b's id of it
};

// One buffer pair of a transfer: `src` on the data sender, `dst` on the data receiver.
struct Buffers {
  std::vector<uint8_t> src, dst;
  MrId src_mr = 0, dst_mr = 0;
};

// One API-visible transfer: its id on endpoint `side`, and the buffers to check when it succeeds.
struct Pending {
  int side = kA;
  XferId id = 0;
  std::vector<Buffers*> check;  // verified when this transfer reports success
  bool carrier = false;         // the channel-sized transfer the fault is planted in
  std::string what;
};

class FaultEngine : public ::testing::Test {
 protected:
  // A stall test sets UCCL_TCPX_TIMEOUT_MS before the endpoints read their configuration.
  virtual const char* timeoutMs() const { return nullptr; }

  void SetUp() override {
    FaultNet::side(kA).reset();
    FaultNet::side(kB).reset();
    transport::NetPlugin* pa = nullptr;
    transport::NetPlugin* pb = nullptr;
    ASSERT_TRUE(FaultNet::plugin(kA, &pa).isOk());
    ASSERT_TRUE(FaultNet::plugin(kB, &pb).isOk());
    std::string saved =
        std::getenv("UCCL_TCPX_TIMEOUT_MS") ? std::getenv("UCCL_TCPX_TIMEOUT_MS") : "";
    if (timeoutMs()) ::setenv("UCCL_TCPX_TIMEOUT_MS", timeoutMs(), 1);
    Status sa = Endpoint::create(-1, pa, &ep_[kA]);
    Status sb = Endpoint::create(-1, pb, &ep_[kB]);
    if (timeoutMs()) {
      if (saved.empty()) {
        ::unsetenv("UCCL_TCPX_TIMEOUT_MS");
      } else {
        ::setenv("UCCL_TCPX_TIMEOUT_MS", saved.c_str(), 1);
      }
    }
    ASSERT_TRUE(sa.isOk()) << sa.toString();
    ASSERT_TRUE(sb.isOk()) << sb.toString();
    ASSERT_EQ(ep_[kA]->info().transport, tcpxp::testing::kFaultNetName);
    // Warm-up: the first connection creates the transport's lazy per-process descriptors.
    Conn warm;
    ASSERT_NO_FATAL_FAILURE(connect(&warm));
    ASSERT_NO_FATAL_FAILURE(roundTrip(warm));
    closeBoth(warm);
    fds_before_ = openFds();
    ASSERT_GT(fds_before_, 0);
    // The reset point: the warm-up's calls do not count.
    FaultNet::side(kA).reset();
    FaultNet::side(kB).reset();
  }

  void TearDown() override {
    FaultNet::side(kA).reset();
    FaultNet::side(kB).reset();
  }

  Endpoint& a() { return *ep_[kA]; }
  Endpoint& b() { return *ep_[kB]; }
  Endpoint& ep(int side) { return *ep_[side]; }

  void connect(Conn* out) {
    auto accepted = std::async(std::launch::async, [&] {
      ConnId id = 0;
      Status st = b().accept(&id, nullptr, nullptr, nullptr, kBoundMs);
      EXPECT_TRUE(st.isOk()) << st.toString();
      return id;
    });
    Status st = a().connect("127.0.0.1", -1, b().info().port, &out->ab);
    out->ba = accepted.get();
    ASSERT_TRUE(st.isOk()) << st.toString();
    ASSERT_NE(out->ba, 0u);
  }

  // Both sides close their end; a side that already dropped the connection (it failed, or
  // saw the peer's Bye) answers kNotFound.
  void closeBoth(const Conn& c) {
    for (auto [side, id] : {std::pair{kA, c.ab}, std::pair{kB, c.ba}}) {
      Status st = ep(side).closeConnection(id);
      EXPECT_TRUE(st.isOk() || st.code() == Code::kNotFound) << st.toString();
    }
  }

  // Send/recv (large and inline) and a large write, every byte verified.
  void roundTrip(const Conn& c) {
    for (size_t size : {kLarge + 3, kSmall}) {
      auto src = pattern(size, static_cast<uint32_t>(size));
      std::vector<uint8_t> dst(size, 0xEE);
      MrId smr = 0, dmr = 0;
      ASSERT_TRUE(a().reg(src.data(), size, &smr).isOk());
      ASSERT_TRUE(b().reg(dst.data(), size, &dmr).isOk());
      Segment s{smr, src.data(), size}, r{dmr, dst.data(), size};
      XferId tx = 0, rx = 0;
      ASSERT_TRUE(b().recvAsync(c.ba, {&r, 1}, &rx).isOk());
      ASSERT_TRUE(a().sendAsync(c.ab, {&s, 1}, &tx).isOk());
      Status st = b().wait(rx, nullptr, nullptr, kBoundMs);
      EXPECT_TRUE(st.isOk()) << st.toString();
      st = a().wait(tx, nullptr, nullptr, kBoundMs);
      EXPECT_TRUE(st.isOk()) << st.toString();
      EXPECT_EQ(dst, src) << "send/recv of " << size;
      std::fill(dst.begin(), dst.end(), 0);
      FifoBlob fifo{};
      ASSERT_TRUE(b().advertise(c.ba, dmr, dst.data(), size, &fifo).isOk());
      Segment w{smr, src.data(), size, fifo};
      XferId wx = 0;
      ASSERT_TRUE(a().writeAsync(c.ab, {&w, 1}, &wx).isOk());
      st = a().wait(wx, nullptr, nullptr, kBoundMs);
      EXPECT_TRUE(st.isOk()) << st.toString();
      EXPECT_EQ(dst, src) << "write of " << size;
      EXPECT_TRUE(a().dereg(smr).isOk());
      EXPECT_TRUE(b().dereg(dmr).isOk());
    }
  }

  // The open descriptors return to their count before the connection. The peer's side of a
  // failed connection is dropped by its own driver thread once it sees the failure, so this
  // re-counts (bounded) rather than assuming it has happened already.
  void expectFdsBack() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int now = openFds();
    while (now != fds_before_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      now = openFds();
    }
    EXPECT_EQ(now, fds_before_) << "open descriptors before the connection vs after its end";
  }

  // After a failure: the old connection refuses new work, a new one moves verified bytes, and
  // closing it leaves no descriptor behind.
  void expectRecovery(const Conn& old) {
    for (auto [side, id] : {std::pair{kA, old.ab}, std::pair{kB, old.ba}}) {
      std::vector<uint8_t> buf(64, 1);
      MrId mr = 0;
      ASSERT_TRUE(ep(side).reg(buf.data(), buf.size(), &mr).isOk());
      Segment s{mr, buf.data(), buf.size()};
      XferId x = 0;
      Status st = ep(side).sendAsync(id, {&s, 1}, &x);
      EXPECT_FALSE(st.isOk()) << "a send on the failed connection was accepted";
      EXPECT_TRUE(mentions(st, "closed conn_id")) << st.toString();
      st = ep(side).recvAsync(id, {&s, 1}, &x);
      EXPECT_FALSE(st.isOk()) << "a recv on the failed connection was accepted";
      EXPECT_TRUE(mentions(st, "closed conn_id")) << st.toString();
      EXPECT_TRUE(ep(side).dereg(mr).isOk());
    }
    closeBoth(old);
    FaultNet::side(kA).reset();
    FaultNet::side(kB).reset();
    Conn fresh;
    ASSERT_NO_FATAL_FAILURE(connect(&fresh));
    ASSERT_NO_FATAL_FAILURE(roundTrip(fresh));
    closeBoth(fresh);
    expectFdsBack();
  }

  std::unique_ptr<Endpoint> ep_[2];
  int fds_before_ = 0;
};

// ---- one kind of transfer, one planted fault ------------------------------------------------

struct FaultCase {
  Kind kind;
  size_t size;     // kSmall: inline transfers around a channel-sized carrier; kLarge
  bool on_sender;  // the fault is on the data sender's side (else the data receiver's)
  NetCall call;
  ncclResult_t result;
};

std::string describe(const FaultCase& c) {
  return std::string(kindName(c.kind)) + (c.size == kSmall ? "Inline" : "Chunked") + "_" +
         (c.on_sender ? "Sender" : "Receiver") + "_" + netCallName(c.call) + "_rc" +
         std::to_string(static_cast<int>(c.result));
}
std::string caseName(const ::testing::TestParamInfo<FaultCase>& info) {
  return describe(info.param);
}
// gtest prints a parameter in test listings (and so in ctest's names): never its raw bytes.
void PrintTo(const FaultCase& c, std::ostream* os) { *os << describe(c); }

class TransferFault : public FaultEngine, public ::testing::WithParamInterface<FaultCase> {
 protected:
  // Registers a buffer pair of `size` and submits the transfer(s) moving it; *pending gets the
  // API-visible ones that were accepted. Advertisements are for any connection (0): they
  // outlive a failed one.
  void start(const Conn& c, Kind kind, size_t size, bool carrier, std::vector<Pending>* pending) {
    int parts = kind == Kind::kVectorWrite ? 3 : 1;
    std::vector<Buffers*> group;
    for (int i = 0; i < parts; ++i) {
      auto buf = std::make_unique<Buffers>();
      size_t n = size + static_cast<size_t>(i) * 7;
      buf->src = pattern(n, static_cast<uint32_t>(bufs_.size() + 1));
      buf->dst.assign(n, 0xEE);
      ASSERT_TRUE(ep(dataSender(kind)).reg(buf->src.data(), n, &buf->src_mr).isOk());
      ASSERT_TRUE(ep(dataReceiver(kind)).reg(buf->dst.data(), n, &buf->dst_mr).isOk());
      group.push_back(buf.get());
      bufs_.push_back(std::move(buf));
    }
    std::string what =
        std::string(kindName(kind)) + " of " + std::to_string(size) + (carrier ? " (carrier)" : "");
    switch (kind) {
      case Kind::kSendRecv: {
        Buffers& bf = *group[0];
        Segment r{bf.dst_mr, bf.dst.data(), bf.dst.size()};
        Segment s{bf.src_mr, bf.src.data(), bf.src.size()};
        Pending rx{kB, 0, {&bf}, carrier, "recv: " + what};
        Pending tx{kA, 0, {}, carrier, "send: " + what};
        admit(b().recvAsync(c.ba, {&r, 1}, &rx.id), rx, pending);
        admit(a().sendAsync(c.ab, {&s, 1}, &tx.id), tx, pending);
        break;
      }
      case Kind::kWrite:
      case Kind::kVectorWrite: {
        std::vector<Segment> segs;
        for (Buffers* bf : group) {
          FifoBlob fifo{};
          ASSERT_TRUE(b().advertise(0, bf->dst_mr, bf->dst.data(), bf->dst.size(), &fifo).isOk());
          segs.push_back({bf->src_mr, bf->src.data(), bf->src.size(), fifo});
        }
        Pending wx{kA, 0, group, carrier, what};
        admit(a().writeAsync(c.ab, segs, &wx.id), wx, pending);
        break;
      }
      case Kind::kRead: {
        Buffers& bf = *group[0];
        FifoBlob fifo{};
        ASSERT_TRUE(b().advertise(0, bf.src_mr, bf.src.data(), bf.src.size(), &fifo).isOk());
        Segment r{bf.dst_mr, bf.dst.data(), bf.dst.size(), fifo};
        Pending rx{kA, 0, {&bf}, carrier, what};
        admit(a().readAsync(c.ab, {&r, 1}, &rx.id), rx, pending);
        break;
      }
    }
  }

  // The carrier is submitted before anything can fail; a transfer submitted after it may meet
  // the connection already failed, and must then be refused clearly.
  static void admit(const Status& st, const Pending& p, std::vector<Pending>* pending) {
    if (st.isOk()) {
      pending->push_back(p);
      return;
    }
    EXPECT_FALSE(p.carrier) << p.what << ": " << st.toString();
    EXPECT_TRUE(mentions(st, "closed conn_id")) << p.what << ": " << st.toString();
  }

  std::vector<std::unique_ptr<Buffers>> bufs_;
};

TEST_P(TransferFault, EveryTransferEndsCleanlyAndTheEndpointsRecover) {
  const FaultCase& fc = GetParam();
  const int faulty = fc.on_sender ? dataSender(fc.kind) : dataReceiver(fc.kind);
  const std::string call = netCallName(fc.call);
  Conn c;
  ASSERT_NO_FATAL_FAILURE(connect(&c));
  // The reset point: counts start with this connection's first data-path call.
  FaultNet::side(kA).reset();
  FaultNet::side(kB).reset();
  FaultNet::side(faulty).failAt(fc.call, 1, fc.result);

  // Inline transfers never call the transport: they surround a channel-sized carrier, which
  // meets the fault; they must end too (failed, or done with the right bytes).
  std::vector<Pending> pending;
  if (fc.size == kSmall) {
    ASSERT_NO_FATAL_FAILURE(start(c, fc.kind, kSmall, false, &pending));
  }
  ASSERT_NO_FATAL_FAILURE(start(c, fc.kind, kLarge, true, &pending));
  ASSERT_NO_FATAL_FAILURE(start(c, fc.kind, fc.size, false, &pending));

  for (const Pending& p : pending) {
    SCOPED_TRACE(p.what + " on side " + std::to_string(p.side));
    Status st = ep(p.side).wait(p.id, nullptr, nullptr, kBoundMs);
    ASSERT_FALSE(mentions(st, "not done after")) << "hangs: " << st.toString();
    if (st.isOk()) {
      EXPECT_FALSE(p.carrier) << "the transfer that met the fault succeeded";
      for (Buffers* bf : p.check) EXPECT_EQ(bf->dst, bf->src) << "succeeded with wrong bytes";
      continue;
    }
    EXPECT_TRUE(mentions(st, "connection")) << st.toString();
    // The side whose transport failed names the call that failed.
    if (p.side == faulty) {
      EXPECT_TRUE(mentions(st, call)) << st.toString();
    }
  }
  EXPECT_EQ(FaultNet::side(faulty).fired(fc.call), 1u) << "the fault was never injected";

  // Every transfer has ended: the registrations of both sides' transfers are free again
  // (a side whose own transfers ended must not answer kBusy). The passive side of a write or
  // read may still be dropping the connection: close it first there.
  const bool passive_b = fc.kind != Kind::kSendRecv;
  if (passive_b) {
    Status st = b().closeConnection(c.ba);
    EXPECT_TRUE(st.isOk() || st.code() == Code::kNotFound) << st.toString();
  }
  for (auto& bf : bufs_) {
    Status st = ep(dataSender(fc.kind)).dereg(bf->src_mr);
    EXPECT_TRUE(st.isOk()) << st.toString();
    st = ep(dataReceiver(fc.kind)).dereg(bf->dst_mr);
    EXPECT_TRUE(st.isOk()) << st.toString();
  }
  expectRecovery(c);
}

std::vector<FaultCase> allCases() {
  struct Site {
    bool on_sender;
    NetCall call;
    ncclResult_t result;
  };
  const Site sites[] = {
      {true, NetCall::kRegMr, ncclSystemError},   {true, NetCall::kIsend, ncclSystemError},
      {true, NetCall::kTest, ncclRemoteError},    {false, NetCall::kIrecv, ncclSystemError},
      {false, NetCall::kTest, ncclInternalError}, {false, NetCall::kIrecvConsumed, ncclRemoteError},
  };
  std::vector<FaultCase> out;
  for (Kind kind : {Kind::kSendRecv, Kind::kWrite, Kind::kRead, Kind::kVectorWrite}) {
    for (size_t size : {kSmall, kLarge}) {
      for (const Site& s : sites) {
        out.push_back({kind, size, s.on_sender, s.call, s.result});
      }
    }
  }
  return out;
}

// Read, receiving side, irecvConsumed failing: the case that found a read completed as a
// success with missing bytes (the peer's Done had arrived, the pieces had not all landed).
INSTANTIATE_TEST_SUITE_P(AllKinds, TransferFault, ::testing::ValuesIn(allCases()), caseName);

// ---- connection setup and teardown -----------------------------------------------------------

TEST_F(FaultEngine, ConnectFailureFailsTheConnectAndLeavesNothing) {
  FaultNet::side(kA).failAt(NetCall::kConnect, 1, ncclSystemError);
  ConnId id = 0;
  Status st = a().connect("127.0.0.1", -1, b().info().port, &id);
  ASSERT_FALSE(st.isOk());
  EXPECT_TRUE(mentions(st, "connect")) << st.toString();
  EXPECT_EQ(FaultNet::side(kA).fired(NetCall::kConnect), 1u);
  expectRecovery(Conn{id, 0});
}

TEST_F(FaultEngine, AcceptFailureFailsThePeersConnectAndLeavesNothing) {
  FaultNet::side(kB).failAt(NetCall::kAccept, 1, ncclSystemError);
  ConnId id = 0;
  Status st = a().connect("127.0.0.1", -1, b().info().port, &id);
  ASSERT_FALSE(st.isOk());
  EXPECT_TRUE(mentions(st, "connection") || mentions(st, "connect")) << st.toString();
  EXPECT_EQ(FaultNet::side(kB).fired(NetCall::kAccept), 1u);
  expectRecovery(Conn{id, 0});
}

// A close that reports an error still ends the connection: pending transfers on both sides
// fail, and nothing leaks (the decorator's failing close did release the comm).
TEST_F(FaultEngine, FailingClosesStillEndEverything) {
  Conn c;
  ASSERT_NO_FATAL_FAILURE(connect(&c));
  for (int side : {kA, kB}) {
    FaultNet::side(side).failAt(NetCall::kCloseSend, 1, ncclSystemError);
    FaultNet::side(side).failAt(NetCall::kCloseRecv, 1, ncclRemoteError);
  }
  std::vector<uint8_t> bufa(kLarge), bufb(kLarge);
  MrId mra = 0, mrb = 0;
  ASSERT_TRUE(a().reg(bufa.data(), bufa.size(), &mra).isOk());
  ASSERT_TRUE(b().reg(bufb.data(), bufb.size(), &mrb).isOk());
  Segment sa{mra, bufa.data(), bufa.size()}, sb{mrb, bufb.data(), bufb.size()};
  XferId ra = 0, rb = 0;  // receives nobody sends to
  ASSERT_TRUE(a().recvAsync(c.ab, {&sa, 1}, &ra).isOk());
  ASSERT_TRUE(b().recvAsync(c.ba, {&sb, 1}, &rb).isOk());
  Status st = a().closeConnection(c.ab);
  EXPECT_TRUE(st.isOk()) << st.toString();
  st = a().wait(ra, nullptr, nullptr, kBoundMs);
  EXPECT_FALSE(st.isOk());
  EXPECT_TRUE(mentions(st, "closed by this side")) << st.toString();
  st = b().wait(rb, nullptr, nullptr, kBoundMs);
  EXPECT_FALSE(st.isOk());
  EXPECT_TRUE(mentions(st, "connection")) << st.toString();
  EXPECT_FALSE(mentions(st, "not done after")) << st.toString();
  EXPECT_EQ(FaultNet::side(kA).fired(NetCall::kCloseSend), 1u);
  EXPECT_EQ(FaultNet::side(kA).fired(NetCall::kCloseRecv), 1u);
  EXPECT_TRUE(a().dereg(mra).isOk());
  EXPECT_TRUE(b().dereg(mrb).isOk());
  expectRecovery(c);
}

// ---- a request that never finishes -----------------------------------------------------------

class StalledFault : public FaultEngine, public ::testing::WithParamInterface<bool> {
 protected:
  const char* timeoutMs() const override { return "1000"; }
};

// With helper threads the socket transport still moves the bytes of a request whose test()
// stalls: a stalled SEND may then finish with the receiver's confirmation of every byte (the
// engine's rule, connection.cc), and the stall shows as the connection's no-progress timeout,
// which a pending receive on the stalled side reports.
TEST_P(StalledFault, StalledTestEndsTheTransferWithATimeout) {
  const bool sender = GetParam();
  const int stalled = sender ? kA : kB;  // the data sender's or the data receiver's test
  Conn c;
  ASSERT_NO_FATAL_FAILURE(connect(&c));
  FaultNet::side(kA).reset();
  FaultNet::side(kB).reset();
  FaultNet::side(stalled).stallTestAt(1);
  auto src = pattern(kLarge, 5);
  std::vector<uint8_t> dst(kLarge, 0xEE), idle(kSmall);
  MrId smr = 0, dmr = 0, imr = 0;
  ASSERT_TRUE(a().reg(src.data(), src.size(), &smr).isOk());
  ASSERT_TRUE(b().reg(dst.data(), dst.size(), &dmr).isOk());
  ASSERT_TRUE(a().reg(idle.data(), idle.size(), &imr).isOk());
  Segment s{smr, src.data(), src.size()}, r{dmr, dst.data(), dst.size()};
  Segment w{imr, idle.data(), idle.size()};
  XferId tx = 0, rx = 0, wx = 0;
  ASSERT_TRUE(a().recvAsync(c.ab, {&w, 1}, &wx).isOk());  // nothing is ever sent to it
  ASSERT_TRUE(b().recvAsync(c.ba, {&r, 1}, &rx).isOk());
  ASSERT_TRUE(a().sendAsync(c.ab, {&s, 1}, &tx).isOk());
  Status send_st = a().wait(tx, nullptr, nullptr, kBoundMs);
  Status recv_st = b().wait(rx, nullptr, nullptr, kBoundMs);
  Status idle_st = a().wait(wx, nullptr, nullptr, kBoundMs);
  EXPECT_EQ(FaultNet::side(stalled).fired(NetCall::kTest), 1u);
  for (const Status* st : {&send_st, &recv_st, &idle_st}) {
    EXPECT_FALSE(mentions(*st, "not done after")) << "hangs: " << st->toString();
    if (!st->isOk()) {
      EXPECT_TRUE(mentions(*st, "connection")) << st->toString();
    }
  }
  const Status& timed_out = sender ? idle_st : recv_st;
  EXPECT_EQ(timed_out.code(), Code::kTimeout) << timed_out.toString();
  EXPECT_TRUE(mentions(timed_out, "UCCL_TCPX_TIMEOUT_MS")) << timed_out.toString();
  if (sender) {
    EXPECT_TRUE(send_st.isOk() || send_st.code() == Code::kTimeout) << send_st.toString();
  } else {
    EXPECT_FALSE(send_st.isOk()) << "a send succeeded though its receiver never finished";
  }
  if (send_st.isOk()) {
    EXPECT_TRUE(recv_st.isOk()) << "the sender was told every byte arrived";
  }
  if (recv_st.isOk()) {
    EXPECT_EQ(dst, src) << "received wrong bytes";
  }
  EXPECT_TRUE(a().dereg(smr).isOk());
  EXPECT_TRUE(a().dereg(imr).isOk());
  EXPECT_TRUE(b().dereg(dmr).isOk());
  expectRecovery(c);
}

std::string stallName(const ::testing::TestParamInfo<bool>& p) {
  return p.param ? "Sender" : "Receiver";
}
INSTANTIATE_TEST_SUITE_P(SenderOrReceiver, StalledFault, ::testing::Bool(), stallName);

}  // namespace
}  // namespace tcpxp::engine
