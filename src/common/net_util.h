// Small socket helpers shared by the transports and the control plane.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace tcpxp {

// An IPv4 or IPv6 socket address.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  uint16_t port() const;
  void setPort(uint16_t port);
  // "1.2.3.4:5" or "[::1]:5"
  std::string toString() const;
};

// Text of errno, e.g. "Connection refused (errno 111)".
std::string errnoText(int err);

// Blocking send/recv of exactly `len` bytes (MSG_NOSIGNAL; EINTR retried).
// recvAll returns kPeerClosed on an orderly EOF before `len` bytes.
Status sendAll(int fd, const void* data, size_t len);
Status recvAll(int fd, void* data, size_t len);

// After a readv/sendmsg moved `n` bytes of iov[*first .. count): skips the iovecs it finished and
// trims the one it stopped in, so the call can be repeated on iov + *first.
void advanceIov(struct iovec* iov, int count, int* first, size_t n);

Status setNonBlocking(int fd, bool on);
void setNoDelay(int fd);

// The address without the port: "1.2.3.4" or "::1" ("" for another family).
std::string hostOf(const SockAddr& addr);
// Whether `ip` (text) is on the network of one of this machine's interfaces (its address under
// that interface's netmask), loopback included.
bool onALocalNetwork(const std::string& ip);

}  // namespace tcpxp
