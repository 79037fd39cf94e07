#include "api/cli/session.h"

#include <cstdio>
#include <cstring>

#include "api/cli/args.h"
#include "control/metadata.h"
#include "engine/decisions.h"

namespace tcpxp::cli {
Deadline::Deadline(double seconds)
    : at_(std::chrono::steady_clock::now() +
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>(seconds))),
      seconds_(seconds) {}

engine::Interrupted Deadline::interrupted() const {
  auto at = at_;
  return [at] { return std::chrono::steady_clock::now() >= at; };
}

Status createEndpoint(int gpu, std::unique_ptr<Endpoint>* out) {
  Status st = Endpoint::create(gpu, out);
  if (!st.isOk()) {
    return Status(st.code(),
                  "cannot create the endpoint" +
                      (gpu < 0 ? std::string(" (host memory)") : " on GPU " + std::to_string(gpu)) +
                      ": " + st.message());
  }
  return Status::ok();
}

std::string endpointAddress(const Endpoint& ep) {
  control::EndpointMetadata md{ep.info().ip, ep.info().port, ep.info().bdf};
  std::string text;
  if (!control::formatMetadataString(md, &text).isOk()) {
    text = ep.info().ip + ":" + std::to_string(ep.info().port) + "?" + ep.info().bdf;
  }
  if (!text.empty() && text.back() == '?') text.pop_back();  // host-only: no BDF
  return text;
}

Status parseEndpointAddress(const std::string& text, std::string* ip, int* port) {
  control::EndpointMetadata md;
  std::string full = text.find('?') == std::string::npos ? text + "?" : text;
  Status st = control::parseMetadataString(full, &md);
  if (!st.isOk()) {
    return Status(
        Code::kInvalidArgument,
        "'" + text + "' is not IP:PORT, IP:PORT?BDF or [IPv6]:PORT (" + st.message() + ")");
  }
  *ip = md.ip;
  *port = md.port;
  return Status::ok();
}

Status acceptPeer(Endpoint& ep, double seconds, ConnId* conn, std::string* peer_ip, int* peer_gpu) {
  Deadline d(seconds);
  Status st =
      ep.accept(conn, peer_ip, peer_gpu, d.interrupted(), static_cast<int64_t>(seconds * 1000));
  if (!st.isOk()) {
    return Status(st.code(), "no peer connected to " + endpointAddress(ep) + " within " +
                                 std::to_string(static_cast<int>(seconds)) + " s: " + st.message());
  }
  return Status::ok();
}

Status connectPeer(Endpoint& ep, const std::string& address, double seconds, ConnId* conn) {
  std::string ip;
  int port = 0;
  TCPXP_RETURN_IF_ERROR(parseEndpointAddress(address, &ip, &port));
  Deadline d(seconds);
  Status st = ep.connect(ip, -1, port, conn, d.interrupted());
  if (!st.isOk()) return Status(st.code(), "cannot connect to " + address + ": " + st.message());
  return Status::ok();
}

std::string transportSummary(const Endpoint& ep) {
  const engine::EndpointInfo& info = ep.info();
  std::string out = info.transport + " on " + info.dev_name + " (device " +
                    std::to_string(info.dev) + "), " + std::to_string(info.num_channels) +
                    " channels, chunk " + formatBytes(static_cast<uint64_t>(info.chunk_bytes));
  if (!info.transport_detail.empty()) out += ", " + info.transport_detail;
  return out;
}

std::string dataPathSummary(const Endpoint& ep, bool gpu_memory) {
  const engine::EndpointInfo& info = ep.info();
  datapath::TransportCaps caps{info.transport_moves_gpu_memory, info.unpack};
  return engine::describeBufferPaths(
      engine::decideBufferPaths(gpu_memory || info.emulated_gpu_buffers, caps));
}

