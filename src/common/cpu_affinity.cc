#include "common/cpu_affinity.h"

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/env.h"
#include "common/log.h"

namespace tcpxp {
namespace {

std::string readLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

bool parseCpuList(const std::string& text, std::vector<int>* out) {
  std::vector<int> cpus;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    size_t dash = item.find('-');
    char* end = nullptr;
    long lo = std::strtol(item.c_str(), &end, 10);
    if (end == item.c_str()) return false;
    long hi = lo;
    if (dash != std::string::npos) {
      const char* rest = item.c_str() + dash + 1;
      hi = std::strtol(rest, &end, 10);
      if (end == rest) return false;
    }
    if (*end != '\0' || lo < 0 || hi < lo || hi > 65535) return false;
    for (long c = lo; c <= hi; ++c) cpus.push_back(static_cast<int>(c));
  }
  *out = std::move(cpus);
  return true;
}

int numaNodeCount() {
  static const int count = [] {
    int n = 0;
    for (int node = 0; node < 1024; ++node) {
      std::string list =
          readLine("/sys/devices/system/node/node" + std::to_string(node) + "/cpulist");
      if (list.empty()) {
        if (node > 64) break;
        continue;
      }
      ++n;
    }
    return n > 0 ? n : 1;
  }();
  return count;
}

int numaNodeOfNet(const std::string& name) {
  std::string text = readLine("/sys/class/net/" + name + "/device/numa_node");
  if (text.empty()) return -1;
  int node = std::atoi(text.c_str());
  return node >= 0 ? node : -1;
}

bool pinningWanted() {
  int wanted = envAutoBool(kPinThreadsKnob);
  return wanted < 0 ? numaNodeCount() > 1 : wanted == 1;
}

bool pinCurrentThreadToNode(int node) {
  if (node < 0) return false;
  std::vector<int> cpus;
  std::string list = readLine("/sys/devices/system/node/node" + std::to_string(node) + "/cpulist");
  if (list.empty() || !parseCpuList(list, &cpus) || cpus.empty()) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) {
    if (c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    LOG_WARN("could not pin a thread to NUMA node %d (cpus %s)", node, list.c_str());
    return false;
  }
  return true;
}

}  // namespace tcpxp
