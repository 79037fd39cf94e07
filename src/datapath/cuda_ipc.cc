#include "datapath/cuda_ipc.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include "common/log.h"
#include "transport/device_memory.h"

#ifdef TCPXP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tcpxp::datapath {

namespace {

constexpr uint8_t kMagic[4] = {'T', 'P', 'I', '1'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHandleAt = 8, kOffsetAt = 72, kSizeAt = 80, kAllocBytesAt = 88, kAllocBaseAt = 96,
                 kPidAt = 104, kDeviceAt = 108, kBdfAt = 112, kBdfBytes = 16;
static_assert(kBdfAt + kBdfBytes == kIpcInfoBytes);

template <typename T>
void put(uint8_t* out, size_t at, T v) {
  std::memcpy(out + at, &v, sizeof(v));  // little-endian hosts only (x86-64, aarch64)
}
template <typename T>
T get(const uint8_t* in, size_t at) {
  T v;
  std::memcpy(&v, in + at, sizeof(v));
  return v;
}

#ifdef TCPXP_HAVE_CUDA
// Copies of one batch above this size are split over the streams (one DMA engine or copy kernel
// per stream; UCCL splits at 64 MiB per engine, kIpcSizePerEngine).
constexpr size_t kSplitBytes = size_t{16} << 20;
constexpr int kStreams = 4;
#endif

}  // namespace

void encodeIpcInfo(const IpcInfo& info, uint8_t* out) {
  std::memset(out, 0, kIpcInfoBytes);
  std::memcpy(out, kMagic, sizeof(kMagic));
  put<uint16_t>(out, 4, kVersion);
  std::memcpy(out + kHandleAt, info.handle.data(), info.handle.size());
  put<uint64_t>(out, kOffsetAt, info.offset);
  put<uint64_t>(out, kSizeAt, info.size);
  put<uint64_t>(out, kAllocBytesAt, info.alloc_bytes);
  put<uint64_t>(out, kAllocBaseAt, info.alloc_base);
  put<uint32_t>(out, kPidAt, info.pid);
  put<int32_t>(out, kDeviceAt, info.device);
  std::memcpy(out + kBdfAt, info.bdf.data(), std::min(info.bdf.size(), kBdfBytes - 1));
}

Status decodeIpcInfo(const uint8_t* data, size_t len, IpcInfo* out) {
  if (data == nullptr || len != kIpcInfoBytes) {
    return Status(Code::kInvalidArgument, "IPC info blob of " + std::to_string(len) +
                                              " bytes (expected " + std::to_string(kIpcInfoBytes) +
                                              ")");
  }
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0) {
    return Status(Code::kInvalidArgument,
                  "not an IPC info blob of tcpx-p2p (bad magic): make it with advertise_ipc / "
                  "uccl_engine_get_ipc_info of the peer");
  }
  uint16_t version = get<uint16_t>(data, 4);
  if (version != kVersion) {
    return Status(Code::kInvalidArgument, "IPC info blob version " + std::to_string(version) +
                                              " (this build reads " + std::to_string(kVersion) +
                                              ")");
  }
  IpcInfo info;
  std::memcpy(info.handle.data(), data + kHandleAt, info.handle.size());
  info.offset = get<uint64_t>(data, kOffsetAt);
  info.size = get<uint64_t>(data, kSizeAt);
  info.alloc_bytes = get<uint64_t>(data, kAllocBytesAt);
  info.alloc_base = get<uint64_t>(data, kAllocBaseAt);
  info.pid = get<uint32_t>(data, kPidAt);
  info.device = get<int32_t>(data, kDeviceAt);
  if (info.offset > info.alloc_bytes || info.size > info.alloc_bytes - info.offset) {
    return Status(Code::kInvalidArgument, "IPC info blob: [offset " + std::to_string(info.offset) +
                                              ", +" + std::to_string(info.size) +
                                              ") is not inside its allocation of " +
                                              std::to_string(info.alloc_bytes) + " bytes");
  }
  const char* bdf = reinterpret_cast<const char*>(data + kBdfAt);
  size_t n = strnlen(bdf, kBdfBytes);
  if (n == kBdfBytes) return Status(Code::kInvalidArgument, "IPC info blob: BDF not terminated");
  for (size_t i = 0; i < n; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(bdf[i])) && bdf[i] != ':' && bdf[i] != '.') {
      return Status(Code::kInvalidArgument, "IPC info blob: the BDF field is not a PCI address");
    }
  }
  info.bdf.assign(bdf, n);
  *out = std::move(info);
  return Status::ok();
}

