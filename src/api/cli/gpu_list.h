// The endpoints of one bench process (`--gpus LIST`): one entry per Endpoint, a GPU index or host
// memory. Several endpoints on one GPU need the explicit count form, so a typo (`0,0`) is caught.
//
//   LIST   := ITEM ("," ITEM)*
//   ITEM   := (N | A-B | host) ["x" K]     N, A, B GPU indices; K endpoints on each, 1..64
//   e.g. 0-7   0,1,4   0x4 (four endpoints on GPU 0)   hostx4 (four host-memory endpoints)   0-3x2
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tcpxp::cli {

inline constexpr size_t kMaxEndpoints = 64;
inline constexpr int kHostEndpoint = -1;

// Parses `text` into one entry per endpoint (GPU index, or kHostEndpoint), in order. `gpu_count`:
// GPUs this machine has (an index >= it is refused). False with *error (which names `flag`) on bad
// syntax, a GPU listed twice, more than kMaxEndpoints endpoints, or a GPU that does not exist.
bool parseGpuList(const std::string& flag, std::string_view text, int gpu_count,
                  std::vector<int>* out, std::string* error);

// The canonical LIST of `gpus` ("0-3", "2x4", "hostx2,0"); parseGpuList reads it back unchanged.
std::string formatGpuList(const std::vector<int>& gpus);

// "0" for GPU 0, "host" for host memory: a pair's ends in the table.
std::string endpointLabel(int gpu);

}  // namespace tcpxp::cli
