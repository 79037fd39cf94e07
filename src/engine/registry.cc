#include "engine/registry.h"

#include <algorithm>
#include <climits>

#include "common/log.h"
#include "common/secure_random.h"
#include "engine/memory_info.h"

namespace tcpxp::engine {

Status Registry::add(void* ptr, size_t size, transport::MemKind kind, int device, MrId* out) {
  if (ptr == nullptr || size == 0) {
    return Status(Code::kInvalidArgument, "reg: needs a non-null pointer and a size > 0");
  }
  auto reg = std::make_shared<Registration>();
  reg->id = next_id_++;
  reg->base = static_cast<char*>(ptr);
  reg->size = size;
  reg->device = device;
  reg->net.reset(reg->base, size, kind);
  if (kind == transport::MemKind::kCuda) {
    auto begin = reinterpret_cast<uintptr_t>(ptr);
    uintptr_t end = begin + size;
    uintptr_t lo = begin & ~uintptr_t{4095};
    uintptr_t hi = (end + 4095) & ~uintptr_t{4095};
    uintptr_t alloc_base = 0;
    size_t alloc_size = 0;
    if (device >= 0 && allocationRange(ptr, &alloc_base, &alloc_size)) {
      // TCPX registers GPU memory by its allocation: take the whole allocation when a v7
      // registration (int size) can hold it, else the 4 KiB-aligned window inside it.
      if (alloc_size <= static_cast<size_t>(INT32_MAX)) {
        lo = alloc_base;
        hi = alloc_base + alloc_size;
      } else {
        lo = std::max(lo, alloc_base);
        hi = std::min(hi, alloc_base + alloc_size);
      }
      if (lo % 4096 != 0) {
        return Status(Code::kInvalidArgument,
                      "reg: the GPU allocation holding this buffer does not start on a 4 KiB "
                      "boundary; TCPX can only register 4 KiB-aligned GPU memory");
      }
    }
    reg->net.reset(reinterpret_cast<char*>(lo), hi - lo, kind);
  }
  *out = reg->id;
  regs_.emplace(reg->id, std::move(reg));
  return Status::ok();
}

RegRef Registry::find(MrId id) const {
  auto it = regs_.find(id);
  return it == regs_.end() ? nullptr : it->second;
}

Status Registry::remove(MrId id, const transport::Net& net) {
  auto it = regs_.find(id);
  if (it == regs_.end())
    return Status(Code::kNotFound, "dereg: unknown mr_id " + std::to_string(id));
  // The map's own reference, and one per transfer using it.
  long users = it->second.use_count() - 1;
  if (users > 0) {
    return Status(Code::kBusy, "dereg: mr_id " + std::to_string(id) + " is used by " +
                                   std::to_string(users) + " transfers in flight");
  }
  (void)it->second->net.forgetAll(net);  // each failure is logged
  std::erase_if(ads_, [id](const auto& kv) { return kv.second.mr == id; });
  std::erase_if(ad_index_, [id](const auto& kv) { return std::get<0>(kv.first) == id; });
  regs_.erase(it);
  return Status::ok();
}

void Registry::forgetComm(void* comm, const transport::Net& net) {
  for (auto& [id, reg] : regs_) reg->net.forget(net, comm);
}

Status Registry::advertise(MrId mr, void* ptr, size_t size, ConnId conn,
                           control::AccessToken* token) {
  RegRef reg = find(mr);
  if (reg == nullptr)
    return Status(Code::kNotFound, "advertise: unknown mr_id " + std::to_string(mr));
  if (!reg->contains(ptr, size) || size == 0) {
    return Status(Code::kInvalidArgument, "advertise: [ptr, ptr + " + std::to_string(size) +
                                              ") is not inside mr_id " + std::to_string(mr));
  }
  auto key = std::make_tuple(mr, static_cast<char*>(ptr), size, conn);
  if (auto again = ad_index_.find(key); again != ad_index_.end()) {
    *token = control::AccessToken{again->second, ads_.at(again->second).token_hi};
    return Status::ok();
  }
  if (ads_.size() >= kMaxAdvertisements) {
    return Status(Code::kResourceExhausted,
                  "advertise: " + std::to_string(kMaxAdvertisements) +
                      " advertisements are live; dereg buffers no longer served (their "
                      "advertisements go with them)");
  }
  control::AccessToken t;
  do {
    t.lo = secureRandomNonZero64();
  } while (ads_.count(t.lo) != 0);
  t.hi = secureRandomNonZero64();
  ads_[t.lo] = Advertisement{mr, static_cast<char*>(ptr), size, conn, t.hi};
  ad_index_[key] = t.lo;
  *token = t;
  return Status::ok();
}

Status Registry::authorize(control::AccessToken token, uint64_t addr, size_t size, ConnId conn,
                           RegRef* out, char** local, std::string* why,
                           const Advertisement** ad_out) const {
  auto refuse = [&](std::string reason) {
    *why = std::move(reason);
    return Status(Code::kRefused, kAccessRefused);
  };
  auto it = ads_.find(token.lo);
  if (it == ads_.end() || it->second.token_hi != token.hi) {
    return refuse("no advertisement has this token (never advertised, deregistered, or forged)");
  }
  const Advertisement& ad = it->second;
  if (ad.conn != 0 && ad.conn != conn) return refuse("advertised to another connection");
  auto base = reinterpret_cast<uintptr_t>(ad.addr);
  if (addr < base || addr - base > ad.size || size > ad.size - (addr - base)) {
    return refuse("[" + std::to_string(addr) + ", +" + std::to_string(size) +
                  ") is outside the advertised " + std::to_string(ad.size) + "-byte region");
  }
  RegRef reg = find(ad.mr);
  if (reg == nullptr) return refuse("the advertised registration is gone");
  *out = std::move(reg);
  *local = reinterpret_cast<char*>(addr);
  if (ad_out) *ad_out = &ad;
  return Status::ok();
}

}  // namespace tcpxp::engine
