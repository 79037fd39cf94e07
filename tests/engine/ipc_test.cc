// The same-host CUDA IPC path without a GPU: the 128-byte blob (every field of a hostile one
// refused with a clear error), the connect_local / accept_local rendezvous between real
// processes (no acceptor: a clear error within the deadline; a foreign or silent connector is
// dropped; two acceptors on one GPU: kBusy), and the endpoint's refusals (host memory, bad
// blobs, unknown connections). The GPU forms: ipc_gpu_test.cc.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "datapath/cuda_ipc.h"
#include "engine/endpoint.h"
#include "engine/local_rendezvous.h"

namespace tcpxp::engine {
namespace {

using datapath::IpcBlob;
using datapath::IpcInfo;
using Clock = std::chrono::steady_clock;

IpcInfo sampleInfo() {
  IpcInfo info;
  for (size_t i = 0; i < info.handle.size(); ++i) info.handle[i] = static_cast<uint8_t>(i * 7);
  info.offset = 4096;
  info.size = 1 << 20;
  info.alloc_bytes = 2 << 20;
  info.alloc_base = 0x7f0000000000;
  info.pid = 1234;
  info.device = 0;
  info.bdf = "0000:4a:00.0";
  return info;
}

IpcBlob encode(const IpcInfo& info) {
  IpcBlob b{};
  datapath::encodeIpcInfo(info, b.data());
  return b;
}

std::string decodeError(const IpcBlob& b) {
  IpcInfo out;
  Status st = datapath::decodeIpcInfo(b.data(), b.size(), &out);
  return st.isOk() ? "" : st.message();
}

// A scope of this test's own, so parallel tests never meet.
std::string scope(const char* name) { return std::string(name) + "." + std::to_string(::getpid()); }

TEST(IpcBlob, RoundTripsEveryField) {
  IpcInfo in = sampleInfo();
  IpcBlob b = encode(in);
  IpcInfo out;
  ASSERT_TRUE(datapath::decodeIpcInfo(b.data(), b.size(), &out).isOk());
  EXPECT_EQ(out.handle, in.handle);
  EXPECT_EQ(out.offset, in.offset);
  EXPECT_EQ(out.size, in.size);
  EXPECT_EQ(out.alloc_bytes, in.alloc_bytes);
  EXPECT_EQ(out.alloc_base, in.alloc_base);
  EXPECT_EQ(out.pid, in.pid);
  EXPECT_EQ(out.device, in.device);
  EXPECT_EQ(out.bdf, in.bdf);
}

TEST(IpcBlob, HostileBlobsAreRefusedWithAReason) {
  IpcBlob good = encode(sampleInfo());
  EXPECT_EQ(decodeError(good), "");

  IpcInfo out;
  EXPECT_NE(datapath::decodeIpcInfo(good.data(), 104, &out).message().find("104 bytes"),
            std::string::npos);  // UCCL's own struct size: not ours
  IpcBlob zero{};
  EXPECT_NE(decodeError(zero).find("bad magic"), std::string::npos);
  IpcBlob version = good;
  version[4] = 9;
  EXPECT_NE(decodeError(version).find("version 9"), std::string::npos);

  IpcInfo past = sampleInfo();
  past.offset = past.alloc_bytes - 10;  // 10 bytes left, 1 MiB claimed
  EXPECT_NE(decodeError(encode(past)).find("not inside its allocation"), std::string::npos);
  IpcInfo wrap = sampleInfo();
  wrap.offset = 16;
  wrap.size = UINT64_MAX - 8;  // offset + size wraps
  EXPECT_NE(decodeError(encode(wrap)).find("not inside its allocation"), std::string::npos);
  IpcInfo beyond = sampleInfo();
  beyond.offset = beyond.alloc_bytes + 1;
  beyond.size = 0;
  EXPECT_NE(decodeError(encode(beyond)).find("not inside its allocation"), std::string::npos);

  IpcBlob bdf = good;
  std::memset(bdf.data() + 112, 'a', 16);  // no NUL
  EXPECT_NE(decodeError(bdf).find("BDF not terminated"), std::string::npos);
  bdf = good;
  std::memcpy(bdf.data() + 112, "../etc\0", 7);
  EXPECT_NE(decodeError(bdf).find("not a PCI address"), std::string::npos);
}

TEST(IpcBlob, UpdateNarrowsInsideTheRegionOnly) {
  IpcInfo in = sampleInfo();
  IpcBlob b = encode(in);
  const uintptr_t base = 0x10000;
  ASSERT_TRUE(datapath::updateIpcInfo(b.data(), base + 100, base, 5000).isOk());
  IpcInfo out;
  ASSERT_TRUE(datapath::decodeIpcInfo(b.data(), b.size(), &out).isOk());
  EXPECT_EQ(out.offset, in.offset + 100);
  EXPECT_EQ(out.size, 5000u);

  IpcBlob before = b;
  EXPECT_FALSE(datapath::updateIpcInfo(b.data(), base - 1, base, 1).isOk());      // below base
  EXPECT_FALSE(datapath::updateIpcInfo(b.data(), base + 4990, base, 11).isOk());  // past end
  EXPECT_FALSE(datapath::updateIpcInfo(b.data(), UINTPTR_MAX, 0, 1).isOk());      // huge shift
  EXPECT_FALSE(datapath::updateIpcInfo(b.data(), base, base, SIZE_MAX).isOk());
  EXPECT_EQ(b, before);  // refused: unchanged
  IpcBlob junk{};
  EXPECT_FALSE(datapath::updateIpcInfo(junk.data(), base, base, 1).isOk());
}

TEST(IpcRendezvous, BdfsAreNormalizedOrRefused) {
  std::string out;
  ASSERT_TRUE(normalizeBdf("0000:4A:00.0", &out).isOk());
  EXPECT_EQ(out, "0000:4a:00.0");
  ASSERT_TRUE(normalizeBdf("4a:00.1", &out).isOk());
  EXPECT_EQ(out, "0000:4a:00.1");
  ASSERT_TRUE(normalizeBdf("00000000:4A:00.0", &out).isOk());  // nvidia-smi's form
  EXPECT_EQ(out, "0000:4a:00.0");
  for (const char* bad :
       {"", "gpu0", "0000:4a:00", "0000:4a:00.8", "00000:4a:00.0", "/tmp/x", "0000:4a:00.0\n"}) {
    Status st = normalizeBdf(bad, &out);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad;
  }
}

TEST(IpcRendezvous, HostileHellosAreRefused) {
  LocalPeer p{"0000:4a:00.0", 42, 0};
  uint8_t buf[kLocalHelloBytes];
  encodeLocalHello(p, /*answer=*/false, buf);
  LocalPeer out;
  ASSERT_TRUE(decodeLocalHello(buf, sizeof(buf), false, &out).isOk());
  EXPECT_EQ(out.bdf, p.bdf);
  EXPECT_EQ(out.pid, 42u);
  EXPECT_EQ(decodeLocalHello(buf, sizeof(buf), /*answer=*/true, &out).code(),
            Code::kProtocolError);  // a hello where an answer belongs
  uint8_t bad[kLocalHelloBytes];
  std::memcpy(bad, buf, sizeof(bad));
  bad[0] = 'X';
  EXPECT_EQ(decodeLocalHello(bad, sizeof(bad), false, &out).code(), Code::kProtocolError);
  std::memcpy(bad, buf, sizeof(bad));
  std::memset(bad + 16, 'f', 16);
  EXPECT_EQ(decodeLocalHello(bad, sizeof(bad), false, &out).code(), Code::kProtocolError);
  std::memcpy(bad, buf, sizeof(bad));
  std::memcpy(bad + 16, "zz:zz\0", 6);
  EXPECT_EQ(decodeLocalHello(bad, sizeof(bad), false, &out).code(), Code::kProtocolError);
}

TEST(IpcRendezvous, NoAcceptorFailsClearlyWithinTheDeadline) {
  LocalPeer self{"", static_cast<uint32_t>(::getpid()), -1};
  LocalPeer peer;
  auto start = Clock::now();
  Status st = dialLocal(rendezvousName(scope("none"), "0000:4a:00.0"), self, 300, nullptr, &peer);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_EQ(st.code(), Code::kTimeout);
  EXPECT_NE(st.message().find("no process of this user called accept_local"), std::string::npos)
      << st.message();
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 5000);
}

// A child process runs `body` and exits with its result (0 = passed).
template <typename Body>
pid_t spawnChild(Body&& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

int waitChild(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(IpcRendezvous, TwoProcessesMeetByBdf) {
  const std::string name = rendezvousName(scope("meet"), "0000:4a:00.0");
  // The connector starts first: it retries until the acceptor listens.
  pid_t child = spawnChild([&] {
    LocalPeer self{"0000:17:00.0", static_cast<uint32_t>(::getpid()), 3};
    LocalPeer peer;
    Status st = dialLocal(name, self, 10000, nullptr, &peer);
    if (!st.isOk()) return 2;
    return peer.bdf == "0000:4a:00.0" && peer.gpu == 0 ? 0 : 3;
  });
  LocalPeer self{"0000:4a:00.0", static_cast<uint32_t>(::getpid()), 0};
  LocalPeer peer;
  Status st = acceptLocal(name, self, 10000, 5000, nullptr, &peer);
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(peer.bdf, "0000:17:00.0");
  EXPECT_EQ(peer.gpu, 3);
  EXPECT_EQ(peer.pid, static_cast<uint32_t>(child));
  EXPECT_EQ(waitChild(child), 0);
}

TEST(IpcRendezvous, ForeignAndSilentConnectorsAreDroppedThenARealOneIsServed) {
  const std::string name = rendezvousName(scope("hostile"), "0000:4a:00.0");
  pid_t child = spawnChild([&] {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    auto dial = [&] {
      for (int i = 0; i < 1000; ++i) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) return fd;
        ::close(fd);
        ::usleep(10000);  // retry backoff until the acceptor listens
      }
      return -1;
    };
    int garbage = dial();  // 48 bytes that are not a hello
    if (garbage < 0) return 2;
    std::vector<uint8_t> junk(kLocalHelloBytes, 0xAB);
    if (::write(garbage, junk.data(), junk.size()) != static_cast<ssize_t>(junk.size())) return 3;
    int truncated = dial();  // half a hello, then closed
    if (truncated < 0 || ::write(truncated, junk.data(), 10) != 10) return 4;
    ::close(truncated);
    LocalPeer self{"0000:17:00.0", static_cast<uint32_t>(::getpid()), 1};
    LocalPeer peer;
    Status st = dialLocal(name, self, 10000, nullptr, &peer);
    ::close(garbage);
    return st.isOk() ? 0 : 5;
  });
  LocalPeer self{"0000:4a:00.0", static_cast<uint32_t>(::getpid()), 0};
  LocalPeer peer;
  Status st = acceptLocal(name, self, 20000, 5000, nullptr, &peer);
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(peer.bdf, "0000:17:00.0");
  EXPECT_EQ(waitChild(child), 0);
}

TEST(IpcRendezvous, SilentConnectorTimesOutTheHelloNotTheAcceptor) {
  const std::string name = rendezvousName(scope("silent"), "0000:4a:00.0");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = spawnChild([&] {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    for (int i = 0; i < 1000; ++i) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
        char c = 0;
        ssize_t got = ::read(ready[0], &c, 1);  // silent until the parent says stop
        return got >= 0 ? 0 : 1;
      }
      ::close(fd);
      ::usleep(10000);
    }
    return 2;
  });
  LocalPeer self{"0000:4a:00.0", static_cast<uint32_t>(::getpid()), 0};
  LocalPeer peer;
  auto start = Clock::now();
  // The silent connector's hello times out (200 ms) and is dropped; then the acceptor's own
  // timeout (1.5 s) ends the wait with a clear error.
  Status st = acceptLocal(name, self, 1500, 200, nullptr, &peer);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_EQ(st.code(), Code::kTimeout) << st.toString();
  EXPECT_LT(ms, 5000);
  ASSERT_EQ(::write(ready[1], "x", 1), 1);
  EXPECT_EQ(waitChild(child), 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(IpcRendezvous, TwoAcceptorsOnOneGpuAreBusy) {
  const std::string name = rendezvousName(scope("busy"), "0000:4a:00.0");
  int ready[2], done[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(done), 0);
  pid_t child = spawnChild([&] {
    LocalPeer self{"0000:4a:00.0", static_cast<uint32_t>(::getpid()), 0};
    LocalPeer peer;
    // Listens, tells the parent (interrupted() is first called once it listens), and waits
    // until the parent closes `done`.
    ::close(done[1]);  // the parent's copy is the one whose closing ends the wait
    bool told = false;
    auto interrupted = [&] {
      if (!told) {
        told = true;
        if (::write(ready[1], "r", 1) != 1) return true;
      }
      pollfd p{done[0], POLLIN, 0};
      return ::poll(&p, 1, 0) > 0;
    };
    Status st = acceptLocal(name, self, 20000, 1000, interrupted, &peer);
    return st.code() == Code::kTimeout ? 0 : 2;
  });
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  LocalPeer self{"0000:4a:00.0", static_cast<uint32_t>(::getpid()), 0};
  LocalPeer peer;
  Status st = acceptLocal(name, self, 1000, 1000, nullptr, &peer);
  EXPECT_EQ(st.code(), Code::kBusy) << st.toString();
  EXPECT_NE(st.message().find("another process of this user is in accept_local"),
            std::string::npos);
  ::close(done[1]);  // the child's interrupted() sees the hang-up and ends its wait
  EXPECT_EQ(waitChild(child), 0);
  ::close(ready[0]);
  ::close(ready[1]);
  ::close(done[0]);
}

// Endpoints of these tests meet only each other (UCCL_TCPX_IPC_SCOPE, read at create).
class IpcEndpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("UCCL_TCPX_IPC_SCOPE", scope("ep").c_str(), 1);
    Status st = Endpoint::create(-1, &ep_);
    ASSERT_TRUE(st.isOk()) << st.toString();
  }
  void TearDown() override { unsetenv("UCCL_TCPX_IPC_SCOPE"); }
  std::unique_ptr<Endpoint> ep_;
};

