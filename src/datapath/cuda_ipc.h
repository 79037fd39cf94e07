// The same-host CUDA IPC data path: GPU memory of one process is exported as a 128-byte blob
// (the cudaIpcMemHandle_t of its allocation, the buffer's offset and size), another process of
// the host imports it (cudaIpcOpenMemHandle) and copies into or out of it with cudaMemcpyAsync
// over NVLink or PCIe. No byte of data goes through a socket.
//
// What UCCL does, and what this follows (uccl-project/uccl HEAD):
//   - p2p/engine.cc advertise_ipc: the handle of the allocation holding the buffer, plus the
//     buffer's offset in it and its size; write_ipc / read_ipc open the handle, copy with
//     cudaMemcpyAsync on streams, and (async forms) record events that a poller thread checks.
//   - p2p/engine_api.cc: the Python blob is the raw struct; callers pass it through opaquely.
//   - p2p/uccl_engine.h: IPC_INFO_SIZE is 128; uccl_engine_update_ipc_info moves the offset by
//     (addr - base_addr) and sets the size (NIXL calls it per descriptor, src/plugins/uccl).
// Differences, on purpose: the blob carries a magic, a version and the allocation's size, and
// every blob is checked (it is untrusted: a peer, or a script, may send anything); an opened
// handle is kept per connection (bounded cache) instead of opened and closed per transfer; host
// memory is refused on both sides (UCCL exports only GPU memory; its H2D/D2H form of the copy
// is not offered: a clear error beats a silent pageable copy).
//
// Layout of the blob (little-endian, 128 bytes):
//   0 magic "TPI1" | 4 version u16 | 6 reserved u16 | 8 cudaIpcMemHandle_t (64 bytes)
//   72 offset u64 (of the buffer in the allocation) | 80 size u64 | 88 allocation bytes u64
//   96 allocation base in the exporter u64 | 104 exporter pid u32 | 108 exporter device i32
//   112 exporter GPU PCI BDF, NUL-padded (16 bytes)
//
// In a build without CUDA every call that would touch a GPU returns kNotSupported.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace tcpxp::datapath {

inline constexpr size_t kIpcInfoBytes = 128;  // UCCL's IPC_INFO_SIZE
using IpcBlob = std::array<uint8_t, kIpcInfoBytes>;

struct IpcInfo {
  std::array<uint8_t, 64> handle{};  // cudaIpcMemHandle_t of the allocation
  uint64_t offset = 0;               // the buffer's offset in the allocation
  uint64_t size = 0;                 // the buffer's bytes
  uint64_t alloc_bytes = 0;          // the allocation's bytes (checked again once opened)
  uint64_t alloc_base = 0;           // the allocation's address in the exporter
  uint32_t pid = 0;                  // the exporter's process
  int32_t device = -1;               // the exporter's CUDA device
  std::string bdf;                   // the exporter GPU's PCI BDF
};

void encodeIpcInfo(const IpcInfo& info, uint8_t* out);  // kIpcInfoBytes
// Checks magic, version, offset + size inside the allocation (no overflow), the BDF field.
Status decodeIpcInfo(const uint8_t* data, size_t len, IpcInfo* out);
// uccl_engine_update_ipc_info: the blob of the region at `base_addr` now describes
// [addr, addr + size) of it. Refused (blob unchanged) when that leaves the blob's range.
Status updateIpcInfo(uint8_t* blob, uintptr_t addr, uintptr_t base_addr, size_t size);

// The blob of GPU buffer [ptr, ptr + size). Host or managed memory: kInvalidArgument.
Status exportGpuBuffer(const void* ptr, size_t size, IpcInfo* out);
// Whether `ptr` is device memory of this process (cudaMalloc'd): *device is its GPU.
bool isDeviceMemory(const void* ptr, int* device);

// Calls the CUDA runtime on `device` for one scope, then puts the caller's device back (an API
// thread's current device belongs to the application).
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  const Status& status() const { return status_; }

 private:
  int previous_ = -1;
  Status status_;
};

// The allocations one connection's peer exported, opened once each and kept (cudaIpcOpenMemHandle
// maps the whole allocation: opening per transfer costs ~100 us). At most `max_entries` are
// open; past it the least recently used one without copies in flight is closed. Not thread-safe
// (its owner locks). The destructor closes every handle: no copy may be in flight then.
// Two connections of one process may open the same handle: CUDA counts the opens of a handle
// in a context and returns the same pointer (cuIpcOpenMemHandle), each close drops one.
class IpcImports {
 public:
  IpcImports(int device, size_t max_entries) : device_(device), max_entries_(max_entries) {}
  ~IpcImports();
  IpcImports(const IpcImports&) = delete;
  IpcImports& operator=(const IpcImports&) = delete;

  struct Entry;
  // The local address of [info.offset, + bytes) of the peer's allocation, checked against the
  // allocation's real size once opened. `*held` stays open until release(*held).
  Status resolve(const IpcInfo& info, size_t bytes, char** out, Entry** held);
  void release(Entry* e);
  size_t size() const { return entries_.size(); }

  struct Entry {
    std::array<uint8_t, 64> handle{};
    char* base = nullptr;  // opened (or, same process, the allocation itself)
    size_t bytes = 0;      // the allocation's real size
    bool opened = false;   // cudaIpcOpenMemHandle'd (closed when dropped)
    int users = 0;         // copies in flight
  };

 private:
  Status open(const IpcInfo& info, Entry* e);
  void close(Entry& e);
  int device_;
  size_t max_entries_;
  std::list<Entry> entries_;  // most recently used first
};

// Copies between GPU buffers on a few streams of one device; a poller thread checks their events
// and calls each batch's `done` (on that thread) without blocking anyone else.
class IpcCopier {
 public:
  struct Copy {
    void* dst = nullptr;
    const void* src = nullptr;
    size_t bytes = 0;
  };
  using Done = std::function<void(const Status&)>;

  static Status create(int device, std::unique_ptr<IpcCopier>* out);
  ~IpcCopier();  // waits for the copies in flight (their `done` runs), then stops the poller
  IpcCopier(const IpcCopier&) = delete;
  IpcCopier& operator=(const IpcCopier&) = delete;

  // Enqueues the copies; `done` runs once when all finished (or one failed). An error here means
  // nothing was handed to the poller and `done` will not run (copies already enqueued may still
  // run: the caller waits with drain() before it frees what they touch).
  Status start(std::span<const Copy> copies, Done done);
  // Returns once every batch started so far has finished and its `done` ran.
  void drain();
  int device() const { return device_; }

 private:
  IpcCopier() = default;
  struct Batch {
    std::vector<void*> events;
    Done done;
  };
  void poll();
  void* takeEvent();  // under mu_

  int device_ = -1;
  std::vector<void*> streams_;
  size_t next_stream_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;      // work for the poller / a batch finished
  std::deque<Batch> batches_;       // in flight, oldest first
  std::vector<void*> free_events_;  // reused
  std::vector<void*> all_events_;   // destroyed at the end
  size_t running_ = 0;              // batches whose done() is running
  bool stop_ = false;
  std::thread poller_;
};

}  // namespace tcpxp::datapath
