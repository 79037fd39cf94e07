// The built-in transport's guard rails: where TCPX's behaviour is undefined or fatal (a second
// accept on a listen comm, requests of 4 MiB and more, a GPU receive over 2048 fragments, accept
// without a device handle in UNPACK mode, iflush), the built-in answers with an error code and
// stays usable, so that a driver bug shows up as a clear error in tests instead of a crash on
// GCP. These are NOT TCPX rules (docs/TCPX.md: TCPX takes such requests or crashes), so they run
// against the built-in library only, whatever TCPXP_CONFORMANCE_PLUGIN says.
#include <gtest/gtest.h>

#include <climits>
#include <string>

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
