#include "api/cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "common/quantity.h"
#include "engine/engine_config.h"
#include "engine/transport_select.h"

namespace tcpxp::cli {
namespace {

constexpr size_t kMaxListEntries = 64;

// The parser's bounds for a uint64_t range (sizes beyond 2^63 - 1 do not occur).
int64_t toSigned(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

void printLines(std::FILE* out, const char* text, const char* indent) {
  std::string_view rest(text);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    std::fprintf(out, "%s%.*s\n", line.empty() ? "" : indent, static_cast<int>(line.size()),
                 line.data());
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
}

}  // namespace

bool Args::parse(const Command& command, int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      fail("unexpected argument '" + arg + "' (flags start with --)");
      return false;
    }
    std::string name = arg;
    std::string value;
    bool inline_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : command.flags) {
      if (name == f.name) flag = &f;
    }
    if (flag == nullptr) {
      fail("unknown flag '" + name + "'");
      return false;
    }
    if (flag->value == nullptr) {
      if (inline_value) {
        fail(name + " takes no value (got '" + value + "')");
        return false;
      }
    } else if (!inline_value) {
      if (i + 1 >= argc) {
        fail(name + " needs a value (" + flag->value + ")");
        return false;
      }
      value = argv[++i];
    }
    values_.emplace_back(name, value);
  }
  return ok();
}

