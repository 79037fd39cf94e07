// A hint to the CPU inside a spin-wait loop (lets the sibling hyper-thread run, saves power).
#pragma once

#include <sched.h>

#include <thread>

namespace tcpxp {

// Whether short spin-waits pay off: with few cores a spinning thread steals the CPU from the
// thread it waits for, so below 8 hardware threads waits sleep (or yield) right away.
inline bool spinningPays() {
  static const bool pays = std::thread::hardware_concurrency() >= 8;
  return pays;
}

// One round of a busy loop that must keep polling (TCPX progresses only inside test()):
// a pause where cores are plenty, a yield of the CPU where they are few.
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
