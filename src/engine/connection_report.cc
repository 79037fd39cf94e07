// What a connection reports: per-channel stats, the staging it holds, the per-channel time
// breakdown logged at its end, and the UCCL_TCPX_TRACE file.
#include <unistd.h>

#include <cstdio>

#include "common/log.h"
#include "engine/connection.h"

namespace tcpxp::engine {

// UCCL_TCPX_TRACE=PREFIX: every piece's stage times to PREFIX.<pid>.<conn>.csv
// (scripts/trace_report.py pairs a sender's file with its receiver's).
void Connection::writeTrace() const {
  if (ctx_.config.trace_prefix.empty()) return;
  std::string file = ctx_.config.trace_prefix + "." + std::to_string(::getpid()) + "." +
                     std::to_string(id_) + ".csv";
  FILE* f = std::fopen(file.c_str(), "w");
  if (f == nullptr) {
    LOG_WARN("UCCL_TCPX_TRACE: cannot write %s", file.c_str());
    return;
  }
  for (size_t i = 0; i < channels_.size(); ++i) {
    for (const Channel::TraceRecord& r : channels_[i].trace) {
      std::fprintf(f, "%zu,%c,%llu,%u,%lld,%lld,%lld,%lld\n", i, r.dir,
                   static_cast<unsigned long long>(r.xfer), r.len, static_cast<long long>(r.t[0]),
                   static_cast<long long>(r.t[1]), static_cast<long long>(r.t[2]),
                   static_cast<long long>(r.t[3]));
    }
  }
  std::fclose(f);
}

// Where the pieces spent their time, per channel, and the data paths' CUDA work
// (UCCL_TCPX_DEBUG=INFO): the first thing to look at when a transfer is slower than the network.
void Connection::logChannelTimes() const {
  auto avg_us = [](uint64_t ns, uint64_t n) { return n ? static_cast<double>(ns) / n / 1e3 : 0.0; };
  for (size_t i = 0; i < channels_.size(); ++i) {
    const ChannelCounters& c = channels_[i].counters;
    if (c.sends == 0 && c.receives == 0) continue;
    LOG_INFO(
        "connection %llu channel %zu: %llu sends (isend->done %.1f us avg), %llu receives "
        "(irecv->done %.1f us, landing %.1f us avg; irecv + test + irecvConsumed %.2f us per "
        "receive, and %.1f tests of %.2f us each that found it not done)",
        static_cast<unsigned long long>(id_), i, static_cast<unsigned long long>(c.sends),
        avg_us(c.send_ns, c.sends), static_cast<unsigned long long>(c.receives),
        avg_us(c.recv_ns, c.receives), avg_us(c.land_ns, c.receives),
        avg_us(c.recv_net_ns, c.receives),
        c.receives ? static_cast<double>(c.recv_polls) / static_cast<double>(c.receives) : 0.0,
        avg_us(c.recv_poll_ns, c.recv_polls));
  }
  if (!paths_) return;
  datapath::PathCounters p = paths_->counters();
  if (p.cuda_calls == 0 && p.polls == 0) return;
  LOG_INFO(
      "connection %llu data paths: %llu staged sends (copy %.1f us avg); %llu copies or "
      "kernels started, %.1f us avg; %llu completion polls, %.2f us avg",
      static_cast<unsigned long long>(id_), static_cast<unsigned long long>(p.staged_sends),
      avg_us(p.stage_ns, p.staged_sends), static_cast<unsigned long long>(p.cuda_calls),
      avg_us(p.cuda_ns, p.cuda_calls), static_cast<unsigned long long>(p.polls),
      avg_us(p.poll_ns, p.polls));
}

void Connection::appendStats(std::vector<ChannelStats>* out) const {
  for (size_t i = 0; i < channels_.size(); ++i) {
    const ChannelCounters& c = channels_[i].counters;
    ChannelStats s;
    s.conn = id_;
    s.channel = static_cast<int>(i);
    s.dev = channels_[i].dev;
    s.counters = {c.bytes_sent, c.bytes_received, c.sends, c.receives, 0, c.busy_ns};
    out->push_back(s);
  }
}

ConnectionStats Connection::stats() const {
  return {id_, peer(), static_cast<int>(channels_.size()), paths_ ? paths_->stagingBytes() : 0};
}

}  // namespace tcpxp::engine
