#include "common/secure_random.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace tcpxp {
namespace {

bool fromUrandom(uint8_t* p, size_t n) {
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  while (n > 0) {
    ssize_t got = ::read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    p += got;
    n -= static_cast<size_t>(got);
  }
  ::close(fd);
  return n == 0;
}

}  // namespace

void secureRandomBytes(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  while (n > 0) {
    ssize_t got = ::getrandom(p, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      if (fromUrandom(p, n)) return;
      std::fprintf(stderr, "tcpx-p2p: no source of randomness (getrandom: errno %d)\n", errno);
      std::abort();
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

uint64_t secureRandomNonZero64() {
  uint64_t v = 0;
  while (v == 0) secureRandomBytes(&v, sizeof v);
  return v;
}

}  // namespace tcpxp
