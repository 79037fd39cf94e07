// Bad input from the network, against the in-process built-in socket transport: a garbage
// handle, garbage instead of a hello, garbage or oversized or truncated data, peers that vanish.
// The transport must fail the affected calls within bounded time and never crash, hang or write
// outside a posted buffer. Raw peers speak the wire format of socket_wire.h directly.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/net_util.h"
#include "transport/abi/net_v7.h"
#include "transport/plugin_loader.h"
#include "transport/socket/socket_wire.h"

namespace {

using Clock = std::chrono::steady_clock;
using tcpxp::Fd;
using tcpxp::Status;
using tcpxp::transport::NetPlugin;
namespace wire = tcpxp::transport::socket;

constexpr auto kBound = std::chrono::seconds(5);  // every failure must surface within this

// A raw TCP peer: the control socket and the data sockets of a hand-made send comm.
struct RawPeer {
  Fd ctrl;
  Fd data;   // data socket 0
  Fd data1;  // data socket 1, with nsocks 2
};

// The outcome of testing one request until it is done or fails.
struct Outcome {
  ncclResult_t rc = ncclSuccess;
  int done = 0;
  Clock::duration elapsed{};
};

class SocketFault : public ::testing::Test {
 protected:
  void SetUp() override {
    NetPlugin* plugin = nullptr;
    Status st = NetPlugin::builtinSocket(&plugin);
    ASSERT_TRUE(st.isOk()) << st.toString();
    net_ = &plugin->table();
    buf_.assign(kBufBytes, 0);
    ASSERT_EQ(net_->listen(0, handle_, &listen_), ncclSuccess);
  }
  void TearDown() override {
    if (rmr_ != nullptr) {
      EXPECT_EQ(net_->deregMr(recv_, rmr_), ncclSuccess);
    }
    if (smr_ != nullptr) {
      EXPECT_EQ(net_->deregMr(send_, smr_), ncclSuccess);
    }
    if (send_ != nullptr) {
      EXPECT_EQ(net_->closeSend(send_), ncclSuccess);
    }
    if (recv_ != nullptr) {
      EXPECT_EQ(net_->closeRecv(recv_), ncclSuccess);
    }
    if (listen_ != nullptr) {
      EXPECT_EQ(net_->closeListen(listen_), ncclSuccess);
    }
  }

  wire::ListenInfo target() const {
    wire::ListenInfo info;
    Status st = wire::decodeHandle(reinterpret_cast<const uint8_t*>(handle_), &info);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return info;
  }

