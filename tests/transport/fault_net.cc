#include "fault_net.h"

#include <mutex>

namespace tcpxp::testing {
namespace {

FaultNet g_sides[FaultNet::kSides];
const ncclNet_v7_t* g_inner = nullptr;  // the socket transport's table, set before any table use

const ncclNet_v7_t& inner() { return *g_inner; }

// The socket transport was initialised by NetPlugin::builtinSocket; its init runs once per process.
ncclResult_t faultInit(ncclDebugLogger_t /*log*/) { return ncclSuccess; }

template <int S>
ncclResult_t faultConnect(int dev, void* handle, void** send_comm,
                          ncclNetDeviceHandle_v7_t** send_dev_comm) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kConnect, &rc, &stall)) return rc;
  return inner().connect(dev, handle, send_comm, send_dev_comm);
}

template <int S>
ncclResult_t faultAccept(void* listen_comm, void** recv_comm,
                         ncclNetDeviceHandle_v7_t** recv_dev_comm) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kAccept, &rc, &stall)) return rc;
  return inner().accept(listen_comm, recv_comm, recv_dev_comm);
}

template <int S>
ncclResult_t faultRegMr(void* comm, void* data, int size, int type, void** mhandle) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kRegMr, &rc, &stall)) return rc;
  return inner().regMr(comm, data, size, type, mhandle);
}

template <int S>
ncclResult_t faultIsend(void* send_comm, void* data, int size, int tag, void* mhandle,
                        void** request) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kIsend, &rc, &stall)) return rc;
  return inner().isend(send_comm, data, size, tag, mhandle, request);
}

template <int S>
ncclResult_t faultIrecv(void* recv_comm, int n, void** data, int* sizes, int* tags, void** mhandles,
                        void** request) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kIrecv, &rc, &stall)) return rc;
  return inner().irecv(recv_comm, n, data, sizes, tags, mhandles, request);
}

template <int S>
ncclResult_t faultTest(void* request, int* done, int* sizes) {
  FaultNet& side = g_sides[S];
  if (request != nullptr && side.isStalled(request)) {
    *done = 0;
    return ncclSuccess;
  }
  ncclResult_t rc;
  bool stall;
  if (side.take(NetCall::kTest, &rc, &stall)) {
    if (!stall) return rc;
    side.setStalled(request);
    *done = 0;
    return ncclSuccess;
  }
  return inner().test(request, done, sizes);
}

template <int S>
ncclResult_t faultIrecvConsumed(void* recv_comm, int n, void* request) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kIrecvConsumed, &rc, &stall)) return rc;
  return inner().irecvConsumed(recv_comm, n, request);
}

template <int S>
ncclResult_t faultCloseSend(void* send_comm) {
  ncclResult_t closed = inner().closeSend(send_comm);
  ncclResult_t rc;
  bool stall;
  return g_sides[S].take(NetCall::kCloseSend, &rc, &stall) ? rc : closed;
}

template <int S>
ncclResult_t faultCloseRecv(void* recv_comm) {
  ncclResult_t closed = inner().closeRecv(recv_comm);
  ncclResult_t rc;
  bool stall;
  return g_sides[S].take(NetCall::kCloseRecv, &rc, &stall) ? rc : closed;
}

template <int S>
ncclNet_v7_t makeTable() {
  const ncclNet_v7_t& in = inner();
  return {
      .name = kFaultNetName,
      .init = faultInit,
      .devices = in.devices,
      .getProperties = in.getProperties,
      .listen = in.listen,
      .connect = faultConnect<S>,
      .accept = faultAccept<S>,
      .regMr = faultRegMr<S>,
      .regMrDmaBuf = in.regMrDmaBuf,
      .deregMr = in.deregMr,
      .isend = faultIsend<S>,
      .irecv = faultIrecv<S>,
      .iflush = in.iflush,
      .test = faultTest<S>,
      .closeSend = faultCloseSend<S>,
      .closeRecv = faultCloseRecv<S>,
      .closeListen = in.closeListen,
      .getDeviceMr = in.getDeviceMr,
      .irecvConsumed = in.irecvConsumed ? faultIrecvConsumed<S> : nullptr,
  };
}

}  // namespace

