#include "transport/socket/socket_config.h"

#include <cstdlib>

#include "common/cpu_relax.h"
#include "common/env.h"
#include "common/log.h"

namespace tcpxp::transport::socket {

namespace {

constexpr KnobDoc kIfname{"UCCL_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME, else all up non-loopback",
                          "interfaces the socket transport offers as devices (NCCL_SOCKET_IFNAME "
                          "syntax)"};
constexpr KnobDoc kNsocks{"UCCL_SOCKET_NSOCKS", "4",
                          "data sockets per comm, 1..8 (plus one control socket)",
                          integerKnob(1, 8)};
constexpr KnobDoc kMinChunk{"UCCL_SOCKET_MIN_CHUNK", "256K",
                            "while the comm is busy, a request that can be halved into pieces of "
                            "at least this size goes out in two or more pieces",
                            bytesKnob(4096, 4 << 20)};
constexpr KnobDoc kMaxChunk{"UCCL_SOCKET_MAX_CHUNK", "512K",
                            "largest piece a request is split into across sockets while the comm "
                            "is busy (as long as there are sockets)",
                            bytesKnob(4096, 4 << 20)};
constexpr KnobDoc kUnpack{"UCCL_SOCKET_UNPACK", "0",
                          "1 = emulate the TCPX GPU receive path (bounce pages + loadMeta)",
                          boolKnob()};
constexpr KnobDoc kGpuDirect{
    "UCCL_SOCKET_GPU_DIRECT", "0",
    "1 = the transport takes GPU memory itself: each helper thread copies its piece between the "
    "GPU buffer and its own pinned buffer just before writing it or after reading it (no staging "
    "by the engine; always helper threads; a pinned buffer of its largest piece, up to 4 MiB, "
    "per helper that moves GPU bytes)",
    boolKnob()};
constexpr KnobDoc kGpuDirectMax{
    "UCCL_SOCKET_GPU_DIRECT_MAX", "0 (no limit)",
    "with UCCL_SOCKET_GPU_DIRECT=1: GPU transfers up to this size go to the transport as GPU "
    "memory; larger ones through the engine's staging (e.g. 16M: faster for large transfers in "
    "flight)",
    bytesKnob(0, int64_t{1} << 40)};
constexpr KnobDoc kUnpackPoolPages{"UCCL_SOCKET_UNPACK_POOL_PAGES", "8192",
                                   "4 KiB bounce pages per recv comm in UNPACK mode",
                                   integerKnob(2048, 1 << 20)};
constexpr KnobDoc kUnpackJitter{"UCCL_SOCKET_UNPACK_JITTER", "1",
                                "UNPACK fragments of varying length and alignment", boolKnob()};
constexpr KnobDoc kUnpackGpu{
    "UCCL_SOCKET_UNPACK_GPU", "1",
    "UNPACK bounce buffer in GPU memory when a GPU is usable (0: pinned host memory the "
    "GPU gathers from, no CUDA call per received piece)",
    boolKnob()};
constexpr KnobDoc kUnpackSeed{"UCCL_SOCKET_UNPACK_SEED", "0x7c9e3a1d",
                              "seed of page shuffling and fragment lengths",
                              integerKnob(0, INT64_MAX)};
constexpr KnobDoc kBufBytes{"UCCL_SOCKET_BUF_BYTES", "0",
                            "SO_SNDBUF/SO_RCVBUF of data sockets; 0 = autotuning",
                            bytesKnob(0, 1 << 30)};
constexpr KnobDoc kSpinUs{
    "UCCL_SOCKET_SPIN_US", "50",
    "microseconds an idle helper thread polls for its next piece before sleeping, 0..1000",
    integerKnob(0, 1000)};
constexpr KnobDoc kHelpers{
    "UCCL_SOCKET_HELPERS", "auto",
    "1 = a helper thread per data socket does the I/O; 0 = isend/test do it in the caller's "
    "thread without blocking; auto = 1 from 8 hardware threads up (UNPACK, GPU direct: always "
    "1)",
    autoBoolKnob()};
constexpr KnobDoc kIov{"UCCL_SOCKET_IOV", "1",
                       "1 = vectored requests: the host-memory pieces of a vector are written "
                       "and read straight from and into the user's buffers (sendmsg/readv); 0 = "
                       "the engine copies them through staging slots",
                       boolKnob()};

}  // namespace

const std::vector<KnobDoc>& socketKnobs() {
  static const std::vector<KnobDoc> knobs = {
      kIfname,     kNsocks,       kMinChunk,        kMaxChunk,     kUnpack,
      kGpuDirect,  kGpuDirectMax, kUnpackPoolPages, kUnpackJitter, kUnpackGpu,
      kUnpackSeed, kBufBytes,     kSpinUs,          kHelpers,      kIov,
  };
  return knobs;
}

SocketConfig SocketConfig::fromEnv() {
  SocketConfig c;
  c.ifname = envString(kIfname.name, envString("NCCL_SOCKET_IFNAME", ""));
  c.nsocks = static_cast<int>(envInt(kNsocks, c.nsocks));
  c.min_chunk = envInt(kMinChunk, c.min_chunk);
  c.max_chunk = envInt(kMaxChunk, c.max_chunk);
  if (c.max_chunk < c.min_chunk) {
    // A larger minimum alone (UCCL_SOCKET_MIN_CHUNK=1M: whole requests up to 1 MiB) raises the
    // maximum with it; an explicit maximum below the minimum is a mistake worth a warning.
    if (std::getenv(kMaxChunk.name) != nullptr) {
      warnOnce(std::string(kMaxChunk.name) + " (" + std::to_string(c.max_chunk) + ") is below " +
               kMinChunk.name + " (" + std::to_string(c.min_chunk) + "); using " +
               std::to_string(c.min_chunk));
    }
    c.max_chunk = c.min_chunk;
  }
  c.unpack = envBool(kUnpack, c.unpack);
  c.gpu_direct = envBool(kGpuDirect, c.gpu_direct);
  c.gpu_direct_max_bytes = envInt(kGpuDirectMax, c.gpu_direct_max_bytes);
  c.unpack_pool_pages = static_cast<int>(envInt(kUnpackPoolPages, c.unpack_pool_pages));
  c.unpack_jitter = envBool(kUnpackJitter, c.unpack_jitter);
  c.unpack_gpu = envBool(kUnpackGpu, c.unpack_gpu);
  c.unpack_seed = static_cast<uint64_t>(envInt(kUnpackSeed, static_cast<int64_t>(c.unpack_seed)));
  c.sock_buf_bytes = static_cast<int>(envInt(kBufBytes, 0));
  c.spin_us = static_cast<int>(envInt(kSpinUs, c.spin_us));
  c.helper_threads = envAutoBool(kHelpers);
  c.iov = envBool(kIov, c.iov);
  if (c.movesGpuMemory() && c.helper_threads == 0) {
    warnOnce(std::string("UCCL_SOCKET_HELPERS=0 is ignored with ") +
             (c.unpack ? "UCCL_SOCKET_UNPACK=1: the emulated GPU receive path"
                       : "UCCL_SOCKET_GPU_DIRECT=1: the GPU copies") +
             " run on helper threads");
  }
  return c;
}

bool SocketConfig::callerIo() const {
  if (movesGpuMemory()) return false;
  return helper_threads == 0 || (helper_threads == -1 && !spinningPays());
}

}  // namespace tcpxp::transport::socket
