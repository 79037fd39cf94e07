#include "common/env.h"

#include <cstdlib>
#include <mutex>
#include <set>

#include "common/log.h"

namespace tcpxp {
namespace {

// The value, or nullptr when unset or empty.
const char* rawValue(const char* name) {
  const char* value = std::getenv(name);
  return (value && *value) ? value : nullptr;
}

void warnMalformed(const char* name, const char* raw, const Parsed& p, const std::string& used) {
  warnOnce(std::string(name) + "=" + raw + ": " + p.message + "; using " + used);
}

std::string usedText(const KnobDoc& knob, int64_t fallback, const char* fallback_text) {
  if (fallback_text) return fallback_text;
  return knob.syntax.type == KnobType::kBytes ? formatSize(fallback) : std::to_string(fallback);
}

}  // namespace

void warnOnce(const std::string& message) {
  // Never destroyed: threads may still warn while the process exits.
  static auto* mu = new std::mutex;
  static auto* logged = new std::set<std::string>;
  {
    std::lock_guard<std::mutex> lock(*mu);
    if (!logged->insert(message).second) return;
  }
  LOG_WARN("%s", message.c_str());
}

std::string envString(const char* name, const std::string& fallback) {
  const char* value = rawValue(name);
  return value ? std::string(value) : fallback;
}

int64_t envInt(const KnobDoc& knob, int64_t fallback, const char* fallback_text) {
  const char* raw = rawValue(knob.name);
  if (raw == nullptr) return fallback;
  Parsed p = parseKnob(knob, raw);
  if (!p.ok()) {
    warnMalformed(knob.name, raw, p, usedText(knob, fallback, fallback_text));
    return fallback;
  }
  return p.value;
}

bool envBool(const KnobDoc& knob, bool fallback) {
  const char* raw = rawValue(knob.name);
  if (raw == nullptr) return fallback;
  Parsed p = parseBool(raw);
  if (!p.ok()) {
    warnMalformed(knob.name, raw, p, fallback ? "1" : "0");
    return fallback;
  }
  return p.value != 0;
}

int envAutoBool(const KnobDoc& knob) {
  const char* raw = rawValue(knob.name);
  if (raw == nullptr) return -1;
  Parsed p = parseBool(raw, /*allow_auto=*/true);
  if (!p.ok()) {
    warnMalformed(knob.name, raw, p, "auto");
    return -1;
  }
  return static_cast<int>(p.value);
}

int64_t envInt(const char* name, int64_t fallback, int64_t min_value, int64_t max_value,
               const char* fallback_text) {
  const char* raw = rawValue(name);
  if (raw == nullptr) return fallback;
  Parsed p = parseNumber(raw, min_value, max_value, Units::kNone);
  if (!p.ok()) {
    warnMalformed(name, raw, p, fallback_text ? fallback_text : std::to_string(fallback));
    return fallback;
  }
  return p.value;
}

bool envBool(const char* name, bool fallback) {
  return envBool(KnobDoc{name, "", "", boolKnob()}, fallback);
}

}  // namespace tcpxp
