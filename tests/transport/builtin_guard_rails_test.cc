// The built-in transport's guard rails: where TCPX's behaviour is undefined or fatal (a second
// accept on a listen comm, requests of 4 MiB and more, a GPU receive over 2048 fragments, accept
// without a device handle in UNPACK mode, iflush), the built-in answers with an error code and
// stays usable, so that a driver bug shows up as a clear error in tests instead of a crash on
// GCP. These are NOT TCPX rules (docs/TCPX.md: TCPX takes such requests or crashes), so they run
// against the built-in library only, whatever TCPXP_CONFORMANCE_PLUGIN says.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <string>
#include <vector>

#include "conformance_harness.h"
#include "transport/abi/net_v7.h"
#include "transport/transports.h"

namespace tcpxp::conformance {
std::string pluginUnderTest() { return TCPXP_SOCKET_PLUGIN_PATH; }
}  // namespace tcpxp::conformance

namespace {

using namespace tcpxp::conformance;  // NOLINT(build/namespaces): the suite's own harness

class BuiltinGuardRails : public NetTest {
 protected:
  void SetUp() override {
    NetTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(tcpxp::transport::isBuiltinName(net().name))
        << "guard rails are the built-in transport's; loaded '" << net().name << "'";
  }
  void skipUnlessUnpack() {
    if (!unpack_) GTEST_SKIP() << "UNPACK mode only (UCCL_SOCKET_UNPACK=1)";
  }
};

TEST_F(BuiltinGuardRails, SecondAcceptOnAListenCommFailsWith3) {
  Pair p;
  void* listen = nullptr;
  ASSERT_TRUE(connectPair(&p, 0, &listen));
  void* second = nullptr;
  alignas(16) ncclNetDeviceHandle_v7_t dev{};
  ncclNetDeviceHandle_v7_t* dev_ptr = &dev;
  EXPECT_EQ(net().accept(listen, &second, &dev_ptr), ncclInternalError);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(net().closeListen(listen), ncclSuccess);
}

TEST_F(BuiltinGuardRails, RequestsOf4MiBOrMoreFailWith4) {
  Rig rig;
  makeRig(&rig, 4 << 20, 4 << 20, 18);
  ASSERT_FALSE(HasFatalFailure());
  void* req = nullptr;
  EXPECT_EQ(postSend(rig.pair, rig.src.get(), 4 << 20, rig.src_mr->get(), &req),
            ncclInvalidArgument);
  EXPECT_EQ(req, nullptr);
  EXPECT_EQ(postRecv(rig.pair, rig.dst.get(), 4 << 20, rig.dst_mr->get(), &req),
            ncclInvalidArgument);
  EXPECT_EQ(req, nullptr);
  EXPECT_EQ(postSend(rig.pair, rig.src.get(), INT_MAX, rig.src_mr->get(), &req),
            ncclInvalidArgument);
  EXPECT_EQ(req, nullptr);
  EXPECT_EQ(postSend(rig.pair, rig.src.get(), -1, rig.src_mr->get(), &req), ncclInvalidArgument);
  EXPECT_EQ(postRecv(rig.pair, rig.dst.get(), -1, rig.dst_mr->get(), &req), ncclInvalidArgument);
  // Nothing was posted: the largest legal request still pairs up as the first message.
  EXPECT_TRUE(runPlan(rig, {{kMaxRequest, 1, 0}}, 1));
  release(&rig);
}

// TCPX exit(1)s on a GPU receive over 2048 fragments (about 8 MiB); the built-in refuses any
// GPU receive of 4 MiB or more before it is posted.
TEST_F(BuiltinGuardRails, GpuReceivesOf4MiBOrMoreFailWith4) {
  skipUnlessUnpack();
  if (IsSkipped()) return;
  Rig rig;
  makeRig(&rig, 4096, 4096, 19);
  ASSERT_FALSE(HasFatalFailure());
  {
    CudaRegisteredBuffer dev(rig.pair.recv, size_t{8} << 20);
    ASSERT_TRUE(dev.ok());
    void* req = nullptr;
    EXPECT_EQ(postRecv(rig.pair, dev.data(), 4 << 20, dev.mh(), &req), ncclInvalidArgument);
    EXPECT_EQ(req, nullptr);
    EXPECT_EQ(postRecv(rig.pair, dev.data(), 8 << 20, dev.mh(), &req), ncclInvalidArgument);
    EXPECT_EQ(req, nullptr);
    // Nothing was posted: a legal GPU receive is still the first message.
    EXPECT_TRUE(runPlan(rig, {{4000, 0, 0, true}}, 1, &dev));
  }
  release(&rig);
}

// TCPX crashes on the first test() of a comm accepted without recvDevComm.
TEST_F(BuiltinGuardRails, UnpackAcceptWithoutADeviceHandleFailsWith4) {
  skipUnlessUnpack();
  if (IsSkipped()) return;
  char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
  void* listen = nullptr;
  ASSERT_EQ(net().listen(0, handle, &listen), ncclSuccess);
  void* recv = nullptr;
  EXPECT_EQ(net().accept(listen, &recv, nullptr), ncclInvalidArgument);
  EXPECT_EQ(recv, nullptr);
  EXPECT_EQ(net().closeListen(listen), ncclSuccess);
}

// GPU direct (UCCL_SOCKET_GPU_DIRECT=1, not a TCPX behaviour): sends from and receives into CUDA
// registrations move the bytes themselves, at odd sizes and offsets, one request per piece
// count (a request is split over the sockets, each helper copying its own piece). Without a GPU
// the registrations are 4 KiB-aligned host memory and move as host memory.
TEST_F(BuiltinGuardRails, GpuDirectMovesCudaRegistrationsAtBothEnds) {
  if (unpack_ || (props_.ptrSupport & NCCL_PTR_CUDA) == 0) {
    GTEST_SKIP() << "GPU direct only (UCCL_SOCKET_GPU_DIRECT=1)";
  }
  Pair p;
  ASSERT_TRUE(connectPair(&p));
  const size_t bytes = size_t{3} << 20;
  {
    CudaRegisteredBuffer src(p.send, bytes), dst(p.recv, bytes);
    ASSERT_TRUE(src.ok());
    ASSERT_TRUE(dst.ok());
    std::vector<char> pattern(bytes);
    fillPattern(pattern.data(), bytes, 29);
    src.load(0, pattern.data(), bytes);
    dst.fill(0);
    struct Case {
      int size;
      size_t src_off, dst_off;
    };
    const Case cases[] = {{1, 7, 3},
                          {4095, 1, 4097},
                          {(64 << 10) + 3, 5, 11},
                          {1 << 20, 0, 1 << 20},
                          {static_cast<int>(bytes) - 9, 9, 0}};
    for (const Case& c : cases) {
      void* rreq = nullptr;
      void* sreq = nullptr;
      ASSERT_EQ(postRecv(p, dst.data() + c.dst_off, c.size, dst.mh(), &rreq), ncclSuccess);
      ASSERT_EQ(postSend(p, src.data() + c.src_off, c.size, src.mh(), &sreq), ncclSuccess);
      int sdone = 0, rdone = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while ((sdone == 0 || rdone == 0) && std::chrono::steady_clock::now() < deadline) {
        if (sdone == 0) {
          ASSERT_EQ(net().test(sreq, &sdone, nullptr), ncclSuccess);
        }
        if (rdone == 0) {
          ASSERT_EQ(net().test(rreq, &rdone, nullptr), ncclSuccess);
        }
      }
      ASSERT_TRUE(sdone != 0 && rdone != 0) << c.size << " B did not arrive within 20 s";
      ASSERT_EQ(net().irecvConsumed(p.recv, 1, rreq), ncclSuccess);
      EXPECT_TRUE(dst.holds(c.dst_off, pattern.data() + c.src_off, static_cast<size_t>(c.size)))
          << c.size << " B from offset " << c.src_off << " to " << c.dst_off;
    }
  }
  p.close();
}

// TCPX's iflush must never be called (docs/TCPX.md); the built-in refuses it.
TEST_F(BuiltinGuardRails, IflushFailsWith3) {
  ASSERT_NE(net().iflush, nullptr);
  Rig rig;
  makeRig(&rig, 4096, 4096, 20);
  ASSERT_FALSE(HasFatalFailure());
  void* data[1] = {rig.dst.get()};
  int sizes[1] = {16};
  void* mhs[1] = {rig.dst_mr->get()};
  void* req = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(net().iflush(rig.pair.recv, 1, data, sizes, mhs, &req), ncclInternalError);
  EXPECT_EQ(req, nullptr);
  release(&rig);
}

}  // namespace
