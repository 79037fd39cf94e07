#include "fuzz/mem_net.h"

#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "transport/abi/net_v7.h"

namespace tcpxp::fuzz {
namespace {

constexpr char kHandleMagic[8] = {'M', 'E', 'M', 'N', 'E', 'T', '0', '1'};

// One direction of one channel: the messages sent and not yet received.
struct Pipe {
  std::deque<std::vector<uint8_t>> messages;
  size_t bytes = 0;
  bool send_closed = false;
  bool recv_closed = false;
};

struct Comm;
struct Request {
  Comm* comm;
  bool sending;
  uint8_t* data;
  int size;
  bool done = false;
  bool failed = false;
};

struct Comm {
  std::shared_ptr<Pipe> pipe;
  bool sending;
  std::deque<std::unique_ptr<Request>> requests;  // in posting order, until tested done
};

struct Listen {
  uint64_t id;
  std::deque<std::shared_ptr<Pipe>> connected;  // connected, not accepted yet
};

struct Mr {
  void* data;
  int size;
};

std::mutex mu;
std::unordered_map<uint64_t, Listen*> listens;
uint64_t next_listen = 1;

// Moves what can move on the comm, oldest request first (the order TCP keeps).
void progress(Comm* c) {
  Pipe& p = *c->pipe;
  for (auto& r : c->requests) {
    if (r->done || r->failed) continue;
    if (c->sending) {
      if (p.recv_closed) {
        r->failed = true;
        continue;
      }
      auto n = static_cast<size_t>(r->size);
      if (p.bytes != 0 && p.bytes + n > kPipeBytes) return;
      p.messages.emplace_back(r->data, r->data + n);
      p.bytes += n;
      r->done = true;
    } else {
      if (p.messages.empty()) {
        if (p.send_closed) r->failed = true;
        if (r->failed) continue;
        return;
      }
      std::vector<uint8_t>& m = p.messages.front();
      if (m.size() > static_cast<size_t>(r->size)) {
        r->failed = true;  // a truncated receive: the socket transport refuses it too
        continue;
      }
      if (!m.empty()) std::memcpy(r->data, m.data(), m.size());
      r->size = static_cast<int>(m.size());
      p.bytes -= m.size();
      p.messages.pop_front();
      r->done = true;
    }
  }
}

ncclResult_t memInit(ncclDebugLogger_t) { return ncclSuccess; }

ncclResult_t memDevices(int* ndev) {
  *ndev = 1;
  return ncclSuccess;
}

ncclResult_t memGetProperties(int dev, ncclNetProperties_v7_t* props) {
  if (dev != 0) return ncclInvalidArgument;
  static char name[] = "mem0";
  *props = {};
  props->name = name;
  props->pciPath = nullptr;
  props->ptrSupport = NCCL_PTR_HOST;
  props->speed = 100000;
  props->maxComms = 1 << 20;
  props->maxRecvs = 1;
  props->netDeviceType = NCCL_NET_DEVICE_HOST;
  return ncclSuccess;
}

ncclResult_t memListen(int dev, void* handle, void** listen_comm) {
  if (dev != 0) return ncclInvalidArgument;
  std::lock_guard<std::mutex> lock(mu);
  auto* l = new Listen{next_listen++, {}};
  listens[l->id] = l;
  auto* h = static_cast<uint8_t*>(handle);
  std::memcpy(h, kHandleMagic, sizeof kHandleMagic);
  std::memcpy(h + sizeof kHandleMagic, &l->id, sizeof l->id);
  *listen_comm = l;
  return ncclSuccess;
}

ncclResult_t memConnect(int dev, void* handle, void** send_comm, ncclNetDeviceHandle_v7_t**) {
  if (dev != 0) return ncclInvalidArgument;
  const auto* h = static_cast<const uint8_t*>(handle);
  uint64_t id = 0;
  std::memcpy(&id, h + sizeof kHandleMagic, sizeof id);
  std::lock_guard<std::mutex> lock(mu);
  auto it = listens.find(id);
  if (std::memcmp(h, kHandleMagic, sizeof kHandleMagic) != 0 || it == listens.end()) {
    return ncclSystemError;  // as a refused TCP connect
  }
  auto pipe = std::make_shared<Pipe>();
  it->second->connected.push_back(pipe);
  *send_comm = new Comm{pipe, true, {}};
  return ncclSuccess;
}

ncclResult_t memAccept(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_v7_t**) {
  auto* l = static_cast<Listen*>(listen_comm);
  std::lock_guard<std::mutex> lock(mu);
  *recv_comm = nullptr;
  if (l->connected.empty()) return ncclSuccess;
  *recv_comm = new Comm{l->connected.front(), false, {}};
  l->connected.pop_front();
  return ncclSuccess;
}

ncclResult_t memRegMr(void*, void* data, int size, int type, void** mhandle) {
  if (type != NCCL_PTR_HOST) return ncclInvalidArgument;
  *mhandle = new Mr{data, size};
  return ncclSuccess;
}

ncclResult_t memDeregMr(void*, void* mhandle) {
  delete static_cast<Mr*>(mhandle);
  return ncclSuccess;
}

ncclResult_t post(void* comm, bool sending, void* data, int size, void** request) {
  auto* c = static_cast<Comm*>(comm);
  if (c->sending != sending || size < 0) return ncclInvalidUsage;
  std::lock_guard<std::mutex> lock(mu);
  c->requests.push_back(
      std::make_unique<Request>(Request{c, sending, static_cast<uint8_t*>(data), size}));
  *request = c->requests.back().get();
  progress(c);
  return ncclSuccess;
}

ncclResult_t memIsend(void* send_comm, void* data, int size, int, void*, void** request) {
  return post(send_comm, true, data, size, request);
}

ncclResult_t memIrecv(void* recv_comm, int n, void** data, int* sizes, int*, void**,
                      void** request) {
  if (n != 1) return ncclInvalidUsage;
  return post(recv_comm, false, data[0], sizes[0], request);
}

ncclResult_t memTest(void* request, int* done, int* sizes) {
  auto* r = static_cast<Request*>(request);
  std::lock_guard<std::mutex> lock(mu);
  Comm* c = r->comm;
  progress(c);
  *done = 0;
  if (r->failed) return ncclSystemError;
  if (!r->done) return ncclSuccess;
  *done = 1;
  if (sizes) *sizes = r->size;
  for (auto it = c->requests.begin(); it != c->requests.end(); ++it) {
    if (it->get() == r) {
      c->requests.erase(it);
      break;
    }
  }
  return ncclSuccess;
}

ncclResult_t closeComm(void* comm, bool sending) {
  auto* c = static_cast<Comm*>(comm);
  std::lock_guard<std::mutex> lock(mu);
  (sending ? c->pipe->send_closed : c->pipe->recv_closed) = true;
  delete c;
  return ncclSuccess;
}

ncclResult_t memCloseSend(void* send_comm) { return closeComm(send_comm, true); }
ncclResult_t memCloseRecv(void* recv_comm) { return closeComm(recv_comm, false); }

ncclResult_t memCloseListen(void* listen_comm) {
  auto* l = static_cast<Listen*>(listen_comm);
  std::lock_guard<std::mutex> lock(mu);
  for (auto& pipe : l->connected) pipe->recv_closed = true;  // never accepted
  listens.erase(l->id);
  delete l;
  return ncclSuccess;
}

const ncclNet_v7_t kTable = {
    kMemNetName,  memInit,      memDevices,     memGetProperties, memListen, memConnect, memAccept,
    memRegMr,     nullptr,      memDeregMr,     memIsend,         memIrecv,  nullptr,    memTest,
    memCloseSend, memCloseRecv, memCloseListen, nullptr,          nullptr,
};

}  // namespace

Status memNet(transport::NetPlugin** out) {
  static transport::NetPlugin* plugin = nullptr;
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    status = transport::NetPlugin::fromTable(&kTable, "the fuzzer's in-memory transport", &plugin);
  });
  if (!status.isOk()) return status;
  *out = plugin;
  return Status::ok();
}

}  // namespace tcpxp::fuzz
