#include "datapath/cpu_gather.h"

#include <cstring>

namespace tcpxp::datapath {

bool cpuGather(const UnpackFragment* frags, uint64_t count, const char* bounce, char* dst,
               uint64_t dst_size) {
  if (count > static_cast<uint64_t>(kUnpackMaxFragments)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    const UnpackFragment& f = frags[i];
    if (f.len > 4096 || f.dst_off > dst_size || f.len > dst_size - f.dst_off) return false;
    std::memcpy(dst + f.dst_off, bounce + f.src_off, f.len);
  }
  return true;
}

}  // namespace tcpxp::datapath
