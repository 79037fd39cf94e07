// What a connection needs from its endpoint's driver, and the counters it reports into.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/rate_limit.h"
#include "engine/completions.h"
#include "engine/engine_config.h"
#include "engine/registry.h"
#include "engine/transfer.h"
#include "transport/net.h"

namespace tcpxp::engine {

// Counters of one channel or one NIC (bytes of completed requests).
struct TrafficCounters {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t sends = 0;     // completed send requests
  uint64_t receives = 0;  // completed (consumed) receive requests
  uint64_t errors = 0;    // connections failed while using it
  uint64_t busy_ns = 0;   // time with requests posted
  void add(const TrafficCounters& o) {
    bytes_sent += o.bytes_sent;
    bytes_received += o.bytes_received;
    sends += o.sends;
    receives += o.receives;
    errors += o.errors;
    busy_ns += o.busy_ns;
  }
};

struct Notification {
  std::string name;
  std::string msg;
  ConnId conn = 0;  // the (established) connection it came on
};

struct EngineContext {
  const EngineConfig& config;
  const transport::Net& net;
  Registry& registry;
  Completions& completions;
  std::vector<int> devs;  // transport devices, channel i on devs[i % size]
  int gpu_index;
  transport::NetProperties props;  // of devs[0]
  std::function<void(Notification)> on_notify;
  std::vector<TrafficCounters> nic_counters;  // per transport device, kept past connections
  // Log lines about failures a remote peer causes, shared by the endpoint's connections: at
  // most one per second each (refused requests; connections that fail before they are ready).
  RateLimiter refusal_log{};
  RateLimiter unready_failure_log{};
  RateLimiter failure_log{};  // connections that fail after their handshake
  size_t connections = 0;     // this endpoint's live connections (the driver keeps it current)
};

struct ChannelStats {
  ConnId conn = 0;
  int channel = 0;
  int dev = 0;
  TrafficCounters counters;
};

struct ConnectionStats {
  ConnId conn = 0;
  std::string peer;
  int channels = 0;
  size_t staging_bytes = 0;  // pinned staging memory held (GPU memory over a host-only transport)
};

}  // namespace tcpxp::engine
