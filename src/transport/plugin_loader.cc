#include "transport/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "common/log.h"
#include "transport/plugin_log.h"
#include "transport/socket/socket_net.h"
#include "transport/transports.h"

namespace tcpxp::transport {
namespace {

// One entry per table ever initialised (or whose init failed): init may run only once per
// process, so neither success nor failure is forgotten.
struct InitRecord {
  std::unique_ptr<NetPlugin> plugin;
  Status init_status;
};

std::mutex g_mu;
std::map<const ncclNet_v7_t*, InitRecord>& registry() {
  static auto* records = new std::map<const ncclNet_v7_t*, InitRecord>();
  return *records;
}

// The process's bridge policy (plugin_log.h); never destroyed, so plugin threads may log
// during exit. Its pending counts are reported at exit.
PluginLogLimiter& pluginLog() {
  static PluginLogLimiter* limiter = [] {
    auto* l =
        new PluginLogLimiter([] { return std::chrono::steady_clock::now(); },
                             [](LogLevel level, const char* file, int line, const char* text) {
                               logLine(level, file, line, "%s", text);
                             });
    std::atexit([] { pluginLog().flush(); });
    return l;
  }();
  return *limiter;
}

// The members the engine calls that `t` lacks, comma-separated; "" when complete. iflush,
// regMrDmaBuf, getDeviceMr and irecvConsumed are optional in the ABI.
std::string missingMembers(const ncclNet_v7_t& t) {
  std::string missing;
  auto need = [&](const void* member, const char* name) {
    if (member == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  need(t.name, "name");
  need(reinterpret_cast<const void*>(t.init), "init");
  need(reinterpret_cast<const void*>(t.devices), "devices");
  need(reinterpret_cast<const void*>(t.getProperties), "getProperties");
  need(reinterpret_cast<const void*>(t.listen), "listen");
  need(reinterpret_cast<const void*>(t.connect), "connect");
  need(reinterpret_cast<const void*>(t.accept), "accept");
  need(reinterpret_cast<const void*>(t.regMr), "regMr");
  need(reinterpret_cast<const void*>(t.deregMr), "deregMr");
  need(reinterpret_cast<const void*>(t.isend), "isend");
  need(reinterpret_cast<const void*>(t.irecv), "irecv");
  need(reinterpret_cast<const void*>(t.test), "test");
  need(reinterpret_cast<const void*>(t.closeSend), "closeSend");
  need(reinterpret_cast<const void*>(t.closeRecv), "closeRecv");
  need(reinterpret_cast<const void*>(t.closeListen), "closeListen");
  return missing;
}

Status initOnce(const ncclNet_v7_t* table, const std::string& origin, NetPlugin** out) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = registry().find(table);
  if (it == registry().end()) {
    TCPXP_RETURN_IF_ERROR(NetPlugin::validate(*table, origin));
    InitRecord record;
    ncclResult_t rc = table->init(&tcpxpPluginLogger);
    // By address: the built-in table in a loaded library (libnccl-net-tcpxp.so) is another copy,
    // reached through the v7 ABI alone.
    const tcpxpNetVectored_v1_t* vectored = rc == ncclSuccess && table == socket::socketNetTable()
                                                ? socket::socketVectoredOps()
                                                : nullptr;
    record.plugin = std::make_unique<NetPlugin>(table, origin, vectored);
    if (rc != ncclSuccess) {
      record.init_status =
          Status(Code::kPluginError, "init() of net plugin '" + record.plugin->name() + "' (" +
                                         origin + ") failed with ncclResult " + std::to_string(rc) +
                                         "; see the plugin's log lines above for the cause");
      LOG_ERROR("%s", record.init_status.message().c_str());
    } else {
      LOG_INFO("net plugin '%s' initialised (%s)", record.plugin->name().c_str(), origin.c_str());
    }
    it = registry().emplace(table, std::move(record)).first;
  }
  if (!it->second.init_status.isOk()) return it->second.init_status;
  *out = it->second.plugin.get();
  return Status::ok();
}

}  // namespace

extern "C" void tcpxpPluginLogger(int level, unsigned long /*flags*/, const char* file, int line,
                                  const char* fmt, ...) {
  if (fmt == nullptr) return;
  // Level first: a message not shown costs no formatting (TCPX's host-recv WARN is per recv()).
  LogLevel mapped = pluginMessageLevel(level, fmt);
  if (mapped == LogLevel::kNone || !logEnabled(mapped)) return;
  char text[2048];
  va_list args;
  va_start(args, fmt);
  int n = std::vsnprintf(text, sizeof(text), fmt, args);
  va_end(args);
  if (n < 0) return;
  size_t len = std::min(static_cast<size_t>(n), sizeof(text) - 1);
  while (len > 0 && text[len - 1] == '\n') --len;  // NCCL-style callers may end with a newline
  pluginLog().submit(mapped, file ? file : "plugin", line, std::string(text, len));
}

Status NetPlugin::validate(const ncclNet_v7_t& t, const std::string& origin) {
  std::string missing = missingMembers(t);
  if (!missing.empty()) {
    Status status(Code::kPluginError,
                  "ncclNet v7 table from " + origin + " is incomplete: missing " + missing);
    LOG_ERROR("%s", status.message().c_str());
    return status;
  }
  return Status::ok();
}

namespace {

enum class OpenStage { kNoFile, kNotLoadable, kNoSymbol, kOpened };

// The one dlopen of a plugin library in the project. Sets *table when it returns kOpened;
// otherwise *why says which step failed and how to fix it.
// RTLD_LOCAL: TCPX exports thousands of symbols (abseil among them) that must not leak into
// the global namespace. Plugins are never dlclose'd.
OpenStage openTable(const std::string& path, const ncclNet_v7_t** table, std::string* why) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) {
    *why = "net plugin library '" + path +
           "' does not exist (set UCCL_TCPX_PLUGIN_PATH to the TCPX libnccl-net.so, e.g. "
           "/usr/local/tcpx/lib64/libnccl-net.so)";
    return OpenStage::kNoFile;
  }
  void* dl = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) {
    const char* err = ::dlerror();
    *why = "cannot load net plugin '" + path + "': " + (err ? err : "unknown dlopen error");
    return OpenStage::kNotLoadable;
  }
  *table = static_cast<const ncclNet_v7_t*>(::dlsym(dl, "ncclNetPlugin_v7"));
  if (*table == nullptr) {
    *why = "'" + path +
           "' does not export ncclNetPlugin_v7 (not an ncclNet v7 plugin; TCPX 3.1.x exports "
           "exactly that symbol)";
    return OpenStage::kNoSymbol;
  }
  return OpenStage::kOpened;
}

}  // namespace

