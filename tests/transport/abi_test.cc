#include <gtest/gtest.h>

#include "transport/abi/net_v7.h"

TEST(NetV7Abi, ResultCodesMatchTcpx) {
  EXPECT_EQ(ncclSuccess, 0);
  EXPECT_EQ(ncclUnhandledCudaError, 1);
  EXPECT_EQ(ncclSystemError, 2);
  EXPECT_EQ(ncclInternalError, 3);
  EXPECT_EQ(ncclInvalidArgument, 4);
  EXPECT_EQ(ncclInvalidUsage, 5);
  EXPECT_EQ(ncclRemoteError, 6);
  EXPECT_EQ(ncclInProgress, 7);
}

TEST(NetV7Abi, PointerTypesAndDeviceTypes) {
  EXPECT_EQ(NCCL_PTR_HOST | NCCL_PTR_CUDA, 0x3);
  EXPECT_EQ(NCCL_NET_DEVICE_UNPACK, 1);
  EXPECT_EQ(NCCL_NET_DEVICE_UNPACK_VERSION, 0x7);
  EXPECT_EQ(NCCL_NET_HANDLE_MAXSIZE, 128);
}

TEST(NetV7Abi, LoadMetaFieldsShareTheirWords) {
  loadMeta m{};
  m.src_off = 0x11223344u;
  m.len = 0x55667788u;
  m.dst_off = 0x0102030405060708ull;
  EXPECT_EQ(m.r64[0], 0x5566778811223344ull);
  EXPECT_EQ(m.r64[1], 0x0102030405060708ull);
}
