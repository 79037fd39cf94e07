// The transfers of a connection: the API operations, the control frames that drive them,
// matching sends with recvs, handing pieces to channels, and completion (connection.h has the
// ordering rule and the frame sequences).
#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "engine/connection.h"

namespace tcpxp::engine {
namespace {

// Inline sends the peer may hold unmatched (it buffers their bytes until a recv() is posted):
// at most this many are unanswered at once; more take the channel path.
constexpr size_t kMaxInlineSends = 64;

template <typename Msg, typename Handler>
Status decodeThen(const uint8_t* p, size_t n, Handler&& handler) {
  Msg m;
  TCPXP_RETURN_IF_ERROR(control::decode(p, n, &m));
  return handler(m);
}

datapath::Piece pieceOf(Registration& reg, char* ptr, size_t len, bool receiving) {
  datapath::Piece p;
  p.user = ptr;
  p.len = static_cast<uint32_t>(len);
  p.receiving = receiving;
  p.on_gpu = reg.on_gpu();
  p.user_region = &reg.net;
  return p;
}

}  // namespace

// ---- inline bytes ---------------------------------------------------------------------------

Status Connection::inlineBytes(Registration& reg, char* src, size_t n,
                               std::span<const uint8_t>* out) {
  datapath::DataPath* path = nullptr;
  TCPXP_RETURN_IF_ERROR(paths_->forBuffer({.size = n, .inline_allowed = true}, reg.device, &path));
  datapath::Piece piece = pieceOf(reg, src, n, /*receiving=*/false);
  bool ready = false;
  TCPXP_RETURN_IF_ERROR(path->prepare(piece, &ready));
  *out = {reinterpret_cast<const uint8_t*>(path->buffer(piece).data), n};
  return Status::ok();
}

Status Connection::landInline(Registration& reg, char* dst, std::span<const uint8_t> data) {
  datapath::DataPath* path = nullptr;
  TCPXP_RETURN_IF_ERROR(paths_->forBuffer(
      {.receiving = true, .size = data.size(), .inline_allowed = true}, reg.device, &path));
  datapath::Piece piece = pieceOf(reg, dst, data.size(), /*receiving=*/true);
  bool ready = false;
  TCPXP_RETURN_IF_ERROR(path->prepare(piece, &ready));
  if (!data.empty()) std::memcpy(path->buffer(piece).data, data.data(), data.size());
  TCPXP_RETURN_IF_ERROR(path->startLanding(piece));
  bool landed = false;
  TCPXP_RETURN_IF_ERROR(path->landed(piece, &landed));
  path->release(piece);
  return Status::ok();
}

// ---- API operations -------------------------------------------------------------------------

Status Connection::send(uint64_t api, RegRef reg, char* ptr, size_t size) {
  if (inlined(size) && inline_sends_ < kMaxInlineSends) {
    std::span<const uint8_t> data;
    TCPXP_RETURN_IF_ERROR(inlineBytes(*reg, ptr, size, &data));
    Transfer* x = table_.addMine(api, XferKind::kSend, std::move(reg), ptr, size);
    x->state = XferState::kInline;  // no pieces: done once the peer's Done arrives
    ++inline_sends_;
    ctrl_.send(control::SendInline{x->id, data});
    return Status::ok();
  }
  Transfer* x = table_.addMine(api, XferKind::kSend, std::move(reg), ptr, size);
  ctrl_.send(control::Send{x->id, size});
  return Status::ok();
}

Status Connection::recv(uint64_t api, RegRef reg, char* ptr, size_t size) {
  // Its id becomes the matching Send's once one arrives (matchRecvs()).
  table_.posted_recvs.push_back(
      TransferTable::make(0, api, XferKind::kRecv, std::move(reg), ptr, size));
  return matchRecvs();
}

Status Connection::write(uint64_t api, RegRef reg, char* ptr, size_t size, uint64_t remote_addr,
                         control::AccessToken token, uint32_t remote_mr) {
  if (inlined(size)) {
    std::span<const uint8_t> data;
    TCPXP_RETURN_IF_ERROR(inlineBytes(*reg, ptr, size, &data));
    Transfer* x = table_.addMine(api, XferKind::kWrite, std::move(reg), ptr, size);
    x->state = XferState::kInline;
    ctrl_.send(control::WriteInline{x->id, remote_addr, token, remote_mr, data});
    return Status::ok();
  }
  Transfer* x = table_.addMine(api, XferKind::kWrite, std::move(reg), ptr, size);
  ctrl_.send(control::Write{x->id, remote_addr, size, token, remote_mr});
  return Status::ok();
}

Status Connection::read(uint64_t api, RegRef reg, char* ptr, size_t size, uint64_t remote_addr,
                        control::AccessToken token, uint32_t remote_mr) {
  Transfer* x = table_.addMine(api, XferKind::kRead, std::move(reg), ptr, size);
  uint16_t first = control::kNoChannel;
  // A read the peer may answer inline (ReadData) queues nothing.
  if (size > 0 && !inlined(size)) TCPXP_RETURN_IF_ERROR(queueRead(x, &first));
  ctrl_.send(control::Read{x->id, remote_addr, size, token, remote_mr, first});
  return Status::ok();
}

Status Connection::queueRead(Transfer* x, uint16_t* first) {
  size_t channel = pickFirstChannel(chunkCount(x->size));
  x->gate = Gate::kAwaitingOk;
  Status st = postPieces(x, /*receiving=*/true, channel);
  if (!st.isOk()) {
    table_.erase(x);  // nothing was queued: no path for its memory
    return st;
  }
  *first = static_cast<uint16_t>(channel);
  return Status::ok();
}

namespace {
size_t spanBytes(const std::vector<datapath::IoSpan>& spans) {
  size_t total = 0;
  for (const datapath::IoSpan& s : spans) total += s.len;
  return total;
}
}  // namespace

Transfer* Connection::addVector(uint64_t api, XferKind kind, int parts, std::vector<RegRef> regs,
                                std::vector<datapath::IoSpan> local) {
  Transfer* x = table_.addMine(api, kind, regs.front(), local.front().ptr, spanBytes(local));
  x->spans = std::move(local);
  x->span_regs = std::move(regs);
  x->parts = parts;
  return x;
}

Status Connection::writeVec(uint64_t api, int parts, std::vector<RegRef> regs,
                            std::vector<datapath::IoSpan> local,
                            std::vector<control::VecPiece> remote) {
  control::WriteVec m{0, std::move(remote)};
  TCPXP_RETURN_IF_ERROR(control::validate(m));
  m.xfer_id = addVector(api, XferKind::kWrite, parts, std::move(regs), std::move(local))->id;
  ctrl_.send(m);
  return Status::ok();
}

Status Connection::readVec(uint64_t api, int parts, std::vector<RegRef> regs,
                           std::vector<datapath::IoSpan> local,
                           std::vector<control::VecPiece> remote) {
  control::ReadVec m{0, std::move(remote)};
  TCPXP_RETURN_IF_ERROR(control::validate(m));
  Transfer* x = addVector(api, XferKind::kRead, parts, std::move(regs), std::move(local));
  m.xfer_id = x->id;
  TCPXP_RETURN_IF_ERROR(queueRead(x, &m.first_channel));
  ctrl_.send(m);
  return Status::ok();
}

Status Connection::notify(const std::string& name, const std::string& msg) {
  control::Notify n{name, msg};
  TCPXP_RETURN_IF_ERROR(control::validate(n));
  ctrl_.send(n);
  return Status::ok();
}

// ---- pieces ---------------------------------------------------------------------------------

Status Connection::postPieces(Transfer* x, bool receiving, size_t first) {
  datapath::DataPath* path = nullptr;
  bool vector = !x->spans.empty();
  TCPXP_RETURN_IF_ERROR(
      paths_->forBuffer({.gpu_memory = x->reg->kind() == transport::MemKind::kCuda,
                         .receiving = receiving,
                         .size = x->size,
                         .vector = vector},
                        x->reg->device, &path));
  x->chunks = chunkCount(x->size);
  x->state = XferState::kMoving;
  uint32_t span = 0;  // vector: where the next chunk starts in x->spans
  size_t skip = 0;
  for (size_t i = 0; i < x->chunks; ++i) {
    size_t off = i * chunk_bytes_;
    size_t len = std::min(chunk_bytes_, x->size - off);
    ChunkOp op;
    op.xfer = x;
    op.path = path;
    op.piece = pieceOf(*x->reg, x->ptr + off, len, receiving);
    if (vector) {
      op.piece.user = nullptr;
      op.piece.spans = x->spans.data();
      op.piece.span_first = span;
      op.piece.span_skip = static_cast<uint32_t>(skip);
      for (size_t left = len; left > 0; ++op.piece.span_count) {
        size_t take = std::min<size_t>(x->spans[span].len - skip, left);
        left -= take;
        skip += take;
        if (skip == x->spans[span].len) {
          ++span;
          skip = 0;
        }
      }
    }
    Channel& ch = channels_[(first + i) % channels_.size()];
    if (receiving) {
      ch.queueRecv(op);
    } else {
      ch.queueSend(op);
    }
  }
  if (x->chunks == 0) finished_.push_back(x);
  return Status::ok();
}

// The channel with the fewest receives queued or posted, the lowest index on ties. A transfer
// of one piece on an idle connection thus always takes channel 0, whose helper threads are
// still spinning from the previous one: rotating over idle channels would wake a sleeping
// thread on each side per transfer, which costs more than the transfer (run 22: an 8-byte
// write round trip 113 us over 4 rotating channels, 37 us on one).
// One-piece transfers also stay on the first kSmallChannels channels while one of them holds
// fewer than kSmallSpill receives: 8 transfers of 256 KiB - 1 MiB in flight moved 10-20% faster
// on 2 channels than spread over 4, whose helpers each saw a piece only every ~120 us and slept
// in between; larger transfers need all 4 (4 MiB: 36-38 against 29-30 GB/s, run 105).
size_t Connection::pickFirstChannel(size_t pieces) const {
  size_t candidates = channels_.size();
  if (pieces == 1) {
    size_t few = std::min(kSmallChannels, channels_.size());
    for (size_t i = 0; i < few; ++i) {
      if (channels_[i].recvBacklog() < kSmallSpill) {
        candidates = few;
        break;
      }
    }
  }
  size_t best = 0;
  for (size_t i = 1; i < candidates; ++i) {
    if (channels_[i].recvBacklog() < channels_[best].recvBacklog()) best = i;
  }
  return best;
}

Status Connection::postAndClear(Transfer* x, control::Initiator initiator) {
  size_t first = pickFirstChannel(chunkCount(x->size));
  TCPXP_RETURN_IF_ERROR(postPieces(x, /*receiving=*/true, first));
  ctrl_.send(control::Cts{x->id, initiator, static_cast<uint16_t>(first)});
  return Status::ok();
}

// ---- matching -------------------------------------------------------------------------------

Status Connection::matchRecvs() {
  while (!table_.posted_recvs.empty() && !table_.offers.empty()) {
    std::unique_ptr<Transfer> x = std::move(table_.posted_recvs.front());
    table_.posted_recvs.pop_front();
    TransferTable::Offer offer = std::move(table_.offers.front());
    table_.offers.pop_front();
    if (offer.has_data) --buffered_inline_sends_;
    uint64_t id = offer.send.xfer_id;
    if (offer.send.size > x->size) {
      Status why(Code::kInvalidArgument, "message of " + std::to_string(offer.send.size) +
                                             " bytes is larger than the recv buffer of " +
                                             std::to_string(x->size) + " bytes");
      ctrl_.send(control::Nack{id, control::Initiator::kDataSender, Code::kRefused,
                               "receiver: " + why.message()});
      if (x->api_id) ctx_.completions.finish(x->api_id, why);
      continue;
    }
    if (offer.has_data) {
      landInlineSend(std::move(x), id, offer.data);
      continue;
    }
    x->id = id;
    x->size = offer.send.size;
    Transfer* raw = table_.addTheirs(std::move(x));
    TCPXP_RETURN_IF_ERROR(postAndClear(raw, control::Initiator::kDataSender));
  }
  return Status::ok();
}

void Connection::landInlineSend(std::unique_ptr<Transfer> x, uint64_t xfer_id,
                                std::span<const uint8_t> data) {
  x->size = data.size();
  Status st = landInline(*x->reg, x->ptr, data);
  if (st.isOk()) {
    ctrl_.send(control::Done{xfer_id, control::Initiator::kDataSender});
  } else {
    ctrl_.send(control::Nack{xfer_id, control::Initiator::kDataSender, st.code(),
                             "receiver: " + st.message()});
  }
  if (x->api_id) ctx_.completions.finish(x->api_id, st, st.isOk() ? x->size : 0);
}

// ---- frames ---------------------------------------------------------------------------------

// The peer decides how often this happens: one line a second at most, with the count.
void Connection::logRefusal(const char* what, uint64_t size, const std::string& why) {
  uint64_t held_back = 0;
  if (!ctx_.refusal_log.allow(&held_back)) return;
  LOG_WARN("connection %llu to %s: refused a %s of %llu bytes: %s%s",
           static_cast<unsigned long long>(id_), peer().c_str(), what,
           static_cast<unsigned long long>(size), why.c_str(),
           heldBackNote(held_back, "refusals").c_str());
}

Status Connection::onSend(const control::Send& m) {
  if (table_.offers.size() >= kMaxPendingOffers) {
    return Status(Code::kProtocolError, "peer has more than " + std::to_string(kMaxPendingOffers) +
                                            " sends waiting for a recv()");
  }
  table_.offers.push_back(TransferTable::Offer{m, false, {}});
  return matchRecvs();
}

Status Connection::onSendInline(const control::SendInline& m) {
  // The common case (a recv is waiting): straight from the frame, no copy kept.
  if (table_.offers.empty() && !table_.posted_recvs.empty() &&
      m.data.size() <= table_.posted_recvs.front()->size) {
    std::unique_ptr<Transfer> x = std::move(table_.posted_recvs.front());
    table_.posted_recvs.pop_front();
    landInlineSend(std::move(x), m.xfer_id, m.data);
    return Status::ok();
  }
  if (buffered_inline_sends_ >= kMaxInlineSends || table_.offers.size() >= kMaxPendingOffers) {
    return Status(Code::kProtocolError, "peer sent more than " + std::to_string(kMaxInlineSends) +
                                            " unanswered inline messages");
  }
  ++buffered_inline_sends_;
  table_.offers.push_back(TransferTable::Offer{control::Send{m.xfer_id, m.data.size()}, true,
                                               std::vector<uint8_t>(m.data.begin(), m.data.end())});
  return matchRecvs();
}

Status Connection::onWriteInline(const control::WriteInline& m) {
  RegRef reg;
  char* local = nullptr;
  std::string why;
  Status st =
      ctx_.registry.authorize(m.token, m.remote_addr, m.data.size(), id_, &reg, &local, &why);
  if (st.isOk()) st = landInline(*reg, local, m.data);
  if (!st.isOk()) {
    logRefusal("write", m.data.size(), why.empty() ? st.message() : why);
    ctrl_.send(control::Nack{m.xfer_id, control::Initiator::kDataSender, st.code(), st.message()});
    return Status::ok();
  }
  ctrl_.send(control::Done{m.xfer_id, control::Initiator::kDataSender});
  return Status::ok();
}

Status Connection::onWriteOrRead(bool is_write, uint64_t id, uint64_t addr, uint64_t size,
                                 control::AccessToken token, uint16_t first_channel) {
  TCPXP_RETURN_IF_ERROR(checkQueuedChannel(first_channel));
  RegRef reg;
  char* local = nullptr;
  std::string why;
  Status st = ctx_.registry.authorize(token, addr, size, id_, &reg, &local, &why);
  if (!st.isOk()) {
    logRefusal(is_write ? "write" : "read", size, why);
    ctrl_.send(control::Nack{
        id, is_write ? control::Initiator::kDataSender : control::Initiator::kDataReceiver,
        st.code(), st.message()});
    return Status::ok();
  }
  if (table_.theirsCount() >= kMaxServedTransfers) {
    ctrl_.send(control::Nack{
        id, is_write ? control::Initiator::kDataSender : control::Initiator::kDataReceiver,
        Code::kResourceExhausted,
        "busy: this side serves at most " + std::to_string(kMaxServedTransfers) +
            " requests of one connection at once"});
    return Status::ok();
  }
  if (!is_write && first_channel == control::kNoChannel && inlined(size)) {
    // A small read: the bytes go back in the answer (ReadData instead of ReadOk + channels).
    std::span<const uint8_t> data;
    st = inlineBytes(*reg, local, size, &data);
    if (!st.isOk()) {
      ctrl_.send(control::Nack{id, control::Initiator::kDataReceiver, st.code(), st.message()});
      return Status::ok();
    }
    ctrl_.send(control::ReadData{id, data});
    return Status::ok();
  }
  Transfer* x = table_.addTheirs(TransferTable::make(
      id, 0, is_write ? XferKind::kServeWrite : XferKind::kServeRead, std::move(reg), local, size));
  if (is_write) return postAndClear(x, control::Initiator::kDataSender);
  return answerRead(x, first_channel);
}

Status Connection::checkQueuedChannel(uint16_t first_channel) const {
  if (first_channel == control::kNoChannel || first_channel < channels_.size()) {
    return Status::ok();
  }
  return Status(Code::kProtocolError, "Read names channel " + std::to_string(first_channel) +
                                          " of " + std::to_string(channels_.size()));
}

Status Connection::answerRead(Transfer* x, uint16_t first_channel) {
  ctrl_.send(control::ReadOk{x->id});
  // The reader queued its receives when it sent the Read: the sends follow in the same order
  // now, with no Cts. Otherwise its Cts, after this ReadOk, says where.
  if (first_channel == control::kNoChannel) return Status::ok();
  return postPieces(x, /*receiving=*/false, first_channel);
}

// A vector: every piece passes the same check as a Write or Read of it alone; a destination's
// pieces must not overlap (the chunks land in any order).
Status Connection::onVector(bool is_write, uint64_t id,
                            const std::vector<control::VecPiece>& pieces, uint16_t first_channel) {
  TCPXP_RETURN_IF_ERROR(checkQueuedChannel(first_channel));
  control::Initiator who =
      is_write ? control::Initiator::kDataSender : control::Initiator::kDataReceiver;
  const char* what = is_write ? "vector write" : "vector read";
  auto refuse = [&](Code code, const std::string& msg, const std::string& why, uint64_t size) {
    logRefusal(what, size, why.empty() ? msg : why);
    ctrl_.send(control::Nack{id, who, code, msg});
    return Status::ok();
  };
  if (table_.theirsCount() >= kMaxServedTransfers ||
      served_vector_pieces_ + pieces.size() > kMaxServedVectorPieces) {
    return refuse(Code::kResourceExhausted,
                  "busy: this side serves at most " + std::to_string(kMaxServedTransfers) +
                      " requests and " + std::to_string(kMaxServedVectorPieces) +
                      " vector pieces of one connection at once",
                  "", 0);
  }
  if (is_write && control::piecesOverlap(pieces, &overlap_scratch_)) {
    return refuse(Code::kRefused, "vector write: its pieces overlap", "", 0);
  }
  std::vector<datapath::IoSpan> spans(pieces.size());
  std::vector<RegRef> regs;  // the distinct registrations, in piece order (kept alive)
  size_t total = 0;
  // A vector's pieces mostly come under one advertisement: a piece with the previous piece's
  // token needs only the range check (the token and connection were checked for that piece).
  const Advertisement* last_ad = nullptr;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (last_ad != nullptr && pieces[i].token == pieces[i - 1].token) {
      auto base = reinterpret_cast<uintptr_t>(last_ad->addr);
      uint64_t addr = pieces[i].addr;
      if (addr >= base && addr - base <= last_ad->size &&
          pieces[i].len <= last_ad->size - (addr - base)) {
        spans[i] = {reinterpret_cast<char*>(addr), pieces[i].len, &regs.back()->net};
        total += pieces[i].len;
        continue;  // same registration as the previous piece: regs.back()
      }
    }
    RegRef piece_reg;
    char* local = nullptr;
    std::string why;
    Status st = ctx_.registry.authorize(pieces[i].token, pieces[i].addr, pieces[i].len, id_,
                                        &piece_reg, &local, &why, &last_ad);
    if (!st.isOk()) {
      // The same answer as any denied access (registry.h); the log names the piece.
      return refuse(st.code(), st.message(), "piece " + std::to_string(i) + ": " + why,
                    pieces[i].len);
    }
    if (regs.empty() || piece_reg != regs.back()) {
      // One kind of memory per vector: it decides how the pieces are copied.
      if (!regs.empty() &&
          (piece_reg->device != regs[0]->device || piece_reg->kind() != regs[0]->kind())) {
        return refuse(Code::kRefused,
                      "vector: piece " + std::to_string(i) +
                          " lies in another kind of memory than piece 0 (one vector: all host "
                          "memory or all on one GPU)",
                      "", pieces[i].len);
      }
      regs.push_back(std::move(piece_reg));
    }
    spans[i] = {local, pieces[i].len, &regs.back()->net};
    total += pieces[i].len;
  }
  Transfer* x = table_.addTheirs(
      TransferTable::make(id, 0, is_write ? XferKind::kServeWrite : XferKind::kServeRead,
                          regs.front(), spans.front().ptr, total));
  x->spans = std::move(spans);
  x->span_regs = std::move(regs);
  served_vector_pieces_ += x->spans.size();
  if (is_write) return postAndClear(x, control::Initiator::kDataSender);
  return answerRead(x, first_channel);
}

