// A peer process for two-process GPU tests: this same test binary, run with one gtest filter and
// an environment variable naming two pipe descriptors. A process that has touched CUDA must not
// fork() and use CUDA in the child; spawning a fresh binary is the safe way. Every read has a
// deadline; the peer is killed and reaped when the handle goes.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace tcpxp::testing {

// Blocking I/O of exactly n bytes on a pipe, with a deadline per call.
inline bool readExactly(int fd, void* buf, size_t n, int timeout_ms = 60000) {
  auto* p = static_cast<char*>(buf);
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (n > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    end - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t got = ::read(fd, p, n);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

inline bool writeExactly(int fd, const void* buf, size_t n) {
  const auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t put = ::write(fd, p, n);
    if (put <= 0) return false;
    p += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

// The pipes of this process when it is the peer (env `var` = "<read fd>,<write fd>"), else false.
inline bool peerPipes(const char* var, int* in, int* out) {
  const char* v = std::getenv(var);
  return v != nullptr && std::sscanf(v, "%d,%d", in, out) == 2;
}

class SelfPeer {
 public:
  // Runs this binary with --gtest_filter=`filter`, `var` set to its ends of two pipes.
  SelfPeer(const char* var, const std::string& filter) {
    int to_peer[2], from_peer[2];
    if (::pipe(to_peer) != 0 || ::pipe(from_peer) != 0) return;
    std::string env_entry =
        std::string(var) + "=" + std::to_string(to_peer[0]) + "," + std::to_string(from_peer[1]);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    env_strings.push_back(env_entry);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string self = "/proc/self/exe", flag = "--gtest_filter=" + filter;
    char* argv[] = {self.data(), flag.data(), nullptr};
    // Our ends must not leak into the peer (it would never see EOF).
    ::fcntl(to_peer[1], F_SETFD, FD_CLOEXEC);
    ::fcntl(from_peer[0], F_SETFD, FD_CLOEXEC);
    if (::posix_spawn(&pid_, self.c_str(), nullptr, nullptr, argv, envp.data()) != 0) pid_ = -1;
    ::close(to_peer[0]);
    ::close(from_peer[1]);
    out_ = to_peer[1];
    in_ = from_peer[0];
  }
  ~SelfPeer() {
    if (out_ >= 0) ::close(out_);
    if (in_ >= 0) ::close(in_);
    if (pid_ > 0) {
      // The peer ends by itself once its pipe closes; a stuck one is killed.
      for (int i = 0; i < 200 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) ::usleep(50000);
      if (::waitpid(pid_, nullptr, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
  }
  SelfPeer(const SelfPeer&) = delete;
  SelfPeer& operator=(const SelfPeer&) = delete;
  bool ok() const { return pid_ > 0; }
  int in() const { return in_; }
  int out() const { return out_; }
  // Waits for the peer to exit; its exit status (-1 if unknown).
  int join() {
    int status = 0;
    if (pid_ <= 0 || ::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
};

}  // namespace tcpxp::testing
