// The socket helpers' time accounting (UCCL_TCPX_DEBUG=INFO at a comm's close): laps split a
// thread's life into buckets, and the logged line sums its helpers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/log.h"
#include "transport/socket/socket_comm.h"

namespace tcpxp::transport::socket {
namespace {

std::vector<std::string>* g_lines = nullptr;
void collect(LogLevel, const char* line) { g_lines->push_back(line); }

// Captures every emitted line at INFO for its lifetime.
class InfoLog {
 public:
  InfoLog() : level_(logLevel()) {
    g_lines = &lines_;
    setLogLevel(LogLevel::kInfo);
    setLogObserver(&collect);
  }
  ~InfoLog() {
    setLogObserver(nullptr);
    setLogLevel(level_);
    g_lines = nullptr;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  LogLevel level_;
  std::vector<std::string> lines_;
};

TEST(HelperTimes, LapsAddUpToNoMoreThanTheThreadsLife) {
  HelperTimes t;
  {
    HelperClock clock(&t);
    volatile uint64_t spin = 0;
    for (int i = 0; i < 200000; ++i) spin = spin + 1;
    clock.lap(&t.wait_ns);
    for (int i = 0; i < 200000; ++i) spin = spin + 1;
    EXPECT_EQ(clock.lap(&t.io_ns), t.io_ns) << "a lap returns what it added";
  }
  EXPECT_GT(t.wait_ns, 0);
  EXPECT_GT(t.io_ns, 0);
  EXPECT_EQ(t.park_ns, 0);
  EXPECT_GE(t.life_ns, t.wait_ns + t.io_ns);
  EXPECT_GE(t.user_ns + t.sys_ns, 0);
}

TEST(HelperTimes, TheLineSumsEveryHelperOfTheComm) {
  HelperTimes a, b;
  a.pieces = 2;
  a.bytes = 1000000;
  a.life_ns = 1000;
  a.wait_ns = 500;
  a.io_ns = 400;
  b.pieces = 3;
  b.bytes = 2000000;
  b.life_ns = 1000;
  b.wait_ns = 500;
  b.io_ns = 200;
  b.park_ns = 300;
  b.involuntary = 7;
  // Of the 1000 ns waited: 100 with none of the comm's requests open, 400 with 1-7, 500 with 16.
  a.wait_by_open_ns[0] = 100;
  a.wait_by_open_ns[1] = 400;
  b.wait_by_open_ns[3] = 500;
  InfoLog log;
  logHelperTimes("recv comm from", "peer:1", {&a, &b});
  ASSERT_EQ(log.lines().size(), 2u);
  const std::string& line = log.lines()[0];
  EXPECT_NE(line.find("recv comm from peer:1: 2 helpers, 5 pieces, 3.0 MB"), std::string::npos)
      << line;
  EXPECT_NE(line.find("waiting for work 50%, parked 15%, in socket I/O 30% (per socket 20-40%)"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("7 involuntary"), std::string::npos) << line;
  const std::string& open = log.lines()[1];
  EXPECT_NE(open.find("recv comm from peer:1: waiting for work with 0 / 1-7 / 8-15 / 16 requests "
                      "open: 5% / 20% / 0% / 25%"),
            std::string::npos)
      << open;
}

TEST(HelperTimes, OpenRequestsFallIntoFourBuckets) {
  EXPECT_EQ(HelperTimes::openBucket(0), 0);
  EXPECT_EQ(HelperTimes::openBucket(-1), 0);  // a racy read of two counters
  EXPECT_EQ(HelperTimes::openBucket(1), 1);
  EXPECT_EQ(HelperTimes::openBucket(7), 1);
  EXPECT_EQ(HelperTimes::openBucket(8), 2);
  EXPECT_EQ(HelperTimes::openBucket(15), 2);
  EXPECT_EQ(HelperTimes::openBucket(16), 3);
}

TEST(HelperTimes, NothingIsLoggedForACommThatMovedNothing) {
  HelperTimes idle;
  idle.life_ns = 1000;
  idle.wait_ns = 1000;
  InfoLog log;
  logHelperTimes("send comm to", "peer:1", {&idle});
  logHelperTimes("send comm to", "peer:1", {});
  EXPECT_TRUE(log.lines().empty());
}

}  // namespace
}  // namespace tcpxp::transport::socket
