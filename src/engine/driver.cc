#include "engine/driver.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <future>

#include "common/cpu_affinity.h"
#include "common/cpu_relax.h"
#include "common/log.h"
#include "common/net_util.h"
#include "common/thread_name.h"
#include "datapath/gpu_stream.h"

namespace tcpxp::engine {

Driver::Driver(EngineConfig config, transport::Net net, std::vector<int> devs, int ndev,
               int gpu_index, transport::NetProperties props, Fd bootstrap)
    : config_(std::move(config)),
      net_(net),
      ctx_{config_,
           net_,
           registry_,
           completions_,
           std::move(devs),
           gpu_index,
           std::move(props),
           nullptr,
           std::vector<TrafficCounters>(static_cast<size_t>(ndev))},
      bootstrap_(std::move(bootstrap)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      reserve_fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
  ctx_.on_notify = [this](Notification n) {
    std::lock_guard<std::mutex> lock(notify_mu_);
    if (notifications_.size() < kMaxQueuedNotifications) {
      notifications_.push_back(std::move(n));
      return;
    }
    // Nobody takes them (or a peer floods): keep the oldest, count the rest.
    ++dropped_notifications_;
    uint64_t held_back = 0;
    if (notify_drop_log_.allow(&held_back)) {
      LOG_WARN(
          "%zu notifications wait for get_notifs(); dropped one from connection %llu (%llu "
          "dropped in all)",
          notifications_.size(), static_cast<unsigned long long>(n.conn),
          static_cast<unsigned long long>(dropped_notifications_));
    }
  };
  for (int fd : {wake_fd_.get(), bootstrap_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  thread_ = std::thread([this] { loop(); });
}

Driver::~Driver() {
  (void)call([this] {
    for (auto& [id, conn] : conns_) conn->close();
    conns_.clear();
    return Status::ok();
  });
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
  stopAccepting();
}

void Driver::wake() {
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof(one));
  (void)ignored;
}

Status Driver::call(const std::function<Status()>& fn) {
  if (std::this_thread::get_id() == thread_.get_id()) return fn();
  std::promise<Status> done;
  auto result = done.get_future();
  {
    std::lock_guard<std::mutex> lock(cmd_mu_);
    if (stop_.load()) return Status(Code::kBusy, "endpoint is shutting down");
    cmds_.push_back([&] { done.set_value(fn()); });
  }
  wake();
  // The driver usually answers within microseconds: poll before blocking on the future.
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  while (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < until) {
    busyPollPause();
  }
  return result.get();
}

void Driver::runCommands() {
  {
    std::lock_guard<std::mutex> lock(cmd_mu_);
    running_.swap(cmds_);
  }
  for (auto& fn : running_) fn();
  running_.clear();
}

Connection* Driver::connection(ConnId id) {
  auto it = conns_.find(id);
  return it == conns_.end() || it->second->state() == Connection::State::kClosed ? nullptr
                                                                                 : it->second.get();
}

ConnId Driver::addConnection(Fd fd, const std::string& peer, bool connector, uint64_t ready_slot,
                             Status* started) {
  if (connector && conns_.size() >= static_cast<size_t>(config_.max_connections)) {
    *started =
        Status(Code::kResourceExhausted, "this endpoint holds " + std::to_string(conns_.size()) +
                                             " connections, its limit (UCCL_TCPX_MAX_CONNECTIONS)");
    return 0;
  }
  ConnId id = next_conn_++;
  int raw = fd.get();
  auto conn = std::make_unique<Connection>(ctx_, id, ControlSocket(std::move(fd), peer), connector,
                                           ready_slot);
  *started = connector ? conn->start() : Status::ok();
  if (!started->isOk()) {
    conn->fail(*started);
    return 0;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = raw;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, raw, &ev);
  conns_.emplace(id, std::move(conn));
  ctx_.connections = conns_.size();
  return id;
}

Status Driver::closeConnection(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) {
    // A connection that ended (the peer left, or it failed) is gone already: closing it again
    // is what a caller does after a failed transfer, not an error.
    if (id != 0 && id < next_conn_) return Status::ok();
    return Status(Code::kNotFound, "unknown conn_id " + std::to_string(id));
  }
  it->second->close();
  conns_.erase(it);
  ctx_.connections = conns_.size();
  announced_.erase(id);
  watch_out_.erase(id);
  return Status::ok();
}

void Driver::stats(std::vector<TrafficCounters>* nics, std::vector<ConnectionStats>* conns,
                   std::vector<ChannelStats>* channels) const {
  *nics = ctx_.nic_counters;
  conns->clear();
  channels->clear();
  for (const auto& [id, conn] : conns_) {
    conns->push_back(conn->stats());
    conn->appendStats(channels);
  }
  for (const ChannelStats& c : *channels) (*nics)[c.dev].add(c.counters);
}

// Without this, a control socket whose output filled the kernel's buffer (thousands of inline
// frames) left the driver asleep until its idle timeout: rounds of small-piece vectors took
// 11 ms plus multiples of 50 ms (issue 23).
// A connection that stopped reading (its output to the peer is over kMaxOutputBytes) must not
// be watched for input either: level-triggered EPOLLIN would wake the loop for bytes it leaves.
void Driver::watchWritable(Connection& conn) {
  uint32_t want = (conn.wantsRead() ? EPOLLIN : 0u) | (conn.wantsWrite() ? EPOLLOUT : 0u);
  auto [it, fresh] = watch_out_.try_emplace(conn.id(), EPOLLIN);
  if (want == it->second) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = conn.fd();
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, conn.fd(), &ev) == 0) it->second = want;
}

