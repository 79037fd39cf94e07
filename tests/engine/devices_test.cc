// UCCL_TCPX_DEV parsing: which transport devices an endpoint's channels use.
#include <gtest/gtest.h>

#include "engine/endpoint.h"

namespace tcpxp::engine {
namespace {

std::vector<transport::NetProperties> fourNics() {
  std::vector<transport::NetProperties> all(4);
  for (int i = 0; i < 4; ++i) all[i].name = "eth" + std::to_string(i + 1);
  return all;
}

TEST(ChooseDevices, DefaultIsDeviceZeroWithoutPciPaths) {
  std::vector<int> devs;
  std::string why;
  ASSERT_TRUE(chooseDevices("", fourNics(), -1, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{0});
  EXPECT_NE(why.find("device 0"), std::string::npos) << why;
}

TEST(ChooseDevices, IndicesAndNamesInTheGivenOrder) {
  std::vector<int> devs;
  std::string why;
  ASSERT_TRUE(chooseDevices("0,1,2,3", fourNics(), -1, &devs, &why).isOk());
  EXPECT_EQ(devs, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_TRUE(chooseDevices("eth3,eth1", fourNics(), -1, &devs, &why).isOk());
  EXPECT_EQ(devs, (std::vector<int>{2, 0}));
  ASSERT_TRUE(chooseDevices("2", fourNics(), -1, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{2});
}

TEST(ChooseDevices, UnknownDevicesAreClearErrors) {
  std::vector<int> devs;
  std::string why;
  Status st = chooseDevices("eth9", fourNics(), -1, &devs, &why);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("0=eth1"), std::string::npos) << st.message();
  EXPECT_EQ(chooseDevices("4", fourNics(), -1, &devs, &why).code(), Code::kInvalidArgument);
  EXPECT_EQ(chooseDevices(",,", fourNics(), -1, &devs, &why).code(), Code::kInvalidArgument);
  EXPECT_EQ(chooseDevices("", {}, -1, &devs, &why).code(), Code::kNotFound);
}

}  // namespace
}  // namespace tcpxp::engine
