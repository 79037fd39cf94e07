#include "bw_support.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/net_util.h"

namespace tcpxp::bench {

// ---- control channel -------------------------------------------------------------------------

Status Ctrl::send(const CtrlMsg& msg) {
  for (;;) {
    ssize_t n = ::send(fd_, &msg, sizeof(msg), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof(msg))) return Status::ok();
    if (n < 0 && errno == EINTR) continue;
    int err = n < 0 ? errno : EMSGSIZE;
    return Status(
        err == EPIPE || err == ECONNRESET ? Code::kPeerClosed : Code::kSystemError,
        std::string(self_) + ": control message to the " + peer_ + " not sent: " + errnoText(err));
  }
}

Status Ctrl::tryRecv(CtrlMsg* msg, bool* got) {
  *got = false;
  for (;;) {
    ssize_t n = ::recv(fd_, msg, sizeof(*msg), MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(sizeof(*msg))) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::ok();
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      return Status(Code::kPeerClosed, std::string(self_) + ": the " + peer_ +
                                           " process went away (see its messages above)");
    }
    return Status(Code::kProtocolError, std::string(self_) + ": bad control message from the " +
                                            peer_ + (n < 0 ? ": " + errnoText(errno) : ""));
  }
  if (msg->type == CtrlType::kFail) {
    peer_failed_ = true;
    return Status(Code::kRemoteError,
                  std::string(self_) + ": the " + peer_ + " failed (see its messages above)");
  }
  *got = true;
  return Status::ok();
}

Status Ctrl::recv(CtrlMsg* msg, double timeout_s, const char* awaiting) {
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s));
  for (;;) {
    bool got = false;
    TCPXP_RETURN_IF_ERROR(tryRecv(msg, &got));
    if (got) return Status::ok();
    double left = secondsBetween(Clock::now(), deadline);
    if (left <= 0) {
      return Status(Code::kTimeout, std::string(self_) + " stalled: waited " +
                                        std::to_string(static_cast<int>(timeout_s)) + " s for " +
                                        awaiting + " from the " + peer_ + " (--timeout)");
    }
    pollfd p{fd_, POLLIN, 0};
    int ms = static_cast<int>(left * 1000) + 1;
    if (::poll(&p, 1, ms > 100 ? 100 : ms) < 0 && errno != EINTR) {
      return Status(Code::kSystemError, std::string(self_) + ": poll: " + errnoText(errno));
    }
  }
}

Status Ctrl::checkPeer() {
  CtrlMsg msg;
  ssize_t n = ::recv(fd_, &msg, sizeof(msg), MSG_DONTWAIT | MSG_PEEK);
  if (n < 0) return Status::ok();  // nothing queued (EAGAIN) or EINTR: look again later
  if (n == 0) {
    return Status(Code::kPeerClosed, std::string(self_) + ": the " + peer_ +
                                         " process went away (see its messages above)");
  }
  if (n == static_cast<ssize_t>(sizeof(msg)) && msg.type == CtrlType::kFail) {
    bool got = false;
    return tryRecv(&msg, &got);  // consumes it and returns the failure
  }
  return Status::ok();
}

// ---- registered ring buffer ------------------------------------------------------------------

RingBuffer::~RingBuffer() {
  if (base_ != nullptr) ::munmap(base_, mapped_);
}

Status RingBuffer::allocate(int64_t chunk, int64_t chunks) {
  chunk_ = chunk;
  chunks_ = chunks;
  region_chunks_ = std::max<int64_t>(1, (int64_t{1} << 30) / chunk);
  mapped_ = static_cast<size_t>(chunk * chunks);
  void* p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Status(Code::kResourceExhausted,
                  "cannot map a " + formatSize(static_cast<int64_t>(mapped_)) +
                      " buffer: " + errnoText(errno) + " (use smaller --sizes)");
  }
  base_ = static_cast<char*>(p);
  (void)::madvise(base_, mapped_, MADV_HUGEPAGE);  // best effort: fewer TLB misses in copies
  std::memset(base_, 0xa5, mapped_);               // fault every page in now
  return Status::ok();
}

