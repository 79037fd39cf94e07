// The one parser of numbers, sizes and choices (common/quantity.h), the knob syntax on top of
// it (common/knob.h) and the environment readers' warnings (common/env.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/cpu_affinity.h"
#include "common/env.h"
#include "common/knob.h"
#include "common/log.h"
#include "common/quantity.h"

namespace tcpxp {
namespace {

constexpr int64_t kMax = INT64_MAX;

int64_t bytes(const char* text) {
  Parsed p = parseNumber(text, INT64_MIN, kMax, Units::kBytes);
  EXPECT_TRUE(p.ok()) << text << ": " << p.message;
  return p.value;
}

Parsed bad(const char* text, ParseError want, int64_t lo = 0, int64_t hi = kMax,
           Units units = Units::kBytes) {
  Parsed p = parseNumber(text, lo, hi, units);
  EXPECT_EQ(p.error, want) << "'" << text << "' -> " << p.value << " " << p.message;
  return p;
}

TEST(ParseNumber, EverySuffix) {
  EXPECT_EQ(bytes("4096"), 4096);
  EXPECT_EQ(bytes("7B"), 7);
  EXPECT_EQ(bytes("4K"), 4 << 10);
  EXPECT_EQ(bytes("4M"), 4 << 20);
  EXPECT_EQ(bytes("4G"), int64_t{4} << 30);
  EXPECT_EQ(bytes("4KiB"), 4 << 10);
  EXPECT_EQ(bytes("4MiB"), 4 << 20);
  EXPECT_EQ(bytes("4GiB"), int64_t{4} << 30);
  EXPECT_EQ(bytes("4KB"), 4000);
  EXPECT_EQ(bytes("2MB"), 2000000);
  EXPECT_EQ(bytes("4GB"), int64_t{4000000000});
  // Case-insensitive, as the environment parser and the CLI were before.
  EXPECT_EQ(bytes("64k"), 64 << 10);
  EXPECT_EQ(bytes("1m"), 1 << 20);
  EXPECT_EQ(bytes("2mb"), 2000000);
  EXPECT_EQ(bytes("3gib"), int64_t{3} << 30);
}

TEST(ParseNumber, PlainHexSignsAndLeadingZeros) {
  EXPECT_EQ(bytes("0"), 0);
  EXPECT_EQ(bytes("+12"), 12);
  EXPECT_EQ(bytes("-1"), -1);
  EXPECT_EQ(bytes("-0"), 0);
  EXPECT_EQ(bytes("010"), 10);  // decimal, not octal
  EXPECT_EQ(bytes("0x7c9e3a1d"), 0x7c9e3a1d);
  EXPECT_EQ(bytes("0X10"), 16);
  EXPECT_EQ(bytes("0x10K"), 16 << 10);
  EXPECT_EQ(bytes("9223372036854775807"), kMax);
  EXPECT_EQ(bytes("-9223372036854775808"), INT64_MIN);
  Parsed p = parseNumber("32", 1, 32);
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.value, 32);
  EXPECT_TRUE(p.message.empty());
}

TEST(ParseNumber, Whitespace) {
  EXPECT_EQ(bytes(" 64K "), 64 << 10);
  EXPECT_EQ(bytes("\t4096\n"), 4096);
  EXPECT_EQ(bytes("4 KiB"), 4 << 10);  // what the CLI prints (formatBytes) reads back
  bad("4 096", ParseError::kNotANumber);
  bad("- 4", ParseError::kNotANumber);
  EXPECT_EQ(bad("   ", ParseError::kNotANumber).message, "not a number (empty)");
}

TEST(ParseNumber, Empty) {
  EXPECT_EQ(bad("", ParseError::kNotANumber).message, "not a number (empty)");
  bad("", ParseError::kNotANumber, 0, 10, Units::kNone);
}

TEST(ParseNumber, NotANumber) {
  for (const char* t : {"abc", "K", "-", "+", "--5", "0x", "0xZZ", "x10", "4K4", "4_096", "1e6"}) {
    Parsed p = bad(t, ParseError::kNotANumber);
    if (p.error == ParseError::kNotANumber) {
      EXPECT_EQ(p.message, "not a number") << t;
    }
  }
  EXPECT_EQ(bad("1.5M", ParseError::kNotANumber).message, "not a whole number");
  EXPECT_EQ(bad("3,5", ParseError::kNotANumber).message, "not a whole number");
}

TEST(ParseNumber, UnknownUnit) {
  Parsed p = bad("4X", ParseError::kUnknownUnit);
  EXPECT_EQ(p.message, "unknown unit 'X' (accepted: K, M, G, KB, MB, GB, KiB, MiB, GiB, B)");
  EXPECT_EQ(bad("4 Kbit", ParseError::kUnknownUnit).message.rfind("unknown unit 'Kbit'", 0), 0u);
  EXPECT_EQ(bad("5ms", ParseError::kUnknownUnit).message.rfind("unknown unit 'ms'", 0), 0u);
  // Where a plain number is expected, every unit is unknown.
  p = bad("4K", ParseError::kUnknownUnit, 0, kMax, Units::kNone);
  EXPECT_EQ(p.message, "unknown unit 'K' (a plain number, no unit)");
}

TEST(ParseNumber, OutOfRange) {
  Parsed p = bad("4M", ParseError::kOutOfRange, 4096, (4 << 20) - 1);
  EXPECT_EQ(p.message, "out of range [4096, 4194303] (4M = 4194304)");
  EXPECT_EQ(bad("1", ParseError::kOutOfRange, 4096, (4 << 20) - 1).message,
            "out of range [4096, 4194303]");
  EXPECT_EQ(bad("0x20", ParseError::kOutOfRange, 0, 16).message,
            "out of range [0, 16] (0x20 = 32)");
  // Negative where the range is not.
  EXPECT_EQ(bad("-1", ParseError::kOutOfRange, 0, 65535, Units::kNone).message,
            "out of range [0, 65535]");
  EXPECT_EQ(bad("-4K", ParseError::kOutOfRange, 1, kMax).message,
            "out of range [1, 9223372036854775807] (-4K = -4096)");
  // The bounds themselves are in.
  EXPECT_TRUE(parseNumber("4096", 4096, 4096).ok());
}

TEST(ParseNumber, Overflow) {
  const char* beyond = " (beyond 64 bits)";
  EXPECT_EQ(bad("9223372036854775808", ParseError::kOutOfRange).message,
            std::string("out of range [0, 9223372036854775807]") + beyond);
  EXPECT_EQ(bad("-9223372036854775809", ParseError::kOutOfRange, INT64_MIN).error,
            ParseError::kOutOfRange);
  bad("99999999999999999999999", ParseError::kOutOfRange);
  bad("0x10000000000000000", ParseError::kOutOfRange);
  bad("9999999999G", ParseError::kOutOfRange);  // fits alone, not scaled
  bad("8589934592G", ParseError::kOutOfRange);  // 2^33 GiB = 2^63
  EXPECT_EQ(bytes("8589934591G"), int64_t{8589934591} << 30);
}

TEST(ParseChoice, MatchesCaseInsensitivelyAndListsTheAccepted) {
  Parsed p = parseChoice("TCP", "tcpx,tcp,auto");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value, 1);
  EXPECT_EQ(parseChoice(" auto ", "tcpx,tcp,auto").value, 2);
  p = parseChoice("foo", "tcpx,tcp,auto");
  EXPECT_EQ(p.error, ParseError::kUnknownValue);
  EXPECT_EQ(p.message, "unknown value 'foo' (accepted: tcpx, tcp, auto)");
  EXPECT_EQ(parseChoice("", "tcpx,tcp,auto").error, ParseError::kUnknownValue);
  EXPECT_EQ(parseChoice("tcp,", "tcpx,tcp,auto").error, ParseError::kUnknownValue);
}

