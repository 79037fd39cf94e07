// Comms of the built-in socket transport. Each comm is 1 control socket + N data sockets, one
// helper thread per data socket doing blocking I/O, so that test() is a couple of atomic loads.
// Caller-I/O mode (UCCL_SOCKET_HELPERS=0; the default below 8 hardware threads) has no helpers:
// the driver's own isend/test calls write and read the sockets without blocking, as one thread
// per side of raw TCP would, instead of handing each piece to a helper through a futex wakeup.
//
// TCPX rules enforced here, each with the error code the real plugin returns:
//   at most 16 outstanding requests per comm (a receive counts until irecvConsumed)  -> 3
//   test() only on the oldest incomplete request of its comm                        -> 3
//   test() after done=1 reports done=0 forever (as TCPX does), with a warning
//   irecvConsumed exactly once per completed receive, in FIFO order, n == 1          -> 3
//   irecv n == 1                                                                     -> 3
// Vectored requests (isendv/irecvv, abi/net_vectored.h: not TCPX's) obey the same rules as a
// whole; a request's memory is a StretchList either way (one stretch for isend/irecv).
// Guard rails where TCPX's behaviour is undefined or fatal (a driver bug then fails with a code
// here instead of crashing on GCP; tests/transport/builtin_guard_rails_test.cc):
//   a second accept on a listen comm (TCPX: use after free, then a double-free abort) -> 3
//   requests of 4 MiB and more (TCPX takes them; a GPU receive of over 2048 fragments
//   exit(1)s the process)                                                            -> 4
//   accept without recvDevComm in UNPACK mode (TCPX: crash on the first test())       -> 4
//   iflush (TCPX: never call it)                                                     -> 3
// Matching is by posting order only (tags ignored); test() never writes `sizes`.
//
// Threading (the TCPX contract): each comm is driven by one thread at a time. Helper threads
// touch only their socket, the request slots (atomics) and, under the comm mutex, the
// posting/unpack state.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "transport/abi/net_v7.h"
#include "transport/device_memory.h"
#include "transport/socket/socket_config.h"
#include "transport/socket/socket_wire.h"
#include "transport/socket/stretch_list.h"

namespace tcpxp::transport::socket {

inline constexpr int kMaxRequests = 16;
inline constexpr int64_t kMaxRequestBytes = (int64_t{4} << 20) - 1;
// Smallest piece of a request on an idle send comm (see SendComm::isend).
inline constexpr size_t kIdleMinPiece = size_t{64} << 10;

// The mhandle returned by regMr.
struct Registration {
  char* base = nullptr;
  size_t size = 0;
  int type = NCCL_PTR_HOST;
  // The GPU whose memory this is (where the helpers copy it), -1 for host memory: also for
  // NCCL_PTR_CUDA registrations of host memory, which the GPU modes accept when no GPU is usable
  // (so that CPU-only machines test those paths).
  int cuda_device = -1;
  bool contains(const void* data, int64_t size) const;
};

// A helper's pinned buffer for GPU pieces, grown to hold `need` bytes (in 256 KiB steps, never
// past one request): sized by the pieces its socket carries (a quarter or half of a 1 MiB chunk),
// not by the largest request, since every helper that moves GPU bytes holds one.
struct PinnedBuffer {
  void* data = nullptr;
  size_t bytes = 0;
  Status reserve(size_t need);
  void release();
};

// First error of a comm wins; later calls on the comm return it.
class CommError {
 public:
  // Logs (once) and records. `code` is what test() and later calls return.
  void fail(ncclResult_t code, const std::string& message, const char* file = __builtin_FILE(),
            int line = __builtin_LINE());
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  ncclResult_t code() const { return code_; }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  ncclResult_t code_ = ncclSuccess;
};

enum class RequestKind : uint32_t { kSend = 0x53454e44, kRecv = 0x52454356 };

class SendComm;
class RecvComm;

struct SendRequest {
  RequestKind kind = RequestKind::kSend;  // first member: test() dispatches on it
  SendComm* comm = nullptr;
  uint64_t seq = 0;
  std::atomic<int> chunks_left{0};
  StretchList memory;    // what its pieces send
  int cuda_device = -1;  // GPU memory (UNPACK or GPU direct): the GPU the helpers copy from
};

struct RecvRequest {
  RequestKind kind = RequestKind::kRecv;
  RecvComm* comm = nullptr;
  uint64_t seq = 0;
  StretchList memory;  // where its pieces land (unless to_bounce)
  int64_t capacity = 0;
  bool to_bounce = false;  // UNPACK mode and a CUDA registration: data lands in bounce pages
  // GPU direct and GPU memory: each piece lands in its helper's pinned buffer, then one copy
  // takes it to `memory` on this GPU.
  int to_device = -1;
  bool planned = false;   // guarded by the comm mutex
  bool planning = false;  // a helper is drawing its pages (comm mutex); others wait for it
  std::atomic<int64_t> total{-1};
  std::atomic<int64_t> received{0};
  bool done_reported = false;
};

class ListenComm {
 public:
  static ncclResult_t create(int dev, void* handle, ListenComm** out);
  ncclResult_t accept(RecvComm** out, ncclNetDeviceHandle_v7_t** dev_handle);
  ~ListenComm();

