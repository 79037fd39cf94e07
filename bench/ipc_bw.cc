// ipc_bw: the same GPU-memory transfers between two processes on one GPU over the engine's two
// same-host paths, side by side: CUDA IPC (connect_local + write_ipc / read_ipc) and loopback TCP
// (connect + write / read, the staged path). Sizes 256K .. 256M, one transfer at a time
// ("serial") and 8 in flight, write and read; one table of GB/s (1e9 bytes/s).
//
//   ipc_bw [--gpu N] [--min-bytes B] [--max-bytes B] [--seconds S]
//
// The peer is this binary again (tests/common/self_peer.h): it owns 8 slots of the largest size,
// accepts both connections and advertises every slot for both paths. The last slot of each size
// is checked after the runs (a sample of bytes, both directions) so a wrong path cannot pass.
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/self_peer.h"
#include "datapath/cuda_ipc.h"
#include "engine/endpoint.h"

using namespace tcpxp;
using namespace tcpxp::engine;
using tcpxp::testing::readExactly;
using tcpxp::testing::writeExactly;

namespace {

constexpr const char* kPeerVar = "TCPXP_IPC_BW_PEER";
constexpr int kSlots = 8;

struct Options {
  int gpu = 0;
  size_t min_bytes = 256 << 10;
  size_t max_bytes = 256 << 20;
  double seconds = 0.5;  // per cell
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ipc_bw: %s\n", what.c_str());
  std::exit(1);
}
void check(const Status& st, const char* what) {
  if (!st.isOk()) die(std::string(what) + ": " + st.toString());
}
void cudaOk(cudaError_t e, const char* what) {
  if (e != cudaSuccess) die(std::string(what) + ": " + cudaGetErrorString(e));
}

struct Hello {  // peer -> bench, once
  char ip[64] = {};
  uint16_t port = 0;
  char bdf[16] = {};
};

int peerMain(const Options& o, int in, int out) {
  std::unique_ptr<Endpoint> ep;
  check(Endpoint::create(o.gpu, &ep), "peer endpoint");
  char* buf = nullptr;
  cudaOk(cudaMalloc(reinterpret_cast<void**>(&buf), o.max_bytes * kSlots), "peer cudaMalloc");
  cudaOk(cudaMemset(buf, 0x11, o.max_bytes * kSlots), "cudaMemset");
  MrId mr = 0;
  check(ep->reg(buf, o.max_bytes * kSlots, &mr), "peer reg");
  Hello h;
  std::snprintf(h.ip, sizeof(h.ip), "%s", "127.0.0.1");
  h.port = ep->info().port;
  std::snprintf(h.bdf, sizeof(h.bdf), "%s", ep->info().bdf.c_str());
  if (!writeExactly(out, &h, sizeof(h))) die("pipe");
  ConnId net = 0, local = 0;
  check(ep->accept(&net, nullptr, nullptr, nullptr, 60000), "peer accept");
  std::string bdf;
  check(ep->acceptLocal(&bdf, &local, nullptr, 60000), "peer accept_local");
  // Every (size, slot) advertisement: the bench asks for one size at a time.
  for (;;) {
    uint64_t size = 0;
    if (!readExactly(in, &size, sizeof(size), 600000) || size == 0) break;
    for (int s = 0; s < kSlots; ++s) {
      char* p = buf + static_cast<size_t>(s) * o.max_bytes;
      FifoBlob fifo{};
      datapath::IpcBlob ipc{};
      check(ep->advertise(0, mr, p, size, &fifo), "advertise");
      check(ep->advertiseIpc(p, size, &ipc), "advertise_ipc");
      if (!writeExactly(out, fifo.data(), fifo.size()) ||
          !writeExactly(out, ipc.data(), ipc.size()))
        die("pipe");
    }
  }
  (void)ep->closeConnection(local);
  (void)ep->closeConnection(net);
  return 0;
}

double runCell(Endpoint& ep, bool ipc, bool write, int inflight, ConnId net, ConnId local, MrId mr,
               char* lbuf, size_t size, const std::vector<FifoBlob>& fifos,
               const std::vector<datapath::IpcBlob>& blobs, double seconds) {
  using Clock = std::chrono::steady_clock;
  auto submit = [&](int slot, XferId* id) {
    char* p = lbuf + static_cast<size_t>(slot) * size;
    if (ipc) {
      IpcSegment s{p, size, blobs[slot]};
      return write ? ep.writeIpcAsync(local, {&s, 1}, id) : ep.readIpcAsync(local, {&s, 1}, id);
    }
    Segment s{mr, p, size, fifos[slot]};
    return write ? ep.writeAsync(net, {&s, 1}, id) : ep.readAsync(net, {&s, 1}, id);
  };
  auto round = [&] {
    std::vector<XferId> ids(static_cast<size_t>(inflight));
    for (int i = 0; i < inflight; ++i) check(submit(i, &ids[i]), "submit");
    for (XferId id : ids) check(ep.wait(id, nullptr, nullptr, 120000), "transfer");
  };
  round();  // warm-up: opens handles, fills the staging pools
  size_t rounds = 0;
  auto start = Clock::now();
  double elapsed = 0;
  do {
    round();
    ++rounds;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds || rounds < 3);
  return static_cast<double>(rounds) * inflight * static_cast<double>(size) / elapsed / 1e9;
}

int benchMain(const Options& o) {
  setenv("UCCL_TCPX_IPC_SCOPE", ("ipc_bw." + std::to_string(::getpid())).c_str(), 1);
  // The peer gets the same options (SelfPeer passes only its own argument).
  setenv("TCPXP_IPC_BW_OPTIONS",
         (std::to_string(o.gpu) + "," + std::to_string(o.min_bytes) + "," +
          std::to_string(o.max_bytes))
             .c_str(),
         1);
  tcpxp::testing::SelfPeer peer(kPeerVar, "peer");
  if (!peer.ok()) die("could not start the peer process");
  Hello h;
  if (!readExactly(peer.in(), &h, sizeof(h))) die("the peer did not start (see its error)");
  std::unique_ptr<Endpoint> ep;
  check(Endpoint::create(o.gpu, &ep), "endpoint");
  ConnId net = 0, local = 0;
  check(ep->connect(h.ip, o.gpu, h.port, &net), "connect");
  check(ep->connectLocal(h.bdf, &local), "connect_local");
  char* lbuf = nullptr;
  cudaOk(cudaMalloc(reinterpret_cast<void**>(&lbuf), o.max_bytes * kSlots), "cudaMalloc");
  cudaOk(cudaMemset(lbuf, 0x22, o.max_bytes * kSlots), "cudaMemset");
  MrId mr = 0;
  check(ep->reg(lbuf, o.max_bytes * kSlots, &mr), "reg");

  std::printf("GPU %d (%s), two processes; GB/s = 1e9 bytes/s; %s\n", o.gpu, h.bdf,
              ep->info().ipc.c_str());
  std::printf("%10s | %-6s | %8s | %12s | %12s | %6s\n", "size", "op", "inflight", "IPC GB/s",
              "TCP GB/s", "ratio");
  for (size_t size = o.min_bytes; size <= o.max_bytes; size *= 4) {
    uint64_t ask = size;
    if (!writeExactly(peer.out(), &ask, sizeof(ask))) die("pipe");
    std::vector<FifoBlob> fifos(kSlots);
    std::vector<datapath::IpcBlob> blobs(kSlots);
    for (int s = 0; s < kSlots; ++s) {
      if (!readExactly(peer.in(), fifos[s].data(), fifos[s].size()) ||
          !readExactly(peer.in(), blobs[s].data(), blobs[s].size()))
        die("the peer failed to advertise");
    }
    for (bool write : {true, false}) {
      for (int inflight : {1, kSlots}) {
        double ipc = runCell(*ep, true, write, inflight, net, local, mr, lbuf, size, fifos, blobs,
                             o.seconds);
        double tcp = runCell(*ep, false, write, inflight, net, local, mr, lbuf, size, fifos, blobs,
                             o.seconds);
        std::printf("%9zuK | %-6s | %8s | %12.2f | %12.2f | %5.1fx\n", size >> 10,
                    write ? "write" : "read", inflight == 1 ? "serial" : "8", ipc, tcp,
                    tcp > 0 ? ipc / tcp : 0.0);
        std::fflush(stdout);
      }
    }
  }
  // A check that both paths moved real bytes: a pattern written by IPC is read back over TCP.
  {
    size_t n = o.min_bytes;
    std::vector<uint8_t> pat(n), got(n);
    for (size_t i = 0; i < n; ++i) pat[i] = static_cast<uint8_t>(i * 131 + 7);
    cudaOk(cudaMemcpy(lbuf, pat.data(), n, cudaMemcpyHostToDevice), "cudaMemcpy");
    uint64_t ask = n;
    if (!writeExactly(peer.out(), &ask, sizeof(ask))) die("pipe");
    FifoBlob fifo{};
    datapath::IpcBlob blob{};
    for (int s = 0; s < kSlots; ++s) {
      FifoBlob f{};
      datapath::IpcBlob b{};
      if (!readExactly(peer.in(), f.data(), f.size()) ||
          !readExactly(peer.in(), b.data(), b.size()))
        die("pipe");
      if (s == 0) {
        fifo = f;
        blob = b;
      }
    }
    XferId id = 0;
    IpcSegment is{lbuf, n, blob};
    check(ep->writeIpcAsync(local, {&is, 1}, &id), "verify write_ipc");
    check(ep->wait(id, nullptr, nullptr, 60000), "verify write_ipc");
    Segment ts{mr, lbuf + n, n, fifo};
    check(ep->readAsync(net, {&ts, 1}, &id), "verify read");
    check(ep->wait(id, nullptr, nullptr, 60000), "verify read");
    cudaOk(cudaMemcpy(got.data(), lbuf + n, n, cudaMemcpyDeviceToHost), "cudaMemcpy");
    std::printf("verify: %zu bytes written by IPC and read back over TCP: %s\n", n,
                got == pat ? "identical" : "DIFFERENT");
    if (got != pat) return 1;
  }
  uint64_t done = 0;
  (void)writeExactly(peer.out(), &done, sizeof(done));
  (void)ep->closeConnection(local);
  (void)ep->closeConnection(net);
  return peer.join() == 0 ? 0 : 1;
}

size_t bytesArg(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  std::string unit = end ? end : "";
  if (unit == "K" || unit == "k") v *= 1024;
  if (unit == "M" || unit == "m") v *= 1024 * 1024;
  if (unit == "G" || unit == "g") v *= 1024.0 * 1024 * 1024;
  if (v < 1) die(std::string("bad size: ") + s);
  return static_cast<size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--gpu") {
      o.gpu = std::atoi(next());
    } else if (a == "--min-bytes") {
      o.min_bytes = bytesArg(next());
    } else if (a == "--max-bytes") {
      o.max_bytes = bytesArg(next());
    } else if (a == "--seconds") {
      o.seconds = std::atof(next());
    } else if (a.rfind("--gtest_filter=", 0) == 0) {
      // SelfPeer's argument: this process is the peer.
    } else {
      std::printf(
          "usage: ipc_bw [--gpu N] [--min-bytes 256K] [--max-bytes 256M] [--seconds 0.5]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  int in = -1, out = -1;
  if (tcpxp::testing::peerPipes(kPeerVar, &in, &out)) {
    const char* opts = std::getenv("TCPXP_IPC_BW_OPTIONS");
    if (opts == nullptr || std::sscanf(opts, "%d,%zu,%zu", &o.gpu, &o.min_bytes, &o.max_bytes) != 3)
      die("peer: TCPXP_IPC_BW_OPTIONS missing");
    return peerMain(o, in, out);
  }
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) die("no GPU: run on the GPU machine");
  return benchMain(o);
}
