// Receive side: one helper thread per data socket reads chunk headers and lands each piece in
// the posted buffer (or, in UNPACK emulation, in shuffled bounce pages described by loadMeta).
// A piece for a receive that is not posted yet waits in the socket: backpressure, as in TCPX.
// In caller-I/O mode test() reads the sockets itself, without blocking, one piece state each.
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/cpu_affinity.h"
#include "common/cpu_relax.h"
#include "common/log.h"
#include "common/net_util.h"
#include "common/thread_name.h"
#include "transport/device_memory.h"
#include "transport/socket/socket_comm.h"
#include "transport/socket/unpack_arena.h"

namespace tcpxp::transport::socket {
namespace {

Status recvError(int err) {
  return Status(err == ECONNRESET ? Code::kPeerClosed : Code::kSystemError,
                "recv: " + errnoText(err));
}

// readv until every byte of `iov` arrived.
Status readAll(int fd, iovec* iov, int count) {
  int first = 0;
  while (first < count) {
    ssize_t n = ::readv(fd, iov + first, std::min(count - first, kIovMax));
    if (n == 0)
      return Status(Code::kPeerClosed, "peer closed the socket in the middle of a message");
    if (n < 0) {
      if (errno == EINTR) continue;
      return recvError(errno);
    }
    advanceIov(iov, count, &first, static_cast<size_t>(n));
  }
  return Status::ok();
}

}  // namespace

RecvComm::RecvComm(std::vector<Fd> data, Fd ctrl, std::string peer, int pin_node)
    : peer_(std::move(peer)),
      pin_node_(pin_node),
      caller_io_(config().callerIo()),
      ctrl_(std::move(ctrl)),
      unpack_(config().unpack) {
  for (auto& s : slots_) s.comm = this;
  int index = 0;
  for (auto& fd : data) {
    auto w = std::make_unique<Worker>();
    w->fd = std::move(fd);
    w->index = index++;
    // A GPU receive's fragments (UNPACK), or every stretch of a vectored receive.
    w->iov.resize(std::max(NCCL_NET_UNPACK_MAX_SLICE_PAGES + 2, TCPXP_NET_MAX_STRETCHES));
    workers_.push_back(std::move(w));
  }
}

RecvComm::~RecvComm() {
  close();
  delete owned_dev_handle_;
}

ncclResult_t RecvComm::start(ncclNetDeviceHandle_v7_t** dev_handle) {
  (void)setNonBlocking(ctrl_.get(), true);  // read only by test(), never blocking
  if (unpack_) {
    Status st = UnpackArena::create(
        config(), config().unpack_seed ^ reinterpret_cast<uintptr_t>(this), &arena_);
    if (!st.isOk()) {
      LOG_WARN("accept: UNPACK bounce buffer: %s", st.toString().c_str());
      return st.code() == Code::kCudaError ? ncclUnhandledCudaError : ncclSystemError;
    }
    // TCPX fills the caller's handle; NCCL may pass a null one, which we then own.
    if (*dev_handle == nullptr) *dev_handle = owned_dev_handle_ = new ncclNetDeviceHandle_v7_t{};
    ncclNetDeviceHandle_v7_t* h = *dev_handle;
    h->netDeviceType = NCCL_NET_DEVICE_UNPACK;
    h->netDeviceVersion = NCCL_NET_DEVICE_UNPACK_VERSION;
    h->handle = arena_->deviceHandle();
    h->size = sizeof(unpackNetDeviceHandle);
    h->needsProxyProgress = 1;
  }
  if (caller_io_) return ncclSuccess;
  for (auto& w : workers_) w->thread = std::thread([this, p = w.get()] { run(p); });
  return ncclSuccess;
}

ncclResult_t RecvComm::irecv(int n, void** data, int* sizes, void** mhandles, void** request) {
  *request = nullptr;
  if (n != 1) {
    LOG_WARN("irecv with n=%d: TCPX supports exactly one buffer per irecv (maxRecvs 1)", n);
    return ncclInternalError;
  }
  if (error_.failed()) return error_.code();
  if (sizes[0] < 0 || sizes[0] > kMaxRequestBytes) {
    // A guard rail, not TCPX behaviour: TCPX takes any size but exit(1)s on a GPU receive of
    // over 2048 fragments, so drivers keep requests under 4 MiB (docs/TCPX.md).
    LOG_WARN(
        "irecv of %d bytes: one request must be 0 .. 4 MiB - 1 bytes (this transport's "
        "guard rail; TCPX exits the process on a GPU receive of over 2048 fragments)",
        sizes[0]);
    return ncclInvalidArgument;
  }
  auto* reg = static_cast<Registration*>(mhandles[0]);
  if (reg == nullptr || (sizes[0] > 0 && !reg->contains(data[0], sizes[0]))) {
    LOG_WARN("irecv of %d bytes at %p: not inside the registration given as mhandle", sizes[0],
             data[0]);
    return ncclInvalidArgument;
  }
  const bool cuda = reg->type == NCCL_PTR_CUDA;
  return post(sizes[0], unpack_ && cuda, unpack_ ? -1 : reg->cuda_device, request,
              [&](StretchList& memory) {
                memory.assign(static_cast<char*>(data[0]), static_cast<size_t>(sizes[0]));
              });
}

ncclResult_t RecvComm::irecvv(const tcpxpNetStretch_v1_t* stretches, int n, void** request) {
  *request = nullptr;
  if (error_.failed()) return error_.code();
  int64_t capacity = 0;
  // CUDA registrations are refused there: a vectored receive never lands in bounce pages.
  ncclResult_t rc = checkStretches("irecvv", stretches, n, &capacity);
  if (rc != ncclSuccess) return rc;
  return post(capacity, /*to_bounce=*/false, /*to_device=*/-1, request,
              [&](StretchList& memory) { memory.assign(stretches, n); });
}

template <typename Fill>
ncclResult_t RecvComm::post(int64_t capacity, bool to_bounce, int to_device, void** request,
                            Fill&& fill) {
  uint64_t seq = posted_.load(std::memory_order_relaxed);
  bool waiting[kMaxDataSockets] = {};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seq - consume_seq_ >= kMaxRequests) {
      LOG_WARN(
          "irecv: %d receives outstanding on this comm (a receive counts until "
          "irecvConsumed; TCPX limit)",
          kMaxRequests);
      return ncclInternalError;
    }
    RecvRequest& req = slots_[seq % kMaxRequests];
    req.seq = seq;
    // The slot's previous receive was consumed, so every piece of it landed: no helper reads it.
    fill(req.memory);
    req.capacity = capacity;
    req.to_bounce = to_bounce;
    req.to_device = to_device;
    req.planned = false;
    req.planning = false;
    req.done_reported = false;
    req.total.store(-1, std::memory_order_relaxed);
    req.received.store(0, std::memory_order_relaxed);
    posted_.store(seq + 1, std::memory_order_release);
    *request = &req;
    // Wake only the helpers holding a piece of this message (parked_on is set under mu_): a
    // broadcast per receive woke every parked helper, each to find its own still unposted.
    for (size_t i = 0; i < workers_.size(); ++i) {
      waiting[i] = workers_[i]->parked_on.load(std::memory_order_relaxed) == seq;
    }
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (waiting[i]) workers_[i]->posted_cv.notify_one();
  }
  return ncclSuccess;
}

