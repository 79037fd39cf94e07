// What the engine would choose on this machine, asked of the engine's own deciders
// (engine/decisions.h), for `info` and `doctor`. Nothing here decides anything itself.
#pragma once

#include <string>
#include <vector>

#include "api/cli/topology.h"
#include "common/status.h"
#include "engine/decisions.h"
#include "engine/engine_config.h"

namespace tcpxp::cli {

struct MachineChoices {
  engine::EngineConfig config;
  std::string plugin_path;    // the TCPX plugin the engine would load, "" when none is found
  std::string plugin_source;  // "UCCL_TCPX_PLUGIN_PATH", "--plugin", "default path", ...
  engine::TransportDecision transport;
  std::vector<engine::PciFacts> devices;  // the chosen transport's devices, in device order
  std::string devices_source;             // where that list comes from
  engine::ChunkDecision chunk;
  std::string caps_why;      // what the transport does with GPU memory
  engine::BufferPaths host;  // transfers above the inline size
  engine::BufferPaths gpu;
};

// `allow_probe`: run the plugin probe (a child process) when every other prerequisite holds.
// `plugin_flag`: a plugin path given on the command line (as UCCL_TCPX_PLUGIN_PATH would).
MachineChoices machineChoices(bool allow_probe, const std::string& plugin_flag = "");

// The transport devices an endpoint on `gpu` would use (decideDevices), as "eth1" or
// "eth1,eth2"; *why the reason or the error.
bool placeGpu(const MachineChoices& m, const GpuDevice& gpu, std::string* devices,
              std::string* why);

}  // namespace tcpxp::cli
