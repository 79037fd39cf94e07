// The logger bridge's policy (transport/plugin_log.h) on an injected clock, and the process's
// bridge (tcpxpPluginLogger) at the default level.
#include "transport/plugin_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/log.h"
#include "transport/abi/net_v7.h"
#include "transport/plugin_loader.h"

namespace tcpxp::transport {
namespace {

using std::chrono::milliseconds;

// TCPX's exact call (net_tcpx.cc taskProgress): WARN("NET/" PRODUCT_NAME " requested receive on
// host mem buffer"), PRODUCT_NAME "GPUDirectTCPX", file = __PRETTY_FUNCTION__.
constexpr const char* kTcpxHostRecvWarn = "NET/GPUDirectTCPX requested receive on host mem buffer";

struct Printed {
  LogLevel level;
  std::string file;
  int line;
  std::string text;
};

class Limiter : public ::testing::Test {
 protected:
  Limiter()
      : limiter_([this] { return now_; },
                 [this](LogLevel level, const char* file, int line, const char* text) {
                   printed_.push_back({level, file, line, text});
                 }) {}
  void advance(milliseconds d) { now_ += d; }
  void warn(const std::string& text, int line = 7) {
    limiter_.submit(LogLevel::kWarn, "net_tcpx.cc", line, text);
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const Printed& p : printed_) out.push_back(p.text);
    return out;
  }

