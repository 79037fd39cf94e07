#include "fault_net.h"

#include <algorithm>
#include <mutex>

#include "transport/device_memory.h"

namespace tcpxp::testing {
namespace {

FaultNet g_sides[FaultNet::kSides];
const ncclNet_v7_t* g_inner = nullptr;  // the socket transport's table, set before any table use

const ncclNet_v7_t& inner() { return *g_inner; }

// The socket transport was initialised by NetPlugin::builtinSocket; its init runs once per process.
ncclResult_t faultInit(ncclDebugLogger_t /*log*/) { return ncclSuccess; }

template <int S>
ncclResult_t faultListen(int dev, void* handle, void** listen_comm) {
  ncclResult_t rc = inner().listen(dev, handle, listen_comm);
  if (rc == ncclSuccess && *listen_comm != nullptr) g_sides[S].onListen();
  return rc;
}

template <int S>
ncclResult_t faultCloseListen(void* listen_comm) {
  g_sides[S].onCloseListen(listen_comm);
  return inner().closeListen(listen_comm);
}

template <int S>
ncclResult_t faultDeregMr(void* comm, void* mhandle) {
  g_sides[S].onDeregMr(mhandle);
  return inner().deregMr(comm, mhandle);
}

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
  g_sides[S].beforeAccept(listen_comm);
  if (g_sides[S].take(NetCall::kAccept, &rc, &stall)) return rc;
  rc = inner().accept(listen_comm, recv_comm, recv_dev_comm);
  if (rc == ncclSuccess && *recv_comm != nullptr) {
    g_sides[S].onAccepted(listen_comm, *recv_comm, recv_dev_comm ? *recv_dev_comm : nullptr);
  }
  return rc;
}

template <int S>
ncclResult_t faultRegMr(void* comm, void* data, int size, int type, void** mhandle) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kRegMr, &rc, &stall)) return rc;
  rc = inner().regMr(comm, data, size, type, mhandle);
  if (rc == ncclSuccess) g_sides[S].onRegMr(*mhandle, type);
  return rc;
}

template <int S>
ncclResult_t faultIsend(void* send_comm, void* data, int size, int tag, void* mhandle,
                        void** request) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kIsend, &rc, &stall)) return rc;
  rc = inner().isend(send_comm, data, size, tag, mhandle, request);
  if (rc == ncclSuccess && *request != nullptr) g_sides[S].onIsend(size);
  return rc;
}

template <int S>
ncclResult_t faultIrecv(void* recv_comm, int n, void** data, int* sizes, int* tags, void** mhandles,
                        void** request) {
  ncclResult_t rc;
  bool stall;
  if (g_sides[S].take(NetCall::kIrecv, &rc, &stall)) return rc;
  rc = inner().irecv(recv_comm, n, data, sizes, tags, mhandles, request);
  if (rc == ncclSuccess && *request != nullptr) {
    g_sides[S].onIrecv(recv_comm, sizes[0], mhandles[0], *request);
  }
  return rc;
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
  rc = inner().test(request, done, sizes);
  if (rc == ncclSuccess && *done == 1) side.onTestDone(request);
  return rc;
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
  g_sides[S].onCloseRecv(recv_comm);
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
      .listen = faultListen<S>,
      .connect = faultConnect<S>,
      .accept = faultAccept<S>,
      .regMr = faultRegMr<S>,
      .regMrDmaBuf = in.regMrDmaBuf,
      .deregMr = faultDeregMr<S>,
      .isend = faultIsend<S>,
      .irecv = faultIrecv<S>,
      .iflush = in.iflush,
      .test = faultTest<S>,
      .closeSend = faultCloseSend<S>,
      .closeRecv = faultCloseRecv<S>,
      .closeListen = faultCloseListen<S>,
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
  std::lock_guard<std::mutex> lock(rec_mu_);
  rec_ = {};
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

NetRecord FaultNet::record() const {
  std::lock_guard<std::mutex> lock(rec_mu_);
  return rec_;
}

void FaultNet::onListen() {
  std::lock_guard<std::mutex> lock(rec_mu_);
  ++rec_.listens;
}

void FaultNet::beforeAccept(void* listen_comm) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  if (accepted_listens_.count(listen_comm) != 0) ++rec_.accepts_after;
}

