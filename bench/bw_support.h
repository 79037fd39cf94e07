// Pieces of transport_bw that do not touch the ncclNet table: the control channel between the
// two benchmark processes, the registered ring buffer, the verification pattern and the stall
// watchdog.
//
// Threading: everything here is used by one thread per process (the driver thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace tcpxp::bench {

using Clock = std::chrono::steady_clock;

inline double secondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ---- control channel -------------------------------------------------------------------------
// One AF_UNIX SOCK_SEQPACKET socketpair created before fork: every message arrives whole.
enum class CtrlType : uint32_t {
  kHandle = 1,  // receiver -> sender: the 128-byte listen handle
  kGo = 2,      // receiver -> sender: start phase `a` (its receives are being posted)
  kCredit = 3,  // receiver -> sender: post up to `a` requests in total; b = 1: final
  kBye = 4,     // receiver -> sender: everything received; close and report
  kDone = 5,    // sender -> receiver: closed cleanly
  kFail = 6,    // either way: this side failed (it printed why)
};

struct CtrlMsg {
  CtrlType type = CtrlType::kFail;
  uint32_t flags = 0;
  uint64_t a = 0;
  uint64_t b = 0;
  uint8_t handle[128] = {};
};

class Ctrl {
 public:
  // `self` and `peer` name the two sides in messages ("receiver", "sender").
  Ctrl(int fd, const char* self, const char* peer) : fd_(fd), self_(self), peer_(peer) {}
  const char* self() const { return self_; }
  const char* peer() const { return peer_; }

  Status send(const CtrlMsg& msg);
  // Waits up to `timeout_s` for the next message. kTimeout names what was awaited;
  // kPeerClosed when the peer process went away.
  Status recv(CtrlMsg* msg, double timeout_s, const char* awaiting);
  // Non-blocking. Sets *got when a message was consumed.
  Status tryRecv(CtrlMsg* msg, bool* got);
  // Non-blocking health check in the middle of a phase: fails if the peer went away or sent
  // kFail; leaves any other message queued.
  Status checkPeer();
  // The peer reported its own failure (and printed why): this side need not repeat it.
  bool peerFailed() const { return peer_failed_; }

 private:
  int fd_;
  bool peer_failed_ = false;
  const char* self_;
  const char* peer_;
};

// ---- registered ring buffer ------------------------------------------------------------------
// Anonymous memory, transparent huge pages where allowed, touched up front so that no page
// fault lands inside a measurement. Split into registrations of at most 1 GiB (regMr takes an
// int size), each a whole number of chunks, so every chunk lies inside one registration.
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  ~RingBuffer();

  Status allocate(int64_t chunk, int64_t chunks);
  char* chunkAt(int64_t index) const { return base_ + index * chunk_; }
  int64_t chunks() const { return chunks_; }
  int64_t bytes() const { return chunk_ * chunks_; }
  // Registration index that holds chunk `index`.
  int64_t regionOf(int64_t index) const { return index / region_chunks_; }
  int64_t regionChunks() const { return region_chunks_; }
  int64_t regions() const { return (chunks_ + region_chunks_ - 1) / region_chunks_; }

 private:
  char* base_ = nullptr;
  size_t mapped_ = 0;
  int64_t chunk_ = 0;
  int64_t chunks_ = 0;
  int64_t region_chunks_ = 1;
};

// ---- verification pattern --------------------------------------------------------------------
// Byte `off` of message `msg` is a function of both, so that stale bytes of an earlier message
// at the same place in the ring never pass.
void fillPattern(char* dst, uint64_t msg, uint64_t off, size_t len);
struct Mismatch {
  uint64_t bad_bytes = 0;
  uint64_t first_off = 0;  // message offset of the first bad byte
  uint8_t expected = 0;
  uint8_t got = 0;
};
// Returns the number of bad bytes in `src` (and where the first one is).
uint64_t checkPattern(const char* src, uint64_t msg, uint64_t off, size_t len, Mismatch* first);

// ---- watchdog --------------------------------------------------------------------------------
// Tracks the last forward progress of a loop; cheap to poke on every completion.
class Watchdog {
 public:
  explicit Watchdog(double timeout_s) : timeout_s_(timeout_s) { progress(); }
  void progress() { last_ = Clock::now(); }
  bool expired(Clock::time_point now) const { return secondsBetween(last_, now) > timeout_s_; }
  double timeout() const { return timeout_s_; }

 private:
  double timeout_s_;
  Clock::time_point last_;
};

// "256 KiB", "1 MiB", "1000 B".
std::string formatSize(int64_t bytes);
// Accepts 123, 64K, 64KB, 64KiB, 4M, 1G (binary multiples). False on anything else.
bool parseBytes(const std::string& text, int64_t* out);

}  // namespace tcpxp::bench
