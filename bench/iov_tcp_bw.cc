// Raw TCP's own cost of scattered pieces (issue 23, item 1): how fast one loopback stream moves
// a transfer as contiguous bytes, and as the same bytes in pieces of B bytes on both sides
// (each piece followed by a gap of B bytes; the receiver's pieces in reverse order, as `bench
// --piece-bytes`), with blocking sendmsg / recvmsg(MSG_WAITALL) of --call-bytes per call. Two
// processes (fork). What the engine's host vectors are measured against: a ratio here below
// 0.8 is the kernel's per-iovec cost, which no engine over sockets avoids without copying.
//
//   iov_tcp_bw [--pieces 4K,8K,32K] [--total 32M] [--call-bytes 1M] [--iters 20] [--verify]
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/net_util.h"
#include "common/quantity.h"
#include "loopback.h"

using tcpxp::Units;

namespace {

struct Options {
  std::vector<size_t> pieces = {4096, 8192, 32768};
  size_t total = 32 << 20;
  size_t call = 1 << 20;
  int iters = 20;
  bool verify = false;
};

void usage() {
  std::printf(
      "iov_tcp_bw: raw loopback TCP, one stream, contiguous against scattered pieces\n"
      "  --pieces LIST     piece sizes, e.g. 4K,8K,32K (default); each divides --call-bytes\n"
      "  --total N         bytes per transfer (default 32M, at most 1G)\n"
      "  --call-bytes N    bytes per sendmsg/recvmsg call (default 1M); divides --total\n"
      "  --iters N         timed transfers per row, after one untimed (default 20)\n"
      "  --verify          check every received byte of each row's last transfer\n"
      "Prints one row per layout: GB/s (decimal) and the ratio to contiguous.\n");
}

// Reads the flags into `o`; false (with the reason on stderr) for an unknown flag or a bad value.
// Sizes and counts go through the project's one parser (common/quantity.h).
bool parse(int argc, char** argv, Options* o) {
  auto number = [](const char* flag, std::string_view text, int64_t lo, int64_t hi, Units units,
                   int64_t* out) {
    tcpxp::Parsed r = tcpxp::parseNumber(text, lo, hi, units);
    if (!r.ok())
      std::fprintf(stderr, "iov_tcp_bw: %s %.*s: %s\n", flag, static_cast<int>(text.size()),
                   text.data(), r.message.c_str());
    *out = r.value;
    return r.ok();
  };
  constexpr int64_t kMaxBytes = int64_t{1} << 30;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--verify") {
      o->verify = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "iov_tcp_bw: unknown flag or missing value: %s\n", argv[i]);
      return false;
    }
    std::string_view v = argv[++i];
    int64_t n = 0;
    if (a == "--pieces") {
      o->pieces.clear();
      for (size_t at = 0; at <= v.size();) {
        size_t comma = std::min(v.find(',', at), v.size());
        if (!number("--pieces", v.substr(at, comma - at), 1, kMaxBytes, Units::kBytes, &n)) {
          return false;
        }
        o->pieces.push_back(static_cast<size_t>(n));
        at = comma + 1;
      }
    } else if (a == "--total" || a == "--call-bytes") {
      if (!number(argv[i - 1], v, 1, kMaxBytes, Units::kBytes, &n)) return false;
      (a == "--total" ? o->total : o->call) = static_cast<size_t>(n);
    } else if (a == "--iters") {
      if (!number("--iters", v, 1, 1000000, Units::kNone, &n)) return false;
      o->iters = static_cast<int>(n);
    } else {
      std::fprintf(stderr, "iov_tcp_bw: unknown flag: %s\n", argv[i - 1]);
      return false;
    }
  }
  bool pieces_fit = true;
  for (size_t p : o->pieces) pieces_fit = pieces_fit && o->call % p == 0;
  if (o->total % o->call != 0 || !pieces_fit) {
    std::fprintf(stderr,
                 "iov_tcp_bw: each piece size must divide --call-bytes, which must divide "
                 "--total\n");
    return false;
  }
  return true;
}

// The iovecs of bytes [off, off + len) of a transfer laid out as pieces of `piece` bytes with
// a gap after each (piece 0: contiguous), in reverse piece order when `reversed`.
void layout(char* buf, const Options& o, size_t piece, size_t off, size_t len, bool reversed,
            std::vector<iovec>* v) {
  v->clear();
  if (piece == 0) {
    v->push_back({buf + off, len});
    return;
  }
  const size_t n = o.total / piece;
  for (size_t at = off; at < off + len; at += piece) {
    size_t i = at / piece;
    size_t slot = reversed ? n - 1 - i : i;
    v->push_back({buf + slot * 2 * piece, piece});
  }
}

