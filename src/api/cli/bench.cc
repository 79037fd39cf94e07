// tcpx-p2p bench: bandwidth of send/recv, write and read per message size, and the round trip
// of an 8-byte write, between a server and a client (two local processes, or two machines).
//
// Protocol, all over the engine (the messages use its send/recv; see session.h Messenger):
//   client -> server  BenchPlan (modes, sizes, iterations, window)
//   server -> client  ServerHello (the FifoItem of one advertised buffer of the largest size)
//   per (mode, size): the client runs warm-up then timed transfers (sendrecv: the server posts
//                     the matching receives), then sends Step so the server knows where it is
//   client -> server  Bye;  server -> client  Bye (both then close)
// The client prints the table and writes the JSON; the server only serves.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "api/cli/args.h"
#include "api/cli/bench_report.h"
#include "api/cli/buffer.h"
#include "api/cli/commands.h"
#include "api/cli/process.h"
#include "api/cli/session.h"

namespace tcpxp::cli {
namespace {

constexpr uint32_t kBenchMagic = 0x48434e42;  // "BNCH"
constexpr uint32_t kBenchVersion = 1;
constexpr size_t kMaxSizes = 64;
constexpr uint64_t kMaxSize = uint64_t{4} << 30;
constexpr uint64_t kLatencyBytes = 8;
constexpr uint32_t kLatencyWarmup = 10;

enum ModeBit : uint32_t { kSendRecv = 1, kWrite = 2, kRead = 4, kLatency = 8 };
constexpr ModeBit kModeOrder[] = {kSendRecv, kWrite, kRead, kLatency};

const char* modeName(uint32_t m) {
  switch (m) {
    case kSendRecv:
      return "sendrecv";
    case kWrite:
      return "write";
    case kRead:
      return "read";
    case kLatency:
      return "latency";
  }
  return "?";
}

const std::vector<uint64_t> kUcclSizes = {256,       1 << 10, 4 << 10,  16 << 10, 64 << 10,
                                          256 << 10, 1 << 20, 10000000, 16 << 20, 100000000};

const Command kBench = {
    .name = "bench",
    .usage =
        "bench --local | --server | --client IP:PORT [--mode all] [--sizes LIST] [--iters 10] "
        "[--warmup 1]\n"
        "                      [--inflight 1] [--gpu N | --host] [--latency] [--json FILE]",
    .summary =
        "Measures the engine between a server and a client. For each mode and size: --warmup "
        "untimed transfers,\n"
        "then --iters timed ones with --inflight in flight (1 = UCCL's serialized loop). Prints "
        "per size\n"
        "mode | size | GB/s (decimal: size * iters / seconds / 1e9) | average latency (submit -> "
        "completion).\n"
        "Modes: sendrecv (two-sided), write and read (one-sided into / from one buffer the server "
        "advertises;\n"
        "its FifoItem reaches the client through engine send/recv), latency (median and p99 round "
        "trip of an\n"
        "8-byte write then wait, --latency-iters times). The client prints the table and writes "
        "--json.",
    .flags =
        {
            {"--local", nullptr, "run the server and the client as two processes on this machine"},
            {"--server", nullptr,
             "print this endpoint's address (IP:PORT[?BDF]) and serve one client"},
            {"--client", "IP:PORT",
             "connect to a server (its printed address, with or without ?BDF)"},
            {"--mode", "LIST",
             "comma list of sendrecv, write, read, latency, all (= sendrecv,write,read);\n"
             "default all"},
            {"--latency", nullptr, "add the latency mode (alone when --mode is not given)"},
            {"--sizes", "LIST",
             "message sizes, e.g. 256,4K,1M,10MB (K/M/G binary, KB/MB/GB decimal);\n"
             "default UCCL's sweep 256,1K,4K,16K,64K,256K,1M,10MB,16M,100MB; max 4G"},
            {"--iters", "N", "timed transfers per size, 1..1000000 (default 10)"},
            {"--warmup", "N", "untimed transfers per size first, 0..1000000 (default 1)"},
            {"--inflight", "K",
             "transfers in flight, 1..64 (default 1); K > 1 pipelines them (same buffer)"},
            {"--latency-iters", "N", "round trips of the latency mode, 1..1000000 (default 1000)"},
            {"--gpu", "N",
             "GPU memory on GPU N (--local: both processes). Default: GPU memory when a GPU\n"
             "is present (--local: server GPU 1 if there are 2+ GPUs, else 0; client GPU 0)"},
            {"--server-gpu", "N", "--local: the server's GPU"},
            {"--host", nullptr, "host memory, even when a GPU is present"},
            {"--server-host", nullptr,
             "--local: host memory on the server side only (mixed: GPU -> host for write)"},
            {"--client-host", nullptr,
             "--local: host memory on the client side only (mixed: host -> GPU for write)"},
            {"--json", "FILE", "write every result to FILE (client side)"},
            {"--stats", nullptr,
             "print the engine's traffic per NIC and per channel (client side)"},
            {"--stats-json", "FILE", "write those counters to FILE as JSON (client side)"},
            {"--timeout", "SECONDS", "deadline of every wait and message (default 60)"},
            {"--accept-timeout", "SECONDS",
             "--server: how long to wait for the client (default 600)"},
            {"--role", "server", "internal: the server side of --local", true},
            {"--meta-fd", "FD", "internal: pipe for the server's address", true},
        },
    .env_notes =
        "UCCL_SOCKET_IFNAME chooses the interfaces (lo for --local on a machine without a second "
        "NIC).\n"
        "UCCL_P2P_TRANSPORT (tcpx|tcp), UCCL_TCPX_NUM_CHANNELS and UCCL_TCPX_CHUNK_BYTES shape the "
        "engine and\n"
        "are printed in the header. UCCL_TCPX_BOOTSTRAP_PORT_BASE fixes the server's port.\n",
    .examples =
        "UCCL_SOCKET_IFNAME=lo tcpx-p2p bench --local --host --sizes 4K,1M --iters 3 --json "
        "out.json\n"
        "tcpx-p2p bench --server --gpu 0            # on machine A; prints its address\n"
        "tcpx-p2p bench --client 10.0.0.5:41234 --gpu 0 --mode write,read --inflight 8\n"
        "tcpx-p2p bench --local --latency\n",
};

struct BenchOptions {
  int role = 0;  // 0 local, 1 server, 2 client
  std::string peer;
  uint32_t modes = 0;
  std::vector<uint64_t> sizes;
  uint32_t iters = 10, warmup = 1, inflight = 1, latency_iters = 1000;
  bool host = false, server_host = false, client_host = false;
  int gpu = -2, server_gpu = -2;
  std::string json;
  bool stats = false;
  std::string stats_json;
  double timeout = 60, accept_timeout = 600;
  int meta_fd = -1;
};

struct BenchPlan {
  uint32_t magic = kBenchMagic;
  uint32_t version = kBenchVersion;
  uint32_t modes = 0;
  uint32_t nsizes = 0;
  uint32_t iters = 0, warmup = 0, inflight = 0, latency_iters = 0;
  uint64_t sizes[kMaxSizes] = {};
};

struct ServerHello {
  uint32_t magic = kBenchMagic;
  uint32_t version = kBenchVersion;
  uint64_t buffer_bytes = 0;
  uint8_t fifo[64] = {};
  char memory[128] = {};
};

enum StepKind : uint32_t { kStep = 1, kBye = 2 };
struct Step {
  uint32_t magic = kBenchMagic;
  uint32_t kind = kStep;
  uint32_t mode = 0;
  uint32_t reserved = 0;
  uint64_t size = 0;
};

uint64_t bufferBytes(const BenchPlan& p) {
  uint64_t n = kLatencyBytes;
  for (uint32_t i = 0; i < p.nsizes; ++i) n = std::max(n, p.sizes[i]);
  return n;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs `count` transfers, at most `inflight` in flight, waiting for each in submission order.
// Adds each one's submit -> completion time to *latency_sum_s when given.
Status runWindow(Endpoint& ep, uint32_t count, uint32_t inflight, double timeout, const char* what,
                 const std::function<Status(XferId*)>& submit, double* latency_sum_s) {
  struct Pending {
    XferId id;
    std::chrono::steady_clock::time_point start;
  };
  std::vector<Pending> ring(inflight);
  uint32_t submitted = 0, done = 0;
  while (done < count) {
    while (submitted < count && submitted - done < inflight) {
      Pending& p = ring[submitted % inflight];
      p.start = std::chrono::steady_clock::now();
      Status st = submit(&p.id);
      if (!st.isOk()) return Status(st.code(), std::string(what) + ": " + st.message());
      ++submitted;
    }
    Pending& p = ring[done % inflight];
    TCPXP_RETURN_IF_ERROR(waitTransfer(ep, p.id, Deadline(timeout), what));
    if (latency_sum_s) *latency_sum_s += since(p.start);
    ++done;
  }
  return Status::ok();
}

Status serve(const BenchOptions& o, int gpu) {
  std::unique_ptr<Messenger> msg;  // declared first: outlives the endpoint (session.h)
  Buffer buf;
  std::unique_ptr<Endpoint> ep;
  TCPXP_RETURN_IF_ERROR(createEndpoint(gpu, &ep));
  std::string address = endpointAddress(*ep);
  if (o.meta_fd >= 0) {
    TCPXP_RETURN_IF_ERROR(writeLine(o.meta_fd, address));
  } else {
    std::printf(
        "tcpx-p2p bench server: %s, transport %s\n  waiting %.0f s for: tcpx-p2p bench --client "
        "%s\n",
        memoryName(gpu).c_str(), transportSummary(*ep).c_str(), o.accept_timeout, address.c_str());
    std::fflush(stdout);
  }
  ConnId conn = 0;
  std::string peer_ip;
  int peer_gpu = -1;
  TCPXP_RETURN_IF_ERROR(
      acceptPeer(*ep, o.meta_fd >= 0 ? o.timeout : o.accept_timeout, &conn, &peer_ip, &peer_gpu));
  TCPXP_RETURN_IF_ERROR(Messenger::create(ep.get(), conn, o.timeout, &msg));
  BenchPlan plan;
  TCPXP_RETURN_IF_ERROR(msg->recvPod(&plan, "receiving the client's plan"));
  if (plan.magic != kBenchMagic || plan.version != kBenchVersion || plan.nsizes > kMaxSizes ||
      plan.inflight == 0 || plan.inflight > 64 || bufferBytes(plan) > kMaxSize) {
    return Status(Code::kProtocolError,
                  "the client's plan is invalid or from another tcpx-p2p version");
  }
  TCPXP_RETURN_IF_ERROR(Buffer::allocate(gpu, bufferBytes(plan), &buf));
  MrId mr = 0;
  TCPXP_RETURN_IF_ERROR(ep->reg(buf.data(), buf.size(), &mr));
  engine::FifoBlob fifo{};
  TCPXP_RETURN_IF_ERROR(ep->advertise(conn, mr, buf.data(), buf.size(), &fifo));
  ServerHello hello;
  hello.buffer_bytes = buf.size();
  std::memcpy(hello.fifo, fifo.data(), fifo.size());
  std::snprintf(hello.memory, sizeof(hello.memory), "%s", memoryName(gpu).c_str());
  TCPXP_RETURN_IF_ERROR(msg->sendPod(hello, "sending the advertisement"));
  if (o.meta_fd < 0) {
    std::printf("  client %s connected (%s)\n", peer_ip.c_str(),
                peer_gpu < 0 ? "host memory" : ("GPU " + std::to_string(peer_gpu)).c_str());
    std::fflush(stdout);
  }

  for (ModeBit mode : kModeOrder) {
    if (!(plan.modes & mode)) continue;
    uint32_t nsizes = mode == kLatency ? 1 : plan.nsizes;
    for (uint32_t i = 0; i < nsizes; ++i) {
      uint64_t size = mode == kLatency ? kLatencyBytes : plan.sizes[i];
      uint32_t transfers =
          mode == kLatency ? plan.latency_iters + kLatencyWarmup : plan.warmup + plan.iters;
      if (mode == kSendRecv) {
        engine::Segment seg{mr, buf.data(), size};
        auto post = [&](XferId* id) { return ep->recvAsync(conn, {&seg, 1}, id); };
        TCPXP_RETURN_IF_ERROR(
            runWindow(*ep, transfers, plan.inflight, o.timeout, "sendrecv receive", post, nullptr));
      }
      Step step;
      TCPXP_RETURN_IF_ERROR(msg->recvPod(&step,
                                         std::string("waiting for the client's ") + modeName(mode) +
                                             " " + formatBytes(size) + " run",
                                         o.timeout * (transfers + 2)));
      if (step.magic != kBenchMagic || step.kind != kStep || step.mode != mode ||
          step.size != size) {
        return Status(Code::kProtocolError,
                      "the client's progress message does not match the plan");
      }
    }
  }
  Step bye;
  TCPXP_RETURN_IF_ERROR(msg->recvPod(&bye, "waiting for the client's goodbye"));
  if (bye.magic != kBenchMagic || bye.kind != kBye)
    return Status(Code::kProtocolError, "expected the goodbye");
  TCPXP_RETURN_IF_ERROR(msg->sendPod(bye, "answering the goodbye"));
  if (o.meta_fd < 0) std::printf("  done\n");
  return Status::ok();
}

// The engine's counters after the run: a table and/or JSON (engine::Endpoint::stats()).
Status reportStats(engine::Endpoint& ep, bool print, const std::string& json_file) {
  engine::EndpointStats st;
  TCPXP_RETURN_IF_ERROR(ep.stats(&st));
  if (print) {
    std::printf("\n%-4s %-10s %14s %14s %10s %10s %7s %10s\n", "dev", "nic", "bytes sent",
                "bytes recv", "sends", "receives", "errors", "busy (ms)");
    for (const engine::NicStats& n : st.nics) {
      const engine::TrafficCounters& c = n.counters;
      std::printf("%-4d %-10s %14llu %14llu %10llu %10llu %7llu %10.1f\n", n.dev, n.name.c_str(),
                  static_cast<unsigned long long>(c.bytes_sent),
                  static_cast<unsigned long long>(c.bytes_received),
                  static_cast<unsigned long long>(c.sends),
                  static_cast<unsigned long long>(c.receives),
                  static_cast<unsigned long long>(c.errors), c.busy_ns / 1e6);
    }
    std::printf("\n%-6s %-24s %8s %16s\n", "conn", "peer", "channels", "staging (MiB)");
    for (const engine::ConnectionStats& c : st.connections) {
      std::printf("%-6llu %-24s %8d %16.1f\n", static_cast<unsigned long long>(c.conn),
                  c.peer.c_str(), c.channels, c.staging_bytes / double(1 << 20));
    }
  }
  if (!json_file.empty()) {
    auto counters = [](const engine::TrafficCounters& c) {
      return "\"bytes_sent\": " + std::to_string(c.bytes_sent) +
             ", \"bytes_received\": " + std::to_string(c.bytes_received) +
             ", \"sends\": " + std::to_string(c.sends) +
             ", \"requests\": " + std::to_string(c.sends + c.receives) +
             ", \"receives\": " + std::to_string(c.receives) +
             ", \"errors\": " + std::to_string(c.errors) +
             ", \"busy_ns\": " + std::to_string(c.busy_ns);
    };
    std::string j = "{\n  \"nics\": [";
    for (size_t i = 0; i < st.nics.size(); ++i) {
      j += (i ? ",\n    " : "\n    ") + std::string("{\"dev\": ") + std::to_string(st.nics[i].dev) +
           ", \"name\": \"" + st.nics[i].name + "\", " + counters(st.nics[i].counters) + "}";
    }
    j += "\n  ],\n  \"connections\": [";
    for (size_t i = 0; i < st.connections.size(); ++i) {
      const engine::ConnectionStats& c = st.connections[i];
      j += (i ? ",\n    " : "\n    ") + std::string("{\"conn\": ") + std::to_string(c.conn) +
           ", \"peer\": \"" + c.peer + "\", \"channels\": " + std::to_string(c.channels) +
           ", \"staging_bytes\": " + std::to_string(c.staging_bytes) + "}";
    }
    j += "\n  ],\n  \"channels\": [";
    for (size_t i = 0; i < st.channels.size(); ++i) {
      const engine::ChannelStats& c = st.channels[i];
      j += (i ? ",\n    " : "\n    ") + std::string("{\"conn\": ") + std::to_string(c.conn) +
           ", \"channel\": " + std::to_string(c.channel) + ", \"dev\": " + std::to_string(c.dev) +
           ", " + counters(c.counters) + "}";
    }
    j += "\n  ]\n}\n";
    FILE* f = std::fopen(json_file.c_str(), "w");
    if (f == nullptr || std::fwrite(j.data(), 1, j.size(), f) != j.size()) {
      if (f) std::fclose(f);
      return Status(Code::kSystemError, "cannot write " + json_file);
    }
    std::fclose(f);
    std::printf("stats: %s\n", json_file.c_str());
  }
  return Status::ok();
}

Status drive(const BenchOptions& o, int gpu) {
  std::unique_ptr<Messenger> msg;  // declared first: outlives the endpoint (session.h)
  Buffer buf;
  std::unique_ptr<Endpoint> ep;
  TCPXP_RETURN_IF_ERROR(createEndpoint(gpu, &ep));
  BenchPlan plan;
  plan.modes = o.modes;
  plan.nsizes = static_cast<uint32_t>(o.sizes.size());
  std::copy(o.sizes.begin(), o.sizes.end(), plan.sizes);
  plan.iters = o.iters;
  plan.warmup = o.warmup;
  plan.inflight = o.inflight;
  plan.latency_iters = o.latency_iters;
  TCPXP_RETURN_IF_ERROR(Buffer::allocate(gpu, bufferBytes(plan), &buf));
  MrId mr = 0;
  TCPXP_RETURN_IF_ERROR(ep->reg(buf.data(), buf.size(), &mr));
  ConnId conn = 0;
  TCPXP_RETURN_IF_ERROR(connectPeer(*ep, o.peer, o.timeout, &conn));
  TCPXP_RETURN_IF_ERROR(Messenger::create(ep.get(), conn, o.timeout, &msg));
  TCPXP_RETURN_IF_ERROR(msg->sendPod(plan, "sending the plan"));
  ServerHello hello;
  TCPXP_RETURN_IF_ERROR(msg->recvPod(&hello, "receiving the server's advertisement"));
  if (hello.magic != kBenchMagic || hello.version != kBenchVersion ||
      hello.buffer_bytes < bufferBytes(plan)) {
    return Status(Code::kProtocolError,
                  "the server's answer is invalid or from another tcpx-p2p version");
  }
  hello.memory[sizeof(hello.memory) - 1] = '\0';

  BenchReport report;
  setEngineChoices(ep->info(), transportSummary(*ep), &report);
  report.client_memory = memoryName(gpu);
  report.server_memory = hello.memory;
  report.client_path = dataPathSummary(*ep, gpu >= 0);
  report.server_address = o.peer;
  report.iters = o.iters;
  report.warmup = o.warmup;
  report.inflight = o.inflight;
  printBenchHeader(report);
  bool table = false;

  for (ModeBit mode : kModeOrder) {
    if (!(o.modes & mode)) continue;
    if (mode == kLatency) {
      engine::Segment seg{mr, buf.data(), kLatencyBytes};
      std::memcpy(seg.fifo.data(), hello.fifo, sizeof(hello.fifo));
      std::vector<double> samples;
      samples.reserve(o.latency_iters);
      for (uint32_t i = 0; i < kLatencyWarmup + o.latency_iters; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        XferId id = 0;
        TCPXP_RETURN_IF_ERROR(ep->writeAsync(conn, {&seg, 1}, &id));
        TCPXP_RETURN_IF_ERROR(waitTransfer(*ep, id, Deadline(o.timeout), "latency write"));
        if (i >= kLatencyWarmup) samples.push_back(since(t0) * 1e6);
      }
      report.has_latency = true;
      report.latency = latencyStats(std::move(samples), kLatencyBytes);
      printLatency(report.latency);
      Step step;
      step.mode = mode;
      step.size = kLatencyBytes;
      TCPXP_RETURN_IF_ERROR(msg->sendPod(step, "reporting progress"));
      continue;
    }
    for (uint64_t size : o.sizes) {
      if (!table) printTableHeader();
      table = true;
      engine::Segment seg{mr, buf.data(), size};
      std::memcpy(seg.fifo.data(), hello.fifo, sizeof(hello.fifo));
      auto submit = [&](XferId* id) {
        std::span<const engine::Segment> one(&seg, 1);
        if (mode == kSendRecv) return ep->sendAsync(conn, one, id);
        if (mode == kWrite) return ep->writeAsync(conn, one, id);
        return ep->readAsync(conn, one, id);
      };
      std::string what = std::string(modeName(mode)) + " of " + formatBytes(size);
      TCPXP_RETURN_IF_ERROR(
          runWindow(*ep, o.warmup, o.inflight, o.timeout, what.c_str(), submit, nullptr));
      BenchResult r;
      r.mode = modeName(mode);
      r.size = size;
      r.iters = o.iters;
      r.warmup = o.warmup;
      r.inflight = o.inflight;
      double latency_sum = 0;
      auto t0 = std::chrono::steady_clock::now();
      TCPXP_RETURN_IF_ERROR(
          runWindow(*ep, o.iters, o.inflight, o.timeout, what.c_str(), submit, &latency_sum));
      r.seconds = since(t0);
      r.gbps = r.seconds > 0 ? static_cast<double>(size) * o.iters / r.seconds / 1e9 : 0;
      r.avg_latency_us = latency_sum / o.iters * 1e6;
      printBenchRow(r);
      report.results.push_back(r);
      Step step;
      step.mode = mode;
      step.size = size;
      TCPXP_RETURN_IF_ERROR(msg->sendPod(step, "reporting progress"));
    }
  }
  if (o.stats || !o.stats_json.empty())
    TCPXP_RETURN_IF_ERROR(reportStats(*ep, o.stats, o.stats_json));
  Step bye;
  bye.kind = kBye;
  TCPXP_RETURN_IF_ERROR(msg->sendPod(bye, "saying goodbye"));
  TCPXP_RETURN_IF_ERROR(msg->recvPod(&bye, "waiting for the server's goodbye"));
  TCPXP_RETURN_IF_ERROR(msg->awaitClose("waiting for the server to close"));
  if (!o.json.empty()) {
    std::string error;
    if (!writeBenchJson(report, o.json, &error)) return Status(Code::kSystemError, error);
    std::printf("\nresults: %s\n", o.json.c_str());
  }
  return Status::ok();
}

uint32_t parseModes(Args& args) {
  uint32_t modes = 0;
  if (args.has("--mode")) {
    std::string list = args.text("--mode", "");
    size_t pos = 0;
    for (;;) {
      size_t comma = list.find(',', pos);
      std::string m =
          list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (m == "all") {
        modes |= kSendRecv | kWrite | kRead;
      } else if (m == "sendrecv" || m == "write" || m == "read" || m == "latency") {
        for (ModeBit b : kModeOrder) {
          if (m == modeName(b)) modes |= b;
        }
      } else {
        args.fail("--mode: '" + m + "' is not sendrecv, write, read, latency or all");
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  if (args.has("--latency")) modes |= kLatency;
  return modes ? modes : (kSendRecv | kWrite | kRead);
}

std::string sizeList(const std::vector<uint64_t>& sizes) {
  std::string out;
  for (uint64_t s : sizes) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

std::string modeList(uint32_t modes) {
  std::string out;
  for (ModeBit b : kModeOrder) {
    if (modes & b) out += (out.empty() ? "" : ",") + std::string(modeName(b));
  }
  return out;
}

}  // namespace

int runBench(int argc, char** argv) {
  Args args;
  if (!args.parse(kBench, argc, argv, 2)) return usageError(kBench, args.error());
  if (args.helpRequested()) {
    printHelp(kBench, stdout);
    return kExitOk;
  }
  BenchOptions o;
  int roles = (args.has("--local") ? 1 : 0) + (args.has("--server") ? 1 : 0) +
              (args.has("--client") ? 1 : 0) + (args.has("--role") ? 1 : 0);
  if (roles != 1) args.fail("give exactly one of --local, --server, --client IP:PORT");
  o.role = args.has("--client") ? 2 : (args.has("--server") || args.has("--role")) ? 1 : 0;
  o.peer = args.text("--client", "");
  if (args.has("--role") && args.text("--role", "") != "server") args.fail("--role must be server");
  o.modes = parseModes(args);
  o.sizes = args.byteList("--sizes", kUcclSizes, 1, kMaxSize);
  o.iters = static_cast<uint32_t>(args.integer("--iters", 10, 1, 1000000));
  o.warmup = static_cast<uint32_t>(args.integer("--warmup", 1, 0, 1000000));
  o.inflight = static_cast<uint32_t>(args.integer("--inflight", 1, 1, 64));
  o.latency_iters = static_cast<uint32_t>(args.integer("--latency-iters", 1000, 1, 1000000));
  o.host = args.has("--host");
  o.server_host = args.has("--server-host");
  o.client_host = args.has("--client-host");
  if ((o.server_host || o.client_host) && o.role != 0)
    args.fail("--server-host and --client-host are for --local (use --host on each side)");
  o.gpu = static_cast<int>(args.integer("--gpu", -2, 0, 1023));
  o.server_gpu = static_cast<int>(args.integer("--server-gpu", -2, 0, 1023));
  if (o.server_host && o.server_gpu != -2) args.fail("--server-host excludes --server-gpu");
  if (o.client_host && o.gpu != -2) args.fail("--client-host excludes --gpu");
  if (o.server_gpu != -2 && o.role != 0)
    args.fail("--server-gpu is for --local (use --gpu on each side)");
  o.json = args.text("--json", "");
  if (args.has("--json") && o.json.empty()) args.fail("--json needs a file name");
  o.stats = args.has("--stats");
  o.stats_json = args.text("--stats-json", "");
  if (args.has("--stats-json") && o.stats_json.empty()) args.fail("--stats-json needs a file name");
  o.timeout = args.seconds("--timeout", 60, 0.1, 86400);
  o.accept_timeout = args.seconds("--accept-timeout", 600, 0.1, 7 * 86400);
  o.meta_fd = static_cast<int>(args.integer("--meta-fd", -1, 0, 1 << 20));
  if (!o.peer.empty()) {
    std::string ip;
    int port = 0;
    Status st = parseEndpointAddress(o.peer, &ip, &port);
    if (!st.isOk()) args.fail("--client: " + st.message());
  }
  if (!args.ok()) return usageError(kBench, args.error());

  if (o.role == 0) {
    PeerGpus gpus;
    std::string error;
    if (!choosePeerGpus(o.host, o.gpu, o.server_gpu, &gpus, &error))
      return usageError(kBench, error);
    if (o.server_host) gpus.server = -1;
    if (o.client_host) gpus.client = -1;
    auto memory = [](int gpu) {
      return gpu < 0 ? std::vector<std::string>{"--host"}
                     : std::vector<std::string>{"--gpu", std::to_string(gpu)};
    };
    std::vector<std::string> server = {"bench", "--role", "server", "--timeout",
                                       std::to_string(o.timeout)};
    std::vector<std::string> client = {"bench",
                                       "--mode",
                                       modeList(o.modes),
                                       "--sizes",
                                       sizeList(o.sizes),
                                       "--iters",
                                       std::to_string(o.iters),
                                       "--warmup",
                                       std::to_string(o.warmup),
                                       "--inflight",
                                       std::to_string(o.inflight),
                                       "--latency-iters",
                                       std::to_string(o.latency_iters),
                                       "--timeout",
                                       std::to_string(o.timeout)};
    for (const std::string& a : memory(gpus.server)) server.push_back(a);
    for (const std::string& a : memory(gpus.client)) client.push_back(a);
    if (!o.json.empty()) client.insert(client.end(), {"--json", o.json});
    if (o.stats) client.push_back("--stats");
    if (!o.stats_json.empty()) client.insert(client.end(), {"--stats-json", o.stats_json});
    uint64_t transfers = 0;
    for (ModeBit b : kModeOrder) {
      if (o.modes & b)
        transfers += b == kLatency ? o.latency_iters : o.sizes.size() * (o.iters + o.warmup);
    }
    return runLocalPair("bench", server, client, "--client", o.timeout,
                        o.timeout * 8 + static_cast<double>(transfers) * o.timeout);
  }
  int gpu = -1;
  std::string error;
  if (!chooseGpu(o.host, o.gpu, &gpu, &error)) return usageError(kBench, error);
  Status st = o.role == 1 ? serve(o, gpu) : drive(o, gpu);
  if (!st.isOk()) {
    std::fprintf(stderr, "tcpx-p2p bench %s: %s\n", o.role == 1 ? "server" : "client",
                 st.toString().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tcpxp::cli
