// A hint to the CPU inside a spin-wait loop (lets the sibling hyper-thread run, saves power).
#pragma once

#include <sched.h>

#include <thread>

namespace tcpxp {

// Whether pure spin-waits pay off: with few cores a spinning thread steals the CPU from the
// thread it waits for, so below 8 hardware threads short waits poll with sched_yield instead
// (busyPollPause), which hands the core to any runnable thread at once. Sleeping right away
// cost more: on the 2-core machine each futex or epoll wakeup crossed cores, and serialized
// 4 KiB writes took 73-178 us instead of 15-18 (BENCHMARKS.md section 23).
inline bool spinningPays() {
  static const bool pays = std::thread::hardware_concurrency() >= 8;
  return pays;
}

// One round of a busy loop that must keep polling (TCPX progresses only inside test()) or of
// a short poll before sleeping: a pause where cores are plenty, a yield where they are few.
inline void busyPollPause() {
  if (spinningPays()) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    sched_yield();
  }
}

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace tcpxp
