// tcpx-p2p demo: a KV-cache transfer between two processes on this machine, every byte verified.
//
// The parent starts a server and a client (process.h) and supervises them:
//   server: register the KV region, advertise each layer (one FifoItem per layer), write its
//           address to the parent's pipe, accept, send the FifoItems with engine send.
//   client: fill its KV region with the patterns, connect, receive the FifoItems, then per
//           iteration write every page with one writev (vector write) per layer, all in flight.
//   per iteration: server zeroes its region -> Go -> client writes, waits, -> Written{time} ->
//           server copies the region to the host, checks every byte, prints -> Verdict.
// The server prints everything; the client only reports errors.
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "api/cli/args.h"
#include "api/cli/buffer.h"
#include "api/cli/commands.h"
#include "api/cli/kv_workload.h"
#include "api/cli/process.h"
#include "api/cli/session.h"
#include "control/fifo_item.h"

namespace tcpxp::cli {
namespace {

constexpr uint32_t kDemoMagic = 0x4f4d4544;  // "DEMO"
constexpr uint32_t kDemoVersion = 1;
constexpr int64_t kMaxLayers = 512;  // the FifoItems travel in one 64 KiB message

const Command kDemo = {
    .name = "demo",
    .usage =
        "demo [--gpu N [--server-gpu M] | --host] [--layers 8 --blocks 64 --block-bytes 64K] "
        "[--iters 3]",
    .summary =
        "Moves a KV-cache-shaped workload between two processes on this machine and checks every "
        "byte.\n"
        "The server registers a region of LAYERS x BLOCKS x {K,V} pages of BLOCK-BYTES and "
        "advertises each\n"
        "layer (one FifoItem per layer, sent to the client with engine send/recv). The client "
        "writes every\n"
        "page into it with one-sided writes (one vector write per layer, all layers in flight). "
        "The server\n"
        "then verifies every byte against a pattern seeded by (layer, block, K/V) and prints, per "
        "iteration\n"
        "and in total, the bytes, seconds, GB/s (decimal: bytes/s/1e9) and the verdict.\n"
        "Memory: GPU memory when a GPU is present (server GPU 1 if there are 2 or more GPUs, else "
        "GPU 0;\n"
        "client GPU 0; verification copies back to the host), host memory otherwise.",
    .flags =
        {
            {"--gpu", "N", "GPU memory on GPU N for both processes (default: see above)"},
            {"--server-gpu", "N", "the server's GPU (the client keeps --gpu, default 0)"},
            {"--host", nullptr, "host memory on both sides, even when a GPU is present"},
            {"--layers", "N", "layers, 1..512 (default 8)"},
            {"--blocks", "N", "blocks (pages) per layer and per K/V tensor, 1..65536 (default 64)"},
            {"--block-bytes", "SIZE",
             "bytes per page, 1 .. 1G; K/M/G binary, KB/MB/GB decimal (default 64K)"},
            {"--iters", "N",
             "iterations, 1..1000 (default 3); the server region is zeroed before each"},
            {"--timeout", "SECONDS",
             "deadline of every wait (connect, each iteration's writes, messages);\n"
             "default 60"},
            {"--role", "server|client", "internal: run one side", true},
            {"--peer", "ADDR", "internal: the server's address (client)", true},
            {"--meta-fd", "FD", "internal: pipe for the server's address", true},
        },
    .env_notes =
        "UCCL_SOCKET_IFNAME=lo keeps the demo on loopback (the default offers every up "
        "interface).\n"
        "UCCL_P2P_TRANSPORT picks the transport; UCCL_TCPX_NUM_CHANNELS / UCCL_TCPX_CHUNK_BYTES "
        "shape it.\n",
    .examples =
        "UCCL_SOCKET_IFNAME=lo tcpx-p2p demo --host\n"
        "tcpx-p2p demo --layers 32 --blocks 128 --block-bytes 16K --iters 5\n"
        "tcpx-p2p demo --gpu 0 --server-gpu 1\n",
};

enum StepKind : uint32_t { kGo = 1, kWritten = 2, kVerdict = 3 };

struct DemoHello {  // server -> client, followed in the same message by `layers` FifoItems
  uint32_t magic = kDemoMagic;
  uint32_t version = kDemoVersion;
  uint32_t layers = 0;
  uint32_t blocks = 0;
  uint64_t block_bytes = 0;
};

struct DemoStep {
  uint32_t magic = kDemoMagic;
  uint32_t kind = 0;
  uint32_t iter = 0;
  uint32_t reserved = 0;
  uint64_t bytes = 0;
  uint64_t nanos = 0;       // kWritten: the client's time from first submit to last completion
  uint64_t mismatches = 0;  // kVerdict
};

struct DemoOptions {
  KvShape shape;
  int iters = 3;
  double timeout = 60;
  std::string role;
  std::string peer;
  int meta_fd = -1;
  bool host = false;
  int gpu = -2, server_gpu = -2;
};

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vprintf(fmt, args);
  va_end(args);
  std::fflush(stdout);
}

Status checkStep(const DemoStep& s, uint32_t kind, uint32_t iter) {
  if (s.magic != kDemoMagic || s.kind != kind || s.iter != iter) {
    return Status(Code::kProtocolError, "unexpected demo message (kind " + std::to_string(s.kind) +
                                            ", iteration " + std::to_string(s.iter) + ")");
  }
  return Status::ok();
}

Status runServer(const DemoOptions& o, int gpu) {
  const KvShape& shape = o.shape;
  std::unique_ptr<Messenger> msg;  // declared first: outlives the endpoint (session.h)
  Buffer region;
  std::unique_ptr<Endpoint> ep;
  TCPXP_RETURN_IF_ERROR(createEndpoint(gpu, &ep));
  TCPXP_RETURN_IF_ERROR(Buffer::allocate(gpu, shape.totalBytes(), &region));
  MrId mr = 0;
  TCPXP_RETURN_IF_ERROR(ep->reg(region.data(), region.size(), &mr));
  std::string address = endpointAddress(*ep);
  if (o.meta_fd >= 0) {
    TCPXP_RETURN_IF_ERROR(writeLine(o.meta_fd, address));
  } else {
    say("demo server: waiting for the client at %s\n", address.c_str());
  }
  ConnId conn = 0;
  std::string peer_ip;
  int peer_gpu = -1;
  TCPXP_RETURN_IF_ERROR(acceptPeer(*ep, o.timeout, &conn, &peer_ip, &peer_gpu));
  TCPXP_RETURN_IF_ERROR(Messenger::create(ep.get(), conn, o.timeout, &msg));

  std::vector<uint8_t> hello(sizeof(DemoHello) + shape.layers * control::kFifoItemBytes);
  DemoHello h;
  h.layers = shape.layers;
  h.blocks = shape.blocks;
  h.block_bytes = shape.block_bytes;
  std::memcpy(hello.data(), &h, sizeof(h));
  for (uint32_t l = 0; l < shape.layers; ++l) {
    engine::FifoBlob fifo{};
    uint8_t* layer = region.data() + shape.pageOffset(l, 0, 0);
    TCPXP_RETURN_IF_ERROR(ep->advertise(conn, mr, layer, shape.layerBytes(), &fifo));
    std::memcpy(hello.data() + sizeof(DemoHello) + l * control::kFifoItemBytes, fifo.data(),
                fifo.size());
  }
  TCPXP_RETURN_IF_ERROR(msg->send(hello.data(), hello.size(), "sending the layer advertisements"));
  say("  server %s: %s; client %s: %s\n", address.c_str(), memoryName(gpu).c_str(), peer_ip.c_str(),
      peer_gpu < 0 ? "host memory" : ("GPU " + std::to_string(peer_gpu)).c_str());
  say("  transport: %s\n  data path into the server: %s\n", transportSummary(*ep).c_str(),
      dataPathSummary(*ep, gpu >= 0).c_str());

  std::vector<uint8_t> image(shape.totalBytes());
  uint64_t total_bytes = 0, total_nanos = 0, total_bad = 0;
  for (int it = 1; it <= o.iters; ++it) {
    const uint32_t iter = static_cast<uint32_t>(it);
    TCPXP_RETURN_IF_ERROR(region.zero());
    DemoStep go;
    go.kind = kGo;
    go.iter = iter;
    TCPXP_RETURN_IF_ERROR(msg->sendPod(go, "starting iteration " + std::to_string(it)));
    DemoStep written;
    TCPXP_RETURN_IF_ERROR(
        msg->recvPod(&written, "waiting for the client's writes of iteration " + std::to_string(it),
                     2 * o.timeout));
    TCPXP_RETURN_IF_ERROR(checkStep(written, kWritten, iter));
    TCPXP_RETURN_IF_ERROR(region.download(0, image.data(), image.size()));
    KvCheck check = checkRegion(shape, image.data());
    double secs = static_cast<double>(written.nanos) / 1e9;
    say("iter %d/%d: wrote %s (%llu pages, %u writev calls) in %.4f s = %.3f GB/s; %s\n", it,
        o.iters, formatBytes(written.bytes).c_str(), static_cast<unsigned long long>(shape.pages()),
        shape.layers, secs, secs > 0 ? static_cast<double>(written.bytes) / secs / 1e9 : 0.0,
        check.describe(shape.totalBytes()).c_str());
    total_bytes += written.bytes;
    total_nanos += written.nanos;
    total_bad += check.bad_bytes;
    DemoStep verdict;
    verdict.kind = kVerdict;
    verdict.iter = iter;
    verdict.mismatches = check.bad_bytes;
    TCPXP_RETURN_IF_ERROR(msg->sendPod(verdict, "sending the verdict"));
  }
  double secs = static_cast<double>(total_nanos) / 1e9;
  say("summary: %llu bytes in %.4f s = %.3f GB/s over %d iterations (%s); %s\n",
      static_cast<unsigned long long>(total_bytes), secs,
      secs > 0 ? static_cast<double>(total_bytes) / secs / 1e9 : 0.0, o.iters,
      gpu >= 0 ? "GPU memory" : "host memory",
      total_bad == 0 ? "verified OK" : (std::to_string(total_bad) + " mismatches").c_str());
  if (total_bad != 0)
    return Status(Code::kInternal, "the received data does not match what was sent");
  return Status::ok();
}

Status runClient(const DemoOptions& o, int gpu) {
  const KvShape& shape = o.shape;
  std::unique_ptr<Messenger> msg;  // declared first: outlives the endpoint (session.h)
  Buffer region;
  std::unique_ptr<Endpoint> ep;
  TCPXP_RETURN_IF_ERROR(createEndpoint(gpu, &ep));
  TCPXP_RETURN_IF_ERROR(Buffer::allocate(gpu, shape.totalBytes(), &region));
  {
    std::vector<uint8_t> image(shape.totalBytes());
    fillRegion(shape, image.data());
    TCPXP_RETURN_IF_ERROR(region.upload(0, image.data(), image.size()));
  }
  MrId mr = 0;
  TCPXP_RETURN_IF_ERROR(ep->reg(region.data(), region.size(), &mr));
  ConnId conn = 0;
  TCPXP_RETURN_IF_ERROR(connectPeer(*ep, o.peer, o.timeout, &conn));
  TCPXP_RETURN_IF_ERROR(Messenger::create(ep.get(), conn, o.timeout, &msg));
  std::vector<uint8_t> hello(Messenger::kMaxBytes);
  size_t n = 0;
  TCPXP_RETURN_IF_ERROR(
      msg->recv(hello.data(), hello.size(), &n, "receiving the layer advertisements"));
  DemoHello h;
  if (n < sizeof(h)) return Status(Code::kProtocolError, "short advertisement message");
  std::memcpy(&h, hello.data(), sizeof(h));
  if (h.magic != kDemoMagic || h.version != kDemoVersion || h.layers != shape.layers ||
      h.blocks != shape.blocks || h.block_bytes != shape.block_bytes ||
      n != sizeof(h) + shape.layers * control::kFifoItemBytes) {
    return Status(Code::kProtocolError, "the server's KV shape or demo version differs from ours");
  }

  // One vector write per layer: every page of the layer, each aimed at its place in the
  // layer's advertised range.
  std::vector<std::vector<engine::Segment>> layers(shape.layers);
  for (uint32_t l = 0; l < shape.layers; ++l) {
    const uint8_t* blob = hello.data() + sizeof(h) + l * control::kFifoItemBytes;
    control::FifoItem item;
    TCPXP_RETURN_IF_ERROR(control::decodeFifoItem(blob, control::kFifoItemBytes, &item));
    for (uint32_t kv = 0; kv < 2; ++kv) {
      for (uint32_t b = 0; b < shape.blocks; ++b) {
        engine::Segment seg;
        seg.mr = mr;
        seg.ptr = region.data() + shape.pageOffset(l, b, kv);
        seg.size = shape.block_bytes;
        std::memcpy(seg.fifo.data(), blob, control::kFifoItemBytes);
        uint64_t remote = item.addr + shape.pageOffset(0, b, kv);
        TCPXP_RETURN_IF_ERROR(control::updateFifoItem(seg.fifo.data(), remote, shape.block_bytes));
        layers[l].push_back(seg);
      }
    }
  }

  uint64_t bad = 0;
  for (int it = 1; it <= o.iters; ++it) {
    const uint32_t iter = static_cast<uint32_t>(it);
    DemoStep go;
    TCPXP_RETURN_IF_ERROR(
        msg->recvPod(&go, "waiting for the server to start iteration " + std::to_string(it)));
    TCPXP_RETURN_IF_ERROR(checkStep(go, kGo, iter));
    auto t0 = std::chrono::steady_clock::now();
    std::vector<XferId> ids(shape.layers);
    for (uint32_t l = 0; l < shape.layers; ++l) {
      Status st = ep->writeAsync(conn, layers[l], &ids[l]);
      if (!st.isOk())
        return Status(st.code(), "writev of layer " + std::to_string(l) + ": " + st.message());
    }
    Deadline deadline(o.timeout);
    for (uint32_t l = 0; l < shape.layers; ++l) {
      TCPXP_RETURN_IF_ERROR(
          waitTransfer(*ep, ids[l], deadline, "writev of layer " + std::to_string(l)));
    }
    auto t1 = std::chrono::steady_clock::now();
    DemoStep written;
    written.kind = kWritten;
    written.iter = iter;
    written.bytes = shape.totalBytes();
    written.nanos = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    TCPXP_RETURN_IF_ERROR(msg->sendPod(written, "reporting iteration " + std::to_string(it)));
    DemoStep verdict;
    TCPXP_RETURN_IF_ERROR(
        msg->recvPod(&verdict, "waiting for the server's verdict", 2 * o.timeout + 60));
    TCPXP_RETURN_IF_ERROR(checkStep(verdict, kVerdict, iter));
    bad += verdict.mismatches;
  }
  TCPXP_RETURN_IF_ERROR(msg->awaitClose("waiting for the server to close"));
  if (bad != 0)
    return Status(Code::kInternal, "the server found " + std::to_string(bad) + " mismatched bytes");
  return Status::ok();
}

// The parent: start the server, learn its address, start the client, supervise both.
int runPair(const DemoOptions& o, const std::vector<std::string>& common) {
  PeerGpus gpus;
  std::string error;
  if (!choosePeerGpus(o.host, o.gpu, o.server_gpu, &gpus, &error)) return usageError(kDemo, error);
  say("tcpx-p2p demo: KV cache of %u layers x %u blocks x {K,V} x %s pages = %s per iteration, %d "
      "iterations\n",
      o.shape.layers, o.shape.blocks, formatBytes(o.shape.block_bytes).c_str(),
      formatBytes(o.shape.totalBytes()).c_str(), o.iters);
  say("  memory: server %s, client %s%s\n", memoryName(gpus.server).c_str(),
      memoryName(gpus.client).c_str(), gpuCount() == 0 && !o.host ? " (no GPU found)" : "");
  auto roleArgs = [&](const char* role, int gpu) {
    std::vector<std::string> a = {"demo", "--role", role};
    a.insert(a.end(), common.begin(), common.end());
    if (gpu < 0) {
      a.push_back("--host");
    } else {
      a.insert(a.end(), {"--gpu", std::to_string(gpu)});
    }
    return a;
  };
  return runLocalPair("demo", roleArgs("server", gpus.server), roleArgs("client", gpus.client),
                      "--peer", o.timeout, o.timeout * (o.iters + 4));
}

}  // namespace

