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
// A UCCL remote GPU argument: a PCI BDF str (remote_gpu_bdf, UCCL 0.1.1 and later; it carries
// no index: -1) or an int index (remote_gpu_idx, older scripts).
int remoteGpuIndex(nb::handle remote_gpu);
// UCCL parse_metadata: (ip, port, bdf); MetadataError on a malformed blob.
nb::tuple parseMetadata(nb::bytes metadata);
// Raises tcpx_p2p.MetadataError, a ValueError and a RuntimeError (UCCL raises RuntimeError, this
// project raised ValueError before: both catch it). registerMetadataError makes the class.
[[noreturn]] void raiseMetadataError(const std::string& message);
void registerMetadataError(nb::module_& m);
// NotImplementedError (a RuntimeError) for UCCL 0.1.1's two-sided send_ipc / recv_ipc.
[[noreturn]] void raiseIpcUnavailable(const char* call);

}  // namespace tcpxp::python
