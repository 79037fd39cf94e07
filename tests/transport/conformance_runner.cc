// main() of the conformance binaries: every test runs in its own child process (this binary
// again, with --conformance-child --gtest_filter=TEST), so a plugin under test that aborts,
// segfaults or calls exit() in one test (TCPX does all three on misuse, docs/TCPX.md) cannot hide
// the results of the others. A crashed test is reported as failed with its signal or exit code;
// a test that gives no result within --test-timeout=SECONDS (default 300) is killed and failed.
//
// Flags (consumed here, the rest go to GoogleTest): --in-process runs every test in this process
// (debuggers); --gtest_list_tests and --help run in-process. --gtest_filter selects the tests as
// usual; --gtest_output, --gtest_brief, --gtest_repeat and --gtest_shuffle are not passed on to
// the children (each child runs one test once and its text is read here).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr const char* kChildFlag = "--conformance-child";

bool startsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

void out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

std::string signalName(int sig) {
  const char* abbrev = nullptr;
  switch (sig) {
    case SIGABRT:
      abbrev = "SIGABRT";
      break;
    case SIGSEGV:
      abbrev = "SIGSEGV";
      break;
    case SIGBUS:
      abbrev = "SIGBUS";
      break;
    case SIGFPE:
      abbrev = "SIGFPE";
      break;
    case SIGILL:
      abbrev = "SIGILL";
      break;
    case SIGKILL:
      abbrev = "SIGKILL";
      break;
    case SIGTERM:
      abbrev = "SIGTERM";
      break;
    case SIGTRAP:
      abbrev = "SIGTRAP";
      break;
    default:
      break;
  }
  std::string name = "signal " + std::to_string(sig);
  if (abbrev) name += std::string(" (") + abbrev + ", " + ::strsignal(sig) + ")";
  return name;
}

struct ChildResult {
  bool started = false;
  bool timed_out = false;
  int status = 0;  // waitpid's
  std::string output;
};

// Runs `args` (args[0]: the binary) with stdout and stderr into one pipe; echoes what it writes
// when `echo`. Killed after `timeout_s` seconds.
ChildResult runChild(const std::vector<std::string>& args, bool echo, int timeout_s) {
  ChildResult r;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    out(std::string("conformance runner: pipe: ") + std::strerror(errno) + "\n");
    return r;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    out(std::string("conformance runner: fork: ") + std::strerror(errno) + "\n");
    ::close(fds[0]);
    ::close(fds[1]);
    return r;
  }
  if (pid == 0) {
    // The child dies with the runner (ctest's timeout kills only the runner).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  r.started = true;
  ::close(fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0 && !r.timed_out) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);  // its end of the pipe closes with it
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, r.timed_out ? -1 : static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t got = ::read(fds[0], buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    r.output.append(buf, static_cast<size_t>(got));
    if (echo) {
      std::fwrite(buf, 1, static_cast<size_t>(got), stdout);
      std::fflush(stdout);
    }
  }
  ::close(fds[0]);
  while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  return r;
}

// "Suite.\n  Test\n" lines of --gtest_list_tests (comments after '#' dropped) as Suite.Test.
std::vector<std::string> parseList(const std::string& text) {
  std::vector<std::string> names;
  std::string suite;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    if (line[0] != ' ') {
      suite = line;  // "Suite." (the dot included)
    } else if (!suite.empty()) {
      names.push_back(suite + line.substr(line.find_first_not_of(' ')));
    }
  }
  return names;
}

// What became of one test, from its child's exit and text.
std::string verdict(const ChildResult& r, const std::string& name, int timeout_s, bool* passed,
                    bool* skipped) {
  *passed = *skipped = false;
  if (!r.started) return "could not be started";
  if (r.timed_out) return "no result after " + std::to_string(timeout_s) + " s (killed)";
  if (WIFSIGNALED(r.status)) return "crashed: killed by " + signalName(WTERMSIG(r.status));
  int code = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
  if (code != 0) {
    bool reported = r.output.find("[  FAILED  ] " + name) != std::string::npos;
    return reported
               ? "failed"
               : "crashed: exited with code " + std::to_string(code) + " before the test finished";
  }
  if (r.output.find("[  SKIPPED ] " + name) != std::string::npos) {
    *skipped = true;
    return "skipped";
  }
  if (r.output.find("[       OK ] " + name) != std::string::npos) {
    *passed = true;
    return "passed";
  }
  return "crashed: exited with code 0 before the test finished";
}