  // A blocking TCP connection to the listen comm's address.
  Fd rawConnect() const {
    wire::ListenInfo info = target();
    Fd fd(::socket(info.addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(::connect(fd.get(), info.addr.get(), info.addr.len), 0) << strerror(errno);
    return fd;
  }

  // Retries accept (non-blocking) until a recv comm exists or kBound passes.
  void acceptLoop() {
    ncclNetDeviceHandle_v7_t* dev_ptr = &recv_dev_;
    const auto deadline = Clock::now() + kBound;
    while (recv_ == nullptr && Clock::now() < deadline) {
      ASSERT_EQ(net_->accept(listen_, &recv_, &dev_ptr), ncclSuccess);
      std::this_thread::yield();
    }
    ASSERT_NE(recv_, nullptr) << "accept did not finish within " << kBound.count() << " s";
  }

  // A hand-made send comm with 1 or 2 data sockets: valid hellos carrying the handle's nonce.
  void rawHandshake(RawPeer* peer, int nsocks = 1) {
    wire::Hello hello;
    hello.listen_nonce = target().nonce;
    hello.comm_nonce = 0x1234567890abcdefull;
    hello.nsocks = static_cast<uint8_t>(nsocks);
    auto say = [&](Fd* fd, wire::SocketKind kind, int index) {
      *fd = rawConnect();
      hello.kind = kind;
      hello.index = static_cast<uint8_t>(index);
      uint8_t bytes[wire::kHelloBytes];
      wire::encodeHello(hello, bytes);
      ASSERT_TRUE(tcpxp::sendAll(fd->get(), bytes, sizeof(bytes)).isOk());
    };
    say(&peer->ctrl, wire::SocketKind::kControl, 0);
    say(&peer->data, wire::SocketKind::kData, 0);
    if (nsocks == 2) say(&peer->data1, wire::SocketKind::kData, 1);
    acceptLoop();
  }

  // A real send comm connected to our listen comm.
  void realConnect() {
    char handle[NCCL_NET_HANDLE_MAXSIZE];
    std::memcpy(handle, handle_, sizeof(handle));
    const auto deadline = Clock::now() + kBound;
    alignas(16) ncclNetDeviceHandle_v7_t dev{};
    ncclNetDeviceHandle_v7_t* dev_ptr = &dev;
    while (send_ == nullptr && Clock::now() < deadline) {
      ASSERT_EQ(net_->connect(0, handle, &send_, &dev_ptr), ncclSuccess);
      if (recv_ == nullptr) acceptLoop();
    }
    ASSERT_NE(send_, nullptr) << "connect did not finish within " << kBound.count() << " s";
    if (recv_ == nullptr) acceptLoop();
  }

  void registerBuffers() {
    if (recv_ != nullptr) {
      ASSERT_EQ(net_->regMr(recv_, buf_.data(), kBufBytes, NCCL_PTR_HOST, &rmr_), ncclSuccess);
    }
    if (send_ != nullptr) {
      src_.resize(kBufBytes);
      for (size_t i = 0; i < src_.size(); ++i) src_[i] = static_cast<char>(i * 7 + 1);
      ASSERT_EQ(net_->regMr(send_, src_.data(), kBufBytes, NCCL_PTR_HOST, &smr_), ncclSuccess);
    }
  }

  void* irecv(size_t offset, int size) {
    void* data[1] = {buf_.data() + offset};
    int sizes[1] = {size};
    int tags[1] = {0};
    void* mhs[1] = {rmr_};
    void* req = nullptr;
    EXPECT_EQ(net_->irecv(recv_, 1, data, sizes, tags, mhs, &req), ncclSuccess);
    EXPECT_NE(req, nullptr);
    return req;
  }

  void* isend(size_t offset, int size) {
    void* req = nullptr;
    EXPECT_EQ(net_->isend(send_, src_.data() + offset, size, 0, smr_, &req), ncclSuccess);
    EXPECT_NE(req, nullptr);
    return req;
  }

  // Tests `req` (a FIFO head) until done or an error, for at most `limit`.
  Outcome wait(void* req, Clock::duration limit = kBound) const {
    Outcome out;
    const auto start = Clock::now();
    while (out.rc == ncclSuccess && !out.done && Clock::now() - start < limit) {
      int sizes[1] = {-1};
      out.rc = net_->test(req, &out.done, sizes);
      if (out.rc == ncclSuccess && !out.done) std::this_thread::yield();
    }
    out.elapsed = Clock::now() - start;
    return out;
  }

  // Receives must fail, not hang: an error within kBound.
  void expectFails(void* req, const char* why) const {
    Outcome out = wait(req);
    EXPECT_NE(out.rc, ncclSuccess)
        << why << ": test() never reported an error (done=" << out.done << ")";
    EXPECT_LT(out.elapsed, kBound) << why;
  }

  static constexpr int kBufBytes = 1 << 20;
  const ncclNet_v7_t* net_ = nullptr;
  char handle_[NCCL_NET_HANDLE_MAXSIZE] = {};
  alignas(16) ncclNetDeviceHandle_v7_t recv_dev_{};
  void* listen_ = nullptr;
  void* send_ = nullptr;
  void* recv_ = nullptr;
  void* rmr_ = nullptr;
  void* smr_ = nullptr;
  std::vector<char> buf_, src_;
};

void sendChunk(int fd, uint64_t seq, uint32_t offset, uint32_t len, uint32_t total,
               const std::vector<char>& payload) {
  wire::ChunkHeader h;
  h.seq = seq;
  h.offset = offset;
  h.len = len;
  h.total = total;
  uint8_t bytes[wire::kChunkHeaderBytes];
  wire::encodeChunkHeader(h, bytes);
  ASSERT_TRUE(tcpxp::sendAll(fd, bytes, sizeof(bytes)).isOk());
  if (!payload.empty()) {
    ASSERT_TRUE(tcpxp::sendAll(fd, payload.data(), payload.size()).isOk());
  }
}

// The same, with the built-in transport in UNPACK mode (receives planned in posting order). The
// mode is read once per process at init: ctest runs each test in its own process.
class SocketFaultUnpack : public SocketFault {
 protected:
  void SetUp() override {
    const char* old = std::getenv("UCCL_SOCKET_UNPACK");
    std::string saved = old ? old : "";
    ::setenv("UCCL_SOCKET_UNPACK", "1", 1);
    SocketFault::SetUp();
    if (old) {
      ::setenv("UCCL_SOCKET_UNPACK", saved.c_str(), 1);
    } else {
      ::unsetenv("UCCL_SOCKET_UNPACK");
    }
    if (HasFatalFailure()) return;
    ncclNetProperties_v7_t props{};
    ASSERT_EQ(net_->getProperties(0, &props), ncclSuccess);
    if (props.netDeviceType != NCCL_NET_DEVICE_UNPACK) {
      GTEST_SKIP() << "the built-in transport was initialised earlier in this process without "
                      "UNPACK; run this test in a process of its own (as ctest does)";
    }
  }
};

TEST_F(SocketFault, ConnectWithGarbageHandleFails) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 16; ++i) {
    uint8_t garbage[NCCL_NET_HANDLE_MAXSIZE];
    for (auto& b : garbage) b = static_cast<uint8_t>(rng());
    if (i == 1) std::memset(garbage, 0, sizeof(garbage));
    if (i == 2) {  // a real handle with one reserved byte flipped
      std::memcpy(garbage, handle_, sizeof(garbage));
      garbage[12] ^= 1;
    }
    void* comm = nullptr;
    alignas(16) ncclNetDeviceHandle_v7_t dev{};
    ncclNetDeviceHandle_v7_t* dev_ptr = &dev;
    EXPECT_NE(net_->connect(0, garbage, &comm, &dev_ptr), ncclSuccess) << "handle #" << i;
    EXPECT_EQ(comm, nullptr) << "handle #" << i;
  }
}

TEST_F(SocketFault, ConnectToAClosedListenerFails) {
  ASSERT_EQ(net_->closeListen(listen_), ncclSuccess);
  listen_ = nullptr;
  char handle[NCCL_NET_HANDLE_MAXSIZE];
  std::memcpy(handle, handle_, sizeof(handle));
  ncclResult_t rc = ncclSuccess;
  const auto deadline = Clock::now() + kBound;
  while (rc == ncclSuccess && send_ == nullptr && Clock::now() < deadline) {
    rc = net_->connect(0, handle, &send_, nullptr);
    std::this_thread::yield();
  }
  EXPECT_NE(rc, ncclSuccess) << "connect to a closed listen comm never failed";
  EXPECT_EQ(send_, nullptr);
}

TEST_F(SocketFault, GarbageInsteadOfHelloDoesNotBreakAccept) {
  std::vector<Fd> probes;
  probes.push_back(rawConnect());  // 64 garbage bytes
  std::vector<char> junk(64, 'x');
  ASSERT_TRUE(tcpxp::sendAll(probes.back().get(), junk.data(), junk.size()).isOk());
  probes.push_back(rawConnect());  // a partial hello that never completes
  ASSERT_TRUE(tcpxp::sendAll(probes.back().get(), junk.data(), 10).isOk());
  probes.push_back(rawConnect());  // a valid hello for another listen comm
  wire::Hello hello;
  hello.kind = wire::SocketKind::kControl;
  hello.listen_nonce = target().nonce + 1;
  hello.comm_nonce = 7;
  hello.nsocks = 1;
  uint8_t bytes[wire::kHelloBytes];
  wire::encodeHello(hello, bytes);
  ASSERT_TRUE(tcpxp::sendAll(probes.back().get(), bytes, sizeof(bytes)).isOk());
  probes.push_back(rawConnect());  // connects and closes at once
  probes.back().reset();
  alignas(16) ncclNetDeviceHandle_v7_t dev{};
  ncclNetDeviceHandle_v7_t* dev_ptr = &dev;
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(net_->accept(listen_, &recv_, &dev_ptr), ncclSuccess);
    ASSERT_EQ(recv_, nullptr) << "accept produced a comm from garbage";
    std::this_thread::yield();
  }
  // A real connect still gets through, and data flows.
  realConnect();
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  void* r = irecv(0, 1000);
  void* s = isend(0, 1000);
  Outcome so = wait(s), ro = wait(r);
  ASSERT_EQ(so.rc, ncclSuccess);
  ASSERT_EQ(ro.rc, ncclSuccess);
  ASSERT_TRUE(so.done && ro.done);
  EXPECT_EQ(std::memcmp(buf_.data(), src_.data(), 1000), 0);
  EXPECT_EQ(net_->irecvConsumed(recv_, 1, r), ncclSuccess);
}