// Waits up to `spin` for the socket to become readable without sleeping: waking a thread that
// blocked in recv() costs tens of microseconds (more on an idle virtual CPU), which dominates
// small transfers. Returns when bytes (or EOF/errors) are there or the time is up.
void spinUntilReadable(int fd, std::chrono::microseconds spin) {
  if (!spinningPays()) return;
  auto until = std::chrono::steady_clock::now() + spin;
  uint8_t probe;
  do {
    ssize_t n = ::recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK)) return;
    cpuRelax();
  } while (std::chrono::steady_clock::now() < until);
}

void RecvComm::run(Worker* w) {
  nameCurrentThread("tcpxp-recv");
  if (pin_node_ >= 0) pinCurrentThreadToNode(pin_node_);
  uint8_t bytes[kChunkHeaderBytes];
  HelperClock clock(&w->times);
  for (;;) {
    // How many posted receives wait for bytes while this socket has none (HelperTimes).
    const int open_bucket = HelperTimes::openBucket(static_cast<int64_t>(
        posted_.load(std::memory_order_relaxed) - completed_.load(std::memory_order_relaxed)));
    // Spin only while at most one receive is outstanding (a transfer at a time, where a wakeup
    // is on the critical path); with a deeper pipeline the data keeps coming and the spin only
    // takes CPU from the kernel's TCP work (runs 58-61).
    if (fewOpen()) spinUntilReadable(w->fd.get(), std::chrono::microseconds(config().spin_us));
    Status st = recvAll(w->fd.get(), bytes, sizeof(bytes));
    w->times.wait_by_open_ns[open_bucket] += clock.lap(&w->times.wait_ns);
    if (!st.isOk()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      if (st.code() != Code::kPeerClosed) {
        error_.fail(ncclSystemError, "recv comm from " + peer_ + ": " + st.message());
      }
      eof_sockets_.fetch_add(1, std::memory_order_release);
      return;
    }
    ChunkHeader h;
    st = acceptHeader(w, bytes, &h);
    if (st.isOk()) st = receiveChunk(w, h, &clock);
    if (!st.isOk()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      failSocket(w, st);
      return;
    }
  }
}

