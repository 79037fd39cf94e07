// NUMA-local thread placement: which cores sit near a NIC, and pinning the calling thread there.
// Used for the engine's driver thread and the socket transport's helper threads when
// UCCL_TCPX_PIN_THREADS says so (auto: only on machines with more than one NUMA node).
#pragma once

#include <string>
#include <vector>

#include "common/knob.h"

namespace tcpxp {

inline constexpr KnobDoc kPinThreadsKnob{
    "UCCL_TCPX_PIN_THREADS", "auto (on with > 1 NUMA node)",
    "pin driver and socket helper threads to their NIC's NUMA node: 1 | 0 | auto", autoBoolKnob()};

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}; false on junk.
bool parseCpuList(const std::string& text, std::vector<int>* out);
// NUMA nodes with CPUs (/sys/devices/system/node/node*/cpulist), at least 1.
int numaNodeCount();
// The NUMA node of network interface `name` (sysfs), -1 if unknown (virtual interfaces).
int numaNodeOfNet(const std::string& name);
// UCCL_TCPX_PIN_THREADS: 1 = pin, 0 = never, auto (default) = pin when numaNodeCount() > 1.
bool pinningWanted();
// Pins the calling thread to the CPUs of `node`; false (and nothing changed) if unknown.
bool pinCurrentThreadToNode(int node);

}  // namespace tcpxp
