#include "engine/transport_select.h"

#include <dirent.h>
#include <dlfcn.h>
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
#include "engine/memory_info.h"

namespace tcpxp::engine {
namespace {

bool fileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool hasUnixSocket(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    struct stat st {};
    std::string path = dir + "/" + e->d_name;
    if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// Runs the plugin's init + devices in a child process: TCPX's init calls exit() without a GPU
// driver or rxdm, which must not take the application down. 0 = usable.
bool probeInChild(const std::string& path, std::string* why) {
  pid_t pid = ::fork();
  if (pid < 0) {
    *why = "fork for the TCPX probe failed";
    return false;
  }
  if (pid == 0) {
    void* dl = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dl) ::_exit(3);
    auto* table = static_cast<const ncclNet_v7_t*>(::dlsym(dl, "ncclNetPlugin_v7"));
    if (!table || !table->init || !table->devices) ::_exit(4);
    if (table->init(nullptr) != ncclSuccess) ::_exit(5);
    int n = 0;
    if (table->devices(&n) != ncclSuccess || n < 1) ::_exit(6);
    ::_exit(0);
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
      *why = "TCPX probe did not finish within 30 s";
      return false;
    }
    ::poll(nullptr, 0, 20);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *why = WIFEXITED(status) ? "TCPX probe failed (exit " + std::to_string(WEXITSTATUS(status)) +
                                 "; run `tcpx-p2p doctor`)"
                           : "TCPX probe crashed (signal " + std::to_string(WTERMSIG(status)) + ")";
  return false;
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

Status selectTransport(const EngineConfig& config, transport::NetPlugin** out, std::string* why) {
  static std::mutex mu;
  static bool decided = false;
  static bool use_tcpx = false;
  static std::string reason;
  std::lock_guard<std::mutex> lock(mu);
  if (!decided) {
    std::string path = findTcpxPlugin(config);
    std::vector<std::string> defaults;
    if (config.transport == "tcp") {
      reason = "UCCL_P2P_TRANSPORT=tcp";
    } else if (config.transport == "tcpx") {
      use_tcpx = true;
      reason = "UCCL_P2P_TRANSPORT=tcpx";
    } else if (path.empty()) {
      reason = "no TCPX plugin found (UCCL_TCPX_PLUGIN_PATH unset, /usr/local/tcpx/lib64 empty)";
    } else if (gpuCount() == 0) {
      reason = "TCPX plugin at " + path + " but no GPU driver (its init would exit the process)";
    } else if (!hasUnixSocket(envString("NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX", "/tmp"))) {
      reason = "TCPX plugin at " + path + " but no rxdm socket under " +
               envString("NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX", "/tmp") +
               " (set NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX, GCP: /run/tcpx)";
    } else {
      defaults = applyTcpxEnvDefaults();  // the probe must run with them too
      std::string probe_why;
      use_tcpx = probeInChild(path, &probe_why);
      reason = use_tcpx ? "TCPX plugin " + path + " passed its probe"
                        : probe_why + "; using the built-in transport";
    }
    decided = true;
    if (use_tcpx) {
      for (const std::string& kv : applyTcpxEnvDefaults()) defaults.push_back(kv);
      for (const std::string& kv : defaults) LOG_INFO("TCPX: set %s (was unset)", kv.c_str());
    }
    LOG_INFO("transport: %s (%s)", use_tcpx ? "tcpx" : "built-in socket", reason.c_str());
  }
  *why = reason;
  if (use_tcpx) {
    std::string path = findTcpxPlugin(config);
    if (path.empty()) path = kDefaultTcpxPluginPath;
    return transport::NetPlugin::load(path, out);
  }
  return transport::NetPlugin::builtinSocket(out);
}

}  // namespace tcpxp::engine
