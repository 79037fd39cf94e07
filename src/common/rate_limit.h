// Lets one event through per interval and counts the ones it holds back, so that failures a
// remote peer can cause (refused requests, broken handshakes) cost at most one log line per
// second however fast they come. Not thread-safe: one owner thread (the driver).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tcpxp {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(Clock::duration interval = std::chrono::seconds(1)) : interval_(interval) {}

  // True when this event may be logged; then *held_back is how many were not since the last
  // one that was (say "and N more" with it).
  bool allow(Clock::time_point now, uint64_t* held_back) {
    if (passed_once_ && now - last_ < interval_) {
      ++held_back_;
      return false;
    }
    passed_once_ = true;
    last_ = now;
    *held_back = held_back_;
    held_back_ = 0;
    return true;
  }
  bool allow(uint64_t* held_back) { return allow(Clock::now(), held_back); }

 private:
  Clock::duration interval_;
  Clock::time_point last_{};
  bool passed_once_ = false;
  uint64_t held_back_ = 0;
};

// " (and N WHAT not logged in the last second)" after a line that passed, or "" when none was
// held back.
inline std::string heldBackNote(uint64_t held_back, const char* what) {
  if (held_back == 0) return "";
  return " (and " + std::to_string(held_back) + " " + what + " not logged in the last second)";
}

}  // namespace tcpxp
