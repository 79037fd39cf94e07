#include "transport/socket/unpack_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "transport/device_memory.h"

namespace tcpxp::transport::socket {

Status UnpackArena::create(const SocketConfig& config, uint64_t seed,
                           std::unique_ptr<UnpackArena>* out) {
  std::unique_ptr<UnpackArena> arena(new UnpackArena());
  arena->total_pages_ = std::max(config.unpack_pool_pages, NCCL_NET_UNPACK_MAX_SLICE_PAGES);
  arena->jitter_ = config.unpack_jitter;
  arena->rng_.seed(seed);
  size_t bounce_bytes = static_cast<size_t>(arena->total_pages_) * kPage;
  const bool gpu = device::gpuUsable();
  arena->on_gpu_ = config.unpack_gpu && gpu;
  arena->pinned_ = !config.unpack_gpu && gpu;
  unpackNetDeviceHandle handle{};
  if (gpu) {
    // The handle lives in device memory, as TCPX's does: the engine gathers on the GPU, reading
    // the bounce pages from GPU memory, or from pinned host memory over PCIe.
    void* bounce = nullptr;
    void* bounce_dev = nullptr;
    void* meta = nullptr;
    void* meta_dev = nullptr;
    if (arena->on_gpu_) {
      TCPXP_RETURN_IF_ERROR(device::allocDevice(bounce_bytes, &bounce));
      bounce_dev = bounce;
    } else {
      TCPXP_RETURN_IF_ERROR(device::allocPinned(bounce_bytes, &bounce));
      TCPXP_RETURN_IF_ERROR(device::devicePointerOf(bounce, &bounce_dev));
    }
    arena->bounce_ = static_cast<char*>(bounce);
    TCPXP_RETURN_IF_ERROR(device::allocPinned(sizeof(netUnpackMeta), &meta));
    arena->meta_ = static_cast<netUnpackMeta*>(meta);
    TCPXP_RETURN_IF_ERROR(device::devicePointerOf(meta, &meta_dev));
    TCPXP_RETURN_IF_ERROR(
        device::allocDevice(sizeof(unpackNetDeviceHandle), &arena->device_handle_));
    handle = {static_cast<netUnpackMeta*>(meta_dev), bounce_dev, 0};
    TCPXP_RETURN_IF_ERROR(device::copyToDevice(arena->device_handle_, &handle, sizeof(handle)));
  } else {
    // Anonymous mapping: pages cost memory only once a receive touches them.
    void* bounce = ::mmap(nullptr, bounce_bytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (bounce == MAP_FAILED)
      return Status(Code::kResourceExhausted, "mmap of UNPACK bounce buffer failed");
    arena->bounce_ = static_cast<char*>(bounce);
    // aligned_alloc wants a size that is a multiple of the alignment (ASan enforces it).
    constexpr size_t kMetaBytes = (sizeof(netUnpackMeta) + kPage - 1) / kPage * kPage;
    arena->meta_ = static_cast<netUnpackMeta*>(std::aligned_alloc(kPage, kMetaBytes));
    auto* host_handle = static_cast<unpackNetDeviceHandle*>(std::aligned_alloc(64, 64));
    if (arena->meta_ == nullptr || host_handle == nullptr) {
      std::free(host_handle);
      return Status(Code::kResourceExhausted, "allocation of UNPACK metadata failed");
    }
    *host_handle = {arena->meta_, bounce, 0};
    arena->device_handle_ = host_handle;
  }
  std::memset(static_cast<void*>(arena->meta_), 0, sizeof(netUnpackMeta));
  arena->free_pages_.resize(arena->total_pages_);
  for (int i = 0; i < arena->total_pages_; ++i) arena->free_pages_[i] = static_cast<uint32_t>(i);
  for (auto& pages : arena->slot_pages_) pages.reserve(NCCL_NET_UNPACK_MAX_SLICE_PAGES);
  LOG_DEBUG("UNPACK arena: %d pages of 4 KiB in %s memory", arena->total_pages_,
            arena->on_gpu_   ? "GPU"
            : arena->pinned_ ? "pinned host"
                             : "host");
  *out = std::move(arena);
  return Status::ok();
}

UnpackArena::~UnpackArena() {
  size_t bounce_bytes = static_cast<size_t>(total_pages_) * kPage;
  if (on_gpu_ || pinned_) {
    if (on_gpu_) {
      device::freeDevice(bounce_);
    } else {
      device::freePinned(bounce_);
    }
    device::freePinned(meta_);
    device::freeDevice(device_handle_);
  } else {
    if (bounce_) ::munmap(bounce_, bounce_bytes);
    std::free(meta_);
    std::free(device_handle_);
  }
}

void UnpackArena::plan(int slot, uint32_t total) {
  loadMeta* frags = meta_->mem[slot];
  uint32_t count = 0;
  uint64_t dst = 0;
  // Lengths in (2048, 4096] keep any request under 4 MiB within 2048 fragments, as TCPX's are.
  while (dst < total) {
    uint32_t len = kPage;
    if (jitter_) len = static_cast<uint32_t>(2049 + rng_() % 2048);
    len = static_cast<uint32_t>(std::min<uint64_t>(len, total - dst));
    frags[count].len = len;
    frags[count].dst_off = dst;
    // src_off is filled by allocatePages(); the in-page position is drawn now.
    frags[count].src_off = (jitter_ && (rng_() & 1)) ? kPage - len : 0;
    dst += len;
    ++count;
  }
  planned_count_[slot] = count;
  meta_->cnt[slot] = count;
}

bool UnpackArena::allocatePages(int slot) {
  uint32_t count = planned_count_[slot];
  if (free_pages_.size() < count) return false;
  auto& pages = slot_pages_[slot];
  pages.clear();
  loadMeta* frags = meta_->mem[slot];
  for (uint32_t i = 0; i < count; ++i) {
    // Take a random free page: consecutive fragments land at shuffled bounce positions.
    size_t pick = static_cast<size_t>(rng_() % free_pages_.size());
    uint32_t page = free_pages_[pick];
    free_pages_[pick] = free_pages_.back();
    free_pages_.pop_back();
    pages.push_back(page);
    frags[i].src_off += page * kPage;
  }
  return true;
}

void UnpackArena::release(int slot) {
  auto& pages = slot_pages_[slot];
  free_pages_.insert(free_pages_.end(), pages.begin(), pages.end());
  pages.clear();
  planned_count_[slot] = 0;
}

int UnpackArena::pieces(int slot, uint32_t offset, uint32_t len, iovec* out) const {
  const loadMeta* frags = meta_->mem[slot];
  uint32_t count = planned_count_[slot];
  // First fragment whose range ends after `offset`.
  uint32_t lo = 0, hi = count;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (frags[mid].dst_off + frags[mid].len <= offset) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  int n = 0;
  uint64_t pos = offset;
  uint64_t end = static_cast<uint64_t>(offset) + len;
  for (uint32_t i = lo; i < count && pos < end; ++i) {
    uint64_t skip = pos - frags[i].dst_off;
    uint64_t take = std::min<uint64_t>(frags[i].len - skip, end - pos);
    out[n].iov_base = reinterpret_cast<void*>(static_cast<uintptr_t>(frags[i].src_off + skip));
    out[n].iov_len = take;
    ++n;
    pos += take;
  }
  return n;
}

}  // namespace tcpxp::transport::socket
