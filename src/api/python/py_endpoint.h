// _core.Endpoint: the UCCL P2P Endpoint over one engine::Endpoint (see module.cc's header for
// the conventions: errors, GIL, threading). The transfer calls are defined in py_transfers.cc.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/python/convert.h"
#include "api/python/gil.h"
#include "api/python/xfer_desc.h"
#include "common/log.h"
#include "common/status.h"
#include "control/fifo_item.h"
#include "control/metadata.h"
#include "engine/endpoint.h"
#include "engine/engine_config.h"
#include "engine/memory_info.h"

namespace tcpxp::python {

namespace nb = nanobind;

using engine::ConnId;
using engine::FifoBlob;
using engine::MrId;
using engine::Segment;
using engine::XferId;

// UCCL's reg() dtype hint (used there for compression). Accepted and ignored here.
enum class FloatType : int {
  kUndefined = 0,
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat8E4M3FN,
  kFloat8E5M2,
};

enum class Op { kSend, kRecv, kWrite, kRead };

class PyEndpoint {
 public:
  // local_gpu_idx >= 0: that GPU; -1: host memory only.
  PyEndpoint(int local_gpu_idx, int /*num_cpus: UCCL's CPU thread count, unused here*/) {
    create(local_gpu_idx, "tcpx_p2p.Endpoint(" + std::to_string(local_gpu_idx) + ")");
  }
  // Endpoint(): UCCL picks the GPU lazily, on first use (the GPU of the first registered buffer,
  // else the current CUDA device). On a machine without GPUs there is nothing to pick: the
  // host-memory endpoint is made now, so that set-up errors still raise here.
  PyEndpoint() {
    if (engine::gpuCount() == 0) {
      create(-1, "tcpx_p2p.Endpoint()");
      return;
    }
    // The GPU waits for first use, a malformed environment does not: it raises here, as it
    // does on a machine without GPUs.
    engine::EngineConfig config = engine::EngineConfig::fromEnv();
    if (!config.error.empty()) throw std::runtime_error("tcpx_p2p.Endpoint(): " + config.error);
  }
  ~PyEndpoint();  // stops the passive accept thread (py_ray_api.cc)
  PyEndpoint(const PyEndpoint&) = delete;
  PyEndpoint& operator=(const PyEndpoint&) = delete;

  const std::string& lastError() const { return last_error_; }

  nb::dict info() {
    const engine::EndpointInfo& i = eng()->info();
    nb::dict d;
    d["gpu_index"] = i.gpu_index;
    d["ip"] = i.ip;
    d["port"] = i.port;
    d["bdf"] = i.bdf;
    d["transport"] = i.transport;
    d["dev"] = i.dev;
    d["dev_name"] = i.dev_name;
    d["transport_moves_gpu_memory"] = i.transport_moves_gpu_memory;
    d["devs"] = i.devs;
    d["dev_names"] = i.dev_names;
    d["placement"] = i.placement;
    d["ipc"] = i.ipc;
    return d;
  }

  // Traffic per NIC and per channel (engine::Endpoint::stats()), as plain dicts.
  nb::dict stats() {
    engine::EndpointStats st;
    Status status;
    {
      nb::gil_scoped_release release;
      status = eng()->stats(&st);
    }
    if (!status.isOk()) throw std::runtime_error(status.toString());
    auto counters = [](nb::dict& d, const engine::TrafficCounters& c) {
      d["bytes_sent"] = c.bytes_sent;
      d["bytes_received"] = c.bytes_received;
      d["sends"] = c.sends;
      d["receives"] = c.receives;
      d["errors"] = c.errors;
      d["busy_ns"] = c.busy_ns;
    };
    nb::list nics, channels;
    for (const engine::NicStats& n : st.nics) {
      nb::dict d;
      d["dev"] = n.dev;
      d["name"] = n.name;
      counters(d, n.counters);
      nics.append(d);
    }
    for (const engine::ChannelStats& c : st.channels) {
      nb::dict d;
      d["conn_id"] = c.conn;
      d["channel"] = c.channel;
      d["dev"] = c.dev;
      counters(d, c.counters);
      channels.append(d);
    }
    nb::list connections;
    for (const engine::ConnectionStats& c : st.connections) {
      nb::dict d;
      d["conn_id"] = c.conn;
      d["peer"] = c.peer;
      d["channels"] = c.channels;
      d["staging_bytes"] = c.staging_bytes;
      connections.append(d);
    }
    nb::dict out;
    out["nics"] = nics;
    out["connections"] = connections;
    out["channels"] = channels;
    return out;
  }

