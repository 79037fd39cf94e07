// Results of `tcpx-p2p bench`: the table on stdout, the summary after it, and the JSON file.
// GB/s are decimal (bytes / seconds / 1e9), as UCCL's benchmark_uccl.py reports them.
// With several pairs (--gpus) every size has a row per pair and an aggregate row: all pairs'
// bytes over the time from the first pair's start to the last pair's end (they start together).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/endpoint.h"

namespace tcpxp::cli {

struct BenchResult {
  std::string mode;  // sendrecv, write, read
  uint64_t size = 0;
  uint32_t iters = 0;
  uint32_t warmup = 0;
  uint32_t inflight = 0;
  uint32_t pair = 0;              // a pair's row: its index
  uint32_t pairs = 1;             // an aggregate row: the pairs that ran concurrently
  double seconds = 0;             // timed transfers only, first submit to last completion
  double gbps = 0;                // size * iters * pairs / seconds / 1e9
  double avg_latency_us = 0;      // mean of submit -> completion over the timed transfers
  uint32_t pieces = 0;            // writev/readv: pieces per transfer (0: a contiguous mode)
  bool adjacent = false;          // writev/readv: pieces back to back (--adjacent)
  double p50_us = 0, p99_us = 0;  // writev/readv: submit -> completion of the timed transfers
};

struct LatencyResult {
  uint64_t size = 8;
  uint32_t iters = 0;
  double median_us = 0, p99_us = 0, mean_us = 0, min_us = 0, max_us = 0;
};

// Sorts `samples_us` and fills the statistics (p99: nearest rank).
LatencyResult latencyStats(std::vector<double> samples_us, uint64_t size);

// One client endpoint and the server endpoint it drives (--gpus).
struct BenchPair {
  std::string label;          // "0->4", "host->host": client -> server memory
  std::string client_memory;  // memoryName()
  std::string server_memory;
  std::string devices;  // the client endpoint's transport devices and why (EndpointInfo)
};

struct BenchReport {
  std::string transport;  // transportSummary()
  // The engine's reasons (EndpointInfo): transport, devices, chunk size.
  std::string transport_reason, devices_reason, chunk_reason;
  std::string client_memory;  // memoryName()
  std::string server_memory;
  std::string client_path;  // dataPathSummary() of the client's buffer
  std::string server_address;
  uint32_t iters = 0, warmup = 0, inflight = 0;
  bool spread = false;  // --spread: each transfer in flight on its own region of the buffers
  std::vector<BenchResult> results;
  bool has_latency = false;
  LatencyResult latency;  // several pairs: over every pair's samples
  // --gpus: per-pair rows; results then holds the aggregate rows.
  bool per_pair = false;
  std::vector<BenchPair> pairs;
  std::vector<BenchResult> pair_results;
  std::vector<LatencyResult> pair_latency;
  // The summary.
  bool verified = false;          // --verify: every received byte was checked
  std::string kv;                 // --kv LxBxBYTES, "" when not given
  uint64_t transport_errors = 0;  // the client endpoints' error counters (EndpointStats)
  double wall_s = 0;              // the client's whole run
};

// Per mode: best and worst GB/s (aggregate rows) and the smallest size reaching 90% of the best.
struct ModeSummary {
  std::string mode;
  double best_gbps = 0, worst_gbps = 0;
  uint64_t best_size = 0, worst_size = 0, size_at_90pct = 0;
};
std::vector<ModeSummary> summarizeModes(const std::vector<BenchResult>& results);
// Bytes moved by the timed transfers of every pair (latency round trips included).
uint64_t timedBytes(const BenchReport& r);

// The transport line and the engine's reasons for its choices (engine::EndpointInfo).
void setEngineChoices(const engine::EndpointInfo& info, const std::string& transport_summary,
                      BenchReport* r);
void printBenchHeader(const BenchReport& r);
void printTableHeader(bool per_pair);
// pair_label "": the one-pair table; else the per-pair table's pair column ("1: 0->4", "all").
void printBenchRow(const BenchResult& r, const std::string& pair_label = "");
// who "": the one-pair line; else "pair 1 (0->4)", "all 4 pairs".
void printLatency(const LatencyResult& l, const std::string& who = "");
// The summary after the table (stdout): per mode best/worst/90% size, latency, bytes, transport
// errors, verification, wall time.
void printSummary(const BenchReport& r);
// Writes the whole report as JSON; false with *error when the file cannot be written.
bool writeBenchJson(const BenchReport& r, const std::string& path, std::string* error);

}  // namespace tcpxp::cli
