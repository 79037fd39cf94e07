// Names the calling thread (as `top -H`, `ps -L` and debuggers show it), so that the CPU time of
// the engine's driver and of each transport helper can be told apart on a busy machine.
#pragma once

#include <pthread.h>

#include <string>

namespace tcpxp {

// Linux keeps 15 characters; longer names are cut.
inline void nameCurrentThread(const std::string& name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace tcpxp
