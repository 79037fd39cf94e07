// The driver thread of one Endpoint: it owns every connection, registration and transfer and
// is the only thread that touches them or calls the transport. Other threads hand it work with
// call()/post() and wait on Completions.
//
// While any comm has requests outstanding the loop spins (TCPX makes progress only inside
// test()); otherwise, after polling 200 us past its last work, it sleeps in epoll on the control
// sockets, the bootstrap listener and a wakeup eventfd. (Below 8 hardware threads both spin and
// poll yield the CPU between turns: common/cpu_relax.h.)
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "engine/completions.h"
#include "engine/connection.h"
#include "engine/engine_config.h"
#include "engine/registry.h"
#include "transport/net.h"

namespace tcpxp::engine {

struct AcceptedConnection {
  ConnId id = 0;
  std::string ip;
  int remote_gpu = -1;
};

class Driver {
 public:
  Driver(EngineConfig config, transport::Net net, std::vector<int> devs, int ndev, int gpu_index,
         transport::NetProperties props, Fd bootstrap);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Runs `fn` on the driver thread and returns its result.
  Status call(const std::function<Status()>& fn);
  Completions& completions() { return completions_; }
  const EngineConfig& config() const { return config_; }
  const transport::Net& net() const { return net_; }

  // Driver-thread only (inside call()).
  Registry& registry() { return registry_; }
  Connection* connection(ConnId id);
  ConnId addConnection(Fd fd, const std::string& peer, bool connector, uint64_t ready_slot,
                       Status* started);
  Status closeConnection(ConnId id);
  // An id for a connection the driver does not own (a same-host IPC one): one id space.
  ConnId reserveConnId() { return next_conn_++; }
  // Per-NIC totals (closed connections included), the live connections and their channels.
  void stats(std::vector<TrafficCounters>* nics, std::vector<ConnectionStats>* conns,
             std::vector<ChannelStats>* channels) const;

  // Any thread.
  Status waitAccepted(int64_t timeout_ms, const std::function<bool()>& interrupted,
                      AcceptedConnection* out);
  void stopAccepting();
  std::vector<Notification> takeNotifications();

 private:
  void loop();
  void runCommands();
  void acceptBootstrap();
  void refuseForLackOfDescriptors(int err);
  void wake();
  // Watches a connection's control socket for writability while its output waits to drain.
  void watchWritable(Connection& conn);

  EngineConfig config_;
  transport::Net net_;
  Registry registry_;
  Completions completions_;
  EngineContext ctx_;
  Fd bootstrap_;
  Fd wake_fd_;
  // Held so that, out of descriptors, one can be freed to accept a connector and tell it why.
  Fd reserve_fd_;
  Fd epoll_fd_;
  std::unordered_map<ConnId, std::unique_ptr<Connection>> conns_;
  std::unordered_map<ConnId, bool> announced_;      // acceptor connections handed to accept()
  std::unordered_map<ConnId, uint32_t> watch_out_;  // epoll events of each control socket
  ConnId next_conn_ = 1;

  std::mutex cmd_mu_;
  std::vector<std::function<void()>> cmds_;
  std::vector<std::function<void()>> running_;

  std::mutex accept_mu_;
  std::condition_variable accept_cv_;
  std::deque<AcceptedConnection> accepted_;
  bool accept_stopped_ = false;

  std::mutex notify_mu_;
  std::vector<Notification> notifications_;  // at most kMaxQueuedNotifications
  uint64_t dropped_notifications_ = 0;
  RateLimiter notify_drop_log_;
  RateLimiter accept_limit_log_;

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tcpxp::engine
