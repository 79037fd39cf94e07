// The transport layer's face to the layers above (engine, api): which transports exist, how to
// load one as an opaque handle, what each would offer, and how to look at a plugin library
// without initialising it. Nothing here exposes the ncclNet ABI: `NetPlugin` stays opaque and
// is used through transport/net.h.
//
// Threading: every function is thread-safe. Loading and inspecting never dlclose (plugin_loader.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/knob.h"
#include "common/status.h"

namespace tcpxp::transport {

class NetPlugin;  // one initialised ncclNet v7 table (plugin_loader.h); lives until exit

enum class TransportKind {
  kTcpx,     // an external ncclNet v7 plugin library: Google's TCPX
  kBuiltin,  // the built-in socket transport (socket/)
};
const char* transportKindName(TransportKind kind);  // "tcpx" | "built-in socket"

// ---- loading (dlopen + validate + init once per process) ---------------------------------------

// The TCPX plugin library at `path`. Errors: kNotFound, kPluginError (message says which step).
Status loadPlugin(const std::string& path, NetPlugin** out);
// The built-in socket transport, initialised once.
Status loadBuiltin(NetPlugin** out);

// ---- looking at a plugin library without init ------------------------------------------------

struct PluginInspection {
  bool exists = false;      // a regular file (or anything stat() accepts) at the path
  bool loads = false;       // dlopen(RTLD_NOW | RTLD_LOCAL) succeeded
  bool has_symbol = false;  // it exports ncclNetPlugin_v7
  bool complete = false;    // every member the engine calls is present
  std::string name;         // the table's name ("GPUDirectTCPX_v7"), when has_symbol
  std::string error;        // why the first failing step failed ("" when complete)
};
// dlopen + symbol lookup + validation; never calls the table's init (TCPX's init exits the
// process without a GPU driver). The library stays loaded (never dlclose'd).
PluginInspection inspectPlugin(const std::string& path);

// The body of the probe child process (engine/transport_select.cc forks it): inspect, init,
// devices. Returns the child's exit code: 0 usable, else kProbe* below.
int probePluginChild(const std::string& path);
inline constexpr int kProbeNotLoadable = 3;  // dlopen failed
inline constexpr int kProbeNoSymbol = 4;     // no ncclNetPlugin_v7, or an incomplete table
inline constexpr int kProbeInitFailed = 5;   // init() returned an error
inline constexpr int kProbeNoDevices = 6;    // devices() failed or reported none
// "init() failed" etc. for a probe child's exit code.
std::string probeExitMeaning(int exit_code);

// ---- properties of a transport before it is loaded -------------------------------------------

// What a transport does with GPU memory (the properties its getProperties reports).
struct TransportCapsPreview {
  bool moves_gpu_memory = false;  // ptrSupport has CUDA
  bool unpack = false;            // GPU receives land in bounce pages
  std::string why;
};
// TCPX: HOST|CUDA and UNPACK (docs/TCPX.md). Built-in: host only, or both with UCCL_SOCKET_UNPACK,
// or HOST|CUDA without UNPACK with UCCL_SOCKET_GPU_DIRECT.
TransportCapsPreview capsPreview(TransportKind kind);

// The request size a transport moves best, with where that number comes from.
struct ChunkPreference {
  size_t bytes = 0;
  std::string reason;
};
// Built-in: 1 MiB. TCPX: NCCL_DYNAMIC_CHUNK_SIZE when set (within 4 KiB .. 4 MiB-1), else 512 KiB.
ChunkPreference preferredChunk(TransportKind kind);

// ---- the built-in socket transport ---------------------------------------------------------

// True for the built-in transport's table name (also when it is loaded as a plugin library).
bool isBuiltinName(const std::string& table_name);
// The IP address a built-in transport's listen handle (128 bytes) points at; "" when the bytes
// are not a well-formed handle of it. What a peer's Hello asks this side to dial.
std::string builtinHandleHost(const uint8_t* handle);
// Every environment variable it reads (name, default, doc).
const std::vector<KnobDoc>& builtinKnobs();

struct BuiltinInterface {
  std::string name;      // "eth1"
  std::string ip;        // its address, without a port
  std::string pci_path;  // "" when virtual
};
struct BuiltinSettings {
  std::string ifname;  // UCCL_SOCKET_IFNAME / NCCL_SOCKET_IFNAME, "" when unset
  int nsocks = 0;      // data sockets per comm
  bool unpack = false;
  bool caller_io = false;                    // socket I/O in the driver's own isend/test calls
  bool iov = true;                           // vectored requests offered (UCCL_SOCKET_IOV)
  std::string io_reason;                     // why that I/O mode
  std::vector<BuiltinInterface> interfaces;  // its devices, in device order
};
// What the built-in transport would use, read from the environment and the machine (no init).
// with_interfaces false: leaves `interfaces` empty (no getifaddrs).
BuiltinSettings builtinSettings(bool with_interfaces = true);

}  // namespace tcpxp::transport
