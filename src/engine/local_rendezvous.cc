#include "engine/local_rendezvous.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "common/net_util.h"

namespace tcpxp::engine {

namespace {

constexpr uint8_t kMagic[4] = {'T', 'P', 'L', 'H'};
constexpr uint16_t kVersion = 1;
constexpr uint16_t kKindHello = 1, kKindAnswer = 2;
constexpr size_t kBdfAt = 16, kBdfBytes = 16;

using Clock = std::chrono::steady_clock;

int64_t msLeft(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

Status makeAddr(const std::string& name, sockaddr_un* addr, socklen_t* len) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof(addr->sun_path)) {
    return Status(Code::kInvalidArgument, "rendezvous name too long: " + name);
  }
  // Abstract namespace: a leading NUL, then the name (not NUL-terminated).
  std::memcpy(addr->sun_path + 1, name.data(), name.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return Status::ok();
}

Status checkPeerUid(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return Status(Code::kSystemError, "SO_PEERCRED: " + errnoText(errno));
  }
  if (cred.uid != ::getuid()) {
    return Status(Code::kRefused, "the local peer (pid " + std::to_string(cred.pid) +
                                      ") runs as uid " + std::to_string(cred.uid) +
                                      ", this process as uid " + std::to_string(::getuid()));
  }
  return Status::ok();
}

// Waits for `events` on fd until the deadline, checking `interrupted` every 50 ms.
Status waitFd(int fd, short events, Clock::time_point deadline,
              const std::function<bool()>& interrupted, const char* what) {
  for (;;) {
    if (interrupted && interrupted())
      return Status(Code::kTimeout, std::string(what) + ": interrupted");
    int64_t left = msLeft(deadline);
    if (left <= 0) return Status(Code::kTimeout, what);
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 50)));
    if (n > 0) return Status::ok();
    if (n < 0 && errno != EINTR)
      return Status(Code::kSystemError, std::string(what) + ": poll: " + errnoText(errno));
  }
}

