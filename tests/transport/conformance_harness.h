// Harness of the ncclNet v7 conformance suite (conformance_test.cc) and of the built-in
// transport's guard rails (builtin_guard_rails_test.cc): memory, registrations, comm pairs,
// FIFO-ordered request queues, UNPACK scatter-list readers, "sides" that move a message plan
// through a pair, and the fixture that loads the library under test. Everything here drives the
// table only as TCPX allows (docs/TCPX.md): host memory, FIFO-head tests, <= 16 outstanding
// requests per comm, irecvConsumed after every completed receive in FIFO order, one accept per
// listen comm, requests under 4 MiB, one thread per comm, a deadline on every wait.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "transport/abi/net_v7.h"
#include "transport/device_memory.h"
#include "transport/plugin_loader.h"

namespace tcpxp::conformance {

using Clock = std::chrono::steady_clock;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;
namespace device = tcpxp::transport::device;

inline constexpr std::chrono::seconds kStallLimit{10};  // a wait with no progress this long fails
inline constexpr int kMaxOutstanding = 16;              // requests per comm (TCPX)
// The largest request a driver posts: TCPX takes larger ones but exit(1)s on a GPU receive of
// over 2048 fragments, so drivers keep every request under 4 MiB; the built-in refuses more.
inline constexpr int kMaxRequest = (4 << 20) - 1;
inline constexpr size_t kPage = NCCL_NET_UNPACK_PAGE_SIZE;
inline constexpr int kSlots = NCCL_NET_DEVICE_UNPACK_MAX_QUEUE_DEPTH;
inline constexpr int kSizesSentinel = -0x5a5a5a5;  // test() must never write `sizes`

inline const ncclNet_v7_t* g_net = nullptr;  // the table under test, set by the fixture
inline const ncclNet_v7_t& net() { return *g_net; }

// ---------------------------------------------------------------------------------------------
// Memory

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using HostBuffer = std::unique_ptr<char[], FreeDeleter>;

// 4 KiB-aligned host memory (TCPX's NCCL_PTR_CUDA registrations need that alignment).
inline HostBuffer allocHost(size_t bytes) {
  size_t rounded = std::max(kPage, (bytes + kPage - 1) / kPage * kPage);
  return HostBuffer(static_cast<char*>(std::aligned_alloc(kPage, rounded)));
}

// Bytes that differ at every offset and seed, so that a shifted or stale copy never matches.
inline void fillPattern(char* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(p + i, &x, std::min<size_t>(8, n - i));
  }
}