Status RecvComm::acceptHeader(Worker* w, const uint8_t* bytes, ChunkHeader* h) {
  TCPXP_RETURN_IF_ERROR(decodeChunkHeader(bytes, h));
  if (w->have_seq && h->seq <= w->last_seq) {
    return Status(Code::kProtocolError,
                  "message numbers went backwards on data socket " + std::to_string(w->index));
  }
  w->have_seq = true;
  w->last_seq = h->seq;
  return Status::ok();
}

Status RecvComm::checkPiece(const ChunkHeader& h, RecvRequest* req) {
  if (h.seq < consume_seq_ || req->seq != h.seq) {
    return Status(Code::kProtocolError, "a piece arrived for message #" + std::to_string(h.seq) +
                                            ", which already completed");
  }
  int64_t expected = -1;
  if (!req->total.compare_exchange_strong(expected, h.total) &&
      expected != static_cast<int64_t>(h.total)) {
    return Status(Code::kProtocolError,
                  "pieces of message #" + std::to_string(h.seq) + " disagree on its size");
  }
  if (static_cast<int64_t>(h.total) > req->capacity) {
    // TCPX would write past the posted buffer here; we refuse instead.
    return Status(Code::kInvalidArgument,
                  "message #" + std::to_string(h.seq) + " of " + std::to_string(h.total) +
                      " bytes arrived for a receive of " + std::to_string(req->capacity) +
                      " bytes; sizes must be agreed before posting");
  }
  return Status::ok();
}

