// _core: what UCCL HEAD added to the Endpoint (docs/UCCL_API.md): the Ray-style API with
// XferDesc / XferHandle, and the same-host CUDA IPC calls (connect_local, accept_local, *_ipc).
// Names, keywords and return shapes are UCCL's (p2p/engine_api.cc).
//
// The IPC calls need the engine's CUDA IPC path, which is not there yet: each raises
// NotImplementedError (a RuntimeError) saying so, after its arguments were checked. UCCL's own
// forms need it too: its connect_local / accept_local exchange GPU PCI addresses over shared
// memory rings named after them, and write_ipc / read_ipc open the peer's cudaIpcMemHandle_t, so
// nothing of this family works with host memory alone.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <string>
#include <vector>

#include "api/python/convert.h"
#include "api/python/py_endpoint.h"
#include "api/python/xfer_desc.h"

namespace tcpxp::python {

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// UCCL registers this type, but its transfer() returns (ok, transfer_id); nothing makes one.
struct XferHandle {
  uint64_t conn_id = 0;
  std::string op_name;
  uint64_t transfer_id = 0;
};

nb::object descField(const XferDesc& d, const std::string& key) {
  if (key == "addr") return nb::cast(d.addr);
  if (key == "size") return nb::cast(d.size);
  if (key == "mr_id") return nb::cast(d.mr_id);
  if (key == "lkeys") return nb::cast(d.lkeys);
  if (key == "rkeys") return nb::cast(d.rkeys);
  throw nb::key_error(key.c_str());
}

bool isDescField(const std::string& key) {
  return key == "addr" || key == "size" || key == "mr_id" || key == "lkeys" || key == "rkeys";
}

}  // namespace

void bindRayApi(nb::module_& m, nb::class_<PyEndpoint>& endpoint) {
  nb::class_<XferHandle>(m, "XferHandle",
                         "UCCL's transfer handle type (transfer() returns a tuple)")
      .def_ro("conn_id", &XferHandle::conn_id)
      .def_ro("op_name", &XferHandle::op_name)
      .def_ro("transfer_id", &XferHandle::transfer_id);

  nb::class_<XferDesc>(m, "XferDesc",
                       "A registered region (register_memory) or a peer's (deserialize_descs).\n"
                       "lkeys / rkeys: the region's 64-byte advertisement as 16 u32 words (the "
                       "engine has no NIC keys; the advertisement's token grants access).\n"
                       "Fields read as attributes or, as older UCCL scripts do, desc['addr'].")
      .def(nb::init<>())
      .def_rw("addr", &XferDesc::addr)
      .def_rw("size", &XferDesc::size)
      .def_rw("mr_id", &XferDesc::mr_id, "local registration; 2**64-1: none on this endpoint")
      .def_rw("lkeys", &XferDesc::lkeys)
      .def_rw("rkeys", &XferDesc::rkeys)
      .def("__getitem__", &descField, "key"_a)
      .def("__contains__", [](const XferDesc&, const std::string& key) { return isDescField(key); })
      .def(
          "__eq__",
          [](const XferDesc& a, nb::handle b) -> nb::object {
            if (!nb::isinstance<XferDesc>(b)) return nb::borrow(Py_NotImplemented);
            return nb::cast(a.sameRegion(nb::cast<const XferDesc&>(b)));
          },
          "Same addr, size and keys (mr_id is local and not serialized: not compared)")
      .def("__repr__", [](const XferDesc& d) {
        return "<XferDesc addr=" + std::to_string(d.addr) + " size=" + std::to_string(d.size) +
               " mr_id=" + std::to_string(d.mr_id) + ">";
      });

  endpoint
      .def("register_memory", &PyEndpoint::registerMemory, "tensor_list"_a,
           "[XferDesc], one per tensor (objects with data_ptr(), numel(), element_size()). A "
           "buffer inside a live registered region reuses its keys. RuntimeError for a non-tensor.")
      .def("deregister_memory", &PyEndpoint::deregisterMemory, "desc_list"_a,
           "Deregisters register_memory's descriptors; returns None")
      .def(
          "get_serialized_descs",
          [](PyEndpoint&, const std::vector<XferDesc>& descs) {
            std::string bytes = serializeDescs(descs);
            return nb::bytes(bytes.data(), bytes.size());
          },
          "desc_list"_a, "bytes for the peer's deserialize_descs (UCCL's layout)")
      .def(
          "deserialize_descs",
          [](PyEndpoint&, nb::bytes bytes) {
            return deserializeDescs(reinterpret_cast<const uint8_t*>(bytes.c_str()), bytes.size());
          },
          "serialized_bytes"_a, "[XferDesc]; RuntimeError on malformed bytes")
      .def("transfer", &PyEndpoint::transfer, "conn_id"_a, "op_name"_a, "local_desc_list"_a,
           "remote_desc_list"_a,
           "(ok, transfer_id): op_name 'write' or 'read' between local and remote descriptors, "
           "pairwise; poll with poll_async. RuntimeError for a bad op_name, unequal lists, an "
           "unknown conn_id or unregistered descriptors, as UCCL.")
      .def("add_remote_endpoint", &PyEndpoint::addRemoteEndpoint, "metadata_bytes"_a,
           "(ok, conn_id): connects once per metadata (get_metadata() of the peer)")
      .def("remove_remote_endpoint", &PyEndpoint::removeRemoteEndpoint, "conn_id"_a,
           "Closes the connection and forgets it; False for an unknown conn_id")
      .def("start_passive_accept", &PyEndpoint::startPassiveAccept,
           "Accepts every incoming connection in the background; True")
      .def(
          "conn_id_of_rank", [](PyEndpoint&, int) { return UINT64_MAX; }, "rank"_a,
          "2**64-1 for every rank: UCCL declares this map but nothing in it fills it");
}

