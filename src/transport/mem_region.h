// Memory as the transport registers it: the span handed to regMr and its handle per comm, made
// on first use (a comm is known only once connected) and dropped before the comm closes.
// One thread at a time (the driver thread that owns the comms).
#pragma once

#include <cstddef>
#include <unordered_map>

#include "common/status.h"
#include "transport/net.h"

namespace tcpxp::transport {

class MemRegion {
 public:
  MemRegion() = default;
  MemRegion(char* base, size_t size, MemKind kind) : base_(base), size_(size), kind_(kind) {}
  MemRegion(const MemRegion&) = delete;
  MemRegion& operator=(const MemRegion&) = delete;
  // Handles must be released with forget()/forgetAll() first (they need the Net).
  ~MemRegion() = default;

  char* base() const { return base_; }
  size_t size() const { return size_; }
  MemKind kind() const { return kind_; }
  void reset(char* base, size_t size, MemKind kind) {
    base_ = base;
    size_ = size;
    kind_ = kind;
  }

  // The handle of this region on `comm`, registering it on first use.
  Status mhandle(const Net& net, void* comm, void** out);
  // Deregisters from `comm` (before it closes); a no-op if never registered there.
  void forget(const Net& net, void* comm);
  // Deregisters from every comm; returns the first error (each is logged).
  Status forgetAll(const Net& net);

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
  MemKind kind_ = MemKind::kHost;
  std::unordered_map<void*, void*> mhandles_;
};

}  // namespace tcpxp::transport
