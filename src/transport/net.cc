#include "transport/net.h"

#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "transport/abi/net_v7.h"
#include "transport/abi/net_vectored.h"
#include "transport/device_memory.h"
#include "transport/plugin_loader.h"
#include "transport/socket/socket_config.h"

namespace tcpxp::transport {
namespace {

static_assert(kNetHandleBytes == NCCL_NET_HANDLE_MAXSIZE);

// The one place ncclResult_t becomes a Status. The plugin has logged the details already.
Status check(ncclResult_t rc, const char* call, const std::string& plugin) {
  switch (rc) {
    case ncclSuccess:
      return Status::ok();
    case ncclUnhandledCudaError:
      return Status(Code::kCudaError, plugin + " " + call + ": CUDA error");
    case ncclSystemError:
      return Status(Code::kSystemError, plugin + " " + call + ": system error");
    case ncclInternalError:
      return Status(Code::kPluginError, plugin + " " + call + ": internal error (a rule broken?)");
    case ncclInvalidArgument:
      return Status(Code::kInvalidArgument, plugin + " " + call + ": invalid argument");
    case ncclInvalidUsage:
      return Status(Code::kRuleViolation, plugin + " " + call + ": invalid usage");
    case ncclRemoteError:
      return Status(Code::kRemoteError, plugin + " " + call + ": remote error (peer gone?)");
    case ncclInProgress:
      return Status(Code::kPluginError, plugin + " " + call + ": unexpected ncclInProgress");
  }
  return Status(Code::kPluginError, plugin + " " + call + ": unknown result " + std::to_string(rc));
}

// The device handle struct lives in GPU memory for TCPX and in host memory for the built-in
// emulation without a GPU.
Status copyUnpackHandle(const void* src, unpackNetDeviceHandle* out, bool* on_device) {
  if (src == nullptr) return Status(Code::kPluginError, "UNPACK accept returned no device handle");
  *on_device = device::isDevicePointer(src);
  if (*on_device) return device::copyToHost(out, src, sizeof(*out));
  std::memcpy(out, src, sizeof(*out));
  return Status::ok();
}

Status checkSize(size_t size, const char* call) {
  if (size > Net::kMaxRequestBytes) {
    return Status(Code::kInvalidArgument, std::string(call) + " of " + std::to_string(size) +
                                              " bytes: one request must stay under 4 MiB");
  }
  return Status::ok();
}

static_assert(Net::kMaxStretches == TCPXP_NET_MAX_STRETCHES);

// The stretches in the extension's layout; checks what the transport cannot see (count, sum).
Status toAbiStretches(const NetStretch* in, size_t count, const char* call,
                      tcpxpNetStretch_v1_t* out) {
  if (count < 1 || count > Net::kMaxStretches) {
    return Status(Code::kInvalidArgument, std::string(call) + " of " + std::to_string(count) +
                                              " stretches: a vectored request takes 1 .. " +
                                              std::to_string(Net::kMaxStretches));
  }
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    TCPXP_RETURN_IF_ERROR(checkSize(in[i].size, call));
    total += in[i].size;
    out[i] = {in[i].data, in[i].size, in[i].mhandle};
  }
  return checkSize(total, call);
}

}  // namespace

const std::string& Net::name() const { return plugin_->name(); }

ChunkPreference Net::preferredChunk() const {
  return transport::preferredChunk(isBuiltinName(name()) ? TransportKind::kBuiltin
                                                         : TransportKind::kTcpx);
}

Status Net::devices(int* count) const {
  return check(plugin_->table().devices(count), "devices", name());
}

Status Net::properties(int dev, NetProperties* out) const {
  ncclNetProperties_v7_t p{};
  TCPXP_RETURN_IF_ERROR(check(plugin_->table().getProperties(dev, &p), "getProperties", name()));
  NetProperties props;
  props.name = p.name ? p.name : "";
  props.pci_path = p.pciPath ? p.pciPath : "";
  props.supports_host = (p.ptrSupport & NCCL_PTR_HOST) != 0;
  props.supports_cuda = (p.ptrSupport & NCCL_PTR_CUDA) != 0;
  props.unpack = p.netDeviceType == NCCL_NET_DEVICE_UNPACK;
  // Without a usable GPU (tests that stand host buffers in for GPU memory) nothing could be
  // staged: the transport then takes every such transfer.
  if (isBuiltinName(name()) && props.supports_cuda && !props.unpack && device::gpuUsable()) {
    const int64_t max = socket::SocketConfig::fromEnv().gpu_direct_max_bytes;
    props.gpu_direct_max_bytes = max > 0 ? static_cast<size_t>(max) : SIZE_MAX;
  }
  props.speed_mbps = p.speed;
  props.max_recvs = p.maxRecvs;
  *out = props;
  return Status::ok();
}

Status Net::listen(int dev, NetHandle* handle, void** listen_comm) const {
  handle->fill(0);
  return check(plugin_->table().listen(dev, handle->data(), listen_comm), "listen", name());
}

