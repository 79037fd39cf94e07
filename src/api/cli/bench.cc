// tcpx-p2p bench: bandwidth of send/recv, write and read per message size, and the round trip
// of an 8-byte write, between a server and a client (two local processes, or two machines).
//
// Pairs: by default each side holds one Endpoint. With --gpus each side's process holds one
// Endpoint per entry and client endpoint i drives server endpoint i, every pair at once: UCCL's
// single-process mode (one process per node drives all its GPUs, each through its own Endpoint;
// DESIGN.md "Processes and GPUs"), paired GPU i -> GPU i as the one-process-per-GPU launchers
// pair them. Pair 0 connects to the address given; the server's hello lists the control ports of
// all its endpoints, and pair i connects to the same host at port i.
//
// Protocol per pair, all over the engine (the messages use its send/recv; see session.h Messenger):
//   client -> server  BenchPlan (modes, sizes, iterations, window, pair count and index, verify)
//   server -> client  ServerHello (its endpoint count and their ports, the FifoItem of one
//                     advertised buffer of the largest size)
//   per (mode, size): the client runs warm-up then timed transfers (sendrecv: the server posts
//                     the matching receives), then sends Step; the server checks what it received
//                     (--verify), readies its buffer for the next step and answers StepAck
//   client -> server  Bye;  server -> client  Bye (both then close)
// The client's pairs start each size's warm-up and its timed transfers together (a barrier with
// the main thread, which prints the rows and the progress); the server's pairs run on their own.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "api/cli/args.h"
#include "api/cli/bench_pattern.h"
#include "api/cli/bench_plan.h"
#include "api/cli/bench_report.h"
#include "api/cli/buffer.h"
#include "api/cli/commands.h"
#include "api/cli/gpu_list.h"
#include "api/cli/process.h"
#include "api/cli/session.h"
#include "common/quantity.h"
#include "control/fifo_item.h"