TEST(ParseBool, EveryWord) {
  for (const char* t : {"1", "true", "yes", "on", "TRUE", "On"}) {
    Parsed p = parseBool(t);
    ASSERT_TRUE(p.ok()) << t;
    EXPECT_EQ(p.value, 1) << t;
  }
  for (const char* t : {"0", "false", "no", "off", "NO"}) {
    Parsed p = parseBool(t);
    ASSERT_TRUE(p.ok()) << t;
    EXPECT_EQ(p.value, 0) << t;
  }
  Parsed p = parseBool("maybe");
  EXPECT_EQ(p.error, ParseError::kUnknownValue);
  EXPECT_EQ(p.message, "unknown value 'maybe' (accepted: 1, 0, true, false, yes, no, on, off)");
  EXPECT_EQ(parseBool("auto").error, ParseError::kUnknownValue);
  EXPECT_EQ(parseBool("auto", true).value, -1);
  EXPECT_EQ(parseBool("off", true).value, 0);
  EXPECT_EQ(parseBool("yes", true).value, 1);
  EXPECT_EQ(parseBool("maybe", true).message,
            "unknown value 'maybe' (accepted: auto, 1, 0, true, false, yes, no, on, off)");
}

TEST(FormatSize, ReadsBack) {
  EXPECT_EQ(formatSize(65536), "64K");
  EXPECT_EQ(formatSize(64 << 20), "64M");
  EXPECT_EQ(formatSize(int64_t{16} << 30), "16G");
  EXPECT_EQ(formatSize(1000), "1000");
  EXPECT_EQ(formatSize(0), "0");
  for (int64_t v : {int64_t{0}, int64_t{1000}, int64_t{3} << 10, int64_t{5} << 30}) {
    EXPECT_EQ(parseNumber(formatSize(v), 0, kMax, Units::kBytes).value, v);
  }
}

