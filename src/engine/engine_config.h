// Engine knobs: one table (name, default, doc, syntax) read once per Endpoint from the
// environment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/knob.h"

namespace tcpxp::engine {

// Bounds on what a connection may use, from this side's configuration or the peer's Hello alike.
inline constexpr int kMaxChannels = 32;                   // UCCL_TCPX_NUM_CHANNELS and Hello
inline constexpr int64_t kMinChunkBytes = 4096;           // UCCL_TCPX_CHUNK_BYTES and Hello
inline constexpr int64_t kMaxChunkBytes = (4 << 20) - 1;  // a TCPX request stays < 4 MiB

// What one peer may make this side hold. Past the first the connection fails (a protocol error:
// no honest peer gets near it); past the second the peer's request is refused (Nack).
inline constexpr size_t kMaxPendingOffers = 65536;    // its Sends waiting for a recv()
inline constexpr size_t kMaxServedTransfers = 65536;  // its writes and reads being served
// The pieces of its vector writes and reads being served (16 bytes each held): past it, Nack.
inline constexpr size_t kMaxServedVectorPieces = size_t{1} << 20;
// Control output queued for one peer: past the first, transfers stop using inline frames (their
// bytes take the channels, which the peer's reading paces); past the second this side stops
// reading the peer's frames until the queue drains (a peer that never reads goes silent to us
// and fails after UCCL_TCPX_TIMEOUT_MS).
inline constexpr size_t kInlineOutputCapBytes = size_t{16} << 20;
inline constexpr size_t kMaxOutputBytes = size_t{64} << 20;
// Inbound connections still in their handshake; more are closed at accept. A Hello must arrive
// within kHelloDeadlineMs of the connect (or UCCL_TCPX_TIMEOUT_MS if shorter).
inline constexpr size_t kMaxHandshakes = 64;
inline constexpr int64_t kHelloDeadlineMs = 5000;
// Notifications waiting for get_notifs(); more are dropped (counted, logged once a second).
inline constexpr size_t kMaxQueuedNotifications = 65536;

struct EngineConfig {
  std::string transport;    // "tcpx", "tcp" or "" (auto)
  std::string plugin_path;  // TCPX plugin library ("" = search the usual places)
  int num_channels = 4;     // channels (comm pairs) per connection and direction
  // Transfer piece posted as one request (< 4 MiB): UCCL_TCPX_CHUNK_BYTES, else 0 until
  // Endpoint::create sets the transport's (decisions.h: decideChunkBytes).
  int64_t chunk_bytes = 0;
  int64_t inline_bytes = 64 << 10;  // transfers up to this size travel in control frames
  int bootstrap_port_base = 0;      // 0 = ephemeral; else base + GPU index (host-only: base)
  // Transport devices (NICs) of this endpoint's channels, round robin: "" = chosen by PCIe
  // locality to the GPU (else device 0); "2"; "0,1,2,3"; or interface names "eth1,eth3".
  std::string devs;
  int64_t timeout_ms = 30000;        // a silent peer, a stuck handshake or stuck posted data fails
  int64_t max_connections = 1024;    // live connections, handshakes included; more are refused
  int64_t staging_bytes = 64 << 20;  // pinned staging memory per connection (GPU over host-only)
  int metrics_port = 0;              // Prometheus text endpoint on port + GPU index; 0 = off
  std::string trace_prefix;          // per-piece stage times to PREFIX.<pid>.<conn>.csv; "" = off
  bool emulate_gpu_buffers = false;  // tests: GPU paths without a GPU (endpoint.cc)
  bool vector_batch = true;          // one-sided vectors as WriteVec/ReadVec (connection.h)
  std::string ipc_scope;             // connect_local/accept_local meet only within one scope
  // A value the engine does not fall back from (an unknown UCCL_P2P_TRANSPORT), as
  // "NAME=VALUE: what is wrong (accepted: ...)"; Endpoint::create fails with it. "" = none.
  std::string error;

  // Malformed numbers and booleans: their default and a warning, once per process (env.h).
  static EngineConfig fromEnv();
};

using tcpxp::KnobDoc;
const std::vector<KnobDoc>& engineKnobs();

// Read outside the engine too (the C API's uccl_engine_create).
inline constexpr KnobDoc kGpuKnob{"UCCL_TCPX_GPU", "-1 (host only)",
                                  "GPU of an engine made by uccl_engine_create (C API)",
                                  integerKnob(-1, 1 << 20)};

// Read by the C API's uccl_engine_connect (UCCL's knob): same-host connections stay off IPC.
inline constexpr KnobDoc kDisableIpcKnob{
    "UCCL_P2P_DISABLE_IPC", "0",
    "C API: 1 = uccl_engine_conn_is_local is false for every connection (no CUDA IPC)", boolKnob()};

}  // namespace tcpxp::engine