Status updateIpcInfo(uint8_t* blob, uintptr_t addr, uintptr_t base_addr, size_t size) {
  IpcInfo info;
  TCPXP_RETURN_IF_ERROR(decodeIpcInfo(blob, kIpcInfoBytes, &info));
  if (addr < base_addr) {
    return Status(Code::kInvalidArgument, "update_ipc_info: addr is below base_addr");
  }
  uint64_t shift = addr - base_addr;
  // The sub-range must lie inside the region the blob described.
  if (shift > info.size || size > info.size - shift) {
    return Status(Code::kInvalidArgument, "update_ipc_info: [addr, +" + std::to_string(size) +
                                              ") at " + std::to_string(shift) +
                                              " bytes into the region is not inside its " +
                                              std::to_string(info.size) + " bytes");
  }
  info.offset += shift;
  info.size = size;
  encodeIpcInfo(info, blob);
  return Status::ok();
}

#ifdef TCPXP_HAVE_CUDA
namespace {

Status cudaCheck(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return Status::ok();
  cudaGetLastError();  // a failed call that is not sticky must not fail the next one
  return Status(Code::kCudaError, what + ": " + cudaGetErrorString(err));
}

std::string bdfOf(int device) {
  char bdf[32] = {};
  if (cudaDeviceGetPCIBusId(bdf, sizeof(bdf), device) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  std::string out(bdf);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool isDeviceMemory(const void* ptr, int* device) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    cudaGetLastError();
    return false;
  }
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  if (attr.type != cudaMemoryTypeDevice) return false;
  if (device) *device = attr.device;
  return true;
}

DeviceScope::DeviceScope(int device) {
  if (cudaGetDevice(&previous_) != cudaSuccess) {
    cudaGetLastError();
    previous_ = -1;
  }
  if (device != previous_) status_ = cudaCheck(cudaSetDevice(device), "cudaSetDevice");
}

DeviceScope::~DeviceScope() {
  int now = -1;
  if (previous_ >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous_) {
    cudaSetDevice(previous_);
  }
}

Status exportGpuBuffer(const void* ptr, size_t size, IpcInfo* out) {
  int device = -1;
  if (!isDeviceMemory(ptr, &device)) {
    return Status(Code::kInvalidArgument,
                  "the buffer is not GPU memory of this process (host, managed or unknown "
                  "memory): CUDA IPC exports cudaMalloc'd GPU memory only");
  }
  DeviceScope scope(device);  // the driver calls below need the buffer's context current
  TCPXP_RETURN_IF_ERROR(scope.status());
  uintptr_t base = 0;
  size_t alloc = 0;
  if (!transport::device::allocationRange(ptr, &base, &alloc)) {
    return Status(Code::kCudaError, "cuMemGetAddressRange failed for the buffer");
  }
  auto begin = reinterpret_cast<uintptr_t>(ptr);
  if (size > alloc - (begin - base)) {
    return Status(Code::kInvalidArgument,
                  "[ptr, +" + std::to_string(size) + ") runs past the end of its GPU allocation (" +
                      std::to_string(alloc - (begin - base)) + " bytes left)");
  }
  cudaIpcMemHandle_t handle{};
  Status st =
      cudaCheck(cudaIpcGetMemHandle(&handle, reinterpret_cast<void*>(base)), "cudaIpcGetMemHandle");
  if (!st.isOk()) {
    return Status(st.code(), st.message() +
                                 " (memory from cuMemCreate or a memory pool, such as PyTorch's "
                                 "expandable segments, has no legacy IPC handle)");
  }
  static_assert(sizeof(handle) == 64);
  IpcInfo info;
  std::memcpy(info.handle.data(), &handle, sizeof(handle));
  info.offset = begin - base;
  info.size = size;
  info.alloc_bytes = alloc;
  info.alloc_base = base;
  info.pid = static_cast<uint32_t>(::getpid());
  info.device = device;
  info.bdf = bdfOf(device);
  *out = std::move(info);
  return Status::ok();
}

IpcImports::~IpcImports() {
  for (Entry& e : entries_) close(e);
}

void IpcImports::close(Entry& e) {
  if (!e.opened) return;
  DeviceScope scope(device_);
  Status st = cudaCheck(cudaIpcCloseMemHandle(e.base), "cudaIpcCloseMemHandle");
  if (!st.isOk()) LOG_WARN("%s", st.toString().c_str());
  e.opened = false;
}

Status IpcImports::open(const IpcInfo& info, Entry* e) {
  e->handle = info.handle;
  DeviceScope scope(device_);
  TCPXP_RETURN_IF_ERROR(scope.status());
  // The same process (UCCL: direct_addr): its own handle cannot be opened. The blob's base is
  // used only if this process's handle of the allocation there is the blob's handle.
  if (info.pid == static_cast<uint32_t>(::getpid()) && info.alloc_base != 0) {
    uintptr_t base = 0;
    size_t bytes = 0;
    cudaIpcMemHandle_t own{};
    if (transport::device::allocationRange(reinterpret_cast<void*>(info.alloc_base), &base,
                                           &bytes) &&
        base == info.alloc_base &&
        cudaIpcGetMemHandle(&own, reinterpret_cast<void*>(base)) == cudaSuccess &&
        std::memcmp(&own, info.handle.data(), sizeof(own)) == 0) {
      e->base = reinterpret_cast<char*>(base);
      e->bytes = bytes;
      e->opened = false;
      return Status::ok();
    }
    cudaGetLastError();
  }
  cudaIpcMemHandle_t handle{};
  std::memcpy(&handle, info.handle.data(), sizeof(handle));
  void* p = nullptr;
  Status st = cudaCheck(cudaIpcOpenMemHandle(&p, handle, cudaIpcMemLazyEnablePeerAccess),
                        "cudaIpcOpenMemHandle");
  if (!st.isOk()) {
    return Status(st.code(), st.message() +
                                 " (the exporting process exited or freed the buffer, or the "
                                 "blob is not from a process of this host)");
  }
  uintptr_t base = 0;
  size_t bytes = 0;
  if (!transport::device::allocationRange(p, &base, &bytes) ||
      base != reinterpret_cast<uintptr_t>(p)) {
    cudaIpcCloseMemHandle(p);
    cudaGetLastError();
    return Status(Code::kCudaError, "the size of an imported GPU allocation is unknown");
  }
  e->base = static_cast<char*>(p);
  e->bytes = bytes;
  e->opened = true;
  return Status::ok();
}

Status IpcImports::resolve(const IpcInfo& info, size_t bytes, char** out, Entry** held) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.handle == info.handle; });
  if (it == entries_.end()) {
    if (entries_.size() >= max_entries_) {
      auto victim = std::find_if(entries_.rbegin(), entries_.rend(),
                                 [](const Entry& e) { return e.users == 0; });
      if (victim == entries_.rend()) {
        return Status(Code::kResourceExhausted,
                      std::to_string(entries_.size()) +
                          " peer allocations opened with copies in flight on each");
      }
      close(*victim);
      entries_.erase(std::next(victim).base());
    }
    Entry e;
    TCPXP_RETURN_IF_ERROR(open(info, &e));
    entries_.push_front(e);
  } else {
    entries_.splice(entries_.begin(), entries_, it);
  }
  Entry& e = entries_.front();
  // Checked against the allocation as opened, not the blob's claim.
  if (info.offset > e.bytes || bytes > e.bytes - info.offset) {
    return Status(Code::kInvalidArgument, "IPC info blob: [offset " + std::to_string(info.offset) +
                                              ", +" + std::to_string(bytes) +
                                              ") is not inside the peer's allocation of " +
                                              std::to_string(e.bytes) + " bytes");
  }
  ++e.users;
  *out = e.base + info.offset;
  *held = &e;
  return Status::ok();
}

