// The tcpx-p2p subcommands. Each takes the whole argv (argv[1] is the subcommand's name), prints
// its own --help and errors, and returns the process exit code (kExitOk, kExitFailure,
// kExitUsage from args.h).
#pragma once

#include <string>

namespace tcpxp::cli {

int runDemo(int argc, char** argv);
int runBench(int argc, char** argv);
int runInfo(int argc, char** argv);
int runDoctor(int argc, char** argv);

// "tcpx-p2p 0.1.0 (commit d739bba1c2f3, CUDA on (13.0.88), RelWithDebInfo, GNU 12.2.0)"
// (version.cc).
std::string versionLine();

}  // namespace tcpxp::cli
