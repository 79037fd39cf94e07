// Unpredictable bytes from the kernel (getrandom(2)), for tokens and nonces a peer must not be
// able to guess. Never a seeded PRNG: 312 outputs of mt19937_64 give away all the next ones.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tcpxp {

// Fills [out, out + n). Aborts the process if the kernel cannot provide randomness (no getrandom
// and no /dev/urandom): handing out a guessable capability would be worse.
void secureRandomBytes(void* out, size_t n);
// A random 64-bit value, never 0 (0 means "no token" in several places).
uint64_t secureRandomNonZero64();

}  // namespace tcpxp