void IpcImports::release(Entry* e) {
  if (e != nullptr && e->users > 0) --e->users;
}

Status IpcCopier::create(int device, std::unique_ptr<IpcCopier>* out) {
  std::unique_ptr<IpcCopier> c(new IpcCopier());
  c->device_ = device;
  DeviceScope scope(device);
  TCPXP_RETURN_IF_ERROR(scope.status());
  for (int i = 0; i < kStreams; ++i) {
    cudaStream_t s = nullptr;
    TCPXP_RETURN_IF_ERROR(
        cudaCheck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate"));
    c->streams_.push_back(s);
  }
  c->poller_ = std::thread([p = c.get()] { p->poll(); });
  *out = std::move(c);
  return Status::ok();
}

IpcCopier::~IpcCopier() {
  drain();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  DeviceScope scope(device_);
  for (void* ev : all_events_) cudaEventDestroy(static_cast<cudaEvent_t>(ev));
  for (void* s : streams_) cudaStreamDestroy(static_cast<cudaStream_t>(s));
}

void* IpcCopier::takeEvent() {
  if (!free_events_.empty()) {
    void* ev = free_events_.back();
    free_events_.pop_back();
    return ev;
  }
  cudaEvent_t ev = nullptr;
  if (cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  all_events_.push_back(ev);
  return ev;
}

Status IpcCopier::start(std::span<const Copy> copies, Done done) {
  DeviceScope scope(device_);
  TCPXP_RETURN_IF_ERROR(scope.status());
  std::lock_guard lock(mu_);
  std::vector<bool> used(streams_.size(), false);
  auto enqueue = [&](char* dst, const char* src, size_t bytes) {
    size_t s = next_stream_++ % streams_.size();
    used[s] = true;
    return cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice,
                                     static_cast<cudaStream_t>(streams_[s])),
                     "cudaMemcpyAsync");
  };
  // Copies already enqueued when a later one fails still run: they finish before the error
  // returns (the caller then frees what they touch).
  auto unwind = [&](const Status& st) {
    for (size_t s = 0; s < streams_.size(); ++s) {
      if (used[s]) cudaStreamSynchronize(static_cast<cudaStream_t>(streams_[s]));
    }
    cudaGetLastError();
    return st;
  };
  for (const Copy& c : copies) {
    auto* dst = static_cast<char*>(c.dst);
    const auto* src = static_cast<const char*>(c.src);
    size_t parts = std::clamp<size_t>(c.bytes / kSplitBytes, 1, streams_.size());
    size_t part = c.bytes / parts;
    for (size_t i = 0; i < parts; ++i) {
      size_t n = i + 1 == parts ? c.bytes - i * part : part;
      Status st = enqueue(dst + i * part, src + i * part, n);
      if (!st.isOk()) return unwind(st);
    }
  }
  Batch b;
  b.done = std::move(done);
  for (size_t s = 0; s < streams_.size(); ++s) {
    if (!used[s]) continue;
    void* ev = takeEvent();
    if (ev == nullptr) {
      for (void* e : b.events) free_events_.push_back(e);
      return unwind(Status(Code::kCudaError, "cudaEventCreate failed"));
    }
    Status st = cudaCheck(
        cudaEventRecord(static_cast<cudaEvent_t>(ev), static_cast<cudaStream_t>(streams_[s])),
        "cudaEventRecord");
    b.events.push_back(ev);
    if (!st.isOk()) {
      for (void* e : b.events) free_events_.push_back(e);
      return unwind(st);
    }
  }
  batches_.push_back(std::move(b));
  cv_.notify_all();
  return Status::ok();
}

