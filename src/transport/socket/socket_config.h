// Knobs of the built-in socket transport: one table (name, default, doc, syntax), read once at
// init.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/knob.h"

namespace tcpxp::transport::socket {

struct SocketConfig {
  // Interfaces to use, NCCL_SOCKET_IFNAME syntax: "eth,ens" prefixes, "^docker" excludes,
  // "=eth1" exact names. Empty = every up interface but loopback (loopback if none).
  std::string ifname;
  int nsocks = 4;  // data sockets per comm (1..8), plus one control socket
  // How a request is split over the sockets while its comm is busy: into pieces of at most
  // max_chunk bytes, and into at least two where both reach min_chunk (helper threads only:
  // with caller I/O one thread moves every piece). Two pieces let two receive helpers work on
  // the oldest request at once, which the receiver's 16-request window waits on: TCPX's 512 KiB
  // requests over 8 sockets went from 81-87% to 95-96% of raw TCP (runs 88-89). Pieces under
  // 256 KiB, or 256 KiB ones for 1 MiB requests, cost more per-piece work than they save (runs
  // 86-87); 2 MiB requests move faster as four pieces than two (runs 88-89).
  int64_t min_chunk = 256 << 10;
  int64_t max_chunk = 512 << 10;
  bool unpack = false;  // emulate the TCPX GPU receive path (netDeviceType UNPACK)
  // Move GPU memory in the helpers (ptrSupport HOST|CUDA without UNPACK): each piece is copied
  // between the GPU buffer and the helper's pinned buffer right beside its socket I/O, so the
  // engine does not stage GPU transfers (a driver turn per copy) and the copies of a request's
  // pieces run on its sockets' helpers at once.
  bool gpu_direct = false;
  // GPU direct: the largest GPU transfer the engine hands over as such (0: no limit); larger
  // ones it stages itself, whose pipeline of copies moved 64-256 MiB with 8 in flight faster
  // (BENCHMARKS.md 31).
  int64_t gpu_direct_max_bytes = 0;
  int unpack_pool_pages = 8192;       // 4 KiB bounce pages per recv comm (>= 2048)
  bool unpack_jitter = true;          // fragment lengths vary in (2048, 4096], ends misaligned
  bool unpack_gpu = true;             // bounce buffer in GPU memory when a GPU is usable
  uint64_t unpack_seed = 0x7c9e3a1d;  // page shuffling and fragment lengths
  int sock_buf_bytes = 0;             // SO_SNDBUF/SO_RCVBUF; 0 = kernel autotuning
  // How long an idle helper thread polls for its next piece before it sleeps (a futex or socket
  // wakeup costs tens of microseconds; polling costs a core while it lasts). Only on machines
  // with 8+ hardware threads (spinningPays()).
  int spin_us = 50;
  // Helper threads per data socket (1), or socket I/O in the thread that calls isend/test,
  // without blocking (0). -1 = auto: helpers from 8 hardware threads up; below, helpers and the
  // polling driver fight for the cores and every hand-off is a futex wakeup. UNPACK emulation
  // always uses helpers.
  int helper_threads = -1;
  // Offer vectored requests (abi/net_vectored.h): a vector's host pieces go to the sockets with
  // sendmsg/readv straight over them. Off: the engine gathers them into staging slots and
  // scatters them out, two more copies of every byte on the driver thread (BENCHMARKS.md 20).
  bool iov = true;

  // Whether comms do their socket I/O in the caller's thread (helper_threads resolved).
  bool callerIo() const;
  // Whether CUDA registrations are accepted (UNPACK emulation or GPU direct).
  bool movesGpuMemory() const { return unpack || gpu_direct; }
  static SocketConfig fromEnv();
};

using tcpxp::KnobDoc;
// Every environment variable the socket transport reads, for --help and the README.
const std::vector<KnobDoc>& socketKnobs();

}  // namespace tcpxp::transport::socket
