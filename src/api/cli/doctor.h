// tcpx-p2p doctor's pieces: the report its checks fill, the checks of the environment
// (doctor_env.cc: NCCL_* traps, TX/RX bindings, dmabuf) and of the built-in transport
// (doctor_builtin.cc). doctor.cc holds the command, the plugin, transport, GPU/NIC and rxdm
// checks, the verdict and the output.
#pragma once

#include <string>
#include <vector>

namespace tcpxp::cli::doctor {

enum class Level { kOk, kWarn, kFail };
// Which transport's readiness a finding bears on: TCPX, the built-in socket transport, or both
// (the engine's own variables).
enum class Scope { kTcpx, kBuiltin, kBoth };

struct Finding {
  Level level;
  Scope scope;
  std::string check;    // "plugin", "gpu", "env", ...
  std::string message;  // what was found
  std::string fix;      // what to do; "" for OK
};

class Report {
 public:
  void ok(const std::string& check, const std::string& msg) { add(Level::kOk, check, msg, ""); }
  void warn(const std::string& check, const std::string& msg, const std::string& fix) {
    add(Level::kWarn, check, msg, fix);
  }
  void fail(const std::string& check, const std::string& msg, const std::string& fix) {
    add(Level::kFail, check, msg, fix);
  }
  // The findings added from now on bear on `scope`.
  void setScope(Scope scope) { scope_ = scope; }
  // FAILs and WARNs bearing on one transport (its own and kBoth).
  int count(Level level, Scope transport) const {
    int n = 0;
    for (const Finding& f : findings_) {
      n += f.level == level && (f.scope == transport || f.scope == Scope::kBoth);
    }
    return n;
  }
  const std::vector<Finding>& findings() const { return findings_; }

 private:
  void add(Level level, const std::string& check, const std::string& msg, const std::string& fix) {
    findings_.push_back(Finding{level, scope_, check, msg, fix});
  }
  Scope scope_ = Scope::kTcpx;
  std::vector<Finding> findings_;
};

const char* levelTag(Level l);
const char* levelName(Level l);
const char* scopeName(Scope s);  // "tcpx" | "built-in" | "both"

// The environment variable's value, "" when unset; whether it is set and not empty.
std::string env(const char* name);
bool isSet(const char* name);
bool exists(const std::string& path);
// The first line of a file without trailing spaces, "" when unreadable.
std::string firstLine(const std::string& path);
std::vector<std::string> split(const std::string& s, char sep);
std::string trim(const std::string& s);

// Every set knob of the engine's and the built-in transport's tables against its syntax;
// NCCL_DYNAMIC_CHUNK_SIZE, flow-steering wait, sockets per comm, interfaces, TX/RX bindings.
void checkEnvironment(Report& r);
// Kernel dmabuf support (a hint only).
void checkDmabuf(Report& r);
// The built-in transport: its interfaces, then a self-test (two endpoints of this process
// connect and move 1 MiB both ways, every byte checked).
void checkBuiltin(Report& r);

}  // namespace tcpxp::cli::doctor