Status Connection::onReadOk(const control::ReadOk& m) {
  Transfer* x = table_.findMine(m.xfer_id);
  if (x != nullptr && x->kind == XferKind::kRead && x->gate == Gate::kAwaitingOk) {
    x->gate = Gate::kOpen;  // its queued receives may be posted: the data is on its way
    return Status::ok();
  }
  if (x == nullptr || x->kind != XferKind::kRead || x->state != XferState::kRequested) {
    return Status(Code::kProtocolError, "ReadOk for an unknown read");
  }
  return postAndClear(x, control::Initiator::kDataReceiver);
}

Status Connection::onReadData(const control::ReadData& m) {
  Transfer* x = table_.findMine(m.xfer_id);
  if (x == nullptr || x->kind != XferKind::kRead || x->state != XferState::kRequested ||
      x->size != m.data.size()) {
    // (A read that queued its receives is in kMoving: it must be answered on the channels.)
    return Status(Code::kProtocolError, "ReadData for an unknown read or of the wrong size");
  }
  x->state = XferState::kInline;
  complete(x, landInline(*x->reg, x->ptr, m.data));
  return Status::ok();
}

Status Connection::onCts(const control::Cts& m) {
  Transfer* x = nullptr;
  if (m.initiator == control::Initiator::kDataSender) {
    x = table_.findMine(m.xfer_id);
    if (x && x->kind != XferKind::kSend && x->kind != XferKind::kWrite) x = nullptr;
  } else {
    x = table_.findTheirs(m.xfer_id);
    if (x && x->kind != XferKind::kServeRead) x = nullptr;
  }
  if (x == nullptr || x->state != XferState::kRequested) {
    return Status(Code::kProtocolError, "Cts for an unknown transfer");
  }
  if (m.first_channel >= channels_.size()) {
    return Status(Code::kProtocolError, "Cts names channel " + std::to_string(m.first_channel) +
                                            " of " + std::to_string(channels_.size()));
  }
  return postPieces(x, /*receiving=*/false, m.first_channel);
}

