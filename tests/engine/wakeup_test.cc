// No lost wakeups: the driver never sleeps while it holds work that only it can move (a control
// socket whose output waits to drain, say). Repeated rounds of many small pieces, and of small
// transfers, must not show rounds that took an idle sleep longer than the rest (issue 23: rounds
// of 11 ms plus multiples of the driver's 50 ms idle timeout).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
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
  size_t rounds, slow;  // slow: rounds over 3 x p50 (one delayed round, or a pattern)
  double warmup_ms;     // the first round, not in the figures above (first use of the buffers)
};

// `ms`: the warm-up round, then the timed ones.
RoundTimes summarize(std::vector<double> ms) {
  const double warmup = ms.front();
  ms.erase(ms.begin());
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  const double p50 = at(0.5);
  const auto slow = static_cast<size_t>(ms.end() - std::upper_bound(ms.begin(), ms.end(), 3 * p50));
  return {p50, at(0.99), ms.back(), ms.size(), slow, warmup};
}

// Moves `pieces` scattered pieces of `piece` bytes per round (a vector write or read), `rounds`
// times, every byte checked. Over UCCL_TCPX_INLINE_BYTES in all, a vector is one WriteVec or
// ReadVec (datapath/vector_path.cc); under it, each piece an inline frame.
RoundTimes vectorRounds(Pair& p, bool write, size_t pieces, size_t piece, int rounds) {
  const size_t stride = piece + 64;  // scattered: a gap between pieces on both sides
  auto src = pattern(pieces * stride, 41);
  std::vector<uint8_t> dst(pieces * stride, 0);
  std::vector<uint8_t>& local = write ? src : dst;
  std::vector<uint8_t>& remote = write ? dst : src;
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
    Status st = write ? p.a->writeAsync(p.ab, segs, &x) : p.a->readAsync(p.ab, segs, &x);
    EXPECT_TRUE(st.isOk()) << st.toString();
    st = p.a->wait(x, nullptr, nullptr, 30000);
    EXPECT_TRUE(st.isOk()) << st.toString();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  for (size_t i = 0; i < pieces; ++i) {
    EXPECT_TRUE(std::equal(dst.begin() + i * stride, dst.begin() + i * stride + piece,
                           src.begin() + i * stride))
        << "piece " << i;
  }
  EXPECT_TRUE(p.a->dereg(lmr).isOk());
  EXPECT_TRUE(p.b->dereg(rmr).isOk());
  return summarize(ms);
}

