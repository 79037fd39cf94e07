// The floor under a serialized GPU write (BENCHMARKS.md sections 11 and 31): for each size N of
// --bytes, N bytes over loopback TCP answered by 8 bytes from a second process (blocking and
// busy-polling recv), and N bytes copied between GPU memory and pinned host memory, waited for by
// stream sync or event polling (at 8 bytes also by a one-thread kernel that raises a flag in
// mapped host memory). Medians and p99 of --iters repetitions after 100 untimed ones. For N over
// 8 bytes it adds the parts of a staged write over the built-in transport, one after the other
// (an 8-byte round trip for Write/Cts, the device -> host copy, N bytes + the 8-byte Done, the
// host -> device copy): what the engine's serialized write of N bytes costs without pipelining.
//
//   latency_floor [--iters 20000] [--gpu 0] [--bytes 8,256K,1M]
#include <arpa/inet.h>
#include <cuda_runtime.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/net_util.h"
#include "common/quantity.h"
#include "cuda_check.h"
#include "loopback.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWarmup = 100;

// Prints the median and p99 of `us`; returns the median.
double report(const std::string& what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  std::printf("%-60s median %8.2f us   p99 %8.2f us\n", what.c_str(), us[us.size() / 2],
              us[us.size() * 99 / 100]);
  return us[us.size() / 2];
}

// "8 B", "256 KiB", "1 MiB" for the labels.
std::string sizeLabel(size_t bytes) {
  std::string s = tcpxp::formatSize(static_cast<int64_t>(bytes));
  if (s.back() == 'K' || s.back() == 'M' || s.back() == 'G') {
    char unit = s.back();
    s.pop_back();
    return s + " " + unit + "iB";
  }
  return s + " B";
}

bool readExactly(int fd, char* buf, size_t n, bool busy) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, buf + got, n - got, busy ? MSG_DONTWAIT : 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return false;
    }
  }
  return true;
}

// `bytes` over loopback TCP (TCP_NODELAY) answered by 8 bytes from a forked process, `iters`
// times; the median in *median_us.
int tcpPingPong(int iters, bool busy, size_t bytes, double* median_us) {
  sockaddr_in addr{};
  int lfd = listenLoopback(&addr);
  if (lfd < 0) {
    std::fprintf(stderr, "latency_floor: loopback listen failed: %s\n", std::strerror(errno));
    return 1;
  }
  const int one = 1;
  char reply[8] = {};
  std::vector<char> msg(bytes);
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(1);
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    while (readExactly(fd, msg.data(), msg.size(), busy)) {
      if (::send(fd, reply, sizeof(reply), MSG_NOSIGNAL) != sizeof(reply)) break;
    }
    _exit(0);
  }
  int fd = ::accept(lfd, nullptr, nullptr);
  ::close(lfd);
  if (fd < 0) {
    std::fprintf(stderr, "latency_floor: accept failed: %s\n", std::strerror(errno));
    return 1;
  }
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::vector<double> us;
  for (int i = 0; i < kWarmup + iters; ++i) {
    auto t0 = Clock::now();
    if (!tcpxp::sendAll(fd, msg.data(), msg.size()).isOk() ||
        !readExactly(fd, reply, sizeof(reply), busy)) {
      std::fprintf(stderr, "latency_floor: the echo process went away\n");
      return 1;
    }
    if (i >= kWarmup)
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(fd);
  ::waitpid(pid, nullptr, 0);
  *median_us = report(
      "TCP " + sizeLabel(bytes) + " + 8 B reply, " + (busy ? "busy-polling recv" : "blocking recv"),
      us);
  return 0;
}

__global__ void copyAndFlag(const unsigned long long* src, unsigned long long* dst,
                            volatile unsigned* flag, unsigned seq) {
  *dst = *src;
  __threadfence_system();
  *flag = seq;
}

enum class Wait { kStreamSync, kEventPoll, kKernelFlag };

// Medians of one size's copies (us), for the sum of a staged write's parts.
struct CopyMedians {
  double d2h = 0, h2d = 0;  // waited for by event polling, as the engine's driver does
};