Status Connection::onDone(const control::Done& m) {
  // kDataSender: our send/write landed at the peer. kDataReceiver: the peer finished sending
  // our read (its requests completed, so it no longer touches the advertised buffer).
  Transfer* x = table_.findMine(m.xfer_id);
  bool kind_ok = x && (m.initiator == control::Initiator::kDataReceiver
                           ? x->kind == XferKind::kRead
                           : x->kind == XferKind::kSend || x->kind == XferKind::kWrite);
  if (!kind_ok) return Status(Code::kProtocolError, "Done for an unknown transfer");
  if (x->gate != Gate::kOpen) return Status(Code::kProtocolError, "Done for a read not yet ReadOk");
  switch (x->state) {
    case XferState::kInline:
    case XferState::kAwaitPeer:
      complete(x, Status::ok());
      return Status::ok();
    case XferState::kMoving:
      x->state = XferState::kAwaitLocal;
      return Status::ok();
    case XferState::kRequested:
    case XferState::kAwaitLocal:
      break;
  }
  return Status(Code::kProtocolError,
                "Done for a transfer that is " + std::string(xferStateName(x->state)));
}

Status Connection::onNack(const control::Nack& m) {
  Transfer* x = table_.findMine(m.xfer_id);
  bool refusable = x != nullptr && (x->state == XferState::kRequested ||
                                    x->state == XferState::kInline || x->gate == Gate::kAwaitingOk);
  if (!refusable) return Status(Code::kProtocolError, "Nack for an unknown transfer");
  Status why(m.code,
             std::string(xferKindName(x->kind)) + " refused by " + peer() + ": " + m.message);
  if (x->gate == Gate::kAwaitingOk) {
    // Its receives stay queued until each channel skips them (onPiecesDone then ends it).
    x->gate = Gate::kRefused;
    x->refusal = std::move(why);
    return Status::ok();
  }
  complete(x, why);
  return Status::ok();
}

