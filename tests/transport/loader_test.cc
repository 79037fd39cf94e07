#include "transport/plugin_loader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/log.h"

namespace tcpxp::transport {
namespace {

std::string fake(const char* name) { return std::string(TCPXP_FAKE_PLUGIN_DIR) + "/" + name; }

TEST(PluginLoader, MissingFileIsNotFound) {
  NetPlugin* plugin = nullptr;
  Status st = NetPlugin::load("/nonexistent/libnccl-net.so", &plugin);
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find("UCCL_TCPX_PLUGIN_PATH"), std::string::npos) << st.message();
  EXPECT_EQ(plugin, nullptr);
}

TEST(PluginLoader, NotALibraryIsAPluginError) {
  std::string path = ::testing::TempDir() + "/not_a_library.so";
  std::ofstream(path) << "this is text, not ELF";
  NetPlugin* plugin = nullptr;
  Status st = NetPlugin::load(path, &plugin);
  EXPECT_EQ(st.code(), Code::kPluginError);
  EXPECT_NE(st.message().find("cannot load"), std::string::npos) << st.message();
}

TEST(PluginLoader, MissingSymbolIsNamed) {
  NetPlugin* plugin = nullptr;
  Status st = NetPlugin::load(fake("libfake_no_symbol.so"), &plugin);
  EXPECT_EQ(st.code(), Code::kPluginError);
  EXPECT_NE(st.message().find("ncclNetPlugin_v7"), std::string::npos) << st.message();
}

TEST(PluginLoader, IncompleteTableNamesTheMissingMembers) {
  NetPlugin* plugin = nullptr;
  Status st = NetPlugin::load(fake("libfake_incomplete.so"), &plugin);
  EXPECT_EQ(st.code(), Code::kPluginError);
  EXPECT_NE(st.message().find("isend"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("test"), std::string::npos) << st.message();
}

TEST(PluginLoader, FailingInitIsReportedAndRemembered) {
  NetPlugin* plugin = nullptr;
  Status first = NetPlugin::load(fake("libfake_init_fails.so"), &plugin);
  EXPECT_EQ(first.code(), Code::kPluginError);
  EXPECT_NE(first.message().find("init()"), std::string::npos) << first.message();
  // init may run once per process: a second load reports the same failure without calling it.
  Status second = NetPlugin::load(fake("libfake_init_fails.so"), &plugin);
  EXPECT_EQ(second.code(), Code::kPluginError);
}

TEST(PluginLoader, InitRunsOncePerProcessHoweverManyLoads) {
  NetPlugin* a = nullptr;
  NetPlugin* b = nullptr;
  ASSERT_TRUE(NetPlugin::load(fake("libfake_ok.so"), &a).isOk());
  ASSERT_TRUE(NetPlugin::load(fake("libfake_ok.so"), &b).isOk());
  EXPECT_EQ(a, b);
  int init_calls = 0;
  ASSERT_EQ(a->table().devices(&init_calls), ncclSuccess);
  EXPECT_EQ(init_calls, 1);
  EXPECT_EQ(a->name(), "fake");
}

TEST(PluginLoader, BuiltinSocketInitsOnce) {
  NetPlugin* a = nullptr;
  NetPlugin* b = nullptr;
  ASSERT_TRUE(NetPlugin::builtinSocket(&a).isOk());
  ASSERT_TRUE(NetPlugin::builtinSocket(&b).isOk());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->name(), "tcpx-p2p-socket");
  int ndev = 0;
  ASSERT_EQ(a->table().devices(&ndev), ncclSuccess);
  EXPECT_GE(ndev, 1);
  // The table itself refuses a second init, as TCPX does.
  EXPECT_NE(a->table().init(nullptr), ncclSuccess);
}

TEST(PluginLoader, StandaloneSocketLibraryLoads) {
  NetPlugin* plugin = nullptr;
  ASSERT_TRUE(NetPlugin::load(TCPXP_SOCKET_PLUGIN_PATH, &plugin).isOk());
  EXPECT_EQ(plugin->name(), "tcpx-p2p-socket");
}

std::vector<std::string>* g_lines = nullptr;
void collect(LogLevel, const char* line) { g_lines->push_back(line); }

TEST(PluginLoader, PluginLoggerBridgesIntoTheLog) {
  std::vector<std::string> lines;
  g_lines = &lines;
  setLogObserver(&collect);
  tcpxpPluginLogger(NCCL_LOG_WARN, 0, "plugin.cc", 42, "rxdm socket %s missing", "/run/tcpx");
  tcpxpPluginLogger(NCCL_LOG_TRACE, 0, "plugin.cc", 43, "not shown at WARN");
  setLogObserver(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("WARN plugin.cc:42 rxdm socket /run/tcpx missing"), std::string::npos)
      << lines[0];
}

}  // namespace
}  // namespace tcpxp::transport