TEST_F(SocketFault, GarbageOnADataSocketFailsTheReceive) {
  RawPeer peer;
  rawHandshake(&peer);
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  void* r = irecv(0, 4096);
  std::vector<char> junk(256, '\xa5');
  ASSERT_TRUE(tcpxp::sendAll(peer.data.get(), junk.data(), junk.size()).isOk());
  expectFails(r, "garbage chunk header");
}

TEST_F(SocketFault, OversizedChunkIsRefusedWithoutOverrun) {
  constexpr size_t kGuard = 4096;
  constexpr int kPosted = 8192;
  RawPeer peer;
  rawHandshake(&peer);
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  std::memset(buf_.data(), 0x5c, buf_.size());
  void* r = irecv(kGuard, kPosted);
  // A well-formed header announcing more than the posted receive holds, with its payload.
  std::vector<char> payload(kPosted + 2 * kGuard, '\x11');
  sendChunk(peer.data.get(), 0, 0, static_cast<uint32_t>(payload.size()),
            static_cast<uint32_t>(payload.size()), payload);
  expectFails(r, "oversized message");
  auto untouched = [&](size_t from, size_t n) {
    for (size_t i = from; i < from + n; ++i) {
      if (buf_[i] != 0x5c) return false;
    }
    return true;
  };
  EXPECT_TRUE(untouched(0, kGuard)) << "written before the posted buffer";
  EXPECT_TRUE(untouched(kGuard + kPosted, buf_.size() - kGuard - kPosted))
      << "written past the posted buffer";
}