// The peer numbers its transfers 1, 2, 3, ... and sends each one's first frame (Send,
// SendInline, Write, WriteInline, Read) when it numbers it, on this one ordered stream: a first
// frame whose id is not above every earlier one is a duplicate (or a lie). Refusing it here,
// before anything looks the id up, keeps a reused id from replacing a live transfer.
Status Connection::claimPeerId(uint64_t id) {
  if (id <= last_peer_id_) {
    return Status(Code::kProtocolError, "transfer id " + std::to_string(id) +
                                            " from the peer is not new (the last was " +
                                            std::to_string(last_peer_id_) + ")");
  }
  last_peer_id_ = id;
  return Status::ok();
}

Status Connection::onTransferFrame(control::FrameType type, const uint8_t* p, size_t n) {
  using control::FrameType;
  switch (type) {
    case FrameType::kSend:
      return decodeThen<control::Send>(p, n, [&](const auto& m) {
        TCPXP_RETURN_IF_ERROR(claimPeerId(m.xfer_id));
        return onSend(m);
      });
    case FrameType::kWrite:
      return decodeThen<control::Write>(p, n, [&](const auto& m) {
        TCPXP_RETURN_IF_ERROR(claimPeerId(m.xfer_id));
        return onWriteOrRead(true, m.xfer_id, m.remote_addr, m.size, m.token, control::kNoChannel);
      });
    case FrameType::kRead:
      return decodeThen<control::Read>(p, n, [&](const auto& m) {
        TCPXP_RETURN_IF_ERROR(claimPeerId(m.xfer_id));
        return onWriteOrRead(false, m.xfer_id, m.remote_addr, m.size, m.token, m.first_channel);
      });
    case FrameType::kReadOk:
      return decodeThen<control::ReadOk>(p, n, [&](const auto& m) { return onReadOk(m); });
    case FrameType::kCts:
      return decodeThen<control::Cts>(p, n, [&](const auto& m) { return onCts(m); });
    case FrameType::kDone:
      return decodeThen<control::Done>(p, n, [&](const auto& m) { return onDone(m); });
    case FrameType::kNack:
      return decodeThen<control::Nack>(p, n, [&](const auto& m) { return onNack(m); });
    case FrameType::kWriteInline:
      return decodeThen<control::WriteInline>(p, n, [&](const auto& m) {
        TCPXP_RETURN_IF_ERROR(claimPeerId(m.xfer_id));
        return onWriteInline(m);
      });
    case FrameType::kReadData:
      return decodeThen<control::ReadData>(p, n, [&](const auto& m) { return onReadData(m); });
    case FrameType::kSendInline:
      return decodeThen<control::SendInline>(p, n, [&](const auto& m) {
        TCPXP_RETURN_IF_ERROR(claimPeerId(m.xfer_id));
        return onSendInline(m);
      });
    case FrameType::kWriteVec:
      return decodeThen<control::WriteVec>(p, n, [&](const auto& m) {
        TCPXP_RETURN_IF_ERROR(claimPeerId(m.xfer_id));
        return onVector(true, m.xfer_id, m.pieces, control::kNoChannel);
      });
    case FrameType::kReadVec:
      return decodeThen<control::ReadVec>(p, n, [&](const auto& m) {
        TCPXP_RETURN_IF_ERROR(claimPeerId(m.xfer_id));
        return onVector(false, m.xfer_id, m.pieces, m.first_channel);
      });
    default:
      return Status(Code::kProtocolError, "unexpected frame type");
  }
}

