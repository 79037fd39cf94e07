#include "engine/completions.h"

#include <chrono>

#include "common/cpu_relax.h"

namespace tcpxp::engine {

uint64_t Completions::open(int parts) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  slots_[id].parts_left = parts;
  return id;
}

void Completions::finish(uint64_t id, const Status& status, size_t bytes, int parts) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slots_.find(id);
    if (it == slots_.end()) return;
    Slot& s = it->second;
    if (!status.isOk() && s.status.isOk()) s.status = status;
    s.bytes += bytes;
    s.parts_left -= parts;
  }
  finishes_.fetch_add(1, std::memory_order_release);
  cv_.notify_all();
}

Status Completions::poll(uint64_t id, bool* done, size_t* bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(id);
  if (it == slots_.end()) {
    return Status(Code::kNotFound,
                  "transfer id " + std::to_string(id) + " is unknown or was already reported done");
  }
  *done = it->second.parts_left <= 0;
  if (!*done) return Status::ok();
  Status st = it->second.status;
  if (bytes) *bytes = it->second.bytes;
  slots_.erase(it);
  return st;
}

Status Completions::wait(uint64_t id, int64_t timeout_ms, const std::function<bool()>& interrupted,
                         size_t* bytes) {
  using std::chrono::steady_clock;
  auto deadline = steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto next_check = steady_clock::now();
  // Most transfers finish within tens of microseconds of the wait: poll briefly before sleeping
  // on the condition variable (a futex wakeup costs about as much as the transfer), yielding
  // the CPU between looks (busyPollPause).
  // The spin watches a counter of finish() calls, not the slot: taking mu_ in a tight loop
  // delayed the driver's finish() of this very transfer.
  auto spin_until = steady_clock::now() + std::chrono::microseconds(50);
  for (bool done = false; !done && steady_clock::now() < spin_until;) {
    uint64_t seen = finishes_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = slots_.find(id);
      done = it == slots_.end() || it->second.parts_left <= 0;
    }
    while (!done && finishes_.load(std::memory_order_acquire) == seen &&
           steady_clock::now() < spin_until) {
      busyPollPause();
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto it = slots_.find(id);
    if (it == slots_.end()) {
      return Status(Code::kNotFound, "transfer id " + std::to_string(id) + " is unknown");
    }
    if (it->second.parts_left <= 0) {
      Status st = it->second.status;
      if (bytes) *bytes = it->second.bytes;
      slots_.erase(it);
      return st;
    }
    auto now = steady_clock::now();
    if (now >= deadline) {
      return Status(Code::kTimeout, "transfer " + std::to_string(id) + " not done after " +
                                        std::to_string(timeout_ms) + " ms");
    }
    if (interrupted && now >= next_check) {
      // Unlocked while the callback runs (it may take the GIL): re-check the slot after it.
      lock.unlock();
      bool stop = interrupted();
      lock.lock();
      if (stop)
        return Status(Code::kTimeout,
                      "interrupted while waiting for transfer " + std::to_string(id));
      next_check = now + std::chrono::milliseconds(20);
      continue;
    }
    cv_.wait_until(lock, interrupted ? std::min(deadline, next_check) : deadline);
  }
}

size_t Completions::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

}  // namespace tcpxp::engine
