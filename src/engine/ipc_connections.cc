#include "engine/ipc_connections.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "engine/engine_config.h"

namespace tcpxp::engine {

using datapath::IpcCopier;
using datapath::IpcImports;
using datapath::IpcInfo;

IpcConnections::IpcConnections(Config config, Completions& completions, NewId new_id)
    : config_(std::move(config)), completions_(completions), new_id_(std::move(new_id)) {
  std::string bdf;
  if (!config_.bdf.empty() && normalizeBdf(config_.bdf, &bdf).isOk()) config_.bdf = bdf;
}

IpcConnections::~IpcConnections() {
  // The copier first: its destructor waits for the copies in flight, whose completions come
  // back here (mu_) and release imports; then the imports close their handles.
  std::unique_ptr<IpcCopier> copier;
  {
    std::lock_guard lock(mu_);
    copier = std::move(copier_);
  }
  copier.reset();
  std::lock_guard lock(mu_);
  conns_.clear();
}

std::string IpcConnections::describe(int gpu) {
#ifndef TCPXP_HAVE_CUDA
  (void)gpu;
  return "not available: built without CUDA (TCPXP_CUDA=OFF)";
#else
  if (gpu < 0) return "host-only endpoint: connect_local/accept_local meet, no IPC copies";
  return "CUDA IPC: connect_local/accept_local, *_ipc calls (connect() to this host stays on TCP)";
#endif
}

LocalPeer IpcConnections::self() const {
  LocalPeer p;
  p.bdf = config_.bdf;
  p.pid = static_cast<uint32_t>(::getpid());
  p.gpu = config_.gpu;
  return p;
}

Status IpcConnections::connect(const std::string& remote_bdf,
                               const std::function<bool()>& interrupted, ConnId* out) {
  std::string bdf;
  if (!remote_bdf.empty()) TCPXP_RETURN_IF_ERROR(normalizeBdf(remote_bdf, &bdf));
  LocalPeer peer;
  TCPXP_RETURN_IF_ERROR(dialLocal(rendezvousName(config_.scope, bdf), self(), config_.timeout_ms,
                                  interrupted, &peer));
  if (peer.bdf != bdf) {
    return Status(Code::kProtocolError, "connect_local: the acceptor of " + bdf +
                                            " says it is on GPU '" + peer.bdf + "'");
  }
  TCPXP_RETURN_IF_ERROR(addConn(peer, out));
  LOG_INFO("connect_local: conn %lu to pid %u on GPU %s", static_cast<unsigned long>(*out),
           peer.pid, bdf.empty() ? "(host)" : bdf.c_str());
  return Status::ok();
}

Status IpcConnections::addConn(const LocalPeer& peer, ConnId* out) {
  ConnId id = 0;
  TCPXP_RETURN_IF_ERROR(new_id_(&id));
  std::lock_guard lock(mu_);
  Conn& c = conns_[id];
  c.peer = peer;
  c.local = true;
  *out = id;
  return Status::ok();
}

Status IpcConnections::accept(const std::function<bool()>& interrupted, int64_t timeout_ms,
                              std::string* remote_bdf, ConnId* out) {
  LocalPeer peer;
  int64_t hello_ms = std::min<int64_t>(config_.timeout_ms, kHelloDeadlineMs);
  TCPXP_RETURN_IF_ERROR(acceptLocal(rendezvousName(config_.scope, config_.bdf), self(), timeout_ms,
                                    hello_ms, interrupted, &peer));
  TCPXP_RETURN_IF_ERROR(addConn(peer, out));
  *remote_bdf = peer.bdf;
  LOG_INFO("accept_local: conn %lu from pid %u on GPU %s", static_cast<unsigned long>(*out),
           peer.pid, peer.bdf.empty() ? "(host)" : peer.bdf.c_str());
  return Status::ok();
}

bool IpcConnections::isLocal(ConnId conn) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(conn);
  return it != conns_.end() && it->second.local;
}

Status IpcConnections::close(ConnId conn, bool local) {
  std::unique_lock lock(mu_);
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.local != local) {
    if (!local) return Status::ok();
    return Status(Code::kNotFound, "unknown local conn_id " + std::to_string(conn));
  }
  // Its copies may still touch the peer's memory through its imports: they finish first.
  cv_.wait(lock, [&] {
    auto i = conns_.find(conn);
    return i == conns_.end() || i->second.in_flight == 0;
  });
  conns_.erase(conn);
  return Status::ok();
}

Status IpcConnections::advertise(void* ptr, size_t size, datapath::IpcBlob* out) {
  if (ptr == nullptr || size == 0) {
    return Status(Code::kInvalidArgument, "advertise_ipc: null pointer or size 0");
  }
  IpcInfo info;
  TCPXP_RETURN_IF_ERROR(datapath::exportGpuBuffer(ptr, size, &info));
  datapath::encodeIpcInfo(info, out->data());
  return Status::ok();
}

