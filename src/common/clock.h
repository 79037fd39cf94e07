// Monotonic nanoseconds, for timing stages of the data path and helper threads.
#pragma once

#include <chrono>
#include <cstdint>

namespace tcpxp {

inline int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace tcpxp
