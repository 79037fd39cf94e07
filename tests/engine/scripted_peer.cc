#include "tests/engine/scripted_peer.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "engine/handshake.h"
#include "transport/transports.h"

namespace tcpxp::engine::testing {
namespace {

using Clock = std::chrono::steady_clock;

int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

ScriptedPeer::~ScriptedPeer() {
  if (plugin_ == nullptr) return;
  transport::Net net(plugin_);
  for (void* c : send_comms_) (void)net.closeSend(c);
  for (void* c : recv_comms_) (void)net.closeRecv(c);
  for (void* c : listen_comms_) {
    if (c) (void)net.closeListen(c);
  }
}

Status ScriptedPeer::dial(uint16_t port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(Code::kSystemError, "socket()");
  fd_ = Fd(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Loopback connects complete at once (or are refused); the timeout bounds the rest.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status(Code::kSystemError, std::string("connect: ") + std::strerror(errno));
  }
  (void)timeout_ms;
  return Status::ok();
}

Status ScriptedPeer::sendBytes(const std::vector<uint8_t>& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status(Code::kPeerClosed, std::string("send: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}

Status ScriptedPeer::next(control::FrameHeader* header, std::vector<uint8_t>* payload,
                          int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (in_.size() >= control::kFrameHeaderBytes) {
      control::FrameHeader h;
      Status st = control::decodeFrameHeader(in_.data(), &h);
      if (!st.isOk()) return Status(Code::kProtocolError, st.message());
      size_t frame = control::kFrameHeaderBytes + h.payload_len;
      if (in_.size() >= frame) {
        *header = h;
        payload->assign(in_.begin() + control::kFrameHeaderBytes, in_.begin() + frame);
        in_.erase(in_.begin(), in_.begin() + frame);
        return Status::ok();
      }
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, msLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Status(Code::kTimeout, "no frame in time");
    uint8_t buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status(Code::kPeerClosed, "the endpoint closed the socket");
    in_.insert(in_.end(), buf, buf + n);
  }
}

bool ScriptedPeer::closedWithin(int timeout_ms, std::vector<control::FrameType>* seen) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    control::FrameHeader h;
    std::vector<uint8_t> payload;
    Status st = next(&h, &payload, msLeft(deadline));
    if (st.code() == Code::kPeerClosed) return true;
    if (!st.isOk()) return false;
    if (seen) seen->push_back(h.type);
  }
}

Status ScriptedPeer::hello(control::Hello* out, size_t channels) {
  if (plugin_ == nullptr) TCPXP_RETURN_IF_ERROR(transport::loadBuiltin(&plugin_));
  transport::Net net(plugin_);
  control::Hello h;
  h.engine_version = kEngineVersion;
  h.chunk_bytes = 1 << 20;
  h.gpu_index = -1;
  h.transport = net.name();
  for (size_t i = 0; i < channels; ++i) {
    transport::NetHandle handle{};
    void* listen = nullptr;
    TCPXP_RETURN_IF_ERROR(net.listen(0, &handle, &listen));
    listen_comms_.push_back(listen);
    h.handles.push_back(handle);
  }
  *out = std::move(h);
  return Status::ok();
}

Status ScriptedPeer::handshake(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  control::Hello h;
  TCPXP_RETURN_IF_ERROR(hello(&h));
  TCPXP_RETURN_IF_ERROR(send(h));
  control::FrameHeader header;
  std::vector<uint8_t> payload;
  TCPXP_RETURN_IF_ERROR(next(&header, &payload, msLeft(deadline)));
  if (header.type != control::FrameType::kHelloAck) {
    return Status(Code::kProtocolError, "expected HelloAck");
  }
  control::HelloAck ack;
  TCPXP_RETURN_IF_ERROR(control::decode(payload.data(), payload.size(), &ack));
  if (ack.status != Code::kOk) return Status(ack.status, "refused: " + ack.message);
  transport::Net net(plugin_);
  send_comms_.assign(ack.handles.size(), nullptr);
  recv_comms_.assign(listen_comms_.size(), nullptr);
  for (;;) {
    bool all = true;
    for (size_t i = 0; i < ack.handles.size(); ++i) {
      transport::NetHandle handle = ack.handles[i];
      if (!send_comms_[i]) TCPXP_RETURN_IF_ERROR(net.connect(0, &handle, &send_comms_[i]));
      if (!recv_comms_[i]) {
        transport::UnpackHandle unpack{};
        TCPXP_RETURN_IF_ERROR(net.accept(listen_comms_[i], &recv_comms_[i], &unpack));
        if (recv_comms_[i]) {
          TCPXP_RETURN_IF_ERROR(net.closeListen(listen_comms_[i]));
          listen_comms_[i] = nullptr;
        }
      }
      all = all && send_comms_[i] && recv_comms_[i];
    }
    if (all) return Status::ok();
    if (Clock::now() > deadline) return Status(Code::kTimeout, "comms not established in time");
    ::poll(nullptr, 0, 1);  // the transport's connect/accept have no descriptor to wait on
  }
}

Status ScriptedPeer::moveBytes(size_t i, bool receiving, void* buf, size_t n, int timeout_ms) {
  void* comm = receiving ? recvComm(i) : sendComm(i);
  if (comm == nullptr) return Status(Code::kInvalidArgument, "no such channel");
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  transport::Net net(plugin_);
  void* mh = nullptr;
  TCPXP_RETURN_IF_ERROR(net.regMr(comm, buf, n, transport::MemKind::kHost, &mh));
  void* request = nullptr;
  Status st =
      receiving ? net.irecv(comm, buf, n, mh, &request) : net.isend(comm, buf, n, mh, &request);
  if (st.isOk() && request == nullptr) st = Status(Code::kInternal, "the transport was not ready");
  bool done = false;
  while (st.isOk() && !done) {
    st = net.test(request, &done);
    if (st.isOk() && !done && Clock::now() > deadline) {
      st = Status(Code::kTimeout, "the request did not complete in time");
    }
  }
  if (st.isOk() && receiving) st = net.irecvConsumed(comm, request);
  Status dereg = net.deregMr(comm, mh);
  return st.isOk() ? dereg : st;
}

}  // namespace tcpxp::engine::testing