Status IpcConnections::copier(IpcCopier** out) {
  if (!copier_) TCPXP_RETURN_IF_ERROR(IpcCopier::create(config_.gpu, &copier_));
  *out = copier_.get();
  return Status::ok();
}

Status IpcConnections::transfer(bool write, ConnId conn, std::span<const IpcSegment> segs,
                                XferId* out) {
  const char* what = write ? "write_ipc" : "read_ipc";
  if (segs.empty()) return Status(Code::kInvalidArgument, std::string(what) + ": no buffers");
  // Every check before the first copy starts: a bad argument moves nothing.
  std::vector<IpcInfo> infos(segs.size());
  for (size_t i = 0; i < segs.size(); ++i) {
    const IpcSegment& s = segs[i];
    std::string at = std::string(what) + ": buffer " + std::to_string(i) + ": ";
    Status st = datapath::decodeIpcInfo(s.info.data(), s.info.size(), &infos[i]);
    if (!st.isOk()) return Status(st.code(), at + st.message());
    if (s.ptr == nullptr || s.size == 0) {
      return Status(Code::kInvalidArgument, at + "null pointer or size 0");
    }
    if (s.size > infos[i].size) {
      return Status(Code::kInvalidArgument, at + std::to_string(s.size) + " bytes, more than the " +
                                                std::to_string(infos[i].size) +
                                                " the peer advertised");
    }
  }
  if (config_.gpu < 0) {
    return Status(Code::kNotSupported,
                  std::string(what) + ": this endpoint has no GPU (CUDA IPC copies GPU memory)");
  }
#ifdef TCPXP_HAVE_CUDA
  for (size_t i = 0; i < segs.size(); ++i) {
    int dev = -1;
    if (!datapath::isDeviceMemory(segs[i].ptr, &dev)) {
      return Status(Code::kInvalidArgument,
                    std::string(what) + ": buffer " + std::to_string(i) +
                        " is not GPU memory of this process (host memory cannot take the CUDA "
                        "IPC path; use write/read on a network connection)");
    }
  }
#endif
  std::lock_guard lock(mu_);
  auto it = conns_.find(conn);
  if (it == conns_.end()) {
    // A network connection (the caller checked it is live): IPC copies on it keep their own
    // imports, dropped when it closes (UCCL's C API does IPC on such connections too).
    it = conns_.emplace(conn, Conn{}).first;
  }
  Conn& c = it->second;
  if (!c.imports) c.imports = std::make_unique<IpcImports>(config_.gpu, config_.max_imports);
  IpcCopier* cp = nullptr;
  TCPXP_RETURN_IF_ERROR(copier(&cp));
  std::vector<IpcImports::Entry*> held;
  std::vector<IpcCopier::Copy> copies;
  for (size_t i = 0; i < segs.size(); ++i) {
    char* remote = nullptr;
    IpcImports::Entry* e = nullptr;
    Status st = c.imports->resolve(infos[i], segs[i].size, &remote, &e);
    if (!st.isOk()) {
      for (auto* h : held) c.imports->release(h);
      return Status(st.code(),
                    std::string(what) + ": buffer " + std::to_string(i) + ": " + st.message());
    }
    held.push_back(e);
    IpcCopier::Copy copy;
    copy.bytes = segs[i].size;
    copy.dst = write ? static_cast<void*>(remote) : segs[i].ptr;
    copy.src = write ? static_cast<const void*>(segs[i].ptr) : remote;
    copies.push_back(copy);
  }
  uint64_t slot = completions_.open(1);
  ++c.in_flight;
  size_t bytes = 0;
  for (const IpcSegment& s : segs) bytes += s.size;
  // Runs on the copier's poller thread; the Conn outlives it (close() waits for in_flight).
  auto done = [this, conn, held, slot, bytes](const Status& st) {
    {
      std::lock_guard l(mu_);
      auto i = conns_.find(conn);
      if (i != conns_.end()) {
        for (auto* h : held) i->second.imports->release(h);
        --i->second.in_flight;
      }
    }
    cv_.notify_all();
    completions_.finish(slot, st, st.isOk() ? bytes : 0);
  };
  Status st = cp->start(copies, done);
  if (!st.isOk()) {
    for (auto* h : held) c.imports->release(h);
    --c.in_flight;
    completions_.finish(slot, st);
    bool ignored = false;
    (void)completions_.poll(slot, &ignored, nullptr);
    return Status(st.code(), std::string(what) + ": " + st.message());
  }
  *out = slot;
  return Status::ok();
}

}  // namespace tcpxp::engine