  std::string repr() const {
    engine::Endpoint* e = ready_.load(std::memory_order_acquire);
    if (e == nullptr) return "<tcpx_p2p.Endpoint gpu=(chosen on first use)>";
    const engine::EndpointInfo& i = e->info();
    return "<tcpx_p2p.Endpoint gpu=" + std::to_string(i.gpu_index) + " " + i.ip + ":" +
           std::to_string(i.port) + " transport=" + i.transport + ">";
  }

  nb::bytes metadata() {
    std::vector<uint8_t> md = eng()->metadata();
    return toBytes(md.data(), md.size());
  }

  nb::tuple connect(const std::string& ip, nb::handle remote_gpu, int remote_port) {
    return connectTo(ip, remoteGpuIndex(remote_gpu), remote_port);
  }

  nb::tuple connectMetadata(nb::bytes metadata) {
    control::EndpointMetadata md;
    Status st = control::decodeMetadata(reinterpret_cast<const uint8_t*>(metadata.c_str()),
                                        metadata.size(), &md);
    if (!st.isOk()) return nb::make_tuple(fail("connect", st), 0);
    return connectTo(md.ip, -1, md.port);
  }

  nb::tuple accept() {
    engine::Endpoint* e = eng();
    SignalWatch sig;
    Status st;
    ConnId id = 0;
    std::string ip;
    int gpu = -1;
    {
      GilRelease release;
      st = e->accept(&id, &ip, &gpu, sig.callback());
      if (st.isOk()) known(id, true);
    }
    sig.rethrow();
    if (!st.isOk()) return nb::make_tuple(fail("accept", st), "", -1, 0);
    return nb::make_tuple(true, ip, gpu, id);
  }

  void stopAccept() { eng()->stopAccept(); }

  bool closeConnection(ConnId conn) {
    engine::Endpoint* e = eng();
    Status st;
    {
      GilRelease release;
      st = e->closeConnection(conn);
      known(conn, false);
    }
    return check("close_connection", st);
  }

  nb::tuple reg(uint64_t ptr, size_t size, FloatType /*float_type*/) {
    eng(toPtr(ptr));
    MrId mr = 0;
    Status st = regOne(ptr, size, &mr);
    if (!st.isOk()) return nb::make_tuple(fail("reg", st), 0);
    return nb::make_tuple(true, mr);
  }

  // All or nothing: on failure the ones already made are undone.
  nb::tuple regv(const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes) {
    std::vector<MrId> mrs;
    if (ptrs.size() != sizes.size()) {  // UCCL raises here
      throw std::runtime_error("regv: ptrs and sizes must match (" + std::to_string(ptrs.size()) +
                               " vs " + std::to_string(sizes.size()) + ")");
    }
    if (ptrs.empty()) return nb::make_tuple(true, mrs);
    engine::Endpoint* e = eng(toPtr(ptrs[0]));
    Status st;
    {
      GilRelease release;
      for (size_t i = 0; i < ptrs.size() && st.isOk(); ++i) {
        MrId mr = 0;
        st = e->reg(toPtr(ptrs[i]), sizes[i], &mr);
        if (st.isOk()) {
          mrs.push_back(mr);
        } else {
          st = Status(st.code(), "buffer " + std::to_string(i) + ": " + st.message());
        }
      }
      if (!st.isOk()) {
        for (MrId mr : mrs) (void)e->dereg(mr);
        mrs.clear();
      }
    }
    if (!st.isOk()) return nb::make_tuple(fail("regv", st), mrs);
    return nb::make_tuple(true, mrs);
  }

  bool dereg(MrId mr) {
    engine::Endpoint* e = eng();
    Status st;
    {
      GilRelease release;
      st = e->dereg(mr);
    }
    return check("dereg", st);
  }

  // conn 0: any connection (the newer UCCL signature without conn_id).
  nb::tuple advertise(ConnId conn, MrId mr, uint64_t ptr, size_t size) {
    engine::Endpoint* e = eng();
    FifoBlob blob{};
    Status st;
    {
      GilRelease release;
      st = e->advertise(conn, mr, toPtr(ptr), size, &blob);
    }
    if (!st.isOk()) return nb::make_tuple(fail("advertise", st), nb::bytes("", 0));
    return nb::make_tuple(true, toBytes(blob.data(), blob.size()));
  }

