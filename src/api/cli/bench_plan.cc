#include "api/cli/bench_plan.h"

#include <algorithm>

#include "api/cli/args.h"
#include "api/cli/gpu_list.h"

namespace tcpxp::cli {

std::string planProblem(const BenchPlan& p) {
  if (p.magic != kBenchMagic || p.version != kBenchVersion) {
    return "not a plan of this tcpx-p2p version (bench protocol " + std::to_string(p.version) +
           ", this binary speaks " + std::to_string(kBenchVersion) + ")";
  }
  if (p.modes == 0 || (p.modes & ~kAllModes) != 0) return "unknown modes";
  if (p.nsizes == 0 || p.nsizes > kMaxSizes) return "no sizes, or more than 64";
  for (uint32_t i = 0; i < p.nsizes; ++i) {
    if (p.sizes[i] == 0 || p.sizes[i] > kMaxSize) return "a size of 0 or over 4 GiB";
  }
  if (p.inflight == 0 || p.inflight > kMaxInflight) return "in flight not 1..64";
  if (p.pairs == 0 || p.pairs > kMaxEndpoints || p.pair >= p.pairs)
    return "pair index out of range";
  if (p.verify > 1 || p.adjacent > 1 || p.spread > 1) return "a switch that is neither 0 nor 1";
  if (p.spread && hasVectorModes(p)) return "--spread with writev/readv";
  // Sizes bounded above: the largest x 64 x 2 fits in 64 bits.
  if (bufferBytes(p) > kMaxSize) return "a buffer over 4 GiB";
  for (uint32_t i = 0; hasVectorModes(p) && i < p.nsizes; ++i) {
    std::string why = vectorProblem(p, p.sizes[i]);
    if (!why.empty()) return why;
  }
  return "";
}

std::vector<StepSpec> planSteps(const BenchPlan& p) {
  std::vector<StepSpec> steps;
  for (ModeBit mode : kModeOrder) {
    if (!(p.modes & mode)) continue;
    if (mode == kLatency) {
      steps.push_back({mode, kLatencyBytes});
      continue;
    }
    for (uint32_t i = 0; i < p.nsizes; ++i) steps.push_back({mode, p.sizes[i]});
  }
  return steps;
}

uint32_t stepTransfers(const BenchPlan& p, const StepSpec& s) {
  return s.mode == kLatency ? p.latency_iters + kLatencyWarmup : p.warmup + p.iters;
}

bool hasVectorModes(const BenchPlan& p) { return (p.modes & (kWriteV | kReadV)) != 0; }

uint64_t bufferBytes(const BenchPlan& p) {
  uint64_t n = kLatencyBytes;
  for (uint32_t i = 0; i < p.nsizes && i < kMaxSizes; ++i) n = std::max(n, p.sizes[i]);
  if (p.spread) n *= p.inflight;
  return hasVectorModes(p) ? 2 * n : n;
}

uint64_t stepRegions(const BenchPlan& p, const StepSpec& s) {
  if (!p.spread || s.mode == kLatency) return 1;
  return std::min<uint64_t>(p.inflight, stepTransfers(p, s));
}

uint32_t piecesOf(const BenchPlan& p, uint64_t size) {
  return p.piece_bytes ? static_cast<uint32_t>(size / p.piece_bytes) : p.pieces;
}

std::string vectorProblem(const BenchPlan& p, uint64_t size) {
  uint64_t n = p.piece_bytes ? size / p.piece_bytes : p.pieces;
  if (n == 0 || n > kMaxPieces || size % n != 0) {
    return formatBytes(size) + " is not " + std::to_string(n) + " (1.." +
           std::to_string(kMaxPieces) + ") equal pieces";
  }
  return "";
}

uint64_t clientOffset(const BenchPlan& p, uint32_t, uint64_t b, uint32_t i) {
  return p.adjacent ? b * i : 2 * b * i;
}

uint64_t serverOffset(const BenchPlan& p, uint32_t n, uint64_t b, uint32_t i) {
  return p.adjacent ? b * i : 2 * b * (n - 1 - i) + b;
}

std::vector<MovedPiece> vectorMoves(const BenchPlan& p, uint64_t size, bool to_server) {
  uint32_t n = piecesOf(p, size);
  uint64_t b = size / n;
  std::vector<MovedPiece> moves(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t c = clientOffset(p, n, b, i), s = serverOffset(p, n, b, i);
    moves[i] = to_server ? MovedPiece{c, s, b} : MovedPiece{s, c, b};
  }
  return moves;
}

}  // namespace tcpxp::cli
