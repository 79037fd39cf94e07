// The handshake of one connection (driver thread, non-blocking), apart from its transfers:
//   connector: listen N comms -> Hello{handles} -> HelloAck{handles} -> connect N send comms
//              and accept N recv comms at once -> ready
//   acceptor:  Hello -> listen N comms -> HelloAck -> connect + accept -> ready
// Both sides use the connector's channel count and chunk size. Which frame is expected when is
// the connection's state machine's business (connection.cc).
#pragma once

#include <vector>

#include "common/status.h"
#include "control/control_wire.h"
#include "engine/channel.h"
#include "engine/control_socket.h"
#include "engine/engine_context.h"

namespace tcpxp::engine {

// The control protocol's version in Hello; a different one is refused. 5: Read/ReadVec name the
// reader's queued channels (answered without a Cts); 4: WriteVec/ReadVec; 3: 128-bit access
// tokens, Heartbeat frames; 2: Cts names the first channel, inline frames.
inline constexpr uint32_t kEngineVersion = 5;

class Handshake {
 public:
  Handshake(EngineContext& ctx, ControlSocket& ctrl) : ctx_(ctx), ctrl_(ctrl) {}
  ~Handshake() { closeListens(); }
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // Connector: listens on this side's comms and sends Hello.
  Status start();
  // Acceptor: answers the peer's Hello with HelloAck (or a refusal, returned as kRefused).
  Status onHello(const control::Hello& m);
  // Connector: takes the peer's answer.
  Status onHelloAck(const control::HelloAck& m);

  // After onHello / onHelloAck: the channels to make (sized, devices set), chunk size, peer GPU.
  std::vector<Channel> makeChannels() const;
  size_t chunkBytes() const { return chunk_bytes_; }
  int remoteGpu() const { return remote_gpu_; }

  // One non-blocking step of connecting every send comm and accepting every recv comm,
  // interleaved (both peers do this at once). *done once every channel has both.
  Status establish(std::vector<Channel>* channels, bool* did_work, bool* done);
  void closeListens();

 private:
  Status listenAll(size_t n, std::vector<transport::NetHandle>* handles);
  // Why the peer's handles must not be dialled, or "" (see handshake.cc).
  std::string checkHandleHosts(const std::vector<control::PluginHandle>& handles) const;
  int devFor(size_t channel) const { return ctx_.devs[channel % ctx_.devs.size()]; }

  EngineContext& ctx_;
  ControlSocket& ctrl_;
  std::vector<void*> listen_comms_;
  std::vector<transport::NetHandle> connect_handles_;  // peer's handles, one connect each
  size_t chunk_bytes_ = 0;
  int remote_gpu_ = -1;
};

}  // namespace tcpxp::engine
