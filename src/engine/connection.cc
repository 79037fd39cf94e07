// The connection's life: its state machine, control frames in, progress, failure.
#include "engine/connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/log.h"
#include "common/net_util.h"

namespace tcpxp::engine {
namespace {

using State = Connection::State;
constexpr unsigned bit(State s) { return 1u << static_cast<unsigned>(s); }

// One row per state: its name, the states it may move to, the handshake frame it expects, and
// whether transfer frames are accepted in it.
struct StateRow {
  const char* name;
  unsigned next;
  control::FrameType expects;
  bool transfers;
};
constexpr control::FrameType kNoFrame = static_cast<control::FrameType>(0);
constexpr StateRow kStates[] = {
    /* kAwaitHello   */ {"awaiting Hello", bit(State::kEstablishing) | bit(State::kClosed),
                         control::FrameType::kHello, false},
    /* kAwaitAck     */
    {"awaiting HelloAck", bit(State::kEstablishing) | bit(State::kClosed),
     control::FrameType::kHelloAck, false},
    /* kEstablishing */ {"establishing", bit(State::kReady) | bit(State::kClosed), kNoFrame, true},
    /* kReady        */ {"ready", bit(State::kClosed), kNoFrame, true},
    /* kClosed       */ {"closed", 0, kNoFrame, false},
};
const StateRow& row(State s) { return kStates[static_cast<size_t>(s)]; }

// Decodes the payload as a Msg and hands it to `handler`.
template <typename Msg, typename Handler>
Status decodeThen(const uint8_t* p, size_t n, Handler&& handler) {
  Msg m;
  TCPXP_RETURN_IF_ERROR(control::decode(p, n, &m));
  return handler(m);
}

}  // namespace

const char* Connection::stateName(State s) { return row(s).name; }

bool Connection::transitionAllowed(State from, State to) { return (row(from).next & bit(to)) != 0; }

Connection::Connection(EngineContext& ctx, ConnId id, ControlSocket ctrl, bool connector,
                       uint64_t ready_slot)
    : ctx_(ctx),
      id_(id),
      ctrl_(std::move(ctrl)),
      connector_(connector),
      ready_slot_(ready_slot),
      state_(connector ? State::kAwaitAck : State::kAwaitHello),
      // A connector's Hello follows its connect at once: whoever connects and says nothing
      // holds a handshake slot for kHelloDeadlineMs at most.
      deadline_(Clock::now() + std::chrono::milliseconds(
                                   connector ? ctx.config.timeout_ms
                                             : std::min(ctx.config.timeout_ms, kHelloDeadlineMs))),
      data_deadline_(deadline_),
      handshake_(ctx_, ctrl_) {}

Connection::~Connection() {
  if (state_ != State::kClosed) fail(Status(Code::kPeerClosed, "connection destroyed"));
}

void Connection::setState(State next) {
  if (!transitionAllowed(state_, next)) {
    LOG_ERROR("connection %llu to %s: illegal transition %s -> %s (a bug)",
              static_cast<unsigned long long>(id_), peer().c_str(), stateName(state_),
              stateName(next));
  }
  LOG_DEBUG("connection %llu to %s: %s -> %s", static_cast<unsigned long long>(id_), peer().c_str(),
            stateName(state_), stateName(next));
  state_ = next;
}

bool Connection::hasPostedWork() const {
  for (const Channel& ch : channels_) {
    if (!ch.idle()) return true;
  }
  return false;
}

std::chrono::milliseconds Connection::heartbeatInterval() const {
  // A few heartbeats per timeout, so one delayed or lost turn never reads as silence; at most
  // one per second (cheap on thousands of idle connections).
  return std::chrono::milliseconds(std::clamp<int64_t>(ctx_.config.timeout_ms / 4, 10, 1000));
}

Status Connection::checkLiveness(Clock::time_point now, bool data_moved) {
  const auto timeout = std::chrono::milliseconds(ctx_.config.timeout_ms);
  // Past the Hello exchange the peer may be ready while we still set up comms: it hears us.
  if ((state_ == State::kEstablishing || state_ == State::kReady) && !ctrl_.hasOutput() &&
      now - ctrl_.lastSent() >= heartbeatInterval()) {
    ctrl_.send(control::Heartbeat{});
    TCPXP_RETURN_IF_ERROR(ctrl_.flush());
  }
  if (state_ != State::kReady) {
    // The handshake (Hello exchange, then the transport's connect/accept) moves forward or
    // fails: nothing the peer sends but its next handshake step pushes this deadline.
    if (now <= deadline_) return Status::ok();
    return Status(Code::kTimeout, std::string("handshake not finished (") + stateName(state_) +
                                      ") after " + std::to_string(ctx_.config.timeout_ms) +
                                      " ms (UCCL_TCPX_TIMEOUT_MS); is the peer alive?");
  }
  // A live peer sends at least a Heartbeat every heartbeatInterval(): silence for the timeout
  // means it stopped (frozen, hung, or the network dropped). Idle connections live forever.
  if (now - ctrl_.lastHeard() > timeout) {
    return Status(Code::kTimeout,
                  "peer " + peer() + " stopped answering: nothing heard for " +
                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         now - ctrl_.lastHeard())
                                         .count()) +
                      " ms (UCCL_TCPX_TIMEOUT_MS=" + std::to_string(ctx_.config.timeout_ms) +
                      "; a live peer sends a heartbeat every " +
                      std::to_string(heartbeatInterval().count()) + " ms)");
  }
  // The peer answers, but requests already posted on the channels make no progress: the
  // transport is stuck (a live peer's engine always drains what both sides posted).
  if (data_moved || !hasPostedWork()) {
    data_deadline_ = now + timeout;
  } else if (now > data_deadline_) {
    return Status(Code::kTimeout,
                  "data stalled: requests posted on the channels made no "
                  "progress for " +
                      std::to_string(ctx_.config.timeout_ms) +
                      " ms (UCCL_TCPX_TIMEOUT_MS) while the peer still answers");
  }
  return Status::ok();
}

