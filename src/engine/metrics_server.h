// Prometheus text endpoint of one Endpoint's traffic counters, on UCCL_TCPX_METRICS_PORT
// (+ the GPU index, so that one process may hold an endpoint per GPU). A minimal HTTP/1.0
// responder on its own thread: GET (any path) -> text/plain; version=0.0.4 exposition.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/fd.h"
#include "common/status.h"

namespace tcpxp::engine {

struct EndpointStats;

// The exposition text of `stats` (labels: gpu, dev, nic; per channel also conn, channel).
std::string renderPrometheus(const EndpointStats& stats, int gpu_index);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // Listens on 0.0.0.0:port and serves scrapes until destroyed.
  static Status start(int port, Render render, std::unique_ptr<MetricsServer>* out);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  void run();
  void answer(int fd);

  Fd listen_;
  int port_ = 0;
  Render render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tcpxp::engine
