// The socket transport's devices: the machine's usable network interfaces, sorted by name
// (as TCPX sorts its devices), each with one address to listen on.
#pragma once

#include <string>
#include <vector>

#include "common/net_util.h"

namespace tcpxp::transport::socket {

struct NetDevice {
  std::string name;      // interface name, e.g. "eth1"
  SockAddr addr;         // address to listen on (IPv4 preferred)
  std::string pci_path;  // realpath of /sys/class/net/<name>/device; empty if virtual
  int speed_mbps = 0;    // /sys/class/net/<name>/speed, or 10000 if unknown
};

// True if `name` is selected by an NCCL_SOCKET_IFNAME-style filter.
bool ifnameMatches(const std::string& filter, const std::string& name);

// Interfaces that are up and have an address, filtered; loopback only if nothing else matches
// an empty filter.
std::vector<NetDevice> discoverDevices(const std::string& filter);

}  // namespace tcpxp::transport::socket
