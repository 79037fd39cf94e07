// _core.Endpoint's same-host CUDA IPC calls (engine/ipc_connections.h): connect_local,
// accept_local, advertise_ipc / advertisev_ipc and write/read_ipc with their v and _async forms.
// Names, keywords and return shapes are UCCL HEAD's (p2p/engine_api.cc). Where UCCL checks an
// argument with UCCL_CHECK (an IPC blob of the wrong size, vectors of unequal lengths) this
// raises RuntimeError; a blob of the right size whose contents are refused (untrusted: bad
// magic, a range outside the allocation, a handle that does not open), host memory, or an
// unknown conn_id fail like an engine error: False / (False, 0) and last_error().
#include <cstring>

#include "api/python/py_endpoint.h"

namespace tcpxp::python {

namespace {

datapath::IpcBlob ipcBlob(const char* name, const nb::bytes& b, size_t index) {
  datapath::IpcBlob out{};
  if (b.size() != out.size()) {
    throw std::runtime_error(std::string(name) + ": IPC info " + std::to_string(index) + " is " +
                             std::to_string(b.size()) + " bytes; expected the " +
                             std::to_string(out.size()) +
                             "-byte blob that the peer's advertise_ipc returned");
  }
  std::memcpy(out.data(), b.c_str(), out.size());
  return out;
}

void lengthsOrRaise(const char* name, size_t n, std::initializer_list<size_t> lengths) {
  for (size_t len : lengths) {
    if (len != n) {
      throw std::runtime_error(std::string(name) + ": ptr_v, size_v and info_v differ in length");
    }
  }
}

}  // namespace

nb::tuple PyEndpoint::connectLocal(const std::string& remote_gpu_bdf) {
  engine::Endpoint* e = eng();
  SignalWatch sig;
  Status st;
  ConnId id = 0;
  {
    GilRelease release;
    st = e->connectLocal(remote_gpu_bdf, &id, sig.callback());
    if (st.isOk()) known(id, true);
  }
  sig.rethrow();
  if (!st.isOk()) return nb::make_tuple(fail("connect_local", st), 0);
  return nb::make_tuple(true, id);
}

nb::tuple PyEndpoint::acceptLocal() {
  engine::Endpoint* e = eng();
  SignalWatch sig;
  Status st;
  ConnId id = 0;
  std::string bdf;
  {
    GilRelease release;
    st = e->acceptLocal(&bdf, &id, sig.callback());
    if (st.isOk()) known(id, true);
  }
  sig.rethrow();
  if (!st.isOk()) return nb::make_tuple(fail("accept_local", st), "", 0);
  return nb::make_tuple(true, bdf, id);
}

// UCCL's advertise_ipc does not look at conn_id (the blob is not bound to a connection): nor
// does this.
nb::tuple PyEndpoint::advertiseIpc(ConnId /*conn*/, uint64_t ptr, size_t size) {
  engine::Endpoint* e = eng(toPtr(ptr));
  datapath::IpcBlob blob{};
  Status st;
  {
    GilRelease release;
    st = e->advertiseIpc(toPtr(ptr), size, &blob);
  }
  if (!st.isOk()) return nb::make_tuple(fail("advertise_ipc", st), nb::bytes("", 0));
  return nb::make_tuple(true, toBytes(blob.data(), blob.size()));
}

nb::tuple PyEndpoint::advertisevIpc(ConnId /*conn*/, const std::vector<uint64_t>& ptrs,
                                    const std::vector<size_t>& sizes) {
  if (ptrs.size() != sizes.size()) {
    throw std::runtime_error("advertisev_ipc: ptr_v and size_v differ in length");
  }
  nb::list out;
  if (ptrs.empty()) return nb::make_tuple(true, out);
  engine::Endpoint* e = eng(toPtr(ptrs[0]));
  std::vector<datapath::IpcBlob> blobs(ptrs.size());
  Status st;
  {
    GilRelease release;
    for (size_t i = 0; i < ptrs.size() && st.isOk(); ++i) {
      st = e->advertiseIpc(toPtr(ptrs[i]), sizes[i], &blobs[i]);
      if (!st.isOk()) st = Status(st.code(), "buffer " + std::to_string(i) + ": " + st.message());
    }
  }
  if (!st.isOk()) return nb::make_tuple(fail("advertisev_ipc", st), out);
  for (const auto& b : blobs) out.append(toBytes(b.data(), b.size()));
  return nb::make_tuple(true, out);
}

// One call of the write/read_ipc family: `wait` blocks until the copies finished.
nb::object PyEndpoint::ipcTransfer(const char* name, bool write, bool wait, ConnId conn,
                                   const std::vector<uint64_t>& ptrs,
                                   const std::vector<size_t>& sizes, nb::list infos) {
  lengthsOrRaise(name, ptrs.size(), {sizes.size(), static_cast<size_t>(nb::len(infos))});
  std::vector<engine::IpcSegment> segs(ptrs.size());
  for (size_t i = 0; i < ptrs.size(); ++i) {
    if (!nb::isinstance<nb::bytes>(infos[i])) {
      throw nb::type_error((std::string(name) + ": info_v items must be bytes").c_str());
    }
    segs[i].ptr = toPtr(ptrs[i]);
    segs[i].size = sizes[i];
    segs[i].info = ipcBlob(name, nb::cast<nb::bytes>(infos[i]), i);
  }
  engine::Endpoint* e = eng();
  SignalWatch sig;
  Status st;
  XferId id = 0;
  {
    GilRelease release;
    st = write ? e->writeIpcAsync(conn, segs, &id) : e->readIpcAsync(conn, segs, &id);
    if (st.isOk() && wait) st = e->wait(id, sig.callback());
  }
  sig.rethrow();
  if (wait) return nb::cast(check(name, st));
  if (!st.isOk()) return nb::make_tuple(fail(name, st), 0);
  return nb::make_tuple(true, id);
}

}  // namespace tcpxp::python