void IpcCopier::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return batches_.empty() && running_ == 0; });
}

void IpcCopier::poll() {
  (void)cudaSetDevice(device_);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !batches_.empty(); });
    if (batches_.empty()) return;  // stop_
    bool finished_one = false;
    for (size_t i = 0; i < batches_.size();) {
      Status st;
      bool done = true;
      for (void* ev : batches_[i].events) {
        cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(ev));
        if (err == cudaErrorNotReady) {
          done = false;
          break;
        }
        if (err != cudaSuccess) {
          st = cudaCheck(err, "IPC copy");
          break;
        }
      }
      if (!done) {
        ++i;
        continue;
      }
      Batch b = std::move(batches_[i]);
      batches_.erase(batches_.begin() + static_cast<std::ptrdiff_t>(i));
      for (void* ev : b.events) free_events_.push_back(ev);
      ++running_;
      lock.unlock();
      b.done(st);
      lock.lock();
      --running_;
      finished_one = true;
      i = 0;  // start() may have added batches meanwhile
    }
    if (finished_one) {
      cv_.notify_all();
    } else {
      // Copies run for microseconds to milliseconds: a short nap keeps the poller off a core
      // without adding much to a transfer's completion time.
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      lock.lock();
    }
  }
}

#else  // no CUDA

namespace {
Status noCuda() {
  return Status(Code::kNotSupported,
                "CUDA IPC: this build of tcpx-p2p has no CUDA (TCPXP_CUDA=OFF)");
}
}  // namespace

bool isDeviceMemory(const void*, int*) { return false; }
DeviceScope::DeviceScope(int) {}
DeviceScope::~DeviceScope() = default;
Status exportGpuBuffer(const void*, size_t, IpcInfo*) { return noCuda(); }
IpcImports::~IpcImports() = default;
void IpcImports::close(Entry&) {}
Status IpcImports::open(const IpcInfo&, Entry*) { return noCuda(); }
Status IpcImports::resolve(const IpcInfo&, size_t, char**, Entry**) { return noCuda(); }
void IpcImports::release(Entry*) {}
Status IpcCopier::create(int, std::unique_ptr<IpcCopier>*) { return noCuda(); }
IpcCopier::~IpcCopier() = default;
void* IpcCopier::takeEvent() { return nullptr; }
Status IpcCopier::start(std::span<const Copy>, Done) { return noCuda(); }
void IpcCopier::drain() {}
void IpcCopier::poll() {}

#endif

}  // namespace tcpxp::datapath
