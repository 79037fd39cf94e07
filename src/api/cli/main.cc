// tcpx-p2p: the command-line tool (demo, bench, info, doctor). One subcommand per file; this file
// only dispatches and prints the top-level help.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "api/cli/args.h"
#include "api/cli/commands.h"

namespace {

void printUsage(std::FILE* out) {
  std::fprintf(
      out,
      "Usage: tcpx-p2p COMMAND [flags]\n"
      "       tcpx-p2p --version | --help-env | --help\n\n"
      "P2P transfers of GPU and host memory over GPUDirect-TCPX or plain TCP (the UCCL P2P engine "
      "API).\n\n"
      "Commands:\n"
      "  demo    KV-cache transfer between two local processes, every byte verified\n"
      "  bench   bandwidth and latency of send/recv, write and read (local, or server + client)\n"
      "  info    GPUs, NICs, GPU -> NIC mapping, the transport that would be used, environment\n"
      "  doctor  is this machine ready for TCPX? [OK]/[WARN]/[FAIL] findings with the fix\n\n"
      "Options:\n"
      "  -V, --version   the version and the build's facts (commit, CUDA), on one line\n"
      "  --help-env      every environment variable: its value here, default and meaning\n"
      "  -h, --help      this help\n\n"
      "Run 'tcpx-p2p COMMAND --help' for a command's flags.\n"
      "Exit status: 0 success, 1 failure, 2 bad flags or values.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that vanishes must surface as an error from write(), never kill the process.
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    printUsage(stderr);
    return tcpxp::cli::kExitUsage;
  }
  std::string command = argv[1];
  if (command == "demo") return tcpxp::cli::runDemo(argc, argv);
  if (command == "bench") return tcpxp::cli::runBench(argc, argv);
  if (command == "info") return tcpxp::cli::runInfo(argc, argv);
  if (command == "doctor") return tcpxp::cli::runDoctor(argc, argv);
  if (command == "-h" || command == "--help" || command == "help") {
    printUsage(stdout);
    return tcpxp::cli::kExitOk;
  }
  if (command == "-V" || command == "--version") {
    std::printf("%s\n", tcpxp::cli::versionLine().c_str());
    return tcpxp::cli::kExitOk;
  }
  if (command == "--help-env") {
    tcpxp::cli::printEnvTable(stdout);
    return tcpxp::cli::kExitOk;
  }
  std::fprintf(stderr, "tcpx-p2p: unknown command '%s'\n\n", command.c_str());
  printUsage(stderr);
  return tcpxp::cli::kExitUsage;
}
