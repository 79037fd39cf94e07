#include "transport/socket/socket_config.h"

#include <cstdlib>

#include "common/cpu_relax.h"
#include "common/env.h"
#include "common/log.h"

namespace tcpxp::transport::socket {

const std::vector<KnobDoc>& socketKnobs() {
  static const std::vector<KnobDoc> knobs = {
      {"UCCL_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME, else all up non-loopback",
       "interfaces the socket transport offers as devices (NCCL_SOCKET_IFNAME syntax)"},
      {"UCCL_SOCKET_NSOCKS", "4", "data sockets per comm, 1..8 (plus one control socket)"},
      {"UCCL_SOCKET_MIN_CHUNK", "256K",
       "while the comm is busy, a request that can be halved into pieces of at least this size "
       "goes out in two or more pieces"},
      {"UCCL_SOCKET_MAX_CHUNK", "512K",
       "largest piece a request is split into across sockets while the comm is busy (as long "
       "as there are sockets)"},
      {"UCCL_SOCKET_UNPACK", "0",
       "1 = emulate the TCPX GPU receive path (bounce pages + loadMeta)"},
      {"UCCL_SOCKET_UNPACK_POOL_PAGES", "8192", "4 KiB bounce pages per recv comm in UNPACK mode"},
      {"UCCL_SOCKET_UNPACK_JITTER", "1", "UNPACK fragments of varying length and alignment"},
      {"UCCL_SOCKET_UNPACK_GPU", "1", "UNPACK bounce buffer in GPU memory when a GPU is usable"},
      {"UCCL_SOCKET_UNPACK_SEED", "0x7c9e3a1d", "seed of page shuffling and fragment lengths"},
      {"UCCL_SOCKET_BUF_BYTES", "0", "SO_SNDBUF/SO_RCVBUF of data sockets; 0 = autotuning"},
      {"UCCL_SOCKET_SPIN_US", "50",
       "microseconds an idle helper thread polls for its next piece before sleeping, 0..1000"},
      {"UCCL_SOCKET_HELPERS", "auto",
       "1 = a helper thread per data socket does the I/O; 0 = isend/test do it in the caller's "
       "thread without blocking; auto = 1 from 8 hardware threads up (UNPACK: always 1)"},
  };
  return knobs;
}

SocketConfig SocketConfig::fromEnv() {
  SocketConfig c;
  c.ifname = envString("UCCL_SOCKET_IFNAME", envString("NCCL_SOCKET_IFNAME", ""));
  c.nsocks = static_cast<int>(envInt("UCCL_SOCKET_NSOCKS", c.nsocks, 1, 8));
  c.min_chunk = envInt("UCCL_SOCKET_MIN_CHUNK", c.min_chunk, 4096, 4 << 20);
  c.max_chunk = envInt("UCCL_SOCKET_MAX_CHUNK", c.max_chunk, 4096, 4 << 20);
  if (c.max_chunk < c.min_chunk) {
    // A larger minimum alone (UCCL_SOCKET_MIN_CHUNK=1M: whole requests up to 1 MiB) raises the
    // maximum with it; an explicit maximum below the minimum is a mistake worth a warning.
    if (std::getenv("UCCL_SOCKET_MAX_CHUNK") != nullptr) {
      LOG_WARN("UCCL_SOCKET_MAX_CHUNK (%lld) is below UCCL_SOCKET_MIN_CHUNK (%lld); using %lld",
               static_cast<long long>(c.max_chunk), static_cast<long long>(c.min_chunk),
               static_cast<long long>(c.min_chunk));
    }
    c.max_chunk = c.min_chunk;
  }
  c.unpack = envBool("UCCL_SOCKET_UNPACK", c.unpack);
  c.unpack_pool_pages =
      static_cast<int>(envInt("UCCL_SOCKET_UNPACK_POOL_PAGES", c.unpack_pool_pages, 2048, 1 << 20));
  c.unpack_jitter = envBool("UCCL_SOCKET_UNPACK_JITTER", c.unpack_jitter);
  c.unpack_gpu = envBool("UCCL_SOCKET_UNPACK_GPU", c.unpack_gpu);
  c.unpack_seed = static_cast<uint64_t>(
      envInt("UCCL_SOCKET_UNPACK_SEED", static_cast<int64_t>(c.unpack_seed), 0, INT64_MAX));
  c.sock_buf_bytes = static_cast<int>(envInt("UCCL_SOCKET_BUF_BYTES", 0, 0, 1 << 30));
  c.spin_us = static_cast<int>(envInt("UCCL_SOCKET_SPIN_US", c.spin_us, 0, 1000));
  std::string helpers = envString("UCCL_SOCKET_HELPERS", "auto");
  if (helpers == "0" || helpers == "1") {
    c.helper_threads = helpers == "1" ? 1 : 0;
  } else if (helpers != "auto") {
    LOG_WARN("UCCL_SOCKET_HELPERS='%s' is not auto, 0 or 1; using auto", helpers.c_str());
  }
  if (c.unpack && c.helper_threads == 0) {
    LOG_WARN(
        "UCCL_SOCKET_HELPERS=0 is ignored with UCCL_SOCKET_UNPACK=1: the emulated GPU "
        "receive path runs on helper threads");
  }
  return c;
}

bool SocketConfig::callerIo() const {
  if (unpack) return false;
  return helper_threads == 0 || (helper_threads == -1 && !spinningPays());
}

}  // namespace tcpxp::transport::socket
