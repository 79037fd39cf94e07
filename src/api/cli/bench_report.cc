#include "api/cli/bench_report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <numeric>

#include "api/cli/args.h"

namespace tcpxp::cli {
namespace {

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// CLOCK_MONOTONIC seconds (Python's time.monotonic() on Linux) just before the table header and
// the latest row were printed: the table's window, in which a monitor outside this process
// (scripts/bench_vs_peers.py) measures CPU time. Taken before printing, so a reader that samples
// when a line arrives samples after its time. Written by the client's one thread only.
double g_table_start_s = -1;
double g_table_end_s = -1;

double monotonicSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

LatencyResult latencyStats(std::vector<double> samples_us, uint64_t size) {
  LatencyResult l;
  l.size = size;
  l.iters = static_cast<uint32_t>(samples_us.size());
  if (samples_us.empty()) return l;
  std::sort(samples_us.begin(), samples_us.end());
  size_t n = samples_us.size();
  l.median_us = n % 2 ? samples_us[n / 2] : (samples_us[n / 2 - 1] + samples_us[n / 2]) / 2;
  size_t rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(n)));
  l.p99_us = samples_us[std::clamp<size_t>(rank, 1, n) - 1];
  l.mean_us = std::accumulate(samples_us.begin(), samples_us.end(), 0.0) / static_cast<double>(n);
  l.min_us = samples_us.front();
  l.max_us = samples_us.back();
  return l;
}

void setEngineChoices(const engine::EndpointInfo& info, const std::string& transport_summary,
                      BenchReport* r) {
  r->transport = transport_summary;
  r->transport_reason = info.transport_reason;
  r->devices_reason = info.placement;
  r->chunk_reason = info.chunk_reason;
}

void printBenchHeader(const BenchReport& r) {
  if (r.per_pair) {
    std::printf(
        "tcpx-p2p bench: %zu pairs, client endpoint i -> server endpoint i at %s, all "
        "concurrently\n",
        r.pairs.size(), r.server_address.c_str());
    for (size_t i = 0; i < r.pairs.size(); ++i) {
      const BenchPair& p = r.pairs[i];
      std::printf("  pair %zu (%s): client %s -> server %s\n", i, p.label.c_str(),
                  p.client_memory.c_str(), p.server_memory.c_str());
      std::printf("    devices: %s\n", p.devices.c_str());
    }
    std::printf("  transport (pair 0): %s\n", r.transport.c_str());
  } else {
    std::printf("tcpx-p2p bench: client %s -> server %s at %s\n", r.client_memory.c_str(),
                r.server_memory.c_str(), r.server_address.c_str());
    std::printf("  transport: %s\n", r.transport.c_str());
  }
  std::printf("    chosen because: %s\n", r.transport_reason.c_str());
  if (!r.per_pair) std::printf("    devices: %s\n", r.devices_reason.c_str());
  std::printf("    chunk: %s\n", r.chunk_reason.c_str());
  std::printf("  data path of the client's buffer%s: %s\n", r.per_pair ? " (pair 0)" : "",
              r.client_path.c_str());
  if (!r.kv.empty()) {
    std::printf("  KV cache read (--kv %s): layers x blocks x block bytes, one readv each\n",
                r.kv.c_str());
  }
  std::printf(
      "  %u timed transfers per size after %u warm-up, %u in flight%s%s; GB/s = bytes/s/1e9\n",
      r.iters, r.warmup, r.inflight, r.per_pair ? " per pair" : "",
      r.spread ? ", each on its own region of the buffers (--spread)" : "");
  std::fflush(stdout);
}

void printTableHeader(bool per_pair) {
  g_table_start_s = monotonicSeconds();
  if (per_pair) {
    std::printf("\n%-9s %10s %-16s %10s %16s\n", "mode", "size", "pair", "GB/s",
                "avg latency (us)");
  } else {
    std::printf("\n%-9s %10s %10s %16s\n", "mode", "size", "GB/s", "avg latency (us)");
  }
  std::fflush(stdout);
}

void printBenchRow(const BenchResult& r, const std::string& pair_label) {
  g_table_end_s = monotonicSeconds();
  if (pair_label.empty()) {
    std::printf("%-9s %10s %10.3f %16.2f\n", r.mode.c_str(), formatBytes(r.size).c_str(), r.gbps,
                r.avg_latency_us);
    if (r.pieces) {
      std::printf("          %u %spieces of %s; per transfer p50 %.2f us, p99 %.2f us\n", r.pieces,
                  r.adjacent ? "adjacent " : "", formatBytes(r.size / r.pieces).c_str(), r.p50_us,
                  r.p99_us);
    }
  } else {
    std::printf("%-9s %10s %-16s %10.3f %16.2f\n", r.mode.c_str(), formatBytes(r.size).c_str(),
                pair_label.c_str(), r.gbps, r.avg_latency_us);
  }
  std::fflush(stdout);
}