Status waitTransfer(Endpoint& ep, XferId id, const Deadline& deadline, const std::string& what,
                    size_t* bytes, const std::atomic<bool>* stop) {
  engine::Interrupted interrupted = deadline.interrupted();
  if (stop) {
    interrupted = [passed = std::move(interrupted), stop] {
      return stop->load(std::memory_order_relaxed) || passed();
    };
  }
  Status st = ep.wait(id, interrupted, bytes);
  if (st.isOk()) return st;
  if (stop && stop->load(std::memory_order_relaxed))
    return Status(Code::kTimeout, what + ": stopped (another pair failed)");
  if (st.code() == Code::kTimeout && deadline.passed()) {
    char budget[32];
    std::snprintf(budget, sizeof(budget), "%g", deadline.budget());
    return Status(Code::kTimeout, what + ": not done within " + budget +
                                      " s (--timeout); is the peer still running?");
  }
  return Status(st.code(), what + ": " + st.message());
}

Status Messenger::create(Endpoint* ep, ConnId conn, double timeout_s,
                         std::unique_ptr<Messenger>* out) {
  std::unique_ptr<Messenger> m(new Messenger());
  m->ep_ = ep;
  m->conn_ = conn;
  m->timeout_s_ = timeout_s;
  m->send_buf_.resize(kMaxBytes);
  m->recv_buf_.resize(kMaxBytes);
  TCPXP_RETURN_IF_ERROR(ep->reg(m->send_buf_.data(), kMaxBytes, &m->send_mr_));
  TCPXP_RETURN_IF_ERROR(ep->reg(m->recv_buf_.data(), kMaxBytes, &m->recv_mr_));
  *out = std::move(m);
  return Status::ok();
}

Status Messenger::awaitClose(const std::string& what) {
  engine::Segment seg{recv_mr_, recv_buf_.data(), kMaxBytes};
  XferId id = 0;
  Status st = ep_->recvAsync(conn_, {&seg, 1}, &id);
  if (st.code() == Code::kNotFound) return Status::ok();  // already closed
  if (!st.isOk()) return Status(st.code(), what + ": " + st.message());
  st = waitTransfer(*ep_, id, Deadline(timeout_s_), what, nullptr, stop_);
  if (st.code() == Code::kPeerClosed) return Status::ok();
  if (st.isOk()) return Status(Code::kProtocolError, what + ": the peer sent another message");
  return st;
}

Status Messenger::send(const void* data, size_t n, const std::string& what) {
  if (n == 0 || n > kMaxBytes)
    return Status(Code::kInvalidArgument, what + ": message of " + std::to_string(n) + " bytes");
  std::memcpy(send_buf_.data(), data, n);
  engine::Segment seg{send_mr_, send_buf_.data(), n};
  XferId id = 0;
  Status st = ep_->sendAsync(conn_, {&seg, 1}, &id);
  if (!st.isOk()) return Status(st.code(), what + ": " + st.message());
  return waitTransfer(*ep_, id, Deadline(timeout_s_), what, nullptr, stop_);
}

Status Messenger::recv(void* data, size_t capacity, size_t* n, const std::string& what,
                       double seconds) {
  if (capacity == 0 || capacity > kMaxBytes)
    return Status(Code::kInvalidArgument, what + ": bad capacity");
  engine::Segment seg{recv_mr_, recv_buf_.data(), capacity};
  XferId id = 0;
  Status st = ep_->recvAsync(conn_, {&seg, 1}, &id);
  if (!st.isOk()) return Status(st.code(), what + ": " + st.message());
  size_t got = 0;
  TCPXP_RETURN_IF_ERROR(
      waitTransfer(*ep_, id, Deadline(seconds > 0 ? seconds : timeout_s_), what, &got, stop_));
  if (got > capacity)
    return Status(Code::kProtocolError, what + ": message larger than its buffer");
  std::memcpy(data, recv_buf_.data(), got);
  *n = got;
  return Status::ok();
}

}  // namespace tcpxp::cli
