// What a net plugin's log messages become in the project's log (the logger bridge's policy).
// TCPX logs a WARN for every host-memory recv() (net_tcpx.cc: "NET/GPUDirectTCPX requested
// receive on host mem buffer"), about 10^5 lines per benchmark run (docs/TCPX.md), so:
//   - that WARN is shown at DEBUG only (pluginMessageLevel);
//   - an identical message (same level, file, line and text) is printed once, then counted: at
//     most once per second per message a line "TEXT (repeated N more times)" reports the count;
//   - at most kMaxLinesPerWindow distinct lines per second are printed; the rest are counted
//     and reported in one line when the second is over.
// Counts still pending are reported by flush() (the process's bridge calls it at exit) or by the
// next message after the second is over.
//
// Threading: PluginLogLimiter is thread-safe (plugin helper threads log concurrently); the sink
// is called without the lock held, so it may log.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log.h"

namespace tcpxp::transport {

// The project's level for a plugin message of NCCL level `nccl_level` with format `fmt`
// (kNone: not shown at any level).
LogLevel pluginMessageLevel(int nccl_level, const char* fmt);

class PluginLogLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Sink = std::function<void(LogLevel level, const char* file, int line, const char* text)>;

  static constexpr std::chrono::seconds kWindow{1};
  static constexpr int kMaxLinesPerWindow = 100;
  static constexpr size_t kMaxTracked = 256;  // distinct messages remembered; then they restart

  PluginLogLimiter(Clock clock, Sink sink) : clock_(std::move(clock)), sink_(std::move(sink)) {}

  // One plugin message, already filtered by level and formatted.
  void submit(LogLevel level, const char* file, int line, const std::string& text);
  // Reports every pending count now.
  void flush();

 private:
  struct Entry {
    LogLevel level;
    std::string file;
    int line;
    std::string text;
    std::chrono::steady_clock::time_point last_print;
    uint64_t pending = 0;  // identical messages since last_print, not printed
  };
  struct Line {
    LogLevel level;
    std::string file;
    int line;
    std::string text;
  };
  using Time = std::chrono::steady_clock::time_point;

  static Line repeatLine(const Entry& e);
  // Under mu_: the lines that are due at `now` (repeat counts older than a window, the count of
  // lines dropped in an elapsed window), appended to *out.
  void collectDue(Time now, bool all, std::vector<Line>* out);

  Clock clock_;
  Sink sink_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  Time window_start_{};
  int window_lines_ = 0;  // distinct lines printed in the window starting at window_start_
  uint64_t dropped_ = 0;  // distinct lines not printed in that window (rate limit)
  LogLevel dropped_level_ = LogLevel::kTrace;  // the most severe of those
};

}  // namespace tcpxp::transport
