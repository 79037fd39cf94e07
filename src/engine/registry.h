// Memory registrations and advertisements of one Endpoint. Driver thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "control/access_token.h"
#include "engine/transfer.h"
#include "transport/mem_region.h"
#include "transport/net.h"

namespace tcpxp::engine {

// A user registration. Transfers hold it through RegRef (transfer.h): the registry's map holds
// one reference, every transfer using it one more (ref() from a plain pointer the registry
// handed out, without looking it up again).
struct Registration : std::enable_shared_from_this<Registration> {
  RegRef ref() { return shared_from_this(); }
  MrId id = 0;
  char* base = nullptr;
  size_t size = 0;
  int device = -1;  // CUDA device of GPU memory (-1: host memory, also when emulated as GPU)
  bool on_gpu() const { return device >= 0; }
  // What the transport registers: for GPU memory the allocation holding it (TCPX's
  // regMr(NCCL_PTR_CUDA) needs a 4 KiB-aligned address; over 2 GiB: an aligned window inside
  // it), else the buffer itself; its handles are made per comm on first use.
  transport::MemRegion net;
  transport::MemKind kind() const { return net.kind(); }

  bool contains(const void* p, size_t n) const {
    auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(base);
    return a >= b && a - b <= size && n <= size - (a - b);
  }
};

struct Advertisement {
  MrId mr = 0;
  char* addr = nullptr;
  size_t size = 0;
  ConnId conn = 0;        // 0 = any connection (the newer advertise signature)
  uint64_t token_hi = 0;  // the token's other half (ads_ is keyed by its low half)
};

// The refusal text every denied write/read gets: the same for a wrong token, connection or range,
// so that the answer is no oracle for addresses or tokens.
inline constexpr const char* kAccessRefused =
    "access refused: no advertisement to this connection covers the requested range";
// Live advertisements per endpoint. Advertising the same range to the same connection again
// returns the same token, so a serving loop that re-advertises its blocks stays far below this.
inline constexpr size_t kMaxAdvertisements = size_t{1} << 20;

class Registry {
 public:
  Status add(void* ptr, size_t size, transport::MemKind kind, int device, MrId* out);
  // nullptr for an unknown id.
  RegRef find(MrId id) const;
  // Deregisters from every comm; kBusy while transfers use it.
  Status remove(MrId id, const transport::Net& net);
  // Drops every transport handle on `comm` (before the comm closes).
  void forgetComm(void* comm, const transport::Net& net);

  // A fresh 128-bit token (the OS's randomness) for [ptr, +size) of `mr`, for `conn` (0: any).
  Status advertise(MrId mr, void* ptr, size_t size, ConnId conn, control::AccessToken* token);
  // The registration a peer may touch: [addr, addr + size) inside what was advertised to `conn`
  // under `token`. kRefused otherwise, always with kAccessRefused as the message (what the peer
  // is told: no hint whether the token, the connection or the range was wrong); *why says which
  // (for this side's log).
  // *ad (if given) is the advertisement that allowed it, valid until the next change here.
  Status authorize(control::AccessToken token, uint64_t addr, size_t size, ConnId conn, RegRef* out,
                   char** local, std::string* why, const Advertisement** ad = nullptr) const;

 private:
  MrId next_id_ = 1;
  std::unordered_map<MrId, RegRef> regs_;
  std::unordered_map<uint64_t, Advertisement> ads_;  // by token.lo
  // The token.lo of each advertised (mr, addr, size, conn), for re-advertising.
  std::map<std::tuple<MrId, char*, size_t, ConnId>, uint64_t> ad_index_;
};

}  // namespace tcpxp::engine
