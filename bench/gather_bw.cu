// Gather-kernel benchmark: the UNPACK receive path's copy from shuffled 4 KiB bounce pages into
// destination buffers, against a plain device-to-device cudaMemcpy of the same bytes, in the same
// run. Scatter lists look like TCPX's: 512 KiB requests of 4 KiB page fragments at shuffled page
// positions, many requests per launch. GB/s counts the bytes copied once (decimal).
//
//   gather_bw [--requests-per-launch 64] [--request-bytes 524288] [--iters 50] [--jitter]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cuda_check.h"

#include "datapath/gather_kernel.h"

using tcpxp::datapath::kUnpackMaxFragments;
using tcpxp::datapath::UnpackFragment;

namespace {

struct Options {
  int lists = 64;
  size_t request = 512 << 10;
  int iters = 50;
  bool jitter = false;
};

void usage() {
  std::printf(
      "gather_bw: UNPACK gather kernel vs device-to-device copy on one GPU\n"
      "  --requests-per-launch N  scatter lists per kernel launch (default 64)\n"
      "  --request-bytes N        bytes per request, < 4 MiB (default 524288)\n"
      "  --iters N                timed launches (default 50)\n"
      "  --jitter                 fragments of 2049..4096 bytes at varying alignment\n");
}

float timeIt(int iters, const std::function<void()>& fn) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  fn();  // warm-up
  CK(cudaEventRecord(a));
  for (int i = 0; i < iters; ++i) fn();
  CK(cudaEventRecord(b));
  CK(cudaEventSynchronize(b));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> long {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return std::strtol(argv[++i], nullptr, 0);
    };
    if (a == "--requests-per-launch")
      o.lists = static_cast<int>(next());
    else if (a == "--request-bytes")
      o.request = static_cast<size_t>(next());
    else if (a == "--iters")
      o.iters = static_cast<int>(next());
    else if (a == "--jitter")
      o.jitter = true;
    else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (o.lists < 1 || o.request == 0 || o.request >= (4u << 20) || o.iters < 1) {
    std::fprintf(stderr, "bad values: lists >= 1, 0 < request < 4 MiB, iters >= 1\n");
    return 2;
  }
  std::mt19937_64 rng(1234);
  // Plan every list: fragments of 4 KiB (or jittered) at shuffled pages of one bounce buffer.
  std::vector<UnpackFragment> frags(size_t(o.lists) * kUnpackMaxFragments);
  std::vector<uint64_t> counts(o.lists);
  std::vector<uint32_t> pages;
  size_t total_pages = 0;
  for (int l = 0; l < o.lists; ++l) {
    uint64_t dst = 0;
    uint64_t n = 0;
    while (dst < o.request) {
      uint32_t len = o.jitter ? static_cast<uint32_t>(2049 + rng() % 2048) : 4096;
      len = static_cast<uint32_t>(std::min<uint64_t>(len, o.request - dst));
      UnpackFragment& f = frags[size_t(l) * kUnpackMaxFragments + n];
      f.len = len;
      f.dst_off = dst;
      f.src_off = static_cast<uint32_t>(o.jitter && (rng() & 1) ? 4096 - len : 0);
      dst += len;
      ++n;
    }
    counts[l] = n;
    total_pages += n;
  }
  pages.resize(total_pages);
  for (size_t i = 0; i < total_pages; ++i) pages[i] = static_cast<uint32_t>(i);
  std::shuffle(pages.begin(), pages.end(), rng);
  size_t k = 0;
  for (int l = 0; l < o.lists; ++l) {
    for (uint64_t i = 0; i < counts[l]; ++i)
      frags[size_t(l) * kUnpackMaxFragments + i].src_off += pages[k++] * 4096;
  }

