// The capability a passive side hands out with advertise() and checks on every write/read that
// presents it: 128 bits from the OS's random source (common/secure_random.h), so that neither
// guessing nor watching earlier tokens gives another one away.
#pragma once

#include <cstdint>

namespace tcpxp::control {

struct AccessToken {
  uint64_t lo = 0;  // FifoItem idx (UCCL's field)
  uint64_t hi = 0;  // FifoItem bytes 40..47 (UCCL's padding)
  bool operator==(const AccessToken&) const = default;
};

}  // namespace tcpxp::control