TEST_F(SocketFault, DisconnectInTheMiddleOfAMessageFails) {
  RawPeer peer;
  rawHandshake(&peer);
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  void* r = irecv(0, 8192);
  std::vector<char> half(4096, '\x22');
  sendChunk(peer.data.get(), 0, 0, 8192, 8192, half);  // header + half its payload
  peer.data.reset();
  peer.ctrl.reset();
  expectFails(r, "peer gone mid-message");
}

TEST_F(SocketFault, OverlappingPiecesOnTwoSocketsFail) {
  // Each piece is valid alone, but together they bring more bytes than the message has: the
  // receive can never complete, so it must fail rather than spin while the peer stays connected.
  RawPeer peer;
  rawHandshake(&peer, 2);
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  void* r = irecv(0, 8192);
  std::vector<char> piece(6000, '\x33');
  sendChunk(peer.data.get(), 0, 0, 6000, 8192, piece);
  sendChunk(peer.data1.get(), 0, 0, 6000, 8192, piece);
  expectFails(r, "12000 bytes for an 8192-byte message");
}

TEST_F(SocketFault, MessageNumbersGoingBackwardsOnASocketFail) {
  // Pieces on one data socket carry increasing message numbers: #1, then #0 is a broken peer.
  // Message #0 never gets its bytes, so its receive must fail, not wait.
  RawPeer peer;
  rawHandshake(&peer);
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  void* r0 = irecv(0, 4096);
  ASSERT_NE(irecv(4096, 4096), nullptr);
  std::vector<char> payload(4096, '\x44');
  sendChunk(peer.data.get(), 1, 0, 4096, 4096, payload);
  sendChunk(peer.data.get(), 0, 0, 4096, 4096, payload);
  expectFails(r0, "message #0 after #1 on one socket");
}

