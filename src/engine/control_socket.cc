#include "engine/control_socket.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/net_util.h"

namespace tcpxp::engine {

ControlSocket::ControlSocket(Fd fd, std::string peer)
    : fd_(std::move(fd)),
      peer_(std::move(peer)),
      in_(control::kFrameHeaderBytes + control::kMaxFramePayloadBytes) {}

Status ControlSocket::flush() {
  while (out_off_ < out_.size()) {
    ssize_t n = ::send(fd_.get(), out_.data() + out_off_, out_.size() - out_off_,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::ok();
      return Status(errno == EPIPE || errno == ECONNRESET ? Code::kPeerClosed : Code::kSystemError,
                    "control socket to " + peer_ + ": " + errnoText(errno));
    }
    out_off_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_off_ = 0;
  return Status::ok();
}

Status ControlSocket::receive(const FrameHandler& handler) {
  for (;;) {
    size_t space = in_.size() - in_len_;
    ssize_t n = ::recv(fd_.get(), in_.data() + in_len_, space, MSG_DONTWAIT);
    if (n == 0)
      return Status(Code::kPeerClosed, "control socket to " + peer_ + " closed by the peer");
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::ok();
      return Status(errno == ECONNRESET ? Code::kPeerClosed : Code::kSystemError,
                    "control socket to " + peer_ + ": " + errnoText(errno));
    }
    in_len_ += static_cast<size_t>(n);
    size_t off = 0;
    while (in_len_ - off >= control::kFrameHeaderBytes) {
      control::FrameHeader header;
      Status st = control::decodeFrameHeader(in_.data() + off, &header);
      if (!st.isOk()) {
        return Status(Code::kProtocolError, "control socket to " + peer_ + ": " + st.message());
      }
      size_t frame = control::kFrameHeaderBytes + header.payload_len;
      if (in_len_ - off < frame) break;
      TCPXP_RETURN_IF_ERROR(
          handler(header.type, in_.data() + off + control::kFrameHeaderBytes, header.payload_len));
      off += frame;
    }
    if (off > 0) {
      last_heard_ = std::chrono::steady_clock::now();
      std::memmove(in_.data(), in_.data() + off, in_len_ - off);
      in_len_ -= off;
    }
    // A short read emptied the socket: the next turn reads what arrives meanwhile. Saves the
    // recv() that would only say EAGAIN, one syscall per turn with frames.
    if (static_cast<size_t>(n) < space) return Status::ok();
  }
}

}  // namespace tcpxp::engine
