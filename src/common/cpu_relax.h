// A hint to the CPU inside a spin-wait loop (lets the sibling hyper-thread run, saves power).
#pragma once

namespace tcpxp {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace tcpxp
