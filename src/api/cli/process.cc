#include "api/cli/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "api/cli/args.h"
#include "common/net_util.h"

namespace tcpxp::cli {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point after(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

int decodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

std::string describeExit(int code) {
  if (code > 128 && code < 160) {
    return "was killed by signal " + std::to_string(code - 128) + " (" + strsignal(code - 128) +
           ")";
  }
  return "exited with status " + std::to_string(code);
}

// Non-blocking reap; true once the child has exited.
bool reap(Child& c) {
  if (c.exited) return true;
  int status = 0;
  pid_t r = ::waitpid(c.pid, &status, WNOHANG);
  if (r == c.pid || (r < 0 && errno == ECHILD)) {
    c.exited = true;
    c.exit_code = r == c.pid ? decodeWaitStatus(status) : 255;
  }
  return c.exited;
}

// SIGTERM, up to one second to exit, then SIGKILL and a blocking reap.
void terminate(Child& c) {
  if (reap(c)) return;
  ::kill(c.pid, SIGTERM);
  auto until = after(1.0);
  while (Clock::now() < until) {
    if (reap(c)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(c.pid, SIGKILL);
  int status = 0;
  if (::waitpid(c.pid, &status, 0) == c.pid) c.exit_code = decodeWaitStatus(status);
  c.exited = true;
}

}  // namespace

Status spawnSelf(const std::string& name, const std::vector<std::string>& args, bool with_meta_pipe,
                 Child* out, Fd* meta_read) {
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (the parent may have an engine thread running).
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back("tcpx-p2p");
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  // Exec the binary by its real path, so the children show up as "tcpx-p2p" (not "exe") in ps;
  // /proc/self/exe when the link cannot be read.
  char self[4096];
  ssize_t len = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string exe = len > 0 ? std::string(self, static_cast<size_t>(len)) : "/proc/self/exe";
  if (exe.ends_with(" (deleted)")) exe = "/proc/self/exe";

  int fds[2] = {-1, -1};
  if (with_meta_pipe && ::pipe2(fds, O_CLOEXEC) != 0) {
    return Status(Code::kSystemError, "pipe: " + errnoText(errno));
  }
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);
  const pid_t parent = ::getpid();
  std::fflush(nullptr);  // no buffered output may be written twice
  pid_t pid = ::fork();
  if (pid < 0) return Status(Code::kSystemError, "fork: " + errnoText(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (with_meta_pipe) {
      if (write_end.get() == kMetaFd) {
        ::fcntl(kMetaFd, F_SETFD, 0);
      } else if (::dup2(write_end.get(), kMetaFd) < 0) {
        ::_exit(127);
      }
    }
    ::execv(exe.c_str(), argv.data());
    static const char kMsg[] = "tcpx-p2p: cannot exec itself\n";
    ssize_t ignored = ::write(2, kMsg, sizeof(kMsg) - 1);
    (void)ignored;
    ::_exit(127);
  }
  out->name = name;
  out->pid = pid;
  out->exited = false;
  out->exit_code = -1;
  if (meta_read) *meta_read = std::move(read_end);
  return Status::ok();
}

Status readLine(int fd, Child& child, double seconds, std::string* line) {
  auto deadline = after(seconds);
  std::string got;
  for (;;) {
    size_t nl = got.find('\n');
    if (nl != std::string::npos) {
      *line = got.substr(0, nl);
      return Status::ok();
    }
    auto now = Clock::now();
    if (now >= deadline) {
      return Status(Code::kTimeout, "the " + child.name + " reported nothing within " +
                                        std::to_string(static_cast<int>(seconds)) + " s");
    }
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, std::min(wait_ms + 1, 100));
    if (r < 0 && errno != EINTR) return Status(Code::kSystemError, "poll: " + errnoText(errno));
    if (r <= 0) continue;
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // The child closed the pipe without a line: it is exiting; give it a moment to be reaped.
      auto until = after(2.0);
      while (!reap(child) && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      child.reported = child.exited;
      return Status(Code::kPeerClosed,
                    "the " + child.name + " " +
                        (child.exited ? describeExit(child.exit_code) : "closed its pipe") +
                        " before reporting its address");
    }
    got.append(buf, static_cast<size_t>(n));
    if (got.size() > 4096)
      return Status(Code::kProtocolError, "the " + child.name + " wrote an overlong line");
  }
}

Status writeLine(int fd, const std::string& line) {
  Fd owned(fd);
  std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Status(Code::kSystemError,
                    "write to fd " + std::to_string(fd) + ": " + errnoText(errno));
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

int superviseChildren(std::vector<Child>& children, double seconds, double grace_s) {
  auto deadline = after(seconds);
  bool failed = false;
  Clock::time_point grace_end = Clock::time_point::max();
  for (;;) {
    bool all_done = true;
    for (Child& c : children) {
      if (!reap(c)) {
        all_done = false;
        continue;
      }
      if (c.exit_code != 0 && !failed) {
        failed = true;
        grace_end = after(grace_s);
      }
    }
    if (all_done) break;
    auto now = Clock::now();
    if (now >= deadline || now >= grace_end) {
      for (Child& c : children) {
        if (c.exited) continue;
        std::fprintf(stderr, "tcpx-p2p: the %s is still running %s; stopping it\n", c.name.c_str(),
                     now >= deadline
                         ? ("after " + std::to_string(static_cast<int>(seconds)) + " s").c_str()
                         : "after its peer failed");
        terminate(c);
      }
      failed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const Child& c : children) {
    if (c.exit_code != 0 && !c.reported) {
      std::fprintf(stderr, "tcpx-p2p: the %s (pid %d) %s\n", c.name.c_str(),
                   static_cast<int>(c.pid), describeExit(c.exit_code).c_str());
    }
  }
  return failed ? kExitFailure : kExitOk;
}

int runLocalPair(const std::string& command, std::vector<std::string> server_args,
                 std::vector<std::string> client_args, const std::string& peer_flag,
                 double startup_s, double total_s) {
  std::vector<Child> children(1);
  Fd meta;
  server_args.insert(server_args.end(), {"--meta-fd", std::to_string(kMetaFd)});
  Status st = spawnSelf("server", server_args, /*with_meta_pipe=*/true, &children[0], &meta);
  if (!st.isOk()) {
    std::fprintf(stderr, "tcpx-p2p %s: %s\n", command.c_str(), st.toString().c_str());
    return kExitFailure;
  }
  std::string address;
  st = readLine(meta.get(), children[0], startup_s, &address);
  if (st.isOk()) {
    children.emplace_back();
    client_args.insert(client_args.end(), {peer_flag, address});
    st = spawnSelf("client", client_args, /*with_meta_pipe=*/false, &children[1], nullptr);
    if (!st.isOk()) children.pop_back();
  }
  if (!st.isOk()) {
    std::fprintf(stderr, "tcpx-p2p %s: %s\n", command.c_str(), st.message().c_str());
    (void)superviseChildren(children, 0, 0);
    return kExitFailure;
  }
  return superviseChildren(children, total_s, 5.0);
}

}  // namespace tcpxp::cli
