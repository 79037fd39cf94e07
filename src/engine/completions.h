// Completion slots that API threads wait on and the driver thread fills. Thread-safe.
// A slot may cover several parts (vector calls): it is done when every part finished; its
// status is the first error. A slot is released when poll()/wait() reports it done.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "common/status.h"

namespace tcpxp::engine {

class Completions {
 public:
  uint64_t open(int parts = 1);
  // Adds parts to an open slot (a vector call that fans out after open()).
  // `parts` of the slot finished (a batched vector finishes all its segments at once).
  void finish(uint64_t id, const Status& status, size_t bytes = 0, int parts = 1);
  // kNotFound for an unknown or already released id.
  Status poll(uint64_t id, bool* done, size_t* bytes);
  // Waits until done, `timeout_ms` passes (kTimeout, the slot stays open), or `interrupted()`
  // returns true (checked every few milliseconds; kTimeout with a message saying so).
  Status wait(uint64_t id, int64_t timeout_ms, const std::function<bool()>& interrupted,
              size_t* bytes);
  size_t pending() const;

 private:
  struct Slot {
    int parts_left = 0;
    Status status;
    size_t bytes = 0;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> finishes_{0};  // finish() calls, for waiters that poll before sleeping
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, Slot> slots_;
};

}  // namespace tcpxp::engine
