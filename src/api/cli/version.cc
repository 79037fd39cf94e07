// tcpx-p2p --version: the version and the facts of this build, on one line.
#include <cstdio>
#include <string>

#include "api/cli/commands.h"
#include "tcpxp_build_info.h"  // generated at build time (cmake/build_info.cmake)

namespace tcpxp::cli {

std::string versionLine() {
  return std::string("tcpx-p2p ") + TCPXP_VERSION + " (commit " + TCPXP_GIT_COMMIT + ", " +
         TCPXP_BUILD_FACTS + ")";
}

}  // namespace tcpxp::cli
