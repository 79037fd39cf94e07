#include "engine/transport_select.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "common/env.h"
#include "common/log.h"

namespace tcpxp::engine {
namespace {

bool fileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Google's GPUDirect-TCPX table names itself "GPUDirectTCPX_v7" (the built-in transport,
// loaded as a library, is "tcpx-p2p-socket").
bool isGoogleTcpx(const std::string& table_name) {
  return table_name.rfind("GPUDirectTCPX", 0) == 0;
}

}  // namespace

std::string findTcpxPlugin(const EngineConfig& config) {
  if (!config.plugin_path.empty()) return config.plugin_path;
  if (fileExists(kDefaultTcpxPluginPath)) return kDefaultTcpxPluginPath;
  // Then libnccl-net.so on the library path (searched by hand: dlopen by name would load it).
  std::string dirs = envString("LD_LIBRARY_PATH", "");
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty() && fileExists(dir + "/libnccl-net.so")) return dir + "/libnccl-net.so";
    start = end + 1;
  }
  return "";
}

std::vector<std::string> applyTcpxEnvDefaults() {
  std::vector<std::string> set;
  auto setDefault = [&](const char* name, const char* value) {
    const char* cur = std::getenv(name);
    if (cur != nullptr && *cur != '\0') return;
    ::setenv(name, value, 0);
    set.push_back(std::string(name) + "=" + value);
  };
  // 0 hangs every transfer; 5 s of flow-steering wait at the end of every accept.
  setDefault("NCCL_DYNAMIC_CHUNK_SIZE", "524288");
  setDefault("NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS", "50000");
  setDefault("NCCL_SOCKET_NTHREADS", "1");
  setDefault("NCCL_NSOCKS_PERTHREAD", "4");
  int64_t threads = envInt("NCCL_SOCKET_NTHREADS", 1, 1, 64);
  int64_t socks = envInt("NCCL_NSOCKS_PERTHREAD", 4, 1, 64);
  if (threads * socks > 8) {
    LOG_WARN(
        "NCCL_SOCKET_NTHREADS x NCCL_NSOCKS_PERTHREAD = %lld > 8: TCPX allows at most 8 "
        "sockets per comm (left as set)",
        static_cast<long long>(threads * socks));
  }
  return set;
}

ProbeResult probeTcpxInChild(const std::string& path) {
  pid_t pid = ::fork();
  if (pid < 0) return {ProbeVerdict::kFailed, "fork for the TCPX probe failed"};
  if (pid == 0) {
    (void)applyTcpxEnvDefaults();  // the engine would run TCPX with them
    ::_exit(transport::probePluginChild(path));
  }
  // TCPX's init can take seconds (it talks to rxdm); bounded all the same.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return {ProbeVerdict::kFailed, "TCPX probe did not finish within 30 s"};
    }
    ::poll(nullptr, 0, 20);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {ProbeVerdict::kPassed, ""};
  if (WIFEXITED(status)) {
    return {ProbeVerdict::kFailed,
            "TCPX probe failed (exit " + std::to_string(WEXITSTATUS(status)) + ": " +
                transport::probeExitMeaning(WEXITSTATUS(status)) + "; run `tcpx-p2p doctor`)"};
  }
  return {ProbeVerdict::kFailed,
          "TCPX probe crashed (signal " + std::to_string(WTERMSIG(status)) + ")"};
}

Status selectTransport(const EngineConfig& config, transport::NetPlugin** out,
                       TransportDecision* decision) {
  static std::mutex mu;
  static bool decided = false;
  static TransportDecision chosen;
  std::lock_guard<std::mutex> lock(mu);
  if (!decided) {
    chosen = decideTransport(config, gatherTransportFacts(config, /*allow_probe=*/true));
    decided = true;
    if (chosen.kind == TransportKind::kTcpx) {
      for (const std::string& kv : applyTcpxEnvDefaults()) {
        LOG_INFO("TCPX: set %s (was unset)", kv.c_str());
      }
    }
    LOG_INFO("transport: %s (%s)", transport::transportKindName(chosen.kind),
             chosen.reason.c_str());
  }
  *decision = chosen;
  if (chosen.kind == TransportKind::kTcpx) {
    std::string path = chosen.plugin_path.empty() ? kDefaultTcpxPluginPath : chosen.plugin_path;
    // Forced TCPX without rxdm would fail only at the first accept, seconds later, as "internal
    // error"; say so now. Only Google's plugin needs rxdm (other v7 tables, tests' fakes, do not).
    if (isGoogleTcpx(transport::inspectPlugin(path).name)) {
      RxdmFacts rx = rxdmFacts();
      if (!rx.flow_steering) {
        return Status(Code::kNotFound, "UCCL_P2P_TRANSPORT=tcpx, but " + describeRxdmAbsence(rx) +
                                           "; TCPX's accept cannot work without it (start rxdm, "
                                           "or run `tcpx-p2p doctor`)");
      }
    }
    return transport::loadPlugin(path, out);
  }
  return transport::loadBuiltin(out);
}

}  // namespace tcpxp::engine
