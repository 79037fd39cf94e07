#include "common/knob.h"

namespace tcpxp {
Parsed parseKnob(const KnobDoc& knob, std::string_view value) {
  const KnobSyntax& s = knob.syntax;
  switch (s.type) {
    case KnobType::kInteger:
      return parseNumber(value, s.lo, s.hi, Units::kNone);
    case KnobType::kBytes:
      return parseNumber(value, s.lo, s.hi, Units::kBytes);
    case KnobType::kBool:
      return parseBool(value, /*allow_auto=*/false);
    case KnobType::kAutoBool:
      return parseBool(value, /*allow_auto=*/true);
    case KnobType::kChoice:
      return parseChoice(value, s.choices ? s.choices : "");
    case KnobType::kText:
      break;
  }
  return Parsed{};
}

std::string describeSyntax(const KnobSyntax& s) {
  std::string range = "[" + std::to_string(s.lo) + ", " + std::to_string(s.hi) + "]";
  switch (s.type) {
    case KnobType::kInteger:
      return "a number in " + range;
    case KnobType::kBytes:
      return "a size in " + range + " (units: " + std::string(kSizeUnits) + ")";
    case KnobType::kBool:
      return "a boolean (" + spacedList(kBoolWords) + ")";
    case KnobType::kAutoBool:
      return "auto or a boolean (" + spacedList(kBoolWords) + ")";
    case KnobType::kChoice:
      return "one of: " + spacedList(s.choices ? s.choices : "");
    case KnobType::kText:
      break;
  }
  return "";
}

}  // namespace tcpxp
