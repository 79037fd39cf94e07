// A hint to the CPU inside a spin-wait loop (lets the sibling hyper-thread run, saves power).
#pragma once

#include <sched.h>

#include <thread>

namespace tcpxp {

// Whether the transport's helper threads may spin (cpuRelax) before they sleep: with few cores
// a spinning thread steals the CPU from the thread it waits for. The engine's own short polls
// (busyPollPause) run everywhere: sleeping right away cost more, as on the 2-core machine each
// futex or epoll wakeup crossed cores and serialized 4 KiB writes took 73-178 us instead of
// 15-18 (BENCHMARKS.md section 23).
inline bool spinningPays() {
  static const bool pays = std::thread::hardware_concurrency() >= 8;
  return pays;
}

// One round of a busy loop that must keep polling (TCPX progresses only inside test()) or of
// a short poll before sleeping: sched_yield, which hands the core at once to any runnable
// thread. A pause instruction keeps it: on the 16-core machines, where two endpoints' helper
// threads outnumber the cores, up to 8 of 20 rounds of small-piece vectors took 2-7 ms
// against medians of 0.4-1.0 ms (a woken thread waiting a scheduler slice behind the polling
// drivers and waits, most likely); with the yield none did, at the same GB/s and 8-byte
// latency (BENCHMARKS.md section 30). On few cores it spares the thread being waited for.
inline void busyPollPause() { sched_yield(); }

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace tcpxp
