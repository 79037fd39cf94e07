// What every CLI role does with the engine: create an endpoint, connect or accept one peer,
// wait for transfers with a deadline, and swap small control messages over the engine's own
// two-sided send/recv (so the tools exercise that path too, and need no side channel).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "engine/endpoint.h"

namespace tcpxp::cli {

using engine::ConnId;
using engine::Endpoint;
using engine::MrId;
using engine::XferId;

// The time by which one step (a wait, a handshake) must be over.
class Deadline {
 public:
  explicit Deadline(double seconds);
  bool passed() const { return std::chrono::steady_clock::now() >= at_; }
  double budget() const { return seconds_; }
  // For the engine's blocking calls: true once the deadline has passed.
  engine::Interrupted interrupted() const;

 private:
  std::chrono::steady_clock::time_point at_;
  double seconds_;
};

// gpu -1: a host-only endpoint.
Status createEndpoint(int gpu, std::unique_ptr<Endpoint>* out);
// "ip:port?bdf" ("ip:port" host-only): what `bench --server` prints and `--client` takes.
std::string endpointAddress(const Endpoint& ep);
// Accepts "IP:PORT", "IP:PORT?BDF" and "[IPv6]:PORT" (numeric addresses).
Status parseEndpointAddress(const std::string& text, std::string* ip, int* port);

Status acceptPeer(Endpoint& ep, double seconds, ConnId* conn, std::string* peer_ip, int* peer_gpu);
Status connectPeer(Endpoint& ep, const std::string& address, double seconds, ConnId* conn);

// One line about the transport: name, device, channels, chunk bytes (Endpoint::info()), e.g.
// "tcpx-p2p-socket on lo (device 0), 4 channels, chunk 1 MiB, 4 sockets/comm".
std::string transportSummary(const Endpoint& ep);
// The data paths of this endpoint's buffers, sending and receiving, with the reasons
// (engine::decideBufferPaths over the endpoint's transport properties).
std::string dataPathSummary(const Endpoint& ep, bool gpu_memory);

// Waits for one transfer; a missed deadline is kTimeout naming `what`. stop: when given, the
// wait also ends (kTimeout, "stopped") once *stop is true: another thread's pair failed.
Status waitTransfer(Endpoint& ep, XferId id, const Deadline& deadline, const std::string& what,
                    size_t* bytes = nullptr, const std::atomic<bool>* stop = nullptr);

// Small messages (at most kMaxBytes) on one connection through registered host buffers. Not
// thread-safe; sends and receives are matched in posting order, like every engine send/recv.
// Lifetime: declare it BEFORE the endpoint so that it is destroyed after it: the endpoint's
// teardown ends every transfer that might still use the buffers (their registrations die with
// the endpoint; the destructor does not touch it).
class Messenger {
 public:
  static constexpr size_t kMaxBytes = 64 << 10;

  static Status create(Endpoint* ep, ConnId conn, double timeout_s,
                       std::unique_ptr<Messenger>* out);
  ~Messenger() = default;

  Status send(const void* data, size_t n, const std::string& what);
  // Receives one message of at most `capacity` bytes; *n gets its length. seconds 0: timeout().
  Status recv(void* data, size_t capacity, size_t* n, const std::string& what, double seconds = 0);
  // A message that must be exactly sizeof(T) bytes.
  template <class T>
  Status sendPod(const T& v, const std::string& what) {
    static_assert(std::is_trivially_copyable_v<T>);
    return send(&v, sizeof(T), what);
  }
  template <class T>
  Status recvPod(T* v, const std::string& what, double seconds = 0) {
    static_assert(std::is_trivially_copyable_v<T>);
    size_t n = 0;
    TCPXP_RETURN_IF_ERROR(recv(v, sizeof(T), &n, what, seconds));
    if (n != sizeof(T)) {
      return Status(Code::kProtocolError, what + ": got " + std::to_string(n) +
                                              " bytes, expected " + std::to_string(sizeof(T)) +
                                              " (peer runs another tcpx-p2p version?)");
    }
    return Status::ok();
  }
  // The end of a conversation: the side that received the last message waits until the peer
  // closes (an orderly kPeerClosed), so that the acknowledgement of that message reaches the
  // peer before this side closes too. Another message is a protocol error.
  Status awaitClose(const std::string& what);
  double timeout() const { return timeout_s_; }
  // Every later wait also ends once *stop is true (see waitTransfer). `stop` outlives this.
  void stopWhen(const std::atomic<bool>* stop) { stop_ = stop; }

 private:
  Messenger() = default;

  Endpoint* ep_ = nullptr;
  ConnId conn_ = 0;
  double timeout_s_ = 60;
  std::vector<uint8_t> send_buf_, recv_buf_;
  MrId send_mr_ = 0, recv_mr_ = 0;
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace tcpxp::cli
