// Staging-copy benchmark: what the staged data path (GPU memory over a host-only transport)
// asks of the copy engines. Device->pinned-host and pinned-host->device copies of one transfer
// cut into pieces of P bytes, spread over S streams (one event per piece, as the engine does),
// against the same bytes in one copy; plus the round trip of an 8-byte copy + event query.
// GB/s counts bytes copied once (decimal).
//
//   staging_copy_bw [--gpu 0] [--bytes 67108864] [--iters 10] [--dir d2h|h2d] [--piece B]
//                   [--cpu-reader] [--cpu-writer] [--serial] [--kernel] [--both]
//
// --both: device->host and host->device at once on the one GPU, each from its own thread with
// its own buffers and 4 streams, in 1 MiB pieces (or --piece): what a GPU0 -> GPU0 transfer
// over TCP asks of one GPU (the sender's staging copies out, the receiver's in). Each
// direction's GB/s, then their sum.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
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
// `cpu_writer`: the CPU writes each host source piece just before its copy (host->device), as a
// socket receive does before the engine lands the piece. `serial`: each piece is waited for
// before the next is issued (a transfer that arrives piece by piece, with gaps); the rate is then
// bytes over the summed issue -> seen-complete times. With S streams, `serial` copies groups of
// S pieces at once, one per stream, each piece written by its own thread when `cpu_writer`.
// `kernel`: host->device pieces are copied by a kernel reading the mapped pinned memory instead
// of the copy engine (many loads in flight per SM).
struct PieceOptions {
  char* cpu_sink = nullptr;
  bool cpu_writer = false;
  bool serial = false;
  bool kernel = false;
  bool flush = false;        // cpu_writer: clflushopt each written piece before its copy
  bool demote = false;       // cpu_writer: cldemote each written piece (to the shared L3)
  bool dirty_first = false;  // the CPU writes the whole source before each pass (not timed)
  double* flush_seconds = nullptr;
};

void demoteLines(const char* p, size_t len) {
#if defined(__x86_64__)
  for (size_t i = 0; i < len; i += 64) {
    asm volatile("cldemote %0" : "+m"(*const_cast<volatile char*>(p + i)));
  }
#else
  (void)p;
  (void)len;
#endif
}

void flushLines(const char* p, size_t len) {
#if defined(__x86_64__)
  for (size_t i = 0; i < len; i += 64) {
    asm volatile("clflushopt %0" : "+m"(*const_cast<volatile char*>(p + i)));
  }
  asm volatile("sfence" ::: "memory");
#else
  (void)p;
  (void)len;
#endif
}

__global__ void copyKernel(int4* __restrict__ dst, const int4* __restrict__ src, size_t n) {
  constexpr int kUnroll = 4;
  size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    int4 v[kUnroll];
    for (int u = 0; u < kUnroll; ++u) v[u] = src[i + u * stride];
    for (int u = 0; u < kUnroll; ++u) dst[i + u * stride] = v[u];
  }
  for (; i < n; i += stride) dst[i] = src[i];
}

void copyPiece(char* dst, const char* src, size_t len, cudaStream_t s, bool kernel) {
  if (!kernel || len % sizeof(int4) != 0) {
    CK(cudaMemcpyAsync(dst, src, len, cudaMemcpyDefault, s));
    return;
  }
  size_t n = len / sizeof(int4);
  unsigned blocks = static_cast<unsigned>(std::min<size_t>(64, (n + 1023) / 1024));
  copyKernel<<<blocks, 256, 0, s>>>(reinterpret_cast<int4*>(dst),
                                    reinterpret_cast<const int4*>(src), n);
  CK(cudaGetLastError());
}