namespace tcpxp::cli {
namespace {

using Clock = std::chrono::steady_clock;

// A size running longer than this gets a progress line on stderr, then one per period.
constexpr double kProgressPeriodS = 2;

const char* modeName(uint32_t m) {
  switch (m) {
    case kSendRecv:
      return "sendrecv";
    case kWrite:
      return "write";
    case kRead:
      return "read";
    case kLatency:
      return "latency";
    case kWriteV:
      return "writev";
    case kReadV:
      return "readv";
  }
  return "?";
}

const std::vector<uint64_t> kUcclSizes = {256,       1 << 10, 4 << 10,  16 << 10, 64 << 10,
                                          256 << 10, 1 << 20, 10000000, 16 << 20, 100000000};

const Command kBench = {
    .name = "bench",
    .usage = "bench --local | --server | --client IP:PORT [--mode all] [--sizes LIST] [flags]",
    .summary =
        "Measures the engine between a server and a client: per mode and size, --warmup untimed "
        "then --iters\n"
        "timed transfers, --inflight at a time: GB/s (decimal), latency, a summary. --gpus: "
        "several pairs.",
    .flags =
        {
            {"--local", nullptr, "run the server and the client as two processes on this machine"},
            {"--server", nullptr, "print this endpoint's address (IP:PORT[?BDF]), serve a client"},
            {"--client", "IP:PORT", "connect to a server (its printed address)"},
            {"--mode", "LIST",
             "sendrecv, write, read, writev, readv, latency, all (= the first 3; default)"},
            {"--latency", nullptr, "add the latency mode (--latency-iters N round trips, 1000)"},
            {"--pieces", "N", "writev/readv: N scattered pieces per transfer (default 1024)"},
            {"--piece-bytes", "B", "writev/readv: pieces of B bytes instead (size / B pieces)"},
            {"--adjacent", nullptr,
             "writev/readv, --kv: pieces back to back on both sides, not scattered"},
            {"--kv", "LxBxBYTES", "KV cache: readv of L layers x B blocks of BYTES (decode reads)"},
            {"--sizes", "LIST", "e.g. 256,4K,1M,10MB (default UCCL's sweep 256 .. 100MB; max 4G)"},
            {"--iters", "N", "timed transfers per size, 1..1000000 (default 10)"},
            {"--warmup", "N", "untimed transfers per size first, 0..1000000 (default 1)"},
            {"--inflight", "K",
             "transfers in flight, 1..64 (default 1); --spread: each on its own buffer region"},
            // Listed under --inflight (--help stays within 40 lines).
            {"--spread", nullptr,
             "sendrecv/write/read: transfer i on region i % K of a K x size buffer (own memory "
             "per request)",
             true},
            {"--latency-iters", "N", "round trips of the latency mode (default 1000)", true},
            {"--gpu", "N", "GPU memory on GPU N (default: GPU memory when a GPU is present)"},
            {"--server-gpu", "N", "--local: the server's GPU"},
            {"--host", nullptr, "host memory, even when a GPU is present"},
            {"--server-host", nullptr, "--local: host memory on the server side only"},
            {"--client-host", nullptr, "--local: host memory on the client side only"},
            {"--gpus", "LIST", "single-process mode: 0-7, 0,1,4, 0x4 (4 on GPU 0), hostx4"},
            {"--server-gpus", "LIST", "--local with --gpus: the server's endpoints"},
            {"--verify", nullptr, "check every received byte after each size (untimed)"},
            {"--json", "FILE", "write every result to FILE (client side)"},
            {"--stats", nullptr, "print the traffic per NIC and per channel (client side)"},
            {"--stats-json", "FILE", "the same counters as JSON, to FILE"},
            {"--timeout", "S", "deadline in seconds of every wait and message (default 60)"},
            {"--accept-timeout", "S", "--server: wait this long for the client (default 600)"},
            {"--role", "server", "internal: the server side of --local", true},
            {"--meta-fd", "FD", "internal: pipe for the server's address", true},
            {"--progress-every", "SECONDS", "tests: the progress period (default 2)", true},
        },
    .examples =
        "UCCL_SOCKET_IFNAME=lo tcpx-p2p bench --local --host --sizes 4K,1M --iters 3\n"
        "tcpx-p2p bench --client 10.0.0.5:41234 --gpu 0 --mode write,read --inflight 8\n",
};

struct BenchOptions {
  int role = 0;  // 0 local, 1 server, 2 client
  std::string peer;
  uint32_t modes = 0;
  std::vector<uint64_t> sizes;
  uint32_t iters = 10, warmup = 1, inflight = 1, latency_iters = 1000;
  uint32_t pieces = kDefaultPieces;  // writev/readv: pieces per transfer, unless piece_bytes
  uint64_t piece_bytes = 0;
  bool adjacent = false;  // --adjacent
  bool spread = false;    // --spread
  std::string kv;         // --kv as given, for the header
  bool host = false, server_host = false, client_host = false;
  int gpu = -2, server_gpu = -2;
  bool per_pair = false;               // --gpus given
  std::vector<int> gpus, server_gpus;  // --gpus, --server-gpus (kHostEndpoint: host memory)
  bool verify = false;
  std::string json;
  bool stats = false;
  std::string stats_json;
  double timeout = 60, accept_timeout = 600;
  double progress_s = kProgressPeriodS;
  int meta_fd = -1;
};

struct ServerHello {
  uint32_t magic = kBenchMagic;
  uint32_t version = kBenchVersion;
  uint32_t pairs = 0;  // the server's endpoints
  int32_t gpu = -1;    // this endpoint's GPU, -1 host memory
  uint64_t buffer_bytes = 0;
  uint8_t fifo[64] = {};
  char memory[128] = {};
  uint16_t ports[kMaxEndpoints] = {};  // control port of server endpoint i, for pair i
};

enum StepKind : uint32_t { kStep = 1, kBye = 2, kAck = 3 };
struct Step {
  uint32_t magic = kBenchMagic;
  uint32_t kind = kStep;
  uint32_t mode = 0;
  uint32_t ok = 1;  // kAck: 0 when the server's check failed; `error` says why
  uint64_t size = 0;
  char error[240] = {};
};

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Text from the peer, for messages: at most `n` bytes up to a NUL, control bytes replaced.
std::string printable(const char* text, size_t n) {
  std::string out(text, strnlen(text, n));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

Status stopped() { return Status(Code::kTimeout, "stopped (another pair failed)"); }

// Runs `count` transfers, at most `inflight` in flight, waiting for each in submission order.
// Adds each one's submit -> completion time to *latency_sum_s when given; counts completions in
// *done when given.
Status runWindow(Endpoint& ep, uint32_t count, uint32_t inflight, double timeout,
                 const std::string& what, const std::function<Status(XferId*)>& submit,
                 double* latency_sum_s, std::atomic<uint64_t>* done_count,
                 const std::atomic<bool>* stop, std::vector<double>* samples_us = nullptr) {
  struct Pending {
    XferId id;
    Clock::time_point start;
  };
  std::vector<Pending> ring(inflight);
  uint32_t submitted = 0, done = 0;
  while (done < count) {
    while (submitted < count && submitted - done < inflight) {
      Pending& p = ring[submitted % inflight];
      p.start = Clock::now();
      Status st = submit(&p.id);
      if (!st.isOk()) return Status(st.code(), what + ": " + st.message());
      ++submitted;
    }
    Pending& p = ring[done % inflight];
    TCPXP_RETURN_IF_ERROR(waitTransfer(ep, p.id, Deadline(timeout), what, nullptr, stop));
    double took = since(p.start);
    if (latency_sum_s) *latency_sum_s += took;
    if (samples_us) samples_us->push_back(took * 1e6);
    if (done_count) done_count->fetch_add(1, std::memory_order_relaxed);
    ++done;
  }
  return Status::ok();
}

// The client's pair threads and its main thread meet here at each phase of a step. abort() (a
// pair failed) releases every waiter with false.
class StepBarrier {
 public:
  explicit StepBarrier(size_t parties) : parties_(parties) {}

  // True once every party has arrived. tick: called every `period` while waiting.
  bool arriveAndWait(const std::function<void()>& tick = nullptr,
                     Clock::duration period = Clock::duration::zero()) {
    std::unique_lock<std::mutex> lock(mu_);
    if (aborted_) return false;
    uint64_t generation = generation_;
    if (++arrived_ == parties_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return true;
    }
    auto released = [&] { return generation_ != generation || aborted_; };
    while (!released()) {
      if (!tick) {
        cv_.wait(lock, released);
      } else if (!cv_.wait_for(lock, period, released)) {
        lock.unlock();
        tick();
        lock.lock();
      }
    }
    return generation_ != generation;
  }

  void abort() {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t parties_;
  size_t arrived_ = 0;
  uint64_t generation_ = 0;
  bool aborted_ = false;
};

// One thread per pair. The first failure sets stop() (the others' waits end at once) and calls
// on_failure; join() returns that first failure once every thread has ended.
class PairThreads {
 public:
  explicit PairThreads(std::function<void()> on_failure) : on_failure_(std::move(on_failure)) {}
  ~PairThreads() { (void)join(); }

  void start(size_t n, const std::function<Status(size_t)>& body) {
    for (size_t i = 0; i < n; ++i) {
      threads_.emplace_back([this, i, body] {
        Status st = body(i);
        if (!st.isOk()) fail(std::move(st));
      });
    }
  }

  Status join() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

  const std::atomic<bool>* stop() const { return &stop_; }

 private:
  void fail(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_.isOk()) return;
    first_ = std::move(st);
    stop_.store(true, std::memory_order_relaxed);
    if (on_failure_) on_failure_();
  }

  std::function<void()> on_failure_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  Status first_;
  std::atomic<bool> stop_{false};
};

// "pair 2 (2->2): " before a pair's errors when there are several.
Status inPair(bool per_pair, size_t index, const std::string& label, Status st) {
  if (st.isOk() || !per_pair) return st;
  return Status(st.code(), "pair " + std::to_string(index) + " (" + label + "): " + st.message());
}

// ---------------------------------------------------------------- server

struct ServerPair {
  std::unique_ptr<Messenger> msg;  // declared first: outlives the endpoint (session.h)
  Buffer buf;
  std::unique_ptr<Endpoint> ep;
  int gpu = -1;
};

// Before step `k`: the buffer the client reads holds the pattern; one it writes into, the sentinel.
Status prepareServerBuffer(ServerPair& p, const BenchPlan& plan, const StepSpec& s, uint32_t index,
                           uint32_t k) {
  if (s.mode == kLatency) return Status::ok();
  uint64_t n = vectorMode(s.mode) ? 2 * s.size : s.size * stepRegions(plan, s);
  if (s.mode == kRead || s.mode == kReadV) return fillPattern(p.buf, n, patternSeed(index, k));
  return fillSentinel(p.buf, n);
}

Status servePair(const BenchOptions& o, uint32_t index, const std::vector<uint16_t>& ports,
                 ServerPair& p, const std::atomic<bool>* stop) {
  double accept_s = o.meta_fd >= 0 ? o.timeout : o.accept_timeout;
  ConnId conn = 0;
  std::string peer_ip;
  int peer_gpu = -1;
  Deadline accept_deadline(accept_s);
  engine::Interrupted passed = accept_deadline.interrupted();
  Status st = p.ep->accept(
      &conn, &peer_ip, &peer_gpu, [&] { return stop->load(std::memory_order_relaxed) || passed(); },
      static_cast<int64_t>(accept_s * 1000));
  if (stop->load(std::memory_order_relaxed)) return stopped();
  if (!st.isOk()) {
    return Status(st.code(), "no client connected to " + endpointAddress(*p.ep) + " within " +
                                 std::to_string(static_cast<int>(accept_s)) +
                                 " s: " + st.message());
  }
  TCPXP_RETURN_IF_ERROR(Messenger::create(p.ep.get(), conn, o.timeout, &p.msg));
  p.msg->stopWhen(stop);
  BenchPlan plan;
  TCPXP_RETURN_IF_ERROR(p.msg->recvPod(&plan, "receiving the client's plan"));
  std::string why = planProblem(plan);
  if (!why.empty()) return Status(Code::kProtocolError, "the client's plan: " + why);
  ServerHello hello;
  hello.pairs = static_cast<uint32_t>(ports.size());
  hello.gpu = p.gpu;
  std::copy(ports.begin(), ports.end(), hello.ports);
  std::snprintf(hello.memory, sizeof(hello.memory), "%s", memoryName(p.gpu).c_str());
  if (plan.pairs != ports.size() || plan.pair != index) {
    // The hello still goes out, so that the client can say why too.
    Status sent = p.msg->sendPod(hello, "sending the endpoint count");
    (void)sent;
    return Status(Code::kInvalidArgument,
                  plan.pairs != ports.size()
                      ? "the client drives " + std::to_string(plan.pairs) +
                            " endpoint(s), this server has " + std::to_string(ports.size()) +
                            "; give both sides the same number of --gpus entries"
                      : "the client's pair " + std::to_string(plan.pair) +
                            " connected to endpoint " + std::to_string(index));
  }
  TCPXP_RETURN_IF_ERROR(Buffer::allocate(p.gpu, bufferBytes(plan), &p.buf));
  MrId mr = 0;
  TCPXP_RETURN_IF_ERROR(p.ep->reg(p.buf.data(), p.buf.size(), &mr));
  engine::FifoBlob fifo{};
  TCPXP_RETURN_IF_ERROR(p.ep->advertise(conn, mr, p.buf.data(), p.buf.size(), &fifo));
  hello.buffer_bytes = p.buf.size();
  std::memcpy(hello.fifo, fifo.data(), fifo.size());
  std::vector<StepSpec> steps = planSteps(plan);
  if (plan.verify && !steps.empty())
    TCPXP_RETURN_IF_ERROR(prepareServerBuffer(p, plan, steps[0], index, 0));
  TCPXP_RETURN_IF_ERROR(p.msg->sendPod(hello, "sending the advertisement"));
  if (o.meta_fd < 0) {
    std::string from = peer_gpu < 0 ? "host memory" : "GPU " + std::to_string(peer_gpu);
    if (ports.size() > 1) {
      std::printf("  pair %u: client %s connected (%s)\n", index, peer_ip.c_str(), from.c_str());
    } else {
      std::printf("  client %s connected (%s)\n", peer_ip.c_str(), from.c_str());
    }
    std::fflush(stdout);
  }

  for (uint32_t k = 0; k < steps.size(); ++k) {
    const StepSpec& s = steps[k];
    uint32_t transfers = stepTransfers(plan, s);
    std::string what = std::string(modeName(s.mode)) + " " + formatBytes(s.size);
    if (s.mode == kSendRecv) {
      engine::Segment seg{mr, p.buf.data(), s.size};
      uint64_t posted = 0;  // --spread: receive i lands in region i % inflight, as send i left
      auto post = [&](XferId* id) {
        if (plan.spread) seg.ptr = p.buf.data() + (posted++ % plan.inflight) * s.size;
        return p.ep->recvAsync(conn, {&seg, 1}, id);
      };
      TCPXP_RETURN_IF_ERROR(runWindow(*p.ep, transfers, plan.inflight, o.timeout,
                                      "sendrecv receive", post, nullptr, nullptr, stop));
    }
    Step step;
    TCPXP_RETURN_IF_ERROR(p.msg->recvPod(&step, "waiting for the client's " + what + " run",
                                         o.timeout * (transfers + 2)));
    if (step.magic != kBenchMagic || step.kind != kStep || step.mode != s.mode ||
        step.size != s.size) {
      return Status(Code::kProtocolError, "the client's progress message does not match the plan");
    }
    Step ack;
    ack.kind = kAck;
    ack.mode = s.mode;
    ack.size = s.size;
    std::string mismatch;
    if (plan.verify && (s.mode == kWrite || s.mode == kSendRecv)) {
      TCPXP_RETURN_IF_ERROR(
          checkPattern(p.buf, s.size * stepRegions(plan, s), patternSeed(index, k), &mismatch));
    }
    if (plan.verify && s.mode == kWriteV) {
      TCPXP_RETURN_IF_ERROR(
          checkMoved(p.buf, vectorMoves(plan, s.size, true), patternSeed(index, k), &mismatch));
    }
    if (!mismatch.empty()) {
      ack.ok = 0;
      std::snprintf(ack.error, sizeof(ack.error), "%s", mismatch.c_str());
    } else if (plan.verify && k + 1 < steps.size()) {
      TCPXP_RETURN_IF_ERROR(prepareServerBuffer(p, plan, steps[k + 1], index, k + 1));
    }
    TCPXP_RETURN_IF_ERROR(p.msg->sendPod(ack, "answering the " + what + " run"));
    if (!mismatch.empty())
      return Status(Code::kProtocolError, what + ": the data received is wrong: " + mismatch);
  }
  Step bye;
  TCPXP_RETURN_IF_ERROR(p.msg->recvPod(&bye, "waiting for the client's goodbye"));
  if (bye.magic != kBenchMagic || bye.kind != kBye)
    return Status(Code::kProtocolError, "expected the goodbye");
  return p.msg->sendPod(bye, "answering the goodbye");
}

Status serve(const BenchOptions& o, const std::vector<int>& gpus) {
  std::vector<std::unique_ptr<ServerPair>> pairs;
  std::vector<uint16_t> ports;
  for (int gpu : gpus) {
    auto p = std::make_unique<ServerPair>();
    p->gpu = gpu;
    TCPXP_RETURN_IF_ERROR(createEndpoint(gpu, &p->ep));
    ports.push_back(p->ep->info().port);
    pairs.push_back(std::move(p));
  }
  std::string address = endpointAddress(*pairs[0]->ep);
  if (o.meta_fd >= 0) {
    TCPXP_RETURN_IF_ERROR(writeLine(o.meta_fd, address));
  } else if (!o.per_pair) {
    std::printf(
        "tcpx-p2p bench server: %s, transport %s\n  waiting %.0f s for: tcpx-p2p bench --client "
        "%s\n",
        memoryName(gpus[0]).c_str(), transportSummary(*pairs[0]->ep).c_str(), o.accept_timeout,
        address.c_str());
  } else {
    std::printf("tcpx-p2p bench server: %zu endpoints (--gpus %s), transport %s\n", gpus.size(),
                formatGpuList(gpus).c_str(), transportSummary(*pairs[0]->ep).c_str());
    for (size_t i = 0; i < pairs.size(); ++i) {
      std::printf("  endpoint %zu: %s, port %u\n", i, memoryName(gpus[i]).c_str(),
                  static_cast<unsigned>(ports[i]));
    }
    std::printf("  waiting %.0f s for: tcpx-p2p bench --client %s --gpus <%zu entries>\n",
                o.accept_timeout, address.c_str(), gpus.size());
  }
  std::fflush(stdout);
  PairThreads threads(nullptr);
  threads.start(pairs.size(), [&](size_t i) {
    std::string label = endpointLabel(gpus[i]);
    return inPair(o.per_pair, i, label,
                  servePair(o, static_cast<uint32_t>(i), ports, *pairs[i], threads.stop()));
  });
  TCPXP_RETURN_IF_ERROR(threads.join());
  if (o.meta_fd < 0) std::printf("  done\n");
  return Status::ok();
}

// ---------------------------------------------------------------- client

struct ClientPair {
  std::unique_ptr<Messenger> msg;  // declared first: outlives the endpoint (session.h)
  Buffer buf;
  std::unique_ptr<Endpoint> ep;
  int gpu = -1;
  std::string label;  // "0->4"
  ConnId conn = 0;
  MrId mr = 0;
  ServerHello hello;
  std::atomic<uint64_t> done{0};  // transfers completed in the running step (progress)
};

// What one pair measured in one step.
struct PairStep {
  Clock::time_point start, end;  // the timed transfers
  double latency_sum_s = 0;
  std::vector<double> latency_us;  // the latency mode's round trips
  std::vector<double> request_us;  // each timed transfer's submit -> completion
};

// The segments of one vector-mode transfer: piece i of the client's buffer <-> the server's
// (sub-ranges of the server's one advertisement: its token covers them).
Status vectorSegments(const BenchPlan& plan, uint64_t size, const ClientPair& p,
                      std::vector<engine::Segment>* out) {
  control::FifoItem ad;
  TCPXP_RETURN_IF_ERROR(control::decodeFifoItem(p.hello.fifo, sizeof(p.hello.fifo), &ad));
  uint32_t n = piecesOf(plan, size);
  uint64_t b = size / n;
  out->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    control::FifoItem item = ad;
    item.addr = ad.addr + serverOffset(plan, n, b, i);
    item.size = b;
    engine::Segment& seg = (*out)[i];
    seg = engine::Segment{p.mr, p.buf.data() + clientOffset(plan, n, b, i), b, {}};
    control::encodeFifoItem(item, seg.fifo.data());
  }
  return Status::ok();
}

Status runClientPair(const BenchOptions& o, const BenchPlan& plan,
                     const std::vector<StepSpec>& steps, uint32_t index, ClientPair& p,
                     StepBarrier& barrier, const std::atomic<bool>* stop,
                     std::vector<PairStep>* out) {
  for (uint32_t k = 0; k < steps.size(); ++k) {
    const StepSpec& s = steps[k];
    PairStep& r = (*out)[k];
    uint32_t seed = patternSeed(index, k);
    if (o.verify && s.mode != kLatency) {
      uint64_t n = vectorMode(s.mode) ? 2 * s.size : s.size * stepRegions(plan, s);
      TCPXP_RETURN_IF_ERROR(s.mode == kRead || s.mode == kReadV ? fillSentinel(p.buf, n)
                                                                : fillPattern(p.buf, n, seed));
    }
    p.done.store(0, std::memory_order_relaxed);
    if (!barrier.arriveAndWait()) return stopped();
    engine::Segment seg{p.mr, p.buf.data(), s.size};
    std::memcpy(seg.fifo.data(), p.hello.fifo, sizeof(p.hello.fifo));
    std::string what = std::string(modeName(s.mode)) + " of " + formatBytes(s.size);
    if (s.mode == kLatency) {
      r.latency_us.reserve(plan.latency_iters);
      for (uint32_t i = 0; i < kLatencyWarmup + plan.latency_iters; ++i) {
        auto t0 = Clock::now();
        XferId id = 0;
        TCPXP_RETURN_IF_ERROR(p.ep->writeAsync(p.conn, {&seg, 1}, &id));
        TCPXP_RETURN_IF_ERROR(
            waitTransfer(*p.ep, id, Deadline(o.timeout), "latency write", nullptr, stop));
        if (i >= kLatencyWarmup) r.latency_us.push_back(since(t0) * 1e6);
        p.done.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      std::vector<engine::Segment> pieces;
      if (vectorMode(s.mode)) TCPXP_RETURN_IF_ERROR(vectorSegments(plan, s.size, p, &pieces));
      // --spread: transfer i (warm-up ones first) at region i % inflight on both sides.
      control::FifoItem ad;
      if (plan.spread) {
        TCPXP_RETURN_IF_ERROR(control::decodeFifoItem(p.hello.fifo, sizeof(p.hello.fifo), &ad));
      }
      uint64_t submitted = 0;
      auto submit = [&](XferId* id) {
        if (plan.spread) {
          const uint64_t off = (submitted++ % plan.inflight) * s.size;
          control::FifoItem item = ad;
          item.addr = ad.addr + off;
          item.size = s.size;
          seg = engine::Segment{p.mr, p.buf.data() + off, s.size, {}};
          control::encodeFifoItem(item, seg.fifo.data());
        }
        std::span<const engine::Segment> one(&seg, 1);
        if (s.mode == kWriteV) return p.ep->writeAsync(p.conn, pieces, id);
        if (s.mode == kReadV) return p.ep->readAsync(p.conn, pieces, id);
        if (s.mode == kSendRecv) return p.ep->sendAsync(p.conn, one, id);
        if (s.mode == kWrite) return p.ep->writeAsync(p.conn, one, id);
        return p.ep->readAsync(p.conn, one, id);
      };
      TCPXP_RETURN_IF_ERROR(
          runWindow(*p.ep, o.warmup, o.inflight, o.timeout, what, submit, nullptr, &p.done, stop));
      if (!barrier.arriveAndWait()) return stopped();
      r.start = Clock::now();
      TCPXP_RETURN_IF_ERROR(runWindow(*p.ep, o.iters, o.inflight, o.timeout, what, submit,
                                      &r.latency_sum_s, &p.done, stop, &r.request_us));
      r.end = Clock::now();
      if (o.verify && (s.mode == kRead || s.mode == kReadV)) {
        std::string mismatch;
        TCPXP_RETURN_IF_ERROR(
            s.mode == kRead ? checkPattern(p.buf, s.size * stepRegions(plan, s), seed, &mismatch)
                            : checkMoved(p.buf, vectorMoves(plan, s.size, false), seed, &mismatch));
        if (!mismatch.empty())
          return Status(Code::kProtocolError, what + ": the data read is wrong: " + mismatch);
      }
    }
    Step step;
    step.mode = s.mode;
    step.size = s.size;
    TCPXP_RETURN_IF_ERROR(p.msg->sendPod(step, "reporting progress"));
    Step ack;
    TCPXP_RETURN_IF_ERROR(p.msg->recvPod(&ack, "waiting for the server's answer to " + what));
    if (ack.magic != kBenchMagic || ack.kind != kAck || ack.mode != s.mode || ack.size != s.size)
      return Status(Code::kProtocolError, "the server's answer does not match the plan");
    if (!ack.ok) {
      return Status(Code::kRemoteError, what + ": the server received wrong data: " +
                                            printable(ack.error, sizeof(ack.error)));
    }
    if (!barrier.arriveAndWait()) return stopped();
  }
  return Status::ok();
}

// The engine's counters after the run: a table per endpoint and/or JSON
// (engine::Endpoint::stats()); with several pairs the JSON is {"pairs": [one object per pair]}.
std::string statsJson(const engine::EndpointStats& st, const std::string& indent) {
  auto counters = [](const engine::TrafficCounters& c) {
    return "\"bytes_sent\": " + std::to_string(c.bytes_sent) +
           ", \"bytes_received\": " + std::to_string(c.bytes_received) +
           ", \"sends\": " + std::to_string(c.sends) +
           ", \"requests\": " + std::to_string(c.sends + c.receives) +
           ", \"receives\": " + std::to_string(c.receives) +
           ", \"errors\": " + std::to_string(c.errors) +
           ", \"busy_ns\": " + std::to_string(c.busy_ns);
  };
  const std::string item = ",\n" + indent + "    ";
  std::string j = "{\n" + indent + "  \"nics\": [";
  for (size_t i = 0; i < st.nics.size(); ++i) {
    j += (i ? item : "\n" + indent + "    ") + std::string("{\"dev\": ") +
         std::to_string(st.nics[i].dev) + ", \"name\": \"" + st.nics[i].name + "\", " +
         counters(st.nics[i].counters) + "}";
  }
  j += "\n" + indent + "  ],\n" + indent + "  \"connections\": [";
  for (size_t i = 0; i < st.connections.size(); ++i) {
    const engine::ConnectionStats& c = st.connections[i];
    j += (i ? item : "\n" + indent + "    ") + std::string("{\"conn\": ") + std::to_string(c.conn) +
         ", \"peer\": \"" + c.peer + "\", \"channels\": " + std::to_string(c.channels) +
         ", \"staging_bytes\": " + std::to_string(c.staging_bytes) + "}";
  }
  j += "\n" + indent + "  ],\n" + indent + "  \"channels\": [";
  for (size_t i = 0; i < st.channels.size(); ++i) {
    const engine::ChannelStats& c = st.channels[i];
    j += (i ? item : "\n" + indent + "    ") + std::string("{\"conn\": ") + std::to_string(c.conn) +
         ", \"channel\": " + std::to_string(c.channel) + ", \"dev\": " + std::to_string(c.dev) +
         ", " + counters(c.counters) + "}";
  }
  j += "\n" + indent + "  ]\n" + indent + "}";
  return j;
}

void printStats(const engine::EndpointStats& st) {
  std::printf("\n%-4s %-10s %14s %14s %10s %10s %7s %10s\n", "dev", "nic", "bytes sent",
              "bytes recv", "sends", "receives", "errors", "busy (ms)");
  for (const engine::NicStats& n : st.nics) {
    const engine::TrafficCounters& c = n.counters;
    std::printf("%-4d %-10s %14llu %14llu %10llu %10llu %7llu %10.1f\n", n.dev, n.name.c_str(),
                static_cast<unsigned long long>(c.bytes_sent),
                static_cast<unsigned long long>(c.bytes_received),
                static_cast<unsigned long long>(c.sends),
                static_cast<unsigned long long>(c.receives),
                static_cast<unsigned long long>(c.errors), c.busy_ns / 1e6);
  }
  std::printf("\n%-6s %-24s %8s %16s\n", "conn", "peer", "channels", "staging (MiB)");
  for (const engine::ConnectionStats& c : st.connections) {
    std::printf("%-6llu %-24s %8d %16.1f\n", static_cast<unsigned long long>(c.conn),
                c.peer.c_str(), c.channels, c.staging_bytes / double(1 << 20));
  }
}

// Collects every pair's counters: the transport errors for the summary, --stats, --stats-json.
Status reportStats(const BenchOptions& o, std::vector<std::unique_ptr<ClientPair>>& pairs,
                   uint64_t* errors) {
  std::string j;
  for (size_t i = 0; i < pairs.size(); ++i) {
    engine::EndpointStats st;
    TCPXP_RETURN_IF_ERROR(pairs[i]->ep->stats(&st));
    for (const engine::NicStats& n : st.nics) *errors += n.counters.errors;
    if (o.stats) {
      if (o.per_pair) std::printf("\npair %zu (%s):", i, pairs[i]->label.c_str());
      printStats(st);
    }
    if (!o.per_pair) {
      j = statsJson(st, "") + "\n";
    } else {
      j += (i ? ",\n    " : "{\n  \"pairs\": [\n    ") + statsJson(st, "    ");
    }
  }
  if (o.per_pair) j += "\n  ]\n}\n";
  if (o.stats_json.empty()) return Status::ok();
  FILE* f = std::fopen(o.stats_json.c_str(), "w");
  if (f == nullptr || std::fwrite(j.data(), 1, j.size(), f) != j.size()) {
    if (f) std::fclose(f);
    return Status(Code::kSystemError, "cannot write " + o.stats_json);
  }
  std::fclose(f);
  std::printf("stats: %s\n", o.stats_json.c_str());
  return Status::ok();
}

// Pair 0 connects to the address given; its hello names the ports of the server's other
// endpoints, on the same host.
Status connectPair(const BenchOptions& o, const BenchPlan& plan_template, uint32_t index,
                   const ServerHello* first, ClientPair& p) {
  std::string address = o.peer;
  if (index > 0) {
    std::string ip;
    int port = 0;
    TCPXP_RETURN_IF_ERROR(parseEndpointAddress(o.peer, &ip, &port));
    std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    address = host + ":" + std::to_string(first->ports[index]);
  }
  TCPXP_RETURN_IF_ERROR(connectPeer(*p.ep, address, o.timeout, &p.conn));
  TCPXP_RETURN_IF_ERROR(Messenger::create(p.ep.get(), p.conn, o.timeout, &p.msg));
  BenchPlan plan = plan_template;
  plan.pair = index;
  TCPXP_RETURN_IF_ERROR(p.msg->sendPod(plan, "sending the plan"));
  ServerHello& hello = p.hello;
  TCPXP_RETURN_IF_ERROR(p.msg->recvPod(&hello, "receiving the server's advertisement"));
  if (hello.magic != kBenchMagic || hello.version != kBenchVersion)
    return Status(Code::kProtocolError, "the server's answer is from another tcpx-p2p version");
  if (hello.pairs != plan.pairs) {
    return Status(Code::kInvalidArgument,
                  "the server has " + std::to_string(hello.pairs) + " endpoint(s), this client " +
                      std::to_string(plan.pairs) +
                      "; give both sides the same number of --gpus entries");
  }
  if (hello.buffer_bytes < bufferBytes(plan) || (hello.gpu < 0 && hello.gpu != -1))
    return Status(Code::kProtocolError, "the server's answer is invalid");
  for (uint32_t i = 0; index == 0 && i < plan.pairs; ++i) {
    if (hello.ports[i] == 0) return Status(Code::kProtocolError, "the server sent no port");
  }
  return Status::ok();
}

Status drive(const BenchOptions& o, const std::vector<int>& gpus) {
  auto wall_start = Clock::now();
  BenchPlan plan;
  plan.modes = o.modes;
  plan.nsizes = static_cast<uint32_t>(o.sizes.size());
  std::copy(o.sizes.begin(), o.sizes.end(), plan.sizes);
  plan.iters = o.iters;
  plan.warmup = o.warmup;
  plan.inflight = o.inflight;
  plan.latency_iters = o.latency_iters;
  plan.pairs = static_cast<uint32_t>(gpus.size());
  plan.verify = o.verify ? 1 : 0;
  plan.pieces = o.pieces;
  plan.piece_bytes = static_cast<uint32_t>(o.piece_bytes);
  plan.adjacent = o.adjacent ? 1 : 0;
  plan.spread = o.spread ? 1 : 0;
  const size_t n = gpus.size();
  std::vector<std::unique_ptr<ClientPair>> pairs;
  for (size_t i = 0; i < n; ++i) {
    auto p = std::make_unique<ClientPair>();
    p->gpu = gpus[i];
    TCPXP_RETURN_IF_ERROR(createEndpoint(p->gpu, &p->ep));
    TCPXP_RETURN_IF_ERROR(Buffer::allocate(p->gpu, bufferBytes(plan), &p->buf));
    TCPXP_RETURN_IF_ERROR(p->ep->reg(p->buf.data(), p->buf.size(), &p->mr));
    pairs.push_back(std::move(p));
  }
  for (size_t i = 0; i < n; ++i) {
    ClientPair& p = *pairs[i];
    TCPXP_RETURN_IF_ERROR(
        inPair(o.per_pair, i, endpointLabel(p.gpu),
               connectPair(o, plan, static_cast<uint32_t>(i), i ? &pairs[0]->hello : nullptr, p)));
    p.label = endpointLabel(p.gpu) + "->" + endpointLabel(p.hello.gpu);
  }

  BenchReport report;
  ClientPair& first = *pairs[0];
  setEngineChoices(first.ep->info(), transportSummary(*first.ep), &report);
  report.client_memory = memoryName(first.gpu);
  report.server_memory = printable(first.hello.memory, sizeof(first.hello.memory));
  report.client_path = dataPathSummary(*first.ep, first.gpu >= 0);
  report.server_address = o.peer;
  report.iters = o.iters;
  report.warmup = o.warmup;
  report.inflight = o.inflight;
  report.spread = o.spread;
  report.per_pair = o.per_pair;
  report.verified = o.verify;
  report.kv = o.kv;
  for (const auto& p : pairs) {
    report.pairs.push_back({p->label, memoryName(p->gpu),
                            printable(p->hello.memory, sizeof(p->hello.memory)),
                            p->ep->info().placement});
  }
  printBenchHeader(report);

  std::vector<StepSpec> steps = planSteps(plan);
  std::vector<std::vector<PairStep>> measured(n, std::vector<PairStep>(steps.size()));
  StepBarrier barrier(n + 1);  // the pairs and this thread
  PairThreads threads([&barrier] { barrier.abort(); });
  for (auto& p : pairs) p->msg->stopWhen(threads.stop());
  threads.start(n, [&](size_t i) {
    return inPair(o.per_pair, i, pairs[i]->label,
                  runClientPair(o, plan, steps, static_cast<uint32_t>(i), *pairs[i], barrier,
                                threads.stop(), &measured[i]));
  });

  bool table = false;
  for (size_t k = 0; k < steps.size(); ++k) {
    const StepSpec& s = steps[k];
    std::string what = std::string(modeName(s.mode)) + " " + formatBytes(s.size);
    uint64_t total = static_cast<uint64_t>(stepTransfers(plan, s)) * n;
    Clock::time_point step_start;
    auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.progress_s));
    auto progress = [&] {
      if (Clock::now() - step_start < period) return;
      uint64_t done = 0;
      for (const auto& p : pairs) done += p->done.load(std::memory_order_relaxed);
      std::fprintf(stderr, "tcpx-p2p bench: %s: %llu of %llu transfers done after %.1f s\n",
                   what.c_str(), static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), since(step_start));
    };
    if (s.mode != kLatency && !table) printTableHeader(o.per_pair);  // the table's window opens
    table = table || s.mode != kLatency;
    if (!barrier.arriveAndWait()) break;  // every pair is ready: warm-up (or latency) starts
    step_start = Clock::now();
    if (s.mode != kLatency && !barrier.arriveAndWait(progress, period)) break;  // timed ones start
    if (!barrier.arriveAndWait(progress, period)) break;                        // all pairs done
    if (s.mode == kLatency) {
      std::vector<double> all;
      for (size_t i = 0; i < n; ++i) {
        const std::vector<double>& mine = measured[i][k].latency_us;
        all.insert(all.end(), mine.begin(), mine.end());
        if (o.per_pair) {
          report.pair_latency.push_back(latencyStats(mine, kLatencyBytes));
          if (i == 0) std::printf("\n");
          printLatency(report.pair_latency.back(),
                       "pair " + std::to_string(i) + " (" + pairs[i]->label + ")");
        }
      }
      report.has_latency = true;
      report.latency = latencyStats(std::move(all), kLatencyBytes);
      printLatency(report.latency,
                   o.per_pair ? "all " + std::to_string(n) + " pairs" : std::string());
      continue;
    }
    BenchResult all;
    all.mode = modeName(s.mode);
    all.size = s.size;
    all.iters = o.iters;
    all.warmup = o.warmup;
    all.inflight = o.inflight;
    all.pairs = static_cast<uint32_t>(n);
    Clock::time_point first_start = measured[0][k].start, last_end = measured[0][k].end;
    double latency_sum = 0;
    std::vector<double> requests_us;
    if (vectorMode(s.mode)) {
      all.pieces = piecesOf(plan, s.size);
      all.adjacent = plan.adjacent != 0;
      for (size_t i = 0; i < n; ++i) {
        const std::vector<double>& mine = measured[i][k].request_us;
        requests_us.insert(requests_us.end(), mine.begin(), mine.end());
      }
      LatencyResult l = latencyStats(std::move(requests_us), s.size);
      all.p50_us = l.median_us;
      all.p99_us = l.p99_us;
    }
    for (size_t i = 0; i < n; ++i) {
      const PairStep& m = measured[i][k];
      first_start = std::min(first_start, m.start);
      last_end = std::max(last_end, m.end);
      latency_sum += m.latency_sum_s;
      if (!o.per_pair) continue;
      BenchResult r = all;
      r.pair = static_cast<uint32_t>(i);
      r.pairs = 1;
      r.seconds = std::chrono::duration<double>(m.end - m.start).count();
      r.gbps = r.seconds > 0 ? static_cast<double>(s.size) * o.iters / r.seconds / 1e9 : 0;
      r.avg_latency_us = m.latency_sum_s / o.iters * 1e6;
      printBenchRow(r, std::to_string(i) + ": " + pairs[i]->label);
      report.pair_results.push_back(r);
    }
    all.seconds = std::chrono::duration<double>(last_end - first_start).count();
    all.gbps = all.seconds > 0 ? static_cast<double>(s.size) * o.iters * static_cast<double>(n) /
                                     all.seconds / 1e9
                               : 0;
    all.avg_latency_us = latency_sum / (static_cast<double>(o.iters) * n) * 1e6;
    printBenchRow(all, o.per_pair ? "all" : "");
    report.results.push_back(all);
  }
  TCPXP_RETURN_IF_ERROR(threads.join());

