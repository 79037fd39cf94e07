#include "transport/socket/stretch_list.h"

#include <algorithm>

#include "common/log.h"
#include "transport/socket/socket_comm.h"

namespace tcpxp::transport::socket {

void StretchList::assign(char* data, size_t size) {
  iov_.resize(1);
  ends_.resize(1);
  iov_[0] = {data, size};
  ends_[0] = size;
}

void StretchList::assign(const tcpxpNetStretch_v1_t* stretches, int n) {
  iov_.resize(static_cast<size_t>(n));
  ends_.resize(static_cast<size_t>(n));
  size_t at = 0;
  for (size_t i = 0; i < iov_.size(); ++i) {
    iov_[i] = {stretches[i].data, stretches[i].size};
    at += stretches[i].size;
    ends_[i] = at;
  }
}

int StretchList::slice(size_t offset, size_t len, iovec* out, int max) const {
  // The first stretch that ends past `offset` holds it (empty ones end where they start).
  size_t i =
      static_cast<size_t>(std::upper_bound(ends_.begin(), ends_.end(), offset) - ends_.begin());
  int n = 0;
  for (; len > 0 && n < max && i < iov_.size(); ++i) {
    size_t start = ends_[i] - iov_[i].iov_len;
    size_t skip = offset > start ? offset - start : 0;
    size_t take = std::min(iov_[i].iov_len - skip, len);
    if (take == 0) continue;
    out[n++] = {static_cast<char*>(iov_[i].iov_base) + skip, take};
    len -= take;
  }
  return n;
}

ncclResult_t checkStretches(const char* call, const tcpxpNetStretch_v1_t* stretches, int n,
                            int64_t* total) {
  if (stretches == nullptr || n < 1 || n > TCPXP_NET_MAX_STRETCHES) {
    LOG_WARN("%s with %d stretches: a vectored request takes 1 .. %d", call, n,
             TCPXP_NET_MAX_STRETCHES);
    return ncclInvalidArgument;
  }
  int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    const tcpxpNetStretch_v1_t& s = stretches[i];
    auto* reg = static_cast<const Registration*>(s.mhandle);
    if (reg != nullptr && reg->type != NCCL_PTR_HOST) {
      LOG_WARN(
          "%s: stretch %d lies in an NCCL_PTR_CUDA registration; vectored requests move host "
          "memory only (no UNPACK bounce receive, no device source)",
          call, i);
      return ncclInvalidArgument;
    }
    if (s.size > static_cast<size_t>(kMaxRequestBytes) || reg == nullptr ||
        (s.size > 0 && !reg->contains(s.data, static_cast<int64_t>(s.size)))) {
      LOG_WARN(
          "%s: stretch %d (%zu bytes at %p) is not inside the registration given as its "
          "mhandle",
          call, i, s.size, s.data);
      return ncclInvalidArgument;
    }
    sum += static_cast<int64_t>(s.size);  // at most 1024 x 4 MiB: no overflow
  }
  if (sum > kMaxRequestBytes) {
    // The same guard rail as isend/irecv: TCPX's GPU receives of over 2048 fragments exit(1).
    LOG_WARN(
        "%s of %lld bytes: one request must be 0 .. 4 MiB - 1 bytes (this transport's "
        "guard rail, as for isend/irecv)",
        call, static_cast<long long>(sum));
    return ncclInvalidArgument;
  }
  *total = sum;
  return ncclSuccess;
}

}  // namespace tcpxp::transport::socket