// One pass of `serial` with several streams: groups of one piece per stream, each written by its
// own thread when `cpu_writer` (in that core's cache, as pieces received by different socket
// threads are), then copied at once. Returns the summed issue -> seen-complete seconds.
double copyGroupsAtOnce(char* dst, const char* src, size_t bytes, size_t piece,
                        std::vector<cudaStream_t>& streams, std::vector<cudaEvent_t>& events,
                        const PieceOptions& o) {
  size_t pieces = (bytes + piece - 1) / piece;
  size_t group = streams.size();
  double copy_seconds = 0;
  for (size_t g = 0; g < pieces; g += group) {
    size_t n = std::min(group, pieces - g);
    if (o.cpu_writer) {
      std::vector<std::thread> writers;
      for (size_t k = 0; k < n; ++k) {
        writers.emplace_back([&, k] {
          size_t off = (g + k) * piece;
          std::memset(const_cast<char*>(src) + off, static_cast<int>(k),
                      std::min(piece, bytes - off));
        });
      }
      for (auto& w : writers) w.join();
    }
    auto issued = Clock::now();
    for (size_t k = 0; k < n; ++k) {
      size_t off = (g + k) * piece;
      copyPiece(dst + off, src + off, std::min(piece, bytes - off), streams[k], o.kernel);
      CK(cudaEventRecord(events[k], streams[k]));
    }
    for (size_t k = 0; k < n; ++k) {
      while (cudaEventQuery(events[k]) == cudaErrorNotReady) {
      }
    }
    copy_seconds += seconds(issued, Clock::now());
  }
  return copy_seconds;
}

double piecewise(char* dst, const char* src, size_t bytes, size_t piece,
                 std::vector<cudaStream_t>& streams, std::vector<cudaEvent_t>& events, int iters,
                 const PieceOptions& o = {}) {
  size_t pieces = (bytes + piece - 1) / piece;
  double copy_seconds = 0;  // serial: issue -> seen complete, summed (excludes the CPU writes)
  double untimed = 0;
  auto t0 = Clock::now();
  for (int it = 0; it < iters; ++it) {
    if (o.dirty_first) {
      auto d0 = Clock::now();
      std::memset(const_cast<char*>(src), it, bytes);
      untimed += seconds(d0, Clock::now());
    }
    if (o.serial && streams.size() > 1) {
      copy_seconds += copyGroupsAtOnce(dst, src, bytes, piece, streams, events, o);
      continue;
    }
    for (size_t i = 0; i < pieces; ++i) {
      size_t off = i * piece;
      size_t len = std::min(piece, bytes - off);
      cudaStream_t s = streams[i % streams.size()];
      if (o.cpu_writer) std::memset(const_cast<char*>(src) + off, static_cast<int>(i), len);
      if (o.cpu_writer && (o.flush || o.demote)) {
        auto f0 = Clock::now();
        if (o.flush) flushLines(src + off, len);
        if (o.demote) demoteLines(src + off, len);
        if (o.flush_seconds) *o.flush_seconds += seconds(f0, Clock::now());
      }
      auto issued = Clock::now();
      copyPiece(dst + off, src + off, len, s, o.kernel);
      CK(cudaEventRecord(events[i % events.size()], s));
      if (o.serial) {
        while (cudaEventQuery(events[i % events.size()]) == cudaErrorNotReady) {
        }
        copy_seconds += seconds(issued, Clock::now());
      } else if (i + 1 >= events.size()) {  // keep at most events.size() pieces in flight
        size_t oldest = i + 1 - events.size();
        while (cudaEventQuery(events[(i + 1) % events.size()]) == cudaErrorNotReady) {
        }
        if (o.cpu_sink)
          std::memcpy(o.cpu_sink, dst + oldest * piece, std::min(piece, bytes - oldest * piece));
      }
    }
    for (cudaStream_t s : streams) CK(cudaStreamSynchronize(s));
  }
  double elapsed = o.serial ? copy_seconds : seconds(t0, Clock::now()) - untimed;
  return static_cast<double>(bytes) * iters / elapsed / 1e9;
}