void FaultNet::onAccepted(void* listen_comm, void* recv_comm, const ncclNetDeviceHandle_v7_t* dev) {
  RecvCommState state;
  if (dev != nullptr && dev->netDeviceType == NCCL_NET_DEVICE_UNPACK && dev->handle != nullptr) {
    // The {meta, bounce_buf, head} struct: device memory for TCPX, host memory in the emulation
    // without a GPU.
    unpackNetDeviceHandle h{};
    if (transport::device::isDevicePointer(dev->handle)) {
      (void)transport::device::copyToHost(&h, dev->handle, sizeof(h));
    } else {
      h = *static_cast<const unpackNetDeviceHandle*>(dev->handle);
    }
    state.meta = h.meta;
  }
  std::lock_guard<std::mutex> lock(rec_mu_);
  ++rec_.accepted;
  accepted_listens_.insert(listen_comm);
  recv_comms_[recv_comm] = state;
}

void FaultNet::onCloseListen(void* listen_comm) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  accepted_listens_.erase(listen_comm);  // its address may be reused by a later listen
}

void FaultNet::onRegMr(void* mhandle, int type) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  mr_types_[mhandle] = type;
}

void FaultNet::onDeregMr(void* mhandle) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  mr_types_.erase(mhandle);
}

void FaultNet::onIsend(int size) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  ++rec_.requests;
  rec_.max_request_bytes = std::max(rec_.max_request_bytes, static_cast<uint64_t>(size));
}

void FaultNet::onIrecv(void* recv_comm, int size, void* mhandle, void* request) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  ++rec_.requests;
  rec_.max_request_bytes = std::max(rec_.max_request_bytes, static_cast<uint64_t>(size));
  gpu_recvs_.erase(request);  // request addresses are reused (slots of a comm, freed comms)
  RecvCommState& comm = recv_comms_[recv_comm];
  int slot = static_cast<int>(comm.irecvs++ % NCCL_NET_DEVICE_UNPACK_MAX_QUEUE_DEPTH);
  auto type = mr_types_.find(mhandle);
  if (type == mr_types_.end() || type->second != NCCL_PTR_CUDA) return;
  ++rec_.gpu_irecvs;
  rec_.max_gpu_irecv_bytes = std::max(rec_.max_gpu_irecv_bytes, static_cast<uint64_t>(size));
  if (comm.meta != nullptr) gpu_recvs_[request] = {recv_comm, comm.meta, slot};
}

void FaultNet::onTestDone(void* request) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  auto it = gpu_recvs_.find(request);
  if (it == gpu_recvs_.end()) return;
  // cnt[slot] is final once test() reported done and stays until irecvConsumed lets the slot's
  // next receive (16 later) be posted.
  const auto* meta = static_cast<const netUnpackMeta*>(it->second.meta);
  uint64_t cnt = 0;
  const void* src = &meta->cnt[it->second.slot];
  if (transport::device::isDevicePointer(src)) {
    (void)transport::device::copyToHost(&cnt, src, sizeof(cnt));
  } else {
    cnt = *static_cast<const uint64_t*>(src);
  }
  ++rec_.gpu_irecvs_checked;
  rec_.max_gpu_irecv_fragments = std::max(rec_.max_gpu_irecv_fragments, cnt);
  gpu_recvs_.erase(it);
}

void FaultNet::onCloseRecv(void* recv_comm) {
  std::lock_guard<std::mutex> lock(rec_mu_);
  recv_comms_.erase(recv_comm);
  std::erase_if(gpu_recvs_, [&](const auto& kv) { return kv.second.recv_comm == recv_comm; });
}

}  // namespace tcpxp::testing
