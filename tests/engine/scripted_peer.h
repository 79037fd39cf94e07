// A peer that speaks the control protocol by hand, for the hostile-peer tests and the Connection
// fuzzer: it dials an Endpoint's control port, sends whatever frames (or bytes) a test scripts,
// reads what comes back, and can complete a real handshake (its channel comms on the built-in
// transport of this process, or on a given table) so that frames can be scripted on a ready
// connection.
//
// Every wait is bounded by the timeout given; nothing sleeps to synchronise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "control/control_wire.h"
#include "transport/net.h"

namespace tcpxp::engine::testing {

class ScriptedPeer {
 public:
  ScriptedPeer() = default;
  // Its channels on `transport` (the endpoint's own table), not the built-in one.
  explicit ScriptedPeer(transport::NetPlugin* transport) : plugin_(transport) {}
  ~ScriptedPeer();
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  // Connects to 127.0.0.1:port (blocking, bounded).
  Status dial(uint16_t port, int timeout_ms = 5000);
  int fd() const { return fd_.get(); }

  Status sendBytes(const std::vector<uint8_t>& bytes);
  template <typename Msg>
  Status send(const Msg& msg) {
    std::vector<uint8_t> bytes;
    control::encode(msg, &bytes);
    return sendBytes(bytes);
  }

  // The next frame from the endpoint. kPeerClosed once it closed the socket, kTimeout when
  // nothing complete arrived in time, kProtocolError for a frame header this peer cannot parse.
  Status next(control::FrameHeader* header, std::vector<uint8_t>* payload, int timeout_ms);
  // Reads and drops frames until the endpoint closes the socket: true if it did in time.
  bool closedWithin(int timeout_ms, std::vector<control::FrameType>* seen = nullptr);

  // A Hello as the engine would send it (1 channel, 1 MiB chunks, host memory, the transport's
  // name), with `channels` listen handles of this process's transport (built-in unless given).
  Status hello(control::Hello* out, size_t channels = 1);
  // hello(), send it, expect HelloAck OK, then connect and accept the comms: the endpoint's side
  // of the connection is then ready (it answers what comes next).
  Status handshake(int timeout_ms = 5000);
  // After handshake(): the comm that carries this peer's data to the endpoint on channel i.
  void* sendComm(size_t i) const { return i < send_comms_.size() ? send_comms_[i] : nullptr; }
  // ... and the endpoint's data to this peer.
  void* recvComm(size_t i) const { return i < recv_comms_.size() ? recv_comms_[i] : nullptr; }
  // Moves `n` bytes of `buf` as one request on channel i (receiving: from the endpoint, else to
  // it), through this peer's transport; returns once the request completed (bounded).
  Status moveBytes(size_t i, bool receiving, void* buf, size_t n, int timeout_ms = 5000);

 private:
  Fd fd_;
  std::vector<uint8_t> in_;
  transport::NetPlugin* plugin_ = nullptr;
  std::vector<void*> listen_comms_, send_comms_, recv_comms_;
};

}  // namespace tcpxp::engine::testing
