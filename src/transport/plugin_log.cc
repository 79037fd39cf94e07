#include "transport/plugin_log.h"

#include <cstring>

#include "transport/abi/net_v7.h"

namespace tcpxp::transport {
namespace {

// TCPX's per-recv() WARN on the host-memory path (net_tcpx.cc, taskProgress): expected on every
// host-memory receive, so it says nothing a user can act on.
constexpr const char* kHostRecvWarn = "requested receive on host mem buffer";

}  // namespace

LogLevel pluginMessageLevel(int nccl_level, const char* fmt) {
  switch (nccl_level) {
    case NCCL_LOG_VERSION:
      return LogLevel::kInfo;
    case NCCL_LOG_WARN:
      return fmt != nullptr && std::strstr(fmt, kHostRecvWarn) != nullptr ? LogLevel::kDebug
                                                                          : LogLevel::kWarn;
    case NCCL_LOG_INFO:
      return LogLevel::kDebug;
    case NCCL_LOG_ABORT:
      return LogLevel::kError;
    case NCCL_LOG_TRACE:
      return LogLevel::kTrace;
    default:
      return LogLevel::kNone;
  }
}

PluginLogLimiter::Line PluginLogLimiter::repeatLine(const Entry& e) {
  std::string text = e.text + " (repeated " + std::to_string(e.pending) + " more time" +
                     (e.pending == 1 ? ")" : "s)");
  return {e.level, e.file, e.line, std::move(text)};
}

void PluginLogLimiter::collectDue(Time now, bool all, std::vector<Line>* out) {
  for (auto& [key, e] : entries_) {
    if (e.pending > 0 && (all || now - e.last_print >= kWindow)) {
      out->push_back(repeatLine(e));
      e.pending = 0;
      e.last_print = now;
    }
  }
  if (all || now - window_start_ >= kWindow) {
    if (dropped_ > 0) {
      out->push_back({dropped_level_, "plugin", 0,
                      "net plugin: " + std::to_string(dropped_) +
                          " more messages not shown (over " + std::to_string(kMaxLinesPerWindow) +
                          " distinct lines per second)"});
    }
    dropped_ = 0;
    dropped_level_ = LogLevel::kTrace;
    window_start_ = now;
    window_lines_ = 0;
  }
}

void PluginLogLimiter::submit(LogLevel level, const char* file, int line, const std::string& text) {
  const Time now = clock_();
  std::vector<Line> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectDue(now, false, &out);
    std::string key = std::to_string(static_cast<int>(level)) + '\n' + file + '\n' +
                      std::to_string(line) + '\n' + text;
    auto it = entries_.find(key);
    bool known = it != entries_.end();
    if (!known && entries_.size() >= kMaxTracked) {
      // Forget every message (their pending counts reported first) rather than grow unbounded.
      for (auto& [k, e] : entries_) {
        if (e.pending > 0) out.push_back(repeatLine(e));
      }
      entries_.clear();
    }
    if (known && now - it->second.last_print < kWindow) {
      ++it->second.pending;  // seen within the second: counted, reported later
    } else if (window_lines_ < kMaxLinesPerWindow) {
      ++window_lines_;
      out.push_back({level, file, line, text});
      if (!known) {
        entries_.emplace(std::move(key), Entry{level, file, line, text, now, 0});
      } else {
        it->second.last_print = now;
      }
    } else if (known) {
      ++it->second.pending;  // a known message over the budget: its count reports it
    } else {
      ++dropped_;
      if (level < dropped_level_) dropped_level_ = level;  // the most severe one dropped
    }
  }
  for (const Line& l : out) sink_(l.level, l.file.c_str(), l.line, l.text.c_str());
}

void PluginLogLimiter::flush() {
  std::vector<Line> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectDue(clock_(), true, &out);
  }
  for (const Line& l : out) sink_(l.level, l.file.c_str(), l.line, l.text.c_str());
}

}  // namespace tcpxp::transport