// Offset of the first differing byte, or -1.
inline int64_t firstMismatch(const char* a, const char* b, size_t n) {
  if (n == 0 || std::memcmp(a, b, n) == 0) return -1;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

// Copies n bytes that may live in device memory (TCPX: handle, metadata and bounce pages are on
// the GPU) or in host memory (the built-in transport without a usable GPU).
inline void readAny(void* dst, const void* src, size_t n) {
  if (n == 0) return;
  if (device::isDevicePointer(src)) {
    tcpxp::Status st = device::copyToHost(dst, src, n);
    ASSERT_TRUE(st.isOk()) << st.toString();
  } else {
    std::memcpy(dst, src, n);
  }
}

// A registration, deregistered on destruction (declare it after the Pair whose comm it uses, so
// that it goes before the comm closes).
class Mr {
 public:
  Mr(void* comm, void* data, size_t bytes, int type) : comm_(comm) {
    rc_ = net().regMr(comm, data, static_cast<int>(bytes), type, &handle_);
    if (rc_ != ncclSuccess) handle_ = nullptr;
  }
  ~Mr() {
    if (handle_ != nullptr) {
      EXPECT_EQ(net().deregMr(comm_, handle_), ncclSuccess);
    }
  }
  Mr(const Mr&) = delete;
  Mr& operator=(const Mr&) = delete;
  ncclResult_t rc() const { return rc_; }
  void* get() const { return handle_; }

 private:
  void* comm_;
  void* handle_ = nullptr;
  ncclResult_t rc_;
};

// A receive buffer registered as NCCL_PTR_CUDA: 4 KiB-aligned host memory where the library
// takes it (the built-in transport in UNPACK mode without a usable GPU), else GPU memory.
class CudaRegisteredBuffer {
 public:
  CudaRegisteredBuffer(void* comm, size_t bytes) : comm_(comm), bytes_(bytes) {
    host_ = allocHost(bytes);
    if (net().regMr(comm, host_.get(), static_cast<int>(bytes), NCCL_PTR_CUDA, &mh_) ==
        ncclSuccess) {
      data_ = host_.get();
      return;
    }
    mh_ = nullptr;
    host_.reset();
    if (!device::gpuUsable()) {
      why_ = "regMr(NCCL_PTR_CUDA) refused 4 KiB-aligned host memory and no GPU is usable";
      return;
    }
    tcpxp::Status st = device::allocDevice(bytes + kPage, &gpu_);
    if (!st.isOk()) {
      why_ = st.toString();
      return;
    }
    auto aligned = (reinterpret_cast<uintptr_t>(gpu_) + kPage - 1) & ~uintptr_t{kPage - 1};
    char* gpu_data = reinterpret_cast<char*>(aligned);
    ncclResult_t rc = net().regMr(comm, gpu_data, static_cast<int>(bytes), NCCL_PTR_CUDA, &mh_);
    if (rc != ncclSuccess) {
      mh_ = nullptr;
      why_ = "regMr(NCCL_PTR_CUDA) of GPU memory returned " + std::to_string(rc);
      return;
    }
    data_ = gpu_data;
  }
  ~CudaRegisteredBuffer() {
    if (mh_ != nullptr) {
      EXPECT_EQ(net().deregMr(comm_, mh_), ncclSuccess);
    }
    device::freeDevice(gpu_);
  }
  CudaRegisteredBuffer(const CudaRegisteredBuffer&) = delete;
  CudaRegisteredBuffer& operator=(const CudaRegisteredBuffer&) = delete;

  AssertionResult ok() const {
    return mh_ ? AssertionSuccess() : AssertionFailure() << "no CUDA registration: " << why_;
  }
  char* data() const { return data_; }
  void* mh() const { return mh_; }
  void fill(char value) {
    std::vector<char> bytes(bytes_, value);
    write(0, bytes.data(), bytes_);
  }
  // Copies n bytes from host memory `src` to offset `off`.
  void load(size_t off, const void* src, size_t n) { write(off, src, n); }
  // [off, off + n) still holds `value` everywhere.
  AssertionResult untouched(size_t off, size_t n, char value) const {
    std::vector<char> got(n);
    readAny(got.data(), data_ + off, n);
    auto it = std::find_if(got.begin(), got.end(), [&](char c) { return c != value; });
    if (it == got.end()) return AssertionSuccess();
    return AssertionFailure() << "the CUDA-registered receive buffer was written at offset "
                              << (off + static_cast<size_t>(it - got.begin()))
                              << " (UNPACK receives must land in bounce pages only)";
  }
  // [off, off + n) holds `expect` (a receive straight into the buffer: GPU direct).
  AssertionResult holds(size_t off, const char* expect, size_t n) const {
    std::vector<char> got(n);
    readAny(got.data(), data_ + off, n);
    int64_t bad = firstMismatch(got.data(), expect, n);
    if (bad < 0) return AssertionSuccess();
    return AssertionFailure() << "the CUDA-registered receive buffer differs from the sent bytes "
                              << "at offset " << (off + static_cast<size_t>(bad));
  }

 private:
  void write(size_t off, const void* src, size_t n) {
    if (host_) {
      std::memcpy(data_ + off, src, n);
    } else {
      tcpxp::Status st = device::copyToDevice(data_ + off, src, n);
      EXPECT_TRUE(st.isOk()) << st.toString();
    }
  }

  void* comm_;
  size_t bytes_;
  HostBuffer host_;
  void* gpu_ = nullptr;
  char* data_ = nullptr;
  void* mh_ = nullptr;
  std::string why_;
};

// ---------------------------------------------------------------------------------------------
// Comms

// One connection: a send comm and the recv comm that accepted it, closed on destruction.
struct Pair {
  void* send = nullptr;
  void* recv = nullptr;
  // accept() gets the address of a pointer to this caller-owned, 16-byte aligned struct.
  alignas(16) ncclNetDeviceHandle_v7_t recv_dev{};
  alignas(16) ncclNetDeviceHandle_v7_t send_dev{};
  ncclNetDeviceHandle_v7_t* recv_dev_ptr = &recv_dev;
  ncclNetDeviceHandle_v7_t* send_dev_ptr = &send_dev;
  uint64_t irecvs = 0;  // receives posted so far: the next one uses UNPACK slot irecvs % 16

  Pair() = default;
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  ~Pair() { close(); }
  void close() {
    if (send != nullptr) {
      EXPECT_EQ(net().closeSend(send), ncclSuccess);
    }
    if (recv != nullptr) {
      EXPECT_EQ(net().closeRecv(recv), ncclSuccess);
    }
    send = recv = nullptr;
  }
};

// listen, then connect and accept retried (both are non-blocking) until both comms exist. The
// connector gets its own copy of the 128-byte handle, as if sent out of band, and passes that
// same buffer on every retry. With `keep_listen` the listen comm is left open there.
inline AssertionResult connectPair(Pair* p, int dev = 0, void** keep_listen = nullptr) {
  char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
  void* listen = nullptr;
  ncclResult_t rc = net().listen(dev, handle, &listen);
  if (rc != ncclSuccess || listen == nullptr) {
    return AssertionFailure() << "listen(dev " << dev << ") returned " << rc;
  }
  char connect_handle[NCCL_NET_HANDLE_MAXSIZE];
  std::memcpy(connect_handle, handle, sizeof(handle));
  AssertionResult result = AssertionSuccess();
  const auto deadline = Clock::now() + kStallLimit;
  while (p->send == nullptr || p->recv == nullptr) {
    if (p->send == nullptr) rc = net().connect(dev, connect_handle, &p->send, &p->send_dev_ptr);
    if (rc == ncclSuccess && p->recv == nullptr) {
      rc = net().accept(listen, &p->recv, &p->recv_dev_ptr);
    }
    if (rc != ncclSuccess) {
      result = AssertionFailure() << "connect/accept returned " << rc;
      break;
    }
    if (Clock::now() > deadline) {
      result = AssertionFailure() << "connect/accept not done after " << kStallLimit.count()
                                  << " s (send comm " << p->send << ", recv comm " << p->recv
                                  << ")";
      break;
    }
    std::this_thread::yield();
  }
  if (keep_listen != nullptr) {
    *keep_listen = listen;
  } else {
    EXPECT_EQ(net().closeListen(listen), ncclSuccess);
  }
  return result;
}

inline ncclResult_t postSend(Pair& p, const char* data, int size, void* mh, void** request) {
  *request = nullptr;
  return net().isend(p.send, const_cast<char*>(data), size, /*tag=*/0, mh, request);
}

inline ncclResult_t postRecv(Pair& p, char* data, int size, void* mh, void** request) {
  void* datas[1] = {data};
  int sizes[1] = {size};
  int tags[1] = {0};
  void* mhs[1] = {mh};
  *request = nullptr;
  ncclResult_t rc = net().irecv(p.recv, 1, datas, sizes, tags, mhs, request);
  if (rc == ncclSuccess && *request != nullptr) ++p.irecvs;
  return rc;
}

// One test() that also checks that `sizes` stays unwritten.
inline ncclResult_t testOnce(void* request, int* done) {
  int sizes[1] = {kSizesSentinel};
  *done = -1;
  ncclResult_t rc = net().test(request, done, sizes);
  EXPECT_EQ(sizes[0], kSizesSentinel) << "test() wrote `sizes`";
  return rc;
}

// Outstanding requests of one comm, oldest first. Only the head is ever tested (TCPX rule).
class Fifo {
 public:
  explicit Fifo(std::string name) : name_(std::move(name)) {}
  void push(void* request, std::function<void()> on_done = {}) {
    q_.push_back({request, std::move(on_done)});
  }
  size_t size() const { return q_.size(); }
  bool empty() const { return q_.empty(); }
  const std::string& name() const { return name_; }
  int completed() const { return completed_; }
  // Tests the head once; on done runs its on_done (verification, irecvConsumed) and pops it.
  AssertionResult poll(bool* progressed) {
    int done = 0;
    ncclResult_t rc = testOnce(q_.front().request, &done);
    if (rc != ncclSuccess) {
      return AssertionFailure() << name_ << ": test() of request #" << completed_ << " returned "
                                << rc;
    }
    if (done == 1) {
      Entry e = std::move(q_.front());
      q_.pop_front();
      ++completed_;
      *progressed = true;
      if (e.on_done) e.on_done();
    }
    return AssertionSuccess();
  }

 private:
  struct Entry {
    void* request;
    std::function<void()> on_done;
  };
  std::string name_;
  std::deque<Entry> q_;
  int completed_ = 0;
};

// Tests the heads of `fifos` round-robin until all are empty (TCPX progresses only inside
// test(), so every comm with work is tested). Fails on an error or on kStallLimit without progress.
inline AssertionResult drain(const std::vector<Fifo*>& fifos) {
  auto last_progress = Clock::now();
  for (;;) {
    bool progressed = false, all_empty = true;
    for (Fifo* f : fifos) {
      if (f->empty()) continue;
      all_empty = false;
      AssertionResult r = f->poll(&progressed);
      if (!r) return r;
    }
    if (all_empty) return AssertionSuccess();
    if (progressed) {
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > kStallLimit) {
      AssertionResult r = AssertionFailure();
      r << "no request completed for " << kStallLimit.count() << " s;";
      for (Fifo* f : fifos) r << " " << f->name() << ": " << f->size() << " outstanding;";
      return r;
    }
    if (!progressed) std::this_thread::yield();
  }
}

// ---------------------------------------------------------------------------------------------
// UNPACK receives

// What an UNPACK receive leaves: the unpackNetDeviceHandle accept() pointed to, the loadMeta
// scatter lists and the bounce pages, read wherever they live.
class UnpackView {
 public:
  explicit UnpackView(const ncclNetDeviceHandle_v7_t& dev) {
    if (dev.handle != nullptr) readAny(&h_, dev.handle, sizeof(h_));
  }
  const unpackNetDeviceHandle& handle() const { return h_; }
  uint64_t count(int slot) const {
    uint64_t cnt = 0;
    readAny(&cnt, &h_.meta->cnt[slot], sizeof(cnt));
    return cnt;
  }
  std::vector<loadMeta> fragments(int slot, uint64_t cnt) const {
    std::vector<loadMeta> frags(cnt);
    readAny(frags.data(), &h_.meta->mem[slot][0], cnt * sizeof(loadMeta));
    return frags;
  }
  void readBounce(char* dst, uint64_t off, size_t n) const {
    readAny(dst, static_cast<const char*>(h_.bounce_buf) + off, n);
  }

 private:
  unpackNetDeviceHandle h_{};
};

// A completed CUDA-registered UNPACK receive: `cnt` fragments of <= 4 KiB covering [0, size)
// exactly once that gather to the sent bytes; large messages land in shuffled pages.
inline void checkScatter(const UnpackView& view, int slot, const char* expect, int size,
                         const std::string& what) {
  uint64_t cnt = view.count(slot);
  ASSERT_LE(cnt, uint64_t{NCCL_NET_UNPACK_MAX_SLICE_PAGES}) << what;
  std::vector<loadMeta> frags = view.fragments(slot, cnt);
  std::sort(frags.begin(), frags.end(),
            [](const loadMeta& a, const loadMeta& b) { return a.dst_off < b.dst_off; });
  std::vector<char> got(static_cast<size_t>(size));
  uint64_t covered = 0;
  for (const loadMeta& f : frags) {
    ASSERT_GT(f.len, 0u) << what;
    ASSERT_LE(f.len, kPage) << what;
    ASSERT_EQ(f.dst_off, covered) << what << ": fragments leave a gap or overlap";
    ASSERT_LE(f.dst_off + f.len, static_cast<uint64_t>(size)) << what;
    view.readBounce(got.data() + f.dst_off, f.src_off, f.len);
    covered += f.len;
  }
  ASSERT_EQ(covered, static_cast<uint64_t>(size)) << what << ": fragments do not cover it";
  EXPECT_EQ(firstMismatch(got.data(), expect, got.size()), -1)
      << what << ": gathered bytes differ from the sent ones";
  if (size >= (1 << 20)) {
    size_t in_order = 0;
    for (size_t i = 1; i < frags.size(); ++i) {
      if (frags[i].src_off / kPage == frags[i - 1].src_off / kPage + 1) ++in_order;
    }
    EXPECT_LT(in_order, frags.size() - 1)
        << what << ": every fragment sits in the page after the previous one (not shuffled)";
  }
}

// ---------------------------------------------------------------------------------------------
// Runs: a message plan moved through pairs by sides, each side driven by exactly one thread.

struct Msg {
  int size;
  size_t src_off;       // in the sender's source buffer
  size_t dst_off;       // in the receiver's destination buffer
  bool device = false;  // receive into the CUDA-registered buffer (UNPACK or GPU direct)
};

// One comm's part in a run: posts requests (at most `window` outstanding) and tests the head.
class Side {
 public:
  virtual ~Side() = default;
  virtual AssertionResult step(bool* progressed) = 0;
  virtual bool finished() const = 0;
  virtual std::string describe() const = 0;
};

class SendSide : public Side {
 public:
  SendSide(Pair& p, const char* src, void* mh, const std::vector<Msg>& plan, int window)
      : p_(p), src_(src), mh_(mh), plan_(plan), window_(window), fifo_("send comm") {}
  AssertionResult step(bool* progressed) override {
    while (next_ < plan_.size() && fifo_.size() < window_) {
      void* req = nullptr;
      const Msg& m = plan_[next_];
      ncclResult_t rc = postSend(p_, src_ + m.src_off, m.size, mh_, &req);
      if (rc != ncclSuccess) {
        return AssertionFailure() << "isend #" << next_ << " (" << m.size << " B) returned " << rc;
      }
      if (req == nullptr) break;  // "not yet": retry on the next step
      fifo_.push(req);
      ++next_;
    }
    return fifo_.empty() ? AssertionSuccess() : fifo_.poll(progressed);
  }
  bool finished() const override { return next_ == plan_.size() && fifo_.empty(); }
  std::string describe() const override {
    return "send comm: " + std::to_string(fifo_.completed()) + "/" + std::to_string(plan_.size()) +
           " done";
  }

 private:
  Pair& p_;
  const char* src_;
  void* mh_;
  const std::vector<Msg>& plan_;
  size_t window_;
  Fifo fifo_;
  size_t next_ = 0;
};

// Receives the plan, checks each message against the sender's source bytes (`expect`), then
// consumes it. Host-memory receives must land in the buffer (UNPACK: with cnt[q] == 0).
class RecvSide : public Side {
 public:
  RecvSide(Pair& p, char* dst, void* mh, const char* expect, const std::vector<Msg>& plan,
           int window, bool unpack, CudaRegisteredBuffer* dev = nullptr)
      : p_(p),
        dst_(dst),
        mh_(mh),
        expect_(expect),
        plan_(plan),
        window_(window),
        unpack_(unpack),
        dev_(dev),
        fifo_("recv comm") {
    if (unpack_) view_ = std::make_unique<UnpackView>(p.recv_dev);
    if (dev_ != nullptr) dev_->fill(kUntouched);
  }
  AssertionResult step(bool* progressed) override {
    while (next_ < plan_.size() && fifo_.size() < window_) {
      const Msg& m = plan_[next_];
      char* dst = m.device ? dev_->data() + m.dst_off : dst_ + m.dst_off;
      void* req = nullptr;
      int slot = static_cast<int>(p_.irecvs % kSlots);
      ncclResult_t rc = postRecv(p_, dst, m.size, m.device ? dev_->mh() : mh_, &req);
      if (rc != ncclSuccess) {
        return AssertionFailure() << "irecv #" << next_ << " (" << m.size << " B) returned " << rc;
      }
      if (req == nullptr) break;
      fifo_.push(req, [this, index = next_, slot, req] { onDone(index, slot, req); });
      ++next_;
    }
    return fifo_.empty() ? AssertionSuccess() : fifo_.poll(progressed);
  }
  bool finished() const override { return next_ == plan_.size() && fifo_.empty(); }
  std::string describe() const override {
    return "recv comm: " + std::to_string(fifo_.completed()) + "/" + std::to_string(plan_.size()) +
           " done";
  }

 private:
  static constexpr char kUntouched = 0x3c;

  void onDone(size_t index, int slot, void* req) {
    const Msg& m = plan_[index];
    std::string what = "message #" + std::to_string(index) + " (" + std::to_string(m.size) +
                       " B, slot " + std::to_string(slot) + ")";
    if (m.device && !unpack_) {
      // GPU direct: the bytes land in the CUDA-registered buffer itself.
      EXPECT_TRUE(dev_->holds(m.dst_off, expect_ + m.src_off, static_cast<size_t>(m.size))) << what;
    } else if (m.device) {
      EXPECT_TRUE(dev_->untouched(m.dst_off, static_cast<size_t>(m.size), kUntouched)) << what;
      checkScatter(*view_, slot, expect_ + m.src_off, m.size, what);
    } else {
      EXPECT_EQ(firstMismatch(dst_ + m.dst_off, expect_ + m.src_off, m.size), -1)
          << what << ": received bytes differ from the sent ones";
      if (unpack_) {
        EXPECT_EQ(view_->count(slot), 0u) << what << ": host receive with fragments";
      }
    }
    EXPECT_EQ(net().irecvConsumed(p_.recv, 1, req), ncclSuccess) << what;
  }

  Pair& p_;
  char* dst_;
  void* mh_;
  const char* expect_;
  const std::vector<Msg>& plan_;
  size_t window_;
  bool unpack_;
  CudaRegisteredBuffer* dev_;
  std::unique_ptr<UnpackView> view_;
  Fifo fifo_;
  size_t next_ = 0;
};

// Steps `sides` round-robin until all finished; fails on an error or kStallLimit without progress.
inline AssertionResult run(const std::vector<Side*>& sides) {
  auto last_progress = Clock::now();
  for (;;) {
    bool progressed = false, all_finished = true;
    for (Side* s : sides) {
      if (s->finished()) continue;
      all_finished = false;
      AssertionResult r = s->step(&progressed);
      if (!r) return r;
    }
    if (all_finished) return AssertionSuccess();
    if (progressed) {
      last_progress = Clock::now();
      continue;
    }
    if (Clock::now() - last_progress > kStallLimit) {
      AssertionResult r = AssertionFailure();
      r << "no request completed for " << kStallLimit.count() << " s:";
      for (Side* s : sides) r << " " << s->describe() << ";";
      return r;
    }
    std::this_thread::yield();
  }
}

// `count` messages of random sizes up to `max_size` at random misalignments; destinations of
// the `window` messages that can be outstanding at once never overlap.
inline std::vector<Msg> randomPlan(int count, int max_size, int window, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Msg> plan;
  for (int i = 0; i < count; ++i) {
    Msg m;
    m.size = static_cast<int>(rng() % (max_size + 1));
    m.src_off = rng() % 4096;
    m.dst_off = static_cast<size_t>(i % window) * (max_size + 4096) + rng() % 4096;
    plan.push_back(m);
  }
  return plan;
}
inline size_t dstBytes(int max_size, int window) {
  return static_cast<size_t>(window) * (max_size + 4096);
}

// ---------------------------------------------------------------------------------------------
// The fixture: loads the library under test once per process (init runs once per process).

// The library a test binary tests; each binary defines it (conformance: $TCPXP_CONFORMANCE_PLUGIN
// or the built-in; guard rails: always the built-in).
std::string pluginUnderTest();

class NetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (g_net != nullptr) return;
    std::string path = pluginUnderTest();
    tcpxp::transport::NetPlugin* plugin = nullptr;
    tcpxp::Status st = tcpxp::transport::NetPlugin::load(path, &plugin);
    if (st.isOk()) {
      g_net = &plugin->table();
    } else {
      load_error_ = path + ": " + st.toString();
    }
  }
  void SetUp() override {
    ASSERT_NE(g_net, nullptr) << "cannot load the plugin under test: " << load_error_;
    ASSERT_EQ(net().getProperties(0, &props_), ncclSuccess);
    unpack_ = props_.netDeviceType == NCCL_NET_DEVICE_UNPACK;
  }

  // A connected pair plus registered source and destination buffers.
  struct Rig {
    Pair pair;
    HostBuffer src, dst;
    std::unique_ptr<Mr> src_mr, dst_mr;
  };
  void makeRig(Rig* rig, size_t src_bytes, size_t dst_bytes, uint64_t seed) {
    ASSERT_TRUE(connectPair(&rig->pair));
    rig->src = allocHost(src_bytes);
    rig->dst = allocHost(dst_bytes);
    fillPattern(rig->src.get(), src_bytes, seed);
    std::memset(rig->dst.get(), 0, dst_bytes);
    rig->src_mr = std::make_unique<Mr>(rig->pair.send, rig->src.get(), src_bytes, NCCL_PTR_HOST);
    rig->dst_mr = std::make_unique<Mr>(rig->pair.recv, rig->dst.get(), dst_bytes, NCCL_PTR_HOST);
    ASSERT_EQ(rig->src_mr->rc(), ncclSuccess);
    ASSERT_EQ(rig->dst_mr->rc(), ncclSuccess);
  }
  // Deregisters before the pair's comms close (TCPX order: deregMr, then close).
  static void release(Rig* rig) {
    rig->src_mr.reset();
    rig->dst_mr.reset();
    rig->pair.close();
  }
  AssertionResult runPlan(Rig& rig, const std::vector<Msg>& plan, int window,
                          CudaRegisteredBuffer* dev = nullptr) {
    SendSide send(rig.pair, rig.src.get(), rig.src_mr->get(), plan, window);
    RecvSide recv(rig.pair, rig.dst.get(), rig.dst_mr->get(), rig.src.get(), plan, window, unpack_,
                  dev);
    return run({&send, &recv});
  }

  static inline std::string load_error_;
  ncclNetProperties_v7_t props_{};
  bool unpack_ = false;
};

}  // namespace tcpxp::conformance