Status RecvComm::receiveChunk(Worker* w, const ChunkHeader& h, HelperClock* clock) {
  RecvRequest* req = &slots_[h.seq % kMaxRequests];
  // The receive is usually posted within microseconds (the driver reposts as it consumes):
  // spin briefly on posted_ before parking on cv_, whose wakeup costs more. Not in a deep
  // pipeline: there the next receive waits for a staging slot, often longer than the spin
  // (recv helpers spent ~1.7 cores spinning at 256 MiB, 8 in flight, run 61).
  if (spinningPays() && fewOpen()) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(config().spin_us);
    while (h.seq >= posted_.load(std::memory_order_acquire) &&
           std::chrono::steady_clock::now() < until) {
      cpuRelax();
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Until this block ends the helper only waits (for the receive to be posted, for earlier
    // messages to be planned, for pages) holding message h.seq's header: checkPeerGone() knows
    // it has nothing for an earlier message.
    w->parked_on.store(h.seq, std::memory_order_release);
    struct Unpark {
      std::atomic<uint64_t>& parked_on;
      ~Unpark() { parked_on.store(kNotParked, std::memory_order_relaxed); }
    } unpark{w->parked_on};
    if (h.seq >= posted_.load(std::memory_order_relaxed)) {
      w->posted_cv.wait(lock,
                        [&] { return stop_ || h.seq < posted_.load(std::memory_order_relaxed); });
    }
    if (stop_) return Status(Code::kPeerClosed, "comm closed");
    TCPXP_RETURN_IF_ERROR(checkPiece(h, req));
    if (unpack_ && !req->planned) {
      // Plan in posting order so that the pool never holds pages of a later message while an
      // earlier one waits: with a pool of >= one full request, the oldest can always proceed.
      // Pieces of one message arrive on several sockets: one helper plans and waits for pages,
      // the others wait until it is done (planning twice would take the pages twice).
      // plan_waiters_ counts the helpers in cv_, so that nobody signals an empty cv_ (the
      // driver's irecvConsumed would pay for the futex call on every receive).
      auto wait = [&](auto ready) {
        ++plan_waiters_;
        cv_.wait(lock, ready);
        --plan_waiters_;
      };
      wait([&] { return stop_ || req->planned || (plan_seq_ == h.seq && !req->planning); });
      if (stop_) return Status(Code::kPeerClosed, "comm closed");
      if (!req->planned) {
        req->planning = true;
        int slot = static_cast<int>(h.seq % kMaxRequests);
        arena_->plan(slot, req->to_bounce ? h.total : 0);
        wait([&] { return stop_ || arena_->allocatePages(slot); });
        if (stop_) return Status(Code::kPeerClosed, "comm closed");
        req->planned = true;
        req->planning = false;
        ++plan_seq_;
        if (plan_waiters_ > 0) cv_.notify_all();
      }
    }
  }
  clock->lap(&w->times.park_ns);
  if (h.len > 0 && req->to_device >= 0) {
    TCPXP_RETURN_IF_ERROR(receiveToDevice(w, h, req, clock));
  } else if (h.len > 0) {
    if (!req->to_bounce) {
      // Straight into the posted stretches; w->iov holds a whole request's (kIovMax <= its
      // size), and readAll splits the readv calls at kIovMax.
      int n = req->memory.slice(h.offset, h.len, w->iov.data(), static_cast<int>(w->iov.size()));
      TCPXP_RETURN_IF_ERROR(readAll(w->fd.get(), w->iov.data(), n));
      clock->lap(&w->times.io_ns);
    } else {
      int slot = static_cast<int>(h.seq % kMaxRequests);
      int n = arena_->pieces(slot, h.offset, h.len, w->iov.data());
      if (!arena_->onGpu()) {
        for (int i = 0; i < n; ++i) {
          w->iov[i].iov_base = arena_->bounceAt(reinterpret_cast<uintptr_t>(w->iov[i].iov_base));
        }
        TCPXP_RETURN_IF_ERROR(readAll(w->fd.get(), w->iov.data(), n));
        clock->lap(&w->times.io_ns);
      } else {
        // devmem-TCP lands bytes in GPU pages directly; emulated by landing the chunk in
        // pinned memory, one copy to the GPU and one scatter kernel into the pages.
        TCPXP_RETURN_IF_ERROR(allocLanding(w));
        iovec land{w->staging.data, h.len};
        TCPXP_RETURN_IF_ERROR(readAll(w->fd.get(), &land, 1));
        clock->lap(&w->times.io_ns);
        uint32_t src_off = 0;
        for (int i = 0; i < n; ++i) {
          const auto len = static_cast<uint32_t>(w->iov[i].iov_len);
          w->scatter[i] = {reinterpret_cast<uintptr_t>(w->iov[i].iov_base), src_off, len};
          src_off += len;
        }
        TCPXP_RETURN_IF_ERROR(device::copyToDeviceAsync(w->landing, w->staging.data, h.len));
        TCPXP_RETURN_IF_ERROR(device::scatterToDeviceAsync(
            arena_->bounceAt(0), static_cast<const char*>(w->landing), w->scatter, n));
        TCPXP_RETURN_IF_ERROR(device::syncThreadStream());
        clock->lap(&w->times.gpu_ns);
      }
    }
  }
  ++w->times.pieces;
  w->times.bytes += h.len;
  return pieceLanded(h, req);
}

Status RecvComm::receiveToDevice(Worker* w, const ChunkHeader& h, RecvRequest* req,
                                 HelperClock* clock) {
  TCPXP_RETURN_IF_ERROR(device::useDevice(req->to_device));
  // Grown to the largest piece this helper has carried; freed by close().
  TCPXP_RETURN_IF_ERROR(w->staging.reserve(h.len));
  iovec land{w->staging.data, h.len};
  TCPXP_RETURN_IF_ERROR(readAll(w->fd.get(), &land, 1));
  clock->lap(&w->times.io_ns);
  // The header (offset + len <= total) and checkPiece() (total <= capacity) keep it in bounds.
  TCPXP_RETURN_IF_ERROR(
      device::copyToDeviceAsync(req->memory.contiguous(h.offset), w->staging.data, h.len));
  TCPXP_RETURN_IF_ERROR(device::syncThreadStream());
  clock->lap(&w->times.gpu_ns);
  return Status::ok();
}

Status RecvComm::pieceLanded(const ChunkHeader& h, RecvRequest* req) {
  int64_t before = req->received.fetch_add(h.len, std::memory_order_acq_rel);
  if (before + static_cast<int64_t>(h.len) == static_cast<int64_t>(h.total)) {
    completed_.fetch_add(1, std::memory_order_relaxed);
  }
  if (before + h.len > h.total) {
    // Overlapping pieces (each inside the message, so nothing was written out of bounds): the
    // count can never equal the total again, so fail instead of leaving test() spinning.
    return Status(Code::kProtocolError, "pieces of message #" + std::to_string(h.seq) +
                                            " overlap: more than its " + std::to_string(h.total) +
                                            " bytes arrived");
  }
  return Status::ok();
}

void RecvComm::failSocket(Worker* w, const Status& st) {
  error_.fail(st.code() == Code::kPeerClosed        ? ncclRemoteError
              : st.code() == Code::kInvalidArgument ? ncclInvalidUsage
              : st.code() == Code::kProtocolError   ? ncclRemoteError
                                                    : ncclSystemError,
              "recv comm from " + peer_ + ", data socket " + std::to_string(w->index) + ": " +
                  st.message());
  w->ended = true;
  eof_sockets_.fetch_add(1, std::memory_order_release);
}

void RecvComm::pumpSockets() {
  // With several sockets, one poll() finds the readable ones: a recv() per empty socket per
  // test() cost more than the poll (8 sockets).
  pollfd fds[kMaxDataSockets];
  const size_t n = workers_.size();
  if (n > 1) {
    for (size_t i = 0; i < n; ++i) fds[i] = {workers_[i]->fd.get(), POLLIN, 0};
    if (::poll(fds, n, 0) <= 0) return;
  }
  for (size_t i = 0; i < n; ++i) {
    Worker* w = workers_[i].get();
    if (n > 1 && fds[i].revents == 0) continue;
    while (!w->ended && pumpSocket(w)) {
    }
  }
}

bool RecvComm::pumpSocket(Worker* w) {
  Worker::Piece& p = w->piece;
  const int fd = w->fd.get();
  if (p.header_got < kChunkHeaderBytes) {
    ssize_t n =
        ::recv(fd, p.header_bytes + p.header_got, kChunkHeaderBytes - p.header_got, MSG_DONTWAIT);
    if (n == 0 && p.header_got == 0) {
      // Orderly end between pieces: as a helper that reads EOF, no error of its own.
      w->ended = true;
      eof_sockets_.fetch_add(1, std::memory_order_release);
      return false;
    }
    if (n == 0) {
      failSocket(w, Status(Code::kPeerClosed, "peer closed the socket in the middle of a header"));
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) return true;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        failSocket(w, recvError(errno));
      }
      return false;
    }
    p.header_got += static_cast<size_t>(n);
    if (p.header_got < kChunkHeaderBytes) return false;
    Status st = acceptHeader(w, p.header_bytes, &p.header);
    if (!st.isOk()) {
      failSocket(w, st);
      return false;
    }
    w->parked_on.store(p.header.seq, std::memory_order_release);
  }
  const ChunkHeader& h = p.header;
  // Not posted yet: the piece waits in the socket (backpressure), as a helper parks.
  if (h.seq >= posted_.load(std::memory_order_acquire)) return false;
  RecvRequest* req = &slots_[h.seq % kMaxRequests];
  if (!p.claimed) {
    Status st = checkPiece(h, req);
    if (!st.isOk()) {
      failSocket(w, st);
      return false;
    }
    p.claimed = true;
    w->parked_on.store(kNotParked, std::memory_order_release);
  }
  while (p.payload_got < h.len) {
    // Straight into the posted stretches, at most kIovMax at a time.
    int count =
        req->memory.slice(h.offset + p.payload_got, h.len - p.payload_got, w->iov.data(), kIovMax);
    msghdr msg{};
    msg.msg_iov = w->iov.data();
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n == 0) {
      failSocket(w, Status(Code::kPeerClosed, "peer closed the socket in the middle of a message"));
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        failSocket(w, recvError(errno));
      }
      return false;
    }
    p.payload_got += static_cast<size_t>(n);
  }
  Status st = pieceLanded(h, req);
  if (!st.isOk()) {
    failSocket(w, st);
    return false;
  }
  p = Worker::Piece{};
  return true;
}

