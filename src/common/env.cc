#include "common/env.h"

#include <cerrno>
#include <cstdlib>

#include "common/log.h"

namespace tcpxp {

std::string envString(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return (value && *value) ? std::string(value) : fallback;
}

bool parseSize(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str()) return false;
  int shift = 0;
  if (*end == 'k' || *end == 'K') shift = 10;
  if (*end == 'm' || *end == 'M') shift = 20;
  if (*end == 'g' || *end == 'G') shift = 30;
  if (shift != 0) ++end;
  if (*end != '\0') return false;
  if (value < 0 || (shift && value > (INT64_MAX >> shift))) return false;
  *out = static_cast<int64_t>(value) << shift;
  return true;
}

int64_t envInt(const char* name, int64_t fallback, int64_t min_value, int64_t max_value,
               const char* fallback_text) {
  const char* raw = std::getenv(name);
  if (raw == nullptr || *raw == '\0') return fallback;
  int64_t value = 0;
  if (!parseSize(raw, &value) || value < min_value || value > max_value) {
    std::string using_text = fallback_text ? fallback_text : std::to_string(fallback);
    LOG_WARN("%s=%s is not an integer in [%lld, %lld]; using %s", name, raw,
             static_cast<long long>(min_value), static_cast<long long>(max_value),
             using_text.c_str());
    return fallback;
  }
  return value;
}

bool envBool(const char* name, bool fallback) {
  std::string value = envString(name, "");
  if (value.empty()) return fallback;
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  LOG_WARN("%s=%s is not a boolean (1/0, true/false); using %d", name, value.c_str(),
           fallback ? 1 : 0);
  return fallback;
}

}  // namespace tcpxp
