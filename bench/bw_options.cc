#include "bw_options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bw_support.h"
#include "transport/socket/socket_config.h"

namespace tcpxp::bench {
namespace {

constexpr int64_t kMaxRequest = (int64_t{4} << 20) - 1;  // TCPX: one request < 4 MiB
constexpr int64_t kMaxSize = int64_t{16} << 30;

const std::vector<int64_t>& defaultSizes() {
  static const std::vector<int64_t> sizes = {256 << 10, 1 << 20,  4 << 20,
                                             16 << 20,  64 << 20, 256 << 20};
  return sizes;
}
const std::vector<int64_t>& demoSizes() {
  static const std::vector<int64_t> sizes = {4 << 10, 1 << 20, 1000003, 16 << 20, 64 << 20};
  return sizes;
}

void usage(FILE* f) {
  std::fprintf(f, R"(usage: transport_bw [options]

Bandwidth of one ncclNet v7 comm in host memory over loopback, between two processes
(this one receives, a forked child sends). The driver obeys the TCPX rules: at most 16
requests in flight per comm, test() only on the oldest one, irecvConsumed after every
completed receive in order, every request under 4 MiB.

A message of S bytes is sent as ceil(S / chunk) requests, --inflight of them in flight.
The receiver times each size from its first post to its last completion; GB/s is
decimal (bytes / seconds / 1e9).

options (sizes take K, M, G suffixes, binary: 512K = 524288):
  --sizes LIST     comma-separated message sizes (default 256K,1M,4M,16M,64M,256M)
  --iters N        timed messages per size (default auto: about 512 MiB, 4 .. 4096)
  --warmup N       untimed messages per size before the timed ones (default auto:
                   about 32 MiB, at least 1)
  --chunk BYTES    bytes per request, 1 .. 4M-1 (default 512K)
  --inflight N     requests in flight per comm, 1 .. 16 (default 16)
  --seconds T      instead of the sweep: stream chunk-sized messages for T seconds
                   (like tcp_bw) and print one "GB/s=" line
  --verify         fill every message with a pattern and check every byte on the
                   receiver; mismatches are reported and the exit status is 1
                   (timings then include filling and checking)
  --demo           a short friendly run: a few sizes (one odd), --verify on, and a
                   summary line
  --json FILE      also write the results as JSON to FILE
  --plugin PATH    load this ncclNet v7 library (dlopen, symbol ncclNetPlugin_v7)
                   instead of the built-in socket transport, e.g. TCPX's libnccl-net.so
  --dev N          net device index (default 0)
  --timeout SEC    deadline of every wait (connect, accept, each completion, control
                   messages); on expiry the side that stalled says so, exit status 1
                   (default 60)
  --spin N         idle test() calls before the driver starts giving its core away
                   (default 64): on machines with few cores that lets the transport's
                   helper threads run
  --sleep-us U     once idle past --spin, sleep U microseconds per test() instead of
                   sched_yield() (default 0 = yield)
  --help           this text

environment:
  UCCL_SOCKET_NSOCKS   streams: data sockets per comm of the built-in transport, 1 .. 8
                       (default 4); printed in the header
  UCCL_SOCKET_IFNAME   interfaces the built-in transport offers; transport_bw sets it to
                       "lo" when neither it nor NCCL_SOCKET_IFNAME is set
  UCCL_TCPX_DEBUG      log level: NONE, ERROR, WARN (default), INFO, DEBUG, TRACE
  TCPX plugin (--plugin): NCCL_GPUDIRECTTCPX_SOCKET_IFNAME, NCCL_SOCKET_NTHREADS x
                       NCCL_NSOCKS_PERTHREAD (streams), NCCL_DYNAMIC_CHUNK_SIZE=524288 (must
                       be set, on both sides), see docs/TCPX.md
all knobs of the built-in socket transport:
)");
  for (const auto& k : transport::socket::socketKnobs()) {
    std::fprintf(f, "  %-30s default %s\n      %s\n", k.name, k.default_value, k.doc);
  }
}

int usageError(const std::string& message) {
  std::fprintf(stderr, "transport_bw: %s (see --help)\n", message.c_str());
  return 2;
}

bool parseInt(const std::string& text, int64_t lo, int64_t hi, int64_t* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parseSeconds(const std::string& text, double lo, double hi, double* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// The data sockets the built-in transport will use, as it reads UCCL_SOCKET_NSOCKS.
int builtinStreams(std::string* raw) {
  const char* v = std::getenv("UCCL_SOCKET_NSOCKS");
  *raw = v && *v ? v : "unset";
  int64_t n = 4;
  if (v && *v && (!parseBytes(v, &n) || n < 1 || n > 8)) n = 4;
  return static_cast<int>(n);
}

bool builtinFamily(const Report& r) { return r.plugin == "tcpx-p2p-socket"; }

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int64_t Options::itersFor(int64_t size) const {
  if (iters > 0) return iters;
  if (demo) return std::clamp<int64_t>((int64_t{64} << 20) / size, 2, 256);
  return std::clamp<int64_t>((int64_t{512} << 20) / size, 4, 4096);
}

int64_t Options::warmupFor(int64_t size) const {
  if (warmup >= 0) return warmup;
  return std::clamp<int64_t>((int64_t{32} << 20) / size, 1, itersFor(size));
}

int parseOptions(int argc, char** argv, Options* o) {
  bool sizes_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto flag = [&](const char* name) { return arg == name; };
    bool takes_value = flag("--sizes") || flag("--iters") || flag("--warmup") || flag("--chunk") ||
                       flag("--inflight") || flag("--seconds") || flag("--json") ||
                       flag("--plugin") || flag("--dev") || flag("--timeout") || flag("--spin") ||
                       flag("--sleep-us");
    if (takes_value && !has_value) {
      if (i + 1 >= argc) return usageError(arg + " needs a value");
      value = argv[++i];
    } else if (!takes_value && has_value) {
      return usageError(arg + " takes no value");
    }
    int64_t n = 0;
    if (flag("--help") || flag("-h")) {
      usage(stdout);
      return 0;
    } else if (flag("--sizes")) {
      o->sizes.clear();
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string item = value.substr(start, comma == std::string::npos ? comma : comma - start);
        int64_t s = 0;
        if (!parseBytes(item, &s) || s < 1 || s > kMaxSize) {
          return usageError("--sizes: '" + item + "' is not a size in 1 .. 16G");
        }
        o->sizes.push_back(s);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      sizes_given = true;
    } else if (flag("--iters")) {
      if (!parseInt(value, 1, int64_t{1} << 40, &o->iters)) {
        return usageError("--iters: '" + value + "' is not a positive integer");
      }
    } else if (flag("--warmup")) {
      if (!parseInt(value, 0, int64_t{1} << 40, &o->warmup)) {
        return usageError("--warmup: '" + value + "' is not an integer >= 0");
      }
    } else if (flag("--chunk")) {
      if (!parseBytes(value, &o->chunk) || o->chunk < 1 || o->chunk > kMaxRequest) {
        return usageError("--chunk: '" + value +
                          "' must be 1 .. 4194303 bytes (TCPX: a request "
                          "stays under 4 MiB)");
      }
    } else if (flag("--inflight")) {
      if (!parseInt(value, 1, 16, &n)) {
        return usageError("--inflight: '" + value +
                          "' must be 1 .. 16 (TCPX allows 16 "
                          "outstanding requests per comm)");
      }
      o->inflight = static_cast<int>(n);
    } else if (flag("--seconds")) {
      if (!parseSeconds(value, 0.01, 3600, &o->seconds)) {
        return usageError("--seconds: '" + value + "' must be 0.01 .. 3600");
      }
    } else if (flag("--timeout")) {
      if (!parseSeconds(value, 0.1, 86400, &o->timeout)) {
        return usageError("--timeout: '" + value + "' must be 0.1 .. 86400 seconds");
      }
    } else if (flag("--verify")) {
      o->verify = true;
    } else if (flag("--demo")) {
      o->demo = true;
    } else if (flag("--json")) {
      if (value.empty()) return usageError("--json needs a file name");
      o->json = value;
    } else if (flag("--plugin")) {
      if (value.empty()) return usageError("--plugin needs a library path");
      o->plugin = value;
    } else if (flag("--dev")) {
      if (!parseInt(value, 0, 1023, &n))
        return usageError("--dev: '" + value + "' is not 0 .. 1023");
      o->dev = static_cast<int>(n);
    } else if (flag("--sleep-us")) {
      if (!parseInt(value, 0, 100000, &n))
        return usageError("--sleep-us: '" + value + "' is not 0 .. 100000");
      o->sleep_us = static_cast<int>(n);
    } else if (flag("--spin")) {
      if (!parseInt(value, 0, 1 << 30, &n))
        return usageError("--spin: '" + value + "' is not >= 0");
      o->spin = static_cast<int>(n);
    } else {
      return usageError("unknown option '" + std::string(argv[i]) + "'");
    }
  }
  if (o->seconds > 0 && (sizes_given || o->demo || o->iters > 0 || o->warmup >= 0)) {
    return usageError(
        "--seconds streams chunk-sized messages; it does not combine with --sizes, "
        "--iters, --warmup or --demo");
  }
  if (o->demo) o->verify = true;
  if (!sizes_given) o->sizes = o->demo ? demoSizes() : defaultSizes();
  int64_t max_size = *std::max_element(o->sizes.begin(), o->sizes.end());
  int64_t ring_chunks = (max_size + o->chunk - 1) / o->chunk + o->inflight;
  if (ring_chunks > (int64_t{1} << 31) / 2) {
    return usageError("--chunk " + std::to_string(o->chunk) + " is too small for messages of " +
                      formatSize(max_size));
  }
  return -1;
}

void printHeader(const Options& o, const Report& r) {
  std::string raw;
  int streams = builtinStreams(&raw);
  std::printf("transport_bw: plugin %s (%s), device %d (%s)\n", r.plugin.c_str(), r.origin.c_str(),
              o.dev, r.device.c_str());
  if (builtinFamily(r)) {
    std::printf("streams: %d data sockets per comm (UCCL_SOCKET_NSOCKS=%s)\n", streams,
                raw.c_str());
  } else {
    const char* t = std::getenv("NCCL_SOCKET_NTHREADS");
    const char* s = std::getenv("NCCL_NSOCKS_PERTHREAD");
    std::printf(
        "streams: chosen by the plugin (NCCL_SOCKET_NTHREADS=%s x NCCL_NSOCKS_PERTHREAD=%s)\n",
        t ? t : "unset", s ? s : "unset");
  }
  std::printf("chunk %s per request, %d in flight, verify %s, timeout %g s\n",
              formatSize(o.chunk).c_str(), o.inflight, o.verify ? "on" : "off", o.timeout);
  if (o.seconds <= 0) {
    std::printf("%12s %8s %7s %10s %12s\n", "size", "iters", "warmup", "GB/s", "us/message");
  }
  std::fflush(stdout);
}

void printRow(const Options& o, const Result& r) {
  if (o.seconds > 0) {
    std::string raw;
    std::printf("transport_bw streams=%d chunk=%lld seconds=%.2f bytes=%lld GB/s=%.2f\n",
                builtinStreams(&raw), static_cast<long long>(o.chunk), r.seconds,
                static_cast<long long>(r.size * r.iters), r.gbps);
  } else {
    std::printf("%12s %8lld %7lld %10.2f %12.1f\n", formatSize(r.size).c_str(),
                static_cast<long long>(r.iters), static_cast<long long>(r.warmup), r.gbps,
                r.seconds / static_cast<double>(r.iters) * 1e6);
  }
  std::fflush(stdout);
}

int finishReport(const Options& o, const Report& r) {
  int rc = 0;
  if (o.verify) {
    if (r.bad_bytes != 0) {
      std::printf("verify: FAILED: %llu of %llu received bytes differ from what was sent\n",
                  static_cast<unsigned long long>(r.bad_bytes),
                  static_cast<unsigned long long>(r.checked_bytes));
      rc = 1;
    } else {
      std::printf("verify: all %llu received bytes match\n",
                  static_cast<unsigned long long>(r.checked_bytes));
    }
  }
  if (o.demo) {
    double bytes = static_cast<double>(r.checked_bytes);
    std::printf("demo: moved %.0f bytes in %.2f s, %.2f GB/s, %s\n", bytes, r.total_seconds,
                bytes / r.total_seconds / 1e9,
                rc == 0 ? "all bytes verified" : "VERIFICATION FAILED");
  }
  if (!o.json.empty()) {
    FILE* f = std::fopen(o.json.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "transport_bw: cannot write --json %s: %s\n", o.json.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::string raw;
    int streams = builtinFamily(r) ? builtinStreams(&raw) : -1;
    std::fprintf(f,
                 "{\"bench\": \"transport_bw\", \"mode\": \"%s\", \"plugin\": %s, "
                 "\"origin\": %s, \"device\": %s, \"streams\": %d, \"chunk\": %lld, "
                 "\"inflight\": %d, \"verify\": %s, \"bad_bytes\": %llu, \"results\": [",
                 o.seconds > 0 ? "seconds" : "sizes", jsonString(r.plugin).c_str(),
                 jsonString(r.origin).c_str(), jsonString(r.device).c_str(), streams,
                 static_cast<long long>(o.chunk), o.inflight, o.verify ? "true" : "false",
                 static_cast<unsigned long long>(r.bad_bytes));
    for (size_t i = 0; i < r.results.size(); ++i) {
      const Result& x = r.results[i];
      std::fprintf(f,
                   "%s\n  {\"size\": %lld, \"iters\": %lld, \"warmup\": %lld, \"bytes\": %lld, "
                   "\"seconds\": %.6f, \"gbps\": %.4f}",
                   i ? "," : "", static_cast<long long>(x.size), static_cast<long long>(x.iters),
                   static_cast<long long>(x.warmup), static_cast<long long>(x.size * x.iters),
                   x.seconds, x.gbps);
    }
    std::fprintf(f, "]}\n");
    if (std::fclose(f) != 0) {
      std::fprintf(stderr, "transport_bw: writing --json %s failed\n", o.json.c_str());
      return 1;
    }
  }
  return rc;
}

}  // namespace tcpxp::bench
