// UCCL_TCPX_DEV parsing and PCIe/NUMA locality: which transport devices an endpoint's channels
// use (engine/decisions.h: decideDevices).
#include <gtest/gtest.h>

#include "engine/decisions.h"

namespace tcpxp::engine {
namespace {

std::vector<PciFacts> fourNics() {
  std::vector<PciFacts> all(4);
  for (int i = 0; i < 4; ++i) all[i].name = "eth" + std::to_string(i + 1);
  return all;
}

Status choose(const std::string& spec, const std::vector<PciFacts>& all, int gpu_index,
              const PciFacts& gpu, std::vector<int>* devs, std::string* why) {
  DeviceDecision d;
  Status st = decideDevices(spec, all, gpu_index, gpu, &d);
  *devs = d.devs;
  *why = d.reason;
  return st;
}

TEST(ChooseDevices, DefaultIsDeviceZeroWithoutPciPaths) {
  std::vector<int> devs;
  std::string why;
  ASSERT_TRUE(choose("", fourNics(), -1, {}, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{0});
  EXPECT_NE(why.find("device 0"), std::string::npos) << why;
  ASSERT_TRUE(choose("", fourNics(), 0, {}, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{0});
  EXPECT_NE(why.find("device 0"), std::string::npos) << why;
}

TEST(ChooseDevices, IndicesAndNamesInTheGivenOrder) {
  std::vector<int> devs;
  std::string why;
  ASSERT_TRUE(choose("0,1,2,3", fourNics(), -1, {}, &devs, &why).isOk());
  EXPECT_EQ(devs, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_TRUE(choose("eth3,eth1", fourNics(), -1, {}, &devs, &why).isOk());
  EXPECT_EQ(devs, (std::vector<int>{2, 0}));
  ASSERT_TRUE(choose("2", fourNics(), -1, {}, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{2});
  EXPECT_EQ(why, "UCCL_TCPX_DEV=2");
}

TEST(ChooseDevices, UnknownDevicesAreClearErrors) {
  std::vector<int> devs;
  std::string why;
  Status st = choose("eth9", fourNics(), -1, {}, &devs, &why);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("0=eth1"), std::string::npos) << st.message();
  EXPECT_EQ(choose("4", fourNics(), -1, {}, &devs, &why).code(), Code::kInvalidArgument);
  EXPECT_EQ(choose(",,", fourNics(), -1, {}, &devs, &why).code(), Code::kInvalidArgument);
  EXPECT_EQ(choose("", {}, -1, {}, &devs, &why).code(), Code::kNotFound);
}

// A3-high-like tree: two switches under one root complex, two NICs, GPU 2 behind the second.
std::vector<PciFacts> switchNics() {
  return {{"eth1", "/sys/devices/pci0000:00/0000:00:04.0/0000:05:00.0/0000:06:00.0", 0},
          {"eth2", "/sys/devices/pci0000:00/0000:00:05.0/0000:0a:00.0/0000:0b:00.0", 0}};
}

TEST(ChooseDevices, DeepestSharedSwitchWins) {
  PciFacts gpu{"", "/sys/devices/pci0000:00/0000:00:05.0/0000:0a:00.0/0000:0c:00.0", 0};
  std::vector<int> devs;
  std::string why;
  ASSERT_TRUE(choose("", switchNics(), 2, gpu, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{1});
  EXPECT_NE(why.find("PCIe-local to GPU 2"), std::string::npos) << why;
  EXPECT_NE(why.find("0000:0a:00.0"), std::string::npos) << why;
}

TEST(ChooseDevices, PathComponentsNotCharacterPrefixes) {
  // eth2's root complex "pci0000:0a1" starts with the GPU's "pci0000:0a": it shares the most
  // characters with the GPU's path, but no PCI component. The GPU's NUMA node picks eth1.
  std::vector<PciFacts> nics = {{"eth1", "/sys/devices/pci0000:8b/0000:8b:00.0", 0},
                                {"eth2", "/sys/devices/pci0000:0a1/0000:0a:01.0", 1}};
  PciFacts gpu{"", "/sys/devices/pci0000:0a/0000:0a:01.0/0000:0c:00.0", 0};
  std::vector<int> devs;
  std::string why;
  ASSERT_TRUE(choose("", nics, 0, gpu, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{0}) << why;
  EXPECT_NE(why.find("NUMA node 0"), std::string::npos) << why;
  EXPECT_EQ(pciCommonDepth(gpu.pci_path, nics[1].pci_path), 0u);
  // Sharing only the root complex (no bridge) is not PCIe-local either.
  nics.push_back({"eth3", "/sys/devices/pci0000:0a/0000:0a:03.0", 1});
  EXPECT_EQ(pciCommonDepth(gpu.pci_path, nics[2].pci_path), 1u);
  ASSERT_TRUE(choose("", nics, 0, gpu, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{0}) << why;
  // A bridge in common is.
  nics.push_back({"eth4", "/sys/devices/pci0000:0a/0000:0a:01.0/0000:0d:00.0", 1});
  ASSERT_TRUE(choose("", nics, 0, gpu, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{3}) << why;
  EXPECT_NE(why.find("0000:0a:01.0"), std::string::npos) << why;
}

TEST(ChooseDevices, NumaNodeWhenNoBridgeIsShared) {
  std::vector<PciFacts> nics = {{"eth1", "/sys/devices/pci0000:00/0000:00:04.0", 0},
                                {"eth2", "/sys/devices/pci0000:80/0000:80:04.0", 1},
                                {"eth3", "", 1}};
  PciFacts gpu{"", "/sys/devices/pci0000:40/0000:40:02.0", 1};
  std::vector<int> devs;
  std::string why;
  ASSERT_TRUE(choose("", nics, 3, gpu, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{1});
  EXPECT_NE(why.find("NUMA node 1"), std::string::npos) << why;
  // No NUMA match either: device 0.
  gpu.numa_node = 2;
  ASSERT_TRUE(choose("", nics, 3, gpu, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{0});
  EXPECT_NE(why.find("device 0"), std::string::npos) << why;
  // The override still wins over locality.
  ASSERT_TRUE(choose("eth3", nics, 3, gpu, &devs, &why).isOk());
  EXPECT_EQ(devs, std::vector<int>{2});
}

TEST(ChooseDevices, BdfOfPathIsTheLastPciComponent) {
  EXPECT_EQ(bdfOfPath("/sys/devices/pci0000:00/0000:00:04.0/0000:05:00.0/virtio1"), "0000:05:00.0");
  EXPECT_EQ(bdfOfPath("/sys/devices/virtual/net/lo"), "");
}

}  // namespace
}  // namespace tcpxp::engine
