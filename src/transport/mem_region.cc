#include "transport/mem_region.h"

#include "common/log.h"

namespace tcpxp::transport {

Status MemRegion::mhandle(const Net& net, void* comm, void** out) {
  auto it = mhandles_.find(comm);
  if (it != mhandles_.end()) {
    *out = it->second;
    return Status::ok();
  }
  void* mh = nullptr;
  TCPXP_RETURN_IF_ERROR(net.regMr(comm, base_, size_, kind_, &mh));
  mhandles_.emplace(comm, mh);
  *out = mh;
  return Status::ok();
}

void MemRegion::forget(const Net& net, void* comm) {
  auto it = mhandles_.find(comm);
  if (it == mhandles_.end()) return;
  Status st = net.deregMr(comm, it->second);
  if (!st.isOk()) LOG_WARN("deregMr: %s", st.toString().c_str());
  mhandles_.erase(it);
}

Status MemRegion::forgetAll(const Net& net) {
  Status first;
  for (auto& [comm, mh] : mhandles_) {
    Status st = net.deregMr(comm, mh);
    if (!st.isOk()) {
      LOG_WARN("deregMr: %s", st.toString().c_str());
      if (first.isOk()) first = st;
    }
  }
  mhandles_.clear();
  return first;
}

}  // namespace tcpxp::transport
