#include "api/cli/bench_pattern.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace tcpxp::cli {
namespace {

constexpr uint32_t kPeriod = 251;
constexpr uint8_t kSentinel = 0xff;
constexpr uint64_t kPiece = 4 << 20;  // host staging for GPU buffers

void writePattern(uint8_t* dst, uint64_t offset, uint64_t n, uint32_t seed) {
  uint32_t v = static_cast<uint32_t>((offset + seed) % kPeriod);
  for (uint64_t i = 0; i < n; ++i) {
    dst[i] = static_cast<uint8_t>(v);
    if (++v == kPeriod) v = 0;
  }
}

// Index of the first byte of src[0..n) that differs from the pattern at `offset`, or n.
uint64_t firstDifference(const uint8_t* src, uint64_t offset, uint64_t n, uint32_t seed) {
  uint32_t v = static_cast<uint32_t>((offset + seed) % kPeriod);
  for (uint64_t i = 0; i < n; ++i) {
    if (src[i] != v) return i;
    if (++v == kPeriod) v = 0;
  }
  return n;
}

// Calls fn(offset, length, host bytes) over the first n bytes of buf: directly for host memory,
// through a host copy of at most kPiece bytes for GPU memory.
template <class Fn>
Status forEachPiece(const Buffer& buf, uint64_t n, Fn fn) {
  if (n > buf.size()) return Status(Code::kInvalidArgument, "pattern beyond the buffer");
  if (buf.gpu() < 0) return fn(0, n, buf.data());
  std::vector<uint8_t> host(std::min(n, kPiece));
  for (uint64_t off = 0; off < n; off += kPiece) {
    uint64_t len = std::min(kPiece, n - off);
    TCPXP_RETURN_IF_ERROR(buf.download(off, host.data(), len));
    TCPXP_RETURN_IF_ERROR(fn(off, len, host.data()));
  }
  return Status::ok();
}

template <class Fill>
Status fill(Buffer& buf, uint64_t n, Fill fill_piece) {
  if (n > buf.size()) return Status(Code::kInvalidArgument, "pattern beyond the buffer");
  if (buf.gpu() < 0) {
    fill_piece(buf.data(), 0, n);
    return Status::ok();
  }
  std::vector<uint8_t> host(std::min(n, kPiece));
  for (uint64_t off = 0; off < n; off += kPiece) {
    uint64_t len = std::min(kPiece, n - off);
    fill_piece(host.data(), off, len);
    TCPXP_RETURN_IF_ERROR(buf.upload(off, host.data(), len));
  }
  return Status::ok();
}

}  // namespace

uint32_t patternSeed(uint32_t pair, uint32_t step) { return (pair * 37 + step * 11 + 1) % kPeriod; }

Status fillPattern(Buffer& buf, uint64_t n, uint32_t seed) {
  return fill(buf, n, [seed](uint8_t* dst, uint64_t off, uint64_t len) {
    writePattern(dst, off, len, seed);
  });
}

Status fillSentinel(Buffer& buf, uint64_t n) {
  return fill(buf, n,
              [](uint8_t* dst, uint64_t, uint64_t len) { std::memset(dst, kSentinel, len); });
}

Status checkPattern(const Buffer& buf, uint64_t n, uint32_t seed, std::string* mismatch) {
  mismatch->clear();
  uint64_t bad = n;
  uint8_t got = 0;
  TCPXP_RETURN_IF_ERROR(forEachPiece(buf, n, [&](uint64_t off, uint64_t len, const uint8_t* p) {
    if (bad != n) return Status::ok();
    uint64_t i = firstDifference(p, off, len, seed);
    if (i < len) {
      bad = off + i;
      got = p[i];
    }
    return Status::ok();
  }));
  if (bad == n) return Status::ok();
  uint64_t sentinel = 0;
  TCPXP_RETURN_IF_ERROR(forEachPiece(buf, n, [&](uint64_t, uint64_t len, const uint8_t* p) {
    sentinel += static_cast<uint64_t>(std::count(p, p + len, kSentinel));
    return Status::ok();
  }));
  *mismatch = "byte " + std::to_string(bad) + " of " + std::to_string(n) + " is " +
              std::to_string(got) + ", expected " + std::to_string((bad + seed) % kPeriod) + "; " +
              std::to_string(sentinel) + " bytes still hold the sentinel (never written)";
  return Status::ok();
}

Status checkMoved(const Buffer& buf, const std::vector<MovedPiece>& pieces, uint32_t seed,
                  std::string* mismatch) {
  mismatch->clear();
  std::vector<uint8_t> host;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const MovedPiece& m = pieces[k];
    if (m.dst > buf.size() || m.len > buf.size() - m.dst) {
      return Status(Code::kInvalidArgument, "piece beyond the buffer");
    }
    const uint8_t* p = buf.data() + m.dst;
    if (buf.gpu() >= 0) {
      host.resize(m.len);
      TCPXP_RETURN_IF_ERROR(buf.download(m.dst, host.data(), m.len));
      p = host.data();
    }
    uint64_t i = firstDifference(p, m.src, m.len, seed);
    if (i < m.len) {
      *mismatch = "piece " + std::to_string(k) + " of " + std::to_string(pieces.size()) +
                  ": byte " + std::to_string(i) + " is " + std::to_string(p[i]) + ", expected " +
                  std::to_string((m.src + i + seed) % kPeriod);
      return Status::ok();
    }
  }
  return Status::ok();
}

}  // namespace tcpxp::cli