Status Net::connect(int dev, NetHandle* handle, void** send_comm) const {
  ncclNetDeviceHandle_v7_t* dev_handle = nullptr;
  return check(plugin_->table().connect(dev, handle->data(), send_comm, &dev_handle), "connect",
               name());
}

Status Net::accept(void* listen_comm, void** recv_comm, UnpackHandle* unpack) const {
  // TCPX writes the device handle into caller memory and crashes without it: 16-byte aligned.
  alignas(16) ncclNetDeviceHandle_v7_t storage{};
  ncclNetDeviceHandle_v7_t* dev_handle = &storage;
  TCPXP_RETURN_IF_ERROR(
      check(plugin_->table().accept(listen_comm, recv_comm, &dev_handle), "accept", name()));
  if (*recv_comm != nullptr && dev_handle != nullptr &&
      dev_handle->netDeviceType == NCCL_NET_DEVICE_UNPACK && unpack != nullptr) {
    // Read the 24-byte {meta, bounce_buf, head} struct once (device memory for TCPX).
    unpackNetDeviceHandle info{};
    Status st = copyUnpackHandle(dev_handle->handle, &info, &unpack->on_device);
    if (!st.isOk()) return st;
    unpack->meta = info.meta;
    unpack->bounce = info.bounce_buf;
  }
  return Status::ok();
}

Status Net::regMr(void* comm, void* data, size_t size, MemKind kind, void** mhandle) const {
  if (size > static_cast<size_t>(INT32_MAX)) {
    return Status(Code::kInvalidArgument, "registration of " + std::to_string(size) +
                                              " bytes: ncclNet v7 registrations are under 2 GiB");
  }
  int type = kind == MemKind::kCuda ? NCCL_PTR_CUDA : NCCL_PTR_HOST;
  return check(plugin_->table().regMr(comm, data, static_cast<int>(size), type, mhandle), "regMr",
               name());
}

Status Net::deregMr(void* comm, void* mhandle) const {
  return check(plugin_->table().deregMr(comm, mhandle), "deregMr", name());
}

Status Net::isend(void* send_comm, void* data, size_t size, void* mhandle, void** request) const {
  TCPXP_RETURN_IF_ERROR(checkSize(size, "isend"));
  *request = nullptr;
  return check(plugin_->table().isend(send_comm, data, static_cast<int>(size), 0, mhandle, request),
               "isend", name());
}

Status Net::irecv(void* recv_comm, void* data, size_t size, void* mhandle, void** request) const {
  TCPXP_RETURN_IF_ERROR(checkSize(size, "irecv"));
  *request = nullptr;
  int sizes[1] = {static_cast<int>(size)};
  int tags[1] = {0};
  void* datas[1] = {data};
  void* mhandles[1] = {mhandle};
  return check(plugin_->table().irecv(recv_comm, 1, datas, sizes, tags, mhandles, request), "irecv",
               name());
}

bool Net::hasVectored() const { return plugin_->vectored() != nullptr; }

Status Net::isendv(void* send_comm, const NetStretch* stretches, size_t count,
                   void** request) const {
  *request = nullptr;
  if (!hasVectored()) return Status(Code::kNotSupported, name() + ": no vectored requests");
  tcpxpNetStretch_v1_t abi[kMaxStretches];
  TCPXP_RETURN_IF_ERROR(toAbiStretches(stretches, count, "isendv", abi));
  return check(plugin_->vectored()->isendv(send_comm, abi, static_cast<int>(count), request),
               "isendv", name());
}

Status Net::irecvv(void* recv_comm, const NetStretch* stretches, size_t count,
                   void** request) const {
  *request = nullptr;
  if (!hasVectored()) return Status(Code::kNotSupported, name() + ": no vectored requests");
  tcpxpNetStretch_v1_t abi[kMaxStretches];
  TCPXP_RETURN_IF_ERROR(toAbiStretches(stretches, count, "irecvv", abi));
  return check(plugin_->vectored()->irecvv(recv_comm, abi, static_cast<int>(count), request),
               "irecvv", name());
}

Status Net::test(void* request, bool* done) const {
  int d = 0;
  TCPXP_RETURN_IF_ERROR(check(plugin_->table().test(request, &d, nullptr), "test", name()));
  *done = d != 0;
  return Status::ok();
}

bool Net::needsConsume() const { return plugin_->table().irecvConsumed != nullptr; }

Status Net::irecvConsumed(void* recv_comm, void* request) const {
  if (!needsConsume()) return Status::ok();
  return check(plugin_->table().irecvConsumed(recv_comm, 1, request), "irecvConsumed", name());
}

Status Net::closeSend(void* send_comm) const {
  return check(plugin_->table().closeSend(send_comm), "closeSend", name());
}
Status Net::closeRecv(void* recv_comm) const {
  return check(plugin_->table().closeRecv(recv_comm), "closeRecv", name());
}
Status Net::closeListen(void* listen_comm) const {
  return check(plugin_->table().closeListen(listen_comm), "closeListen", name());
}

}  // namespace tcpxp::transport