TEST_F(IpcEndpoint, InfoSaysWhatThisEndpointOffers) {
  EXPECT_FALSE(ep_->info().ipc.empty());
#ifdef TCPXP_HAVE_CUDA
  EXPECT_NE(ep_->info().ipc.find("host-only"), std::string::npos) << ep_->info().ipc;
#else
  EXPECT_NE(ep_->info().ipc.find("without CUDA"), std::string::npos) << ep_->info().ipc;
#endif
}

TEST_F(IpcEndpoint, HostMemoryIsRefused) {
  std::vector<uint8_t> host(4096);
  IpcBlob blob{};
  Status st = ep_->advertiseIpc(host.data(), host.size(), &blob);
  EXPECT_FALSE(st.isOk());
#ifdef TCPXP_HAVE_CUDA
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
  EXPECT_NE(st.message().find("not GPU memory"), std::string::npos) << st.toString();
#else
  EXPECT_EQ(st.code(), Code::kNotSupported) << st.toString();
#endif
  EXPECT_EQ(ep_->advertiseIpc(nullptr, 8, &blob).code(), Code::kInvalidArgument);
  EXPECT_EQ(ep_->advertiseIpc(host.data(), 0, &blob).code(), Code::kInvalidArgument);
}

TEST_F(IpcEndpoint, TransfersCheckConnectionBlobAndMemory) {
  std::vector<uint8_t> host(4096);
  IpcSegment seg;
  seg.ptr = host.data();
  seg.size = host.size();
  seg.info = encode(sampleInfo());
  XferId id = 0;
  // No such connection.
  Status st = ep_->writeIpcAsync(12345, {&seg, 1}, &id);
  EXPECT_EQ(st.code(), Code::kNotFound) << st.toString();

  // A local connection to a second (host-only) endpoint of this process.
  std::unique_ptr<Endpoint> other;
  ASSERT_TRUE(Endpoint::create(-1, &other).isOk());
  ConnId a = 0, b = 0;
  std::string bdf;
  auto accepted =
      std::async(std::launch::async, [&] { return other->acceptLocal(&bdf, &b, nullptr, 10000); });
  st = ep_->connectLocal("", &a);
  ASSERT_TRUE(st.isOk()) << st.toString();
  ASSERT_TRUE(accepted.get().isOk());
  EXPECT_TRUE(ep_->isLocal(a));
  EXPECT_TRUE(other->isLocal(b));
  EXPECT_EQ(bdf, "");

  // Bad blob, oversized transfer, no buffers: refused before anything moves.
  IpcSegment bad = seg;
  bad.info = IpcBlob{};
  st = ep_->writeIpcAsync(a, {&bad, 1}, &id);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("buffer 0: not an IPC info blob"), std::string::npos)
      << st.toString();
  IpcSegment big = seg;
  big.size = (1 << 20) + 1;
  st = ep_->readIpcAsync(a, {&big, 1}, &id);
  EXPECT_NE(st.message().find("more than the 1048576 the peer advertised"), std::string::npos)
      << st.toString();
  EXPECT_EQ(ep_->writeIpcAsync(a, {}, &id).code(), Code::kInvalidArgument);
  // A well-formed blob, host memory, host-only endpoint: no GPU to copy with.
  st = ep_->writeIpcAsync(a, {&seg, 1}, &id);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("no GPU"), std::string::npos) << st.toString();

  // Closing: the id is gone for IPC, and closing again is not an error (as for connect()).
  EXPECT_TRUE(ep_->closeConnection(a).isOk());
  EXPECT_FALSE(ep_->isLocal(a));
  EXPECT_TRUE(ep_->closeConnection(a).isOk());
  EXPECT_EQ(ep_->writeIpcAsync(a, {&seg, 1}, &id).code(), Code::kNotFound);
  EXPECT_TRUE(other->closeConnection(b).isOk());
}