  nb::tuple advertisev(ConnId conn, const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
                       const std::vector<size_t>& sizes, size_t n) {
    engine::Endpoint* e = eng();
    nb::list out;
    Status st = lengthsMatch(n, {mrs.size(), ptrs.size(), sizes.size()});
    std::vector<FifoBlob> blobs(st.isOk() ? n : 0);
    if (st.isOk()) {
      GilRelease release;
      for (size_t i = 0; i < n && st.isOk(); ++i)
        st = e->advertise(conn, mrs[i], toPtr(ptrs[i]), sizes[i], &blobs[i]);
    }
    if (!st.isOk()) return nb::make_tuple(fail("advertisev", st), out);
    for (const FifoBlob& b : blobs) out.append(toBytes(b.data(), b.size()));
    return nb::make_tuple(true, out);
  }

  // One-buffer transfers. `fifo`: the peer's advertisement (write/read only).
  bool xfer(Op op, ConnId conn, MrId mr, uint64_t ptr, size_t size, const nb::bytes* fifo);
  nb::tuple xferAsync(Op op, ConnId conn, MrId mr, uint64_t ptr, size_t size,
                      const nb::bytes* fifo);
  // Vector transfers. `fifos`: the peer's advertisements (writev/readv only).
  bool xferv(Op op, ConnId conn, const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
             const std::vector<size_t>& sizes, const std::vector<nb::bytes>* fifos, size_t n);
  nb::tuple xfervAsync(Op op, ConnId conn, const std::vector<MrId>& mrs,
                       const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
                       const std::vector<nb::bytes>* fifos, size_t n);
  // (ok, done). A transfer that finished with an error reports (False, True); an unknown or
  // already reported id (False, False).
  nb::tuple pollAsync(XferId id);

  bool sendNotify(ConnId conn, nb::handle name_obj, nb::handle msg_obj) {
    std::string name = textOrBytes(name_obj, "name"), msg = textOrBytes(msg_obj, "msg");
    engine::Endpoint* e = eng();
    Status st;
    {
      GilRelease release;
      st = e->sendNotify(conn, name, msg);
    }
    return check("send_notify", st);
  }

  nb::list getNotifs() {
    engine::Endpoint* e = eng();
    std::vector<engine::Notification> notes;
    {
      GilRelease release;
      notes = e->takeNotifications();
    }
    nb::list out;
    for (const engine::Notification& n : notes) {
      nb::str name = nb::steal<nb::str>(
          PyUnicode_DecodeUTF8(n.name.data(), static_cast<Py_ssize_t>(n.name.size()), "replace"));
      out.append(nb::make_tuple(name, nb::bytes(n.msg.data(), n.msg.size())));
    }
    return out;
  }

  // ---- UCCL HEAD's Ray-style API (py_ray_api.cc) ----
  // register_memory([tensor]) -> [XferDesc]: objects with data_ptr(), numel(), element_size().
  std::vector<XferDesc> registerMemory(nb::list tensors);
  void deregisterMemory(const std::vector<XferDesc>& descs);
  // (ok, transfer_id); raises RuntimeError where UCCL does (bad op_name, lengths, conn_id, descs).
  nb::tuple transfer(ConnId conn, const std::string& op_name, const std::vector<XferDesc>& local,
                     const std::vector<XferDesc>& remote);
  // (ok, conn_id), one connection per metadata until remove_remote_endpoint.
  nb::tuple addRemoteEndpoint(nb::bytes metadata);
  bool removeRemoteEndpoint(ConnId conn);
  // Accepts every incoming connection on a background thread (no GIL) until the endpoint goes.
  bool startPassiveAccept();

  // ---- UCCL HEAD's same-host CUDA IPC calls (py_ipc.cc) ----
  nb::tuple connectLocal(const std::string& remote_gpu_bdf);       // (ok, conn_id)
  nb::tuple acceptLocal();                                         // (ok, remote_gpu_bdf, conn_id)
  nb::tuple advertiseIpc(ConnId conn, uint64_t ptr, size_t size);  // (ok, 128-byte blob)
  nb::tuple advertisevIpc(ConnId conn, const std::vector<uint64_t>& ptrs,
                          const std::vector<size_t>& sizes);  // (ok, [blob])
  // write/read_ipc and their v forms: bool when `wait`, else (ok, transfer_id).
  nb::object ipcTransfer(const char* name, bool write, bool wait, ConnId conn,
                         const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
                         nb::list infos);

