// The floor under an 8-byte GPU write's round trip (BENCHMARKS.md section 11): an 8-byte TCP
// ping-pong over loopback between two processes (blocking and busy-polling recv), and an 8-byte
// copy between GPU memory and pinned host memory waited for three ways (stream sync, event
// polling, a one-thread kernel that raises a flag in mapped host memory). Medians and p99 of
// --iters repetitions after 100 untimed ones.
//
//   latency_floor [--iters 20000] [--gpu 0]
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

#include "cuda_check.h"
#include "loopback.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWarmup = 100;

void report(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  std::printf("%-52s median %7.2f us   p99 %7.2f us\n", what, us[us.size() / 2],
              us[us.size() * 99 / 100]);
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

// 8-byte round trips over loopback TCP (TCP_NODELAY) with a forked echo process.
int tcpPingPong(int iters, bool busy) {
  sockaddr_in addr{};
  int lfd = listenLoopback(&addr);
  if (lfd < 0) {
    std::fprintf(stderr, "latency_floor: loopback listen failed: %s\n", std::strerror(errno));
    return 1;
  }
  const int one = 1;
  char msg[8] = {};
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(1);
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    while (readExactly(fd, msg, sizeof(msg), busy)) {
      if (::send(fd, msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg)) break;
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
    if (::send(fd, msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg) ||
        !readExactly(fd, msg, sizeof(msg), busy)) {
      std::fprintf(stderr, "latency_floor: the echo process went away\n");
      return 1;
    }
    if (i >= kWarmup)
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(fd);
  ::waitpid(pid, nullptr, 0);
  report(busy ? "TCP 8 B ping-pong, busy-polling recv" : "TCP 8 B ping-pong, blocking recv", us);
  return 0;
}

__global__ void copyAndFlag(const unsigned long long* src, unsigned long long* dst,
                            volatile unsigned* flag, unsigned seq) {
  *dst = *src;
  __threadfence_system();
  *flag = seq;
}

enum class Wait { kStreamSync, kEventPoll, kKernelFlag };

int copyLatency(int gpu, int iters) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= gpu) {
    std::printf("no GPU %d: copy latencies skipped\n", gpu);
    return 0;
  }
  CK(cudaSetDevice(gpu));
  unsigned long long* dev = nullptr;
  void* host = nullptr;
  void* host_dev = nullptr;
  CK(cudaMalloc(&dev, 4096));
  CK(cudaHostAlloc(&host, 4096, cudaHostAllocMapped | cudaHostAllocPortable));
  CK(cudaHostGetDevicePointer(&host_dev, host, 0));
  cudaStream_t stream;
  cudaEvent_t event;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  auto* host_word = static_cast<unsigned long long*>(host);
  auto* host_word_dev = static_cast<unsigned long long*>(host_dev);
  volatile unsigned* flag = reinterpret_cast<volatile unsigned*>(static_cast<char*>(host) + 64);
  auto* flag_dev = reinterpret_cast<unsigned*>(static_cast<char*>(host_dev) + 64);
  *flag = 0;
  unsigned seq = 0;
  for (bool d2h : {true, false}) {
    for (Wait wait : {Wait::kStreamSync, Wait::kEventPoll, Wait::kKernelFlag}) {
      std::vector<double> us;
      for (int i = 0; i < kWarmup + iters; ++i) {
        auto t0 = Clock::now();
        if (wait == Wait::kKernelFlag) {
          ++seq;
          copyAndFlag<<<1, 1, 0, stream>>>(d2h ? dev : host_word_dev, d2h ? host_word_dev : dev,
                                           flag_dev, seq);
          while (*flag != seq) {
          }
        } else {
          CK(cudaMemcpyAsync(d2h ? static_cast<void*>(host_word) : dev,
                             d2h ? static_cast<void*>(dev) : host_word, 8,
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
      std::string what = std::string(d2h ? "GPU -> pinned host" : "pinned host -> GPU") +
                         ", 8 B, " +
                         (wait == Wait::kStreamSync  ? "memcpy + stream sync"
                          : wait == Wait::kEventPoll ? "memcpy + event polling"
                                                     : "kernel + host flag");
      report(what.c_str(), us);
    }
  }
  CK(cudaEventDestroy(event));
  CK(cudaStreamDestroy(stream));
  CK(cudaFreeHost(host));
  CK(cudaFree(dev));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 20000, gpu = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iters" && i + 1 < argc) {
      iters = std::atoi(argv[++i]);
    } else if (a == "--gpu" && i + 1 < argc) {
      gpu = std::atoi(argv[++i]);
    } else {
      std::printf(
          "usage: latency_floor [--iters N] [--gpu G]\n\n"
          "The floor under an 8-byte GPU write's round trip: 8-byte TCP ping-pong over loopback\n"
          "(blocking and busy-polling recv), and 8-byte GPU <-> pinned-host copies waited for by\n"
          "stream sync, event polling, or a kernel raising a flag in mapped host memory.\n"
          "Median and p99 of N repetitions (default 20000) after 100 untimed ones.\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (iters < 1) {
    std::fprintf(stderr, "latency_floor: --iters must be at least 1\n");
    return 2;
  }
  if (tcpPingPong(iters, false) != 0 || tcpPingPong(iters, true) != 0) return 1;
  return copyLatency(gpu, iters);
}
