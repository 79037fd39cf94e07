// One transfer of one contiguous buffer on one connection, owned by the driver thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "transport/net.h"

namespace tcpxp::engine {

using Clock = std::chrono::steady_clock;
using XferId = uint64_t;
using MrId = uint64_t;
using ConnId = uint64_t;

class Connection;
struct Registration;

enum class XferKind : uint8_t {
  kSend,        // local send(): data to the peer's recv
  kRecv,        // local recv(): data from the peer's send
  kWrite,       // local write(): data into the peer's advertised buffer
  kRead,        // local read(): data from the peer's advertised buffer
  kServeWrite,  // passive side of a peer's write: receive into our advertised buffer
  kServeRead,   // passive side of a peer's read: send from our advertised buffer
};
const char* xferKindName(XferKind kind);

// Who started a transfer, as carried in Cts/Done/Nack (control_wire.h): the data sender or the
// data receiver. Ids are unique per (connection, initiator side).
inline bool dataFlowsOut(XferKind k) {
  return k == XferKind::kSend || k == XferKind::kWrite || k == XferKind::kServeRead;
}

struct Transfer {
  XferId id = 0;      // the initiator's id (ours for local kinds, the peer's for served)
  XferId api_id = 0;  // completion slot for the API; 0 for served transfers
  XferKind kind = XferKind::kSend;
  Connection* conn = nullptr;
  char* ptr = nullptr;  // local buffer
  size_t size = 0;      // bytes to move (recv: capacity until matched)
  Registration* reg = nullptr;
  transport::MemKind mem = transport::MemKind::kHost;
  size_t chunks = 0;       // pieces posted on channels
  size_t chunks_done = 0;  // pieces whose request completed (and, receiving, landed)
  bool peer_done = false;  // sender side: the receiver reported all data landed
  bool posted = false;     // chunks handed to channels
  bool inlined = false;    // the bytes went in a WriteInline/SendInline: Done or Nack ends it
  Clock::time_point last_progress{};
};

}  // namespace tcpxp::engine