// ---- completion -----------------------------------------------------------------------------

void Connection::onPiecesDone(Transfer* x) {
  if (x->gate == Gate::kRefused) {
    complete(x, x->refusal);  // every queued receive skipped: nothing of it is left anywhere
    return;
  }
  switch (x->kind) {
    case XferKind::kSend:
    case XferKind::kWrite:
    case XferKind::kRead:
      // Done only once the peer's Done arrived too. A read's: the peer's sends completed, so
      // the caller may then reuse or free the peer's buffer (deregistering it there no longer
      // races our read).
      if (x->state == XferState::kAwaitLocal) {
        complete(x, Status::ok());
      } else {
        x->state = XferState::kAwaitPeer;
      }
      break;
    case XferKind::kRecv:
    case XferKind::kServeWrite:
      ctrl_.send(control::Done{x->id, control::Initiator::kDataSender});
      complete(x, Status::ok());
      break;
    case XferKind::kServeRead:
      ctrl_.send(control::Done{x->id, control::Initiator::kDataReceiver});
      complete(x, Status::ok());
      break;
  }
}

void Connection::complete(Transfer* x, const Status& status) {
  if (x->state == XferState::kInline && x->kind == XferKind::kSend) --inline_sends_;
  if (!initiatedHere(x->kind)) served_vector_pieces_ -= x->spans.size();
  if (x->api_id) {
    ctx_.completions.finish(x->api_id, status, status.isOk() ? x->size : 0, x->parts);
  }
  table_.erase(x);
}

}  // namespace tcpxp::engine
