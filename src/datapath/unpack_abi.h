// The TCPX receive scatter list as host and device code see it (docs/TCPX.md, GPU receive path):
// a fragment says "copy len bytes from bounce + src_off to dst + dst_off". Same layout as the
// plugin's loadMeta; the metadata block holds 16 slots of 2048 fragments, then 16 counts.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tcpxp::datapath {

struct alignas(16) UnpackFragment {
  uint32_t src_off;
  uint32_t len;
  uint64_t dst_off;
};
static_assert(sizeof(UnpackFragment) == 16 && alignof(UnpackFragment) == 16);
static_assert(offsetof(UnpackFragment, len) == 4 && offsetof(UnpackFragment, dst_off) == 8);

inline constexpr int kUnpackSlots = 16;
inline constexpr int kUnpackMaxFragments = 2048;
inline constexpr size_t kUnpackCountsOffset =
    size_t{kUnpackSlots} * kUnpackMaxFragments * sizeof(UnpackFragment);

inline const UnpackFragment* slotFragments(const void* meta, int slot) {
  return static_cast<const UnpackFragment*>(meta) +
         size_t{static_cast<size_t>(slot)} * kUnpackMaxFragments;
}
inline const uint64_t* slotCount(const void* meta, int slot) {
  return reinterpret_cast<const uint64_t*>(static_cast<const char*>(meta) + kUnpackCountsOffset) +
         slot;
}

}  // namespace tcpxp::datapath