void Driver::acceptBootstrap() {
  for (;;) {
    SockAddr peer;
    peer.len = sizeof(peer.storage);
    int fd = ::accept4(bootstrap_.get(), peer.get(), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) refuseForLackOfDescriptors(errno);
      return;
    }
    // Handshakes cost a socket each and are held open by whoever connects: past the cap, new
    // ones are closed at once (legit connectors dial again; their Hello takes milliseconds).
    size_t handshaking = 0;
    for (const auto& [cid, c] : conns_) {
      handshaking += !c->connector() && c->state() != Connection::State::kReady;
    }
    if (handshaking >= kMaxHandshakes) {
      ::close(fd);
      uint64_t held_back = 0;
      if (accept_limit_log_.allow(&held_back)) {
        LOG_WARN(
            "closed a control connection from %s: %zu handshakes already in progress (and "
            "%llu more closed in the last second)",
            peer.toString().c_str(), handshaking, static_cast<unsigned long long>(held_back));
      }
      continue;
    }
    setNoDelay(fd);
    Status ignored;
    ConnId id = addConnection(Fd(fd), peer.toString(), /*connector=*/false, 0, &ignored);
    LOG_DEBUG("control connection %llu from %s", static_cast<unsigned long long>(id),
              peer.toString().c_str());
  }
}

