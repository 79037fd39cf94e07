#include "transport/socket/socket_comm.h"

#include "common/log.h"

namespace tcpxp::transport::socket {

bool Registration::contains(const void* data, int64_t len) const {
  auto p = reinterpret_cast<uintptr_t>(data);
  auto b = reinterpret_cast<uintptr_t>(base);
  return p >= b && len >= 0 && p - b <= size && static_cast<uint64_t>(len) <= size - (p - b);
}

void CommError::fail(ncclResult_t code, const std::string& message, const char* file, int line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.load(std::memory_order_relaxed)) return;
  code_ = code;
  failed_.store(true, std::memory_order_release);
  // Logged at the caller's location: where the failure was understood.
  if (logEnabled(LogLevel::kWarn)) logLine(LogLevel::kWarn, file, line, "%s", message.c_str());
}

}  // namespace tcpxp::transport::socket