// Rounds of `count` single transfers of `size` bytes, all in flight at once (reads, then
// writes), every byte checked.
RoundTimes smallTransferRounds(Pair& p, size_t count, size_t size, int rounds) {
  auto src = pattern(count * size, 43);
  std::vector<uint8_t> dst(count * size, 0), back(count * size, 0);
  MrId smr = 0, dmr = 0, bmr = 0;
  EXPECT_TRUE(p.b->reg(src.data(), src.size(), &smr).isOk());
  EXPECT_TRUE(p.a->reg(dst.data(), dst.size(), &dmr).isOk());
  EXPECT_TRUE(p.b->reg(back.data(), back.size(), &bmr).isOk());
  std::vector<Segment> reads(count), writes(count);
  for (size_t i = 0; i < count; ++i) {
    reads[i] = Segment{dmr, dst.data() + i * size, size};
    EXPECT_TRUE(p.b->advertise(p.ba, smr, src.data() + i * size, size, &reads[i].fifo).isOk());
    writes[i] = Segment{dmr, dst.data() + i * size, size};
    EXPECT_TRUE(p.b->advertise(p.ba, bmr, back.data() + i * size, size, &writes[i].fifo).isOk());
  }
  std::vector<double> ms;
  std::vector<XferId> ids(count);
  for (int r = -1; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (auto* segs : {&reads, &writes}) {
      for (size_t i = 0; i < count; ++i) {
        Status st = segs == &reads ? p.a->readAsync(p.ab, {&reads[i], 1}, &ids[i])
                                   : p.a->writeAsync(p.ab, {&writes[i], 1}, &ids[i]);
        EXPECT_TRUE(st.isOk()) << st.toString();
      }
      for (size_t i = 0; i < count; ++i) {
        Status st = p.a->wait(ids[i], nullptr, nullptr, 30000);
        EXPECT_TRUE(st.isOk()) << st.toString();
      }
    }
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  EXPECT_EQ(dst, src);
  EXPECT_EQ(back, src);
  EXPECT_TRUE(p.a->dereg(dmr).isOk());
  EXPECT_TRUE(p.b->dereg(smr).isOk());
  EXPECT_TRUE(p.b->dereg(bmr).isOk());
  return summarize(ms);
}

// A lost wakeup costs the driver's idle sleep (50 ms) on top of the round, in most runs of 20
// rounds (issue 23: about half). A busy machine delays a round now and then too: a run with a
// slow round is repeated, up to 3 runs; all three slow fails.
// by_p99: rounds of well under a millisecond, 100 or more of them: one round delayed by the
// scheduler on a loaded machine must not fail the run, so the p99 (below the slowest two rounds)
// is held to the bound; stalls in many rounds still exceed it.
void expectNoStall(const char* what, const std::function<RoundTimes()>& run, bool by_p99 = false) {
  RoundTimes t{};
  auto slowest = [&] { return by_p99 ? t.p99_ms : t.max_ms; };
  for (int attempt = 0; attempt < 3; ++attempt) {
    t = run();
    std::printf(
        "%s: p50 %.2f ms, p99 %.2f ms, max %.2f ms (p99/p50 %.2f); %zu of %zu rounds over "
        "3 x p50; warm-up round %.2f ms\n",
        what, t.p50_ms, t.p99_ms, t.max_ms, t.p99_ms / t.p50_ms, t.slow, t.rounds, t.warmup_ms);
    if (slowest() < 3 * t.p50_ms + 25) break;
  }
  // Under the sanitizers the rounds are too slow for a 50 ms stall to stand out: report only.
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(slowest(), 3 * t.p50_ms + 25) << what;
#endif
}

TEST(Wakeups, SmallPieceVectorRoundsHaveNoIdleStalls) {
  Pair p = connectPair();
  // 8 MiB a round in pieces the inline path once carried one frame each (the passive side's
  // ReadData frames filled its control socket, the case that slept); now WriteVec/ReadVec.
  for (bool write : {false, true}) {
    for (auto [pieces, piece] :
         {std::pair{size_t{1024}, size_t{8} << 10}, std::pair{size_t{256}, size_t{32} << 10}}) {
      std::string what = std::string(write ? "writev " : "readv ") + std::to_string(pieces) +
                         " x " + std::to_string(piece) + " B";
      expectNoStall(what.c_str(), [&] { return vectorRounds(p, write, pieces, piece, 20); });
    }
  }
}

TEST(Wakeups, SmallVectorsAndSmallTransfersHaveNoIdleStalls) {
  Pair p = connectPair();
  // Under the inline limit in all, 16 pieces: a vector's pieces go as inline frames, one each.
  expectNoStall(
      "readv 16 x 4096 B (inline)", [&] { return vectorRounds(p, false, 16, 4096, 200); }, true);
  expectNoStall(
      "writev 16 x 4096 B (inline)", [&] { return vectorRounds(p, true, 16, 4096, 200); }, true);
  // Small in all but many pieces: one WriteVec/ReadVec instead of a frame per piece.
  expectNoStall(
      "readv 500 x 100 B", [&] { return vectorRounds(p, false, 500, 100, 200); }, true);
  expectNoStall(
      "writev 500 x 100 B", [&] { return vectorRounds(p, true, 500, 100, 200); }, true);
  // Many single small transfers in flight: inline reads and writes, and channel-sized ones.
  expectNoStall(
      "64 reads + 64 writes of 4 KiB", [&] { return smallTransferRounds(p, 64, 4096, 100); }, true);
  expectNoStall(
      "16 reads + 16 writes of 256 KiB", [&] { return smallTransferRounds(p, 16, 256 << 10, 100); },
      true);
}

}  // namespace
}  // namespace tcpxp::engine
