// tcpx-p2p's own extension of an ncclNet v7 table, not NCCL's ABI: vectored requests, one
// request over a list of stretches of registered host memory, written with sendmsg and read
// with readv straight over the stretches (no gather or scatter copy). Only the built-in socket
// transport compiled into this process offers it (socket/socket_net.h: socketVectoredOps);
// TCPX's requests are contiguous, and a table loaded from a library never has it, so the
// exported ncclNetPlugin_v7 table, NCCL's view, is unchanged.
//
// isendv/irecvv follow every rule of isend/irecv for the request as a whole (docs/TCPX.md): it
// counts against the 16 outstanding of its comm, is tested with test() in FIFO order with the
// comm's other requests, a receive is released with irecvConsumed, and the size (the sum of the
// stretches) stays under 4 MiB. Besides: 1..TCPXP_NET_MAX_STRETCHES stretches, each inside the
// NCCL_PTR_HOST registration given as its mhandle (CUDA registrations are refused: no UNPACK
// bounce receive, no device source). The list is copied: the caller may reuse it on return.
// A vectored request pairs with any request of the same size on the other side (the wire does
// not tell them apart).
#pragma once

#include <cstddef>

#include "transport/abi/net_v7.h"

extern "C" {

#define TCPXP_NET_MAX_STRETCHES 1024

typedef struct {
  void* data;     // first byte
  size_t size;    // bytes (0 allowed: moves nothing)
  void* mhandle;  // the registration (regMr of the same comm) holding [data, data + size)
} tcpxpNetStretch_v1_t;

typedef struct {
  ncclResult_t (*isendv)(void* sendComm, const tcpxpNetStretch_v1_t* stretches, int n,
                         void** request);
  ncclResult_t (*irecvv)(void* recvComm, const tcpxpNetStretch_v1_t* stretches, int n,
                         void** request);
} tcpxpNetVectored_v1_t;

}  // extern "C"

static_assert(sizeof(tcpxpNetStretch_v1_t) == 24);
static_assert(offsetof(tcpxpNetStretch_v1_t, data) == 0);
static_assert(offsetof(tcpxpNetStretch_v1_t, size) == 8);
static_assert(offsetof(tcpxpNetStretch_v1_t, mhandle) == 16);
static_assert(sizeof(tcpxpNetVectored_v1_t) == 16);
