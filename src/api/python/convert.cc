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

// A UCCL remote_gpu argument: an int index, or a PCI BDF string (which carries no index: -1).
int remoteGpuIndex(nb::handle remote_gpu) {
  if (PyLong_Check(remote_gpu.ptr())) return nb::cast<int>(remote_gpu);
  if (PyUnicode_Check(remote_gpu.ptr())) return -1;
  throw nb::type_error("remote_gpu_idx must be an int GPU index or a PCI BDF str");
}

nb::tuple parseMetadata(nb::bytes metadata) {
  control::EndpointMetadata md;
  Status st = control::decodeMetadata(reinterpret_cast<const uint8_t*>(metadata.c_str()),
                                      metadata.size(), &md);
  if (!st.isOk()) throw nb::value_error(("parse_metadata: " + st.toString()).c_str());
  return nb::make_tuple(md.ip, md.port, md.bdf);
}

}  // namespace tcpxp::python
