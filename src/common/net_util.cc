#include "common/net_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tcpxp {

uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SockAddr::setPort(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

std::string SockAddr::toString() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host,
              sizeof(host));
    return std::string(host) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host,
              sizeof(host));
    std::string out = "[";  // appended piecewise: GCC 12's -Wrestrict misfires on a + chain here
    out.append(host).append("]:").append(std::to_string(port()));
    return out;
  }
  return "<no address>";
}

std::string errnoText(int err) {
  char buf[128];
  const char* text = strerror_r(err, buf, sizeof(buf));
  return std::string(text) + " (errno " + std::to_string(err) + ")";
}

Status sendAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(errno == EPIPE || errno == ECONNRESET ? Code::kPeerClosed : Code::kSystemError,
                    "send: " + errnoText(errno));
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::ok();
}

Status recvAll(int fd, void* data, size_t len) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = ::recv(fd, p, len, MSG_WAITALL);
    if (n == 0) return Status(Code::kPeerClosed, "peer closed the socket");
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(errno == ECONNRESET ? Code::kPeerClosed : Code::kSystemError,
                    "recv: " + errnoText(errno));
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::ok();
}

void advanceIov(iovec* iov, int count, int* first, size_t n) {
  while (*first < count && n >= iov[*first].iov_len) {
    n -= iov[*first].iov_len;
    ++*first;
  }
  if (*first < count) {
    iov[*first].iov_base = static_cast<char*>(iov[*first].iov_base) + n;
    iov[*first].iov_len -= n;
  }
}

Status setNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0) return Status(Code::kSystemError, "fcntl(F_GETFL): " + errnoText(errno));
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) < 0) {
    return Status(Code::kSystemError, "fcntl(F_SETFL): " + errnoText(errno));
  }
  return Status::ok();
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

std::string hostOf(const SockAddr& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr.get())->sin_addr, text,
                sizeof text);
  } else if (addr.family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr.get())->sin6_addr, text,
                sizeof text);
  }
  return text;
}

bool onALocalNetwork(const std::string& ip) {
  in_addr v4{};
  in6_addr v6{};
  bool is4 = ::inet_pton(AF_INET, ip.c_str(), &v4) == 1;
  if (!is4 && ::inet_pton(AF_INET6, ip.c_str(), &v6) != 1) return false;
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return false;
  bool found = false;
  for (ifaddrs* i = all; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_netmask == nullptr) continue;
    if (is4 && i->ifa_addr->sa_family == AF_INET) {
      uint32_t a = reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr;
      uint32_t m = reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr;
      found = (a & m) == (v4.s_addr & m);
    } else if (!is4 && i->ifa_addr->sa_family == AF_INET6) {
      const uint8_t* a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr.s6_addr;
      const uint8_t* m = reinterpret_cast<sockaddr_in6*>(i->ifa_netmask)->sin6_addr.s6_addr;
      found = true;
      for (int b = 0; b < 16 && found; ++b) found = (a[b] & m[b]) == (v6.s6_addr[b] & m[b]);
    }
  }
  ::freeifaddrs(all);
  return found;
}

}  // namespace tcpxp
