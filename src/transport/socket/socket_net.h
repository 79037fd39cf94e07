// The built-in socket transport's ncclNet v7 table (the same one plugin_export.cc exports).
#pragma once

#include "transport/abi/net_v7.h"
#include "transport/abi/net_vectored.h"

namespace tcpxp::transport::socket {

// The table's name: how the engine and the tools tell this transport from TCPX
// ("GPUDirectTCPX_v7"), also when it is loaded as a plugin library.
inline constexpr const char* kSocketNetName = "tcpx-p2p-socket";

const ncclNet_v7_t* socketNetTable();
// Its vectored requests (abi/net_vectored.h) once init() ran; null before, and with
// UCCL_SOCKET_IOV=0 (then the engine stages vectors as it does over TCPX).
const tcpxpNetVectored_v1_t* socketVectoredOps();

}  // namespace tcpxp::transport::socket