Status Connection::start() { return handshake_.start(); }

Status Connection::onFrame(control::FrameType type, const uint8_t* p, size_t n) {
  using control::FrameType;
  switch (type) {
    case FrameType::kHello:
    case FrameType::kHelloAck: {
      if (row(state_).expects != type) {
        return Status(Code::kProtocolError,
                      std::string("unexpected ") + control::frameTypeName(type));
      }
      Status st = type == FrameType::kHello
                      ? decodeThen<control::Hello>(
                            p, n, [&](const auto& m) { return handshake_.onHello(m); })
                      : decodeThen<control::HelloAck>(
                            p, n, [&](const auto& m) { return handshake_.onHelloAck(m); });
      TCPXP_RETURN_IF_ERROR(st);
      channels_ = handshake_.makeChannels();
      chunk_bytes_ = handshake_.chunkBytes();
      datapath::PathParams params;
      params.device = ctx_.gpu_index;
      params.channels = channels_.size();
      params.chunk_bytes = chunk_bytes_;
      params.staging_bytes = static_cast<size_t>(ctx_.config.staging_bytes);
      // Events: every posted receive may be landing at once; sends copy a few pieces ahead.
      params.events = channels_.size() * (transport::Net::kMaxOutstanding + datapath::kCopyAhead);
      params.inline_bytes = static_cast<size_t>(ctx_.config.inline_bytes);
      paths_ = std::make_unique<datapath::PathSet>(
          params, datapath::TransportCaps{ctx_.props.supports_cuda, ctx_.props.unpack,
                                          ctx_.net.hasVectored(), ctx_.props.gpu_direct_max_bytes});
      setState(State::kEstablishing);
      return Status::ok();
    }
    case FrameType::kBye:
      // Handled once the frames before it (a Done, say) have been applied.
      peer_bye_ = true;
      return Status::ok();
    default:
      break;
  }
  // Until the Hello exchange is over only it is accepted: anything else closes the socket.
  if (!row(state_).transfers) {
    return Status(Code::kProtocolError,
                  std::string(control::frameTypeName(type)) + " before the handshake ended");
  }
  switch (type) {
    case FrameType::kHeartbeat:  // lastHeard() is all it is for
      return decodeThen<control::Heartbeat>(p, n, [](const auto&) { return Status::ok(); });
    case FrameType::kNotify:
      return decodeThen<control::Notify>(p, n, [&](const auto& m) {
        if (ctx_.on_notify) ctx_.on_notify(Notification{m.name, m.msg, id_});
        return Status::ok();
      });
    default:
      return onTransferFrame(type, p, n);
  }
}

