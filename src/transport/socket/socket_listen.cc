// listen / accept / connect of the socket transport: non-blocking setup of 1 control + N data
// sockets per comm, matched on the acceptor by a per-connect nonce carried in every hello.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "common/log.h"
#include "common/net_util.h"
#include "common/secure_random.h"
#include "transport/socket/socket_comm.h"
#include "transport/socket/socket_devices.h"

namespace tcpxp::transport::socket {
namespace {

// Connections that opened sockets but never said a valid hello are dropped past this many.
constexpr size_t kMaxPending = 64;
// Marker in the connect() half of a handle (bytes 64..127).
constexpr uint64_t kStageActive = 0x31764e4e4f435854ull;  // "TXCONNv1"
constexpr uint64_t kStageDone = 0x31656e6f44435854ull;    // "TXCDone1"

// From the kernel: a peer must not predict the nonces of other connections.
uint64_t randomNonce() { return secureRandomNonZero64(); }

struct Connecting {
  void* handle = nullptr;
  ListenInfo target;
  int nsocks = 0;
  uint64_t comm_nonce = 0;
  struct Sock {
    Fd fd;
    bool connected = false;
    uint8_t hello[kHelloBytes];
    size_t sent = 0;
  };
  std::vector<Sock> socks;  // [0] control, [1..n] data
};

std::mutex g_connect_mu;
std::unordered_map<uint64_t, std::unique_ptr<Connecting>>& connecting() {
  static auto* map = new std::unordered_map<uint64_t, std::unique_ptr<Connecting>>();
  return *map;
}

void writeStage(void* handle, uint64_t marker, uint64_t token) {
  auto* bytes = static_cast<uint8_t*>(handle) + kHandleListenBytes;
  std::memcpy(bytes, &marker, 8);
  std::memcpy(bytes + 8, &token, 8);
}

ncclResult_t startConnect(int dev, void* handle, std::unique_ptr<Connecting>* out) {
  auto c = std::make_unique<Connecting>();
  Status st = decodeHandle(static_cast<const uint8_t*>(handle), &c->target);
  if (!st.isOk()) {
    LOG_WARN("connect(dev %d): %s; pass the 128 bytes listen() wrote, unchanged", dev,
             st.message().c_str());
    return ncclInvalidArgument;
  }
  c->handle = handle;
  c->nsocks = config().nsocks;
  c->comm_nonce = randomNonce();
  c->socks.resize(1 + c->nsocks);
  for (int i = 0; i <= c->nsocks; ++i) {
    auto& s = c->socks[i];
    s.fd.reset(::socket(c->target.addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s.fd.valid()) {
      LOG_WARN("connect: socket(): %s", errnoText(errno).c_str());
      return ncclSystemError;
    }
    if (::connect(s.fd.get(), c->target.addr.get(), c->target.addr.len) != 0 &&
        errno != EINPROGRESS) {
      LOG_WARN("connect to %s: %s", c->target.addr.toString().c_str(), errnoText(errno).c_str());
      return ncclSystemError;
    }
    Hello hello;
    hello.kind = i == 0 ? SocketKind::kControl : SocketKind::kData;
    hello.index = static_cast<uint8_t>(i == 0 ? 0 : i - 1);
    hello.listen_nonce = c->target.nonce;
    hello.comm_nonce = c->comm_nonce;
    hello.nsocks = static_cast<uint8_t>(c->nsocks);
    encodeHello(hello, s.hello);
  }
  *out = std::move(c);
  return ncclSuccess;
}

// One non-blocking pass over the sockets. Returns ncclSuccess with *done when all hellos left.
ncclResult_t progressConnect(Connecting* c, bool* done) {
  *done = true;
  for (auto& s : c->socks) {
    if (!s.connected) {
      pollfd p{s.fd.get(), POLLOUT, 0};
      int r = ::poll(&p, 1, 0);
      if (r == 0) {
        *done = false;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      if (r < 0 || ::getsockopt(s.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        LOG_WARN("connect to %s: %s (is the listening peer still up?)",
                 c->target.addr.toString().c_str(), errnoText(err ? err : errno).c_str());
        return ncclSystemError;
      }
      s.connected = true;
    }
    while (s.sent < kHelloBytes) {
      ssize_t n = ::send(s.fd.get(), s.hello + s.sent, kHelloBytes - s.sent, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n < 0) {
        LOG_WARN("connect to %s: sending hello: %s", c->target.addr.toString().c_str(),
                 errnoText(errno).c_str());
        return ncclSystemError;
      }
      s.sent += static_cast<size_t>(n);
    }
    if (s.sent < kHelloBytes) *done = false;
  }
  return ncclSuccess;
}

}  // namespace

ncclResult_t connectStep(int dev, void* handle, SendComm** out) {
  *out = nullptr;
  if (dev < 0 || dev >= static_cast<int>(devices().size())) {
    LOG_WARN("connect: device %d does not exist (%zu devices)", dev, devices().size());
    return ncclInvalidArgument;
  }
  uint64_t marker = 0, token = 0;
  std::memcpy(&marker, static_cast<uint8_t*>(handle) + kHandleListenBytes, 8);
  std::memcpy(&token, static_cast<uint8_t*>(handle) + kHandleListenBytes + 8, 8);
  if (marker == kStageDone) {
    LOG_WARN(
        "connect: this handle was already used by a connect that finished; a handle "
        "serves exactly one connect (TCPX rule)");
    return ncclInvalidUsage;
  }
  std::unique_lock<std::mutex> lock(g_connect_mu);
  auto it = marker == kStageActive ? connecting().find(token) : connecting().end();
  if (it == connecting().end() || it->second->handle != handle) {
    std::unique_ptr<Connecting> fresh;
    ncclResult_t rc = startConnect(dev, handle, &fresh);
    if (rc != ncclSuccess) return rc;
    token = randomNonce();
    writeStage(handle, kStageActive, token);
    it = connecting().emplace(token, std::move(fresh)).first;
  }
  Connecting* c = it->second.get();
  bool done = false;
  ncclResult_t rc = progressConnect(c, &done);
  if (rc != ncclSuccess || !done) {
    if (rc != ncclSuccess) {
      connecting().erase(it);
      writeStage(handle, kStageDone, 0);
    }
    return rc;
  }
  std::unique_ptr<Connecting> finished = std::move(it->second);
  connecting().erase(it);
  lock.unlock();
  writeStage(handle, kStageDone, 0);
  std::vector<Fd> data;
  for (int i = 1; i <= finished->nsocks; ++i) {
    Status st = setNonBlocking(finished->socks[i].fd.get(), false);
    if (!st.isOk()) {
      LOG_WARN("connect: %s", st.message().c_str());
      return ncclSystemError;
    }
    tuneDataSocket(finished->socks[i].fd.get());
    data.push_back(std::move(finished->socks[i].fd));
  }
  setNoDelay(finished->socks[0].fd.get());
  *out = new SendComm(std::move(data), std::move(finished->socks[0].fd),
                      finished->target.addr.toString(), pinNodeFor(dev));
  LOG_INFO("connected send comm to %s with %d data sockets",
           finished->target.addr.toString().c_str(), finished->nsocks);
  return ncclSuccess;
}

ncclResult_t ListenComm::create(int dev, void* handle, ListenComm** out) {
  if (dev < 0 || dev >= static_cast<int>(devices().size())) {
    LOG_WARN("listen: device %d does not exist (%zu devices)", dev, devices().size());
    return ncclInvalidArgument;
  }
  const NetDevice& d = devices()[dev];
  std::unique_ptr<ListenComm> lc(new ListenComm());
  lc->fd_.reset(::socket(d.addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!lc->fd_.valid()) {
    LOG_WARN("listen: socket(): %s", errnoText(errno).c_str());
    return ncclSystemError;
  }
  SockAddr addr = d.addr;
  addr.setPort(0);
  if (::bind(lc->fd_.get(), addr.get(), addr.len) != 0 || ::listen(lc->fd_.get(), 128) != 0) {
    LOG_WARN("listen on %s (%s): %s", addr.toString().c_str(), d.name.c_str(),
             errnoText(errno).c_str());
    return ncclSystemError;
  }
  SockAddr bound;
  bound.len = sizeof(bound.storage);
  if (::getsockname(lc->fd_.get(), bound.get(), &bound.len) != 0) {
    LOG_WARN("listen: getsockname: %s", errnoText(errno).c_str());
    return ncclSystemError;
  }
  ListenInfo info{bound, randomNonce()};
  lc->nonce_ = info.nonce;
  lc->dev_ = dev;
  lc->where_ = bound.toString() + " (" + d.name + ")";
  encodeHandle(info, static_cast<uint8_t*>(handle));
  LOG_DEBUG("listening on %s", lc->where_.c_str());
  *out = lc.release();
  return ncclSuccess;
}

ListenComm::~ListenComm() = default;

void ListenComm::acceptPending() {
  for (;;) {
    SockAddr peer;
    peer.len = sizeof(peer.storage);
    int fd = ::accept4(fd_.get(), peer.get(), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        LOG_WARN("accept on %s: %s", where_.c_str(), errnoText(errno).c_str());
      }
      return;
    }
    auto p = std::make_unique<Pending>();
    p->fd.reset(fd);
    p->peer = peer.toString();
    if (pending_.size() >= kMaxPending) {
      auto victim =
          std::find_if(pending_.begin(), pending_.end(), [](const auto& q) { return !q->ready; });
      if (victim == pending_.end()) victim = pending_.begin();
      LOG_WARN("listen %s: too many half-open connections; dropping one from %s", where_.c_str(),
               (*victim)->peer.c_str());
      pending_.erase(victim);
    }
    pending_.push_back(std::move(p));
  }
}

void ListenComm::readHellos() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = **it;
    bool drop = false;
    while (!p.ready) {
      ssize_t n = ::recv(p.fd.get(), p.bytes + p.got, kHelloBytes - p.got, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n <= 0) {
        drop = true;  // closed before saying hello: a probe or a dead peer
        break;
      }
      p.got += static_cast<size_t>(n);
      if (p.got < kHelloBytes) continue;
      Status st = decodeHello(p.bytes, &p.hello);
      if (st.isOk() && p.hello.listen_nonce != nonce_) {
        st = Status(Code::kProtocolError, "hello carries the nonce of another listen handle");
      }
      if (!st.isOk()) {
        LOG_WARN("listen %s: dropping connection from %s: %s", where_.c_str(), p.peer.c_str(),
                 st.message().c_str());
        drop = true;
        break;
      }
      p.ready = true;
    }
    it = drop ? pending_.erase(it) : it + 1;
  }
}

ncclResult_t ListenComm::accept(RecvComm** out, ncclNetDeviceHandle_v7_t** dev_handle) {
  *out = nullptr;
  if (accepted_) {
    LOG_WARN(
        "accept: this listen comm already accepted its connection; one accept per listen comm "
        "(listen again for another): a second accept crashes TCPX (use after free, double free)");
    return ncclInternalError;
  }
  if (config().unpack && dev_handle == nullptr) {
    LOG_WARN(
        "accept: UNPACK mode needs recvDevComm (address of a pointer to a caller-allocated "
        "ncclNetDeviceHandle_v7_t); TCPX crashes on the first test() without it");
    return ncclInvalidArgument;
  }
  acceptPending();
  readHellos();
  // Group ready sockets by the connect that opened them; take the first complete group.
  std::map<uint64_t, std::vector<Pending*>> groups;
  for (auto& p : pending_) {
    if (p->ready) groups[p->hello.comm_nonce].push_back(p.get());
  }
  for (auto& group : groups) {
    // No structured binding: clang before 16 cannot capture one in a lambda (the fuzz build).
    const uint64_t nonce = group.first;
    std::vector<Pending*>& members = group.second;
    int nsocks = members.front()->hello.nsocks;
    Pending* ctrl = nullptr;
    std::vector<Pending*> data(nsocks, nullptr);
    bool consistent = true;
    for (Pending* p : members) {
      if (p->hello.nsocks != nsocks) consistent = false;
      if (p->hello.kind == SocketKind::kControl) {
        consistent = consistent && ctrl == nullptr;
        ctrl = p;
      } else if (p->hello.index < nsocks) {
        consistent = consistent && data[p->hello.index] == nullptr;
        data[p->hello.index] = p;
      }
    }
    if (!consistent) {
      LOG_WARN("listen %s: connect from %s sent contradicting hellos; dropping it", where_.c_str(),
               members.front()->peer.c_str());
      std::erase_if(pending_,
                    [&](const auto& p) { return p->ready && p->hello.comm_nonce == nonce; });
      return ncclSuccess;
    }
    if (ctrl == nullptr || std::count(data.begin(), data.end(), nullptr) != 0) continue;
    std::vector<Fd> data_fds;
    for (Pending* p : data) {
      Status st = setNonBlocking(p->fd.get(), false);
      if (!st.isOk()) {
        LOG_WARN("accept: %s", st.message().c_str());
        return ncclSystemError;
      }
      tuneDataSocket(p->fd.get());
      data_fds.push_back(std::move(p->fd));
    }
    std::string peer = ctrl->peer;
    auto comm = std::make_unique<RecvComm>(std::move(data_fds), std::move(ctrl->fd), peer,
                                           pinNodeFor(dev_));
    std::erase_if(pending_,
                  [&](const auto& p) { return p->ready && p->hello.comm_nonce == nonce; });
    ncclResult_t rc = comm->start(dev_handle);
    if (rc != ncclSuccess) return rc;
    accepted_ = true;
    LOG_INFO("accepted recv comm from %s on %s with %d data sockets", peer.c_str(), where_.c_str(),
             nsocks);
    *out = comm.release();
    return ncclSuccess;
  }
  return ncclSuccess;
}

}  // namespace tcpxp::transport::socket
