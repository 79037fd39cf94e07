// tcpx_p2p._core: the UCCL P2P `Endpoint` (release 0.1.1, docs/UCCL_API.md) over engine::Endpoint.
//
// Thin (STYLE habit 14): this file only translates types and errors.
//   - Errors: like UCCL, the tuple- and bool-returning calls report failure as False or
//     (False, ...), never as an exception. The binding is where a failed Status turns into a bare
//     False, so it logs the Status once (WARN) and keeps its text for Endpoint.last_error(). The
//     constructor raises RuntimeError; parse_metadata raises ValueError; argument type errors raise
//     TypeError.
//   - GIL: every call that reaches the driver thread runs with the GIL released. Blocking calls
//     (connect, accept, send/recv/write/read and their v forms) pass the engine an `interrupted`
//     callback that briefly re-acquires the GIL and runs PyErr_CheckSignals(); when a signal
//     handler raises (Ctrl-C: KeyboardInterrupt), the call gives up and the exception propagates.
//     A transfer abandoned that way is still in flight: its buffers must stay alive.
//   - Threading: an Endpoint may be used from several Python threads at once (the engine is
//     thread-safe); last_error is only touched with the GIL held.
//   - Interpreter exit: once Python's atexit handlers run, a daemon thread still inside a call here
//     must never take the GIL back (Python would end it with pthread_exit, whose forced unwind
//     through C++ noexcept frames calls std::terminate). Such a thread parks until the process
//     is gone; see GilRelease.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "control/fifo_item.h"
#include "control/metadata.h"
#include "engine/endpoint.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace tcpxp::python {
namespace {

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

// Set by the atexit hook (module init), in the thread that runs Python's finalization.
// Release-store of g_exiting after g_exit_thread pairs with the acquire-load in parkIfExiting().
std::atomic<bool> g_exiting{false};
std::atomic<std::thread::id> g_exit_thread{};
std::atomic<int> g_released{0};  // GilRelease scopes open now

void onPythonExit() {
  g_exit_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
  g_exiting.store(true, std::memory_order_release);
  // Threads inside a call will park holding their Endpoint: not a reference-counting bug.
  if (g_released.load() > 0) nb::set_leak_warnings(false);
}

// Called without the GIL, before taking it back. After atexit, only the exiting thread may take
// the GIL again; any other (a daemon thread) sleeps until the process ends.
void parkIfExiting() {
  if (!g_exiting.load(std::memory_order_acquire)) return;
  if (std::this_thread::get_id() == g_exit_thread.load(std::memory_order_relaxed)) return;
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

// nb::gil_scoped_release that parks instead of re-acquiring the GIL during interpreter exit.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) { ++g_released; }
  ~GilRelease() {
    parkIfExiting();
    --g_released;
    PyEval_RestoreThread(state_);
  }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

// Watches for Python signals while a blocking engine call runs without the GIL. The engine
// calls the callback on the blocked (calling) thread every few milliseconds.
class SignalWatch {
 public:
  engine::Interrupted callback() {
    return [this] {
      parkIfExiting();
      nb::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {
        raised_ = true;  // the exception stays set in this thread's state until rethrow()
        return true;
      }
      return false;
    };
  }
  // GIL held. Raises the exception a signal handler set (e.g. KeyboardInterrupt).
  void rethrow() const {
    if (raised_) throw nb::python_error();
  }

 private:
  bool raised_ = false;
};

nb::bytes toBytes(const uint8_t* data, size_t size) {
  return nb::bytes(reinterpret_cast<const char*>(data), size);
}

void* toPtr(uint64_t addr) { return reinterpret_cast<void*>(static_cast<uintptr_t>(addr)); }

// str (UTF-8) or bytes, as bytes.
std::string textOrBytes(nb::handle h, const char* what) {
  if (PyBytes_Check(h.ptr())) {
    nb::bytes b = nb::borrow<nb::bytes>(h);
    return std::string(b.c_str(), b.size());
  }
  if (PyUnicode_Check(h.ptr())) return nb::cast<std::string>(h);
  throw nb::type_error((std::string(what) + " must be str or bytes").c_str());
}

// A UCCL remote_gpu argument: an int index, or a PCI BDF string (which carries no index: -1).
int remoteGpuIndex(nb::handle remote_gpu) {
  if (PyLong_Check(remote_gpu.ptr())) return nb::cast<int>(remote_gpu);
  if (PyUnicode_Check(remote_gpu.ptr())) return -1;
  throw nb::type_error("remote_gpu_idx must be an int GPU index or a PCI BDF str");
}

class PyEndpoint {
 public:
  PyEndpoint(int local_gpu_idx, int /*num_cpus: UCCL's CPU thread count, unused here*/) {
    Status st;
    {
      GilRelease release;
      st = engine::Endpoint::create(local_gpu_idx, &ep_);
    }
    if (!st.isOk())
      throw std::runtime_error("tcpx_p2p.Endpoint(" + std::to_string(local_gpu_idx) +
                               "): " + st.toString());
  }

  const std::string& lastError() const { return last_error_; }

  nb::dict info() const {
    const engine::EndpointInfo& i = ep_->info();
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
    return d;
  }

  // Traffic per NIC and per channel (engine::Endpoint::stats()), as plain dicts.
  nb::dict stats() {
    engine::EndpointStats st;
    Status status;
    {
      nb::gil_scoped_release release;
      status = ep_->stats(&st);
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
    const engine::EndpointInfo& i = ep_->info();
    return "<tcpx_p2p.Endpoint gpu=" + std::to_string(i.gpu_index) + " " + i.ip + ":" +
           std::to_string(i.port) + " transport=" + i.transport + ">";
  }

  nb::bytes metadata() const {
    std::vector<uint8_t> md = ep_->metadata();
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
    SignalWatch sig;
    Status st;
    ConnId id = 0;
    std::string ip;
    int gpu = -1;
    {
      GilRelease release;
      st = ep_->accept(&id, &ip, &gpu, sig.callback());
    }
    sig.rethrow();
    if (!st.isOk()) return nb::make_tuple(fail("accept", st), "", -1, 0);
    return nb::make_tuple(true, ip, gpu, id);
  }

  void stopAccept() { ep_->stopAccept(); }

  bool closeConnection(ConnId conn) {
    Status st;
    {
      GilRelease release;
      st = ep_->closeConnection(conn);
    }
    return check("close_connection", st);
  }

  nb::tuple reg(uint64_t ptr, size_t size, FloatType /*float_type*/) {
    MrId mr = 0;
    Status st = regOne(ptr, size, &mr);
    if (!st.isOk()) return nb::make_tuple(fail("reg", st), 0);
    return nb::make_tuple(true, mr);
  }

  // All or nothing: on failure the ones already made are undone.
  nb::tuple regv(const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes) {
    std::vector<MrId> mrs;
    if (ptrs.size() != sizes.size()) {
      return nb::make_tuple(fail("regv", lengthMismatch(ptrs.size(), {sizes.size()})), mrs);
    }
    Status st;
    {
      GilRelease release;
      for (size_t i = 0; i < ptrs.size() && st.isOk(); ++i) {
        MrId mr = 0;
        st = ep_->reg(toPtr(ptrs[i]), sizes[i], &mr);
        if (st.isOk()) {
          mrs.push_back(mr);
        } else {
          st = Status(st.code(), "buffer " + std::to_string(i) + ": " + st.message());
        }
      }
      if (!st.isOk()) {
        for (MrId mr : mrs) (void)ep_->dereg(mr);
        mrs.clear();
      }
    }
    if (!st.isOk()) return nb::make_tuple(fail("regv", st), mrs);
    return nb::make_tuple(true, mrs);
  }

  bool dereg(MrId mr) {
    Status st;
    {
      GilRelease release;
      st = ep_->dereg(mr);
    }
    return check("dereg", st);
  }

  // conn 0: any connection (the newer UCCL signature without conn_id).
  nb::tuple advertise(ConnId conn, MrId mr, uint64_t ptr, size_t size) {
    FifoBlob blob{};
    Status st;
    {
      GilRelease release;
      st = ep_->advertise(conn, mr, toPtr(ptr), size, &blob);
    }
    if (!st.isOk()) return nb::make_tuple(fail("advertise", st), nb::bytes("", 0));
    return nb::make_tuple(true, toBytes(blob.data(), blob.size()));
  }

  nb::tuple advertisev(ConnId conn, const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
                       const std::vector<size_t>& sizes, size_t n) {
    nb::list out;
    Status st = lengthsMatch(n, {mrs.size(), ptrs.size(), sizes.size()});
    std::vector<FifoBlob> blobs(st.isOk() ? n : 0);
    if (st.isOk()) {
      GilRelease release;
      for (size_t i = 0; i < n && st.isOk(); ++i)
        st = ep_->advertise(conn, mrs[i], toPtr(ptrs[i]), sizes[i], &blobs[i]);
    }
    if (!st.isOk()) return nb::make_tuple(fail("advertisev", st), out);
    for (const FifoBlob& b : blobs) out.append(toBytes(b.data(), b.size()));
    return nb::make_tuple(true, out);
  }

  // One-buffer transfers. `fifo`: the peer's advertisement (write/read only).
  bool xfer(Op op, ConnId conn, MrId mr, uint64_t ptr, size_t size, const nb::bytes* fifo) {
    std::vector<Segment> segs;
    Status st = oneSegment(mr, ptr, size, fifo, &segs);
    if (!st.isOk()) return fail(opName(op, false, false), st);
    return blocking(op, conn, segs, opName(op, false, false));
  }

  nb::tuple xferAsync(Op op, ConnId conn, MrId mr, uint64_t ptr, size_t size,
                      const nb::bytes* fifo) {
    std::vector<Segment> segs;
    Status st = oneSegment(mr, ptr, size, fifo, &segs);
    if (!st.isOk()) return nb::make_tuple(fail(opName(op, false, true), st), 0);
    return async(op, conn, segs, opName(op, false, true));
  }

  // Vector transfers. `fifos`: the peer's advertisements (writev/readv only).
  bool xferv(Op op, ConnId conn, const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
             const std::vector<size_t>& sizes, const std::vector<nb::bytes>* fifos, size_t n) {
    std::vector<Segment> segs;
    Status st = segments(mrs, ptrs, sizes, fifos, n, &segs);
    if (!st.isOk()) return fail(opName(op, true, false), st);
    return blocking(op, conn, segs, opName(op, true, false));
  }

  nb::tuple xfervAsync(Op op, ConnId conn, const std::vector<MrId>& mrs,
                       const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
                       const std::vector<nb::bytes>* fifos, size_t n) {
    std::vector<Segment> segs;
    Status st = segments(mrs, ptrs, sizes, fifos, n, &segs);
    if (!st.isOk()) return nb::make_tuple(fail(opName(op, true, true), st), 0);
    return async(op, conn, segs, opName(op, true, true));
  }

  // (ok, done). A transfer that finished with an error reports (False, True); an unknown or
  // already reported id (False, False).
  nb::tuple pollAsync(XferId id) {
    bool done = false;
    Status st;
    {
      GilRelease release;
      st = ep_->poll(id, &done);
    }
    if (!st.isOk()) {
      return nb::make_tuple(fail("poll_async", st), st.code() != Code::kNotFound);
    }
    return nb::make_tuple(true, done);
  }

  bool sendNotify(ConnId conn, nb::handle name_obj, nb::handle msg_obj) {
    std::string name = textOrBytes(name_obj, "name"), msg = textOrBytes(msg_obj, "msg");
    Status st;
    {
      GilRelease release;
      st = ep_->sendNotify(conn, name, msg);
    }
    return check("send_notify", st);
  }

  nb::list getNotifs() {
    std::vector<engine::Notification> notes;
    {
      GilRelease release;
      notes = ep_->takeNotifications();
    }
    nb::list out;
    for (const engine::Notification& n : notes) {
      nb::str name = nb::steal<nb::str>(
          PyUnicode_DecodeUTF8(n.name.data(), static_cast<Py_ssize_t>(n.name.size()), "replace"));
      out.append(nb::make_tuple(name, nb::bytes(n.msg.data(), n.msg.size())));
    }
    return out;
  }

 private:
  static const char* opName(Op op, bool vector, bool is_async) {
    static const char* const kNames[4][4] = {
        {"send", "send_async", "sendv", "sendv_async"},
        {"recv", "recv_async", "recvv", "recvv_async"},
        {"write", "write_async", "writev", "writev_async"},
        {"read", "read_async", "readv", "readv_async"},
    };
    return kNames[static_cast<int>(op)][(vector ? 2 : 0) + (is_async ? 1 : 0)];
  }

  static Status lengthMismatch(size_t n, std::initializer_list<size_t> lengths) {
    std::string text = "argument lists have lengths";
    for (size_t len : lengths) text += " " + std::to_string(len);
    return Status(Code::kInvalidArgument, text + ", expected " + std::to_string(n) + " each");
  }

  static Status lengthsMatch(size_t n, std::initializer_list<size_t> lengths) {
    for (size_t len : lengths) {
      if (len != n) return lengthMismatch(n, lengths);
    }
    return Status::ok();
  }

  static Status fifoBlob(const nb::bytes& blob, size_t index, FifoBlob* out) {
    if (blob.size() != out->size()) {
      return Status(Code::kInvalidArgument,
                    "fifo blob " + std::to_string(index) + " is " + std::to_string(blob.size()) +
                        " bytes; expected the " + std::to_string(out->size()) +
                        "-byte FifoItem that the peer's advertise() returned");
    }
    std::memcpy(out->data(), blob.c_str(), out->size());
    return Status::ok();
  }

  static Status oneSegment(MrId mr, uint64_t ptr, size_t size, const nb::bytes* fifo,
                           std::vector<Segment>* out) {
    Segment s{mr, toPtr(ptr), size, {}};
    if (fifo) TCPXP_RETURN_IF_ERROR(fifoBlob(*fifo, 0, &s.fifo));
    out->push_back(s);
    return Status::ok();
  }

  static Status segments(const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
                         const std::vector<size_t>& sizes, const std::vector<nb::bytes>* fifos,
                         size_t n, std::vector<Segment>* out) {
    TCPXP_RETURN_IF_ERROR(
        fifos ? lengthsMatch(n, {mrs.size(), ptrs.size(), sizes.size(), fifos->size()})
              : lengthsMatch(n, {mrs.size(), ptrs.size(), sizes.size()}));
    out->resize(n);
    for (size_t i = 0; i < n; ++i) {
      (*out)[i] = Segment{mrs[i], toPtr(ptrs[i]), sizes[i], {}};
      if (fifos) TCPXP_RETURN_IF_ERROR(fifoBlob((*fifos)[i], i, &(*out)[i].fifo));
    }
    return Status::ok();
  }

  Status submit(Op op, ConnId conn, std::span<const Segment> segs, XferId* id) {
    switch (op) {
      case Op::kSend:
        return ep_->sendAsync(conn, segs, id);
      case Op::kRecv:
        return ep_->recvAsync(conn, segs, id);
      case Op::kWrite:
        return ep_->writeAsync(conn, segs, id);
      case Op::kRead:
        return ep_->readAsync(conn, segs, id);
    }
    return Status(Code::kInternal, "unknown op");
  }

  bool blocking(Op op, ConnId conn, std::span<const Segment> segs, const char* name) {
    SignalWatch sig;
    Status st;
    {
      GilRelease release;
      XferId id = 0;
      st = submit(op, conn, segs, &id);
      if (st.isOk()) st = ep_->wait(id, sig.callback());
    }
    sig.rethrow();
    return check(name, st);
  }

  nb::tuple async(Op op, ConnId conn, std::span<const Segment> segs, const char* name) {
    Status st;
    XferId id = 0;
    {
      GilRelease release;
      st = submit(op, conn, segs, &id);
    }
    if (!st.isOk()) return nb::make_tuple(fail(name, st), 0);
    return nb::make_tuple(true, id);
  }

  nb::tuple connectTo(const std::string& ip, int remote_gpu, int remote_port) {
    SignalWatch sig;
    Status st;
    ConnId id = 0;
    {
      GilRelease release;
      st = ep_->connect(ip, remote_gpu, remote_port, &id, sig.callback());
    }
    sig.rethrow();
    if (!st.isOk()) return nb::make_tuple(fail("connect", st), 0);
    return nb::make_tuple(true, id);
  }

  Status regOne(uint64_t ptr, size_t size, MrId* mr) {
    GilRelease release;
    return ep_->reg(toPtr(ptr), size, mr);
  }

  // GIL held. Logs a failed call once and keeps its text for last_error(); returns false.
  bool fail(const char* op, const Status& st) {
    last_error_ = std::string(op) + ": " + st.toString();
    LOG_WARN("%s", last_error_.c_str());
    return false;
  }
  bool check(const char* op, const Status& st) { return st.isOk() || fail(op, st); }

  std::unique_ptr<engine::Endpoint> ep_;
  std::string last_error_;
};

nb::tuple parseMetadata(nb::bytes metadata) {
  control::EndpointMetadata md;
  Status st = control::decodeMetadata(reinterpret_cast<const uint8_t*>(metadata.c_str()),
                                      metadata.size(), &md);
  if (!st.isOk()) throw nb::value_error(("parse_metadata: " + st.toString()).c_str());
  return nb::make_tuple(md.ip, md.port, md.bdf);
}

}  // namespace
}  // namespace tcpxp::python

NB_MODULE(_core, m) {
  using namespace tcpxp::python;
  m.doc() =
      "tcpx-p2p: the UCCL P2P engine API (uccl.p2p, release 0.1.1) over GPUDirect-TCPX or TCP";

  nb::module_::import_("atexit").attr("register")(nb::cpp_function(&onPythonExit));

  nb::enum_<FloatType>(m, "FloatType", nb::is_arithmetic(),
                       "reg() dtype hint (UCCL); accepted and ignored")
      .value("kUndefined", FloatType::kUndefined)
      .value("kFloat16", FloatType::kFloat16)
      .value("kBFloat16", FloatType::kBFloat16)
      .value("kFloat32", FloatType::kFloat32)
      .value("kFloat8E4M3FN", FloatType::kFloat8E4M3FN)
      .value("kFloat8E5M2", FloatType::kFloat8E5M2)
      .export_values();

  m.def("get_oob_ip", &tcpxp::engine::oobIp,
        "The IPv4 address this machine offers for control connections.");

  nb::class_<PyEndpoint>(
      m, "Endpoint",
      "A P2P endpoint on one GPU (local_gpu_idx) or host memory only (-1, the default).\n"
      "Failures return False / (False, ...) like UCCL; last_error() says why.")
      .def(nb::init<int, int>(), "local_gpu_idx"_a = -1, "num_cpus"_a = 4)
      .def("__repr__", &PyEndpoint::repr)
      .def_prop_ro("info", &PyEndpoint::info,
                   "Dict: gpu_index, ip, port, bdf, transport, dev, dev_name, ...")
      .def("last_error", &PyEndpoint::lastError,
           "Text of the most recent failed call on this endpoint.")
      .def("get_metadata", &PyEndpoint::metadata,
           "bytes: IPv4/IPv6 address + port (u16 BE) + bdf_len + BDF")
      .def_static("parse_metadata", &parseMetadata, "metadata"_a,
                  "(ip, port, gpu_bdf) from get_metadata() bytes; ValueError on malformed input")
      .def("connect", &PyEndpoint::connect, "remote_ip_addr"_a, "remote_gpu_idx"_a,
           "remote_port"_a = -1,
           "(ok, conn_id). remote_gpu_idx: int index or BDF str. Blocks (GIL released, Ctrl-C "
           "aborts).")
      .def("connect", &PyEndpoint::connectMetadata, "metadata"_a,
           "(ok, conn_id) to the endpoint of get_metadata() bytes")
      .def("accept", &PyEndpoint::accept,
           "(ok, remote_ip, remote_gpu_idx, conn_id). Blocks (GIL released, Ctrl-C aborts).")
      .def("stop_accept", &PyEndpoint::stopAccept,
           "Makes blocked and later accept() calls return ok=False.")
      .def("close_connection", &PyEndpoint::closeConnection, "conn_id"_a)
      .def("reg", &PyEndpoint::reg, "ptr"_a, "size"_a, "floatType"_a = FloatType::kUndefined,
           "(ok, mr_id)")
      .def("regv", &PyEndpoint::regv, "ptrs"_a, "sizes"_a, "(ok, [mr_id]); all or nothing")
      .def("dereg", &PyEndpoint::dereg, "mr_id"_a)
      .def("advertise", &PyEndpoint::advertise, "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a,
           "(ok, 64-byte FifoItem) letting the peer on conn_id write/read [ptr, ptr + size)")
      .def(
          "advertise",
          [](PyEndpoint& self, MrId mr, uint64_t ptr, size_t size) {
            return self.advertise(0, mr, ptr, size);
          },
          "mr_id"_a, "ptr"_a, "size"_a,
          "(ok, 64-byte FifoItem) for any connection (newer UCCL signature)")
      .def("advertisev", &PyEndpoint::advertisev, "conn_id"_a, "mr_id_v"_a, "ptr_v"_a, "size_v"_a,
           "num_iovs"_a, "(ok, [64-byte FifoItem])")
      .def(
          "advertisev",
          [](PyEndpoint& self, const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
             const std::vector<size_t>& sizes,
             size_t n) { return self.advertisev(0, mrs, ptrs, sizes, n); },
          "mr_id_v"_a, "ptr_v"_a, "size_v"_a, "num_iovs"_a,
          "(ok, [64-byte FifoItem]) for any connection")
      // Two-sided.
      .def(
          "send",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n) {
            return self.xfer(Op::kSend, c, mr, p, n, nullptr);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "Blocking send; bool")
      .def(
          "recv",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n) {
            return self.xfer(Op::kRecv, c, mr, p, n, nullptr);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "Blocking receive of at most size bytes; bool")
      .def(
          "send_async",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n) {
            return self.xferAsync(Op::kSend, c, mr, p, n, nullptr);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "(ok, transfer_id)")
      .def(
          "recv_async",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n) {
            return self.xferAsync(Op::kRecv, c, mr, p, n, nullptr);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "(ok, transfer_id)")
      .def(
          "sendv",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             size_t n) { return self.xferv(Op::kSend, c, mrs, ptrs, sizes, nullptr, n); },
          "conn_id"_a, "mr_id_v"_a, "data_ptr_v"_a, "size_v"_a, "num_iovs"_a,
          "Blocking vector send; bool")
      .def(
          "recvv",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             size_t n) { return self.xferv(Op::kRecv, c, mrs, ptrs, sizes, nullptr, n); },
          "conn_id"_a, "mr_id_v"_a, "data_ptr_v"_a, "size_v"_a, "num_iovs"_a,
          "Blocking vector receive; bool")
      .def(
          "sendv_async",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             size_t n) { return self.xfervAsync(Op::kSend, c, mrs, ptrs, sizes, nullptr, n); },
          "conn_id"_a, "mr_id_v"_a, "data_ptr_v"_a, "size_v"_a, "num_iovs"_a, "(ok, transfer_id)")
      .def(
          "recvv_async",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             size_t n) { return self.xfervAsync(Op::kRecv, c, mrs, ptrs, sizes, nullptr, n); },
          "conn_id"_a, "mr_id_v"_a, "data_ptr_v"_a, "size_v"_a, "num_iovs"_a, "(ok, transfer_id)")
      // One-sided, into or from the peer's advertised buffers.
      .def(
          "write",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n, nb::bytes meta) {
            return self.xfer(Op::kWrite, c, mr, p, n, &meta);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "meta"_a,
          "Blocking write into the peer's advertised buffer; bool")
      .def(
          "read",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n, nb::bytes meta) {
            return self.xfer(Op::kRead, c, mr, p, n, &meta);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "meta"_a,
          "Blocking read from the peer's advertised buffer; bool")
      .def(
          "write_async",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n, nb::bytes meta) {
            return self.xferAsync(Op::kWrite, c, mr, p, n, &meta);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "meta"_a, "(ok, transfer_id)")
      .def(
          "read_async",
          [](PyEndpoint& self, ConnId c, MrId mr, uint64_t p, size_t n, nb::bytes meta) {
            return self.xferAsync(Op::kRead, c, mr, p, n, &meta);
          },
          "conn_id"_a, "mr_id"_a, "ptr"_a, "size"_a, "meta"_a, "(ok, transfer_id)")
      .def(
          "writev",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             const std::vector<nb::bytes>& metas,
             size_t n) { return self.xferv(Op::kWrite, c, mrs, ptrs, sizes, &metas, n); },
          "conn_id"_a, "mr_id_v"_a, "ptr_v"_a, "size_v"_a, "meta_blob_v"_a, "num_iovs"_a,
          "Blocking vector write; bool")
      .def(
          "readv",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             const std::vector<nb::bytes>& metas,
             size_t n) { return self.xferv(Op::kRead, c, mrs, ptrs, sizes, &metas, n); },
          "conn_id"_a, "mr_id_v"_a, "ptr_v"_a, "size_v"_a, "meta_blob_v"_a, "num_iovs"_a,
          "Blocking vector read; bool")
      .def(
          "writev_async",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             const std::vector<nb::bytes>& metas,
             size_t n) { return self.xfervAsync(Op::kWrite, c, mrs, ptrs, sizes, &metas, n); },
          "conn_id"_a, "mr_id_v"_a, "ptr_v"_a, "size_v"_a, "meta_blob_v"_a, "num_iovs"_a,
          "(ok, transfer_id)")
      .def(
          "readv_async",
          [](PyEndpoint& self, ConnId c, const std::vector<MrId>& mrs,
             const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
             const std::vector<nb::bytes>& metas,
             size_t n) { return self.xfervAsync(Op::kRead, c, mrs, ptrs, sizes, &metas, n); },
          "conn_id"_a, "mr_id_v"_a, "ptr_v"_a, "size_v"_a, "meta_blob_v"_a, "num_iovs"_a,
          "(ok, transfer_id)")
      .def("poll_async", &PyEndpoint::pollAsync, "transfer_id"_a,
           "(ok, done). The id is released once done is reported; a failed transfer gives (False, "
           "True).")
      // Notifications (UCCL C API uccl_engine_send_notif / get_notifs).
      .def("send_notify", &PyEndpoint::sendNotify, "conn_id"_a, "name"_a, "msg"_a)
      .def("stats", &PyEndpoint::stats,
           "Traffic per NIC and per channel, and each connection's pinned staging: "
           "{'nics': [...], 'connections': [...], 'channels': [...]}")
      .def("get_notifs", &PyEndpoint::getNotifs,
           "[(name: str, msg: bytes)] received since the last call");
}