// --both: each direction in its own thread at once, `iters` passes over `bytes`; prints each
// direction's rate over the time both ran.
void bothDirections(int gpu, size_t bytes, size_t piece, int iters) {
  double gbps[2] = {};
  auto one = [&](int dir) {
    CK(cudaSetDevice(gpu));
    char *dev = nullptr, *host = nullptr;
    CK(cudaMalloc(&dev, bytes));
    CK(cudaHostAlloc(reinterpret_cast<void**>(&host), bytes, cudaHostAllocPortable));
    CK(cudaMemset(dev, 1, bytes));
    std::memset(host, 2, bytes);
    std::vector<cudaStream_t> streams(4);
    for (auto& st : streams) CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    std::vector<cudaEvent_t> events(64);
    for (auto& e : events) CK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    char* dst = dir == 0 ? host : dev;
    const char* src = dir == 0 ? dev : host;
    piecewise(dst, src, bytes, piece, streams, events, 1);  // warm-up
    gbps[dir] = piecewise(dst, src, bytes, piece, streams, events, iters);
    for (auto& e : events) cudaEventDestroy(e);
    for (auto& st : streams) cudaStreamDestroy(st);
    cudaFreeHost(host);
    cudaFree(dev);
  };
  std::thread d2h(one, 0), h2d(one, 1);
  d2h.join();
  h2d.join();
  std::printf(
      "both at once, %zu-byte pieces, 4 streams each: D2H %.2f GB/s, H2D %.2f GB/s, "
      "sum %.2f GB/s\n",
      piece, gbps[0], gbps[1], gbps[0] + gbps[1]);
}

}  // namespace

int main(int argc, char** argv) {
  int gpu = 0, iters = 10;
  size_t bytes = 64 << 20, only_piece = 0;
  std::string only_dir;
  bool cpu_reader = false, cpu_writer = false, serial = false, kernel = false, flush = false,
       demote = false, dirty_first = false, both = false;
  size_t only_streams = 1;
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
    } else if (a == "--cpu-writer") {
      cpu_writer = true;
    } else if (a == "--serial") {
      serial = true;
    } else if (a == "--kernel") {
      kernel = true;
    } else if (a == "--flush") {
      flush = true;
    } else if (a == "--demote") {
      demote = true;
    } else if (a == "--both") {
      both = true;
    } else if (a == "--dirty-first") {
      dirty_first = true;
    } else if (a == "--streams" && i + 1 < argc) {
      only_streams = std::strtoull(argv[++i], nullptr, 0);
    } else if (a == "--piece" && i + 1 < argc) {
      only_piece = std::strtoull(argv[++i], nullptr, 0);
    } else {
      std::printf(
          "usage: staging_copy_bw [--gpu N] [--bytes B] [--iters N] [--dir d2h|h2d] "
          "[--piece B] [--cpu-reader] [--cpu-writer] [--serial] [--kernel] [--flush] "
          "[--demote] [--dirty-first] [--streams N] [--both]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  if (both) {
    bothDirections(gpu, bytes, only_piece ? only_piece : size_t{1} << 20, iters);
    return 0;
  }
  CK(cudaSetDevice(gpu));
  char *dev = nullptr, *host = nullptr;
  CK(cudaMalloc(&dev, bytes));
  CK(cudaHostAlloc(reinterpret_cast<void**>(&host), bytes,
                   cudaHostAllocPortable | cudaHostAllocMapped));
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
        if (only_piece) ns = std::clamp<size_t>(only_streams, 1, all.size());
        std::vector<cudaStream_t> streams(all.begin(), all.begin() + static_cast<long>(ns));
        piecewise(dst, src, bytes, piece, streams, events, 1);  // warm-up
        std::vector<char> sink(cpu_reader && dir == 0 ? piece : 0);
        PieceOptions o;
        o.cpu_sink = sink.empty() ? nullptr : sink.data();
        o.cpu_writer = cpu_writer && dir == 1;
        o.serial = serial;
        o.kernel = kernel && dir == 1;
        o.flush = flush;
        o.demote = demote;
        o.dirty_first = dirty_first && dir == 1;
        double flush_seconds = 0;
        o.flush_seconds = &flush_seconds;
        double gbps = piecewise(dst, src, bytes, piece, streams, events, iters, o);
        std::printf("%-6s %10zu %8zu %10.2f", name, piece, ns, gbps);
        if (flush_seconds > 0) {
          std::printf("  (%s %.2f GB/s)", flush ? "clflushopt" : "cldemote",
                      static_cast<double>(bytes) * iters / flush_seconds / 1e9);
        }
        std::printf("\n");
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