// ---- verification pattern --------------------------------------------------------------------
namespace {

// Word i of message m is key(m) + i * kStep: another message (other key) or a misplaced piece
// (other i) never matches, and filling or checking is one add per word, so that it vectorises.
constexpr uint64_t kStep = 0x9e3779b97f4a7c15ull;

inline uint64_t messageKey(uint64_t msg) {
  uint64_t z = msg + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline uint8_t patternByte(uint64_t key, uint64_t off) {
  uint64_t w = key + (off / 8) * kStep;
  uint8_t bytes[8];
  std::memcpy(bytes, &w, 8);
  return bytes[off % 8];
}

}  // namespace

void fillPattern(char* dst, uint64_t msg, uint64_t off, size_t len) {
  const uint64_t key = messageKey(msg);
  while (len > 0 && off % 8 != 0) {
    *dst++ = static_cast<char>(patternByte(key, off++));
    --len;
  }
  uint64_t w = key + (off / 8) * kStep;
  size_t words = len / 8;
  for (size_t i = 0; i < words; ++i, w += kStep) std::memcpy(dst + 8 * i, &w, 8);
  dst += 8 * words;
  off += 8 * words;
  len -= 8 * words;
  for (; len > 0; --len) *dst++ = static_cast<char>(patternByte(key, off++));
}

uint64_t checkPattern(const char* src, uint64_t msg, uint64_t off, size_t len, Mismatch* first) {
  const uint64_t key = messageKey(msg);
  uint64_t bad = 0;
  auto byteCheck = [&](const char* p, uint64_t o) {
    uint8_t want = patternByte(key, o);
    uint8_t have = static_cast<uint8_t>(*p);
    if (want == have) return;
    if (bad++ == 0 && first != nullptr) *first = {0, o, want, have};
  };
  while (len > 0 && off % 8 != 0) {
    byteCheck(src++, off++);
    --len;
  }
  // Blocks of 512 words: a branch-free OR of differences, then a byte scan of dirty blocks.
  constexpr size_t kBlock = 512;
  while (len >= 8) {
    size_t words = std::min(len / 8, kBlock);
    uint64_t w = key + (off / 8) * kStep;
    uint64_t diff = 0;
    for (size_t i = 0; i < words; ++i, w += kStep) {
      uint64_t have;
      std::memcpy(&have, src + 8 * i, 8);
      diff |= have ^ w;
    }
    if (diff != 0) {
      for (size_t i = 0; i < 8 * words; ++i) byteCheck(src + i, off + i);
    }
    src += 8 * words;
    off += 8 * words;
    len -= 8 * words;
  }
  for (; len > 0; --len) byteCheck(src++, off++);
  if (first != nullptr && bad > 0) first->bad_bytes = bad;
  return bad;
}

// ---- text ------------------------------------------------------------------------------------

std::string formatSize(int64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  int64_t v = bytes;
  while (u < 4 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    ++u;
  }
  return std::to_string(v) + " " + units[u];
}

bool parseBytes(const std::string& text, int64_t* out) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
    if (value > (uint64_t{1} << 50)) return false;
    ++i;
  }
  if (i == 0) return false;
  std::string suffix = text.substr(i);
  int shift = 0;
  if (!suffix.empty() && suffix != "B" && suffix != "b") {
    char c = static_cast<char>(suffix[0] | 0x20);
    shift = c == 'k' ? 10 : c == 'm' ? 20 : c == 'g' ? 30 : -1;
    std::string rest = suffix.substr(1);
    if (shift < 0 || !(rest.empty() || rest == "B" || rest == "b" || rest == "iB")) return false;
  }
  *out = static_cast<int64_t>(value << shift);
  return true;
}

}  // namespace tcpxp::bench
