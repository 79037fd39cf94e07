// UNPACK emulation state of one recv comm: the bounce buffer of 4 KiB pages, the loadMeta
// scatter lists of the 16 receive slots, and the device handle accept() hands out. Mirrors what
// the TCPX plugin does with devmem-TCP: a receive lands in shuffled pages, never in the posted
// buffer, and its pages go back to the pool only when the receive is consumed.
//
// Threading: plan/allocate/release are called with the recv comm's mutex held; the page data
// of one slot is written by the helper threads that own its chunks (disjoint byte ranges).
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "common/status.h"
#include "transport/abi/net_v7.h"
#include "transport/socket/socket_config.h"

namespace tcpxp::transport::socket {

class UnpackArena {
 public:
  static constexpr int kSlots = NCCL_NET_DEVICE_UNPACK_MAX_QUEUE_DEPTH;
  static constexpr uint32_t kPage = NCCL_NET_UNPACK_PAGE_SIZE;

  // Where the bounce buffer lives: GPU memory when a GPU is usable and config.unpack_gpu; with
  // a GPU and !unpack_gpu, pinned host memory that the GPU gathers from over PCIe (helpers then
  // read straight into the pages, with no CUDA call per piece); without a GPU, host memory
  // gathered by the CPU.
  static Status create(const SocketConfig& config, uint64_t seed,
                       std::unique_ptr<UnpackArena>* out);
  ~UnpackArena();
  UnpackArena(const UnpackArena&) = delete;
  UnpackArena& operator=(const UnpackArena&) = delete;

  bool onGpu() const { return on_gpu_; }
  // What ncclNetDeviceHandle_v7_t::handle gets: the unpackNetDeviceHandle (device memory when
  // the bounce buffer is on the GPU).
  void* deviceHandle() const { return device_handle_; }

  // Draws the fragment lengths of a `total`-byte receive into `slot` (cnt = 0 for host-memory
  // receives: pass total 0). Then allocatePages() until it returns true.
  void plan(int slot, uint32_t total);
  bool allocatePages(int slot);
  // Returns the slot's pages to the pool (irecvConsumed).
  void release(int slot);

  // Pieces of [offset, offset + len) of the slot's message, as (bounce offset, length) pairs in
  // message order; `out` must hold at least len / 2048 + 2 entries.
  int pieces(int slot, uint32_t offset, uint32_t len, iovec* out) const;
  // Host address of bounce offset `off` (host and pinned modes) or device address (GPU mode).
  char* bounceAt(uint64_t off) const { return bounce_ + off; }

  const netUnpackMeta* meta() const { return meta_; }

 private:
  UnpackArena() = default;

  bool on_gpu_ = false;
  bool pinned_ = false;  // pinned host memory, mapped for the GPU
  int total_pages_ = 0;
  char* bounce_ = nullptr;
  netUnpackMeta* meta_ = nullptr;  // host view (pinned and mapped in GPU mode)
  void* device_handle_ = nullptr;
  std::vector<uint32_t> free_pages_;
  std::array<std::vector<uint32_t>, kSlots> slot_pages_;
  std::array<uint32_t, kSlots> planned_count_{};
  bool jitter_ = true;
  std::mt19937_64 rng_;
};

}  // namespace tcpxp::transport::socket
