// _core: what UCCL HEAD added to the Endpoint (docs/UCCL_API.md): the Ray-style API with
// XferDesc / XferHandle, and the same-host CUDA IPC calls (connect_local, accept_local, *_ipc).
// Names, keywords and return shapes are UCCL's (p2p/engine_api.cc).
//
// The IPC calls (connect_local, accept_local, advertise_ipc, write/read_ipc and their v and
// _async forms) are bound here and defined in py_ipc.cc, over the engine's CUDA IPC path. UCCL
// 0.1.1's two-sided send_ipc / recv_ipc (gone in HEAD) raise NotImplementedError.
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
      .def("connect_local", &PyEndpoint::connectLocal, "remote_gpu_bdf"_a,
           "(ok, conn_id) to the process of this host in accept_local() on GPU remote_gpu_bdf "
           "(CUDA IPC; retries until UCCL_TCPX_TIMEOUT_MS)")
      .def("accept_local", &PyEndpoint::acceptLocal,
           "(ok, remote_gpu_bdf, conn_id): waits for one connect_local() to this GPU")
      .def("advertise_ipc", &PyEndpoint::advertiseIpc, "conn_id"_a, "ptr"_a, "size"_a,
           "(ok, info): the 128-byte blob through which a process of this host reaches GPU "
           "buffer [ptr, ptr + size) (write_ipc / read_ipc). conn_id is not used, as in UCCL.")
      .def("advertisev_ipc", &PyEndpoint::advertisevIpc, "conn_id"_a, "ptr_v"_a, "size_v"_a,
           "(ok, [info]) for several GPU buffers");
  struct One {
    const char* name;
    bool write, wait;
  };
  for (One c : {One{"write_ipc", true, true}, One{"read_ipc", false, true},
                One{"write_ipc_async", true, false}, One{"read_ipc_async", false, false}}) {
    endpoint.def(
        c.name,
        [c](PyEndpoint& self, uint64_t conn, uint64_t ptr, size_t size, nb::bytes info) {
          nb::list infos;
          infos.append(info);
          return self.ipcTransfer(c.name, c.write, c.wait, conn, Ptrs{ptr}, Sizes{size}, infos);
        },
        "conn_id"_a, "ptr"_a, "size"_a, "info"_a,
        c.wait ? "CUDA IPC copy with the peer's advertise_ipc blob; bool"
               : "the same, asynchronous: (ok, transfer_id) for poll_async");
  }
  for (One c : {One{"writev_ipc", true, true}, One{"readv_ipc", false, true},
                One{"writev_ipc_async", true, false}, One{"readv_ipc_async", false, false}}) {
    endpoint.def(
        c.name,
        [c](PyEndpoint& self, uint64_t conn, const Ptrs& ptrs, const Sizes& sizes, nb::list infos) {
          return self.ipcTransfer(c.name, c.write, c.wait, conn, ptrs, sizes, infos);
        },
        "conn_id"_a, "ptr_v"_a, "size_v"_a, "info_v"_a,
        c.wait ? "CUDA IPC copies, one per buffer; bool"
               : "the same, asynchronous: (ok, transfer_id) for poll_async");
  }
  // UCCL 0.1.1's two-sided IPC calls (gone in HEAD).
  for (const char* name : {"send_ipc", "recv_ipc", "send_ipc_async", "recv_ipc_async"}) {
    endpoint.def(
        name, [name](PyEndpoint&, uint64_t, uint64_t, size_t) { raiseIpcUnavailable(name); },
        "conn_id"_a, "ptr"_a, "size"_a);
  }
}

}  // namespace tcpxp::python