  char *bounce, *dst, *copy_src, *copy_dst;
  UnpackFragment* d_frags;
  uint64_t* d_counts;
  char** d_dsts;
  size_t bytes = size_t(o.lists) * o.request;
  CK(cudaMalloc(&bounce, total_pages * 4096));
  CK(cudaMalloc(&dst, bytes));
  CK(cudaMalloc(&copy_src, bytes));
  CK(cudaMalloc(&copy_dst, bytes));
  CK(cudaMalloc(&d_frags, frags.size() * sizeof(UnpackFragment)));
  CK(cudaMalloc(&d_counts, counts.size() * sizeof(uint64_t)));
  CK(cudaMalloc(&d_dsts, o.lists * sizeof(char*)));
  std::vector<char*> dsts(o.lists);
  for (int l = 0; l < o.lists; ++l) dsts[l] = dst + size_t(l) * o.request;
  CK(cudaMemcpy(d_frags, frags.data(), frags.size() * sizeof(UnpackFragment),
                cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d_counts, counts.data(), counts.size() * sizeof(uint64_t), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d_dsts, dsts.data(), dsts.size() * sizeof(char*), cudaMemcpyHostToDevice));

  // Correctness first: random bounce bytes, gather, compare with a host-side gather.
  std::vector<uint8_t> hb(total_pages * 4096);
  for (auto& b : hb) b = static_cast<uint8_t>(rng());
  CK(cudaMemcpy(bounce, hb.data(), hb.size(), cudaMemcpyHostToDevice));
  CK(cudaMemset(dst, 0, bytes));
  CK(static_cast<cudaError_t>(
      tcpxp::datapath::launchGatherBatch(d_frags, d_counts, bounce, d_dsts, o.lists, nullptr)));
  CK(cudaDeviceSynchronize());
  std::vector<uint8_t> got(bytes), want(bytes);
  CK(cudaMemcpy(got.data(), dst, bytes, cudaMemcpyDeviceToHost));
  for (int l = 0; l < o.lists; ++l) {
    for (uint64_t i = 0; i < counts[l]; ++i) {
      const UnpackFragment& f = frags[size_t(l) * kUnpackMaxFragments + i];
      std::memcpy(want.data() + size_t(l) * o.request + f.dst_off, hb.data() + f.src_off, f.len);
    }
  }
  if (got != want) {
    std::printf("gather_bw: MISMATCH: the gather kernel produced wrong bytes\n");
    return 1;
  }

  float gather_ms = timeIt(o.iters, [&] {
    tcpxp::datapath::launchGatherBatch(d_frags, d_counts, bounce, d_dsts, o.lists, nullptr);
  });
  CK(cudaGetLastError());
  // As the engine launches it: one gather per received request, one list each.
  float single_ms = timeIt(o.iters, [&] {
    for (int l = 0; l < o.lists; ++l) {
      tcpxp::datapath::launchGather(d_frags + size_t(l) * kUnpackMaxFragments, d_counts + l, bounce,
                                    dsts[l], nullptr);
    }
  });
  CK(cudaGetLastError());
  float copy_ms = timeIt(
      o.iters, [&] { cudaMemcpyAsync(copy_dst, copy_src, bytes, cudaMemcpyDeviceToDevice); });
  double gather_gbs = double(bytes) * o.iters / (gather_ms / 1e3) / 1e9;
  double single_gbs = double(bytes) * o.iters / (single_ms / 1e3) / 1e9;
  double copy_gbs = double(bytes) * o.iters / (copy_ms / 1e3) / 1e9;
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("gather_bw on %s: %d lists x %zu B per launch (%s fragments), %d iters, verified\n",
              prop.name, o.lists, o.request, o.jitter ? "jittered" : "4 KiB", o.iters);
  std::printf("| what | bytes per launch | GB/s |\n|---|---|---|\n");
  std::printf("| D2D cudaMemcpy | %zu | %.1f |\n", bytes, copy_gbs);
  std::printf("| gather kernel, %d lists per launch | %zu | %.1f |\n", o.lists, bytes, gather_gbs);
  std::printf("| gather kernel, one launch per list (as the engine) | %zu | %.1f |\n", bytes,
              single_gbs);
  std::printf("one launch per list: %.2f us per %zu-byte request\n",
              single_ms * 1e3 / (double(o.iters) * o.lists), o.request);
  std::printf("gather / D2D = %.1f%%\n", 100.0 * gather_gbs / copy_gbs);
  return 0;
}
