// Staging-copy benchmark: what the staged data path (GPU memory over a host-only transport)
// asks of the copy engines. Device->pinned-host and pinned-host->device copies of one transfer
// cut into pieces of P bytes, spread over S streams (one event per piece, as the engine does),
// against the same bytes in one copy; plus the round trip of an 8-byte copy + event query.
// GB/s counts bytes copied once (decimal).
//
//   staging_copy_bw [--gpu 0] [--bytes 67108864] [--iters 10] [--dir d2h|h2d] [--piece B]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_check.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Copies `bytes` in pieces of `piece` round robin over `streams`, one event per piece, and
// waits by querying events in order (like the engine's driver thread). Returns GB/s.
// With `cpu_sink`, each finished piece is then read by the CPU (memcpy into cpu_sink), as the
// socket send of a staged piece does: DMA writes and CPU reads of the same pinned memory.
double piecewise(char* dst, const char* src, size_t bytes, size_t piece,
                 std::vector<cudaStream_t>& streams, std::vector<cudaEvent_t>& events, int iters,
                 char* cpu_sink = nullptr) {
  size_t pieces = (bytes + piece - 1) / piece;
  auto t0 = Clock::now();
  for (int it = 0; it < iters; ++it) {
    for (size_t i = 0; i < pieces; ++i) {
      size_t off = i * piece;
      size_t len = std::min(piece, bytes - off);
      cudaStream_t s = streams[i % streams.size()];
      CK(cudaMemcpyAsync(dst + off, src + off, len, cudaMemcpyDefault, s));
      CK(cudaEventRecord(events[i % events.size()], s));
      if (i + 1 >= events.size()) {  // keep at most events.size() pieces in flight
        size_t oldest = i + 1 - events.size();
        while (cudaEventQuery(events[(i + 1) % events.size()]) == cudaErrorNotReady) {
        }
        if (cpu_sink)
          std::memcpy(cpu_sink, dst + oldest * piece, std::min(piece, bytes - oldest * piece));
      }
    }
    for (cudaStream_t s : streams) CK(cudaStreamSynchronize(s));
  }
  return static_cast<double>(bytes) * iters / seconds(t0, Clock::now()) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int gpu = 0, iters = 10;
  size_t bytes = 64 << 20, only_piece = 0;
  std::string only_dir;
  bool cpu_reader = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--gpu" && i + 1 < argc) {
      gpu = std::atoi(argv[++i]);
    } else if (a == "--bytes" && i + 1 < argc) {
      bytes = std::strtoull(argv[++i], nullptr, 0);
    } else if (a == "--iters" && i + 1 < argc) {
      iters = std::atoi(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      only_dir = argv[++i];
    } else if (a == "--cpu-reader") {
      cpu_reader = true;
    } else if (a == "--piece" && i + 1 < argc) {
      only_piece = std::strtoull(argv[++i], nullptr, 0);
    } else {
      std::printf(
          "usage: staging_copy_bw [--gpu N] [--bytes B] [--iters N] [--dir d2h|h2d] "
          "[--piece B] [--cpu-reader]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  CK(cudaSetDevice(gpu));
  char *dev = nullptr, *host = nullptr;
  CK(cudaMalloc(&dev, bytes));
  CK(cudaHostAlloc(reinterpret_cast<void**>(&host), bytes, cudaHostAllocPortable));
  CK(cudaMemset(dev, 1, bytes));
  std::memset(host, 2, bytes);
  std::vector<cudaStream_t> all(8);
  for (auto& s : all) CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::vector<cudaEvent_t> events(64);
  for (auto& e : events) CK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));

  std::printf("staging_copy_bw: GPU %d, %zu bytes per transfer, %d iterations\n", gpu, bytes,
              iters);
  std::printf("%-6s %10s %8s %10s\n", "dir", "piece", "streams", "GB/s");
  for (int dir = 0; dir < 2; ++dir) {
    const char* name = dir == 0 ? "D2H" : "H2D";
    if (!only_dir.empty() && only_dir != (dir == 0 ? "d2h" : "h2d")) continue;
    char* dst = dir == 0 ? host : dev;
    const char* src = dir == 0 ? dev : host;
    std::vector<size_t> pieces = {size_t{64} << 10, size_t{512} << 10, size_t{2} << 20, bytes};
    if (only_piece) pieces = {only_piece};
    for (size_t piece : pieces) {
      for (size_t ns : {size_t{1}, size_t{4}}) {
        if (only_piece && ns != 1) continue;
        std::vector<cudaStream_t> streams(all.begin(), all.begin() + static_cast<long>(ns));
        piecewise(dst, src, bytes, piece, streams, events, 1);  // warm-up
        std::vector<char> sink(cpu_reader && dir == 0 ? piece : 0);
        double gbps = piecewise(dst, src, bytes, piece, streams, events, iters,
                                sink.empty() ? nullptr : sink.data());
        std::printf("%-6s %10zu %8zu %10.2f\n", name, piece, ns, gbps);
      }
    }
  }
  // Round trip of a tiny copy and its event, as the engine polls it.
  for (int dir = 0; dir < 2 && only_dir.empty(); ++dir) {
    std::vector<double> us;
    for (int i = 0; i < 2000; ++i) {
      auto t0 = Clock::now();
      CK(cudaMemcpyAsync(dir == 0 ? host : dev, dir == 0 ? dev : host, 8, cudaMemcpyDefault,
                         all[0]));
      CK(cudaEventRecord(events[0], all[0]));
      while (cudaEventQuery(events[0]) == cudaErrorNotReady) {
      }
      us.push_back(seconds(t0, Clock::now()) * 1e6);
    }
    std::sort(us.begin(), us.end());
    std::printf("8-byte %s copy + event query: median %.1f us, p99 %.1f us\n",
                dir == 0 ? "D2H" : "H2D", us[us.size() / 2], us[us.size() * 99 / 100]);
  }
  for (auto& e : events) cudaEventDestroy(e);
  for (auto& s : all) cudaStreamDestroy(s);
  cudaFreeHost(host);
  cudaFree(dev);
  return 0;
}
