// The tcpx-p2p subcommands. Each takes the whole argv (argv[1] is the subcommand's name), prints
// its own --help and errors, and returns the process exit code (kExitOk, kExitFailure,
// kExitUsage from args.h).
#pragma once

namespace tcpxp::cli {

int runDemo(int argc, char** argv);
int runBench(int argc, char** argv);
int runInfo(int argc, char** argv);
int runDoctor(int argc, char** argv);

}  // namespace tcpxp::cli
