// An in-memory ncclNet v7 transport for the Connection fuzzer: every comm lives in this process,
// so a handshake per input costs no sockets (the built-in transport's 4 TCP connections per
// handshake ran the machine out of ephemeral ports within a minute of fuzzing: bind() of a
// listen comm then failed with EADDRINUSE).
//
// Semantics, as TCP gives them to the socket transport: listen hands out a handle naming the
// listen comm; connect to a live one succeeds at once, to anything else fails; accept returns
// each connected comm once. A send completes once its bytes are copied into its pipe (at most
// kPipeBytes buffered, like a socket buffer; a larger message waits for an empty pipe); a recv
// completes with the oldest buffered message (a message larger than the recv fails it). A
// request whose other side closed fails. Closing a comm frees its requests.
// Thread-safe (one mutex): the driver thread and the scripted peer use it at once.
#pragma once

#include "common/status.h"
#include "transport/plugin_loader.h"

namespace tcpxp::fuzz {

inline constexpr const char* kMemNetName = "tcpx-p2p-memnet";
inline constexpr size_t kPipeBytes = size_t{8} << 20;

// The table, registered on the first call.
Status memNet(transport::NetPlugin** out);

}  // namespace tcpxp::fuzz