  TCPXP_RETURN_IF_ERROR(reportStats(o, pairs, &report.transport_errors));
  // Every goodbye before any close: the server closes its endpoints when all its pairs are done.
  for (auto& p : pairs) {
    Step bye;
    bye.kind = kBye;
    TCPXP_RETURN_IF_ERROR(p->msg->sendPod(bye, "saying goodbye"));
    TCPXP_RETURN_IF_ERROR(p->msg->recvPod(&bye, "waiting for the server's goodbye"));
  }
  for (auto& p : pairs)
    TCPXP_RETURN_IF_ERROR(p->msg->awaitClose("waiting for the server to close"));
  report.wall_s = since(wall_start);
  printSummary(report);
  if (!o.json.empty()) {
    std::string error;
    if (!writeBenchJson(report, o.json, &error)) return Status(Code::kSystemError, error);
    std::printf("\nresults: %s\n", o.json.c_str());
  }
  return Status::ok();
}

// --kv LxBxBYTES: the KV-cache read of a decode step (vLLM's NixlConnector reads one block per
// layer and block): readv of L*B pieces of BYTES, the sizes and mode it implies.
void parseKv(Args& args, BenchOptions* o) {
  o->kv = args.text("--kv", "");
  std::vector<int64_t> v;
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    size_t x = i < 2 ? o->kv.find('x', pos) : std::string::npos;
    if (i < 2 && x == std::string::npos) break;
    Parsed one = parseNumber(o->kv.substr(pos, x == std::string::npos ? x : x - pos), 1,
                             i < 2 ? kMaxPieces : UINT32_MAX, i < 2 ? Units::kNone : Units::kBytes);
    if (!one.ok()) break;
    v.push_back(one.value);
    pos = x + 1;
  }
  if (v.size() != 3 || static_cast<uint64_t>(v[0] * v[1]) > kMaxPieces ||
      static_cast<uint64_t>(v[2]) > kMaxSize / 2 / static_cast<uint64_t>(v[0] * v[1])) {
    args.fail("--kv: '" + o->kv + "' is not LAYERSxBLOCKSxBYTES (e.g. 32x16x16K; at most " +
              std::to_string(kMaxPieces) + " blocks, 2G in all)");
    return;
  }
  if (args.has("--sizes") || args.has("--pieces") || args.has("--piece-bytes"))
    args.fail("--kv sets the size and the pieces: no --sizes, --pieces, --piece-bytes");
  if (!args.has("--mode")) o->modes = kReadV;
  o->sizes = {static_cast<uint64_t>(v[0] * v[1] * v[2])};
  o->piece_bytes = static_cast<uint64_t>(v[2]);
}

