#include "datapath/path_choice.h"

namespace tcpxp::datapath {

const char* pathKindName(PathKind kind) {
  switch (kind) {
    case PathKind::kDirect:
      return "direct";
    case PathKind::kStaged:
      return "staged";
    case PathKind::kUnpack:
      return "unpack";
    case PathKind::kInline:
      return "inline";
    case PathKind::kVector:
      return "vector";
  }
  return "?";
}

PathChoice choosePath(const BufferFacts& b, const TransportCaps& caps) {
  if (b.vector && caps.vectored_requests && !b.gpu_memory) {
    return {PathKind::kVector,
            "pieces of a vector in host memory: each chunk is one vectored request over its "
            "pieces, written and read straight from and into them (a chunk over more than 1024 "
            "pieces goes through staging slots)"};
  }
  if (b.vector) {
    return {PathKind::kVector,
            "pieces of a vector: gathered into (scattered from) staging slots of one chunk, so "
            "the transport sees chunk-sized requests whatever the piece size"};
  }
  if (b.inline_allowed) {
    return {PathKind::kInline,
            "at most UCCL_TCPX_INLINE_BYTES: the bytes travel in one control "
            "frame (one round trip, no channel)"};
  }
  if (!b.gpu_memory) return {PathKind::kDirect, "host memory: the transport moves it itself"};
  if (caps.unpack && b.receiving) {
    return {PathKind::kUnpack,
            "GPU receive on an UNPACK transport (TCPX): bytes land in bounce pages, a gather "
            "kernel copies them, irecvConsumed after it"};
  }
  if (caps.moves_gpu_memory && b.size <= caps.gpu_direct_max_bytes) {
    return {PathKind::kDirect, "GPU memory on a transport that moves GPU memory itself"};
  }
  if (caps.moves_gpu_memory) {
    return {PathKind::kStaged,
            "GPU memory over UCCL_SOCKET_GPU_DIRECT_MAX: copied through pinned staging slots, "
            "whose pipeline moves large transfers faster than the transport's own copies"};
  }
  return {PathKind::kStaged,
          "GPU memory over a host-only transport: copied through pinned staging slots, "
          "overlapping the socket I/O"};
}

}  // namespace tcpxp::datapath
