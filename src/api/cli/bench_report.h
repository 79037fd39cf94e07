// Results of `tcpx-p2p bench`: the table on stdout and the JSON file.
// GB/s are decimal (bytes / seconds / 1e9), as UCCL's benchmark_uccl.py reports them.
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
  double seconds = 0;         // timed transfers only, first submit to last completion
  double gbps = 0;            // size * iters / seconds / 1e9
  double avg_latency_us = 0;  // mean of submit -> completion over the timed transfers
};

struct LatencyResult {
  uint64_t size = 8;
  uint32_t iters = 0;
  double median_us = 0, p99_us = 0, mean_us = 0, min_us = 0, max_us = 0;
};

// Sorts `samples_us` and fills the statistics (p99: nearest rank).
LatencyResult latencyStats(std::vector<double> samples_us, uint64_t size);

struct BenchReport {
  std::string transport;  // transportSummary()
  // The engine's reasons (EndpointInfo): transport, devices, chunk size.
  std::string transport_reason, devices_reason, chunk_reason;
  std::string client_memory;  // memoryName()
  std::string server_memory;
  std::string client_path;  // dataPathSummary() of the client's buffer
  std::string server_address;
  uint32_t iters = 0, warmup = 0, inflight = 0;
  std::vector<BenchResult> results;
  bool has_latency = false;
  LatencyResult latency;
};

// The transport line and the engine's reasons for its choices (engine::EndpointInfo).
void setEngineChoices(const engine::EndpointInfo& info, const std::string& transport_summary,
                      BenchReport* r);
void printBenchHeader(const BenchReport& r);
void printTableHeader();
void printBenchRow(const BenchResult& r);
void printLatency(const LatencyResult& l);
// Writes the whole report as JSON; false with *error when the file cannot be written.
bool writeBenchJson(const BenchReport& r, const std::string& path, std::string* error);

}  // namespace tcpxp::cli
