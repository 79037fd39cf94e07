// The memory of one request of the socket transport: one stretch (isend/irecv) or up to
// TCPXP_NET_MAX_STRETCHES (isendv/irecvv, abi/net_vectored.h), copied when the request is
// posted. The pieces a request is split into over the data sockets (offset, len) map onto
// sub-lists of it, as iovecs for sendmsg/readv: the bytes move straight between the socket and
// the caller's stretches.
//
// Threading: written by the thread that posts the request, before the request is published to
// the helpers (under the worker's or the comm's mutex, or a release store they acquire); read-only
// until the request completes.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "transport/abi/net_vectored.h"

namespace tcpxp::transport::socket {

// The most iovecs one sendmsg/readv takes on Linux (IOV_MAX, UIO_MAXIOV).
inline constexpr int kIovMax = 1024;

class StretchList {
 public:
  // One stretch.
  void assign(char* data, size_t size);
  // `n` stretches (checked by checkStretches). Allocates only when a longer list than any before
  // is posted on this request slot.
  void assign(const tcpxpNetStretch_v1_t* stretches, int n);
  size_t bytes() const { return ends_.empty() ? 0 : ends_.back(); }
  // The iovecs of bytes [offset, offset + len) (within bytes()), skipping empty stretches: at
  // most `max`; when it needs more the caller moves those and asks again from where they end.
  // Returns how many were written.
  int slice(size_t offset, size_t len, iovec* out, int max) const;
  // The address of byte `offset` of a one-stretch list (a device source is copied contiguously).
  char* contiguous(size_t offset) const { return static_cast<char*>(iov_[0].iov_base) + offset; }

 private:
  std::vector<iovec> iov_;
  std::vector<size_t> ends_;  // ends_[i]: the request offset just past stretch i
};

// Checks a vectored request's stretch list against this transport's rules (logging why not):
// 1..TCPXP_NET_MAX_STRETCHES stretches, each inside its NCCL_PTR_HOST registration, the sum
// 0 .. 4 MiB - 1. Sets *total on success. `call`: "isendv" or "irecvv".
ncclResult_t checkStretches(const char* call, const tcpxpNetStretch_v1_t* stretches, int n,
                            int64_t* total);

}  // namespace tcpxp::transport::socket