Status NetPlugin::load(const std::string& path, NetPlugin** out) {
  const ncclNet_v7_t* table = nullptr;
  std::string why;
  OpenStage stage = openTable(path, &table, &why);
  if (stage != OpenStage::kOpened) {
    Status status(stage == OpenStage::kNoFile ? Code::kNotFound : Code::kPluginError, why);
    LOG_WARN("%s", status.message().c_str());
    return status;
  }
  return initOnce(table, path, out);
}

PluginInspection inspectPlugin(const std::string& path) {
  PluginInspection r;
  const ncclNet_v7_t* table = nullptr;
  OpenStage stage = openTable(path, &table, &r.error);
  r.exists = stage != OpenStage::kNoFile;
  r.loads = r.exists && stage != OpenStage::kNotLoadable;
  r.has_symbol = stage == OpenStage::kOpened;
  if (!r.has_symbol) return r;
  r.name = table->name ? table->name : "(null)";
  std::string missing = missingMembers(*table);
  r.complete = missing.empty();
  if (!r.complete) r.error = "ncclNet v7 table from " + path + " is incomplete: missing " + missing;
  return r;
}

int probePluginChild(const std::string& path) {
  const ncclNet_v7_t* table = nullptr;
  std::string why;
  switch (openTable(path, &table, &why)) {
    case OpenStage::kNoFile:
    case OpenStage::kNotLoadable:
      return kProbeNotLoadable;
    case OpenStage::kNoSymbol:
      return kProbeNoSymbol;
    case OpenStage::kOpened:
      break;
  }
  if (!missingMembers(*table).empty()) return kProbeNoSymbol;
  if (table->init(nullptr) != ncclSuccess) return kProbeInitFailed;
  int n = 0;
  if (table->devices(&n) != ncclSuccess || n < 1) return kProbeNoDevices;
  return 0;
}

std::string probeExitMeaning(int exit_code) {
  switch (exit_code) {
    case 0:
      return "usable";
    case kProbeNotLoadable:
      return "the library does not load";
    case kProbeNoSymbol:
      return "no complete ncclNetPlugin_v7 table";
    case kProbeInitFailed:
      return "init() failed";
    case kProbeNoDevices:
      return "devices() failed or found no device";
  }
  return "unexpected exit " + std::to_string(exit_code);
}

Status NetPlugin::builtinSocket(NetPlugin** out) {
  return initOnce(socket::socketNetTable(), "built-in", out);
}

Status NetPlugin::fromTable(const ncclNet_v7_t* table, const std::string& origin, NetPlugin** out) {
  if (table == nullptr) return Status(Code::kInvalidArgument, "null ncclNet table");
  return initOnce(table, origin, out);
}

}  // namespace tcpxp::transport
