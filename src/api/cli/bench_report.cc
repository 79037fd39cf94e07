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
  std::printf("tcpx-p2p bench: client %s -> server %s at %s\n", r.client_memory.c_str(),
              r.server_memory.c_str(), r.server_address.c_str());
  std::printf("  transport: %s\n", r.transport.c_str());
  std::printf("    chosen because: %s\n", r.transport_reason.c_str());
  std::printf("    devices: %s\n", r.devices_reason.c_str());
  std::printf("    chunk: %s\n", r.chunk_reason.c_str());
  std::printf("  data path of the client's buffer: %s\n", r.client_path.c_str());
  std::printf("  %u timed transfers per size after %u warm-up, %u in flight; GB/s = bytes/s/1e9\n",
              r.iters, r.warmup, r.inflight);
  std::fflush(stdout);
}

void printTableHeader() {
  g_table_start_s = monotonicSeconds();
  std::printf("\n%-9s %10s %10s %16s\n", "mode", "size", "GB/s", "avg latency (us)");
  std::fflush(stdout);
}

void printBenchRow(const BenchResult& r) {
  g_table_end_s = monotonicSeconds();
  std::printf("%-9s %10s %10.3f %16.2f\n", r.mode.c_str(), formatBytes(r.size).c_str(), r.gbps,
              r.avg_latency_us);
  std::fflush(stdout);
}

void printLatency(const LatencyResult& l) {
  std::printf(
      "\nlatency: %s write + wait, %u round trips: median %.2f us, p99 %.2f us (mean %.2f, min "
      "%.2f, max %.2f)\n",
      formatBytes(l.size).c_str(), l.iters, l.median_us, l.p99_us, l.mean_us, l.min_us, l.max_us);
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
       ", \"inflight\": " + std::to_string(r.inflight) + ",\n";
  j += "  \"results\": [";
  for (size_t i = 0; i < r.results.size(); ++i) {
    const BenchResult& x = r.results[i];
    j += i ? ",\n    " : "\n    ";
    j += "{\"mode\": " + jsonString(x.mode) + ", \"size\": " + std::to_string(x.size) +
         ", \"iters\": " + std::to_string(x.iters) + ", \"warmup\": " + std::to_string(x.warmup) +
         ", \"inflight\": " + std::to_string(x.inflight) +
         ", \"seconds\": " + jsonNumber(x.seconds) + ", \"gbps\": " + jsonNumber(x.gbps) +
         ", \"avg_latency_us\": " + jsonNumber(x.avg_latency_us) + "}";
  }
  j += r.results.empty() ? "]" : "\n  ]";
  if (g_table_start_s >= 0 && g_table_end_s >= g_table_start_s) {
    char buf[160];
    std::snprintf(buf, sizeof(buf),
                  ",\n  \"table_window\": {\"clock\": \"CLOCK_MONOTONIC\", \"start_s\": %.6f, "
                  "\"end_s\": %.6f}",
                  g_table_start_s, g_table_end_s);
    j += buf;
  }
  if (r.has_latency) {
    const LatencyResult& l = r.latency;
    j += ",\n  \"latency\": {\"size\": " + std::to_string(l.size) +
         ", \"iters\": " + std::to_string(l.iters) + ", \"median_us\": " + jsonNumber(l.median_us) +
         ", \"p99_us\": " + jsonNumber(l.p99_us) + ", \"mean_us\": " + jsonNumber(l.mean_us) +
         ", \"min_us\": " + jsonNumber(l.min_us) + ", \"max_us\": " + jsonNumber(l.max_us) + "}";
  }
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
