// The built-in socket transport as an ncclNet v7 table: thin C entry points that check their
// arguments and forward to the comm classes.
#include "transport/socket/socket_net.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "common/cpu_affinity.h"
#include "common/log.h"
#include "transport/device_memory.h"
#include "transport/socket/socket_comm.h"
#include "transport/socket/socket_devices.h"

namespace tcpxp::transport::socket {
namespace {

struct State {
  SocketConfig config;
  std::vector<NetDevice> devices;
};
std::atomic<bool> g_initialised{false};
State* g_state = nullptr;  // written once by init, before g_initialised is released

bool ready(const char* what) {
  if (g_initialised.load(std::memory_order_acquire)) return true;
  LOG_WARN("%s called before init()", what);
  return false;
}

ncclResult_t netInit(ncclDebugLogger_t /*logger: this transport logs through tcpx-p2p's log*/) {
  static std::atomic<bool> called{false};
  if (called.exchange(true)) {
    LOG_WARN(
        "init() called a second time in this process; TCPX fails here too (init once per "
        "process and share the plugin)");
    return ncclInternalError;
  }
  auto* state = new State();
  state->config = SocketConfig::fromEnv();
  state->devices = discoverDevices(state->config.ifname);
  if (state->devices.empty()) {
    LOG_WARN(
        "socket transport: no usable network interface matches '%s' (set UCCL_SOCKET_IFNAME, "
        "e.g. UCCL_SOCKET_IFNAME=lo)",
        state->config.ifname.c_str());
    return ncclSystemError;
  }
  for (size_t i = 0; i < state->devices.size(); ++i) {
    LOG_INFO("socket transport device %zu: %s %s, %d Mb/s%s", i, state->devices[i].name.c_str(),
             state->devices[i].addr.toString().c_str(), state->devices[i].speed_mbps,
             state->config.unpack       ? ", UNPACK emulation"
             : state->config.gpu_direct ? ", GPU memory moved by the helpers"
                                        : "");
  }
  LOG_INFO("socket transport: %d data sockets per comm, I/O %s (UCCL_SOCKET_HELPERS)",
           state->config.nsocks,
           state->config.callerIo() ? "in the caller's isend/test" : "on helper threads");
  g_state = state;
  g_initialised.store(true, std::memory_order_release);
  return ncclSuccess;
}

ncclResult_t netDevices(int* ndev) {
  if (!ready("devices()") || ndev == nullptr) return ncclInternalError;
  *ndev = static_cast<int>(g_state->devices.size());
  return ncclSuccess;
}

ncclResult_t netGetProperties(int dev, ncclNetProperties_v7_t* props) {
  if (!ready("getProperties()")) return ncclInternalError;
  if (props == nullptr || dev < 0 || dev >= static_cast<int>(g_state->devices.size())) {
    LOG_WARN("getProperties: device %d does not exist (%zu devices)", dev, g_state->devices.size());
    return ncclInvalidArgument;
  }
  const NetDevice& d = g_state->devices[dev];
  *props = {};
  props->name = const_cast<char*>(d.name.c_str());
  props->pciPath = d.pci_path.empty() ? nullptr : const_cast<char*>(d.pci_path.c_str());
  props->guid = static_cast<uint64_t>(dev);
  props->ptrSupport = NCCL_PTR_HOST | (g_state->config.movesGpuMemory() ? NCCL_PTR_CUDA : 0);
  props->speed = d.speed_mbps;
  props->port = 0;
  props->latency = 0;
  props->maxComms = 65536;
  props->maxRecvs = 1;
  props->netDeviceType = g_state->config.unpack ? NCCL_NET_DEVICE_UNPACK : NCCL_NET_DEVICE_HOST;
  props->netDeviceVersion = g_state->config.unpack ? NCCL_NET_DEVICE_UNPACK_VERSION : 0;
  return ncclSuccess;
}

ncclResult_t netListen(int dev, void* handle, void** listen_comm) {
  if (!ready("listen()")) return ncclInternalError;
  if (handle == nullptr || listen_comm == nullptr) return ncclInvalidArgument;
  *listen_comm = nullptr;
  ListenComm* lc = nullptr;
  ncclResult_t rc = ListenComm::create(dev, handle, &lc);
  if (rc == ncclSuccess) *listen_comm = lc;
  return rc;
}

ncclResult_t netConnect(int dev, void* handle, void** send_comm,
                        ncclNetDeviceHandle_v7_t** /*sendDevComm: unused, as in TCPX*/) {
  if (!ready("connect()")) return ncclInternalError;
  if (handle == nullptr || send_comm == nullptr) return ncclInvalidArgument;
  SendComm* sc = nullptr;
  ncclResult_t rc = connectStep(dev, handle, &sc);
  *send_comm = sc;
  return rc;
}

ncclResult_t netAccept(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_v7_t** dev_handle) {
  if (!ready("accept()")) return ncclInternalError;
  if (listen_comm == nullptr || recv_comm == nullptr) return ncclInvalidArgument;
  RecvComm* rc_comm = nullptr;
  ncclResult_t rc = static_cast<ListenComm*>(listen_comm)->accept(&rc_comm, dev_handle);
  *recv_comm = rc_comm;
  return rc;
}

ncclResult_t netRegMr(void* comm, void* data, int size, int type, void** mhandle) {
  if (comm == nullptr || mhandle == nullptr || size < 0) {
    LOG_WARN("regMr: needs a comm, an mhandle out-pointer and a size >= 0 (got %d)", size);
    return ncclInvalidArgument;
  }
  *mhandle = nullptr;
  int cuda_device = -1;
  if (type == NCCL_PTR_CUDA) {
    if (!g_state->config.movesGpuMemory()) {
      LOG_WARN(
          "regMr: the socket transport moves host memory only (ptrSupport HOST); enable "
          "UCCL_SOCKET_GPU_DIRECT=1, or UCCL_SOCKET_UNPACK=1 for the TCPX-style GPU path");
      return ncclInvalidArgument;
    }
    if (reinterpret_cast<uintptr_t>(data) % 4096 != 0) {
      LOG_WARN("regMr(NCCL_PTR_CUDA) at %p: TCPX needs a 4 KiB-aligned address", data);
      return ncclInvalidArgument;
    }
    if (device::gpuUsable()) {
      cuda_device = device::deviceOf(data);
      if (cuda_device < 0) {
        LOG_WARN("regMr(NCCL_PTR_CUDA) at %p: not GPU memory", data);
        return ncclInvalidArgument;
      }
    } else {
      // No GPU: 4 KiB-aligned host memory stands for the "device" buffer (UNPACK: its bounce
      // pages are in host memory too), so CPU-only machines still test these paths.
      static std::once_flag logged;
      std::call_once(logged, [] {
        LOG_INFO(
            "regMr(NCCL_PTR_CUDA): no usable GPU; 4 KiB-aligned host memory stands for device "
            "buffers (UNPACK: bounce pages in host memory; GPU direct: moved as host memory)");
      });
    }
  } else if (type != NCCL_PTR_HOST) {
    LOG_WARN("regMr: memory type %d is not supported (HOST=1%s)", type,
             g_state->config.movesGpuMemory() ? ", CUDA=2" : "");
    return ncclInvalidArgument;
  }
  *mhandle =
      new Registration{static_cast<char*>(data), static_cast<size_t>(size), type, cuda_device};
  return ncclSuccess;
}

ncclResult_t netDeregMr(void* /*comm*/, void* mhandle) {
  delete static_cast<Registration*>(mhandle);
  return ncclSuccess;
}

ncclResult_t netIsend(void* send_comm, void* data, int size, int /*tag: ignored, as in TCPX*/,
                      void* mhandle, void** request) {
  if (send_comm == nullptr || request == nullptr) return ncclInvalidArgument;
  return static_cast<SendComm*>(send_comm)->isend(data, size, mhandle, request);
}

ncclResult_t netIrecv(void* recv_comm, int n, void** data, int* sizes, int* /*tags*/,
                      void** mhandles, void** request) {
  if (recv_comm == nullptr || request == nullptr || data == nullptr || sizes == nullptr ||
      mhandles == nullptr) {
    return ncclInvalidArgument;
  }
  return static_cast<RecvComm*>(recv_comm)->irecv(n, data, sizes, mhandles, request);
}

ncclResult_t netIsendv(void* send_comm, const tcpxpNetStretch_v1_t* stretches, int n,
                       void** request) {
  if (send_comm == nullptr || request == nullptr) return ncclInvalidArgument;
  return static_cast<SendComm*>(send_comm)->isendv(stretches, n, request);
}

ncclResult_t netIrecvv(void* recv_comm, const tcpxpNetStretch_v1_t* stretches, int n,
                       void** request) {
  if (recv_comm == nullptr || request == nullptr) return ncclInvalidArgument;
  return static_cast<RecvComm*>(recv_comm)->irecvv(stretches, n, request);
}

ncclResult_t netIflush(void*, int, void**, int*, void**, void** request) {
  // Host-memory receives need no flush; TCPX's own iflush must never be called either.
  if (request) *request = nullptr;
  LOG_WARN("iflush() is not supported (TCPX rule: never call it)");
  return ncclInternalError;
}

ncclResult_t netTest(void* request, int* done, int* /*sizes: never written, as in TCPX*/) {
  if (request == nullptr || done == nullptr) return ncclInvalidArgument;
  switch (*static_cast<RequestKind*>(request)) {
    case RequestKind::kSend: {
      auto* req = static_cast<SendRequest*>(request);
      return req->comm->test(req, done);
    }
    case RequestKind::kRecv: {
      auto* req = static_cast<RecvRequest*>(request);
      return req->comm->test(req, done);
    }
  }
  LOG_WARN("test() on %p: not a request of this transport", request);
  return ncclInvalidArgument;
}

ncclResult_t netCloseSend(void* send_comm) {
  delete static_cast<SendComm*>(send_comm);
  return ncclSuccess;
}

ncclResult_t netCloseRecv(void* recv_comm) {
  delete static_cast<RecvComm*>(recv_comm);
  return ncclSuccess;
}

ncclResult_t netCloseListen(void* listen_comm) {
  delete static_cast<ListenComm*>(listen_comm);
  return ncclSuccess;
}

ncclResult_t netGetDeviceMr(void*, void*, void** dptr_mhandle) {
  if (dptr_mhandle) *dptr_mhandle = nullptr;
  return ncclSuccess;
}

ncclResult_t netIrecvConsumed(void* recv_comm, int n, void* request) {
  if (recv_comm == nullptr) return ncclInvalidArgument;
  return static_cast<RecvComm*>(recv_comm)->consumed(n, request);
}

const ncclNet_v7_t kSocketNet = {
    .name = kSocketNetName,
    .init = netInit,
    .devices = netDevices,
    .getProperties = netGetProperties,
    .listen = netListen,
    .connect = netConnect,
    .accept = netAccept,
    .regMr = netRegMr,
    .regMrDmaBuf = nullptr,  // as in TCPX
    .deregMr = netDeregMr,
    .isend = netIsend,
    .irecv = netIrecv,
    .iflush = netIflush,
    .test = netTest,
    .closeSend = netCloseSend,
    .closeRecv = netCloseRecv,
    .closeListen = netCloseListen,
    .getDeviceMr = netGetDeviceMr,
    .irecvConsumed = netIrecvConsumed,
};

const tcpxpNetVectored_v1_t kSocketVectored = {
    .isendv = netIsendv,
    .irecvv = netIrecvv,
};

}  // namespace

const tcpxpNetVectored_v1_t* socketVectoredOps() {
  if (!g_initialised.load(std::memory_order_acquire) || !g_state->config.iov) return nullptr;
  return &kSocketVectored;
}

const SocketConfig& config() { return g_state->config; }
const std::vector<NetDevice>& devices() { return g_state->devices; }

int pinNodeFor(int dev) {
  if (!pinningWanted() || dev < 0 || dev >= static_cast<int>(g_state->devices.size())) return -1;
  return numaNodeOfNet(g_state->devices[dev].name);
}

void tuneDataSocket(int fd) {
  setNoDelay(fd);
  int bytes = g_state->config.sock_buf_bytes;
  if (bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  }
}

const ncclNet_v7_t* socketNetTable() { return &kSocketNet; }

}  // namespace tcpxp::transport::socket