// One transfer, in calls of --call-bytes (at most IOV_MAX iovecs each).
bool transfer(int fd, char* buf, const Options& o, size_t piece, bool sending) {
  std::vector<iovec> v;
  for (size_t off = 0; off < o.total; off += o.call) {
    layout(buf, o, piece, off, o.call, !sending, &v);
    const int count = static_cast<int>(v.size());
    for (int first = 0; first < count;) {
      msghdr m{};
      m.msg_iov = v.data() + first;
      m.msg_iovlen = static_cast<size_t>(std::min(count - first, 1024));
      ssize_t r = sending ? ::sendmsg(fd, &m, MSG_NOSIGNAL) : ::recvmsg(fd, &m, MSG_WAITALL);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      tcpxp::advanceIov(v.data(), count, &first, static_cast<size_t>(r));
    }
  }
  return true;
}

// A byte of the transfer at offset i: differs between pieces, so a piece in the wrong place shows.
char patternByte(size_t i) {
  uint64_t x = (static_cast<uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ULL;
  return static_cast<char>((x ^ (x >> 29)) >> 56);
}

// Whether the receiver's pieces hold the sender's bytes (transfer offset i -> pattern(i)).
bool verify(char* buf, const Options& o, size_t piece) {
  std::vector<iovec> v;
  layout(buf, o, piece, 0, o.total, /*reversed=*/true, &v);
  size_t at = 0;
  for (const iovec& io : v) {
    const char* p = static_cast<const char*>(io.iov_base);
    for (size_t k = 0; k < io.iov_len; ++k, ++at) {
      if (p[k] != patternByte(at)) return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help") {
      usage();
      return 0;
    }
  }
  if (!parse(argc, argv, &o)) {
    usage();
    return 2;
  }
  std::vector<size_t> rows = {0};
  rows.insert(rows.end(), o.pieces.begin(), o.pieces.end());

  sockaddr_in addr{};
  int lfd = listenLoopback(&addr);
  if (lfd < 0) {
    std::fprintf(stderr, "iov_tcp_bw: loopback listen failed: %s\n", std::strerror(errno));
    return 1;
  }
  // Room for the widest layout: pieces with gaps span twice the transfer.
  const size_t bytes = 2 * o.total;
  pid_t child = ::fork();
  if (child < 0) {
    std::fprintf(stderr, "iov_tcp_bw: fork failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (child == 0) {  // the sender
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(1);
    std::vector<char> buf(bytes);
    for (size_t piece : rows) {
      std::vector<iovec> v;
      layout(buf.data(), o, piece, 0, o.total, /*reversed=*/false, &v);
      size_t at = 0;
      for (const iovec& io : v) {
        for (size_t k = 0; k < io.iov_len; ++k)
          static_cast<char*>(io.iov_base)[k] = patternByte(at++);
      }
      for (int i = 0; i <= o.iters; ++i) {
        if (!transfer(fd, buf.data(), o, piece, /*sending=*/true)) _exit(1);
      }
      char ack;
      if (::read(fd, &ack, 1) != 1) _exit(1);  // the receiver finished this row
    }
    _exit(0);
  }
  // A sender that died before connecting must not leave us in accept() forever.
  pollfd p{lfd, POLLIN, 0};
  int fd = ::poll(&p, 1, 10000) == 1 ? ::accept(lfd, nullptr, nullptr) : -1;
  std::vector<char> buf(bytes);
  std::printf("raw loopback TCP, 1 stream, %zu-byte transfers, %zu-byte calls, %d iterations\n",
              o.total, o.call, o.iters);
  std::printf("| layout | GB/s | vs contiguous |\n|---|---|---|\n");
  double contiguous = 0;
  int rc = 0;
  for (size_t piece : rows) {
    bool ok = fd >= 0 && transfer(fd, buf.data(), o, piece, /*sending=*/false);  // untimed
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; ok && i < o.iters; ++i) ok = transfer(fd, buf.data(), o, piece, false);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (ok && o.verify && !verify(buf.data(), o, piece)) {
      std::fprintf(stderr, "iov_tcp_bw: received bytes differ (pieces of %zu)\n", piece);
      ok = false;
    }
    if (!ok || ::write(fd, "k", 1) != 1) {
      std::fprintf(stderr, "iov_tcp_bw: the transfer failed\n");
      rc = 1;
      break;
    }
    double gbs = static_cast<double>(o.total) * o.iters / s / 1e9;
    if (piece == 0) contiguous = gbs;
    std::string name = piece == 0 ? "contiguous" : std::to_string(piece) + "-byte pieces";
    std::printf("| %s | %.2f | %.2f |\n", name.c_str(), gbs, gbs / contiguous);
  }
  // Closing first ends a sender still waiting for this row's acknowledgement (after a failure).
  if (fd >= 0) ::close(fd);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) rc = 1;
  if (rc == 0 && o.verify) std::printf("every received byte verified\n");
  return rc;
}
