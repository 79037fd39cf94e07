#include "engine/transfer_table.h"

namespace tcpxp::engine {

const char* xferKindName(XferKind kind) {
  switch (kind) {
    case XferKind::kSend:
      return "send";
    case XferKind::kRecv:
      return "recv";
    case XferKind::kWrite:
      return "write";
    case XferKind::kRead:
      return "read";
    case XferKind::kServeWrite:
      return "served write";
    case XferKind::kServeRead:
      return "served read";
  }
  return "?";
}

const char* xferStateName(XferState state) {
  switch (state) {
    case XferState::kRequested:
      return "requested";
    case XferState::kInline:
      return "inline";
    case XferState::kMoving:
      return "moving";
    case XferState::kAwaitPeer:
      return "awaiting the peer";
    case XferState::kAwaitLocal:
      return "awaiting local pieces";
  }
  return "?";
}

std::unique_ptr<Transfer> TransferTable::make(XferId id, uint64_t api, XferKind kind, RegRef reg,
                                              char* ptr, size_t size) {
  auto x = std::make_unique<Transfer>();
  x->id = id;
  x->api_id = api;
  x->kind = kind;
  x->reg = std::move(reg);
  x->ptr = ptr;
  x->size = size;
  return x;
}

Transfer* TransferTable::addMine(uint64_t api, XferKind kind, RegRef reg, char* ptr, size_t size) {
  XferId id = next_id_++;
  return (mine_[id] = make(id, api, kind, std::move(reg), ptr, size)).get();
}

Transfer* TransferTable::addTheirs(std::unique_ptr<Transfer> x) {
  XferId id = x->id;
  return (theirs_[id] = std::move(x)).get();
}

void TransferTable::erase(Transfer* x) { (initiatedHere(x->kind) ? mine_ : theirs_).erase(x->id); }

}  // namespace tcpxp::engine
