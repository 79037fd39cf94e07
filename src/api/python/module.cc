// tcpx_p2p._core: the UCCL P2P `Endpoint` (release 0.1.1 and HEAD, docs/UCCL_API.md) over
// engine::Endpoint.
//
// Thin (STYLE habit 14): this file only translates types and errors.
//   - Errors: like UCCL, the tuple- and bool-returning calls report a failed operation as False
//     or (False, ...). The binding is where a failed Status turns into a bare False, so it logs
//     the Status once (WARN) and keeps its text for Endpoint.last_error(). Where UCCL raises, this
//     raises the same type: RuntimeError for the constructor, malformed write/read/regv/transfer
//     arguments, transfer on an unknown conn_id and bad serialized descriptors; MetadataError (a
//     RuntimeError and a ValueError) for malformed metadata; NotImplementedError (a RuntimeError)
//     for the CUDA IPC calls, not available yet. Argument type errors raise TypeError.
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
//
// Files: gil.{h,cc} (GIL release, Ctrl-C, interpreter exit), convert.{h,cc} (Python <-> engine
// types), py_endpoint.h (the Endpoint class), xfer_desc.{h,cc} (XferDesc and its bytes);
// this file declares the module and UCCL 0.1.1's calls, module_head.cc HEAD's Ray-style API and
// the IPC calls.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "api/python/convert.h"
#include "api/python/gil.h"
#include "api/python/py_endpoint.h"
#include "engine/endpoint.h"

namespace nb = nanobind;
using namespace nb::literals;

NB_MODULE(_core, m) {
  using namespace tcpxp::python;
  m.doc() =
      "tcpx-p2p: the UCCL P2P engine API (uccl.p2p, release 0.1.1 and HEAD) over GPUDirect-TCPX "
      "or TCP";

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

  registerMetadataError(m);

  nb::class_<PyEndpoint> endpoint(
      m, "Endpoint",
      "A P2P endpoint on one GPU (local_gpu_idx), host memory only (-1), or the GPU chosen on "
      "first use (no argument).\n"
      "Failures return False / (False, ...) like UCCL; last_error() says why. Where UCCL raises "
      "(malformed arguments), this raises too.");
  endpoint
      .def(nb::init<int, int>(), "local_gpu_idx"_a, "num_cpus"_a = 4,
           "local_gpu_idx: a GPU, or -1 for host memory only. Raises RuntimeError for a GPU the "
           "machine does not have.")
      .def(nb::init<>(),
           "The GPU is chosen on first use, as UCCL does: the GPU of the first registered buffer, "
           "else the current CUDA device; host memory only on a machine without GPUs.")
      .def("__repr__", &PyEndpoint::repr)
      .def_prop_ro("info", &PyEndpoint::info,
                   "Dict: gpu_index, ip, port, bdf, transport, dev, dev_name, ...")
      .def("last_error", &PyEndpoint::lastError,
           "Text of the most recent failed call on this endpoint.")
      .def("get_metadata", &PyEndpoint::metadata,
           "bytes: IPv4/IPv6 address + port (u16 BE) + bdf_len + BDF")
      .def_static("parse_metadata", &parseMetadata, "metadata"_a,
                  "(ip, port, gpu_bdf) from get_metadata() bytes; ValueError on malformed input")
      .def("connect", &PyEndpoint::connect, "remote_ip_addr"_a, "remote_gpu_bdf"_a,
           "remote_port"_a = -1,
           "(ok, conn_id). remote_gpu_bdf: the peer's PCI BDF str (parse_metadata's third item); "
           "an int GPU index is accepted too. Blocks (GIL released, Ctrl-C aborts).")
      .def("connect", &PyEndpoint::connect, "remote_ip_addr"_a, "remote_gpu_idx"_a,
           "remote_port"_a = -1, "(ok, conn_id): the keyword of UCCL scripts older than 0.1.1")
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
  bindRayApi(m, endpoint);
  bindIpcCalls(endpoint);
}