uint32_t parseModes(Args& args) {
  uint32_t modes = 0;
  if (args.has("--mode")) {
    std::string list = args.text("--mode", "");
    size_t pos = 0;
    for (;;) {
      size_t comma = list.find(',', pos);
      std::string m =
          list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (m == "all") {
        modes |= kSendRecv | kWrite | kRead;
      } else if (m == "sendrecv" || m == "write" || m == "read" || m == "latency" ||
                 m == "writev" || m == "readv") {
        for (ModeBit b : kModeOrder) {
          if (m == modeName(b)) modes |= b;
        }
      } else {
        args.fail("--mode: '" + m +
                  "' is not sendrecv, write, read, writev, readv, latency or all");
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  if (args.has("--latency")) modes |= kLatency;
  return modes ? modes : (kSendRecv | kWrite | kRead);
}

std::string sizeList(const std::vector<uint64_t>& sizes) {
  std::string out;
  for (uint64_t s : sizes) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

std::string modeList(uint32_t modes) {
  std::string out;
  for (ModeBit b : kModeOrder) {
    if (modes & b) out += (out.empty() ? "" : ",") + std::string(modeName(b));
  }
  return out;
}

// --gpus and --server-gpus (single-process mode); the GPU count is asked only when they are given.
void parseEndpointLists(Args& args, BenchOptions* o) {
  o->per_pair = args.has("--gpus");
  std::string error;
  if (o->per_pair) {
    if (o->host || o->gpu != -2 || o->client_host) {
      args.fail(
          "--gpus replaces --gpu, --host and --client-host (host memory: --gpus host or "
          "hostxK)");
    } else if (o->server_gpu != -2) {
      args.fail("--server-gpu is for one pair; with --gpus use --server-gpus");
    } else if (!parseGpuList("--gpus", args.text("--gpus", ""), gpuCount(), &o->gpus, &error)) {
      args.fail(error);
    }
  }
  if (!args.has("--server-gpus")) return;
  if (o->role != 0 || !o->per_pair) {
    args.fail("--server-gpus is for --local with --gpus");
  } else if (o->server_host) {
    args.fail("--server-gpus excludes --server-host");
  } else if (!parseGpuList("--server-gpus", args.text("--server-gpus", ""), gpuCount(),
                           &o->server_gpus, &error)) {
    args.fail(error);
  } else if (!o->gpus.empty() && o->server_gpus.size() != o->gpus.size()) {
    args.fail("--server-gpus lists " + std::to_string(o->server_gpus.size()) +
              " endpoint(s), --gpus " + std::to_string(o->gpus.size()) +
              ": client endpoint i drives server endpoint i");
  }
}

}  // namespace

int runBench(int argc, char** argv) {
  Args args;
  if (!args.parse(kBench, argc, argv, 2)) return usageError(kBench, args.error());
  if (args.helpRequested()) {
    printHelp(kBench, stdout);
    return kExitOk;
  }
  BenchOptions o;
  int roles = (args.has("--local") ? 1 : 0) + (args.has("--server") ? 1 : 0) +
              (args.has("--client") ? 1 : 0) + (args.has("--role") ? 1 : 0);
  if (roles != 1) args.fail("give exactly one of --local, --server, --client IP:PORT");
  o.role = args.has("--client") ? 2 : (args.has("--server") || args.has("--role")) ? 1 : 0;
  o.peer = args.text("--client", "");
  if (args.has("--role") && args.text("--role", "") != "server") args.fail("--role must be server");
  o.modes = parseModes(args);
  o.sizes = args.byteList("--sizes", kUcclSizes, 1, kMaxSize);
  o.iters = static_cast<uint32_t>(args.integer("--iters", 10, 1, 1000000));
  o.warmup = static_cast<uint32_t>(args.integer("--warmup", 1, 0, 1000000));
  o.inflight = static_cast<uint32_t>(args.integer("--inflight", 1, 1, 64));
  o.latency_iters = static_cast<uint32_t>(args.integer("--latency-iters", 1000, 1, 1000000));
  o.pieces = static_cast<uint32_t>(args.integer("--pieces", kDefaultPieces, 1, kMaxPieces));
  o.piece_bytes = args.bytes("--piece-bytes", 0, 1, UINT32_MAX);
  if (args.has("--pieces") && args.has("--piece-bytes"))
    args.fail("give --pieces or --piece-bytes, not both");
  o.adjacent = args.has("--adjacent");
  if (args.has("--kv")) parseKv(args, &o);
  if (o.modes & (kWriteV | kReadV)) {
    BenchPlan probe;
    probe.pieces = o.pieces;
    probe.piece_bytes = static_cast<uint32_t>(o.piece_bytes);
    for (uint64_t size : o.sizes) {
      std::string why = vectorProblem(probe, size);
      if (!why.empty()) args.fail("--sizes with writev/readv: " + why);
    }
  } else if (o.adjacent) {
    args.fail("--adjacent places the pieces of writev/readv (--mode) or --kv: none asked");
  }
  o.spread = args.has("--spread");
  if (o.spread && (o.modes & (kWriteV | kReadV))) {
    args.fail(
        "--spread is for sendrecv, write and read; writev/readv and --kv place their pieces "
        "themselves");
  }
  if (o.spread) {
    uint64_t largest = *std::max_element(o.sizes.begin(), o.sizes.end());
    if (largest > kMaxSize / o.inflight) {
      args.fail("--spread needs a buffer of --inflight x the largest size: " +
                std::to_string(o.inflight) + " x " + formatBytes(largest) + " is over " +
                formatBytes(kMaxSize));
    }
  }
  o.host = args.has("--host");
  o.server_host = args.has("--server-host");
  o.client_host = args.has("--client-host");
  if ((o.server_host || o.client_host) && o.role != 0)
    args.fail("--server-host and --client-host are for --local (use --host on each side)");
  o.gpu = static_cast<int>(args.integer("--gpu", -2, 0, 1023));
  o.server_gpu = static_cast<int>(args.integer("--server-gpu", -2, 0, 1023));
  if (o.server_host && o.server_gpu != -2) args.fail("--server-host excludes --server-gpu");
  if (o.client_host && o.gpu != -2) args.fail("--client-host excludes --gpu");
  if (o.server_gpu != -2 && o.role != 0)
    args.fail("--server-gpu is for --local (use --gpu on each side)");
  o.verify = args.has("--verify");
  o.json = args.text("--json", "");
  if (args.has("--json") && o.json.empty()) args.fail("--json needs a file name");
  o.stats = args.has("--stats");
  o.stats_json = args.text("--stats-json", "");
  if (args.has("--stats-json") && o.stats_json.empty()) args.fail("--stats-json needs a file name");
  o.timeout = args.seconds("--timeout", 60, 0.1, 86400);
  o.accept_timeout = args.seconds("--accept-timeout", 600, 0.1, 7 * 86400);
  o.meta_fd = static_cast<int>(args.integer("--meta-fd", -1, 0, 1 << 20));
  o.progress_s = args.seconds("--progress-every", kProgressPeriodS, 0.001, 3600);
  if (!o.peer.empty()) {
    std::string ip;
    int port = 0;
    Status st = parseEndpointAddress(o.peer, &ip, &port);
    if (!st.isOk()) args.fail("--client: " + st.message());
  }
  if (args.ok()) parseEndpointLists(args, &o);
  if (!args.ok()) return usageError(kBench, args.error());

  if (o.role == 0) {
    auto memory = [](int gpu) {
      return gpu < 0 ? std::vector<std::string>{"--host"}
                     : std::vector<std::string>{"--gpu", std::to_string(gpu)};
    };
    std::vector<std::string> server_memory, client_memory;
    if (o.per_pair) {
      std::vector<int> server = o.server_gpus;
      if (server.empty()) {
        server = o.server_host ? std::vector<int>(o.gpus.size(), kHostEndpoint) : o.gpus;
      }
      server_memory = {"--gpus", formatGpuList(server)};
      client_memory = {"--gpus", formatGpuList(o.gpus)};
    } else {
      PeerGpus gpus;
      std::string error;
      if (!choosePeerGpus(o.host, o.gpu, o.server_gpu, &gpus, &error))
        return usageError(kBench, error);
      if (o.server_host) gpus.server = -1;
      if (o.client_host) gpus.client = -1;
      server_memory = memory(gpus.server);
      client_memory = memory(gpus.client);
    }
    std::vector<std::string> server = {"bench", "--role", "server", "--timeout",
                                       std::to_string(o.timeout)};
    std::vector<std::string> client = {"bench",
                                       "--mode",
                                       modeList(o.modes),
                                       "--sizes",
                                       sizeList(o.sizes),
                                       "--iters",
                                       std::to_string(o.iters),
                                       "--warmup",
                                       std::to_string(o.warmup),
                                       "--inflight",
                                       std::to_string(o.inflight),
                                       "--latency-iters",
                                       std::to_string(o.latency_iters),
                                       "--timeout",
                                       std::to_string(o.timeout)};
    server.insert(server.end(), server_memory.begin(), server_memory.end());
    client.insert(client.end(), client_memory.begin(), client_memory.end());
    if (o.verify) client.push_back("--verify");
    if (!o.kv.empty()) {
      auto sizes = std::find(client.begin(), client.end(), "--sizes");
      client.erase(sizes, sizes + 2);
      client.insert(client.end(), {"--kv", o.kv});
    } else if (o.piece_bytes) {
      client.insert(client.end(), {"--piece-bytes", std::to_string(o.piece_bytes)});
    } else {
      client.insert(client.end(), {"--pieces", std::to_string(o.pieces)});
    }
    if (o.adjacent) client.push_back("--adjacent");
    if (o.spread) client.push_back("--spread");
    if (!o.json.empty()) client.insert(client.end(), {"--json", o.json});
    if (o.stats) client.push_back("--stats");
    if (!o.stats_json.empty()) client.insert(client.end(), {"--stats-json", o.stats_json});
    if (args.has("--progress-every"))
      client.insert(client.end(), {"--progress-every", std::to_string(o.progress_s)});
    uint64_t transfers = 0;
    for (ModeBit b : kModeOrder) {
      if (o.modes & b)
        transfers += b == kLatency ? o.latency_iters : o.sizes.size() * (o.iters + o.warmup);
    }
    return runLocalPair("bench", server, client, "--client", o.timeout,
                        o.timeout * 8 + static_cast<double>(transfers) * o.timeout);
  }
  std::vector<int> gpus = o.gpus;
  if (!o.per_pair) {
    int gpu = -1;
    std::string error;
    if (!chooseGpu(o.host, o.gpu, &gpu, &error)) return usageError(kBench, error);
    gpus = {gpu};
  }
  Status st = o.role == 1 ? serve(o, gpus) : drive(o, gpus);
  if (!st.isOk()) {
    std::fprintf(stderr, "tcpx-p2p bench %s: %s\n", o.role == 1 ? "server" : "client",
                 st.toString().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tcpxp::cli
