// Running this executable again as a child (the two local peers of `demo` and `bench --local`)
// and supervising the children with a deadline.
//
// A child is fork + exec of this binary, so it starts with a fresh CUDA context and engine
// (forking a process that has a CUDA context or a driver thread and continuing without exec is
// unsafe). It dies with its parent (PR_SET_PDEATHSIG). A child that must report something before
// the other starts (the server's "ip:port") writes one line to the pipe on fd kMetaFd, whose
// number the parent passes as `--meta-fd`.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace tcpxp::cli {

inline constexpr int kMetaFd = 3;

struct Child {
  std::string name;  // "server", "client": for messages
  pid_t pid = -1;
  bool exited = false;
  int exit_code = -1;     // 128 + signal when killed by one
  bool reported = false;  // its exit was already explained on stderr
};

// Starts this binary (readlink /proc/self/exe) with `args`. with_meta_pipe: the child's fd kMetaFd
// is the write end of a pipe whose read end is returned in *meta_read (the caller adds "--meta-fd
// 3" to args).
Status spawnSelf(const std::string& name, const std::vector<std::string>& args, bool with_meta_pipe,
                 Child* out, Fd* meta_read);

// Reads one '\n'-terminated line from `fd` within `seconds`. Fails early with the child's exit
// status when it ends (EOF) before writing the line.
Status readLine(int fd, Child& child, double seconds, std::string* line);

// Child side: writes `line` + '\n' to `fd` and closes it.
Status writeLine(int fd, const std::string& line);

// Waits until every child has exited. Once one fails, the others get `grace_s` seconds to end on
// their own, then SIGTERM, then SIGKILL. At the deadline, every child still running is killed.
// Returns kExitOk when all exited 0, else kExitFailure; explains each failure on stderr.
int superviseChildren(std::vector<Child>& children, double seconds, double grace_s);

// The two local peers of `demo` and `bench --local`: starts the server (`server_args` plus
// "--meta-fd 3"), reads the address it reports within `startup_s`, starts the client
// (`client_args` plus `peer_flag` ADDRESS) and supervises both for at most `total_s`.
// Returns kExitOk when both succeed, else kExitFailure (the reasons are on stderr).
int runLocalPair(const std::string& command, std::vector<std::string> server_args,
                 std::vector<std::string> client_args, const std::string& peer_flag,
                 double startup_s, double total_s);

}  // namespace tcpxp::cli