void printLatency(const LatencyResult& l, const std::string& who) {
  std::printf(
      "%slatency%s%s: %s write + wait, %u round trips: median %.2f us, p99 %.2f us (mean %.2f, "
      "min %.2f, max %.2f)\n",
      who.empty() ? "\n" : "", who.empty() ? "" : ", ", who.c_str(), formatBytes(l.size).c_str(),
      l.iters, l.median_us, l.p99_us, l.mean_us, l.min_us, l.max_us);
  std::fflush(stdout);
}

std::vector<ModeSummary> summarizeModes(const std::vector<BenchResult>& results) {
  std::vector<ModeSummary> out;
  for (const BenchResult& r : results) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const ModeSummary& m) { return m.mode == r.mode; });
    if (it == out.end()) {
      out.push_back({r.mode, r.gbps, r.gbps, r.size, r.size, 0});
      continue;
    }
    if (r.gbps > it->best_gbps) it->best_gbps = r.gbps, it->best_size = r.size;
    if (r.gbps < it->worst_gbps) it->worst_gbps = r.gbps, it->worst_size = r.size;
  }
  for (ModeSummary& m : out) {
    for (const BenchResult& r : results) {
      if (r.mode != m.mode || r.gbps < 0.9 * m.best_gbps) continue;
      if (m.size_at_90pct == 0 || r.size < m.size_at_90pct) m.size_at_90pct = r.size;
    }
  }
  return out;
}

uint64_t timedBytes(const BenchReport& r) {
  uint64_t n = 0;
  for (const BenchResult& x : r.results) n += x.size * x.iters * x.pairs;
  if (r.has_latency) n += r.latency.size * r.latency.iters;
  return n;
}

void printSummary(const BenchReport& r) {
  if (r.per_pair) {
    std::printf("\nsummary (aggregate of %zu pairs):\n", r.pairs.size());
  } else {
    std::printf("\nsummary:\n");
  }
  for (const ModeSummary& m : summarizeModes(r.results)) {
    std::printf("  %-9s best %9.3f GB/s at %-9s worst %9.3f GB/s at %-9s 90%% of best from %s\n",
                m.mode.c_str(), m.best_gbps, formatBytes(m.best_size).c_str(), m.worst_gbps,
                formatBytes(m.worst_size).c_str(), formatBytes(m.size_at_90pct).c_str());
  }
  if (r.has_latency) {
    std::printf("  %-9s median %.2f us, p99 %.2f us (%u round trips)\n", "latency",
                r.latency.median_us, r.latency.p99_us, r.latency.iters);
  }
  std::printf("  %-9s %.3f MB in timed transfers, wall time %.2f s\n", "moved",
              static_cast<double>(timedBytes(r)) / 1e6, r.wall_s);
  std::printf("  %-9s %llu (transport counters); %s\n", "errors",
              static_cast<unsigned long long>(r.transport_errors),
              r.verified ? "every received byte verified"
                         : "data not checked (--verify checks every byte)");
  std::fflush(stdout);
}

