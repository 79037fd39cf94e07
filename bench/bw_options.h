// Command line and report of transport_bw: flags, --help, the results table and the JSON file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tcpxp::bench {

struct Options {
  std::vector<int64_t> sizes;  // message sizes of the sweep
  int64_t iters = 0;           // timed messages per size; 0 = auto (about 512 MiB, 4 .. 4096)
  int64_t warmup = -1;         // untimed messages per size; -1 = auto (about 32 MiB, 1 .. iters)
  int64_t chunk = 512 << 10;   // bytes per request (< 4 MiB, the TCPX limit)
  int inflight = 16;           // requests in flight per comm (<= 16, the TCPX limit)
  double seconds = 0;          // > 0: timed streaming run of chunk-sized messages instead
  double timeout = 60;         // deadline of every wait, seconds
  bool verify = false;
  bool demo = false;
  std::string json;
  std::string plugin;  // empty: the built-in socket transport
  int dev = 0;
  int spin = 64;     // idle test() calls before the driver starts giving its core away
  int sleep_us = 0;  // then: 0 = sched_yield() per idle test(), else sleep this long

  int64_t itersFor(int64_t size) const;
  int64_t warmupFor(int64_t size) const;
};

struct Result {
  int64_t size;
  int64_t iters;  // messages timed (stream mode: requests)
  int64_t warmup;
  double seconds;
  double gbps;  // decimal: bytes / seconds / 1e9
};

struct Report {
  std::string plugin;
  std::string origin;
  std::string device;
  std::vector<Result> results;
  double total_seconds = 0;  // all phases, warm-ups included
  uint64_t bad_bytes = 0;
  uint64_t checked_bytes = 0;
};

// Returns -1 to run, 0 after --help, 2 on a usage error (message printed).
int parseOptions(int argc, char** argv, Options* out);

void printHeader(const Options& o, const Report& r);
void printRow(const Options& o, const Result& r);
// Verification verdict, demo summary, JSON file. Returns the process exit code.
int finishReport(const Options& o, const Report& r);

}  // namespace tcpxp::bench