 private:
  // Transfers (py_transfers.cc).
  static const char* opName(Op op, bool vector, bool is_async);
  static Status lengthMismatch(size_t n, std::initializer_list<size_t> lengths);
  static Status lengthsMatch(size_t n, std::initializer_list<size_t> lengths);
  static Status fifoBlob(const nb::bytes& blob, size_t index, FifoBlob* out);
  static Status oneSegment(MrId mr, uint64_t ptr, size_t size, const nb::bytes* fifo,
                           std::vector<Segment>* out);
  static Status segments(const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
                         const std::vector<size_t>& sizes, const std::vector<nb::bytes>* fifos,
                         size_t n, std::vector<Segment>* out);
  static Status submit(engine::Endpoint* e, Op op, ConnId conn, std::span<const Segment> segs,
                       XferId* id);
  bool blocking(Op op, ConnId conn, std::span<const Segment> segs, const char* name);
  nb::tuple async(Op op, ConnId conn, std::span<const Segment> segs, const char* name);

  // GIL held. The engine endpoint, made now if Endpoint() left the GPU to choose (py_ray_api.cc):
  // the GPU of `first_buffer` when it is GPU memory, else the current CUDA device. Raises
  // RuntimeError when it cannot be made.
  engine::Endpoint* eng(const void* first_buffer = nullptr);
  void create(int gpu, const std::string& what);

  // Connections this endpoint made or accepted and has not closed: transfer() raises "Invalid
  // conn_id" for others, as UCCL does. Any thread, GIL or not.
  void known(ConnId conn, bool add) {
    std::lock_guard lock(conns_mu_);
    if (add) {
      conns_.insert(conn);
    } else {
      conns_.erase(conn);
    }
  }
  bool isKnown(ConnId conn) {
    std::lock_guard lock(conns_mu_);
    return conns_.count(conn) != 0;
  }

  nb::tuple connectTo(const std::string& ip, int remote_gpu, int remote_port) {
    engine::Endpoint* e = eng();
    SignalWatch sig;
    Status st;
    ConnId id = 0;
    {
      GilRelease release;
      st = e->connect(ip, remote_gpu, remote_port, &id, sig.callback());
      if (st.isOk()) known(id, true);
    }
    sig.rethrow();
    if (!st.isOk()) return nb::make_tuple(fail("connect", st), 0);
    return nb::make_tuple(true, id);
  }

  Status regOne(uint64_t ptr, size_t size, MrId* mr) {
    engine::Endpoint* e = eng(toPtr(ptr));
    GilRelease release;
    return e->reg(toPtr(ptr), size, mr);
  }

  // GIL held. Logs a failed call once and keeps its text for last_error(); returns false.
  bool fail(const char* op, const Status& st) {
    last_error_ = std::string(op) + ": " + st.toString();
    LOG_WARN("%s", last_error_.c_str());
    return false;
  }
  bool check(const char* op, const Status& st) { return st.isOk() || fail(op, st); }

  // register_memory's regions: a buffer inside a live region reuses its advertisement (its keys),
  // as UCCL's registration cache reuses NIC keys. The region's own registration (`owner`, the
  // first descriptor's mr_id) lives until every descriptor using it is deregistered. GIL held.
  struct Region {
    uint64_t addr = 0;
    uint64_t size = 0;
    FifoBlob ad{};  // advertised to any connection
    int users = 0;  // live descriptors
  };
  std::map<MrId, Region> regions_;  // by owner
  std::map<MrId, MrId> region_of_;  // a live descriptor's mr_id -> its region's owner

  std::mutex create_mu_;                           // making ep_ (lazy)
  std::unique_ptr<engine::Endpoint> ep_;           // set once, under create_mu_
  std::atomic<engine::Endpoint*> ready_{nullptr};  // ep_ once made (release/acquire)
  std::mutex conns_mu_;
  std::set<ConnId> conns_;
  std::map<std::string, ConnId> remote_endpoints_;  // add_remote_endpoint: metadata -> conn
  std::thread passive_;                             // start_passive_accept
  std::atomic<bool> stopping_{false};
  std::string last_error_;
};

// The Endpoint's Ray-style API (with XferDesc, XferHandle) and its CUDA IPC calls (module_head.cc).
void bindRayApi(nb::module_& m, nb::class_<PyEndpoint>& endpoint);
void bindIpcCalls(nb::class_<PyEndpoint>& endpoint);

}  // namespace tcpxp::python