bool writeBenchJson(const BenchReport& r, const std::string& path, std::string* error) {
  std::string j = "{\n";
  j += "  \"tool\": \"tcpx-p2p bench\",\n";
  j += "  \"units\": {\"gbps\": \"1e9 bytes/s\", \"latency\": \"microseconds\"},\n";
  j += "  \"transport\": " + jsonString(r.transport) + ",\n";
  j += "  \"decisions\": {\"transport\": " + jsonString(r.transport_reason) +
       ", \"devices\": " + jsonString(r.devices_reason) +
       ", \"chunk\": " + jsonString(r.chunk_reason) + "},\n";
  j += "  \"client_memory\": " + jsonString(r.client_memory) + ",\n";
  j += "  \"server_memory\": " + jsonString(r.server_memory) + ",\n";
  j += "  \"client_data_path\": " + jsonString(r.client_path) + ",\n";
  j += "  \"server_address\": " + jsonString(r.server_address) + ",\n";
  j += "  \"iters\": " + std::to_string(r.iters) + ", \"warmup\": " + std::to_string(r.warmup) +
       ", \"inflight\": " + std::to_string(r.inflight) + (r.spread ? ", \"spread\": true" : "") +
       ",\n";
  auto result = [](const BenchResult& x, bool with_pair, bool with_pairs) {
    return "{\"mode\": " + jsonString(x.mode) + ", \"size\": " + std::to_string(x.size) +
           (with_pair ? ", \"pair\": " + std::to_string(x.pair) : "") +
           (with_pairs ? ", \"pairs\": " + std::to_string(x.pairs) : "") +
           ", \"iters\": " + std::to_string(x.iters) + ", \"warmup\": " + std::to_string(x.warmup) +
           ", \"inflight\": " + std::to_string(x.inflight) +
           ", \"seconds\": " + jsonNumber(x.seconds) + ", \"gbps\": " + jsonNumber(x.gbps) +
           ", \"avg_latency_us\": " + jsonNumber(x.avg_latency_us) +
           (x.pieces ? ", \"pieces\": " + std::to_string(x.pieces) +
                           (x.adjacent ? ", \"adjacent\": true" : "") + ", \"p50_us\": " +
                           jsonNumber(x.p50_us) + ", \"p99_us\": " + jsonNumber(x.p99_us)
                     : std::string()) +
           "}";
  };
  auto latency = [](const LatencyResult& l) {
    return "{\"size\": " + std::to_string(l.size) + ", \"iters\": " + std::to_string(l.iters) +
           ", \"median_us\": " + jsonNumber(l.median_us) + ", \"p99_us\": " + jsonNumber(l.p99_us) +
           ", \"mean_us\": " + jsonNumber(l.mean_us) + ", \"min_us\": " + jsonNumber(l.min_us) +
           ", \"max_us\": " + jsonNumber(l.max_us) + "}";
  };
  // results: the aggregate rows (the only rows with one pair), so a reader of one-pair files
  // reads the aggregate of a --gpus run the same way.
  j += "  \"results\": [";
  for (size_t i = 0; i < r.results.size(); ++i)
    j += (i ? ",\n    " : "\n    ") + result(r.results[i], false, r.per_pair);
  j += r.results.empty() ? "]" : "\n  ]";
  if (r.per_pair) {
    j += ",\n  \"pairs\": [";
    for (size_t i = 0; i < r.pairs.size(); ++i) {
      const BenchPair& p = r.pairs[i];
      j += (i ? ",\n    " : "\n    ") + std::string("{\"pair\": ") + std::to_string(i) +
           ", \"label\": " + jsonString(p.label) +
           ", \"client_memory\": " + jsonString(p.client_memory) +
           ", \"server_memory\": " + jsonString(p.server_memory) +
           ", \"devices\": " + jsonString(p.devices) + "}";
    }
    j += r.pairs.empty() ? "]" : "\n  ]";
    j += ",\n  \"pair_results\": [";
    for (size_t i = 0; i < r.pair_results.size(); ++i)
      j += (i ? ",\n    " : "\n    ") + result(r.pair_results[i], true, false);
    j += r.pair_results.empty() ? "]" : "\n  ]";
  }
  if (g_table_start_s >= 0 && g_table_end_s >= g_table_start_s) {
    char buf[160];
    std::snprintf(buf, sizeof(buf),
                  ",\n  \"table_window\": {\"clock\": \"CLOCK_MONOTONIC\", \"start_s\": %.6f, "
                  "\"end_s\": %.6f}",
                  g_table_start_s, g_table_end_s);
    j += buf;
  }
  if (r.has_latency) {
    j += ",\n  \"latency\": " + latency(r.latency);
    if (r.per_pair) {
      j += ",\n  \"pair_latency\": [";
      for (size_t i = 0; i < r.pair_latency.size(); ++i)
        j += (i ? ", " : "") + latency(r.pair_latency[i]);
      j += "]";
    }
  }
  j += ",\n  \"summary\": {\"modes\": [";
  std::vector<ModeSummary> modes = summarizeModes(r.results);
  for (size_t i = 0; i < modes.size(); ++i) {
    const ModeSummary& m = modes[i];
    j += (i ? ", " : "") + std::string("{\"mode\": ") + jsonString(m.mode) +
         ", \"best_gbps\": " + jsonNumber(m.best_gbps) +
         ", \"best_size\": " + std::to_string(m.best_size) +
         ", \"worst_gbps\": " + jsonNumber(m.worst_gbps) +
         ", \"worst_size\": " + std::to_string(m.worst_size) +
         ", \"size_at_90pct_of_best\": " + std::to_string(m.size_at_90pct) + "}";
  }
  j += "], \"timed_bytes\": " + std::to_string(timedBytes(r)) +
       ", \"transport_errors\": " + std::to_string(r.transport_errors) +
       ", \"verified\": " + (r.verified ? "true" : "false") +
       ", \"wall_s\": " + jsonNumber(r.wall_s) + "}";
  j += "\n}\n";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(j.data(), 1, j.size(), f) == j.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) *error = "cannot write " + path + ": " + std::strerror(errno);
  return ok;
}

}  // namespace tcpxp::cli
