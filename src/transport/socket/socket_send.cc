// Send side: isend splits a request into pieces (over every socket on an idle comm, into a few
// large ones on a busy one) and queues each to the data socket with the fewest pieces queued
// (the lowest index on ties), whose helper thread writes header + payload with one sendmsg.
// Preferring low indices keeps one-piece requests on an idle comm on socket 0, whose helpers (here
// and at the receiver) are still spinning from the last one; a socket that drains faster takes
// more. Any assignment works for the receiver: pieces carry their message number and offset, and
// each socket carries increasing message numbers. In caller-I/O mode there are no helpers: isend
// and test write the queued pieces themselves, without blocking.
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

namespace tcpxp::transport::socket {
namespace {

Status sendError(int err) {
  return Status(err == EPIPE || err == ECONNRESET ? Code::kPeerClosed : Code::kSystemError,
                "send: " + errnoText(err));
}

// One sendmsg of a piece: header, then `len` bytes of `memory` from `offset` on (straight from
// the caller's stretches), resuming after its first `sent` bytes. Writes at most kIovMax
// iovecs: a piece over more stretches goes out in several calls, as after a short write.
ssize_t sendPieceFrom(int fd, const uint8_t* header, const StretchList& memory, size_t offset,
                      size_t len, size_t sent, int flags) {
  iovec iov[kIovMax];
  int n = 0;
  size_t from = 0;  // payload bytes already sent
  if (sent < kChunkHeaderBytes) {
    iov[n++] = {const_cast<uint8_t*>(header) + sent, kChunkHeaderBytes - sent};
  } else {
    from = sent - kChunkHeaderBytes;
  }
  n += memory.slice(offset + from, len - from, iov + n, kIovMax - n);
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(n);
  return ::sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
}

// Writes all of header + payload; EINTR and short writes retried.
Status writeChunk(int fd, const uint8_t* header, const StretchList& memory, size_t offset,
                  size_t len) {
  for (size_t sent = 0; sent < kChunkHeaderBytes + len;) {
    ssize_t n = sendPieceFrom(fd, header, memory, offset, len, sent, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sendError(errno);
    }
    sent += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

SendComm::SendComm(std::vector<Fd> data, Fd ctrl, std::string peer, int pin_node)
    : peer_(std::move(peer)),
      pin_node_(pin_node),
      caller_io_(config().callerIo()),
      ctrl_(std::move(ctrl)),
      min_chunk_(config().min_chunk),
      max_chunk_(config().max_chunk) {
  for (auto& s : slots_) s.comm = this;
  for (auto& fd : data) {
    auto w = std::make_unique<Worker>();
    w->fd = std::move(fd);
    workers_.push_back(std::move(w));
  }
  if (caller_io_) return;
  for (auto& w : workers_) w->thread = std::thread([this, p = w.get()] { run(p); });
}

SendComm::~SendComm() { close(); }

ncclResult_t SendComm::isend(void* data, int size, void* mhandle, void** request) {
  *request = nullptr;
  if (error_.failed()) return error_.code();
  if (size < 0 || size > kMaxRequestBytes) {
    // A guard rail, not TCPX behaviour: TCPX takes any size but exit(1)s on a GPU receive of
    // over 2048 fragments, so drivers keep requests under 4 MiB (docs/TCPX.md).
    LOG_WARN(
        "isend of %d bytes: one request must be 0 .. 4 MiB - 1 bytes (this transport's "
        "guard rail; TCPX exits the process on a GPU receive of over 2048 fragments)",
        size);
    return ncclInvalidArgument;
  }
  auto* reg = static_cast<Registration*>(mhandle);
  if (reg == nullptr || (size > 0 && !reg->contains(data, size))) {
    LOG_WARN("isend of %d bytes at %p: not inside the registration given as mhandle", size, data);
    return ncclInvalidArgument;
  }
  return post(size, reg->cuda_device, request, [&](StretchList& memory) {
    memory.assign(static_cast<char*>(data), static_cast<size_t>(size));
  });
}

ncclResult_t SendComm::isendv(const tcpxpNetStretch_v1_t* stretches, int n, void** request) {
  *request = nullptr;
  if (error_.failed()) return error_.code();
  int64_t size = 0;
  ncclResult_t rc = checkStretches("isendv", stretches, n, &size);
  if (rc != ncclSuccess) return rc;
  return post(size, /*cuda_device=*/-1, request,
              [&](StretchList& memory) { memory.assign(stretches, n); });
}

template <typename Fill>
ncclResult_t SendComm::post(int64_t size, int cuda_device, void** request, Fill&& fill) {
  if (next_seq_ - head_seq_ >= kMaxRequests) {
    LOG_WARN("isend: %d requests already outstanding on this comm (TCPX limit); test them first",
             kMaxRequests);
    return ncclInternalError;
  }
  const size_t nsocks = workers_.size();
  // A request on an idle comm is spread over its sockets in pieces of at least 64 KiB: alone, it
  // would move at one stream's speed (a 256 KiB GPU write spent 50 us in the socket, run 44).
  // While the comm is busy, few large pieces (socket_config.h): fewer, larger writes (run 14),
  // yet the oldest request, which the receiver's window waits on, moves on two sockets and two
  // receive helpers at once (run 86). (Checked before this request counts itself.) With caller
  // I/O, neither the idle split nor halves: one thread reads and writes every socket, so more
  // pieces add syscalls, not speed (and isend leaves the comm idle at once).
  bool idle = !caller_io_ && open_requests_.load(std::memory_order_relaxed) == 0;
  const auto min_chunk = static_cast<size_t>(min_chunk_),
             max_chunk = static_cast<size_t>(max_chunk_);
  const RequestSplit split =
      idle ? splitRequest(static_cast<size_t>(size), std::min(min_chunk, kIdleMinPiece), nsocks)
           : splitBusyRequest(static_cast<size_t>(size), caller_io_ ? max_chunk : min_chunk,
                              max_chunk, nsocks);
  const size_t pieces = split.pieces, piece = split.piece_bytes;
  SendRequest& req = slots_[next_seq_ % kMaxRequests];
  req.seq = next_seq_;
  // The slot's previous request completed (its pieces were all written): no helper reads it.
  fill(req.memory);
  req.cuda_device = cuda_device;
  req.chunks_left.store(static_cast<int>(pieces), std::memory_order_relaxed);
  open_requests_.fetch_add(1, std::memory_order_relaxed);
  uint32_t used = 0;  // sockets that took a piece of this request
  for (size_t i = 0; i < pieces; ++i) {
    size_t offset = i * piece;
    Task task;
    task.req = &req;
    task.header.seq = next_seq_;
    task.header.offset = static_cast<uint32_t>(offset);
    task.header.len = static_cast<uint32_t>(std::min(piece, static_cast<size_t>(size) - offset));
    task.header.total = static_cast<uint32_t>(size);
    // Pieces of one request go to distinct sockets (the receiver wants increasing message
    // numbers per socket).
    size_t least = nsocks;
    uint32_t least_queued = UINT32_MAX;
    for (size_t k = 0; k < nsocks; ++k) {
      uint32_t queued = workers_[k]->published.load(std::memory_order_relaxed) -
                        workers_[k]->finished.load(std::memory_order_relaxed);
      if ((used & (1u << k)) == 0 && queued < least_queued) {
        least = k;
        least_queued = queued;
      }
    }
    used |= 1u << least;
    Worker& w = *workers_[least];
    {
      // The helper takes the task under this mutex: it then sees req.memory as filled above.
      std::lock_guard<std::mutex> lock(w.mu);
      w.ring[w.tail % kMaxRequests] = task;
      ++w.tail;
      w.published.store(w.tail, std::memory_order_release);
    }
    if (!caller_io_) w.cv.notify_one();
  }
  ++next_seq_;
  *request = &req;
  // Caller I/O: into the kernel right away, as far as the socket buffers take it.
  if (caller_io_) pumpSockets();
  return ncclSuccess;
}

void SendComm::pumpSockets() {
  for (auto& wp : workers_) {
    Worker& w = *wp;
    // Only this thread touches head/tail in caller-I/O mode.
    while (w.head != w.tail && !error_.failed()) {
      const Task& task = w.ring[w.head % kMaxRequests];
      if (w.caller_sent == 0) encodeChunkHeader(task.header, w.caller_header);
      ssize_t n = sendPieceFrom(w.fd.get(), w.caller_header, task.req->memory, task.header.offset,
                                task.header.len, w.caller_sent, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) failSend(sendError(errno));
        break;
      }
      w.caller_sent += static_cast<size_t>(n);
      if (w.caller_sent < kChunkHeaderBytes + task.header.len) break;  // socket buffer full
      w.caller_sent = 0;
      finishPiece(&w, task);
    }
  }
}

void SendComm::finishPiece(Worker* w, const Task& task) {
  SendRequest* req = task.req;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    ++w->head;
  }
  w->finished.fetch_add(1, std::memory_order_relaxed);
  if (req->chunks_left.fetch_sub(1, std::memory_order_release) == 1) {
    open_requests_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void SendComm::failSend(const Status& st) {
  if (closing_.load()) return;
  error_.fail(st.code() == Code::kPeerClosed ? ncclRemoteError : ncclSystemError,
              "send comm to " + peer_ + ": " + st.message());
}

void SendComm::run(Worker* w) {
  nameCurrentThread("tcpxp-send");
  if (pin_node_ >= 0) pinCurrentThreadToNode(pin_node_);
  uint8_t header[kChunkHeaderBytes];
  HelperClock clock(&w->times);
  for (;;) {
    Task task;
    // Nothing queued: how many requests the comm has open says whether it is idle or its
    // work sits on the other sockets (-1: a task is queued, no wait to count).
    const int open_bucket =
        w->published.load(std::memory_order_acquire) == w->head
            ? HelperTimes::openBucket(open_requests_.load(std::memory_order_relaxed))
            : -1;
    {
      // With at most one request open on the comm (a transfer at a time), spin up to
      // UCCL_SOCKET_SPIN_US for the next one before sleeping (w->head is ours alone): its
      // pieces then go out without a wakeup. With more open, sleep at once: the pipeline is
      // busy anyway, and spinning took ~2.6 cores from the kernel's TCP work (256 MiB writes,
      // 8 in flight, run 58).
      if (spinningPays() && open_requests_.load(std::memory_order_relaxed) <= 1) {
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(config().spin_us);
        while (w->published.load(std::memory_order_acquire) == w->head &&
               std::chrono::steady_clock::now() < until) {
          cpuRelax();
        }
      }
      std::unique_lock<std::mutex> lock(w->mu);
      w->cv.wait(lock, [w] { return w->stop || w->head != w->tail; });
      if (w->stop) return;
      task = w->ring[w->head % kMaxRequests];
    }
    const int64_t waited = clock.lap(&w->times.wait_ns);
    if (open_bucket >= 0) w->times.wait_by_open_ns[open_bucket] += waited;
    encodeChunkHeader(task.header, header);
    const StretchList* memory = &task.req->memory;
    size_t offset = task.header.offset;
    Status st;
    if (task.req->cuda_device >= 0 && task.header.len > 0) {
      // GPU memory (UNPACK emulation: TCPX sends straight from it; GPU direct): staged through
      // this helper's pinned buffer, copied on the memory's own GPU.
      st = device::useDevice(task.req->cuda_device);
      if (st.isOk()) st = w->staging.reserve(task.header.len);
      if (st.isOk()) {
        st = device::copyToHostAsync(w->staging.data, memory->contiguous(offset), task.header.len);
        if (st.isOk()) st = device::syncThreadStream();
      }
      w->staged.assign(static_cast<char*>(w->staging.data), task.header.len);
      memory = &w->staged;
      offset = 0;
      clock.lap(&w->times.gpu_ns);
    }
    if (st.isOk()) st = writeChunk(w->fd.get(), header, *memory, offset, task.header.len);
    if (!st.isOk()) {
      failSend(st);
      return;
    }
    clock.lap(&w->times.io_ns);
    ++w->times.pieces;
    w->times.bytes += task.header.len;
    finishPiece(w, task);
  }
}

ncclResult_t SendComm::test(SendRequest* req, int* done) {
  *done = 0;
  if (req->seq < head_seq_) {
    LOG_WARN(
        "test() on send request #%llu that already reported done: TCPX reports done=0 "
        "forever after the first done=1",
        static_cast<unsigned long long>(req->seq));
    return ncclSuccess;
  }
  if (req->seq != head_seq_ || head_seq_ == next_seq_) {
    LOG_WARN(
        "test() on send request #%llu but the oldest incomplete one is #%llu: TCPX tests "
        "only the FIFO head",
        static_cast<unsigned long long>(req->seq), static_cast<unsigned long long>(head_seq_));
    return ncclInternalError;
  }
  if (caller_io_) pumpSockets();
  if (req->chunks_left.load(std::memory_order_acquire) == 0) {
    *done = 1;
    ++head_seq_;
    return ncclSuccess;
  }
  if (error_.failed()) return error_.code();
  return ncclSuccess;
}

void SendComm::close() {
  if (closing_.exchange(true)) return;
  // Tell the receiver how many requests were handed to the kernel whole, so that it fails
  // the rest instead of waiting for them.
  uint64_t final_seq = head_seq_;
  while (final_seq < next_seq_ &&
         slots_[final_seq % kMaxRequests].chunks_left.load(std::memory_order_acquire) == 0) {
    ++final_seq;
  }
  uint8_t frame[kCloseBytes];
  encodeClose(final_seq, frame);
  if (ctrl_.valid()) {
    (void)setNonBlocking(ctrl_.get(), true);
    if (::send(ctrl_.get(), frame, sizeof(frame), MSG_NOSIGNAL) != sizeof(frame)) {
      LOG_DEBUG("send comm to %s: close frame not sent: %s", peer_.c_str(),
                errnoText(errno).c_str());
    }
  }
  for (auto& w : workers_) {
    bool busy = false;
    {
      std::lock_guard<std::mutex> lock(w->mu);
      w->stop = true;
      busy = w->head != w->tail;
    }
    w->cv.notify_one();
    // Wakes a helper blocked in send(); data already queued in the kernel is still delivered.
    if (busy) ::shutdown(w->fd.get(), SHUT_RDWR);
  }
  std::vector<const HelperTimes*> times;
  for (auto& w : workers_) {
    if (w->thread.joinable()) {
      w->thread.join();
      times.push_back(&w->times);
    }
    w->staging.release();
  }
  logHelperTimes("send comm to", peer_, times);
}

}  // namespace tcpxp::transport::socket