// `bytes` copied between GPU memory and pinned host memory, `iters` times each way and wait.
int copyLatency(int gpu, int iters, size_t bytes, CopyMedians* medians) {
  CK(cudaSetDevice(gpu));
  // The host buffer holds the data, then the kernel's flag on its own 64-byte line.
  const size_t flag_at = (bytes + 63) / 64 * 64;
  char* dev = nullptr;
  void* host = nullptr;
  void* host_dev = nullptr;
  CK(cudaMalloc(&dev, bytes));
  CK(cudaHostAlloc(&host, flag_at + 64, cudaHostAllocMapped | cudaHostAllocPortable));
  CK(cudaHostGetDevicePointer(&host_dev, host, 0));
  cudaStream_t stream;
  cudaEvent_t event;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  volatile unsigned* flag =
      reinterpret_cast<volatile unsigned*>(static_cast<char*>(host) + flag_at);
  auto* flag_dev = reinterpret_cast<unsigned*>(static_cast<char*>(host_dev) + flag_at);
  *flag = 0;
  unsigned seq = 0;
  for (bool d2h : {true, false}) {
    for (Wait wait : {Wait::kStreamSync, Wait::kEventPoll, Wait::kKernelFlag}) {
      if (wait == Wait::kKernelFlag && bytes != 8) continue;  // a one-thread copy of one word
      std::vector<double> us;
      for (int i = 0; i < kWarmup + iters; ++i) {
        auto t0 = Clock::now();
        if (wait == Wait::kKernelFlag) {
          ++seq;
          auto* word_dev = reinterpret_cast<unsigned long long*>(dev);
          auto* word_host = static_cast<unsigned long long*>(host_dev);
          copyAndFlag<<<1, 1, 0, stream>>>(d2h ? word_dev : word_host, d2h ? word_host : word_dev,
                                           flag_dev, seq);
          while (*flag != seq) {
          }
        } else {
          CK(cudaMemcpyAsync(d2h ? host : static_cast<void*>(dev),
                             d2h ? static_cast<void*>(dev) : host, bytes,
                             d2h ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, stream));
          if (wait == Wait::kStreamSync) {
            CK(cudaStreamSynchronize(stream));
          } else {
            CK(cudaEventRecord(event, stream));
            cudaError_t rc;
            while ((rc = cudaEventQuery(event)) == cudaErrorNotReady) {
            }
            CK(rc);
          }
        }
        if (i >= kWarmup) {
          us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
      }
      CK(cudaStreamSynchronize(stream));
      std::string what = std::string(d2h ? "GPU -> pinned host" : "pinned host -> GPU") + ", " +
                         sizeLabel(bytes) + ", " +
                         (wait == Wait::kStreamSync  ? "memcpy + stream sync"
                          : wait == Wait::kEventPoll ? "memcpy + event polling"
                                                     : "kernel + host flag");
      double median = report(what, us);
      if (wait == Wait::kEventPoll) (d2h ? medians->d2h : medians->h2d) = median;
    }
  }
  CK(cudaEventDestroy(event));
  CK(cudaStreamDestroy(stream));
  CK(cudaFreeHost(host));
  CK(cudaFree(dev));
  return 0;
}

void usage() {
  std::printf(
      "usage: latency_floor [--iters N] [--gpu G] [--bytes LIST]\n\n"
      "The floor under a serialized GPU write, for each size in --bytes (default 8; e.g.\n"
      "8,256K,1M,4M): that many bytes over loopback TCP answered by 8 bytes (blocking and\n"
      "busy-polling recv), and copied GPU <-> pinned host memory, waited for by stream sync or\n"
      "event polling (at 8 bytes also by a kernel raising a flag in mapped host memory). Over 8\n"
      "bytes, the sum of a staged write's parts one after the other (8-byte round trip, device ->\n"
      "host copy, the bytes and an 8-byte reply, host -> device copy; busy-polling and event\n"
      "medians). Median and p99 of N repetitions (default 20000) after 100 untimed ones.\n");
}

}  // namespace

int main(int argc, char** argv) {
  int64_t iters = 20000, gpu = 0;
  std::vector<size_t> sizes;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    }
    if ((a != "--iters" && a != "--gpu" && a != "--bytes") || i + 1 >= argc) {
      std::fprintf(stderr, "latency_floor: unknown flag or missing value: %s\n", argv[i]);
      usage();
      return 2;
    }
    std::string_view v = argv[++i];
    // Each comma-separated item of --bytes, or the one value of --iters / --gpu.
    for (size_t at = 0; at <= v.size();) {
      size_t comma = a == "--bytes" ? std::min(v.find(',', at), v.size()) : v.size();
      std::string_view item = v.substr(at, comma - at);
      tcpxp::Parsed r = a == "--bytes"
                            ? tcpxp::parseNumber(item, 8, int64_t{1} << 30, tcpxp::Units::kBytes)
                        : a == "--iters" ? tcpxp::parseNumber(item, 1, 10000000)
                                         : tcpxp::parseNumber(item, 0, 1023);
      if (!r.ok()) {
        std::fprintf(stderr, "latency_floor: %s %.*s: %s\n", argv[i - 1],
                     static_cast<int>(item.size()), item.data(), r.message.c_str());
        return 2;
      }
      if (a == "--bytes") {
        sizes.push_back(static_cast<size_t>(r.value));
      } else {
        (a == "--iters" ? iters : gpu) = r.value;
      }
      at = comma + 1;
    }
  }
  if (sizes.empty()) sizes.push_back(8);
  int count = 0;
  const bool have_gpu = cudaGetDeviceCount(&count) == cudaSuccess && count > gpu;
  if (!have_gpu) std::printf("no GPU %lld: copy latencies skipped\n", static_cast<long long>(gpu));
  double round_trip = 0;  // 8 bytes each way, busy-polling: what Write/Cts cost at the least
  if (tcpPingPong(static_cast<int>(iters), true, 8, &round_trip) != 0) return 1;
  for (size_t bytes : sizes) {
    double blocking = 0, busy = 0;
    if (tcpPingPong(static_cast<int>(iters), false, bytes, &blocking) != 0 ||
        (bytes != 8 && tcpPingPong(static_cast<int>(iters), true, bytes, &busy) != 0)) {
      return 1;
    }
    if (bytes == 8) busy = round_trip;
    if (!have_gpu) continue;
    CopyMedians copies;
    if (copyLatency(static_cast<int>(gpu), static_cast<int>(iters), bytes, &copies) != 0) return 1;
    if (bytes == 8) continue;
    const double sum = round_trip + copies.d2h + busy + copies.h2d;
    std::printf("%-60s %8.2f us = %.2f GB/s\n",
                ("staged GPU write of " + sizeLabel(bytes) + ", parts in series").c_str(), sum,
                static_cast<double>(bytes) / sum / 1e3);
  }
  return 0;
}
