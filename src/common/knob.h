// One environment variable: its name, default, meaning and syntax. Each layer keeps a table of
// these next to the code that reads the variables (env.h reads them by it); --help and
// `tcpx-p2p info` print them, `tcpx-p2p doctor` checks every set value against its syntax.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/quantity.h"

namespace tcpxp {

enum class KnobType {
  kText,      // not checked (paths, interface lists, ...)
  kInteger,   // a plain number in [lo, hi]
  kBytes,     // a size in [lo, hi], units allowed (quantity.h)
  kBool,      // 1 0 true false yes no on off
  kAutoBool,  // auto or a boolean
  kChoice,    // one of `choices` ("tcpx,tcp,auto"), case-insensitive
};

struct KnobSyntax {
  KnobType type = KnobType::kText;
  int64_t lo = 0;
  int64_t hi = 0;
  const char* choices = nullptr;
  // A malformed value is an error (endpoint creation fails) rather than the default used
  // with a warning.
  bool error_if_malformed = false;
};

constexpr KnobSyntax integerKnob(int64_t lo, int64_t hi) {
  return {KnobType::kInteger, lo, hi, nullptr, false};
}
constexpr KnobSyntax bytesKnob(int64_t lo, int64_t hi) {
  return {KnobType::kBytes, lo, hi, nullptr, false};
}
constexpr KnobSyntax boolKnob() { return {KnobType::kBool, 0, 0, nullptr, false}; }
constexpr KnobSyntax autoBoolKnob() { return {KnobType::kAutoBool, 0, 0, nullptr, false}; }
constexpr KnobSyntax choiceKnob(const char* choices, bool error_if_malformed = false) {
  return {KnobType::kChoice, 0, 0, choices, error_if_malformed};
}

struct KnobDoc {
  const char* name;
  const char* default_value;
  const char* doc;
  KnobSyntax syntax{};
};

// `value` read by the knob's syntax: the number; 1 or 0 for a boolean (-1 for auto); the
// position of a choice. A kText knob always parses (value 0).
Parsed parseKnob(const KnobDoc& knob, std::string_view value);

// What the knob accepts, for fix hints: "a number in [1, 32]", "a size in [4096, 4194303]
// (units: K, ...)", "one of: tcpx, tcp, auto", "auto or a boolean (1, 0, ...)"; "" for kText.
std::string describeSyntax(const KnobSyntax& syntax);

}  // namespace tcpxp
