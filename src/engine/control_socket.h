// Non-blocking framed I/O on one connection's control socket (codec: control/control_wire.h).
// Driver thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "control/control_wire.h"

namespace tcpxp::engine {

class ControlSocket {
 public:
  ControlSocket(Fd fd, std::string peer);
  int fd() const { return fd_.get(); }
  const std::string& peer() const { return peer_; }

  template <typename Msg>
  void send(const Msg& msg) {
    control::encode(msg, &out_);
    last_sent_ = std::chrono::steady_clock::now();
  }
  // Writes what it can of the queued output. kPeerClosed / kSystemError when the socket broke.
  Status flush();
  bool hasOutput() const { return out_off_ < out_.size(); }
  size_t outputBytes() const { return out_.size() - out_off_; }

  using FrameHandler = std::function<Status(control::FrameType, const uint8_t*, size_t)>;
  // Reads what is available and calls `handler` per complete frame. kPeerClosed on EOF,
  // kProtocolError on a bad header (the handler's errors are returned as they are).
  Status receive(const FrameHandler& handler);
  // When the last frame was queued to the peer / arrived from it (liveness: heartbeats go out
  // after quiet on our side, silence on theirs fails the connection). Both start at creation.
  std::chrono::steady_clock::time_point lastSent() const { return last_sent_; }
  std::chrono::steady_clock::time_point lastHeard() const { return last_heard_; }

 private:
  Fd fd_;
  std::string peer_;
  std::vector<uint8_t> out_;
  size_t out_off_ = 0;
  std::vector<uint8_t> in_;
  size_t in_len_ = 0;
  std::chrono::steady_clock::time_point last_sent_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_heard_ = last_sent_;
};

}  // namespace tcpxp::engine
