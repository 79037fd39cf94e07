// Which data path a buffer's bytes take: the one decider (docs/DESIGN.md, layer 4). The engine
// acts on its answer; `info`, `doctor` and `bench` print the same answer with its reason.
// Pure: no I/O, no CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tcpxp::datapath {

enum class PathKind : uint8_t {
  kDirect,  // the transport reads/writes the buffer itself
  kStaged,  // GPU memory over a host-only transport: copies through pinned staging slots
  kUnpack,  // TCPX GPU receive: bytes land in bounce pages, a gather copies them out
  kInline,  // small transfers: the bytes travel inside one control frame
  kVector,  // one-sided vectors: vectored requests, or pieces copied through staging slots
};
const char* pathKindName(PathKind kind);

// What the transport can do with memory (from its device properties).
struct TransportCaps {
  bool moves_gpu_memory = false;  // ptrSupport has CUDA
  bool unpack = false;            // GPU receives land in bounce pages (netDeviceType UNPACK)
  // Host memory in many stretches moves as one request (transport::Net::hasVectored).
  bool vectored_requests = false;
  // GPU transfers over this size take the staged path although the transport moves GPU memory
  // (transport::NetProperties::gpu_direct_max_bytes).
  size_t gpu_direct_max_bytes = SIZE_MAX;
};

// One buffer as the decider sees it.
struct BufferFacts {
  bool gpu_memory = false;  // registered as GPU memory (or emulated as such)
  bool receiving = false;   // this side receives the bytes
  size_t size = 0;          // bytes of the transfer
  // Whether this transfer may go inline at all: its size is within UCCL_TCPX_INLINE_BYTES and
  // the connection's inline window has room (see Connection).
  bool inline_allowed = false;
  // The pieces of a WriteVec/ReadVec: many small buffers moved as one stream.
  bool vector = false;
};

struct PathChoice {
  PathKind kind = PathKind::kDirect;
  std::string reason;
};

PathChoice choosePath(const BufferFacts& buffer, const TransportCaps& caps);

}  // namespace tcpxp::datapath