Status Connection::establish(bool* did_work) {
  bool done = false;
  TCPXP_RETURN_IF_ERROR(handshake_.establish(&channels_, did_work, &done));
  if (!done) return Status::ok();
  // A GPU endpoint makes its streams and pinned staging now, not on the first GPU transfer:
  // cudaHostAlloc of the pools took ~30 ms per side on the GPU machine (BENCHMARKS.md section
  // 18), on the driver thread, which stalled that transfer and every other connection's.
  if (ctx_.gpu_index >= 0) TCPXP_RETURN_IF_ERROR(paths_->prepareGpuPaths());
  setState(State::kReady);
  LOG_INFO("connection %llu to %s ready: %zu channels, %zu-byte chunks, transport %s",
           static_cast<unsigned long long>(id_), peer().c_str(), channels_.size(), chunk_bytes_,
           ctx_.net.name().c_str());
  if (ready_slot_) ctx_.completions.finish(ready_slot_, Status::ok());
  ready_slot_ = 0;
  return Status::ok();
}

bool Connection::progress(bool* did_work) {
  if (state_ == State::kClosed) return false;
  bool work = false;
  Status st = Status::ok();
  if (wantsRead()) {
    st = ctrl_.receive([&](control::FrameType t, const uint8_t* p, size_t n) {
      work = true;
      return onFrame(t, p, n);
    });
  }
  if (st.isOk() && state_ == State::kEstablishing) st = establish(&work);
  bool data_moved = false;
  if (st.isOk() && state_ == State::kReady) {
    for (Channel& ch : channels_) {
      st = ch.progress(ctx_.net, &finished_, &data_moved);
      if (!st.isOk()) break;
    }
    work = work || data_moved;
    // A peer that exits breaks its data sockets and its control socket at once; the transport
    // only says "remote error". Say what happened when the control socket knows.
    if (!st.isOk()) st = explainChannelFailure(st);
  }
  if (st.isOk() && !finished_.empty()) {
    // One entry per finished piece: look at each transfer once (complete() frees it).
    std::sort(finished_.begin(), finished_.end());
    finished_.erase(std::unique(finished_.begin(), finished_.end()), finished_.end());
    for (Transfer* x : finished_) {
      if (x->chunks_done == x->chunks) onPiecesDone(x);
    }
    finished_.clear();
  }
  if (st.isOk()) st = ctrl_.flush();
  if (st.isOk() && peer_bye_)
    st = Status(Code::kPeerClosed, "peer " + peer() + " closed the connection");
  auto now = Clock::now();
  if (work) {
    if (state_ != State::kReady)
      deadline_ = now + std::chrono::milliseconds(ctx_.config.timeout_ms);
    *did_work = true;
  }
  if (st.isOk()) st = checkLiveness(now, data_moved);
  if (!st.isOk()) {
    fail(st);
    return false;
  }
  return true;
}

