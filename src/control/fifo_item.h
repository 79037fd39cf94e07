// The 64-byte FifoItem that advertise() returns and write()/read() take back (UCCL layout).
// Pure codec: no sockets, no allocation. All integers little-endian.
//
//   0       8       12      16      20      24      32      40       48               64
//   +-------+-------+-------+-------+-------+-------+-------+--------+----------------+
//   | addr  | size  | rkey  | nmsgs | rid   | idx   | size64| tok_hi | reserved (16)  |
//   +-------+-------+-------+-------+-------+-------+-------+--------+----------------+
//   addr u64    start of the advertised range (UCCL offset 0; applications may patch it)
//   size u32    min(size, UINT32_MAX) (UCCL offset 8; applications may patch it)
//   rkey u32    kFifoItemMagic: marks an item produced by tcpx-p2p advertise()
//   nmsgs u32   1
//   rid u32     mr_id of the advertised registration
//   idx u64     the low half of the advertisement's 128-bit access token
//   padding[32] @32: size64 u64 = the full size (registrations may exceed 4 GiB), tok_hi u64 =
//               the token's high half, then 16 zero bytes
//
// Which size wins: size@8 is UCCL's field, and applications that follow UCCL's layout patch it
// directly, leaving size64 stale. So size@8 is authoritative unless it holds the escape value
// UINT32_MAX, in which case the size is size64 (which must then be >= UINT32_MAX).
//
// The item is a capability hint, not a proof: the passive side must still check that
// [addr, addr + size) lies inside what it advertised under that token. A range that wraps
// around the address space is refused here already.
// Errors are kInvalidArgument (the blob comes from the application); out-params are set only on
// success.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "control/access_token.h"

namespace tcpxp::control {

inline constexpr size_t kFifoItemBytes = 64;
// 0x54585046 reads "TXPF" as a number; in memory (little-endian) the bytes are "FPXT".
inline constexpr uint32_t kFifoItemMagic = 0x54585046;

inline constexpr size_t kFifoAddrOffset = 0;
inline constexpr size_t kFifoSizeOffset = 8;
inline constexpr size_t kFifoRkeyOffset = 12;
inline constexpr size_t kFifoNmsgsOffset = 16;
inline constexpr size_t kFifoRidOffset = 20;
inline constexpr size_t kFifoIdxOffset = 24;
inline constexpr size_t kFifoSize64Offset = 32;
inline constexpr size_t kFifoTokenHiOffset = 40;
inline constexpr size_t kFifoReservedOffset = 48;

struct FifoItem {
  uint64_t addr = 0;
  uint64_t size = 0;   // full size
  uint32_t mr_id = 0;  // rid
  AccessToken token;   // lo: idx, hi: bytes 40..47
  bool operator==(const FifoItem&) const = default;
};

void encodeFifoItem(const FifoItem& item, uint8_t out[kFifoItemBytes]);
Status decodeFifoItem(const uint8_t* data, size_t len, FifoItem* out);

// uccl_engine_update_fifo: point an advertised item at a sub-range (rewrites addr, size@8 and
// size64; keeps rkey, nmsgs, rid, idx). Refuses, leaving the bytes untouched, an item that
// decodeFifoItem rejects.
Status updateFifoItem(uint8_t item[kFifoItemBytes], uint64_t remote_addr, uint64_t size);

}  // namespace tcpxp::control