 private:
  struct Pending {
    Fd fd;
    uint8_t bytes[kHelloBytes];
    size_t got = 0;
    Hello hello;
    bool ready = false;
    std::string peer;
  };
  ListenComm() = default;
  void acceptPending();
  void readHellos();

  Fd fd_;
  uint64_t nonce_ = 0;
  std::string where_;
  std::vector<std::unique_ptr<Pending>> pending_;
  bool accepted_ = false;
  int dev_ = 0;
};

// Where one helper thread's time went, logged per comm at close (UCCL_TCPX_DEBUG=INFO): the
// first thing to read when the sockets move less than raw TCP would. Written by its helper only,
// read after the join.
struct HelperTimes {
  uint64_t pieces = 0, bytes = 0;
  int64_t wait_ns = 0;  // send: no piece queued; recv: no header yet (the peer has sent nothing)
  int64_t park_ns = 0;  // recv: a header read, its receive not posted yet (or no UNPACK pages)
  int64_t io_ns = 0;    // in sendmsg / readv of headers' payloads
  int64_t gpu_ns = 0;   // UNPACK emulation: staging copies, landing and scatter
  // Waiting time by how many of the comm's requests were open when the wait began, in buckets
  // of 0, 1-7, 8-15 and 16 (send: isends with pieces not all written, for waits that began with
  // nothing queued; recv: posted receives not complete, all of wait_ns). A helper waiting while
  // most of the window is open waits because the comm's work sits on its other sockets.
  int64_t wait_by_open_ns[4] = {};
  static int openBucket(int64_t open) { return open <= 0 ? 0 : open < 8 ? 1 : open < 16 ? 2 : 3; }
  int64_t life_ns = 0;  // the thread's run, start to end
  // getrusage(RUSAGE_THREAD) at its end: CPU time, context switches (involuntary: preempted).
  int64_t user_ns = 0, sys_ns = 0;
  long voluntary = 0, involuntary = 0;
};

// Times the calling helper thread from construction to destruction into `times`.
class HelperClock {
 public:
  explicit HelperClock(HelperTimes* times);
  ~HelperClock();
  // Adds the time since the last lap (or construction) to `*bucket`, and returns it.
  int64_t lap(int64_t* bucket);

 private:
  HelperTimes* times_;
  int64_t start_ns_, last_ns_;
};

// One INFO line per comm: totals over its helpers and the busiest/idlest socket.
void logHelperTimes(const char* what, const std::string& peer,
                    const std::vector<const HelperTimes*>& helpers);

// connect() state kept between retries, found again through a token in the handle.
ncclResult_t connectStep(int dev, void* handle, SendComm** out);

class SendComm {
 public:
  // pin_node: NUMA node for the helper threads, -1 = no pinning.
  SendComm(std::vector<Fd> data, Fd ctrl, std::string peer, int pin_node = -1);
  ~SendComm();
  ncclResult_t isend(void* data, int size, void* mhandle, void** request);
  ncclResult_t isendv(const tcpxpNetStretch_v1_t* stretches, int n, void** request);
  ncclResult_t test(SendRequest* req, int* done);
  // Closes whether or not requests are outstanding; the receiver learns how many completed.
  void close();

