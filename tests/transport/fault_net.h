// A fault-injecting ncclNet v7 decorator for tests (STYLE.md habit 13): it wraps the built-in
// socket transport's table and, per a plan set by the test, makes a chosen call fail or a request
// never finish. Engines built on it (Endpoint::create with its NetPlugin) then meet real transport
// failures on real connections.
//
// Two decorator tables exist, side 0 and side 1, with the same name ("tcpx-p2p-fault", so the
// handshake accepts either peer) but their own plans and counters: a test puts one endpoint on
// each and so chooses which side fails. Comms, requests and mhandles are the socket transport's
// own, passed through unchanged.
//
// Counting: every call of a counted kind on a side increments that kind's counter (from 1, since
// the last reset()); when it reaches the planned N the call is faulted once. A faulted
// connect/accept/regMr/isend/irecv/irecvConsumed/test returns the planned result without calling
// the socket transport (nothing was created or posted); a faulted closeSend/closeRecv closes the
// comm first and then reports the planned result (a close that failed but released the comm).
// A stalled test reports done = 0 for that request forever, without testing it again.
//
// Threading: every member is thread-safe (atomics; the driver threads of both endpoints and the
// test thread use it at once). Lifetime: process-wide; the tables are registered once per process
// (NetPlugin::fromTable initialises a table once).
#pragma once

#include <atomic>
#include <cstdint>

#include "common/status.h"
#include "transport/abi/net_v7.h"
#include "transport/plugin_loader.h"

namespace tcpxp::testing {

enum class NetCall : int {
  kConnect,
  kAccept,
  kRegMr,
  kIsend,
  kIrecv,
  kTest,
  kIrecvConsumed,
  kCloseSend,
  kCloseRecv,
};
inline constexpr int kNumNetCalls = 9;
static_assert(static_cast<int>(NetCall::kCloseRecv) + 1 == kNumNetCalls);
const char* netCallName(NetCall call);

inline constexpr const char* kFaultNetName = "tcpx-p2p-fault";

class FaultNet {
 public:
  static constexpr int kSides = 2;

  // Side `side` (0 or 1): its decorator table, registered (and the socket transport initialised)
  // on the first call. Errors: those of NetPlugin::builtinSocket / fromTable.
  static Status plugin(int side, transport::NetPlugin** out);
  static FaultNet& side(int side);

  // No faults planned, no request stalled, every counter 0: the reset point.
  void reset();
  // The nth call of `call` (counting from 1 since reset()) returns `result`.
  void failAt(NetCall call, uint64_t nth, ncclResult_t result);
  // The nth test() call stalls its request: done = 0 on that and every later test of it.
  void stallTestAt(uint64_t nth);

  uint64_t calls(NetCall call) const;
  // How many faults (failures or stalls) of `call` were injected since reset().
  uint64_t fired(NetCall call) const;

  // For the table's functions (fault_net.cc): counts the call; true when it is to be faulted,
  // with *result the planned result and *stall whether it is a stall instead.
  bool take(NetCall call, ncclResult_t* result, bool* stall);
  bool isStalled(void* request) const;
  void setStalled(void* request);

 private:
  struct Plan {
    std::atomic<uint64_t> at{0};  // 0: none
    std::atomic<int> result{ncclSuccess};
    std::atomic<bool> stall{false};
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> fired{0};
  };
  Plan plans_[kNumNetCalls];
  std::atomic<void*> stalled_{nullptr};
};

}  // namespace tcpxp::testing
