// Loads an ncclNet v7 table (the TCPX plugin, the built-in socket transport, or any other),
// validates it and calls its init exactly once per process, however many engines use it.
//
// Threading: every function here is thread-safe. Ownership: a NetPlugin lives until process
// exit (plugins are never dlclose'd: their helper threads and atexit hooks may outlive us).
#pragma once

#include <string>

#include "common/status.h"
#include "transport/abi/net_v7.h"
#include "transport/abi/net_vectored.h"

namespace tcpxp::transport {

class NetPlugin {
 public:
  // dlopen(path, RTLD_NOW | RTLD_LOCAL), resolve `ncclNetPlugin_v7`, validate, init once.
  // Errors: kNotFound (no such file), kPluginError (not loadable, no symbol, incomplete table,
  // init failed; the message says which and how to fix it).
  static Status load(const std::string& path, NetPlugin** out);
  // The built-in socket transport, initialised once.
  static Status builtinSocket(NetPlugin** out);
  // Validate and init a table that is already in memory (tests, decorator tables).
  // `origin` names it in logs.
  static Status fromTable(const ncclNet_v7_t* table, const std::string& origin, NetPlugin** out);

  // Every member that the engine calls must be present; iflush, regMrDmaBuf, getDeviceMr and
  // irecvConsumed are optional in the ABI. Returns kPluginError naming the missing members.
  static Status validate(const ncclNet_v7_t& table, const std::string& origin);

  const ncclNet_v7_t& table() const { return *table_; }
  const std::string& name() const { return name_; }
  const std::string& origin() const { return origin_; }
  // tcpx-p2p's vectored requests (abi/net_vectored.h), or null: only the built-in table of this
  // binary offers them (while UCCL_SOCKET_IOV is on), never a table loaded from a library.
  const tcpxpNetVectored_v1_t* vectored() const { return vectored_; }

  NetPlugin(const ncclNet_v7_t* table, std::string origin,
            const tcpxpNetVectored_v1_t* vectored = nullptr)
      : table_(table),
        vectored_(vectored),
        name_(table->name ? table->name : "?"),
        origin_(std::move(origin)) {}

 private:
  const ncclNet_v7_t* table_;
  const tcpxpNetVectored_v1_t* vectored_;
  std::string name_;
  std::string origin_;
};

// The plugin logger bridged into the project's log, with plugin_log.h's policy (levels,
// TCPX's host-recv WARN at DEBUG, repeats counted, a rate limit). Exposed for tests.
extern "C" void tcpxpPluginLogger(int level, unsigned long flags, const char* file, int line,
                                  const char* fmt, ...);

}  // namespace tcpxp::transport
