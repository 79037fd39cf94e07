// The one parser of numbers, byte sizes and enumerated values, for the environment (env.h, the
// knob tables) and the command line (api/cli/args.h) alike. Pure: no I/O, no logging.
//
// Numbers: optional sign, decimal digits ("4096", "-1", leading zeros stay decimal) or hexadecimal
// ("0x7c9e3a1d"); spaces around the value are ignored. Sizes (Units::kBytes) may end in a unit,
// case-insensitive, optionally after spaces: K M G and KiB MiB GiB are binary (2^10, 2^20, 2^30),
// KB MB GB decimal (10^3, 10^6, 10^9), B is 1. A plain number (Units::kNone) takes no unit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tcpxp {

enum class ParseError {
  kNone,
  kNotANumber,    // "abc", "", "1.5", "4 096"
  kOutOfRange,    // outside [lo, hi], or beyond 64 bits
  kUnknownUnit,   // "4X"; any unit where a plain number is expected
  kUnknownValue,  // not one of the accepted words (parseChoice, parseBool)
};

// The outcome: `value`, or the kind of error and a message that says precisely what is wrong and
// what is accepted, without the variable's or flag's name (the caller puts "NAME=VALUE: " first):
//   "not a number", "out of range [4096, 4194303] (4M = 4194304)",
//   "unknown unit 'X' (accepted: ...)", "unknown value 'foo' (accepted: a, b, c)".
struct Parsed {
  int64_t value = 0;
  ParseError error = ParseError::kNone;
  std::string message;  // "" when ok
  bool ok() const { return error == ParseError::kNone; }
};

enum class Units { kNone, kBytes };

// The units of Units::kBytes, as error messages list them.
inline constexpr std::string_view kSizeUnits = "K, M, G, KB, MB, GB, KiB, MiB, GiB, B";

// A whole number in [lo, hi].
Parsed parseNumber(std::string_view text, int64_t lo, int64_t hi, Units units = Units::kNone);

// One of the comma-separated `accepted` words ("tcpx,tcp,auto"), compared case-insensitively;
// value = its position. Spaces around `text` are ignored.
Parsed parseChoice(std::string_view text, std::string_view accepted);

// The accepted booleans (value 1 or 0), and with `allow_auto` also "auto" (value -1).
inline constexpr std::string_view kBoolWords = "1,0,true,false,yes,no,on,off";
Parsed parseBool(std::string_view text, bool allow_auto = false);

// "a,b,c" -> "a, b, c", as the messages list accepted words.
std::string spacedList(std::string_view comma_list);

// 65536 -> "64K", 67108864 -> "64M", 1000 -> "1000": the shortest exact spelling in the binary
// units parseNumber reads back, for messages such as "using 64M".
std::string formatSize(int64_t bytes);

}  // namespace tcpxp