TEST_F(SocketFault, PeerGoneWithoutCloseFrameFailsPostedReceive) {
  RawPeer peer;
  rawHandshake(&peer);
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  void* r = irecv(0, 100);
  peer.data.reset();
  peer.ctrl.reset();
  expectFails(r, "peer vanished");
}

TEST_F(SocketFaultUnpack, PeerGoneBeforeTheHeadMessageFailsWhileALaterOneWaits) {
  // Socket 1 delivers the header of message #1; message #0 never comes because the peer dies.
  // The helper holding #1 waits for #0 to be planned: it must count as having nothing for #0.
  RawPeer peer;
  rawHandshake(&peer, 2);
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  void* r0 = irecv(0, 100);
  irecv(4096, 100);
  sendChunk(peer.data1.get(), 1, 0, 100, 100, std::vector<char>(100, '\x44'));
  peer.data.reset();
  peer.data1.reset();
  peer.ctrl.reset();
  expectFails(r0, "peer gone before message #0");
}

TEST_F(SocketFault, SendToAClosedReceiverFails) {
  realConnect();
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  ASSERT_EQ(net_->deregMr(recv_, rmr_), ncclSuccess);
  rmr_ = nullptr;
  ASSERT_EQ(net_->closeRecv(recv_), ncclSuccess);
  recv_ = nullptr;
  // Keep sending, one request at a time: an error must come, not a hang.
  ncclResult_t rc = ncclSuccess;
  const auto start = Clock::now();
  while (rc == ncclSuccess && Clock::now() - start < kBound) {
    void* req = nullptr;
    rc = net_->isend(send_, src_.data(), kBufBytes, 0, smr_, &req);
    if (rc != ncclSuccess) break;
    ASSERT_NE(req, nullptr);
    Outcome out = wait(req, kBound - (Clock::now() - start));
    rc = out.rc;
    if (rc == ncclSuccess && !out.done) break;  // stuck: reported below
  }
  EXPECT_NE(rc, ncclSuccess) << "sending to a closed receiver never failed";
  EXPECT_LT(Clock::now() - start, kBound);
}