Status Connection::explainChannelFailure(const Status& channel_error) {
  uint8_t byte = 0;
  ssize_t n = ::recv(ctrl_.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) {
    return Status(Code::kPeerClosed, "peer " + peer() + " closed the connection (its data " +
                                         "channel failed: " + channel_error.message() + ")");
  }
  if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
    return Status(Code::kPeerClosed,
                  "peer " + peer() + " reset the connection (" + errnoText(errno) +
                      "; its data channel failed: " + channel_error.message() + ")");
  }
  return channel_error;
}

void Connection::fail(const Status& why) {
  if (state_ == State::kClosed) return;
  bool orderly = why.code() == Code::kPeerClosed && table_.empty();
  uint64_t held_back = 0;
  if (orderly) {
    LOG_INFO("connection %llu to %s closed: %s", static_cast<unsigned long long>(id_),
             peer().c_str(), why.message().c_str());
  } else if (state_ == State::kAwaitHello) {
    // Anyone can open the control port: what fails before a Hello was accepted is logged at
    // most once a second, with the count.
    if (ctx_.unready_failure_log.allow(&held_back)) {
      LOG_WARN("control connection from %s dropped before its handshake: %s%s", peer().c_str(),
               why.toString().c_str(), heldBackNote(held_back, "more").c_str());
    }
  } else if (ctx_.failure_log.allow(&held_back)) {
    // Each transfer gets its own error; the log says it once a second (a peer that connects and
    // breaks the protocol in a loop must not flood it).
    LOG_WARN("connection %llu to %s failed: %s%s", static_cast<unsigned long long>(id_),
             peer().c_str(), why.toString().c_str(),
             heldBackNote(held_back, "more connection failures").c_str());
  }
  setState(State::kClosed);
  logChannelTimes();
  writeTrace();
  // Keep the channels' traffic in the per-NIC totals (they outlive connections).
  for (Channel& ch : channels_) {
    TrafficCounters& nic = ctx_.nic_counters[static_cast<size_t>(ch.dev)];
    const ChannelCounters& c = ch.counters;
    nic.add({c.bytes_sent, c.bytes_received, c.sends, c.receives, orderly ? 0u : 1u, c.busy_ns});
    ch.counters = {};
  }
  // Comms first: no transport request may outlive the buffers and transfers it refers to.
  for (Channel& ch : channels_) {
    for (void* comm : {ch.send_comm, ch.recv_comm}) {
      if (comm == nullptr) continue;
      ctx_.registry.forgetComm(comm, ctx_.net);
      if (paths_) paths_->forgetComm(ctx_.net, comm);
    }
    ch.close(ctx_.net);
  }
  handshake_.closeListens();
  Status failed(why.code(), "connection to " + peer() + ": " + why.message());
  table_.drain(
      [&](Transfer* x) {
        // The receiver confirmed every byte (Done), or every byte of our read landed here: the
        // transfer succeeded even though the connection ends before the last requests were
        // tested. A read's Done only says the peer finished sending: its pieces must have landed.
        bool ok = x->kind == XferKind::kRead ? x->state == XferState::kAwaitPeer
                                             : x->state == XferState::kAwaitLocal;
        if (x->api_id)
          ctx_.completions.finish(x->api_id, ok ? Status::ok() : failed, ok ? x->size : 0,
                                  x->parts);
      },
      [&](Transfer& recv) {
        if (recv.api_id) ctx_.completions.finish(recv.api_id, failed);
      });
  inline_sends_ = 0;
  buffered_inline_sends_ = 0;
  finished_.clear();
  if (ready_slot_) ctx_.completions.finish(ready_slot_, failed);
  ready_slot_ = 0;
  // After the transfers: a path's destructor waits for the copies still using its memory.
  paths_.reset();
}

void Connection::close() {
  if (state_ == State::kClosed) return;
  ctrl_.send(control::Bye{});
  (void)ctrl_.flush();
  fail(Status(Code::kPeerClosed, "closed by this side"));
}

}  // namespace tcpxp::engine
