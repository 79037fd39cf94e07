// transport_bw: bandwidth of one ncclNet v7 comm in host memory over loopback, between two real
// processes (parent = receiver, child = sender), obeying every TCPX rule (docs/TCPX.md):
//   <= --inflight (<= 16) outstanding requests per comm, test() only on the FIFO head,
//   irecvConsumed right after each completed receive (in order), requests < 4 MiB,
//   accept() given a 16-byte-aligned caller-allocated ncclNetDeviceHandle_v7_t,
//   init() once per process (each process loads the plugin itself, after fork).
// A message of S bytes is ceil(S / --chunk) requests. The receiver times each size from its first
// post to its last completion. Every wait has a deadline (--timeout).
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bw_options.h"
#include "bw_support.h"
#include "common/net_util.h"
#include "transport/plugin_loader.h"

namespace tcpxp::bench {
namespace {

using transport::NetPlugin;

// One phase both processes run in lockstep: `msgs` messages of `size` bytes (-1: open-ended,
// bounded by credits from the receiver).
struct Phase {
  const char* name;  // "warm-up", "timed", "stream"
  int64_t size;
  int64_t msgs;
  uint64_t first_msg;  // global message number of its first message (verification pattern)
  bool measured;
  int size_index;
};

std::vector<Phase> planPhases(const Options& o) {
  std::vector<Phase> plan;
  if (o.seconds > 0) {
    plan.push_back({"stream", o.chunk, -1, 0, true, 0});
    return plan;
  }
  uint64_t next = 0;
  for (size_t i = 0; i < o.sizes.size(); ++i) {
    int64_t s = o.sizes[i];
    int64_t iters = o.itersFor(s), warm = o.warmupFor(s);
    if (warm > 0) plan.push_back({"warm-up", s, warm, next, false, static_cast<int>(i)});
    next += static_cast<uint64_t>(warm);
    plan.push_back({"timed", s, iters, next, true, static_cast<int>(i)});
    next += static_cast<uint64_t>(iters);
  }
  return plan;
}

// How many requests the phase may post; open-ended phases grow it by credits.
struct Limit {
  int64_t reqs = 0;
  bool final = true;
  int64_t step = 0;       // receiver: credit granted at a time
  Clock::time_point end;  // receiver: stop granting after this
};

struct Slot {
  void* req;
  uint64_t msg;
  int64_t off;
  int len;
  char* ptr;
};

// Drives one comm in one direction. No allocation after construction.
class Driver {
 public:
  Driver(const ncclNet_v7_t& net, void* comm, bool send, const RingBuffer& ring,
         const std::vector<void*>& mhandles, const Options& o, Ctrl& ctrl)
      : net_(net), comm_(comm), send_(send), ring_(ring), mh_(mhandles), o_(o), ctrl_(ctrl) {}

  Status run(const Phase& ph, Limit& lim);
  uint64_t badBytes() const { return bad_bytes_; }
  uint64_t checkedBytes() const { return checked_bytes_; }

 private:
  Status updateLimit(Limit& lim, int64_t posted);
  Status stalled(const Phase& ph, int64_t posted, int64_t done, const Limit& lim) const;
  const char* side() const { return send_ ? "sender" : "receiver"; }