TEST(Knob, ParseAndDescribeBySyntax) {
  KnobDoc n{"N", "4", "", integerKnob(1, 32)};
  EXPECT_EQ(parseKnob(n, "32").value, 32);
  EXPECT_EQ(parseKnob(n, "4K").error, ParseError::kUnknownUnit);
  EXPECT_EQ(describeSyntax(n.syntax), "a number in [1, 32]");
  KnobDoc b{"B", "64K", "", bytesKnob(0, 65536)};
  EXPECT_EQ(parseKnob(b, "64K").value, 65536);
  EXPECT_EQ(describeSyntax(b.syntax),
            "a size in [0, 65536] (units: K, M, G, KB, MB, GB, KiB, MiB, GiB, B)");
  KnobDoc c{"C", "auto", "", choiceKnob("tcpx,tcp,auto", true)};
  EXPECT_EQ(parseKnob(c, "tcpx").value, 0);
  EXPECT_EQ(describeSyntax(c.syntax), "one of: tcpx, tcp, auto");
  KnobDoc a{"A", "auto", "", autoBoolKnob()};
  EXPECT_EQ(parseKnob(a, "auto").value, -1);
  EXPECT_EQ(parseKnob(a, "maybe").error, ParseError::kUnknownValue);
  KnobDoc t{"T", "", ""};
  EXPECT_TRUE(parseKnob(t, "anything at all").ok());
  EXPECT_EQ(describeSyntax(t.syntax), "");
}

// ---- environment readers: precise warnings, once per process ---------------------------------

std::vector<std::string>* g_lines = nullptr;
void collect(LogLevel, const char* line) { g_lines->push_back(line); }

