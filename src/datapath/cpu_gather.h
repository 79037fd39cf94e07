// Gather on the CPU: the UNPACK path when the bounce buffer is host memory (the built-in
// transport's emulation on a machine without a GPU).
#pragma once

#include <cstdint>

#include "datapath/unpack_abi.h"

namespace tcpxp::datapath {

// Copies every fragment of the list; false if a fragment is malformed (len > 4096 or count
// above 2048), in which case nothing more is copied.
bool cpuGather(const UnpackFragment* frags, uint64_t count, const char* bounce, char* dst,
               uint64_t dst_size);

}  // namespace tcpxp::datapath
