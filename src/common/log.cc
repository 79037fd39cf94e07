#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tcpxp {
namespace {

LogLevel parseLevel(const char* text) {
  if (text == nullptr || *text == '\0') return LogLevel::kWarn;
  std::string upper;
  for (const char* p = text; *p; ++p) upper += static_cast<char>(std::toupper(*p));
  if (upper == "NONE" || upper == "0") return LogLevel::kNone;
  if (upper == "ERROR" || upper == "1") return LogLevel::kError;
  if (upper == "WARN" || upper == "2") return LogLevel::kWarn;
  if (upper == "INFO" || upper == "3") return LogLevel::kInfo;
  if (upper == "DEBUG" || upper == "4") return LogLevel::kDebug;
  if (upper == "TRACE" || upper == "5") return LogLevel::kTrace;
  std::fprintf(stderr,
               "tcpx-p2p: UCCL_TCPX_DEBUG=%s is not a level (NONE ERROR WARN INFO DEBUG TRACE); "
               "using WARN\n",
               text);
  return LogLevel::kWarn;
}

std::atomic<int>& levelStorage() {
  static std::atomic<int> level{static_cast<int>(parseLevel(std::getenv("UCCL_TCPX_DEBUG")))};
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
  if (LogObserver observer = g_observer.load(); observer && level <= LogLevel::kWarn) {
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