 private:
  // A piece: header.len bytes of req->memory from header.offset on.
  struct Task {
    SendRequest* req;
    ChunkHeader header;
  };
  struct Worker {
    Fd fd;
    std::thread thread;
    // Caller-I/O mode: bytes of the head task (header + payload) written so far, its header.
    size_t caller_sent = 0;
    uint8_t caller_header[kChunkHeaderBytes];
    std::mutex mu;
    std::condition_variable cv;
    Task ring[kMaxRequests];
    uint32_t head = 0, tail = 0;  // guarded by mu
    // tail, published (release) after each push so that an idle helper can spin on it briefly
    // before sleeping on cv: a futex wakeup per request costs more than the spin.
    std::atomic<uint32_t> published{0};
    std::atomic<uint32_t> finished{0};  // pieces written; published - finished = queued
    bool stop = false;
    PinnedBuffer staging;  // bounce for device sources (UNPACK mode, GPU direct)
    StretchList staged;    // `staging` as a piece's memory
    HelperTimes times;
  };
  // Posts a request of `size` bytes whose memory the caller's `fill` writes into the slot
  // (argument checks done): the outstanding limit, the split over sockets, the queues.
  // `cuda_device`: the GPU of a device source, -1 for host memory.
  template <typename Fill>
  ncclResult_t post(int64_t size, int cuda_device, void** request, Fill&& fill);
  void run(Worker* w);
  // Caller-I/O mode: writes queued pieces without blocking until each socket is full or empty.
  void pumpSockets();
  // A piece is in the kernel: pops it, and closes its request when it was the last piece.
  void finishPiece(Worker* w, const Task& task);
  void failSend(const Status& st);

  std::string peer_;
  int pin_node_ = -1;
  bool caller_io_ = false;
  Fd ctrl_;
  std::vector<std::unique_ptr<Worker>> workers_;
  SendRequest slots_[kMaxRequests];
  // isends whose pieces are not all written (0: the comm is idle)
  std::atomic<int> open_requests_{0};
  uint64_t next_seq_ = 0;
  uint64_t head_seq_ = 0;
  int64_t min_chunk_;
  int64_t max_chunk_;
  std::atomic<bool> closing_{false};
  CommError error_;
};

class RecvComm {
 public:
  RecvComm(std::vector<Fd> data, Fd ctrl, std::string peer, int pin_node = -1);
  ~RecvComm();
  ncclResult_t start(ncclNetDeviceHandle_v7_t** dev_handle);
  ncclResult_t irecv(int n, void** data, int* sizes, void** mhandles, void** request);
  ncclResult_t irecvv(const tcpxpNetStretch_v1_t* stretches, int n, void** request);
  ncclResult_t test(RecvRequest* req, int* done);
  ncclResult_t consumed(int n, void* request);
  void close();