ncclResult_t RecvComm::checkPeerGone(RecvRequest* req) {
  if (eof_sockets_.load(std::memory_order_acquire) == 0) return ncclSuccess;
  // Some data socket ended: learn from the control socket whether the close was orderly.
  while (!have_final_ && !ctrl_eof_) {
    ssize_t n = ::recv(ctrl_.get(), close_bytes_ + close_got_, kCloseBytes - close_got_, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    if (n <= 0) {
      ctrl_eof_ = true;
      break;
    }
    close_got_ += static_cast<size_t>(n);
    if (close_got_ == kCloseBytes) {
      Status st = decodeClose(close_bytes_, &final_seq_);
      if (!st.isOk()) {
        error_.fail(ncclRemoteError, "recv comm from " + peer_ + ": " + st.message());
        return error_.code();
      }
      have_final_ = true;
    }
  }
  if (have_final_ && req->seq >= final_seq_) {
    error_.fail(ncclRemoteError, "recv comm from " + peer_ +
                                     ": the peer closed its send comm "
                                     "before sending message #" +
                                     std::to_string(req->seq));
    return error_.code();
  }
  // Every socket is either at its end or parked on a LATER message: nothing more will come for
  // this one. (A helper parked on this message may not have noticed yet that it was posted.)
  // The release stores of eof_sockets_/parked_on follow a helper's last `received` update, so
  // re-checking completion after these acquire loads cannot miss a piece that just landed.
  int idle = eof_sockets_.load(std::memory_order_acquire);
  for (const auto& w : workers_) {
    uint64_t parked = w->parked_on.load(std::memory_order_acquire);
    if (parked != kNotParked && parked > req->seq) ++idle;
  }
  int64_t total = req->total.load(std::memory_order_acquire);
  bool complete = total >= 0 && req->received.load(std::memory_order_acquire) == total;
  if ((have_final_ || ctrl_eof_) && idle >= static_cast<int>(workers_.size()) && !complete) {
    error_.fail(ncclRemoteError, "recv comm from " + peer_ + ": the peer went away with message #" +
                                     std::to_string(req->seq) + " incomplete");
    return error_.code();
  }
  return ncclSuccess;
}

ncclResult_t RecvComm::test(RecvRequest* req, int* done) {
  *done = 0;
  if (req->seq < head_seq_ || req->done_reported) {
    LOG_WARN(
        "test() on receive #%llu that already reported done: TCPX reports done=0 forever "
        "after the first done=1",
        static_cast<unsigned long long>(req->seq));
    return ncclSuccess;
  }
  if (req->seq != head_seq_ || head_seq_ >= posted_.load(std::memory_order_relaxed)) {
    LOG_WARN(
        "test() on receive #%llu but the oldest incomplete one is #%llu: TCPX tests only "
        "the FIFO head",
        static_cast<unsigned long long>(req->seq), static_cast<unsigned long long>(head_seq_));
    return ncclInternalError;
  }
  if (caller_io_) pumpSockets();
  int64_t total = req->total.load(std::memory_order_acquire);
  if (total >= 0 && req->received.load(std::memory_order_acquire) == total) {
    *done = 1;
    req->done_reported = true;
    ++head_seq_;
    return ncclSuccess;
  }
  if (error_.failed()) return error_.code();
  return checkPeerGone(req);
}

ncclResult_t RecvComm::consumed(int n, void* request) {
  if (n != 1) {
    LOG_WARN("irecvConsumed with n=%d: TCPX takes exactly 1", n);
    return ncclInternalError;
  }
  auto* req = static_cast<RecvRequest*>(request);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (req == nullptr || req->comm != this || req->seq != consume_seq_ || !req->done_reported) {
      LOG_WARN(
          "irecvConsumed on receive #%llu: expected #%llu, after test() reported it done "
          "(TCPX: once per completed receive, in FIFO order)",
          req ? static_cast<unsigned long long>(req->seq) : 0ull,
          static_cast<unsigned long long>(consume_seq_));
      return ncclInternalError;
    }
    if (unpack_ && req->planned) arena_->release(static_cast<int>(req->seq % kMaxRequests));
    ++consume_seq_;
    // Pages freed: a helper may wait for them. Nothing else waits for a consumption.
    wake = unpack_ && plan_waiters_ > 0;
  }
  if (wake) cv_.notify_all();
  return ncclSuccess;
}

