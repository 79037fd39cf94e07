// The pure deciders of decisions.h: no I/O here (the facts come in as arguments).
#include "engine/decisions.h"

#include <cstdlib>

namespace tcpxp::engine {
namespace {

std::vector<std::string> pciComponents(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    std::string c = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (!c.empty() && c != "sys" && c != "devices") out.push_back(c);
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return out;
}

std::string deviceList(const std::vector<PciFacts>& devices) {
  std::string names;
  for (size_t d = 0; d < devices.size(); ++d) {
    names += (d ? ", " : "") + std::to_string(d) + "=" + devices[d].name;
  }
  return names;
}

Status parseDeviceSpec(const std::string& spec, const std::vector<PciFacts>& devices,
                       DeviceDecision* out) {
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    std::string item = spec.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    int dev = -1;
    if (item.find_first_not_of("0123456789") == std::string::npos) {
      dev = item.size() < 6 ? std::atoi(item.c_str()) : -1;
      if (dev >= static_cast<int>(devices.size())) dev = -1;
    } else {
      for (size_t d = 0; d < devices.size(); ++d) {
        if (devices[d].name == item) dev = static_cast<int>(d);
      }
    }
    if (dev < 0) {
      return Status(Code::kInvalidArgument, "UCCL_TCPX_DEV='" + spec + "': no device '" + item +
                                                "' (devices: " + deviceList(devices) + ")");
    }
    out->devs.push_back(dev);
  }
  if (out->devs.empty())
    return Status(Code::kInvalidArgument, "UCCL_TCPX_DEV='" + spec + "' names no device");
  out->reason = "UCCL_TCPX_DEV=" + spec;
  return Status::ok();
}

}  // namespace

TransportDecision decideTransport(const EngineConfig& config, const TransportFacts& facts) {
  TransportDecision d;
  d.plugin_path = facts.plugin_path;
  if (config.transport == "tcp") {
    d.reason = "UCCL_P2P_TRANSPORT=tcp";
    return d;
  }
  if (config.transport == "tcpx") {
    d.kind = TransportKind::kTcpx;
    d.reason = "UCCL_P2P_TRANSPORT=tcpx";
    return d;
  }
  if (facts.plugin_path.empty()) {
    d.reason = "no TCPX plugin found (UCCL_TCPX_PLUGIN_PATH unset, /usr/local/tcpx/lib64 empty)";
    return d;
  }
  if (facts.gpu_count == 0) {
    d.reason = "TCPX plugin at " + facts.plugin_path +
               " but no GPU driver (its init would exit the process)";
    return d;
  }
  if (!facts.rxdm_present) {
    d.reason = "TCPX plugin at " + facts.plugin_path + " but " +
               (facts.rxdm_absence.empty() ? "no rxdm socket under " + facts.rxdm_dir
                                           : facts.rxdm_absence);
    return d;
  }
  ProbeResult probe = facts.probe ? facts.probe() : ProbeResult{ProbeVerdict::kNotRun, ""};
  switch (probe.verdict) {
    case ProbeVerdict::kPassed:
      d.kind = TransportKind::kTcpx;
      d.reason = "TCPX plugin " + facts.plugin_path + " passed its probe";
      break;
    case ProbeVerdict::kFailed:
      d.reason = probe.why + "; using the built-in transport";
      break;
    case ProbeVerdict::kNotRun:
      d.kind = TransportKind::kTcpx;
      d.tentative = true;
      d.reason = "TCPX plugin " + facts.plugin_path +
                 ", a GPU and rxdm are present; the engine probes the plugin (init + devices in a "
                 "child process) and uses the built-in transport if that fails (probe not run" +
                 (probe.why.empty() ? std::string() : ": " + probe.why) + ")";
      break;
  }
  return d;
}

size_t pciCommonDepth(const std::string& a, const std::string& b) {
  std::vector<std::string> x = pciComponents(a), y = pciComponents(b);
  size_t n = 0;
  while (n < x.size() && n < y.size() && x[n] == y[n]) ++n;
  return n;
}

Status decideDevices(const std::string& spec, const std::vector<PciFacts>& devices, int gpu_index,
                     const PciFacts& gpu, DeviceDecision* out) {
  *out = DeviceDecision{};
  if (devices.empty()) return Status(Code::kNotFound, "the transport offers no device");
  if (!spec.empty()) return parseDeviceSpec(spec, devices, out);
  const std::string gpu_name = "GPU " + std::to_string(gpu_index);
  if (gpu_index < 0) {
    out->devs = {0};
    out->reason = "device 0 (" + devices[0].name + "): host-only endpoint";
    return Status::ok();
  }
  // 1. The deepest shared bridge/switch: at least the root complex and one bridge in common.
  size_t best_depth = 0;
  int best = -1;
  for (size_t d = 0; d < devices.size() && !gpu.pci_path.empty(); ++d) {
    if (devices[d].pci_path.empty()) continue;
    size_t depth = pciCommonDepth(gpu.pci_path, devices[d].pci_path);
    if (depth > best_depth) {
      best_depth = depth;
      best = static_cast<int>(d);
    }
  }
  if (best >= 0 && best_depth >= 2) {
    std::string bridge = pciComponents(gpu.pci_path)[best_depth - 1];
    out->devs = {best};
    out->reason = "PCIe-local to " + gpu_name + ": " + devices[best].name +
                  " shares the bridge/switch " + bridge + " (" + std::to_string(best_depth) +
                  " common path levels)";
    return Status::ok();
  }
  // 2. The GPU's NUMA node.
  if (gpu.numa_node >= 0) {
    for (size_t d = 0; d < devices.size(); ++d) {
      if (devices[d].numa_node != gpu.numa_node) continue;
      out->devs = {static_cast<int>(d)};
      out->reason = "same NUMA node " + std::to_string(gpu.numa_node) + " as " + gpu_name + ": " +
                    devices[d].name + " (no NIC shares a PCIe bridge with it)";
      return Status::ok();
    }
  }
  // 3. Device 0.
  out->devs = {0};
  out->reason = "device 0 (" + devices[0].name + "): no PCIe bridge or NUMA node shared with " +
                gpu_name + (gpu.pci_path.empty() ? " (its PCI path is unknown)" : "");
  return Status::ok();
}

ChunkDecision decideChunkBytes(const EngineConfig& config,
                               const transport::ChunkPreference& transport_pref) {
  if (config.chunk_bytes > 0) {
    return {static_cast<size_t>(config.chunk_bytes),
            "UCCL_TCPX_CHUNK_BYTES=" + std::to_string(config.chunk_bytes)};
  }
  return {transport_pref.bytes, transport_pref.reason};
}

ChunkDecision decideChunkBytes(const EngineConfig& config, const transport::Net& net) {
  return decideChunkBytes(config, net.preferredChunk());
}

BufferPaths decideBufferPaths(bool gpu_memory, const datapath::TransportCaps& caps) {
  datapath::BufferFacts b;
  b.gpu_memory = gpu_memory;
  b.size = size_t{1} << 20;  // beyond any inline size
  BufferPaths p;
  b.receiving = false;
  p.send = datapath::choosePath(b, caps);
  b.receiving = true;
  p.receive = datapath::choosePath(b, caps);
  return p;
}

std::string describeBufferPaths(const BufferPaths& p) {
  auto one = [](const datapath::PathChoice& c) {
    return std::string(datapath::pathKindName(c.kind)) + " (" + c.reason + ")";
  };
  if (p.send.kind == p.receive.kind && p.send.reason == p.receive.reason) return one(p.send);
  return "send: " + one(p.send) + "; receive: " + one(p.receive);
}

}  // namespace tcpxp::engine