 private:
  struct Worker {
    Fd fd;
    int index = 0;
    std::thread thread;
    bool have_seq = false;
    uint64_t last_seq = 0;
    // When the bounce buffer is on the GPU: a chunk lands in `staging` (pinned), moves to
    // `landing` (device) in one copy, and one kernel scatters it into its bounce pages as
    // listed in `scatter` (pinned, mapped).
    PinnedBuffer staging;
    void* landing = nullptr;
    device::ScatterPiece* scatter = nullptr;
    std::vector<iovec> iov;
    // Message whose header this helper holds while it waits (receive not posted yet; UNPACK:
    // earlier messages not planned yet, or no free pages). kNotParked otherwise.
    std::atomic<uint64_t> parked_on{kNotParked};
    std::condition_variable posted_cv;  // (mu_) this helper's piece's receive got posted, or stop
    // Caller-I/O mode: the piece being read from this socket; whether the socket has ended.
    struct Piece {
      uint8_t header_bytes[kChunkHeaderBytes];
      size_t header_got = 0;
      ChunkHeader header;
      bool claimed = false;  // checked against its posted receive; payload lands there
      size_t payload_got = 0;
    } piece;
    bool ended = false;
    HelperTimes times;
  };
  static constexpr uint64_t kNotParked = UINT64_MAX;
  // Posts a receive of `capacity` bytes whose memory the caller's `fill` writes into the slot
  // (argument checks done): the outstanding limit, publishing, waking parked helpers.
  template <typename Fill>
  ncclResult_t post(int64_t capacity, bool to_bounce, int to_device, void** request, Fill&& fill);
  void run(Worker* w);
  // At most one posted receive still waits for bytes (a transfer at a time): the only case where
  // helpers spin before sleeping, since a wakeup is then on the transfer's critical path.
  bool fewOpen() const {
    return posted_.load(std::memory_order_relaxed) - completed_.load(std::memory_order_relaxed) <=
           1;
  }
  // Decodes a piece's header and checks that message numbers increase on its socket.
  Status acceptHeader(Worker* w, const uint8_t* bytes, ChunkHeader* h);
  Status receiveChunk(Worker* w, const ChunkHeader& h, HelperClock* clock);
  // Caller-I/O mode: reads every socket without blocking until each is empty, ended, or holds a
  // piece whose receive is not posted yet.
  void pumpSockets();
  // One step on socket w; true when it should be called again at once (a piece landed).
  bool pumpSocket(Worker* w);
  // Counts a landed piece towards its message.
  Status pieceLanded(const ChunkHeader& h, RecvRequest* req);
  // The GPU-bounce landing buffers of one helper (UNPACK emulation with a GPU).
  static Status allocLanding(Worker* w);
  // GPU direct: a piece into its helper's pinned buffer, then one copy to the GPU.
  Status receiveToDevice(Worker* w, const ChunkHeader& h, RecvRequest* req, HelperClock* clock);
  // Records the first error of data socket w and stops reading it.
  void failSocket(Worker* w, const Status& st);
  // A piece's header against its posted receive: not completed already, same total, fits.
  Status checkPiece(const ChunkHeader& h, RecvRequest* req);
  // Peer-closed bookkeeping for test(): reads the close frame from the control socket.
  ncclResult_t checkPeerGone(RecvRequest* req);

  std::string peer_;
  int pin_node_ = -1;
  bool caller_io_ = false;
  Fd ctrl_;
  std::vector<std::unique_ptr<Worker>> workers_;
  RecvRequest slots_[kMaxRequests];

  std::mutex mu_;
  std::condition_variable cv_;  // unpack plan order, free pages, stop
  int plan_waiters_ = 0;        // helpers waiting in cv_ (under mu_)
  std::atomic<uint64_t> posted_{0};
  std::atomic<uint64_t> completed_{0};  // messages whose bytes all arrived
  uint64_t plan_seq_ = 0;               // next seq to plan (UNPACK), guarded by mu_
  uint64_t head_seq_ = 0;               // driver thread only
  uint64_t consume_seq_ = 0;            // guarded by mu_ (caller I/O: the driver's thread alone)
  bool stop_ = false;                   // guarded by mu_

  std::atomic<int> eof_sockets_{0};
  uint8_t close_bytes_[kCloseBytes];
  size_t close_got_ = 0;
  bool ctrl_eof_ = false;
  bool have_final_ = false;
  uint64_t final_seq_ = 0;

  bool unpack_ = false;
  std::unique_ptr<class UnpackArena> arena_;
  ncclNetDeviceHandle_v7_t* owned_dev_handle_ = nullptr;
  CommError error_;
};

// NUMA node for the helper threads of comms on device `dev` (-1: do not pin).
int pinNodeFor(int dev);

// Process-wide state set by init() (socket_net.cc).
const SocketConfig& config();
const std::vector<struct NetDevice>& devices();
// Applies the configured socket options to a connected data socket.
void tuneDataSocket(int fd);

}  // namespace tcpxp::transport::socket