void RecvComm::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w->posted_cv.notify_all();
  for (auto& w : workers_) ::shutdown(w->fd.get(), SHUT_RDWR);
  std::vector<const HelperTimes*> times;
  for (auto& w : workers_) {
    if (w->thread.joinable()) {
      w->thread.join();
      times.push_back(&w->times);
    }
    w->staging.release();
    device::freeDevice(w->landing);
    device::freePinned(w->scatter);
    w->landing = nullptr;
    w->scatter = nullptr;
  }
  logHelperTimes("recv comm from", peer_, times);
}

Status RecvComm::allocLanding(Worker* w) {
  if (w->scatter != nullptr) return Status::ok();
  // Made once per helper, on its first GPU-bounce chunk; freed by close().
  TCPXP_RETURN_IF_ERROR(w->staging.reserve(static_cast<size_t>(kMaxRequestBytes) + 1));
  if (w->landing == nullptr) {
    TCPXP_RETURN_IF_ERROR(device::allocDevice(kMaxRequestBytes + 1, &w->landing));
  }
  void* list = nullptr;
  TCPXP_RETURN_IF_ERROR(device::allocPinned(w->iov.size() * sizeof(device::ScatterPiece), &list));
  w->scatter = static_cast<device::ScatterPiece*>(list);
  return Status::ok();
}

}  // namespace tcpxp::transport::socket