// Captures the WARN+ lines logged while it lives.
class LogCapture {
 public:
  LogCapture() {
    g_lines = &lines_;
    setLogObserver(&collect);
  }
  ~LogCapture() {
    setLogObserver(nullptr);
    g_lines = nullptr;
  }
  // Lines containing `text`.
  size_t count(const std::string& text) const {
    size_t n = 0;
    for (const std::string& l : lines_) n += l.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

constexpr KnobDoc kChunk{"TCPXP_TEST_CHUNK", "1M", "", bytesKnob(4096, (4 << 20) - 1)};
constexpr KnobDoc kFlag{"TCPXP_TEST_FLAG", "0", "", boolKnob()};
constexpr KnobDoc kPin{"TCPXP_TEST_PIN", "auto", "", autoBoolKnob()};

TEST(EnvWarnings, ABadValueWarnsOncePerProcess) {
  LogCapture log;
  ::setenv(kChunk.name, "4M", 1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(envInt(kChunk, 1 << 20), 1 << 20);  // three layers
  ::setenv(kChunk.name, "2MB", 1);
  EXPECT_EQ(envInt(kChunk, 1 << 20), 2000000);
  ::setenv(kChunk.name, "abc", 1);
  EXPECT_EQ(envInt(kChunk, 1 << 20, "the transport's default"), 1 << 20);
  EXPECT_EQ(envInt(kChunk, 1 << 20, "the transport's default"), 1 << 20);
  ::unsetenv(kChunk.name);
  EXPECT_EQ(envInt(kChunk, 1 << 20), 1 << 20);
  ASSERT_EQ(log.lines().size(), 2u);
  EXPECT_EQ(log.count("TCPXP_TEST_CHUNK=4M: out of range [4096, 4194303] (4M = 4194304); "
                      "using 1M"),
            1u);
  EXPECT_EQ(log.count("TCPXP_TEST_CHUNK=abc: not a number; using the transport's default"), 1u);
}

TEST(EnvWarnings, BooleansAndAuto) {
  LogCapture log;
  ::setenv(kFlag.name, "maybe", 1);
  EXPECT_TRUE(envBool(kFlag, true));
  EXPECT_TRUE(envBool(kFlag, true));
  ::setenv(kFlag.name, "off", 1);
  EXPECT_FALSE(envBool(kFlag, true));
  ::unsetenv(kFlag.name);
  ::setenv(kPin.name, "maybe", 1);
  EXPECT_EQ(envAutoBool(kPin), -1);
  EXPECT_EQ(envAutoBool(kPin), -1);
  ::setenv(kPin.name, "1", 1);
  EXPECT_EQ(envAutoBool(kPin), 1);
  ::unsetenv(kPin.name);
  EXPECT_EQ(envAutoBool(kPin), -1);
  ASSERT_EQ(log.lines().size(), 2u);
  EXPECT_EQ(log.count("TCPXP_TEST_FLAG=maybe: unknown value 'maybe' (accepted: 1, 0, true, false, "
                      "yes, no, on, off); using 1"),
            1u);
  EXPECT_EQ(log.count("TCPXP_TEST_PIN=maybe: unknown value 'maybe' (accepted: auto, 1, 0, true, "
                      "false, yes, no, on, off); using auto"),
            1u);
}

TEST(EnvWarnings, PlainNumbersRejectUnits) {
  // NCCL_* variables that TCPX reads too: it does not read "512K" as 512 KiB.
  LogCapture log;
  ::setenv("TCPXP_TEST_PLAIN", "512K", 1);
  EXPECT_EQ(envInt("TCPXP_TEST_PLAIN", 7, 0, kMax), 7);
  ::setenv("TCPXP_TEST_PLAIN", "0x80000", 1);
  EXPECT_EQ(envInt("TCPXP_TEST_PLAIN", 7, 0, kMax), 0x80000);
  ::unsetenv("TCPXP_TEST_PLAIN");
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_EQ(log.count("TCPXP_TEST_PLAIN=512K: unknown unit 'K' (a plain number, no unit); using 7"),
            1u);
}

TEST(EnvWarnings, PinThreadsMaybeWarnsOnce) {
  // It passed silently (as auto) before; the driver and every helper thread ask.
  LogCapture log;
  ::setenv("UCCL_TCPX_PIN_THREADS", "maybe", 1);
  const bool automatic = numaNodeCount() > 1;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pinningWanted(), automatic);
  ::setenv("UCCL_TCPX_PIN_THREADS", "off", 1);
  EXPECT_FALSE(pinningWanted());
  ::unsetenv("UCCL_TCPX_PIN_THREADS");
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_EQ(log.count("UCCL_TCPX_PIN_THREADS=maybe: unknown value 'maybe' (accepted: auto, 1, 0, "
                      "true, false, yes, no, on, off); using auto"),
            1u);
}

}  // namespace
}  // namespace tcpxp