  std::chrono::steady_clock::time_point now_{std::chrono::seconds(1000)};
  std::vector<Printed> printed_;
  PluginLogLimiter limiter_;
};

TEST_F(Limiter, FirstPrintedThenRepeatsCountedOncePerSecond) {
  for (int i = 0; i < 5; ++i) warn("socket 3 closed");
  EXPECT_EQ(texts(), std::vector<std::string>{"socket 3 closed"});
  advance(milliseconds(999));
  warn("socket 3 closed");  // still within the second: counted
  EXPECT_EQ(printed_.size(), 1u);
  advance(milliseconds(1));
  warn("socket 3 closed");  // the second is over: the count so far, this one counted again
  ASSERT_EQ(printed_.size(), 2u);
  EXPECT_EQ(printed_[1].text, "socket 3 closed (repeated 5 more times)");
  EXPECT_EQ(printed_[1].level, LogLevel::kWarn);
  EXPECT_EQ(printed_[1].file, "net_tcpx.cc");
  EXPECT_EQ(printed_[1].line, 7);
  limiter_.flush();
  ASSERT_EQ(printed_.size(), 3u);
  EXPECT_EQ(printed_[2].text, "socket 3 closed (repeated 1 more time)");
  limiter_.flush();
  EXPECT_EQ(printed_.size(), 3u) << "nothing pending: flush prints nothing";
}

TEST_F(Limiter, AQuietMessageIsPrintedAgainAsNew) {
  warn("peer gone");
  advance(milliseconds(5000));
  warn("peer gone");
  EXPECT_EQ(texts(), (std::vector<std::string>{"peer gone", "peer gone"}));
}

TEST_F(Limiter, ACountIsReportedByTheNextMessageAfterTheSecond) {
  for (int i = 0; i < 1000; ++i) warn("flood");
  advance(milliseconds(1500));
  warn("something else");
  EXPECT_EQ(texts(), (std::vector<std::string>{"flood", "flood (repeated 999 more times)",
                                               "something else"}));
}

TEST_F(Limiter, MessagesDifferingInTextLineOrLevelAreNotMerged) {
  warn("a");
  warn("b");
  warn("a", 8);
  limiter_.submit(LogLevel::kError, "net_tcpx.cc", 7, "a");
  EXPECT_EQ(texts(), (std::vector<std::string>{"a", "b", "a", "a"}));
  EXPECT_EQ(printed_[3].level, LogLevel::kError);
}

TEST_F(Limiter, DistinctLinesAreRateLimitedAndTheRestCounted) {
  const int over = 50;
  for (int i = 0; i < PluginLogLimiter::kMaxLinesPerWindow + over; ++i) {
    warn("request " + std::to_string(i));
  }
  ASSERT_EQ(printed_.size(), size_t{PluginLogLimiter::kMaxLinesPerWindow});
  EXPECT_EQ(printed_.back().text,
            "request " + std::to_string(PluginLogLimiter::kMaxLinesPerWindow - 1));
  advance(milliseconds(1000));
  warn("next second");
  ASSERT_EQ(printed_.size(), size_t{PluginLogLimiter::kMaxLinesPerWindow} + 2);
  EXPECT_EQ(printed_[printed_.size() - 2].text,
            "net plugin: 50 more messages not shown (over 100 distinct lines per second)");
  EXPECT_EQ(printed_[printed_.size() - 2].level, LogLevel::kWarn);
  EXPECT_EQ(printed_.back().text, "next second");
}

TEST_F(Limiter, KnownMessagesOverTheBudgetAreCountedNotDropped) {
  for (int i = 0; i < PluginLogLimiter::kMaxLinesPerWindow; ++i) warn("m" + std::to_string(i));
  advance(milliseconds(1000));
  // A new window: m0 is printed again as new, then the budget is spent by others (n99 dropped).
  warn("m0");
  for (int i = 0; i < PluginLogLimiter::kMaxLinesPerWindow; ++i) warn("n" + std::to_string(i));
  const size_t before = printed_.size();
  ASSERT_EQ(before, 2u * PluginLogLimiter::kMaxLinesPerWindow);
  advance(milliseconds(500));
  for (int i = 0; i < 3; ++i) warn("m1");  // known, last printed 1.5 s ago, budget spent
  limiter_.flush();
  // Every m1 is in a count (at most one count line per second), none printed as itself.
  uint64_t counted = 0;
  std::vector<std::string> t = texts();
  for (size_t i = before; i < t.size(); ++i) {
    EXPECT_NE(t[i], "m1");
    unsigned long long n = 0;
    if (std::sscanf(t[i].c_str(), "m1 (repeated %llu more time", &n) == 1) counted += n;
  }
  EXPECT_EQ(counted, 3u);
  EXPECT_NE(std::find(t.begin(), t.end(),
                      "net plugin: 1 more messages not shown (over 100 distinct lines per second)"),
            t.end());
}

TEST_F(Limiter, ManyDistinctMessagesKeepTheTableBounded) {
  // More distinct messages than are tracked, 50 a second: each is printed once, and when the
  // table is full it restarts, reporting the counts still pending ("last") rather than losing them.
  warn("first");
  warn("first");
  const size_t n = PluginLogLimiter::kMaxTracked + 10;
  for (size_t i = 0; i < n; ++i) {
    if (i % 50 == 0) advance(milliseconds(1000));
    if (i == PluginLogLimiter::kMaxTracked - 5) {
      warn("last");
      warn("last");
    }
    warn("distinct " + std::to_string(i));
  }
  std::vector<std::string> t = texts();
  EXPECT_EQ(t.size(), n + 4);
  auto at = [&](const std::string& text) {
    return std::find(t.begin(), t.end(), text) - t.begin();
  };
  EXPECT_LT(at("first (repeated 1 more time)"), at("distinct 0"));
  // Reported when the table filled up (2 + 254 entries), not a second later.
  EXPECT_EQ(at("last (repeated 1 more time)"), at("distinct 254") - 1);
}

TEST(PluginMessageLevel, TcpxHostMemoryReceiveWarnIsDebug) {
  EXPECT_EQ(pluginMessageLevel(NCCL_LOG_WARN, kTcpxHostRecvWarn), LogLevel::kDebug);
  EXPECT_EQ(pluginMessageLevel(NCCL_LOG_WARN, "Net : Connection closed by remote peer %s"),
            LogLevel::kWarn);
  EXPECT_EQ(pluginMessageLevel(NCCL_LOG_INFO, "NET/GPUDirectTCPX initialization start"),
            LogLevel::kDebug);
  EXPECT_EQ(pluginMessageLevel(NCCL_LOG_VERSION, "x"), LogLevel::kInfo);
  EXPECT_EQ(pluginMessageLevel(NCCL_LOG_ABORT, "x"), LogLevel::kError);
  EXPECT_EQ(pluginMessageLevel(NCCL_LOG_TRACE, "x"), LogLevel::kTrace);
  EXPECT_EQ(pluginMessageLevel(NCCL_LOG_NONE, "x"), LogLevel::kNone);
}

std::vector<std::string>* g_lines = nullptr;
void collect(LogLevel, const char* line) { g_lines->push_back(line); }

TEST(PluginLogBridge, HostMemoryReceiveWarnsAreHiddenAtTheDefaultLevel) {
  setLogLevel(LogLevel::kWarn);
  std::vector<std::string> lines;
  g_lines = &lines;
  setLogObserver(&collect);
  const char* fn = "int taskProgress(tcpxFdData*, tcpxTask*, int*)";
  for (int i = 0; i < 1000; ++i) tcpxpPluginLogger(NCCL_LOG_WARN, 0, fn, 161, kTcpxHostRecvWarn);
  tcpxpPluginLogger(NCCL_LOG_WARN, 0, fn, 200, "Net : Connection closed by remote peer %s", "x");
  setLogObserver(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("WARN"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("Connection closed by remote peer x"), std::string::npos) << lines[0];
}

TEST(PluginLogBridge, RepeatedWarnsArePrintedOnce) {
  setLogLevel(LogLevel::kWarn);
  std::vector<std::string> lines;
  g_lines = &lines;
  setLogObserver(&collect);
  // Well within one second of each other (no clock is injected into the process's bridge).
  for (int i = 0; i < 500; ++i) tcpxpPluginLogger(NCCL_LOG_WARN, 0, "f", 1, "rxdm %s gone\n", "x");
  setLogObserver(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("rxdm x gone"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace tcpxp::transport
