// Leveled logging to stderr. The level comes from UCCL_TCPX_DEBUG (WARN by default):
// NONE, ERROR, WARN, INFO, DEBUG, TRACE (or 0..5). Thread-safe: one write(2) per line.
#pragma once

#include <cstdarg>

#include "common/knob.h"

namespace tcpxp {

// The level's knob; a choice's position modulo 6 is its LogLevel.
inline constexpr KnobDoc kLogLevelKnob{"UCCL_TCPX_DEBUG", "WARN",
                                       "log level: NONE ERROR WARN INFO DEBUG TRACE (or 0..5)",
                                       choiceKnob("NONE,ERROR,WARN,INFO,DEBUG,TRACE,0,1,2,3,4,5")};

enum class LogLevel : int { kNone = 0, kError = 1, kWarn = 2, kInfo = 3, kDebug = 4, kTrace = 5 };

LogLevel logLevel();
void setLogLevel(LogLevel level);
inline bool logEnabled(LogLevel level) {
  return static_cast<int>(level) <= static_cast<int>(logLevel());
}

// Observer for tests: called with every line that is emitted (at or above logLevel()).
using LogObserver = void (*)(LogLevel level, const char* line);
void setLogObserver(LogObserver observer);

void logLine(LogLevel level, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
void logLineV(LogLevel level, const char* file, int line, const char* fmt, va_list args);

}  // namespace tcpxp

#define TCPXP_LOG(level, ...)                                                                 \
  do {                                                                                        \
    if (::tcpxp::logEnabled(level)) ::tcpxp::logLine(level, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define LOG_ERROR(...) TCPXP_LOG(::tcpxp::LogLevel::kError, __VA_ARGS__)
#define LOG_WARN(...) TCPXP_LOG(::tcpxp::LogLevel::kWarn, __VA_ARGS__)
#define LOG_INFO(...) TCPXP_LOG(::tcpxp::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) TCPXP_LOG(::tcpxp::LogLevel::kDebug, __VA_ARGS__)
#define LOG_TRACE(...) TCPXP_LOG(::tcpxp::LogLevel::kTrace, __VA_ARGS__)
