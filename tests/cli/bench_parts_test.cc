// The pure pieces of `tcpx-p2p bench`: the --gpus list syntax, the --verify pattern check and the
// server's check of a plan from the network.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/cli/bench_pattern.h"
#include "api/cli/bench_plan.h"
#include "api/cli/buffer.h"
#include "api/cli/gpu_list.h"

namespace tcpxp::cli {
namespace {

constexpr int H = kHostEndpoint;

std::vector<int> parsed(const std::string& text, int gpus = 8) {
  std::vector<int> out;
  std::string error;
  EXPECT_TRUE(parseGpuList("--gpus", text, gpus, &out, &error)) << text << ": " << error;
  return out;
}

std::string refused(const std::string& text, int gpus = 8) {
  std::vector<int> out = {42};
  std::string error;
  EXPECT_FALSE(parseGpuList("--gpus", text, gpus, &out, &error)) << text;
  EXPECT_EQ(out, std::vector<int>{42}) << "out is set only on success";
  return error;
}

TEST(GpuList, Forms) {
  EXPECT_EQ(parsed("0-7"), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(parsed("0,1,4"), (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(parsed("0x4"), (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(parsed("hostx3", 0), (std::vector<int>{H, H, H}));
  EXPECT_EQ(parsed("0-2x2"), (std::vector<int>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(parsed("host,3,1"), (std::vector<int>{H, 3, 1}));
  EXPECT_EQ(parsed("5-5"), (std::vector<int>{5}));
  EXPECT_EQ(parsed("0x64", 1).size(), 64u);
}

TEST(GpuList, PreciseErrors) {
  EXPECT_EQ(refused(""),
            "--gpus: empty list; give N, A-B or host, each optionally xK (e.g. 0-7, 0,1,4, 0x4, "
            "hostx4)");
  EXPECT_EQ(refused("0,,1"), "--gpus: empty entry in '0,,1'");
  EXPECT_EQ(refused("0,"), "--gpus: empty entry in '0,'");
  EXPECT_NE(refused("gpu0").find("'gpu0' is not N, A-B or host"), std::string::npos);
  EXPECT_NE(refused("-1").find("'-1' is not N, A-B or host"), std::string::npos);
  EXPECT_NE(refused("1-").find("'1-' is not"), std::string::npos);
  EXPECT_NE(refused("0x").find("'0x' is not"), std::string::npos);
  EXPECT_EQ(refused("5-2"), "--gpus: '5-2': the range goes down (write 2-5)");
  EXPECT_EQ(refused("0x0"), "--gpus: '0x0': the count after x must be 1..64");
  EXPECT_EQ(refused("hostx65"), "--gpus: 'hostx65': the count after x must be 1..64");
  EXPECT_EQ(refused("0,0"),
            "--gpus: GPU 0 is listed twice ('0' and '0'); several endpoints on one GPU are "
            "written 0xK, e.g. 0x2");
  EXPECT_EQ(refused("0-3,2x2"),
            "--gpus: GPU 2 is listed twice ('0-3' and '2x2'); several endpoints on one GPU are "
            "written 2xK, e.g. 2x2");
  EXPECT_EQ(refused("host,hostx2"),
            "--gpus: host memory is listed twice ('host' and 'hostx2'); several host-memory "
            "endpoints are written hostxK, e.g. hostx2");
  EXPECT_EQ(refused("hostx40,0-30"), "--gpus: more than 64 endpoints in 'hostx40,0-30'");
  EXPECT_EQ(refused("0-1", 1), "--gpus: GPU 1 does not exist: this machine has 1 GPU (0)");
  EXPECT_EQ(refused("7,8"), "--gpus: GPU 8 does not exist: this machine has 8 GPUs (0-7)");
  EXPECT_EQ(refused("0", 0),
            "--gpus: GPU 0 does not exist: this machine has no GPU; use host entries (e.g. "
            "hostx4)");
  // Syntax before the machine: a duplicate is reported even where the GPU does not exist.
  EXPECT_NE(refused("3,3", 0).find("listed twice"), std::string::npos);
  std::vector<int> out;
  std::string error;
  EXPECT_FALSE(parseGpuList("--server-gpus", "x", 8, &out, &error));
  EXPECT_EQ(error.rfind("--server-gpus: ", 0), 0u) << error;
}

TEST(GpuList, FormatReadsBack) {
  for (const char* text :
       {"0-7", "0,1,4", "0x4", "hostx4", "0-2x2", "host,3,1", "2,0-1", "hostx2,0,1x3,2-3", "4"}) {
    std::vector<int> gpus = parsed(text);
    EXPECT_EQ(parsed(formatGpuList(gpus)), gpus) << text << " -> " << formatGpuList(gpus);
  }
  EXPECT_EQ(formatGpuList({0, 1, 2, 3}), "0-3");
  EXPECT_EQ(formatGpuList({H, H}), "hostx2");
  EXPECT_EQ(formatGpuList({0, 1, 2, 2, 5}), "0-1,2x2,5");
  EXPECT_EQ(endpointLabel(H), "host");
  EXPECT_EQ(endpointLabel(3), "3");
}

TEST(BenchPattern, EveryByteIsChecked) {
  constexpr uint64_t kSize = (5 << 20) + 123;  // over one staging piece, odd tail
  Buffer buf;
  ASSERT_TRUE(Buffer::allocate(-1, kSize, &buf).isOk());
  std::string mismatch;
  ASSERT_TRUE(fillPattern(buf, kSize, patternSeed(1, 2)).isOk());
  ASSERT_TRUE(checkPattern(buf, kSize, patternSeed(1, 2), &mismatch).isOk());
  EXPECT_EQ(mismatch, "");
  // Another pair's or step's pattern is not this one.
  EXPECT_NE(patternSeed(0, 2), patternSeed(1, 2));
  EXPECT_NE(patternSeed(1, 3), patternSeed(1, 2));
  ASSERT_TRUE(checkPattern(buf, kSize, patternSeed(2, 2), &mismatch).isOk());
  EXPECT_EQ(mismatch.rfind("byte 0 of ", 0), 0u) << mismatch;

  // One wrong byte, the last one.
  buf.data()[kSize - 1] ^= 1;
  ASSERT_TRUE(checkPattern(buf, kSize, patternSeed(1, 2), &mismatch).isOk());
  EXPECT_EQ(mismatch.rfind("byte " + std::to_string(kSize - 1) + " of " + std::to_string(kSize), 0),
            0u)
      << mismatch;
  EXPECT_NE(mismatch.find("0 bytes still hold the sentinel"), std::string::npos) << mismatch;

  // Nothing written: every byte is the sentinel.
  ASSERT_TRUE(fillSentinel(buf, kSize).isOk());
  ASSERT_TRUE(checkPattern(buf, kSize, patternSeed(1, 2), &mismatch).isOk());
  EXPECT_NE(mismatch.find("byte 0 of"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find(std::to_string(kSize) + " bytes still hold the sentinel"),
            std::string::npos)
      << mismatch;

  // Only the first n bytes count; beyond the buffer is an error, not a pass.
  ASSERT_TRUE(fillPattern(buf, 100, 7).isOk());
  ASSERT_TRUE(checkPattern(buf, 100, 7, &mismatch).isOk());
  EXPECT_EQ(mismatch, "");
  EXPECT_FALSE(checkPattern(buf, kSize + 1, 7, &mismatch).isOk());
  EXPECT_FALSE(fillPattern(buf, kSize + 1, 7).isOk());
}

BenchPlan writePlan() {
  BenchPlan p;
  p.modes = kWrite | kRead;
  p.nsizes = 2;
  p.sizes[0] = 64 << 10;
  p.sizes[1] = 16 << 20;
  p.iters = 10;
  p.warmup = 1;
  p.inflight = 8;
  return p;
}

TEST(BenchPlan, AClientsPlanWithinItsBoundsRuns) {
  BenchPlan p = writePlan();
  EXPECT_EQ(planProblem(p), "");
  EXPECT_EQ(bufferBytes(p), uint64_t{16} << 20);
  p.spread = 1;
  EXPECT_EQ(planProblem(p), "");
  EXPECT_EQ(bufferBytes(p), uint64_t{128} << 20) << "a 16 MiB region per transfer in flight";
  p.modes = kWriteV;
  p.spread = 0;
  p.pieces = 64;
  EXPECT_EQ(planProblem(p), "");
  EXPECT_EQ(bufferBytes(p), uint64_t{32} << 20) << "vector modes: twice the size";
}

TEST(BenchPlan, MadeUpFieldsAreRefusedBeforeTheBufferIsSized) {
  auto refused = [](BenchPlan p) {
    std::string why = planProblem(p);
    EXPECT_NE(why, "");
    return why;
  };
  // A size that would wrap bufferBytes() around (x 2 for vectors, x 64 for --spread) to a small
  // buffer that the transfers' offsets would then run past.
  BenchPlan p = writePlan();
  p.modes = kWriteV;
  p.pieces = 1;
  p.sizes[1] = uint64_t{1} << 63;
  EXPECT_NE(refused(p).find("over 4 GiB"), std::string::npos);
  p = writePlan();
  p.spread = 1;
  p.inflight = 64;
  p.sizes[0] = (uint64_t{1} << 58) + 1;
  EXPECT_NE(refused(p).find("over 4 GiB"), std::string::npos);
  // Each size fits but the --spread buffer does not.
  p = writePlan();
  p.spread = 1;
  p.sizes[1] = uint64_t{1} << 30;
  EXPECT_EQ(refused(p), "a buffer over 4 GiB");
  p = writePlan();
  p.version = kBenchVersion - 1;
  EXPECT_NE(refused(p).find("this binary speaks"), std::string::npos);
  p = writePlan();
  p.nsizes = kMaxSizes + 1;
  refused(p);
  p = writePlan();
  p.inflight = 0;
  refused(p);
  p.inflight = kMaxInflight + 1;
  refused(p);
  p = writePlan();
  p.pair = p.pairs;
  refused(p);
  p = writePlan();
  p.spread = 2;
  refused(p);
  p = writePlan();
  p.modes = kReadV;
  p.pieces = 4;
  p.spread = 1;
  EXPECT_EQ(refused(p), "--spread with writev/readv");
  p = writePlan();
  p.modes = 64;
  EXPECT_EQ(refused(p), "unknown modes");
  p = writePlan();
  p.modes = kReadV;
  p.pieces = 3;  // 64 KiB is not 3 equal pieces
  EXPECT_NE(refused(p).find("equal pieces"), std::string::npos);
}

TEST(BenchPlan, SpreadRegionsCoverTheTransfersThatRan) {
  BenchPlan p = writePlan();
  StepSpec write{kWrite, 1 << 20}, latency{kLatency, kLatencyBytes};
  EXPECT_EQ(stepRegions(p, write), 1u);
  p.spread = 1;
  EXPECT_EQ(stepRegions(p, write), 8u) << "11 transfers over 8 regions";
  p.iters = 2;
  p.warmup = 0;
  EXPECT_EQ(stepRegions(p, write), 2u) << "2 transfers touch 2 regions; --verify checks those";
  EXPECT_EQ(stepRegions(p, latency), 1u);
}

}  // namespace
}  // namespace tcpxp::cli