const std::string* Args::find(std::string_view name) const {
  for (auto it = values_.rbegin(); it != values_.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

bool Args::has(std::string_view name) const { return find(name) != nullptr; }

std::string Args::text(std::string_view name, const std::string& fallback) const {
  const std::string* v = find(name);
  return v ? *v : fallback;
}

void Args::fail(const std::string& message) {
  if (error_.empty()) error_ = message;
}

int64_t Args::integer(std::string_view name, int64_t fallback, int64_t min_value,
                      int64_t max_value) {
  const std::string* v = find(name);
  if (v == nullptr) return fallback;
  Parsed p = parseNumber(*v, min_value, max_value, Units::kNone);
  if (!p.ok()) {
    fail(std::string(name) + " " + *v + ": " + p.message);
    return fallback;
  }
  return p.value;
}

double Args::seconds(std::string_view name, double fallback, double min_value, double max_value) {
  const std::string* v = find(name);
  if (v == nullptr) return fallback;
  errno = 0;
  char* end = nullptr;
  double out = v->empty() ? NAN : std::strtod(v->c_str(), &end);
  if (v->empty() || errno != 0 || *end != '\0' || !std::isfinite(out)) {
    fail(std::string(name) + " " + *v + ": not a number of seconds");
    return fallback;
  }
  if (out < min_value || out > max_value) {
    char range[64];
    std::snprintf(range, sizeof(range), "[%g, %g]", min_value, max_value);
    fail(std::string(name) + " " + *v + ": out of range " + range + " s");
    return fallback;
  }
  return out;
}

uint64_t Args::bytes(std::string_view name, uint64_t fallback, uint64_t min_value,
                     uint64_t max_value) {
  const std::string* v = find(name);
  if (v == nullptr) return fallback;
  Parsed p = parseNumber(*v, toSigned(min_value), toSigned(max_value), Units::kBytes);
  if (!p.ok()) {
    fail(std::string(name) + " " + *v + ": " + p.message);
    return fallback;
  }
  return static_cast<uint64_t>(p.value);
}

std::vector<uint64_t> Args::byteList(std::string_view name, const std::vector<uint64_t>& fallback,
                                     uint64_t min_value, uint64_t max_value) {
  const std::string* v = find(name);
  if (v == nullptr) return fallback;
  std::vector<uint64_t> out;
  std::string_view rest(*v);
  for (;;) {
    size_t comma = rest.find(',');
    std::string item(rest.substr(0, comma));
    Parsed p = parseNumber(item, toSigned(min_value), toSigned(max_value), Units::kBytes);
    if (!p.ok()) {
      fail(std::string(name) + " " + *v + ": item '" + item + "': " + p.message);
      return fallback;
    }
    out.push_back(static_cast<uint64_t>(p.value));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.size() > kMaxListEntries) {
    fail(std::string(name) + ": at most " + std::to_string(kMaxListEntries) + " entries");
    return fallback;
  }
  return out;
}

int usageError(const Command& command, const std::string& message) {
  std::fprintf(stderr, "tcpx-p2p %s: %s\nRun 'tcpx-p2p %s --help' for the flags.\n", command.name,
               message.c_str(), command.name);
  return kExitUsage;
}

void printHelp(const Command& command, std::FILE* out) {
  std::fprintf(out, "Usage: tcpx-p2p %s\n\n", command.usage);
  printLines(out, command.summary, "");
  std::fprintf(out, "\nFlags:\n");
  for (const Flag& f : command.flags) {
    if (f.hidden) continue;
    std::string left = std::string(f.name) + (f.value ? std::string(" ") + f.value : "");
    std::string_view help(f.help);
    size_t nl = help.find('\n');
    if (left.size() > 22) {
      std::fprintf(out, "  %s\n", left.c_str());
      left.clear();
    }
    std::fprintf(out, "  %-22s %.*s\n", left.c_str(), static_cast<int>(help.substr(0, nl).size()),
                 help.data());
    if (nl != std::string_view::npos) printLines(out, f.help + nl + 1, "                         ");
  }
  std::fprintf(out, "  %-22s %s\n", "-h, --help", "Show this help and exit.");
  if (command.env_notes) {
    std::fprintf(out, "\nEnvironment:\n");
    printLines(out, command.env_notes, "  ");
  }
  if (command.examples) {
    std::fprintf(out, "\nExamples:\n");
    printLines(out, command.examples, "  ");
  }
  std::fprintf(out, "\nExit status: 0 success, 1 failure, 2 bad flags or values.\n%s\n",
               kHelpEnvLine);
}

void printEnvTable(std::FILE* out) {
  // A default too long for its column gets a line of its own; the meaning follows, indented.
  std::set<std::string_view> seen;
  auto row = [&](const char* name, const char* def, const char* doc) {
    if (!seen.insert(name).second) return;  // each variable once, whichever table has it
    std::string defs = def;
    std::string cont;
    if (defs.size() > 24) {
      cont = std::string(73, ' ') + doc;
      doc = "";
    }
    const char* cur = std::getenv(name);
    char buf[512];
    std::snprintf(buf, sizeof(buf), "  %-30s %-14s %-24s %s", name, cur ? cur : "(unset)", def,
                  doc);
    std::string line = buf;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(out, "%s\n", line.c_str());
    if (!cont.empty()) std::fprintf(out, "%s\n", cont.c_str());
  };
  std::fprintf(out, "  %-30s %-14s %-24s %s\n", "VARIABLE", "VALUE", "DEFAULT", "MEANING");
  for (const auto& k : engine::engineKnobs()) row(k.name, k.default_value, k.doc);
  for (const auto& k : engine::builtinTransportKnobs()) row(k.name, k.default_value, k.doc);
  // Read by the engine but in no knob table.
  row("NCCL_SOCKET_IFNAME", "(unset)", "used when UCCL_SOCKET_IFNAME is unset");
}

std::string formatBytes(uint64_t bytes) {
  struct Unit {
    uint64_t scale;
    const char* name;
  };
  static constexpr Unit kExact[] = {{uint64_t{1} << 30, "GiB"}, {1000000000, "GB"},
                                    {uint64_t{1} << 20, "MiB"}, {1000000, "MB"},
                                    {uint64_t{1} << 10, "KiB"}, {1000, "kB"}};
  for (const Unit& u : kExact) {
    if (bytes >= u.scale && bytes % u.scale == 0)
      return std::to_string(bytes / u.scale) + " " + u.name;
  }
  static constexpr Unit kApprox[] = {
      {uint64_t{1} << 30, "GiB"}, {uint64_t{1} << 20, "MiB"}, {uint64_t{1} << 10, "KiB"}};
  for (const Unit& u : kApprox) {
    if (bytes >= u.scale) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.2f %s", static_cast<double>(bytes) / u.scale, u.name);
      return buf;
    }
  }
  return std::to_string(bytes) + " B";
}

}  // namespace tcpxp::cli
