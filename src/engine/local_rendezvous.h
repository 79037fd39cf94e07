// The hello of connect_local / accept_local: two processes of one host find each other by the
// acceptor's GPU PCI BDF and exchange one small fixed-size message each way. No data goes over
// it (transfers on the connection are CUDA IPC copies); the socket is closed after the hello.
//
// Why a Unix domain socket in the abstract namespace, named "tcpx-p2p-ipc.<uid>.<scope>.<bdf>":
//   - UCCL (p2p/engine.cc connect_local / accept_local) names shared-memory rings after the two
//     GPUs' BDFs, so a process finds its peer by BDF alone; the same naming here, one listener
//     per BDF while accept_local runs (two processes on GPU 0 work: one accepts, one connects;
//     two accepting on one GPU at once get a clear kBusy, as UCCL's one inbox ring per BDF pair
//     cannot serve two acceptors either).
//   - abstract names vanish with their process: no stale file after a crash, nothing to clean.
//   - SO_PEERCRED tells who is on the other end: both sides require the same uid.
//   - the uid in the name keeps users apart; the scope (UCCL_TCPX_IPC_SCOPE, default "") lets
//     unrelated jobs (tests run in parallel) of one user share a GPU without meeting.
// A connector retries until its deadline (UCCL_TCPX_TIMEOUT_MS), so it may start before the
// acceptor; without one it fails with a message that says so, never hangs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/fd.h"
#include "common/status.h"

namespace tcpxp::engine {

struct LocalPeer {
  std::string bdf;  // the peer's GPU ("" for a host-only endpoint)
  uint32_t pid = 0;
  int32_t gpu = -1;  // its CUDA device index in its process
};

// "0000:4a:00.0" from "0000:4A:00.0" or "4a:00.0"; kInvalidArgument for anything else.
Status normalizeBdf(const std::string& in, std::string* out);
// The abstract socket name for an acceptor on `bdf` ("" = a host-only endpoint).
std::string rendezvousName(const std::string& scope, const std::string& bdf);

// Connects to the acceptor of `name`, retrying until `timeout_ms`; sends `self`, reads the
// acceptor's answer into *peer.
Status dialLocal(const std::string& name, const LocalPeer& self, int64_t timeout_ms,
                 const std::function<bool()>& interrupted, LocalPeer* peer);
// Listens under `name` (kBusy if another process does), takes one connector of the same uid
// within `timeout_ms` (-1: no limit), answers with `self`.
Status acceptLocal(const std::string& name, const LocalPeer& self, int64_t timeout_ms,
                   int64_t hello_timeout_ms, const std::function<bool()>& interrupted,
                   LocalPeer* peer);

// The fixed-size hello (48 bytes) both sides send; exposed for tests.
inline constexpr size_t kLocalHelloBytes = 48;
void encodeLocalHello(const LocalPeer& p, bool answer, uint8_t* out);
Status decodeLocalHello(const uint8_t* in, size_t len, bool answer, LocalPeer* out);

}  // namespace tcpxp::engine
