// UCCL HEAD's XferDesc (the Ray-style API: register_memory, transfer) and the byte layout of
// get_serialized_descs / deserialize_descs. Pure codec: no Python, no engine calls.
//
// Serialized (UCCL's layout; native byte order, size_t = 8 bytes):
//   u64 count
//   count x { u64 addr | u64 size | u64 keys | u32 lkeys[keys] | u32 rkeys[keys] |
//             u64 ipc_len | ipc_len bytes }
// The ipc part of a descriptor may be absent when the bytes end right after its rkeys (older
// UCCL). mr_id is local to the endpoint that registered the memory and is not serialized.
//
// Keys: this engine has no per-NIC RDMA keys. What grants a peer access to a region is its
// advertisement (the 64-byte FifoItem with the 128-bit access token), so rkeys holds those 64
// bytes as 16 little-endian u32 words, and lkeys the same words (UCCL keeps both the same length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/endpoint.h"

namespace tcpxp::python {

inline constexpr uint64_t kNoMr = UINT64_MAX;  // UCCL: "not registered on this endpoint"

struct XferDesc {
  uint64_t addr = 0;
  uint64_t size = 0;
  uint64_t mr_id = kNoMr;
  std::vector<uint32_t> lkeys;
  std::vector<uint32_t> rkeys;
  std::string ipc_info;  // serialized with the keys; empty until the CUDA IPC path exists

  // Equal when they describe the same region with the same keys (mr_id is local: not compared).
  bool sameRegion(const XferDesc& o) const {
    return addr == o.addr && size == o.size && lkeys == o.lkeys && rkeys == o.rkeys &&
           ipc_info == o.ipc_info;
  }
};

std::vector<uint32_t> keysFromFifo(const engine::FifoBlob& blob);
// The advertisement held in `keys`; false when they are not 16 words.
bool fifoFromKeys(const std::vector<uint32_t>& keys, engine::FifoBlob* out);

std::string serializeDescs(const std::vector<XferDesc>& descs);
// Throws std::runtime_error("Invalid serialized XferDesc data: ...") on malformed bytes (UCCL's
// error and type); never allocates more than the input can describe.
std::vector<XferDesc> deserializeDescs(const uint8_t* data, size_t len);

}  // namespace tcpxp::python