int runDemo(int argc, char** argv) {
  Args args;
  if (!args.parse(kDemo, argc, argv, 2)) return usageError(kDemo, args.error());
  if (args.helpRequested()) {
    printHelp(kDemo, stdout);
    return kExitOk;
  }
  DemoOptions o;
  o.shape.layers = static_cast<uint32_t>(args.integer("--layers", 8, 1, kMaxLayers));
  o.shape.blocks = static_cast<uint32_t>(args.integer("--blocks", 64, 1, 65536));
  o.shape.block_bytes = args.bytes("--block-bytes", 64 << 10, 1, uint64_t{1} << 30);
  o.iters = static_cast<int>(args.integer("--iters", 3, 1, 1000));
  o.timeout = args.seconds("--timeout", 60, 0.1, 86400);
  o.host = args.has("--host");
  o.gpu = static_cast<int>(args.integer("--gpu", -2, 0, 1023));
  o.server_gpu = static_cast<int>(args.integer("--server-gpu", -2, 0, 1023));
  o.role = args.text("--role", "");
  o.peer = args.text("--peer", "");
  o.meta_fd = static_cast<int>(args.integer("--meta-fd", -1, 0, 1 << 20));
  if (!o.role.empty() && o.role != "server" && o.role != "client")
    args.fail("--role must be server or client");
  if (o.role == "client" && o.peer.empty()) args.fail("--role client needs --peer ADDR");
  if (args.ok() && o.shape.pages() > (uint64_t{1} << 20)) {
    args.fail("--layers x --blocks x 2 = " + std::to_string(o.shape.pages()) +
              " pages; at most 1048576");
  }
  if (args.ok() && o.shape.totalBytes() > (uint64_t{64} << 30)) {
    args.fail("the KV region would be " + formatBytes(o.shape.totalBytes()) + "; at most 64 GiB");
  }
  if (!args.ok()) return usageError(kDemo, args.error());

  if (o.role.empty()) {
    std::vector<std::string> common = {"--layers",      std::to_string(o.shape.layers),
                                       "--blocks",      std::to_string(o.shape.blocks),
                                       "--block-bytes", std::to_string(o.shape.block_bytes),
                                       "--iters",       std::to_string(o.iters),
                                       "--timeout",     std::to_string(o.timeout)};
    return runPair(o, common);
  }
  int gpu = -1;
  std::string error;
  if (!chooseGpu(o.host, o.gpu, &gpu, &error)) return usageError(kDemo, error);
  Status st = o.role == "server" ? runServer(o, gpu) : runClient(o, gpu);
  if (!st.isOk()) {
    std::fprintf(stderr, "tcpx-p2p demo %s: %s\n", o.role.c_str(), st.toString().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace tcpxp::cli