void bindIpcCalls(nb::class_<PyEndpoint>& endpoint) {
  using Ptrs = std::vector<uint64_t>;
  using Sizes = std::vector<size_t>;
  endpoint
      .def(
          "connect_local",
          [](PyEndpoint&, const std::string&) { raiseIpcUnavailable("connect_local"); },
          "remote_gpu_bdf"_a, "(ok, conn_id) to a process of this host (CUDA IPC): not yet")
      .def(
          "accept_local", [](PyEndpoint&) { raiseIpcUnavailable("accept_local"); },
          "(ok, remote_gpu_bdf, conn_id) (CUDA IPC): not yet")
      .def(
          "advertise_ipc",
          [](PyEndpoint&, uint64_t, uint64_t, size_t) { raiseIpcUnavailable("advertise_ipc"); },
          "conn_id"_a, "ptr"_a, "size"_a)
      .def(
          "advertisev_ipc",
          [](PyEndpoint&, uint64_t, const Ptrs&, const Sizes&) {
            raiseIpcUnavailable("advertisev_ipc");
          },
          "conn_id"_a, "ptr_v"_a, "size_v"_a);
  for (const char* name : {"write_ipc", "read_ipc", "write_ipc_async", "read_ipc_async"}) {
    endpoint.def(
        name,
        [name](PyEndpoint&, uint64_t, uint64_t, size_t, nb::bytes) { raiseIpcUnavailable(name); },
        "conn_id"_a, "ptr"_a, "size"_a, "info"_a);
  }
  for (const char* name : {"writev_ipc", "readv_ipc", "writev_ipc_async", "readv_ipc_async"}) {
    endpoint.def(
        name,
        [name](PyEndpoint&, uint64_t, const Ptrs&, const Sizes&, nb::list) {
          raiseIpcUnavailable(name);
        },
        "conn_id"_a, "ptr_v"_a, "size_v"_a, "info_v"_a);
  }
  // UCCL 0.1.1's two-sided IPC calls (gone in HEAD).
  for (const char* name : {"send_ipc", "recv_ipc", "send_ipc_async", "recv_ipc_async"}) {
    endpoint.def(
        name, [name](PyEndpoint&, uint64_t, uint64_t, size_t) { raiseIpcUnavailable(name); },
        "conn_id"_a, "ptr"_a, "size"_a);
  }
}

}  // namespace tcpxp::python