int runIsolated(const std::vector<std::string>& gtest_args, int timeout_s) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    out(std::string("conformance runner: readlink /proc/self/exe: ") + std::strerror(errno) + "\n");
    return 1;
  }
  self[n] = '\0';
  std::vector<std::string> list_args = {self, kChildFlag, "--gtest_list_tests"};
  std::vector<std::string> pass;  // flags passed on to every test's child
  for (const std::string& a : gtest_args) {
    if (startsWith(a, "--gtest_filter")) {
      list_args.push_back(a);
    } else if (!startsWith(a, "--gtest_output") && !startsWith(a, "--gtest_brief") &&
               !startsWith(a, "--gtest_repeat") && !startsWith(a, "--gtest_shuffle") &&
               !startsWith(a, "--gtest_color")) {
      pass.push_back(a);
      if (startsWith(a, "--gtest_also_run_disabled_tests")) list_args.push_back(a);
    }
  }
  ChildResult listed = runChild(list_args, /*echo=*/false, timeout_s);
  if (!listed.started || listed.timed_out || !WIFEXITED(listed.status) ||
      WEXITSTATUS(listed.status) != 0) {
    out("conformance runner: listing the tests failed:\n" + listed.output);
    return 1;
  }
  std::vector<std::string> names = parseList(listed.output);
  out("[==========] " + std::to_string(names.size()) +
      " tests, each in its own process (--in-process to run them in this one)\n");
  std::vector<std::string> failures;
  int passed_count = 0, skipped_count = 0;
  for (const std::string& name : names) {
    std::vector<std::string> args = {self, kChildFlag, "--gtest_filter=" + name,
                                     "--gtest_color=no"};
    args.insert(args.end(), pass.begin(), pass.end());
    ChildResult r = runChild(args, /*echo=*/true, timeout_s);
    bool passed = false, skipped = false;
    std::string what = verdict(r, name, timeout_s, &passed, &skipped);
    if (passed) {
      ++passed_count;
    } else if (skipped) {
      ++skipped_count;
    } else {
      failures.push_back(name + ": " + what);
      if (what != "failed") out("[ CRASHED  ] " + name + ": " + what + "\n");
    }
  }
  out("[==========] " + std::to_string(names.size()) +
      " tests ran, each in its own process: " + std::to_string(passed_count) + " passed, " +
      std::to_string(skipped_count) + " skipped, " + std::to_string(failures.size()) + " failed\n");
  for (const std::string& f : failures) out("[  FAILED  ] " + f + "\n");
  return failures.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool in_process = false;
  int timeout_s = 300;
  std::vector<char*> gtest_argv = {argv[0]};
  std::vector<std::string> gtest_args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == kChildFlag || a == "--in-process") {
      in_process = true;
      continue;
    }
    if (startsWith(a, "--test-timeout=")) {
      timeout_s = std::atoi(a.c_str() + std::strlen("--test-timeout="));
      if (timeout_s <= 0) {
        std::fprintf(stderr, "%s: --test-timeout wants a positive number of seconds\n", argv[0]);
        return 2;
      }
      continue;
    }
    if (startsWith(a, "--gtest_list_tests") || a == "--help" || a == "-h" || a == "-?" ||
        startsWith(a, "--gtest_help")) {
      in_process = true;
    }
    gtest_argv.push_back(argv[i]);
    gtest_args.push_back(a);
  }
  if (!in_process) return runIsolated(gtest_args, timeout_s);
  int gtest_argc = static_cast<int>(gtest_argv.size());
  gtest_argv.push_back(nullptr);
  ::testing::InitGoogleTest(&gtest_argc, gtest_argv.data());
  return RUN_ALL_TESTS();
}