TEST_F(IpcEndpoint, LocalConnectionIdsShareTheNetworkIdSpace) {
  std::unique_ptr<Endpoint> other;
  ASSERT_TRUE(Endpoint::create(-1, &other).isOk());
  Endpoint* self = ep_.get();
  // A network connection, then a local one, then a network one: three distinct ids.
  auto net_accept = std::async(std::launch::async, [&] {
    ConnId id = 0;
    return other->accept(&id, nullptr, nullptr, nullptr, 10000);
  });
  ConnId n1 = 0, l1 = 0, n2 = 0, lb = 0;
  ASSERT_TRUE(self->connect("127.0.0.1", -1, other->info().port, &n1).isOk());
  ASSERT_TRUE(net_accept.get().isOk());
  std::string bdf;
  auto local_accept =
      std::async(std::launch::async, [&] { return other->acceptLocal(&bdf, &lb, nullptr, 10000); });
  ASSERT_TRUE(self->connectLocal("", &l1).isOk());
  ASSERT_TRUE(local_accept.get().isOk());
  net_accept = std::async(std::launch::async, [&] {
    ConnId id = 0;
    return other->accept(&id, nullptr, nullptr, nullptr, 10000);
  });
  ASSERT_TRUE(self->connect("127.0.0.1", -1, other->info().port, &n2).isOk());
  ASSERT_TRUE(net_accept.get().isOk());
  EXPECT_NE(n1, l1);
  EXPECT_NE(l1, n2);
  EXPECT_NE(n1, n2);
  EXPECT_TRUE(self->isLocal(l1));
  EXPECT_FALSE(self->isLocal(n1));
  EXPECT_TRUE(self->closeConnection(l1).isOk());
  EXPECT_TRUE(self->closeConnection(n1).isOk());
}

}  // namespace
}  // namespace tcpxp::engine