  const ncclNet_v7_t& net_;
  void* comm_;
  bool send_;
  const RingBuffer& ring_;
  const std::vector<void*>& mh_;
  const Options& o_;
  Ctrl& ctrl_;
  Slot slots_[16] = {};
  uint64_t bad_bytes_ = 0;
  uint64_t checked_bytes_ = 0;
  int reported_ = 0;
};

Status Driver::run(const Phase& ph, Limit& lim) {
  const int64_t chunk = o_.chunk;
  const int64_t n = (ph.size + chunk - 1) / chunk;  // requests per message
  // Messages sit back to back in a ring of n + inflight chunks, wrapping only at a message
  // boundary: a buffer is never reused while a request on it may still be in flight.
  const int64_t cap = std::min(ring_.chunks(), n + o_.inflight);
  const int inflight = o_.inflight;
  int64_t posted = 0, done = 0, msg_index = 0, j = 0, msg_pos = 0;
  int unused_sizes = 0;
  uint32_t idle = 0;
  Watchdog dog(o_.timeout);
  auto last_peer_check = Clock::now();
  for (;;) {
    while (posted < lim.reqs && posted - done < inflight) {
      const int64_t off = j * chunk;
      const int len = static_cast<int>(std::min(chunk, ph.size - off));
      const int64_t index = msg_pos + j;
      char* ptr = ring_.chunkAt(index);
      void* mh = mh_[ring_.regionOf(index)];
      const uint64_t msg = ph.first_msg + static_cast<uint64_t>(msg_index);
      void* req = nullptr;
      ncclResult_t rc;
      if (send_) {
        if (o_.verify) fillPattern(ptr, msg, static_cast<uint64_t>(off), static_cast<size_t>(len));
        rc = net_.isend(comm_, ptr, len, 0, mh, &req);
      } else {
        void* data = ptr;
        int size = len, tag = 0;
        rc = net_.irecv(comm_, 1, &data, &size, &tag, &mh, &req);
      }
      if (rc != ncclSuccess) {
        return Status(Code::kRemoteError,
                      std::string(side()) + ": " + (send_ ? "isend" : "irecv") + " of request " +
                          std::to_string(posted) + " (" + ph.name + ", " + formatSize(ph.size) +
                          " messages) failed with ncclResult " + std::to_string(rc));
      }
      if (req == nullptr) break;  // "not yet": drive the comm and post again
      slots_[posted % inflight] = {req, msg, off, len, ptr};
      ++posted;
      if (++j == n) {
        j = 0;
        ++msg_index;
        msg_pos += n;
        if (msg_pos + n > cap) msg_pos = 0;
      }
    }
    if (done < posted) {
      Slot& s = slots_[done % inflight];
      int flag = 0;
      ncclResult_t rc = net_.test(s.req, &flag, &unused_sizes);
      if (rc != ncclSuccess) {
        return Status(Code::kRemoteError,
                      std::string(side()) + ": test() of " + (send_ ? "send" : "receive") +
                          " request " + std::to_string(done) + " (" + ph.name + ", " +
                          formatSize(ph.size) + " messages) failed with ncclResult " +
                          std::to_string(rc));
      }
      if (flag) {
        if (!send_) {
          if (o_.verify) {
            Mismatch m;
            uint64_t bad = checkPattern(s.ptr, s.msg, static_cast<uint64_t>(s.off),
                                        static_cast<size_t>(s.len), &m);
            checked_bytes_ += static_cast<uint64_t>(s.len);
            if (bad != 0) {
              bad_bytes_ += bad;
              if (reported_++ < 5) {
                std::fprintf(stderr,
                             "transport_bw receiver: MISMATCH in message %llu (%s): %llu bad bytes "
                             "in [%lld, %lld), first at offset %llu: expected 0x%02x, got 0x%02x\n",
                             static_cast<unsigned long long>(s.msg), formatSize(ph.size).c_str(),
                             static_cast<unsigned long long>(bad), static_cast<long long>(s.off),
                             static_cast<long long>(s.off + s.len),
                             static_cast<unsigned long long>(m.first_off), m.expected, m.got);
              }
            }
          }
          if (net_.irecvConsumed != nullptr) {
            rc = net_.irecvConsumed(comm_, 1, s.req);
            if (rc != ncclSuccess) {
              return Status(Code::kRemoteError,
                            "receiver: irecvConsumed of receive " + std::to_string(done) +
                                " failed with ncclResult " + std::to_string(rc));
            }
          }
        }
        ++done;
        idle = 0;
        dog.progress();
        continue;
      }
    } else if (lim.final && posted == lim.reqs) {
      return Status::ok();
    }
    if (!lim.final) TCPXP_RETURN_IF_ERROR(updateLimit(lim, posted));
    // Idle: spin briefly, then let the transport's helper threads have the core.
    if (++idle > static_cast<uint32_t>(o_.spin)) {
      if (o_.sleep_us > 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(o_.sleep_us));
      } else {
        sched_yield();
      }
    }
    if ((idle & 255) == 0) {
      auto now = Clock::now();
      if (dog.expired(now)) return stalled(ph, posted, done, lim);
      if (secondsBetween(last_peer_check, now) > 0.05) {
        last_peer_check = now;
        TCPXP_RETURN_IF_ERROR(ctrl_.checkPeer());
      }
    }
  }
}

Status Driver::updateLimit(Limit& lim, int64_t posted) {
  if (!send_) {
    if (posted + lim.step < lim.reqs) return Status::ok();
    if (Clock::now() < lim.end) {
      lim.reqs += lim.step;
    } else {
      lim.final = true;
    }
    CtrlMsg m;
    m.type = CtrlType::kCredit;
    m.a = static_cast<uint64_t>(lim.reqs);
    m.b = lim.final ? 1 : 0;
    return ctrl_.send(m);
  }
  while (posted == lim.reqs && !lim.final) {
    CtrlMsg m;
    bool got = false;
    TCPXP_RETURN_IF_ERROR(ctrl_.tryRecv(&m, &got));
    if (!got) return Status::ok();
    if (m.type != CtrlType::kCredit || static_cast<int64_t>(m.a) < lim.reqs) {
      return Status(Code::kProtocolError, "sender: unexpected control message while streaming");
    }
    lim.reqs = static_cast<int64_t>(m.a);
    lim.final = m.b != 0;
  }
  return Status::ok();
}

Status Driver::stalled(const Phase& ph, int64_t posted, int64_t done, const Limit& lim) const {
  std::string what = std::string(side()) + " stalled: no " + (send_ ? "send" : "receive") +
                     " completed for " + std::to_string(static_cast<int>(o_.timeout)) +
                     " s (--timeout) in the " + ph.name + " phase of " + formatSize(ph.size) +
                     " messages: " + std::to_string(done) + " of " + std::to_string(posted) +
                     " posted requests done";
  if (lim.final) what += ", " + std::to_string(lim.reqs) + " in the phase";
  if (posted == done && !lim.final) what += "; waiting for credit from the receiver";
  what += send_ ? "; is the receiving process still posting?"
                : "; is the sending process alive and sending?";
  return Status(Code::kTimeout, what);
}

// ---- connection setup and teardown --------------------------------------------------------

struct Net {
  NetPlugin* plugin = nullptr;
  const ncclNet_v7_t* t = nullptr;
  void* listen = nullptr;
  void* comm = nullptr;
  std::vector<void*> mhandles;
  alignas(16) ncclNetDeviceHandle_v7_t dev_handle = {};  // accept() fills it; must outlive comm
  ncclNetDeviceHandle_v7_t* dev_handle_ptr = &dev_handle;
};

Status loadPlugin(const Options& o, Net* net, const char* self) {
  Status st = o.plugin.empty() ? NetPlugin::builtinSocket(&net->plugin)
                               : NetPlugin::load(o.plugin, &net->plugin);
  if (!st.isOk()) return Status(st.code(), std::string(self) + ": " + st.message());
  net->t = &net->plugin->table();
  int ndev = 0;
  ncclResult_t rc = net->t->devices(&ndev);
  if (rc != ncclSuccess || o.dev >= ndev) {
    return Status(Code::kNotFound, std::string(self) + ": device " + std::to_string(o.dev) +
                                       " does not exist (plugin reports " + std::to_string(ndev) +
                                       " devices, ncclResult " + std::to_string(rc) + ")");
  }
  return Status::ok();
}

Status registerRing(Net* net, const RingBuffer& ring, const char* self) {
  for (int64_t r = 0; r < ring.regions(); ++r) {
    int64_t first = r * ring.regionChunks();
    int64_t count = std::min(ring.regionChunks(), ring.chunks() - first);
    int64_t bytes = count * (ring.bytes() / ring.chunks());
    void* mh = nullptr;
    ncclResult_t rc =
        net->t->regMr(net->comm, ring.chunkAt(first), static_cast<int>(bytes), NCCL_PTR_HOST, &mh);
    if (rc != ncclSuccess || mh == nullptr) {
      return Status(Code::kRemoteError, std::string(self) + ": regMr of " + formatSize(bytes) +
                                            " of host memory failed with ncclResult " +
                                            std::to_string(rc));
    }
    net->mhandles.push_back(mh);
  }
  return Status::ok();
}

// Deregisters and closes everything; the first failing call is reported.
Status closeNet(Net* net, bool send, const char* self) {
  std::string failed;
  auto check = [&](ncclResult_t rc, const char* what) {
    if (rc != ncclSuccess && failed.empty()) {
      failed = std::string(what) + " returned ncclResult " + std::to_string(rc);
    }
  };
  if (net->t == nullptr) return Status::ok();
  for (void* mh : net->mhandles) check(net->t->deregMr(net->comm, mh), "deregMr");
  net->mhandles.clear();
  if (net->comm != nullptr) {
    check(send ? net->t->closeSend(net->comm) : net->t->closeRecv(net->comm),
          send ? "closeSend" : "closeRecv");
  }
  if (net->listen != nullptr) check(net->t->closeListen(net->listen), "closeListen");
  net->comm = net->listen = nullptr;
  if (failed.empty()) return Status::ok();
  return Status(Code::kRemoteError, std::string(self) + ": " + failed);
}

// Polls a non-blocking connect()/accept() until it yields a comm, with a deadline.
template <class Step>
Status establish(Step step, void** comm, Ctrl& ctrl, double timeout, const char* what) {
  Watchdog dog(timeout);
  while (*comm == nullptr) {
    ncclResult_t rc = step();
    if (rc != ncclSuccess) {
      return Status(Code::kRemoteError, std::string(ctrl.self()) + ": " + what +
                                            " failed with ncclResult " + std::to_string(rc));
    }
    if (*comm != nullptr) break;
    if (dog.expired(Clock::now())) {
      return Status(Code::kTimeout, std::string(ctrl.self()) + " stalled: " + what +
                                        " did not complete in " +
                                        std::to_string(static_cast<int>(timeout)) +
                                        " s (--timeout); is the " + ctrl.peer() + " running?");
    }
    TCPXP_RETURN_IF_ERROR(ctrl.checkPeer());
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return Status::ok();
}

int64_t ringChunks(const Options& o) {
  int64_t max_size = o.seconds > 0 ? o.chunk : *std::max_element(o.sizes.begin(), o.sizes.end());
  return (max_size + o.chunk - 1) / o.chunk + o.inflight;
}

// ---- the two processes --------------------------------------------------------------------

void tellFailure(Ctrl& ctrl) {
  CtrlMsg m;
  m.type = CtrlType::kFail;
  (void)ctrl.send(m);
}

Status senderBody(const Options& o, Ctrl& ctrl, Net& net) {
  RingBuffer ring;
  TCPXP_RETURN_IF_ERROR(ring.allocate(o.chunk, ringChunks(o)));
  // The receiver sends its handle only once its own plugin load and listen() worked, so that a
  // bad setup (plugin, device) is reported once, by the receiver.
  CtrlMsg m;
  TCPXP_RETURN_IF_ERROR(ctrl.recv(&m, o.timeout, "the listen handle"));
  if (m.type != CtrlType::kHandle) return Status(Code::kProtocolError, "sender: expected a handle");
  TCPXP_RETURN_IF_ERROR(loadPlugin(o, &net, "sender"));
  // The same writable handle buffer on every retry (the plugin keeps state in it).
  alignas(16) ncclNetDeviceHandle_v7_t send_dev = {};
  ncclNetDeviceHandle_v7_t* send_dev_ptr = &send_dev;
  TCPXP_RETURN_IF_ERROR(
      establish([&] { return net.t->connect(o.dev, m.handle, &net.comm, &send_dev_ptr); },
                &net.comm, ctrl, o.timeout, "connect()"));
  TCPXP_RETURN_IF_ERROR(registerRing(&net, ring, "sender"));
  std::vector<Phase> plan = planPhases(o);
  Driver driver(*net.t, net.comm, true, ring, net.mhandles, o, ctrl);
  for (;;) {
    TCPXP_RETURN_IF_ERROR(ctrl.recv(&m, o.timeout, "the next phase"));
    if (m.type == CtrlType::kBye) break;
    if (m.type != CtrlType::kGo || m.a >= plan.size()) {
      return Status(Code::kProtocolError, "sender: unexpected control message");
    }
    const Phase& ph = plan[m.a];
    Limit lim;
    if (ph.msgs >= 0) lim.reqs = ph.msgs * ((ph.size + o.chunk - 1) / o.chunk);
    lim.final = ph.msgs >= 0;
    TCPXP_RETURN_IF_ERROR(driver.run(ph, lim));
  }
  TCPXP_RETURN_IF_ERROR(closeNet(&net, true, "sender"));
  m = CtrlMsg();
  m.type = CtrlType::kDone;
  return ctrl.send(m);
}

int senderMain(const Options& o, Ctrl& ctrl) {
  Net net;
  Status st = senderBody(o, ctrl, net);
  if (st.isOk()) return 0;
  if (!ctrl.peerFailed()) std::fprintf(stderr, "transport_bw %s\n", st.message().c_str());
  tellFailure(ctrl);
  return 1;
}

Status receiverBody(const Options& o, Ctrl& ctrl, Net& net, Report* report) {
  TCPXP_RETURN_IF_ERROR(loadPlugin(o, &net, "receiver"));
  ncclNetProperties_v7_t props = {};
  if (net.t->getProperties(o.dev, &props) != ncclSuccess) {
    return Status(Code::kRemoteError, "receiver: getProperties failed");
  }
  if ((props.ptrSupport & NCCL_PTR_HOST) == 0) {
    return Status(Code::kNotSupported, "receiver: device " + std::to_string(o.dev) +
                                           " does not support host memory (ptrSupport " +
                                           std::to_string(props.ptrSupport) + ")");
  }
  RingBuffer ring;
  TCPXP_RETURN_IF_ERROR(ring.allocate(o.chunk, ringChunks(o)));
  CtrlMsg m;
  m.type = CtrlType::kHandle;
  if (net.t->listen(o.dev, m.handle, &net.listen) != ncclSuccess || net.listen == nullptr) {
    return Status(Code::kRemoteError,
                  "receiver: listen() on device " + std::to_string(o.dev) + " failed");
  }
  TCPXP_RETURN_IF_ERROR(ctrl.send(m));
  TCPXP_RETURN_IF_ERROR(
      establish([&] { return net.t->accept(net.listen, &net.comm, &net.dev_handle_ptr); },
                &net.comm, ctrl, o.timeout, "accept()"));
  TCPXP_RETURN_IF_ERROR(registerRing(&net, ring, "receiver"));
  report->plugin = net.plugin->name();
  report->origin = net.plugin->origin();
  report->device = props.name ? props.name : "?";
  printHeader(o, *report);

  std::vector<Phase> plan = planPhases(o);
  Driver driver(*net.t, net.comm, false, ring, net.mhandles, o, ctrl);
  int64_t warm = 0;
  auto all0 = Clock::now();
  for (size_t p = 0; p < plan.size(); ++p) {
    const Phase& ph = plan[p];
    Limit lim;
    lim.final = ph.msgs >= 0;
    if (lim.final) {
      lim.reqs = ph.msgs * ((ph.size + o.chunk - 1) / o.chunk);
    } else {
      // About 32 MiB of credit at a time, at most 1024 requests, so that the run ends soon
      // after the deadline even with tiny chunks.
      lim.step = std::clamp<int64_t>((int64_t{32} << 20) / o.chunk, o.inflight, 1024);
      lim.reqs = 2 * lim.step;
    }
    auto t0 = Clock::now();
    if (!lim.final)
      lim.end = t0 + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(o.seconds));
    m = CtrlMsg();
    m.type = CtrlType::kGo;
    m.a = p;
    TCPXP_RETURN_IF_ERROR(ctrl.send(m));
    if (!lim.final) {
      m.type = CtrlType::kCredit;
      m.a = static_cast<uint64_t>(lim.reqs);
      TCPXP_RETURN_IF_ERROR(ctrl.send(m));
    }
    TCPXP_RETURN_IF_ERROR(driver.run(ph, lim));
    double secs = secondsBetween(t0, Clock::now());
    if (!ph.measured) {
      warm = ph.msgs;
      continue;
    }
    int64_t msgs = ph.msgs >= 0 ? ph.msgs : lim.reqs;
    Result r{ph.size, msgs, warm, secs, static_cast<double>(ph.size) * msgs / secs / 1e9};
    report->results.push_back(r);
    printRow(o, r);
    warm = 0;
  }
  report->total_seconds = secondsBetween(all0, Clock::now());
  report->bad_bytes = driver.badBytes();
  report->checked_bytes = driver.checkedBytes();
  m = CtrlMsg();
  m.type = CtrlType::kBye;
  TCPXP_RETURN_IF_ERROR(ctrl.send(m));
  TCPXP_RETURN_IF_ERROR(ctrl.recv(&m, o.timeout, "the sender's clean close"));
  if (m.type != CtrlType::kDone) {
    return Status(Code::kProtocolError, "receiver: unexpected control message at the end");
  }
  return closeNet(&net, false, "receiver");
}

// Reaps the sender within `timeout` seconds; kills it (by pid) past that.
int reapSender(pid_t pid, double timeout) {
  Watchdog dog(timeout);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
    if (dog.expired(Clock::now())) {
      std::fprintf(stderr,
                   "transport_bw: the sender (pid %d) did not exit within %d s; killing it\n",
                   static_cast<int>(pid), static_cast<int>(timeout));
      ::kill(pid, SIGKILL);
      (void)::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  std::fprintf(stderr, "transport_bw: the sender died from signal %d\n",
               WIFSIGNALED(status) ? WTERMSIG(status) : -1);
  return -1;
}

int run(const Options& o) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    std::fprintf(stderr, "transport_bw: socketpair: %s\n", errnoText(errno).c_str());
    return 1;
  }
  std::fflush(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "transport_bw: fork: %s\n", errnoText(errno).c_str());
    return 1;
  }
  if (pid == 0) {
    // The sender. Each process inits the plugin itself: TCPX's init (CUDA, helper threads)
    // must not happen before a fork.
    ::close(sv[0]);
    (void)::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    Ctrl ctrl(sv[1], "sender", "receiver");
    int rc = senderMain(o, ctrl);
    std::fflush(nullptr);
    ::_exit(rc);
  }
  ::close(sv[1]);
  Ctrl ctrl(sv[0], "receiver", "sender");
  Net net;
  Report report;
  Status st = receiverBody(o, ctrl, net, &report);
  if (!st.isOk()) {
    std::fprintf(stderr, "transport_bw %s\n", st.message().c_str());
    tellFailure(ctrl);
  }
  int child = reapSender(pid, st.isOk() ? o.timeout : 5.0);
  ::close(sv[0]);
  if (!st.isOk()) return 1;
  if (child != 0) {
    std::fprintf(stderr, "transport_bw: the sender exited with status %d\n", child);
    return 1;
  }
  return finishReport(o, report);
}

}  // namespace
}  // namespace tcpxp::bench

int main(int argc, char** argv) {
  tcpxp::bench::Options options;
  int rc = tcpxp::bench::parseOptions(argc, argv, &options);
  if (rc >= 0) return rc;  // --help (0) or a usage error (2)
  if (!options.plugin.empty() && ::access(options.plugin.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "transport_bw: --plugin %s: %s\n", options.plugin.c_str(),
                 tcpxp::errnoText(errno).c_str());
    return 2;
  }
  // The bench runs over loopback: point the built-in transport at lo unless told otherwise.
  if (std::getenv("UCCL_SOCKET_IFNAME") == nullptr &&
      std::getenv("NCCL_SOCKET_IFNAME") == nullptr) {
    ::setenv("UCCL_SOCKET_IFNAME", "lo", 0);
  }
  rc = tcpxp::bench::run(options);
  std::fflush(nullptr);
  // On failure comms may still be open, their helper threads running: leave without running
  // static destructors under them.
  if (rc != 0) ::_exit(rc);
  return 0;
}
