#include "common/quantity.h"

#include <cctype>

namespace tcpxp {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Parsed failure(ParseError error, std::string message) {
  Parsed p;
  p.error = error;
  p.message = std::move(message);
  return p;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// The scale of a unit, 0 when unknown.
uint64_t unitScale(std::string_view unit) {
  struct Unit {
    std::string_view name;
    uint64_t scale;
  };
  static constexpr Unit kUnits[] = {
      {"b", 1},
      {"k", 1ull << 10},
      {"m", 1ull << 20},
      {"g", 1ull << 30},
      {"kib", 1ull << 10},
      {"mib", 1ull << 20},
      {"gib", 1ull << 30},
      {"kb", 1000},
      {"mb", 1000000},
      {"gb", 1000000000},
  };
  for (const Unit& u : kUnits) {
    if (equalsIgnoreCase(unit, u.name)) return u.scale;
  }
  return 0;
}

std::string rangeText(int64_t lo, int64_t hi) {
  return "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

}  // namespace

std::string spacedList(std::string_view comma_list) {
  std::string out;
  for (char c : comma_list) {
    out += c;
    if (c == ',') out += ' ';
  }
  return out;
}

Parsed parseNumber(std::string_view text, int64_t lo, int64_t hi, Units units) {
  std::string_view t = trim(text);
  if (t.empty()) return failure(ParseError::kNotANumber, "not a number (empty)");
  const std::string_view original = t;
  bool negative = false;
  if (t.front() == '+' || t.front() == '-') {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  // Magnitude in 64 unsigned bits; `overflow` once it no longer fits.
  uint64_t magnitude = 0;
  bool overflow = false;
  size_t digits = 0;
  const bool hex = t.size() > 2 && t[0] == '0' && lower(t[1]) == 'x' && hexDigit(t[2]) >= 0;
  const uint64_t base = hex ? 16 : 10;
  if (hex) t.remove_prefix(2);
  while (digits < t.size()) {
    int d =
        hex ? hexDigit(t[digits]) : (t[digits] >= '0' && t[digits] <= '9' ? t[digits] - '0' : -1);
    if (d < 0) break;
    if (magnitude > (UINT64_MAX - static_cast<uint64_t>(d)) / base) overflow = true;
    magnitude = magnitude * base + static_cast<uint64_t>(d);
    ++digits;
  }
  if (digits == 0) return failure(ParseError::kNotANumber, "not a number");
  std::string_view rest = trim(t.substr(digits));
  bool has_unit = false;
  if (!rest.empty()) {
    if (!hex && digits == 1 && t[0] == '0' && lower(t[1]) == 'x') {
      return failure(ParseError::kNotANumber, "not a number");  // "0x", "0xZZ"
    }
    if (rest.front() == '.' || rest.front() == ',') {
      return failure(ParseError::kNotANumber, "not a whole number");
    }
    for (char c : rest) {
      if (!std::isalpha(static_cast<unsigned char>(c))) {
        return failure(ParseError::kNotANumber, "not a number");
      }
    }
    if (units == Units::kNone) {
      return failure(ParseError::kUnknownUnit,
                     "unknown unit '" + std::string(rest) + "' (a plain number, no unit)");
    }
    uint64_t scale = unitScale(rest);
    if (scale == 0) {
      return failure(ParseError::kUnknownUnit, "unknown unit '" + std::string(rest) +
                                                   "' (accepted: " + std::string(kSizeUnits) + ")");
    }
    if (magnitude > UINT64_MAX / scale) overflow = true;
    magnitude *= scale;
    has_unit = scale != 1;
  }
  // INT64_MIN's magnitude is one more than INT64_MAX's.
  const uint64_t limit = negative ? uint64_t{1} << 63 : static_cast<uint64_t>(INT64_MAX);
  if (overflow || magnitude > limit) {
    return failure(ParseError::kOutOfRange, rangeText(lo, hi) + " (beyond 64 bits)");
  }
  int64_t value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  if (value < lo || value > hi) {
    std::string shown;
    if (has_unit || hex) shown = " (" + std::string(original) + " = " + std::to_string(value) + ")";
    return failure(ParseError::kOutOfRange, rangeText(lo, hi) + shown);
  }
  Parsed p;
  p.value = value;
  return p;
}

Parsed parseChoice(std::string_view text, std::string_view accepted) {
  std::string_view t = trim(text);
  int64_t index = 0;
  size_t start = 0;
  while (start <= accepted.size()) {
    size_t end = accepted.find(',', start);
    if (end == std::string_view::npos) end = accepted.size();
    if (!t.empty() && equalsIgnoreCase(t, accepted.substr(start, end - start))) {
      Parsed p;
      p.value = index;
      return p;
    }
    ++index;
    start = end + 1;
  }
  return failure(ParseError::kUnknownValue,
                 "unknown value '" + std::string(t) + "' (accepted: " + spacedList(accepted) + ")");
}

Parsed parseBool(std::string_view text, bool allow_auto) {
  const std::string words =
      allow_auto ? "auto," + std::string(kBoolWords) : std::string(kBoolWords);
  Parsed p = parseChoice(text, words);
  if (!p.ok()) return p;
  int64_t index = allow_auto ? p.value - 1 : p.value;   // "auto" first
  p.value = index < 0 ? -1 : (index % 2 == 0 ? 1 : 0);  // the words alternate true, false
  return p;
}

std::string formatSize(int64_t bytes) {
  static constexpr struct {
    int shift;
    const char* name;
  } kUnits[] = {{30, "G"}, {20, "M"}, {10, "K"}};
  for (const auto& u : kUnits) {
    int64_t scale = int64_t{1} << u.shift;
    if (bytes != 0 && bytes % scale == 0) return std::to_string(bytes / scale) + u.name;
  }
  return std::to_string(bytes);
}

}  // namespace tcpxp
