// tcpx-p2p doctor's pieces: the report its checks fill, and the checks of the environment
// (doctor_env.cc: NCCL_* traps, TX/RX bindings, dmabuf). doctor.cc holds the command, the plugin,
// transport, GPU/NIC and rxdm checks, and the output.
#pragma once

#include <string>
#include <vector>

namespace tcpxp::cli::doctor {

enum class Level { kOk, kWarn, kFail };

struct Finding {
  Level level;
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
  bool anyFail() const {
    for (const Finding& f : findings_) {
      if (f.level == Level::kFail) return true;
    }
    return false;
  }
  const std::vector<Finding>& findings() const { return findings_; }

 private:
  void add(Level level, const std::string& check, const std::string& msg, const std::string& fix) {
    findings_.push_back(Finding{level, check, msg, fix});
  }
  std::vector<Finding> findings_;
};

const char* levelTag(Level l);
const char* levelName(Level l);

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

}  // namespace tcpxp::cli::doctor