TEST_F(SocketFault, CleanSenderCloseKeepsCompletedReceivesAndFailsTheRest) {
  realConnect();
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  constexpr int kMessages = 6, kSize = 3000;
  // Two receives posted before the sender closes, the rest after: all sent data must arrive.
  std::vector<void*> recvs;
  for (int i = 0; i < 2; ++i) recvs.push_back(irecv(i * 4096, kSize));
  for (int i = 0; i < kMessages; ++i) {
    Outcome out = wait(isend(i * 4096, kSize));
    ASSERT_EQ(out.rc, ncclSuccess);
    ASSERT_TRUE(out.done) << "send #" << i << " not done within " << kBound.count() << " s";
  }
  ASSERT_EQ(net_->deregMr(send_, smr_), ncclSuccess);
  smr_ = nullptr;
  ASSERT_EQ(net_->closeSend(send_), ncclSuccess);
  send_ = nullptr;
  for (int i = 0; i < kMessages; ++i) {
    if (i >= 2) recvs.push_back(irecv(i * 4096, kSize));
    Outcome out = wait(recvs[i]);
    ASSERT_EQ(out.rc, ncclSuccess) << "receive #" << i << " of a message that was sent";
    ASSERT_TRUE(out.done) << "receive #" << i << " not done within " << kBound.count() << " s";
    EXPECT_EQ(std::memcmp(buf_.data() + i * 4096, src_.data() + i * 4096, kSize), 0) << i;
    EXPECT_EQ(net_->irecvConsumed(recv_, 1, recvs[i]), ncclSuccess);
  }
  // A message that was never sent: the close frame tells the receiver it will not come.
  expectFails(irecv(0, kSize), "receive after the sender closed");
}

// Threads of the process, by name ("tcpxp-send" -> count), from /proc/self/task.
std::map<std::string, int> threadNames() {
  std::map<std::string, int> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) ++names[name];
  }
  return names;
}

// Threads of a connected pair follow UCCL_SOCKET_HELPERS (ctest runs this file with 1 and 0):
// a helper per data socket on each side, or none at all (every byte moved by isend/test here).
TEST_F(SocketFault, HelperThreadsFollowTheIoMode) {
  const char* mode = std::getenv("UCCL_SOCKET_HELPERS");
  if (mode == nullptr || (std::string(mode) != "0" && std::string(mode) != "1")) {
    GTEST_SKIP() << "needs UCCL_SOCKET_HELPERS=0 or 1 (ctest sets it)";
  }
  const bool helpers = std::string(mode) == "1";
  const char* nsocks_env = std::getenv("UCCL_SOCKET_NSOCKS");
  const int nsocks = nsocks_env ? std::atoi(nsocks_env) : 4;
  realConnect();
  ASSERT_FALSE(HasFatalFailure());
  registerBuffers();
  // 1 MiB, more than the socket buffers may take at once: without helpers only alternating
  // test() calls on both ends move it.
  void* recv = irecv(0, kBufBytes);
  void* send = isend(0, kBufBytes);
  int send_done = 0, recv_done = 0;
  for (const auto deadline = Clock::now() + kBound;
       (!send_done || !recv_done) && Clock::now() < deadline;) {
    int sizes[1] = {-1};
    if (!send_done) {
      ASSERT_EQ(net_->test(send, &send_done, sizes), ncclSuccess);
    }
    if (!recv_done) {
      ASSERT_EQ(net_->test(recv, &recv_done, sizes), ncclSuccess);
    }
  }
  ASSERT_TRUE(send_done && recv_done) << "1 MiB not moved within " << kBound.count() << " s";
  EXPECT_EQ(std::memcmp(buf_.data(), src_.data(), kBufBytes), 0);
  EXPECT_EQ(net_->irecvConsumed(recv_, 1, recv), ncclSuccess);
  // Helpers name themselves once running: wait (bounded) for all of them.
  std::map<std::string, int> names = threadNames();
  for (const auto deadline = Clock::now() + kBound;
       helpers && (names["tcpxp-send"] < nsocks || names["tcpxp-recv"] < nsocks) &&
       Clock::now() < deadline;) {
    std::this_thread::yield();
    names = threadNames();
  }
  EXPECT_EQ(names["tcpxp-send"], helpers ? nsocks : 0);
  EXPECT_EQ(names["tcpxp-recv"], helpers ? nsocks : 0);
  if (!helpers) {
    size_t threads = 0;
    for (const auto& [name, count] : names) threads += static_cast<size_t>(count);
    EXPECT_EQ(threads, 1u) << "caller I/O mode started threads";
  }
}

}  // namespace
