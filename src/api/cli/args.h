// Command-line parsing of the tcpx-p2p subcommands: a flag table per command (name, value, help),
// one parser, typed getters that collect the first error, and the generated --help text.
//
// Flags are `--name VALUE` or `--name=VALUE`; switches take no value. A flag given twice keeps the
// last value. Exit codes of the whole tool: kExitOk, kExitFailure (the work failed), kExitUsage
// (bad flags or values; nothing was started).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace tcpxp::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Flag {
  const char* name;     // "--iters"
  const char* value;    // "N" for a flag with a value; nullptr for a switch
  const char* help;     // may hold '\n' for more lines
  bool hidden = false;  // internal (parent -> child); not in --help
};

struct Command {
  const char* name;     // "bench"
  const char* usage;    // the synopsis after "tcpx-p2p "
  const char* summary;  // what it does, a paragraph
  std::vector<Flag> flags;
  const char* env_notes;  // the environment variables that matter most, or nullptr
  const char* examples;   // or nullptr
};

// The parsed flags of one command. Getters validate and remember the first error, so a command
// reads every flag and then checks ok() once.
class Args {
 public:
  // Parses argv[first..argc). Returns false on an unknown flag or a missing value (error()
  // says which). --help / -h anywhere sets helpRequested().
  bool parse(const Command& command, int argc, char** argv, int first);

  bool helpRequested() const { return help_; }
  bool has(std::string_view name) const;
  // Numbers and sizes are read by common/quantity.h, as the environment's are: "--iters 0: out
  // of range [1, 1000000]", "--sizes 4K,4X: item '4X': unknown unit 'X' (accepted: ...)".
  std::string text(std::string_view name, const std::string& fallback) const;
  int64_t integer(std::string_view name, int64_t fallback, int64_t min_value, int64_t max_value);
  double seconds(std::string_view name, double fallback, double min_value, double max_value);
  uint64_t bytes(std::string_view name, uint64_t fallback, uint64_t min_value, uint64_t max_value);
  std::vector<uint64_t> byteList(std::string_view name, const std::vector<uint64_t>& fallback,
                                 uint64_t min_value, uint64_t max_value);
  // Records a usage error found by the command itself (e.g. conflicting flags).
  void fail(const std::string& message);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  const std::string* find(std::string_view name) const;

  std::vector<std::pair<std::string, std::string>> values_;  // in command-line order
  bool help_ = false;
  std::string error_;
};

// "tcpx-p2p bench: <message>\nRun 'tcpx-p2p bench --help' for the flags." on stderr; returns
// kExitUsage.
int usageError(const Command& command, const std::string& message);
void printHelp(const Command& command, std::FILE* out);
// Every variable the engine and the built-in transport read, each once: its value in this process,
// its default and meaning (the knob tables). `tcpx-p2p --help-env`, `info --env` and `info`.
void printEnvTable(std::FILE* out);
// The last line of every --help page: the variables live on their own page, not in each --help.
inline constexpr const char* kHelpEnvLine =
    "Environment variables (value here, default, meaning): tcpx-p2p --help-env";

// "256 B", "4 KiB", "10 MB", "16 MiB", "1.5 MiB" (exact units first, binary before decimal).
std::string formatBytes(uint64_t bytes);

}  // namespace tcpxp::cli