Status readHello(int fd, Clock::time_point deadline, const std::function<bool()>& interrupted,
                 uint8_t* buf) {
  size_t got = 0;
  while (got < kLocalHelloBytes) {
    TCPXP_RETURN_IF_ERROR(waitFd(fd, POLLIN, deadline, interrupted,
                                 "the local peer sent no hello within the deadline"));
    ssize_t n = ::recv(fd, buf + got, kLocalHelloBytes - got, MSG_DONTWAIT);
    if (n == 0) return Status(Code::kPeerClosed, "the local peer closed the rendezvous socket");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status(Code::kSystemError, "rendezvous recv: " + errnoText(errno));
    }
    got += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

Status normalizeBdf(const std::string& in, std::string* out) {
  std::string s;
  for (char c : in) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  // bus:device.function, optionally after a domain: "4a:00.0" or "0000:4a:00.0".
  auto hex = [](const std::string& t, size_t n) {
    if (t.size() != n) return false;
    for (char c : t)
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
  };
  size_t colons = static_cast<size_t>(std::count(s.begin(), s.end(), ':'));
  if (colons == 1) s = "0000:" + s;
  // nvidia-smi prints an 8-digit domain ("00000000:4a:00.0"); CUDA's BDFs have 4.
  if (s.size() == 16 && s.compare(0, 4, "0000") == 0 && s[8] == ':') s.erase(0, 4);
  bool ok = s.size() == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.' &&
            hex(s.substr(0, 4), 4) && hex(s.substr(5, 2), 2) && hex(s.substr(8, 2), 2) &&
            s[11] >= '0' && s[11] <= '7';
  if (!ok) {
    return Status(Code::kInvalidArgument,
                  "remote_gpu_bdf '" + in + "' is not a PCI address such as 0000:4a:00.0");
  }
  *out = s;
  return Status::ok();
}

std::string rendezvousName(const std::string& scope, const std::string& bdf) {
  return "tcpx-p2p-ipc." + std::to_string(::getuid()) + "." + scope + "." +
         (bdf.empty() ? std::string("host") : bdf);
}

void encodeLocalHello(const LocalPeer& p, bool answer, uint8_t* out) {
  std::memset(out, 0, kLocalHelloBytes);
  std::memcpy(out, kMagic, 4);
  uint16_t version = kVersion, kind = answer ? kKindAnswer : kKindHello;
  std::memcpy(out + 4, &version, 2);
  std::memcpy(out + 6, &kind, 2);
  std::memcpy(out + 8, &p.pid, 4);
  std::memcpy(out + 12, &p.gpu, 4);
  std::memcpy(out + kBdfAt, p.bdf.data(), std::min(p.bdf.size(), kBdfBytes - 1));
}

Status decodeLocalHello(const uint8_t* in, size_t len, bool answer, LocalPeer* out) {
  if (len != kLocalHelloBytes || std::memcmp(in, kMagic, 4) != 0) {
    return Status(Code::kProtocolError, "the local peer's hello is not tcpx-p2p's");
  }
  uint16_t version = 0, kind = 0;
  std::memcpy(&version, in + 4, 2);
  std::memcpy(&kind, in + 6, 2);
  if (version != kVersion) {
    return Status(Code::kProtocolError,
                  "the local peer speaks rendezvous version " + std::to_string(version));
  }
  if (kind != (answer ? kKindAnswer : kKindHello)) {
    return Status(Code::kProtocolError, "unexpected local hello kind " + std::to_string(kind));
  }
  LocalPeer p;
  std::memcpy(&p.pid, in + 8, 4);
  std::memcpy(&p.gpu, in + 12, 4);
  const char* bdf = reinterpret_cast<const char*>(in + kBdfAt);
  size_t n = strnlen(bdf, kBdfBytes);
  if (n == kBdfBytes) return Status(Code::kProtocolError, "local hello: BDF not terminated");
  p.bdf.assign(bdf, n);
  if (!p.bdf.empty()) {
    std::string norm;
    if (!normalizeBdf(p.bdf, &norm).isOk() || norm != p.bdf) {
      return Status(Code::kProtocolError, "local hello: the BDF field is not a PCI address");
    }
  }
  *out = std::move(p);
  return Status::ok();
}

Status dialLocal(const std::string& name, const LocalPeer& self, int64_t timeout_ms,
                 const std::function<bool()>& interrupted, LocalPeer* peer) {
  sockaddr_un addr{};
  socklen_t len = 0;
  TCPXP_RETURN_IF_ERROR(makeAddr(name, &addr, &len));
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Fd fd;
  int last_err = 0;
  for (;;) {
    fd = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Status(Code::kSystemError, "socket(AF_UNIX): " + errnoText(errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) break;
    last_err = errno;
    if (last_err != ECONNREFUSED && last_err != ENOENT && last_err != EAGAIN && last_err != EINTR) {
      return Status(Code::kSystemError, "connect_local: " + errnoText(last_err));
    }
    if (interrupted && interrupted()) return Status(Code::kTimeout, "connect_local: interrupted");
    if (msLeft(deadline) <= 0) {
      return Status(Code::kTimeout,
                    "connect_local: no process of this user called accept_local for that GPU "
                    "within " +
                        std::to_string(timeout_ms) +
                        " ms (UCCL_TCPX_TIMEOUT_MS; both sides must use the same "
                        "UCCL_TCPX_IPC_SCOPE; last: " +
                        errnoText(last_err) + ")");
    }
    // A retry backoff, not synchronisation: the acceptor may not listen yet.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  TCPXP_RETURN_IF_ERROR(checkPeerUid(fd.get()));
  uint8_t buf[kLocalHelloBytes];
  encodeLocalHello(self, /*answer=*/false, buf);
  TCPXP_RETURN_IF_ERROR(sendAll(fd.get(), buf, sizeof(buf)));
  TCPXP_RETURN_IF_ERROR(readHello(fd.get(), deadline, interrupted, buf));
  return decodeLocalHello(buf, sizeof(buf), /*answer=*/true, peer);
}

Status acceptLocal(const std::string& name, const LocalPeer& self, int64_t timeout_ms,
                   int64_t hello_timeout_ms, const std::function<bool()>& interrupted,
                   LocalPeer* peer) {
  sockaddr_un addr{};
  socklen_t len = 0;
  TCPXP_RETURN_IF_ERROR(makeAddr(name, &addr, &len));
  Fd lfd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!lfd.valid()) return Status(Code::kSystemError, "socket(AF_UNIX): " + errnoText(errno));
  if (::bind(lfd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno == EADDRINUSE) {
      return Status(Code::kBusy,
                    "accept_local: another process of this user is in accept_local for this GPU "
                    "(one acceptor per GPU at a time; set UCCL_TCPX_IPC_SCOPE to separate jobs)");
    }
    return Status(Code::kSystemError, "accept_local: bind: " + errnoText(errno));
  }
  if (::listen(lfd.get(), 16) != 0) {
    return Status(Code::kSystemError, "accept_local: listen: " + errnoText(errno));
  }
  auto deadline = timeout_ms < 0 ? Clock::time_point::max() - std::chrono::hours(1)
                                 : Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    Status st = waitFd(lfd.get(), POLLIN, deadline, interrupted,
                       "accept_local: no connect_local within the timeout");
    if (!st.isOk()) return st;
    Fd fd(::accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      return Status(Code::kSystemError, "accept_local: accept: " + errnoText(errno));
    }
    // A connector that fails here (another user, a silent or foreign one) is dropped; the
    // acceptor keeps waiting for a real one.
    st = checkPeerUid(fd.get());
    uint8_t buf[kLocalHelloBytes];
    LocalPeer p;
    if (st.isOk()) {
      auto hello_deadline =
          std::min(deadline, Clock::now() + std::chrono::milliseconds(hello_timeout_ms));
      st = readHello(fd.get(), hello_deadline, interrupted, buf);
    }
    if (st.isOk()) st = decodeLocalHello(buf, sizeof(buf), /*answer=*/false, &p);
    if (st.isOk()) {
      encodeLocalHello(self, /*answer=*/true, buf);
      st = sendAll(fd.get(), buf, sizeof(buf));
    }
    if (st.isOk()) {
      *peer = std::move(p);
      return Status::ok();
    }
    LOG_WARN("accept_local: dropped a local connector: %s", st.toString().c_str());
    if (interrupted && interrupted()) return Status(Code::kTimeout, "accept_local: interrupted");
  }
}

}  // namespace tcpxp::engine
