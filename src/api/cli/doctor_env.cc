// tcpx-p2p doctor: malformed knobs, the environment traps of TCPX and the dmabuf hint (doctor.h).
#include <dirent.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "api/cli/doctor.h"
#include "api/cli/topology.h"
#include "common/knob.h"
#include "common/quantity.h"
#include "engine/engine_config.h"
#include "engine/transport_select.h"

namespace tcpxp::cli::doctor {
namespace {

// A plain non-negative number, no unit (what TCPX's env parsing accepts reliably).
bool parseUnsigned(const std::string& text, long long* out) {
  Parsed p = parseNumber(text, 0, INT64_MAX);
  if (p.ok()) *out = p.value;
  return p.ok();
}

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}. False on junk.
bool parseCpuList(const std::string& text, std::set<long long>* out) {
  std::string t = trim(text);
  if (t.empty()) return false;
  for (const std::string& part : split(t, ',')) {
    size_t dash = part.find('-');
    long long lo = 0, hi = 0;
    if (dash == std::string::npos) {
      if (!parseUnsigned(part, &lo)) return false;
      hi = lo;
    } else if (!parseUnsigned(part.substr(0, dash), &lo) ||
               !parseUnsigned(part.substr(dash + 1), &hi) || hi < lo || hi - lo > 65536) {
      return false;
    }
    for (long long c = lo; c <= hi; ++c) out->insert(c);
  }
  return true;
}

std::string joinCpus(const std::set<long long>& cpus) {
  std::string s;
  for (long long c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

std::vector<std::string> interfaceNames() {
  std::vector<std::string> out;
  DIR* d = ::opendir((sysfsRoot() + "/class/net").c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

// NCCL interface syntax: "eth1,eth2" prefixes, "=eth1" exact, "^docker" excludes.
bool interfaceMatches(const std::string& entry, const std::vector<std::string>& names) {
  bool exact = !entry.empty() && entry[0] == '=';
  std::string want = exact ? entry.substr(1) : entry;
  for (const std::string& n : names) {
    if (exact ? n == want : n.compare(0, want.size(), want) == 0) return true;
  }
  return false;
}

// ---- environment traps --------------------------------------------------------------------

void checkChunkSize(Report& r) {
  const char* k = "NCCL_DYNAMIC_CHUNK_SIZE";
  std::string fix = "export NCCL_DYNAMIC_CHUNK_SIZE=524288 (on both sides)";
  if (!isSet(k)) {
    r.warn("env",
           std::string(k) +
               " unset: the plugin's default 0 hangs every transfer; the "
               "engine sets 524288 when unset",
           fix);
    return;
  }
  Parsed p = parseNumber(env(k), 0, INT64_MAX);
  long long v = p.value;
  if (!p.ok()) {
    r.fail("env", std::string(k) + "=" + env(k) + ": " + p.message, fix);
  } else if (v == 0) {
    r.fail("env", std::string(k) + "=0: every transfer hangs forever", fix);
  } else {
    r.ok("env", std::string(k) + "=" + std::to_string(v));
  }
}

void checkFlowSteeringWait(Report& r) {
  const char* k = "NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS";
  std::string fix = std::string("export ") + k + "=50000";
  if (!isSet(k)) {
    r.warn("env",
           std::string(k) +
               " unset: the plugin sleeps 5 s at the end of every accept "
               "(the engine sets 50000 when unset)",
           fix);
    return;
  }
  Parsed p = parseNumber(env(k), 0, INT64_MAX);
  long long v = p.value;
  if (!p.ok()) {
    r.fail("env", std::string(k) + "=" + env(k) + ": " + p.message, fix);
  } else if (v > 1000000) {
    r.warn("env", std::string(k) + "=" + std::to_string(v) + ": over 1 s slept per accept", fix);
  } else {
    r.ok("env", std::string(k) + "=" + std::to_string(v));
  }
}

void checkSockets(Report& r) {
  // The values the engine uses when unset (it sets 1 x 4).
  long long threads = 1, socks = 4;
  bool ok = true;
  struct Knob {
    const char* name;
    long long* value;
    const char* fix;
  };
  for (const Knob& k : {Knob{"NCCL_SOCKET_NTHREADS", &threads, "export NCCL_SOCKET_NTHREADS=1"},
                        Knob{"NCCL_NSOCKS_PERTHREAD", &socks, "export NCCL_NSOCKS_PERTHREAD=4"}}) {
    if (!isSet(k.name)) continue;
    Parsed p = parseNumber(env(k.name), 1, 64);  // the range the engine reads
    *k.value = p.value;
    if (!p.ok()) {
      r.fail("env", std::string(k.name) + "=" + env(k.name) + ": " + p.message, k.fix);
      ok = false;
    }
  }
  if (!ok) return;
  std::string what = "NCCL_SOCKET_NTHREADS x NCCL_NSOCKS_PERTHREAD = " + std::to_string(threads) +
                     " x " + std::to_string(socks) + " = " + std::to_string(threads * socks);
  if (threads * socks > 8) {
    r.fail("env", what + " > 8 data sockets per comm (TCPX's limit)",
           "export NCCL_SOCKET_NTHREADS=1 NCCL_NSOCKS_PERTHREAD=4");
  } else {
    r.ok("env", what + " data sockets per comm" +
                    (isSet("NCCL_SOCKET_NTHREADS") && isSet("NCCL_NSOCKS_PERTHREAD")
                         ? ""
                         : " (engine defaults where unset)"));
  }
}

void checkInterfaces(Report& r, const std::vector<std::string>& names) {
  const char* ctrl = "NCCL_GPUDIRECTTCPX_CTRL_DEV";
  if (!isSet(ctrl)) {
    r.warn("env", std::string(ctrl) + " unset: the control sockets may go over a data NIC",
           "export NCCL_GPUDIRECTTCPX_CTRL_DEV=eth0 (the control NIC)");
  } else if (!interfaceMatches(trim(env(ctrl)), names)) {
    r.fail("env", std::string(ctrl) + "=" + env(ctrl) + ": no such interface",
           "export NCCL_GPUDIRECTTCPX_CTRL_DEV=<control NIC> (see ip -br link; GCP: eth0)");
  } else {
    r.ok("env", std::string(ctrl) + "=" + env(ctrl));
  }
  const char* data = "NCCL_GPUDIRECTTCPX_SOCKET_IFNAME";
  std::string fix_data =
      "export NCCL_GPUDIRECTTCPX_SOCKET_IFNAME=eth1,eth2,eth3,eth4 (the data NICs; see ip -br "
      "link)";
  if (!isSet(data)) {
    r.warn("env", std::string(data) + " unset: the plugin picks the data NICs itself", fix_data);
    return;
  }
  std::string missing;
  for (const std::string& raw : split(env(data), ',')) {
    std::string e = trim(raw);
    if (e.empty() || e[0] == '^') continue;  // exclusions name nothing that must exist
    if (!interfaceMatches(e, names)) missing += (missing.empty() ? "" : ",") + e;
  }
  if (!missing.empty()) {
    r.fail("env", std::string(data) + "=" + env(data) + ": no such interface: " + missing,
           fix_data);
  } else {
    r.ok("env",
         std::string(data) + "=" + env(data) + " (devices are these interfaces sorted by name)");
  }
}

// "eth1:8-21,112-125;eth2:..." -> cores of each NIC outside its NUMA node.
void checkBindings(Report& r, const char* var, const std::vector<std::string>& names) {
  if (!isSet(var)) return;  // the plugin uses the NIC's NUMA CPUs: the right default
  std::string value = env(var);
  std::string fix = std::string("export ") + var +
                    "=\"eth1:<cpus of eth1's NUMA node>;eth2:...\" (cpus from "
                    "/sys/devices/system/node/node<N>/cpulist), or unset it";
  bool all_ok = true;
  for (const std::string& raw : split(value, ';')) {
    std::string item = trim(raw);
    if (item.empty()) continue;
    size_t colon = item.find(':');
    std::set<long long> cpus;
    if (colon == std::string::npos || colon == 0 || !parseCpuList(item.substr(colon + 1), &cpus)) {
      r.fail("env", std::string(var) + ": malformed entry \"" + item + "\" (want IF:CPULIST)", fix);
      all_ok = false;
      continue;
    }
    std::string nic = item.substr(0, colon);
    bool known = false;
    for (const std::string& n : names) known = known || n == nic;
    if (!known) {
      r.warn("env", std::string(var) + ": no interface " + nic, fix);
      all_ok = false;
      continue;
    }
    std::string numa = firstLine(sysfsRoot() + "/class/net/" + nic + "/device/numa_node");
    long long node = 0;
    if (!parseUnsigned(numa, &node)) continue;  // -1 or virtual: nothing to compare with
    std::set<long long> local;
    std::string list_path =
        sysfsRoot() + "/devices/system/node/node" + std::to_string(node) + "/cpulist";
    if (!parseCpuList(firstLine(list_path), &local)) continue;
    std::set<long long> outside;
    for (long long c : cpus) {
      if (local.count(c) == 0) outside.insert(c);
    }
    if (!outside.empty()) {
      r.warn("env",
             std::string(var) + ": " + nic + " is on NUMA node " + std::to_string(node) +
                 " but cores " + joinCpus(outside) + " are not (node " + std::to_string(node) +
                 ": " + firstLine(list_path) + ")",
             fix);
      all_ok = false;
    }
  }
  if (all_ok) r.ok("env", std::string(var) + "=" + value + " (cores on each NIC's NUMA node)");
}

// Every set variable of the engine's and the built-in transport's knob tables against its
// syntax, with the words the engine logs: "NAME=VALUE: out of range [lo, hi]".
void checkKnobs(Report& r) {
  std::string good;
  // The engine's own variables bear on both transports, the built-in's only on it.
  for (auto [table, scope] : {std::pair{&engine::engineKnobs(), Scope::kBoth},
                              std::pair{&engine::builtinTransportKnobs(), Scope::kBuiltin}}) {
    r.setScope(scope);
    for (const KnobDoc& k : *table) {
      if (!isSet(k.name) || k.syntax.type == KnobType::kText) continue;
      Parsed p = parseKnob(k, env(k.name));
      if (p.ok()) {
        good += (good.empty() ? "" : ", ") + std::string(k.name) + "=" + env(k.name);
        continue;
      }
      std::string what = std::string(k.name) + "=" + env(k.name) + ": " + p.message;
      std::string fix = std::string("set ") + k.name + " to " + describeSyntax(k.syntax) +
                        ", or unset it for the default";
      if (k.syntax.error_if_malformed) {
        r.fail("env", what + "; endpoint creation fails", fix);
      } else {
        r.warn("env", what + "; the engine uses its default: " + k.default_value, fix);
      }
    }
  }
  if (!good.empty()) r.ok("env", "well-formed: " + good);
  r.setScope(Scope::kTcpx);
}

}  // namespace

void checkEnvironment(Report& r) {
  std::vector<std::string> names = interfaceNames();
  checkKnobs(r);
  checkChunkSize(r);
  checkFlowSteeringWait(r);
  checkSockets(r);
  checkInterfaces(r, names);
  checkBindings(r, "NCCL_GPUDIRECTTCPX_TX_BINDINGS", names);
  checkBindings(r, "NCCL_GPUDIRECTTCPX_RX_BINDINGS", names);
}

// ---- dmabuf (a hint only) -----------------------------------------------------------------

void checkDmabuf(Report& r) {
  std::string release = firstLine(procfsRoot() + "/sys/kernel/osrelease");
  std::string kernel = release.empty() ? "" : " (kernel " + release + ")";
  if (exists(sysfsRoot() + "/kernel/dmabuf")) {
    r.ok("dmabuf", sysfsRoot() + "/kernel/dmabuf present" + kernel +
                       "; devmem-TCP itself is only proven by rxdm and the plugin");
  } else {
    r.warn("dmabuf",
           "hint: " + sysfsRoot() + "/kernel/dmabuf not visible" + kernel +
               ": GPU receives need Google's devmem-TCP kernel with dmabuf",
           "use a GCP A3 image with the GPUDirect-TCPX kernel (COS or the A3 Ubuntu image); "
           "ignore this hint if rxdm runs");
  }
}

}  // namespace tcpxp::cli::doctor
