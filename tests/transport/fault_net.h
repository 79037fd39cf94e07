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
// Recording: each side also records what the engine asked of the transport that TCPX cannot
// refuse (docs/TCPX.md: a second accept on a listen comm crashes it; a GPU receive of over 2048
// fragments exits the process), readable with record(): see NetRecord.
//
// Threading: every member is thread-safe (atomics, and a mutex for the recording; the driver
// threads of both endpoints and the test thread use it at once). Lifetime: process-wide; the tables
// are registered once per process (NetPlugin::fromTable initialises a table once).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

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

// What one side's engine asked of the transport since reset() (calls that reached the socket
// transport and succeeded; faulted calls are not recorded).
struct NetRecord {
  uint64_t listens = 0;
  uint64_t accepted = 0;       // accepts that returned a recv comm
  uint64_t accepts_after = 0;  // accept calls on a listen comm that had returned its recv comm
  uint64_t requests = 0;       // isends and irecvs posted
  uint64_t max_request_bytes = 0;
  uint64_t gpu_irecvs = 0;  // irecvs into NCCL_PTR_CUDA registrations (the GPU receive path)
  uint64_t max_gpu_irecv_bytes = 0;
  uint64_t gpu_irecvs_checked = 0;       // of those, completed with their fragments counted
  uint64_t max_gpu_irecv_fragments = 0;  // cnt[slot] of a completed UNPACK receive
};

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

  NetRecord record() const;
  // For the table's functions: record a call that the socket transport accepted.
  void onListen();
  // Before the call: counts an accept on a listen comm that already returned its recv comm.
  void beforeAccept(void* listen_comm);
  void onAccepted(void* listen_comm, void* recv_comm, const ncclNetDeviceHandle_v7_t* dev);
  void onCloseListen(void* listen_comm);
  void onRegMr(void* mhandle, int type);
  void onDeregMr(void* mhandle);
  void onIsend(int size);
  void onIrecv(void* recv_comm, int size, void* mhandle, void* request);
  void onTestDone(void* request);
  void onCloseRecv(void* recv_comm);

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

  // The recording. The live objects survive reset() (a comm made before it keeps its slot
  // count); only the NetRecord counters restart.
  struct RecvCommState {
    const void* meta = nullptr;  // netUnpackMeta of an UNPACK recv comm, else null
    uint64_t irecvs = 0;         // posted so far: the next one uses slot irecvs % 16
  };
  struct GpuRecv {
    void* recv_comm;
    const void* meta;
    int slot;
  };
  mutable std::mutex rec_mu_;
  NetRecord rec_;
  std::unordered_set<void*> accepted_listens_;
  std::unordered_map<void*, int> mr_types_;
  std::unordered_map<void*, RecvCommState> recv_comms_;
  std::unordered_map<void*, GpuRecv> gpu_recvs_;  // posted, not yet reported done
};

}  // namespace tcpxp::testing
