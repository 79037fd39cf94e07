// No lost wakeups: the driver never sleeps while it holds work that only it can move (a control
// socket whose output waits to drain, say). Repeated rounds of many small pieces, and of small
// transfers, must not show rounds that took an idle sleep longer than the rest (issue 23: rounds
// of 11 ms plus multiples of the driver's 50 ms idle timeout).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "engine/endpoint.h"
#include "engine_test_util.h"

namespace tcpxp::engine {
namespace {

using testing::connectPair;
using testing::Pair;
using testing::pattern;

struct RoundTimes {
  double p50_ms, p99_ms, max_ms;
};

RoundTimes summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  return {at(0.5), at(0.99), ms.back()};
}

// Reads `pieces` scattered pieces of `piece` bytes per round, `rounds` times, every byte checked.
RoundTimes readvRounds(Pair& p, size_t pieces, size_t piece, int rounds) {
  const size_t stride = piece + 64;  // scattered: a gap between pieces on both sides
  auto remote = pattern(pieces * stride, 41);
  std::vector<uint8_t> local(pieces * stride, 0);
  MrId lmr = 0, rmr = 0;
  EXPECT_TRUE(p.a->reg(local.data(), local.size(), &lmr).isOk());
  EXPECT_TRUE(p.b->reg(remote.data(), remote.size(), &rmr).isOk());
  std::vector<Segment> segs(pieces);
  for (size_t i = 0; i < pieces; ++i) {
    segs[i] = Segment{lmr, local.data() + i * stride, piece};
    EXPECT_TRUE(p.b->advertise(p.ba, rmr, remote.data() + i * stride, piece, &segs[i].fifo).isOk());
  }
  std::vector<double> ms;
  for (int r = -1; r < rounds; ++r) {  // round -1 warms up (first pieces, first frames)
    auto t0 = std::chrono::steady_clock::now();
    XferId x = 0;
    Status st = p.a->readAsync(p.ab, segs, &x);
    EXPECT_TRUE(st.isOk()) << st.toString();
    st = p.a->wait(x, nullptr, nullptr, 30000);
    EXPECT_TRUE(st.isOk()) << st.toString();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  for (size_t i = 0; i < pieces; ++i) {
    EXPECT_TRUE(std::equal(local.begin() + i * stride, local.begin() + i * stride + piece,
                           remote.begin() + i * stride))
        << "piece " << i;
  }
  EXPECT_TRUE(p.a->dereg(lmr).isOk());
  EXPECT_TRUE(p.b->dereg(rmr).isOk());
  return summarize(ms);
}

TEST(Wakeups, SmallPieceVectorRoundsHaveNoIdleStalls) {
  Pair p = connectPair();
  // 8 MiB a round in pieces the inline path carries: the passive side's ReadData frames fill
  // its control socket, the case that slept.
  for (auto [pieces, piece] :
       {std::pair{size_t{1024}, size_t{8} << 10}, std::pair{size_t{256}, size_t{32} << 10}}) {
    // A lost wakeup costs the driver's idle sleep (50 ms) on top of the round, in most runs of
    // 20 rounds (issue 23: about half). A busy machine delays a round now and then too: a run
    // with a slow round is repeated, up to 3 runs; all three slow fails.
    RoundTimes t{};
    for (int run = 0; run < 3; ++run) {
      t = readvRounds(p, pieces, piece, 20);
      std::printf("readv %zu x %zu B: p50 %.2f ms, p99 %.2f ms, max %.2f ms (p99/p50 %.2f)\n",
                  pieces, piece, t.p50_ms, t.p99_ms, t.max_ms, t.p99_ms / t.p50_ms);
      if (t.max_ms < 3 * t.p50_ms + 25) break;
    }
    // Under the sanitizers the rounds are too slow for a 50 ms stall to stand out: report only.
#if !defined(__SANITIZE_ADDRESS__)
    EXPECT_LT(t.max_ms, 3 * t.p50_ms + 25) << pieces << " x " << piece;
#endif
  }
}

}  // namespace
}  // namespace tcpxp::engine
