#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tcpxp {
namespace {

// Parsed here, not by env.h: the logger is what env.h's warnings go through.
LogLevel parseLevel(const char* text) {
  if (text == nullptr || *text == '\0') return LogLevel::kWarn;
  Parsed p = parseKnob(kLogLevelKnob, text);
  if (p.ok()) return static_cast<LogLevel>(p.value % 6);
  std::fprintf(stderr, "tcpx-p2p: %s=%s: %s; using WARN\n", kLogLevelKnob.name, text,
               p.message.c_str());
  return LogLevel::kWarn;
}

std::atomic<int>& levelStorage() {
  static std::atomic<int> level{static_cast<int>(parseLevel(std::getenv(kLogLevelKnob.name)))};
  return level;
}

std::atomic<LogObserver> g_observer{nullptr};

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kTrace:
      return "TRACE";
    case LogLevel::kNone:
      break;
  }
  return "NONE";
}

}  // namespace

LogLevel logLevel() {
  return static_cast<LogLevel>(levelStorage().load(std::memory_order_relaxed));
}

void setLogLevel(LogLevel level) {
  levelStorage().store(static_cast<int>(level), std::memory_order_relaxed);
}

void setLogObserver(LogObserver observer) { g_observer.store(observer); }

void logLineV(LogLevel level, const char* file, int line, const char* fmt, va_list args) {
  char buf[2048];
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  int n = std::snprintf(buf, sizeof(buf), "tcpx-p2p %d %s %s:%d ", static_cast<int>(getpid()),
                        levelName(level), base, line);
  if (n < 0) return;
  size_t used = static_cast<size_t>(n) < sizeof(buf) ? static_cast<size_t>(n) : sizeof(buf) - 1;
  int m = std::vsnprintf(buf + used, sizeof(buf) - used, fmt, args);
  if (m > 0)
    used += static_cast<size_t>(m) < sizeof(buf) - used ? static_cast<size_t>(m)
                                                        : sizeof(buf) - used - 1;
  if (used > 0 && buf[used - 1] == '\n') --used;
  if (used >= sizeof(buf) - 1) used = sizeof(buf) - 2;
  buf[used++] = '\n';
  buf[used] = '\0';
  if (LogObserver observer = g_observer.load(); observer != nullptr) {
    observer(level, buf);
  }
  ssize_t ignored = ::write(STDERR_FILENO, buf, used);
  (void)ignored;
}

void logLine(LogLevel level, const char* file, int line, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  logLineV(level, file, line, fmt, args);
  va_end(args);
}

}  // namespace tcpxp
