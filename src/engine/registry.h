// Memory registrations and advertisements of one Endpoint. Driver thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/transfer.h"
#include "transport/mem_region.h"
#include "transport/net.h"

namespace tcpxp::engine {

// A user registration. Transfers hold it through RegRef (transfer.h): the registry's map holds
// one reference, every transfer using it one more.
struct Registration {
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
  ConnId conn = 0;  // 0 = any connection (the newer advertise signature)
};

class Registry {
 public:
  Status add(void* ptr, size_t size, transport::MemKind kind, int device, MrId* out);
  // nullptr for an unknown id.
  RegRef find(MrId id) const;
  // Deregisters from every comm; kBusy while transfers use it.
  Status remove(MrId id, const transport::Net& net);
  // Drops every transport handle on `comm` (before the comm closes).
  void forgetComm(void* comm, const transport::Net& net);

  Status advertise(MrId mr, void* ptr, size_t size, ConnId conn, uint64_t* token);
  // The registration a peer may touch: [addr, addr + size) inside what was advertised to `conn`
  // under `token`. kRefused with the reason otherwise.
  Status authorize(uint64_t token, uint64_t addr, size_t size, ConnId conn, RegRef* out,
                   char** local) const;

 private:
  MrId next_id_ = 1;
  std::unordered_map<MrId, RegRef> regs_;
  std::unordered_map<uint64_t, Advertisement> ads_;
};

}  // namespace tcpxp::engine
