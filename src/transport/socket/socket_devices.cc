#include "transport/socket/socket_devices.h"

#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace tcpxp::transport::socket {
namespace {

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int readSpeed(const std::string& name) {
  std::ifstream in("/sys/class/net/" + name + "/speed");
  int speed = 0;
  if (in >> speed && speed > 0) return speed;
  return 10000;  // virtual interfaces (lo, veth) report nothing useful
}

std::string readPciPath(const std::string& name) {
  std::string link = "/sys/class/net/" + name + "/device";
  char resolved[PATH_MAX];
  if (::realpath(link.c_str(), resolved) == nullptr) return "";
  return resolved;
}

}  // namespace

bool ifnameMatches(const std::string& filter, const std::string& name) {
  std::string spec = filter;
  bool exclude = false;
  if (!spec.empty() && spec[0] == '^') {
    exclude = true;
    spec.erase(0, 1);
  }
  bool exact = false;
  if (!spec.empty() && spec[0] == '=') {
    exact = true;
    spec.erase(0, 1);
  }
  bool matched = false;
  for (const std::string& item : splitList(spec)) {
    if (exact ? name == item : name.compare(0, item.size(), item) == 0) matched = true;
  }
  return exclude ? !matched : matched;
}

std::vector<NetDevice> discoverDevices(const std::string& filter) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::map<std::string, NetDevice> by_name;
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || !(ifa->ifa_flags & IFF_UP)) continue;
    int family = ifa->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    if (family == AF_INET6) {
      auto* sa6 = reinterpret_cast<sockaddr_in6*>(ifa->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&sa6->sin6_addr)) continue;  // needs a scope id to be dialled
    }
    std::string name = ifa->ifa_name;
    bool loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    if (filter.empty()) {
      if (loopback || name.rfind("docker", 0) == 0 || name.rfind("virbr", 0) == 0) continue;
    } else if (!ifnameMatches(filter, name)) {
      continue;
    }
    auto it = by_name.find(name);
    if (it != by_name.end() && (it->second.addr.family() == AF_INET || family == AF_INET6)) {
      continue;  // keep the first IPv4 address
    }
    NetDevice dev;
    dev.name = name;
    size_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    std::memcpy(&dev.addr.storage, ifa->ifa_addr, len);
    dev.addr.len = static_cast<socklen_t>(len);
    dev.addr.setPort(0);
    by_name[name] = dev;
  }
  ::freeifaddrs(list);
  if (by_name.empty() && filter.empty()) return discoverDevices("=lo");
  std::vector<NetDevice> out;
  for (auto& [name, dev] : by_name) {
    dev.pci_path = readPciPath(name);
    dev.speed_mbps = readSpeed(name);
    out.push_back(std::move(dev));
  }
  return out;  // std::map keeps them sorted by name
}

}  // namespace tcpxp::transport::socket
