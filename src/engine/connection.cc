#include "engine/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/log.h"

namespace tcpxp::engine {
namespace {

constexpr uint32_t kEngineVersion = 2;  // 2: Cts names the first channel, inline frames
// Inline sends the peer may hold unmatched (it buffers their bytes until a recv() is posted):
// at most this many are unanswered at once; more take the channel path.
constexpr size_t kMaxInlineSends = 64;

}  // namespace

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

Connection::Connection(EngineContext& ctx, ConnId id, ControlSocket ctrl, bool connector,
                       uint64_t ready_slot)
    : ctx_(ctx),
      id_(id),
      ctrl_(std::move(ctrl)),
      connector_(connector),
      ready_slot_(ready_slot),
      state_(connector ? State::kAwaitAck : State::kAwaitHello),
      deadline_(Clock::now() + std::chrono::milliseconds(ctx.config.timeout_ms)) {}

Connection::~Connection() {
  if (state_ != State::kClosed) fail(Status(Code::kPeerClosed, "connection destroyed"));
}

bool Connection::hasPostedWork() const {
  for (const Channel& ch : channels_) {
    if (!ch.idle()) return true;
  }
  return state_ == State::kEstablishing;
}

Status Connection::listenAll(std::vector<transport::NetHandle>* handles) {
  int n = ctx_.config.num_channels;
  listen_comms_.assign(n, nullptr);
  handles->assign(n, {});
  for (int i = 0; i < n; ++i) {
    TCPXP_RETURN_IF_ERROR(ctx_.net.listen(devFor(i), &(*handles)[i], &listen_comms_[i]));
  }
  return Status::ok();
}

Status Connection::start() {
  control::Hello hello;
  hello.engine_version = kEngineVersion;
  hello.chunk_bytes = static_cast<uint32_t>(ctx_.config.chunk_bytes);
  hello.gpu_index = ctx_.gpu_index;
  hello.transport = ctx_.net.name();
  std::vector<transport::NetHandle> handles;
  TCPXP_RETURN_IF_ERROR(listenAll(&handles));
  hello.handles.assign(handles.begin(), handles.end());
  ctrl_.send(hello);
  return ctrl_.flush();
}

Status Connection::onHello(const control::Hello& m) {
  if (connector_ || state_ != State::kAwaitHello) {
    return Status(Code::kProtocolError, "unexpected Hello");
  }
  control::HelloAck ack;
  ack.chunk_bytes = m.chunk_bytes;
  ack.gpu_index = ctx_.gpu_index;
  std::string refuse;
  if (m.engine_version != kEngineVersion) {
    refuse = "engine version " + std::to_string(m.engine_version) +
             " is not supported (this side: " + std::to_string(kEngineVersion) + ")";
  } else if (m.transport != ctx_.net.name()) {
    refuse = "peer uses transport '" + m.transport + "', this side '" + ctx_.net.name() +
             "' (set UCCL_P2P_TRANSPORT the same on both sides)";
  } else if (static_cast<int>(m.handles.size()) != ctx_.config.num_channels) {
    LOG_INFO("connection %s: using the connector's %zu channels (this side's default: %d)",
             peer().c_str(), m.handles.size(), ctx_.config.num_channels);
  }
  if (!refuse.empty()) {
    ack.status = Code::kRefused;
    ack.message = refuse;
    ctrl_.send(ack);
    (void)ctrl_.flush();
    return Status(Code::kRefused, "refused connection from " + peer() + ": " + refuse);
  }
  // Both sides use the connector's channel count and chunk size.
  remote_gpu_ = m.gpu_index;
  chunk_bytes_ = m.chunk_bytes;
  int n = static_cast<int>(m.handles.size());
  listen_comms_.assign(n, nullptr);
  std::vector<transport::NetHandle> handles(n);
  for (int i = 0; i < n; ++i) {
    TCPXP_RETURN_IF_ERROR(ctx_.net.listen(devFor(i), &handles[i], &listen_comms_[i]));
  }
  ack.handles.assign(handles.begin(), handles.end());
  connect_handles_.assign(m.handles.begin(), m.handles.end());
  channels_ = std::vector<Channel>(n);
  for (int i = 0; i < n; ++i) initChannel(i);
  ctrl_.send(ack);
  state_ = State::kEstablishing;
  return Status::ok();
}

Status Connection::onHelloAck(const control::HelloAck& m) {
  if (!connector_ || state_ != State::kAwaitAck) {
    return Status(Code::kProtocolError, "unexpected HelloAck");
  }
  if (m.status != Code::kOk) {
    return Status(m.status, "peer " + peer() + " refused the connection: " + m.message);
  }
  if (m.handles.size() != listen_comms_.size() || m.chunk_bytes != ctx_.config.chunk_bytes) {
    return Status(Code::kProtocolError, "HelloAck does not match the Hello (channels/chunk size)");
  }
  remote_gpu_ = m.gpu_index;
  chunk_bytes_ = m.chunk_bytes;
  connect_handles_.assign(m.handles.begin(), m.handles.end());
  channels_ = std::vector<Channel>(m.handles.size());
  for (size_t i = 0; i < channels_.size(); ++i) initChannel(static_cast<int>(i));
  state_ = State::kEstablishing;
  return Status::ok();
}

// Connects every send comm and accepts every recv comm, interleaved: both peers do this at
// once and each step is non-blocking.
Status Connection::establish(bool* did_work) {
  bool all = true;
  for (size_t i = 0; i < channels_.size(); ++i) {
    Channel& ch = channels_[i];
    if (ch.send_comm == nullptr) {
      TCPXP_RETURN_IF_ERROR(ctx_.net.connect(ch.dev, &connect_handles_[i], &ch.send_comm));
      if (ch.send_comm) *did_work = true;
    }
    if (ch.recv_comm == nullptr) {
      transport::UnpackHandle unpack;
      TCPXP_RETURN_IF_ERROR(ctx_.net.accept(listen_comms_[i], &ch.recv_comm, &unpack));
      if (ch.recv_comm) {
        ch.paths.unpack = unpack;
        *did_work = true;
        TCPXP_RETURN_IF_ERROR(ctx_.net.closeListen(listen_comms_[i]));
        listen_comms_[i] = nullptr;
      }
    }
    all = all && ch.send_comm && ch.recv_comm;
  }
  if (!all) return Status::ok();
  // A GPU endpoint makes its streams and pinned staging now, not on the first GPU transfer:
  // cudaHostAlloc of the pools took ~30 ms per side on the GPU machine (BENCHMARKS.md section
  // 18), on the driver thread, which stalled that transfer and every other connection's.
  if (ctx_.gpu_index >= 0) TCPXP_RETURN_IF_ERROR(createPathResources(ctx_.gpu_index));
  state_ = State::kReady;
  LOG_INFO("connection %llu to %s ready: %zu channels, %zu-byte chunks, transport %s",
           static_cast<unsigned long long>(id_), peer().c_str(), channels_.size(), chunk_bytes_,
           ctx_.net.name().c_str());
  if (ready_slot_) ctx_.completions.finish(ready_slot_, Status::ok());
  ready_slot_ = 0;
  return Status::ok();
}

void Connection::initChannel(int i) {
  Channel& ch = channels_[static_cast<size_t>(i)];
  ch.index = static_cast<uint32_t>(i);
  ch.dev = devFor(i);
  ch.tracing = !ctx_.config.trace_prefix.empty();
}

// Made when the connection becomes ready on a GPU endpoint, else on its first GPU transfer: one
// CUDA stream per direction (see PathResources) and, over a host-only transport, bounded pinned
// staging pools (half for sends, half for receives).
Status Connection::createPathResources(int device) {
  if (send_stream_) return Status::ok();
  TCPXP_RETURN_IF_ERROR(datapath::useDevice(device));
  // Events: every posted receive may be landing at once; sends copy a few pieces ahead.
  int events =
      static_cast<int>(channels_.size() * (transport::Net::kMaxOutstanding + Channel::kCopyAhead));
  TCPXP_RETURN_IF_ERROR(datapath::GpuStream::create(device, events, &send_stream_));
  TCPXP_RETURN_IF_ERROR(datapath::GpuStream::create(device, events, &recv_stream_));
  for (Channel& ch : channels_) {
    ch.paths.send_stream = send_stream_.get();
    ch.paths.recv_stream = recv_stream_.get();
    ch.paths.send_copy_turns = &send_copy_turns_;
    ch.paths.recv_slot_turns = &recv_slot_turns_;
  }
  if (ctx_.props.supports_cuda) return Status::ok();
  size_t half = static_cast<size_t>(ctx_.config.staging_bytes) / 2;
  TCPXP_RETURN_IF_ERROR(datapath::StagingPool::create(chunk_bytes_, half, &send_staging_));
  TCPXP_RETURN_IF_ERROR(datapath::StagingPool::create(chunk_bytes_, half, &recv_staging_));
  TCPXP_RETURN_IF_ERROR(ctx_.registry.add(send_staging_->base(), send_staging_->bytes(),
                                          transport::MemKind::kHost, -1, &send_staging_mr_));
  TCPXP_RETURN_IF_ERROR(ctx_.registry.add(recv_staging_->base(), recv_staging_->bytes(),
                                          transport::MemKind::kHost, -1, &recv_staging_mr_));
  for (Channel& ch : channels_) {
    ch.paths.send_staging = send_staging_.get();
    ch.paths.recv_staging = recv_staging_.get();
    ch.paths.send_staging_reg = ctx_.registry.find(send_staging_mr_);
    ch.paths.recv_staging_reg = ctx_.registry.find(recv_staging_mr_);
  }
  LOG_INFO(
      "connection %llu: staging %zu + %zu bytes of pinned memory (%zu slots of %zu bytes each way)",
      static_cast<unsigned long long>(id_), send_staging_->bytes(), recv_staging_->bytes(),
      send_staging_->slots(), chunk_bytes_);
  return Status::ok();
}

DataPath Connection::choosePath(const Transfer& x, bool receiving) const {
  if (x.reg->kind == transport::MemKind::kHost) return DataPath::kDirect;
  if (ctx_.props.unpack) return receiving ? DataPath::kUnpack : DataPath::kDirect;
  return ctx_.props.supports_cuda ? DataPath::kDirect : DataPath::kStaged;
}

std::unique_ptr<Transfer> Connection::makeTransfer(uint64_t id, uint64_t api, XferKind kind,
                                                   Registration* reg, char* ptr, size_t size) {
  auto x = std::make_unique<Transfer>();
  x->id = id;
  x->api_id = api;
  x->kind = kind;
  x->conn = this;
  x->ptr = ptr;
  x->size = size;
  x->reg = reg;
  x->last_progress = Clock::now();
  ++reg->active;  // dereg waits until the transfer ends (complete() releases it)
  return x;
}

Transfer* Connection::addMine(uint64_t api, XferKind kind, Registration* reg, char* ptr,
                              size_t size) {
  uint64_t id = next_id_++;
  Transfer* raw = (mine_[id] = makeTransfer(id, api, kind, reg, ptr, size)).get();
  return raw;
}

Transfer* Connection::addTheirs(uint64_t peer_id, XferKind kind, Registration* reg, char* ptr,
                                size_t size) {
  return (theirs_[peer_id] = makeTransfer(peer_id, 0, kind, reg, ptr, size)).get();
}

Status Connection::postPieces(Transfer* x, bool receiving, size_t first) {
  DataPath path = choosePath(*x, receiving);
  if (path != DataPath::kDirect && !(path == DataPath::kUnpack && !x->reg->on_gpu())) {
    TCPXP_RETURN_IF_ERROR(createPathResources(x->reg->device));
  }
  x->chunks = chunkCount(x->size);
  x->posted = true;
  for (size_t i = 0; i < x->chunks; ++i) {
    size_t off = i * chunk_bytes_;
    ChunkOp op;
    op.xfer = x;
    op.path = path;
    op.ptr = x->ptr + off;
    op.len = static_cast<uint32_t>(std::min(chunk_bytes_, x->size - off));
    Channel& ch = channels_[(first + i) % channels_.size()];
    if (receiving) {
      if (path == DataPath::kStaged) recv_slot_turns_.push(ch.index);
      ch.queueRecv(op);
    } else {
      if (path == DataPath::kStaged) send_copy_turns_.push(ch.index);
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

Status Connection::send(uint64_t api, Registration* reg, char* ptr, size_t size) {
  if (inlined(size) && inline_sends_ < kMaxInlineSends) {
    std::span<const uint8_t> data;
    TCPXP_RETURN_IF_ERROR(hostView(*reg, ptr, size, &data));
    Transfer* x = addMine(api, XferKind::kSend, reg, ptr, size);
    x->posted = true;  // no pieces: done once the peer's Done arrives
    x->inlined = true;
    ++inline_sends_;
    ctrl_.send(control::SendInline{x->id, data});
    return Status::ok();
  }
  Transfer* x = addMine(api, XferKind::kSend, reg, ptr, size);
  ctrl_.send(control::Send{x->id, size});
  return Status::ok();
}

Status Connection::recv(uint64_t api, Registration* reg, char* ptr, size_t size) {
  // Its id becomes the matching Send's once one arrives (matchRecvs()).
  posted_recvs_.push_back(makeTransfer(0, api, XferKind::kRecv, reg, ptr, size));
  return matchRecvs();
}

Status Connection::write(uint64_t api, Registration* reg, char* ptr, size_t size,
                         uint64_t remote_addr, uint64_t token, uint32_t remote_mr) {
  if (inlined(size)) {
    std::span<const uint8_t> data;
    TCPXP_RETURN_IF_ERROR(hostView(*reg, ptr, size, &data));
    Transfer* x = addMine(api, XferKind::kWrite, reg, ptr, size);
    x->posted = true;  // no pieces: done once the peer's Done arrives
    x->inlined = true;
    ctrl_.send(control::WriteInline{x->id, remote_addr, token, remote_mr, data});
    return Status::ok();
  }
  Transfer* x = addMine(api, XferKind::kWrite, reg, ptr, size);
  ctrl_.send(control::Write{x->id, remote_addr, size, token, remote_mr});
  return Status::ok();
}

Status Connection::read(uint64_t api, Registration* reg, char* ptr, size_t size,
                        uint64_t remote_addr, uint64_t token, uint32_t remote_mr) {
  Transfer* x = addMine(api, XferKind::kRead, reg, ptr, size);
  ctrl_.send(control::Read{x->id, remote_addr, size, token, remote_mr});
  return Status::ok();
}

Status Connection::notify(const std::string& name, const std::string& msg) {
  control::Notify n{name, msg};
  TCPXP_RETURN_IF_ERROR(control::validate(n));
  ctrl_.send(n);
  return Status::ok();
}

Status Connection::matchRecvs() {
  while (!posted_recvs_.empty() && !offers_.empty()) {
    std::unique_ptr<Transfer> x = std::move(posted_recvs_.front());
    posted_recvs_.pop_front();
    Offer offer = std::move(offers_.front());
    offers_.pop_front();
    if (offer.has_data) --buffered_inline_sends_;
    uint64_t id = offer.send.xfer_id;
    if (offer.send.size > x->size) {
      Status why(Code::kInvalidArgument, "message of " + std::to_string(offer.send.size) +
                                             " bytes is larger than the recv buffer of " +
                                             std::to_string(x->size) + " bytes");
      ctrl_.send(control::Nack{id, control::Initiator::kDataSender, Code::kRefused,
                               "receiver: " + why.message()});
      --x->reg->active;
      if (x->api_id) ctx_.completions.finish(x->api_id, why);
      continue;
    }
    if (offer.has_data) {
      landInlineSend(std::move(x), id, offer.data);
      continue;
    }
    x->id = id;
    x->size = offer.send.size;
    Transfer* raw = x.get();
    theirs_[id] = std::move(x);
    TCPXP_RETURN_IF_ERROR(postAndClear(raw, control::Initiator::kDataSender));
  }
  return Status::ok();
}

Status Connection::onSend(const control::Send& m) {
  offers_.push_back(Offer{m, false, {}});
  return matchRecvs();
}

void Connection::landInlineSend(std::unique_ptr<Transfer> x, uint64_t xfer_id,
                                std::span<const uint8_t> data) {
  x->size = data.size();
  Status st = copyBlocking(*x->reg, x->ptr, data.data(), data.size());
  if (st.isOk()) {
    ctrl_.send(control::Done{xfer_id, control::Initiator::kDataSender});
  } else {
    ctrl_.send(control::Nack{xfer_id, control::Initiator::kDataSender, st.code(),
                             "receiver: " + st.message()});
  }
  --x->reg->active;
  if (x->api_id) ctx_.completions.finish(x->api_id, st, st.isOk() ? x->size : 0);
}

Status Connection::onSendInline(const control::SendInline& m) {
  // The common case (a recv is waiting): straight from the frame, no copy kept.
  if (offers_.empty() && !posted_recvs_.empty() && m.data.size() <= posted_recvs_.front()->size) {
    std::unique_ptr<Transfer> x = std::move(posted_recvs_.front());
    posted_recvs_.pop_front();
    landInlineSend(std::move(x), m.xfer_id, m.data);
    return Status::ok();
  }
  if (buffered_inline_sends_ >= kMaxInlineSends) {
    return Status(Code::kProtocolError, "peer sent more than " + std::to_string(kMaxInlineSends) +
                                            " unanswered inline messages");
  }
  ++buffered_inline_sends_;
  offers_.push_back(Offer{control::Send{m.xfer_id, m.data.size()}, true,
                          std::vector<uint8_t>(m.data.begin(), m.data.end())});
  return matchRecvs();
}

Status Connection::onWriteInline(const control::WriteInline& m) {
  Registration* reg = nullptr;
  char* local = nullptr;
  Status st = ctx_.registry.authorize(m.token, m.remote_addr, m.data.size(), id_, &reg, &local);
  if (st.isOk()) st = copyBlocking(*reg, local, m.data.data(), m.data.size());
  if (!st.isOk()) {
    LOG_WARN("connection %s: refused write of %zu bytes: %s", peer().c_str(), m.data.size(),
             st.message().c_str());
    ctrl_.send(control::Nack{m.xfer_id, control::Initiator::kDataSender, st.code(), st.message()});
    return Status::ok();
  }
  ctrl_.send(control::Done{m.xfer_id, control::Initiator::kDataSender});
  return Status::ok();
}

Status Connection::onReadData(const control::ReadData& m) {
  auto it = mine_.find(m.xfer_id);
  if (it == mine_.end() || it->second->kind != XferKind::kRead || it->second->posted ||
      it->second->size != m.data.size()) {
    return Status(Code::kProtocolError, "ReadData for an unknown read or of the wrong size");
  }
  Transfer* x = it->second.get();
  x->posted = true;
  x->peer_done = true;
  complete(x, copyBlocking(*x->reg, x->ptr, m.data.data(), m.data.size()));
  return Status::ok();
}

Status Connection::inlineResources(const Registration& reg, size_t n) {
  if (!inline_stream_) {
    TCPXP_RETURN_IF_ERROR(datapath::GpuStream::create(reg.device, 1, &inline_stream_));
  }
  if (!inline_pinned_) {
    TCPXP_RETURN_IF_ERROR(
        datapath::PinnedBuffer::create(control::kMaxInlineBytes, &inline_pinned_));
  }
  if (n > inline_pinned_->size()) {
    return Status(Code::kInvalidArgument, "inline copy larger than the inline limit");
  }
  return Status::ok();
}

Status Connection::copyBlocking(const Registration& reg, void* dst, const void* src, size_t n) {
  if (n == 0) return Status::ok();
  if (!reg.on_gpu()) {
    std::memcpy(dst, src, n);
    return Status::ok();
  }
  TCPXP_RETURN_IF_ERROR(inlineResources(reg, n));
  // Through pinned memory: from the pageable frame, CUDA would first stage the bytes itself
  // (no faster or slower for 8-byte writes in run 45, but one copy path for both directions).
  std::memcpy(inline_pinned_->data(), src, n);
  return inline_stream_->copyAndWait(dst, inline_pinned_->data(), n);
}

Status Connection::hostView(const Registration& reg, const char* src, size_t n,
                            std::span<const uint8_t>* out) {
  if (!reg.on_gpu()) {
    *out = {reinterpret_cast<const uint8_t*>(src), n};
    return Status::ok();
  }
  TCPXP_RETURN_IF_ERROR(inlineResources(reg, n));
  if (n > 0) TCPXP_RETURN_IF_ERROR(inline_stream_->copyAndWait(inline_pinned_->data(), src, n));
  *out = {reinterpret_cast<const uint8_t*>(inline_pinned_->data()), n};
  return Status::ok();
}

Status Connection::onWriteOrRead(bool is_write, uint64_t id, uint64_t addr, uint64_t size,
                                 uint64_t token) {
  Registration* reg = nullptr;
  char* local = nullptr;
  Status st = ctx_.registry.authorize(token, addr, size, id_, &reg, &local);
  if (!st.isOk()) {
    LOG_WARN("connection %s: refused %s of %llu bytes: %s", peer().c_str(),
             is_write ? "write" : "read", static_cast<unsigned long long>(size),
             st.message().c_str());
    ctrl_.send(control::Nack{
        id, is_write ? control::Initiator::kDataSender : control::Initiator::kDataReceiver,
        st.code(), st.message()});
    return Status::ok();
  }
  if (theirs_.count(id)) return Status(Code::kProtocolError, "duplicate transfer id from the peer");
  if (!is_write && inlined(size)) {
    // A small read: the bytes go back in the answer (ReadData instead of ReadOk + channels).
    std::span<const uint8_t> data;
    st = hostView(*reg, local, size, &data);
    if (!st.isOk()) {
      ctrl_.send(control::Nack{id, control::Initiator::kDataReceiver, st.code(), st.message()});
      return Status::ok();
    }
    ctrl_.send(control::ReadData{id, data});
    return Status::ok();
  }
  Transfer* x =
      addTheirs(id, is_write ? XferKind::kServeWrite : XferKind::kServeRead, reg, local, size);
  if (is_write) {
    TCPXP_RETURN_IF_ERROR(postAndClear(x, control::Initiator::kDataSender));
  } else {
    ctrl_.send(control::ReadOk{id});
  }
  return Status::ok();
}

Status Connection::onReadOk(const control::ReadOk& m) {
  auto it = mine_.find(m.xfer_id);
  if (it == mine_.end() || it->second->kind != XferKind::kRead || it->second->posted) {
    return Status(Code::kProtocolError, "ReadOk for an unknown read");
  }
  TCPXP_RETURN_IF_ERROR(postAndClear(it->second.get(), control::Initiator::kDataReceiver));
  return Status::ok();
}

Status Connection::onCts(const control::Cts& m) {
  Transfer* x = nullptr;
  if (m.initiator == control::Initiator::kDataSender) {
    auto it = mine_.find(m.xfer_id);
    if (it != mine_.end() &&
        (it->second->kind == XferKind::kSend || it->second->kind == XferKind::kWrite)) {
      x = it->second.get();
    }
  } else {
    auto it = theirs_.find(m.xfer_id);
    if (it != theirs_.end() && it->second->kind == XferKind::kServeRead) x = it->second.get();
  }
  if (x == nullptr || x->posted) return Status(Code::kProtocolError, "Cts for an unknown transfer");
  if (m.first_channel >= channels_.size()) {
    return Status(Code::kProtocolError, "Cts names channel " + std::to_string(m.first_channel) +
                                            " of " + std::to_string(channels_.size()));
  }
  TCPXP_RETURN_IF_ERROR(postPieces(x, /*receiving=*/false, m.first_channel));
  return Status::ok();
}

Status Connection::onDone(const control::Done& m) {
  // kDataSender: our send/write landed at the peer. kDataReceiver: the peer finished sending
  // our read (its requests completed, so it no longer touches the advertised buffer).
  auto it = mine_.find(m.xfer_id);
  XferKind expected =
      m.initiator == control::Initiator::kDataReceiver ? XferKind::kRead : XferKind::kSend;
  if (it == mine_.end() || it->second->peer_done ||
      (it->second->kind != expected &&
       !(expected == XferKind::kSend && it->second->kind == XferKind::kWrite))) {
    return Status(Code::kProtocolError, "Done for an unknown transfer");
  }
  it->second->peer_done = true;
  finished_.push_back(it->second.get());
  return Status::ok();
}

Status Connection::onNack(const control::Nack& m) {
  auto it = mine_.find(m.xfer_id);
  if (it == mine_.end() || (it->second->posted && !it->second->inlined)) {
    return Status(Code::kProtocolError, "Nack for an unknown transfer");
  }
  Transfer* x = it->second.get();
  complete(x, Status(m.code, std::string(xferKindName(x->kind)) + " refused by " + peer() + ": " +
                                 m.message));
  return Status::ok();
}

// Decodes the payload as a Msg and hands it to `handler`.
template <typename Msg, typename Handler>
Status decodeThen(const uint8_t* p, size_t n, Handler&& handler) {
  Msg m;
  TCPXP_RETURN_IF_ERROR(control::decode(p, n, &m));
  return handler(m);
}

Status Connection::onFrame(control::FrameType type, const uint8_t* p, size_t n) {
  using control::FrameType;
  switch (type) {
    case FrameType::kHello:
      return decodeThen<control::Hello>(p, n, [&](const auto& m) { return onHello(m); });
    case FrameType::kHelloAck:
      return decodeThen<control::HelloAck>(p, n, [&](const auto& m) { return onHelloAck(m); });
    case FrameType::kBye:
      // Handled once the frames before it (a Done, say) have been applied.
      peer_bye_ = true;
      return Status::ok();
    case FrameType::kNotify:
      return decodeThen<control::Notify>(p, n, [&](const auto& m) {
        if (ctx_.on_notify) ctx_.on_notify(Notification{m.name, m.msg});
        return Status::ok();
      });
    default:
      break;
  }
  if (state_ != State::kReady && state_ != State::kEstablishing) {
    return Status(Code::kProtocolError,
                  std::string(control::frameTypeName(type)) + " before the handshake ended");
  }
  switch (type) {
    case FrameType::kSend:
      return decodeThen<control::Send>(p, n, [&](const auto& m) { return onSend(m); });
    case FrameType::kWrite:
      return decodeThen<control::Write>(p, n, [&](const auto& m) {
        return onWriteOrRead(true, m.xfer_id, m.remote_addr, m.size, m.token);
      });
    case FrameType::kRead:
      return decodeThen<control::Read>(p, n, [&](const auto& m) {
        return onWriteOrRead(false, m.xfer_id, m.remote_addr, m.size, m.token);
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
      return decodeThen<control::WriteInline>(p, n,
                                              [&](const auto& m) { return onWriteInline(m); });
    case FrameType::kReadData:
      return decodeThen<control::ReadData>(p, n, [&](const auto& m) { return onReadData(m); });
    case FrameType::kSendInline:
      return decodeThen<control::SendInline>(p, n, [&](const auto& m) { return onSendInline(m); });
    default:
      return Status(Code::kProtocolError, "unexpected frame type");
  }
}

void Connection::checkFinished(Transfer* x) {
  bool landed = x->posted && x->chunks_done == x->chunks;
  switch (x->kind) {
    case XferKind::kSend:
    case XferKind::kWrite:
      if (landed && x->peer_done) complete(x, Status::ok());
      break;
    case XferKind::kRecv:
    case XferKind::kServeWrite:
      if (landed) {
        ctrl_.send(control::Done{x->id, control::Initiator::kDataSender});
        complete(x, Status::ok());
      }
      break;
    case XferKind::kRead:
      // Done only once the peer's sends completed too: after that the caller may reuse or free
      // the peer's buffer (deregistering it there no longer races our read).
      if (landed && x->peer_done) complete(x, Status::ok());
      break;
    case XferKind::kServeRead:
      if (landed) {
        ctrl_.send(control::Done{x->id, control::Initiator::kDataReceiver});
        complete(x, Status::ok());
      }
      break;
  }
}

void Connection::complete(Transfer* x, const Status& status) {
  if (x->reg) --x->reg->active;
  if (x->inlined && x->kind == XferKind::kSend) --inline_sends_;
  if (x->api_id) ctx_.completions.finish(x->api_id, status, status.isOk() ? x->size : 0);
  bool is_mine =
      x->kind == XferKind::kSend || x->kind == XferKind::kWrite || x->kind == XferKind::kRead;
  if (is_mine) {
    mine_.erase(x->id);
  } else {
    theirs_.erase(x->id);
  }
}

bool Connection::progress(bool* did_work) {
  if (state_ == State::kClosed) return false;
  bool work = false;
  Status st = ctrl_.receive([&](control::FrameType t, const uint8_t* p, size_t n) {
    work = true;
    return onFrame(t, p, n);
  });
  if (st.isOk() && state_ == State::kEstablishing) st = establish(&work);
  if (st.isOk() && state_ == State::kReady) {
    for (Channel& ch : channels_) {
      st = ch.progress(ctx_.net, ctx_.registry, &finished_, &work);
      if (!st.isOk()) break;
    }
  }
  if (st.isOk() && !finished_.empty()) {
    // One entry per finished piece: look at each transfer once (complete() frees it).
    std::sort(finished_.begin(), finished_.end());
    finished_.erase(std::unique(finished_.begin(), finished_.end()), finished_.end());
    for (Transfer* x : finished_) checkFinished(x);
    finished_.clear();
  }
  if (st.isOk()) st = ctrl_.flush();
  if (st.isOk() && peer_bye_)
    st = Status(Code::kPeerClosed, "peer " + peer() + " closed the connection");
  auto now = Clock::now();
  if (work) {
    deadline_ = now + std::chrono::milliseconds(ctx_.config.timeout_ms);
    *did_work = true;
  } else if (st.isOk() && (state_ != State::kReady || !mine_.empty() || hasPostedWork()) &&
             now > deadline_) {
    st = Status(Code::kTimeout,
                std::string(state_ == State::kReady ? "no progress" : "handshake not finished") +
                    " for " + std::to_string(ctx_.config.timeout_ms) +
                    " ms (UCCL_TCPX_TIMEOUT_MS); is the peer alive?");
  }
  if (!st.isOk()) {
    fail(st);
    return false;
  }
  return true;
}

void Connection::fail(const Status& why) {
  if (state_ == State::kClosed) return;
  bool orderly = why.code() == Code::kPeerClosed && mine_.empty() && theirs_.empty();
  if (orderly) {
    LOG_INFO("connection %llu to %s closed: %s", static_cast<unsigned long long>(id_),
             peer().c_str(), why.message().c_str());
  } else {
    LOG_WARN("connection %llu to %s failed: %s", static_cast<unsigned long long>(id_),
             peer().c_str(), why.toString().c_str());
  }
  state_ = State::kClosed;
  logChannelTimes();
  writeTrace();
  // Keep the channels' traffic in the per-NIC totals (they outlive connections).
  for (Channel& ch : channels_) {
    TrafficCounters& nic = ctx_.nic_counters[ch.dev];
    const ChannelCounters& c = ch.counters;
    nic.add({c.bytes_sent, c.bytes_received, c.sends, c.receives, orderly ? 0u : 1u, c.busy_ns});
    ch.counters = {};
  }
  // Comms first: no transport request may outlive the buffers and transfers it refers to.
  for (Channel& ch : channels_) ch.close(ctx_.net, ctx_.registry);
  for (void*& lc : listen_comms_) {
    if (lc) (void)ctx_.net.closeListen(lc);
    lc = nullptr;
  }
  Status failed(why.code(), "connection to " + peer() + ": " + why.message());
  auto fail_all = [&](auto& map) {
    while (!map.empty()) {
      Transfer* x = map.begin()->second.get();
      // The receiver confirmed every byte (Done), or every byte of our read landed: the
      // transfer succeeded even though the connection ends before the last requests were tested.
      bool read_landed = x->kind == XferKind::kRead && x->posted && x->chunks_done == x->chunks;
      complete(x, x->peer_done || read_landed ? Status::ok() : failed);
    }
  };
  fail_all(mine_);
  fail_all(theirs_);
  for (auto& x : posted_recvs_) {
    --x->reg->active;
    if (x->api_id) ctx_.completions.finish(x->api_id, failed);
  }
  posted_recvs_.clear();
  offers_.clear();
  buffered_inline_sends_ = 0;
  finished_.clear();
  if (ready_slot_) ctx_.completions.finish(ready_slot_, failed);
  ready_slot_ = 0;
  for (MrId* mr : {&send_staging_mr_, &recv_staging_mr_}) {
    if (*mr) (void)ctx_.registry.remove(*mr, ctx_.net);
    *mr = 0;
  }
  send_copy_turns_ = Ring<uint32_t>();
  recv_slot_turns_ = Ring<uint32_t>();
  // Streams before the staging pools: their destructors wait for copies still using them.
  send_stream_.reset();
  recv_stream_.reset();
  send_staging_.reset();
  recv_staging_.reset();
}

// UCCL_TCPX_TRACE=PREFIX: every piece's stage times to PREFIX.<pid>.<conn>.csv
// (scripts/trace_report.py pairs a sender's file with its receiver's).
void Connection::writeTrace() const {
  if (ctx_.config.trace_prefix.empty()) return;
  std::string file = ctx_.config.trace_prefix + "." + std::to_string(::getpid()) + "." +
                     std::to_string(id_) + ".csv";
  FILE* f = std::fopen(file.c_str(), "w");
  if (f == nullptr) {
    LOG_WARN("UCCL_TCPX_TRACE: cannot write %s", file.c_str());
    return;
  }
  for (size_t i = 0; i < channels_.size(); ++i) {
    for (const Channel::TraceRecord& r : channels_[i].trace) {
      std::fprintf(f, "%zu,%c,%llu,%u,%lld,%lld,%lld,%lld\n", i, r.dir,
                   static_cast<unsigned long long>(r.xfer), r.len, static_cast<long long>(r.t[0]),
                   static_cast<long long>(r.t[1]), static_cast<long long>(r.t[2]),
                   static_cast<long long>(r.t[3]));
    }
  }
  std::fclose(f);
}

// Where the pieces spent their time, per channel (UCCL_TCPX_DEBUG=INFO): the first thing to
// look at when a transfer is slower than the network.
void Connection::logChannelTimes() const {
  auto avg_us = [](uint64_t ns, uint64_t n) { return n ? static_cast<double>(ns) / n / 1e3 : 0.0; };
  for (size_t i = 0; i < channels_.size(); ++i) {
    const ChannelCounters& c = channels_[i].counters;
    if (c.sends == 0 && c.receives == 0) continue;
    LOG_INFO(
        "connection %llu channel %zu: %llu sends (staging copy %.1f us, isend->done %.1f us avg), "
        "%llu receives (irecv->done %.1f us, landing %.1f us avg); %llu CUDA calls, %.1f us avg",
        static_cast<unsigned long long>(id_), i, static_cast<unsigned long long>(c.sends),
        avg_us(c.stage_ns, c.staged_sends), avg_us(c.send_ns, c.sends),
        static_cast<unsigned long long>(c.receives), avg_us(c.recv_ns, c.receives),
        avg_us(c.land_ns, c.receives), static_cast<unsigned long long>(c.cuda_calls),
        avg_us(c.cuda_ns, c.cuda_calls));
  }
}

void Connection::appendStats(std::vector<ChannelStats>* out) const {
  for (size_t i = 0; i < channels_.size(); ++i) {
    const ChannelCounters& c = channels_[i].counters;
    ChannelStats s;
    s.conn = id_;
    s.channel = static_cast<int>(i);
    s.dev = channels_[i].dev;
    s.counters = {c.bytes_sent, c.bytes_received, c.sends, c.receives, 0, c.busy_ns};
    out->push_back(s);
  }
}

ConnectionStats Connection::stats() const {
  size_t staging =
      (send_staging_ ? send_staging_->bytes() : 0) + (recv_staging_ ? recv_staging_->bytes() : 0);
  return {id_, peer(), static_cast<int>(channels_.size()), staging};
}

void Connection::close() {
  if (state_ == State::kClosed) return;
  ctrl_.send(control::Bye{});
  (void)ctrl_.flush();
  fail(Status(Code::kPeerClosed, "closed by this side"));
}

}  // namespace tcpxp::engine
