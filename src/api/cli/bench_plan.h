// What a `tcpx-p2p bench` client asks of the server (BenchPlan, sent as is over the engine) and
// the arithmetic both sides derive from it: the steps, the buffer, where vector pieces and
// --spread regions sit. planProblem() is the server's check of a plan from the network.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/cli/bench_pattern.h"

namespace tcpxp::cli {

inline constexpr uint32_t kBenchMagic = 0x48434e42;  // "BNCH"
inline constexpr uint32_t kBenchVersion = 5;         // 4: BenchPlan::adjacent; 5: BenchPlan::spread
inline constexpr size_t kMaxSizes = 64;
inline constexpr uint64_t kMaxSize = uint64_t{4} << 30;
inline constexpr uint64_t kLatencyBytes = 8;
inline constexpr uint32_t kLatencyWarmup = 10;
inline constexpr uint32_t kMaxInflight = 64;

enum ModeBit : uint32_t {
  kSendRecv = 1,
  kWrite = 2,
  kRead = 4,
  kLatency = 8,
  kWriteV = 16,  // one write of --pieces scattered pieces per transfer
  kReadV = 32,
};
inline constexpr ModeBit kModeOrder[] = {kSendRecv, kWrite, kRead, kWriteV, kReadV, kLatency};
inline constexpr uint32_t kAllModes = kSendRecv | kWrite | kRead | kLatency | kWriteV | kReadV;
inline constexpr uint32_t kDefaultPieces = 1024;
inline constexpr uint32_t kMaxPieces = 1 << 20;
inline bool vectorMode(uint32_t m) { return m == kWriteV || m == kReadV; }

struct BenchPlan {
  uint32_t magic = kBenchMagic;
  uint32_t version = kBenchVersion;
  uint32_t modes = 0;
  uint32_t nsizes = 0;
  uint32_t iters = 0, warmup = 0, inflight = 0, latency_iters = 0;
  uint32_t pairs = 1;  // endpoints the client drives
  uint32_t pair = 0;   // this connection's index among them
  uint32_t verify = 0;
  uint32_t adjacent = 0;  // vector modes: pieces back to back instead of scattered
  uint64_t sizes[kMaxSizes] = {};
  uint32_t pieces = 0;       // vector modes: pieces per transfer, unless piece_bytes
  uint32_t piece_bytes = 0;  // vector modes: size / piece_bytes pieces
  uint32_t spread = 0;       // contiguous modes: transfer i at region i % inflight (--spread)
};

// What is wrong with a plan received from a client, or "" when the server can run it: every
// field inside its bounds (each size before bufferBytes() multiplies the largest, so that a
// made-up size cannot wrap the buffer's size around), the version this binary speaks.
std::string planProblem(const BenchPlan& p);

// One (mode, size) of the plan, in the order both sides run them.
struct StepSpec {
  ModeBit mode;
  uint64_t size;
};
std::vector<StepSpec> planSteps(const BenchPlan& p);
uint32_t stepTransfers(const BenchPlan& p, const StepSpec& s);
bool hasVectorModes(const BenchPlan& p);

// Each side's one buffer: the largest size; twice that with vector modes (the pieces scattered
// with a gap after each); --spread: a region of the largest size per transfer in flight.
uint64_t bufferBytes(const BenchPlan& p);
// --spread: the regions a step's transfers touch (transfer i: region i % inflight), so the bytes
// --verify fills and checks; 1 without it.
uint64_t stepRegions(const BenchPlan& p, const StepSpec& s);

// The pieces of a vector mode's transfer of `size` bytes (equal, `size` divisible: checked).
uint32_t piecesOf(const BenchPlan& p, uint64_t size);
// What is wrong with the vector plan of `size`, or "".
std::string vectorProblem(const BenchPlan& p, uint64_t size);
// Scattered placement of piece i of n, b bytes each: on the client at 2ib, on the server at
// 2(n-1-i)b + b (a gap after every piece on both sides; the server's in reverse order).
// Adjacent (--adjacent): at ib on both sides.
uint64_t clientOffset(const BenchPlan& p, uint32_t n, uint64_t b, uint32_t i);
uint64_t serverOffset(const BenchPlan& p, uint32_t n, uint64_t b, uint32_t i);
// Where each piece's bytes come from and go to (bench_pattern.h: checkMoved).
std::vector<MovedPiece> vectorMoves(const BenchPlan& p, uint64_t size, bool to_server);

}  // namespace tcpxp::cli
