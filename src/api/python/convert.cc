#include "api/python/convert.h"

#include <nanobind/stl/string.h>

#include "common/status.h"
#include "control/metadata.h"

namespace tcpxp::python {

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

int remoteGpuIndex(nb::handle remote_gpu) {
  if (PyLong_Check(remote_gpu.ptr())) return nb::cast<int>(remote_gpu);
  if (PyUnicode_Check(remote_gpu.ptr())) return -1;
  throw nb::type_error(
      "remote_gpu_bdf must be a PCI BDF str (or, as older scripts pass it, an int GPU index)");
}

namespace {
PyObject* g_metadata_error = nullptr;  // set once at module import, kept for the process
}  // namespace

void registerMetadataError(nb::module_& m) {
  nb::object bases = nb::make_tuple(nb::handle(PyExc_ValueError), nb::handle(PyExc_RuntimeError));
  g_metadata_error = PyErr_NewExceptionWithDoc(
      "tcpx_p2p._core.MetadataError",
      "Malformed endpoint metadata. A ValueError and a RuntimeError (what UCCL raises).",
      bases.ptr(), nullptr);
  if (g_metadata_error == nullptr) throw nb::python_error();
  m.attr("MetadataError") = nb::handle(g_metadata_error);
}

void raiseMetadataError(const std::string& message) {
  PyErr_SetString(g_metadata_error, message.c_str());
  throw nb::python_error();
}

void raiseIpcUnavailable(const char* call) {
  PyErr_Format(PyExc_NotImplementedError,
               "%s: UCCL 0.1.1's two-sided IPC calls are not in tcpx-p2p (nor in UCCL HEAD); use "
               "advertise_ipc on the receiving side and write_ipc / read_ipc",
               call);
  throw nb::python_error();
}

nb::tuple parseMetadata(nb::bytes metadata) {
  control::EndpointMetadata md;
  Status st = control::decodeMetadata(reinterpret_cast<const uint8_t*>(metadata.c_str()),
                                      metadata.size(), &md);
  if (!st.isOk()) raiseMetadataError("parse_metadata: " + st.toString());
  return nb::make_tuple(md.ip, md.port, md.bdf);
}

}  // namespace tcpxp::python
