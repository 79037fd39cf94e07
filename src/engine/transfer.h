// One transfer of one contiguous buffer on one connection, owned by the driver thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "datapath/data_path.h"

namespace tcpxp::engine {

using XferId = uint64_t;
using MrId = uint64_t;
using ConnId = uint64_t;

struct Registration;
// An owning handle: a registration lives while a transfer uses it (dereg then answers kBusy).
using RegRef = std::shared_ptr<Registration>;

enum class XferKind : uint8_t {
  kSend,        // local send(): data to the peer's recv
  kRecv,        // local recv(): data from the peer's send
  kWrite,       // local write(): data into the peer's advertised buffer
  kRead,        // local read(): data from the peer's advertised buffer
  kServeWrite,  // passive side of a peer's write: receive into our advertised buffer
  kServeRead,   // passive side of a peer's read: send from our advertised buffer
};
const char* xferKindName(XferKind kind);

// Where a transfer stands. Send, write and read end once their pieces are done here AND the
// peer's Done arrived, in either order; the other kinds end when their pieces are done.
//   kRequested -> kMoving -> (kAwaitPeer | kAwaitLocal) -> ended
//   kInline -> ended (Done, Nack, or ReadData)
enum class XferState : uint8_t {
  kRequested,   // asked the peer (Send/Write/Read, or our ReadOk): nothing posted yet
  kInline,      // the bytes went in a control frame: the peer's answer ends it
  kMoving,      // pieces handed to the channels
  kAwaitPeer,   // every piece done here, the peer's Done not yet seen
  kAwaitLocal,  // the peer's Done seen, pieces still finishing here
};
const char* xferStateName(XferState state);

// A read whose receives this side queued when it sent the Read (connection.h): its pieces wait
// on the channels, unposted, until the peer's ReadOk opens them; after the peer's Nack the
// channels skip them and the read ends with that refusal once the last is skipped.
enum class Gate : uint8_t { kOpen, kAwaitingOk, kRefused };

// Started by this side (the peer answers with Done): the rest are served or matched.
inline bool initiatedHere(XferKind k) {
  return k == XferKind::kSend || k == XferKind::kWrite || k == XferKind::kRead;
}

struct Transfer {
  XferId id = 0;      // the initiator's id (ours for local kinds, the peer's for served)
  XferId api_id = 0;  // completion slot for the API; 0 for served transfers
  XferKind kind = XferKind::kSend;
  XferState state = XferState::kRequested;
  RegRef reg;              // the registration holding ptr
  char* ptr = nullptr;     // local buffer
  size_t size = 0;         // bytes to move (recv: capacity until matched)
  size_t chunks = 0;       // pieces posted on channels
  size_t chunks_done = 0;  // pieces whose request completed (and, receiving, landed)
  // A vector (WriteVec/ReadVec, either side): the local buffers, moved as one stream of `size`
  // bytes (`ptr` is the first's); the registrations of the initiator's buffers besides `reg`;
  // the API parts (vector segments) its completion finishes.
  std::vector<datapath::IoSpan> spans;
  std::vector<RegRef> span_regs;
  int parts = 1;
  Gate gate = Gate::kOpen;
  Status refusal;  // gate kRefused: the peer's answer
};

}  // namespace tcpxp::engine