// Out of descriptors with connectors waiting: free the reserve, accept one, answer its Hello
// before it is read with a refusal that says why (instead of leaving it to time out), close it.
void Driver::refuseForLackOfDescriptors(int err) {
  const char* which = err == EMFILE ? "this process's limit" : "the system's limit";
  uint64_t held_back = 0;
  if (accept_limit_log_.allow(&held_back)) {
    LOG_WARN(
        "cannot accept control connections: out of file descriptors (%s); raise the limit "
        "(ulimit -n) or close connections",
        which);
  }
  if (!reserve_fd_.valid()) return;
  reserve_fd_ = Fd();
  int fd = ::accept4(bootstrap_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    control::HelloAck ack;
    ack.status = Code::kResourceExhausted;
    ack.message = std::string("the endpoint is out of file descriptors (") + which +
                  "); it cannot take connections until some close or its limit is raised";
    std::vector<uint8_t> bytes;
    control::encode(ack, &bytes);
    ssize_t ignored = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
    ::close(fd);
  }
  reserve_fd_ = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

void Driver::loop() {
  nameCurrentThread("tcpxp-driver");
  // The transport allocates per-comm GPU state (TCPX: bounce buffers) on the calling thread's
  // current device: make it this endpoint's GPU before any comm exists.
  if (ctx_.gpu_index >= 0) {
    Status st = datapath::useDevice(ctx_.gpu_index);
    if (!st.isOk() && st.code() != Code::kNotSupported) {
      LOG_WARN("driver thread: cannot use GPU %d: %s", ctx_.gpu_index, st.toString().c_str());
    }
  }
  // NUMA-local placement: the driver next to its first NIC (UCCL_TCPX_PIN_THREADS).
  if (pinningWanted() && !ctx_.props.name.empty()) {
    int node = numaNodeOfNet(ctx_.props.name);
    if (pinCurrentThreadToNode(node)) {
      LOG_INFO("driver thread pinned to NUMA node %d (%s)", node, ctx_.props.name.c_str());
    }
  }
  std::vector<ConnId> dead;
  epoll_event events[16];
  auto last_work = std::chrono::steady_clock::now();
  // Turns of the loop that found work, their total and longest duration (logged at INFO on
  // exit): a long turn delays every channel's next post and test.
  uint64_t work_turns = 0;
  std::chrono::nanoseconds work_time{0}, longest_turn{0};
  auto last_accept = last_work;
  const auto loop_start = last_work;
  while (!stop_.load(std::memory_order_relaxed)) {
    auto turn_start = std::chrono::steady_clock::now();
    runCommands();
    // New control connections are rare: an accept4() per turn of the busy loop was a syscall
    // on every small transfer's path; once a millisecond is soon enough.
    if (turn_start - last_accept >= std::chrono::milliseconds(1)) {
      acceptBootstrap();
      last_accept = turn_start;
    }
    bool work = false;
    bool spinning = false;
    bool establishing = false;
    for (auto& [id, conn] : conns_) {
      if (!conn->progress(&work)) {
        dead.push_back(id);
        continue;
      }
      if (!conn->connector() && conn->state() == Connection::State::kReady && !announced_[id]) {
        announced_[id] = true;
        std::string ip = conn->peer().substr(0, conn->peer().rfind(':'));
        if (!ip.empty() && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
        {
          std::lock_guard<std::mutex> lock(accept_mu_);
          accepted_.push_back({id, ip, conn->remoteGpu()});
        }
        accept_cv_.notify_all();
      }
      spinning = spinning || conn->hasPostedWork();
      establishing = establishing || conn->establishing();
      watchWritable(*conn);
    }
    for (ConnId id : dead) {
      conns_.erase(id);
      ctx_.connections = conns_.size();
      announced_.erase(id);
      watch_out_.erase(id);
    }
    dead.clear();
    auto now = std::chrono::steady_clock::now();
    if (work) {
      ++work_turns;
      work_time += now - turn_start;
      longest_turn = std::max(longest_turn, std::chrono::nanoseconds(now - turn_start));
    }
    if (work || spinning) {
      last_work = now;
      if (!work) busyPollPause();
      continue;
    }
    // Keep polling a little after the last work: the next control frame or command usually
    // follows within microseconds, and an epoll wakeup costs more than that (on few cores
    // too: with sched_yield between turns, 64 KiB inline writes ran 2.4-3.1 GB/s, not 1.0).
    if (now - last_work < std::chrono::microseconds(200)) {
      busyPollPause();
      continue;
    }
    // Idle: sleep until a control socket, the bootstrap listener or a command wakes us; wake
    // up now and then for deadlines and heartbeats. The transport's connect/accept of an
    // establishing connection has no descriptor to wait on: poll it every millisecond (a spin
    // here cost a whole core per handshake, and a peer can hold handshakes open).
    // Idle wake: often enough for several heartbeats and checks per timeout.
    const int idle_wake_ms = static_cast<int>(std::clamp<int64_t>(config_.timeout_ms / 8, 1, 50));
    int n = ::epoll_wait(epoll_fd_.get(), events, 16, establishing ? 1 : idle_wake_ms);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_.get()) {
        uint64_t count;
        ssize_t ignored = ::read(wake_fd_.get(), &count, sizeof(count));
        (void)ignored;
      }
    }
  }
  runCommands();
  if (work_turns > 0) {
    // The share of the thread's life spent in turns with work: near 100% while transfers ran
    // means this thread, not the network, set the pace (the sender's, 256 KiB pipelined, run 97).
    double lived_ns = static_cast<double>(
        std::chrono::nanoseconds(std::chrono::steady_clock::now() - loop_start).count());
    LOG_INFO("driver: %llu loop turns with work, %.1f us avg, longest %.1f us; %.1f%% of %.2f s",
             static_cast<unsigned long long>(work_turns),
             static_cast<double>(work_time.count()) / static_cast<double>(work_turns) / 1e3,
             static_cast<double>(longest_turn.count()) / 1e3,
             100.0 * static_cast<double>(work_time.count()) / lived_ns, lived_ns / 1e9);
  }
}

Status Driver::waitAccepted(int64_t timeout_ms, const std::function<bool()>& interrupted,
                            AcceptedConnection* out) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(accept_mu_);
  for (;;) {
    if (!accepted_.empty()) {
      *out = accepted_.front();
      accepted_.pop_front();
      return Status::ok();
    }
    if (accept_stopped_) return Status(Code::kBusy, "accept stopped");
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status(Code::kTimeout, "no connection arrived in time");
    if (interrupted) {
      lock.unlock();
      bool stop = interrupted();
      lock.lock();
      if (stop) return Status(Code::kTimeout, "interrupted while waiting for a connection");
    }
    accept_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(20)));
  }
}

void Driver::stopAccepting() {
  {
    std::lock_guard<std::mutex> lock(accept_mu_);
    accept_stopped_ = true;
  }
  accept_cv_.notify_all();
}

std::vector<Notification> Driver::takeNotifications() {
  std::lock_guard<std::mutex> lock(notify_mu_);
  std::vector<Notification> out;
  out.swap(notifications_);
  return out;
}

}  // namespace tcpxp::engine
