// Type conversions between Python objects and the engine's arguments (see module.cc's header).
#pragma once

#include <nanobind/nanobind.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tcpxp::python {

namespace nb = nanobind;

nb::bytes toBytes(const uint8_t* data, size_t size);
void* toPtr(uint64_t addr);
// str (UTF-8) or bytes, as bytes. TypeError naming `what` otherwise.
std::string textOrBytes(nb::handle h, const char* what);
// A UCCL remote_gpu argument: an int index, or a PCI BDF string (which carries no index: -1).
int remoteGpuIndex(nb::handle remote_gpu);
// UCCL parse_metadata: (ip, port, bdf); ValueError on a malformed blob.
nb::tuple parseMetadata(nb::bytes metadata);

}  // namespace tcpxp::python
