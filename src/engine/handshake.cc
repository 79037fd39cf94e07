#include "engine/handshake.h"

#include "common/log.h"
#include "common/net_util.h"
#include "transport/transports.h"

namespace tcpxp::engine {

Status Handshake::listenAll(size_t n, std::vector<transport::NetHandle>* handles) {
  listen_comms_.assign(n, nullptr);
  handles->assign(n, {});
  for (size_t i = 0; i < n; ++i) {
    TCPXP_RETURN_IF_ERROR(ctx_.net.listen(devFor(i), &(*handles)[i], &listen_comms_[i]));
  }
  return Status::ok();
}

Status Handshake::start() {
  control::Hello hello;
  hello.engine_version = kEngineVersion;
  hello.chunk_bytes = static_cast<uint32_t>(ctx_.config.chunk_bytes);
  hello.gpu_index = ctx_.gpu_index;
  hello.transport = ctx_.net.name();
  std::vector<transport::NetHandle> handles;
  TCPXP_RETURN_IF_ERROR(listenAll(static_cast<size_t>(ctx_.config.num_channels), &handles));
  hello.handles.assign(handles.begin(), handles.end());
  ctrl_.send(hello);
  return ctrl_.flush();
}

// The acceptor dials the connector's handles: an unauthenticated Hello must not make it dial
// anyone else (a port scanner for hire). The built-in transport's handles say where they point:
// at the peer's own control address, or at a network this machine is on (a data NIC of the
// peer). TCPX's handles are opaque to us; its connect goes to rxdm-steered NICs only.
std::string Handshake::checkHandleHosts(const std::vector<control::PluginHandle>& handles) const {
  if (!transport::isBuiltinName(ctx_.net.name())) return "";
  std::string peer_host = ctrl_.peer().substr(0, ctrl_.peer().rfind(':'));
  if (!peer_host.empty() && peer_host.front() == '[')
    peer_host = peer_host.substr(1, peer_host.size() - 2);
  for (size_t i = 0; i < handles.size(); ++i) {
    std::string host = transport::builtinHandleHost(handles[i].data());
    if (host.empty()) return "transport handle " + std::to_string(i) + " is malformed";
    if (host != peer_host && !onALocalNetwork(host)) {
      return "transport handle " + std::to_string(i) + " points at " + host +
             ", neither the peer's address nor a network of this machine (not dialled)";
    }
  }
  return "";
}

Status Handshake::onHello(const control::Hello& m) {
  control::HelloAck ack;
  ack.chunk_bytes = m.chunk_bytes;
  ack.gpu_index = ctx_.gpu_index;
  std::string refuse;
  Code refuse_code = Code::kRefused;
  if (m.engine_version != kEngineVersion) {
    refuse = "engine version " + std::to_string(m.engine_version) +
             " is not supported (this side: " + std::to_string(kEngineVersion) + ")";
  } else if (ctx_.connections > static_cast<size_t>(ctx_.config.max_connections)) {
    refuse_code = Code::kResourceExhausted;
    refuse = "this endpoint holds " + std::to_string(ctx_.connections - 1) +
             " connections, its limit (UCCL_TCPX_MAX_CONNECTIONS=" +
             std::to_string(ctx_.config.max_connections) + ")";
  } else if (m.handles.size() > static_cast<size_t>(kMaxChannels)) {
    // Each channel costs sockets and threads here: the peer gets no more than we would use.
    refuse = std::to_string(m.handles.size()) + " channels asked; at most " +
             std::to_string(kMaxChannels) + " (UCCL_TCPX_NUM_CHANNELS)";
  } else if (m.chunk_bytes < kMinChunkBytes || m.chunk_bytes > kMaxChunkBytes) {
    // A tiny chunk turns one small transfer into millions of requests and pieces.
    refuse = "chunk size " + std::to_string(m.chunk_bytes) + " outside [" +
             std::to_string(kMinChunkBytes) + ", " + std::to_string(kMaxChunkBytes) +
             "] (UCCL_TCPX_CHUNK_BYTES)";
  } else if (std::string why = checkHandleHosts(m.handles); !why.empty()) {
    refuse = why;
  } else if (m.transport != ctx_.net.name()) {
    refuse = "peer uses transport '" + m.transport + "', this side '" + ctx_.net.name() +
             "' (set UCCL_P2P_TRANSPORT the same on both sides)";
  } else if (static_cast<int>(m.handles.size()) != ctx_.config.num_channels) {
    LOG_INFO("connection %s: using the connector's %zu channels (this side's default: %d)",
             ctrl_.peer().c_str(), m.handles.size(), ctx_.config.num_channels);
  }
  if (!refuse.empty()) {
    ack.status = refuse_code;
    ack.message = refuse;
    ctrl_.send(ack);
    (void)ctrl_.flush();
    return Status(refuse_code, "refused connection from " + ctrl_.peer() + ": " + refuse);
  }
  remote_gpu_ = m.gpu_index;
  chunk_bytes_ = m.chunk_bytes;
  std::vector<transport::NetHandle> handles;
  if (Status st = listenAll(m.handles.size(), &handles); !st.isOk()) {
    // Tell the connector why (out of ports or descriptors here), instead of just closing.
    ack.status = st.code();
    ack.message = "the accepting endpoint could not listen for its channels: " + st.message();
    if (ack.message.size() > control::kMaxErrorMessageBytes) {
      ack.message.resize(control::kMaxErrorMessageBytes);
    }
    ctrl_.send(ack);
    (void)ctrl_.flush();
    return st;
  }
  ack.handles.assign(handles.begin(), handles.end());
  connect_handles_.assign(m.handles.begin(), m.handles.end());
  ctrl_.send(ack);
  return Status::ok();
}

Status Handshake::onHelloAck(const control::HelloAck& m) {
  if (m.status != Code::kOk) {
    return Status(m.status, "peer " + ctrl_.peer() + " refused the connection: " + m.message);
  }
  if (m.handles.size() != listen_comms_.size() || m.chunk_bytes != ctx_.config.chunk_bytes) {
    return Status(Code::kProtocolError, "HelloAck does not match the Hello (channels/chunk size)");
  }
  remote_gpu_ = m.gpu_index;
  chunk_bytes_ = m.chunk_bytes;
  connect_handles_.assign(m.handles.begin(), m.handles.end());
  return Status::ok();
}

std::vector<Channel> Handshake::makeChannels() const {
  std::vector<Channel> channels(connect_handles_.size());
  for (size_t i = 0; i < channels.size(); ++i) {
    channels[i].index = static_cast<uint32_t>(i);
    channels[i].dev = devFor(i);
    channels[i].tracing = !ctx_.config.trace_prefix.empty();
  }
  return channels;
}

Status Handshake::establish(std::vector<Channel>* channels, bool* did_work, bool* done) {
  bool all = true;
  for (size_t i = 0; i < channels->size(); ++i) {
    Channel& ch = (*channels)[i];
    if (ch.send_comm == nullptr) {
      TCPXP_RETURN_IF_ERROR(ctx_.net.connect(ch.dev, &connect_handles_[i], &ch.send_comm));
      if (ch.send_comm) *did_work = true;
    }
    if (ch.recv_comm == nullptr) {
      TCPXP_RETURN_IF_ERROR(ctx_.net.accept(listen_comms_[i], &ch.recv_comm, &ch.unpack));
      if (ch.recv_comm) {
        *did_work = true;
        // One accept per listen comm (docs/TCPX.md): close it right after.
        TCPXP_RETURN_IF_ERROR(ctx_.net.closeListen(listen_comms_[i]));
        listen_comms_[i] = nullptr;
      }
    }
    all = all && ch.send_comm && ch.recv_comm;
  }
  *done = all;
  return Status::ok();
}

void Handshake::closeListens() {
  for (void*& lc : listen_comms_) {
    if (lc) (void)ctx_.net.closeListen(lc);
    lc = nullptr;
  }
}

}  // namespace tcpxp::engine
