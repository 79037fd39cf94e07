#include "transport/socket/socket_comm.h"

#include <sys/resource.h>

#include <algorithm>

#include "common/clock.h"
#include "common/log.h"

namespace tcpxp::transport::socket {

bool Registration::contains(const void* data, int64_t len) const {
  auto p = reinterpret_cast<uintptr_t>(data);
  auto b = reinterpret_cast<uintptr_t>(base);
  return p >= b && len >= 0 && p - b <= size && static_cast<uint64_t>(len) <= size - (p - b);
}

Status PinnedBuffer::reserve(size_t need) {
  if (need <= bytes) return Status::ok();
  constexpr size_t kStep = 256 << 10;
  const size_t want =
      std::min((need + kStep - 1) / kStep * kStep, static_cast<size_t>(kMaxRequestBytes) + 1);
  if (need > want) return Status(Code::kInvalidArgument, "a piece larger than one request");
  release();
  TCPXP_RETURN_IF_ERROR(device::allocPinned(want, &data));
  bytes = want;
  return Status::ok();
}

void PinnedBuffer::release() {
  device::freePinned(data);
  data = nullptr;
  bytes = 0;
}

void CommError::fail(ncclResult_t code, const std::string& message, const char* file, int line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.load(std::memory_order_relaxed)) return;
  code_ = code;
  failed_.store(true, std::memory_order_release);
  // Logged at the caller's location: where the failure was understood.
  if (logEnabled(LogLevel::kWarn)) logLine(LogLevel::kWarn, file, line, "%s", message.c_str());
}

namespace {

int64_t timevalNs(const timeval& tv) { return int64_t{tv.tv_sec} * 1000000000 + tv.tv_usec * 1000; }

}  // namespace

HelperClock::HelperClock(HelperTimes* times)
    : times_(times), start_ns_(nowNs()), last_ns_(start_ns_) {}

HelperClock::~HelperClock() {
  times_->life_ns = nowNs() - start_ns_;
  rusage ru{};
  if (::getrusage(RUSAGE_THREAD, &ru) == 0) {
    times_->user_ns = timevalNs(ru.ru_utime);
    times_->sys_ns = timevalNs(ru.ru_stime);
    times_->voluntary = ru.ru_nvcsw;
    times_->involuntary = ru.ru_nivcsw;
  }
}

int64_t HelperClock::lap(int64_t* bucket) {
  int64_t now = nowNs();
  int64_t elapsed = now - last_ns_;
  *bucket += elapsed;
  last_ns_ = now;
  return elapsed;
}

void logHelperTimes(const char* what, const std::string& peer,
                    const std::vector<const HelperTimes*>& helpers) {
  if (!logEnabled(LogLevel::kInfo) || helpers.empty()) return;
  HelperTimes sum;
  double io_min = 1, io_max = 0;  // share of its life each socket spent moving bytes
  for (const HelperTimes* t : helpers) {
    sum.pieces += t->pieces;
    sum.bytes += t->bytes;
    sum.wait_ns += t->wait_ns;
    sum.park_ns += t->park_ns;
    sum.io_ns += t->io_ns;
    sum.gpu_ns += t->gpu_ns;
    for (int b = 0; b < 4; ++b) sum.wait_by_open_ns[b] += t->wait_by_open_ns[b];
    sum.life_ns += t->life_ns;
    sum.user_ns += t->user_ns;
    sum.sys_ns += t->sys_ns;
    sum.voluntary += t->voluntary;
    sum.involuntary += t->involuntary;
    double io = t->life_ns > 0 ? static_cast<double>(t->io_ns) / t->life_ns : 0;
    io_min = std::min(io_min, io);
    io_max = std::max(io_max, io);
  }
  if (sum.pieces == 0) return;
  auto pct = [&](int64_t ns) { return sum.life_ns > 0 ? 100.0 * ns / sum.life_ns : 0.0; };
  LOG_INFO(
      "%s %s: %zu helpers, %llu pieces, %.1f MB; of their time: waiting for work %.0f%%, parked "
      "%.0f%%, in socket I/O %.0f%% (per socket %.0f-%.0f%%), GPU copies %.0f%%; CPU %.3f s "
      "user + %.3f s sys; %ld voluntary, %ld involuntary context switches",
      what, peer.c_str(), helpers.size(), static_cast<unsigned long long>(sum.pieces),
      static_cast<double>(sum.bytes) / 1e6, pct(sum.wait_ns), pct(sum.park_ns), pct(sum.io_ns),
      100 * io_min, 100 * io_max, pct(sum.gpu_ns), static_cast<double>(sum.user_ns) / 1e9,
      static_cast<double>(sum.sys_ns) / 1e9, sum.voluntary, sum.involuntary);
  LOG_INFO(
      "%s %s: waiting for work with 0 / 1-7 / 8-15 / 16 requests open: %.0f%% / %.0f%% / "
      "%.0f%% / %.0f%%",
      what, peer.c_str(), pct(sum.wait_by_open_ns[0]), pct(sum.wait_by_open_ns[1]),
      pct(sum.wait_by_open_ns[2]), pct(sum.wait_by_open_ns[3]));
}

}  // namespace tcpxp::transport::socket