const char* netCallName(NetCall call) {
  switch (call) {
    case NetCall::kConnect:
      return "connect";
    case NetCall::kAccept:
      return "accept";
    case NetCall::kRegMr:
      return "regMr";
    case NetCall::kIsend:
      return "isend";
    case NetCall::kIrecv:
      return "irecv";
    case NetCall::kTest:
      return "test";
    case NetCall::kIrecvConsumed:
      return "irecvConsumed";
    case NetCall::kCloseSend:
      return "closeSend";
    case NetCall::kCloseRecv:
      return "closeRecv";
  }
  return "?";
}

Status FaultNet::plugin(int side, transport::NetPlugin** out) {
  static std::mutex mu;
  static ncclNet_v7_t tables[kSides];
  static transport::NetPlugin* plugins[kSides] = {};
  if (side < 0 || side >= kSides)
    return Status(Code::kInvalidArgument, "fault net side " + std::to_string(side));
  std::lock_guard<std::mutex> lock(mu);
  if (plugins[side] == nullptr) {
    if (g_inner == nullptr) {
      transport::NetPlugin* socket = nullptr;
      TCPXP_RETURN_IF_ERROR(transport::NetPlugin::builtinSocket(&socket));
      g_inner = &socket->table();
    }
    tables[side] = side == 0 ? makeTable<0>() : makeTable<1>();
    TCPXP_RETURN_IF_ERROR(transport::NetPlugin::fromTable(
        &tables[side], "fault decorator side " + std::to_string(side), &plugins[side]));
  }
  *out = plugins[side];
  return Status::ok();
}

FaultNet& FaultNet::side(int side) { return g_sides[side]; }

void FaultNet::reset() {
  for (Plan& p : plans_) {
    p.at.store(0, std::memory_order_relaxed);
    p.stall.store(false, std::memory_order_relaxed);
    p.result.store(ncclSuccess, std::memory_order_relaxed);
    p.calls.store(0, std::memory_order_relaxed);
    p.fired.store(0, std::memory_order_relaxed);
  }
  stalled_.store(nullptr, std::memory_order_seq_cst);
}

// The plan's result and kind are stored before `at` (release); take() reads `at` first (acquire).
void FaultNet::failAt(NetCall call, uint64_t nth, ncclResult_t result) {
  Plan& p = plans_[static_cast<int>(call)];
  p.result.store(result, std::memory_order_relaxed);
  p.stall.store(false, std::memory_order_relaxed);
  p.at.store(nth, std::memory_order_release);
}

void FaultNet::stallTestAt(uint64_t nth) {
  Plan& p = plans_[static_cast<int>(NetCall::kTest)];
  p.stall.store(true, std::memory_order_relaxed);
  p.at.store(nth, std::memory_order_release);
}

uint64_t FaultNet::calls(NetCall call) const {
  return plans_[static_cast<int>(call)].calls.load(std::memory_order_acquire);
}

uint64_t FaultNet::fired(NetCall call) const {
  return plans_[static_cast<int>(call)].fired.load(std::memory_order_acquire);
}

bool FaultNet::take(NetCall call, ncclResult_t* result, bool* stall) {
  Plan& p = plans_[static_cast<int>(call)];
  uint64_t n = p.calls.fetch_add(1, std::memory_order_acq_rel) + 1;
  uint64_t at = p.at.load(std::memory_order_acquire);
  if (at == 0 || n != at) return false;
  *result = static_cast<ncclResult_t>(p.result.load(std::memory_order_relaxed));
  *stall = p.stall.load(std::memory_order_relaxed);
  p.fired.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

bool FaultNet::isStalled(void* request) const {
  return stalled_.load(std::memory_order_acquire) == request;
}

void FaultNet::setStalled(void* request) { stalled_.store(request, std::memory_order_release); }

}  // namespace tcpxp::testing
