// The C API (uccl_engine.h) as a thin translation onto tcpxp::engine::Endpoint.
//
// What this file adds to the Endpoint, and nothing more:
//   - handle validation: every live engine and connection handle is in a process-wide table, so
//     a NULL, never-created or destroyed handle is an error instead of a crash;
//   - lifetime across threads: an engine's Endpoint sits in a shared EngineState; each call holds
//     a reference while it runs, and uccl_engine_destroy sets `closing`, which the blocking calls
//     poll as their `interrupted` callback, so they return and the Endpoint dies with the last
//     reference;
//   - error translation: Status -> 0 / -1 / NULL plus a thread-local message; no exception leaves
//     an extern "C" function (run() catches everything);
//   - UCCL's process-wide notification list, filled from every live engine;
//   - UCCL's same-host IPC answers: which connections are local (uccl_engine_connect_bdf), the
//     IPC info of a registration's start (get_ipc_info), and the vector calls' ipc_bufs on a
//     local connection as CUDA IPC copies (engine/ipc_connections.h);
//   - making a failed transfer visible to callers of the bool uccl_engine_xfer_status (the
//     pending refusal of the next send_notif on that connection: see uccl_engine.h).
#include "uccl_engine.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "control/control_wire.h"
#include "control/fifo_item.h"
#include "control/metadata.h"
#include "datapath/cuda_ipc.h"
#include "engine/endpoint.h"
#include "engine/engine_config.h"
#include "engine/memory_info.h"

namespace eng = tcpxp::engine;
namespace control = tcpxp::control;
using tcpxp::Code;
using tcpxp::Status;

// FifoItem travels byte for byte between the C struct and the control codec.
static_assert(std::endian::native == std::endian::little, "FifoItem is little-endian on the wire");
static_assert(sizeof(FifoItem) == control::kFifoItemBytes);
static_assert(offsetof(FifoItem, addr) == control::kFifoAddrOffset);
static_assert(offsetof(FifoItem, size) == control::kFifoSizeOffset);
static_assert(offsetof(FifoItem, rkey) == control::kFifoRkeyOffset);
static_assert(offsetof(FifoItem, nmsgs) == control::kFifoNmsgsOffset);
static_assert(offsetof(FifoItem, rid) == control::kFifoRidOffset);
static_assert(offsetof(FifoItem, idx) == control::kFifoIdxOffset);
static_assert(offsetof(FifoItem, padding) == control::kFifoSize64Offset);
static_assert(std::tuple_size_v<eng::FifoBlob> == UCCL_ENGINE_FIFO_SIZE);
static_assert(sizeof(uccl_mr_t) == sizeof(eng::MrId));
// send_notif carries all 256 bytes of msg, as UCCL does.
static_assert(control::kMaxNotifyFieldBytes >= UCCL_ENGINE_MSG_SIZE);

namespace {

// An engine's Endpoint and its shutdown flag, shared by the handle and by calls in flight.
struct EngineState {
  std::unique_ptr<eng::Endpoint> ep;
  // Set (release) by uccl_engine_destroy; blocking calls poll it (acquire) and give up.
  std::atomic<bool> closing{false};
  // Registrations by start address (UCCL's mem_reg_info): get_ipc_info looks them up.
  std::mutex regs_mu;
  std::unordered_map<uintptr_t, std::pair<eng::MrId, size_t>> regs;
};
using StateRef = std::shared_ptr<EngineState>;

}  // namespace

struct uccl_engine {
  StateRef state;
};

struct uccl_conn {
  uccl_engine* owner = nullptr;
  eng::ConnId id = 0;
  bool is_local = false;  // a peer of this host with GPU memory: ipc_bufs take CUDA IPC
};

namespace {

constexpr size_t kNotifyNameMax = UCCL_ENGINE_MSG_SIZE - 1;  // notify_msg_t.name keeps its NUL
constexpr size_t kNotifyMsgMax = UCCL_ENGINE_MSG_SIZE;

static_assert(tcpxp::datapath::kIpcInfoBytes == UCCL_ENGINE_IPC_INFO_SIZE);

thread_local std::string t_last_error;

// A failed transfer that uccl_engine_xfer_status reported as over (true). It arms a refusal of
// the next send_notif on that connection; every API call moves it to t_previous_failure (so it
// lives for exactly one call) and send_notif looks there.
struct PendingFailure {
  uccl_conn* conn = nullptr;
  std::string why;
};
thread_local PendingFailure t_pending_failure;
thread_local PendingFailure t_previous_failure;

void setError(const char* fn, const char* a, const char* b = "") noexcept {
  try {
    t_last_error.assign(fn).append(": ").append(a).append(b);
  } catch (...) {
    t_last_error.clear();  // out of memory: an empty message beats none
  }
}

// Runs one API call's body: Status -> 0 / -1 and the thread-local message; never throws.
template <typename Body>
int run(const char* fn, Body&& body) noexcept {
  t_previous_failure = std::move(t_pending_failure);  // noexcept: std::string move
  t_pending_failure = PendingFailure{};
  try {
    Status st = body();
    if (st.isOk()) return 0;
    setError(fn, st.toString().c_str());
  } catch (const std::exception& e) {
    setError(fn, "unexpected exception: ", e.what());
  } catch (...) {
    setError(fn, "unexpected exception");
  }
  return -1;
}

Status invalid(std::string what) { return Status(Code::kInvalidArgument, std::move(what)); }

// Live handles and queued notifications, process-wide. Never destroyed (handles may outlive
// static destruction in the application's atexit order).
struct Handles {
  std::mutex mu;
  std::unordered_set<uccl_engine*> engines;
  std::unordered_map<uccl_conn*, uccl_engine*> conns;  // conn -> owner
  std::deque<eng::Notification> notifs;  // as received: name, msg of any length <= 256
};
Handles& handles() {
  static Handles* h = new Handles;
  return *h;
}

Status findEngine(uccl_engine* e, StateRef* out) {
  if (e == nullptr) return invalid("engine is NULL");
  Handles& h = handles();
  std::lock_guard<std::mutex> lock(h.mu);
  if (h.engines.count(e) == 0) {
    return Status(Code::kNotFound, "engine handle is not live (destroyed or never created)");
  }
  *out = e->state;
  return Status::ok();
}

Status findConn(uccl_conn* c, StateRef* out, eng::ConnId* id, bool* is_local = nullptr) {
  if (c == nullptr) return invalid("conn is NULL");
  Handles& h = handles();
  std::lock_guard<std::mutex> lock(h.mu);
  auto it = h.conns.find(c);
  if (it == h.conns.end()) {
    return Status(
        Code::kNotFound,
        "connection handle is not live (destroyed, its engine destroyed, or never created)");
  }
  *out = it->second->state;
  *id = c->id;
  if (is_local) *is_local = c->is_local;
  return Status::ok();
}

eng::Interrupted closingFlag(const StateRef& state) {
  return [state] { return state->closing.load(std::memory_order_acquire); };
}

// Wraps an established connection in a handle, unless the engine died meanwhile.
Status adoptConn(uccl_engine* e, const StateRef& state, eng::ConnId id, uccl_conn** out,
                 bool is_local = false) {
  auto c = std::make_unique<uccl_conn>();
  c->owner = e;
  c->id = id;
  c->is_local = is_local;
  {
    Handles& h = handles();
    std::lock_guard<std::mutex> lock(h.mu);
    if (h.engines.count(e) != 0) {
      h.conns.emplace(c.get(), e);
      *out = c.release();
      return Status::ok();
    }
  }
  (void)state->ep->closeConnection(id);
  return Status(Code::kBusy, "the engine was destroyed while the connection was being made");
}

// UCCL's truncation for the fixed form: name to 255 bytes (NUL-terminated), msg to 256.
notify_msg_t toNotifyMsg(const eng::Notification& n) {
  notify_msg_t m;
  std::memset(&m, 0, sizeof(m));
  std::memcpy(m.name, n.name.data(), std::min(n.name.size(), kNotifyNameMax));
  std::memcpy(m.msg, n.msg.data(), std::min(n.msg.size(), kNotifyMsgMax));
  return m;
}

void queueNotifications(EngineState& state) {
  std::vector<eng::Notification> got = state.ep->takeNotifications();
  if (got.empty()) return;
  Handles& h = handles();
  std::lock_guard<std::mutex> lock(h.mu);
  for (auto& n : got) h.notifs.push_back(std::move(n));
}

// Sends one notification, unless uccl_engine_xfer_status just reported a failed transfer on this
// connection to this thread (uccl_engine.h: the plugin must see the failure).
Status sendNotification(uccl_conn* conn, std::string name, std::string msg) {
  if (name.size() > kNotifyNameMax) {
    return invalid("name is " + std::to_string(name.size()) + " bytes; at most " +
                   std::to_string(kNotifyNameMax));
  }
  if (name.find('\0') != std::string::npos) return invalid("name contains a NUL byte");
  if (msg.size() > kNotifyMsgMax) {
    return invalid("msg is " + std::to_string(msg.size()) + " bytes; the engine carries at most " +
                   std::to_string(kNotifyMsgMax));
  }
  StateRef state;
  eng::ConnId id = 0;
  TCPXP_RETURN_IF_ERROR(findConn(conn, &state, &id));
  if (t_previous_failure.conn == conn) {
    return Status(Code::kNotSupported, "not sent: " + t_previous_failure.why);
  }
  return state->ep->sendNotify(id, name, msg);
}

// Parses UCCL's remote_gpu: a PCI BDF ([domain:]bus:device.function, hex), a CUDA index, or
// nothing. *index is -1 for a BDF or nothing (only a port derived from the index needs it).
Status parseRemoteGpu(const char* text, int* index, bool* is_bdf) {
  *index = -1;
  *is_bdf = false;
  if (text == nullptr || *text == '\0') return Status::ok();
  std::string s(text);
  if (s.size() > 64) return invalid("remote_gpu is longer than any PCI BDF");
  if (std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    if (s.size() > 4) return invalid("remote_gpu index " + s + " is out of range");
    *index = std::stoi(s);
    return Status::ok();
  }
  // Shape check: hex groups separated as [dddd:]bb:dd.f.
  auto hex = [](const std::string& g) {
    return !g.empty() && g.size() <= 8 &&
           std::all_of(g.begin(), g.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
  };
  size_t dot = s.rfind('.');
  size_t c2 = s.rfind(':');
  size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : s.rfind(':', c2 - 1);
  bool ok = dot != std::string::npos && c2 != std::string::npos && dot > c2 &&
            hex(s.substr(dot + 1)) && hex(s.substr(c2 + 1, dot - c2 - 1)) &&
            hex(c1 == std::string::npos ? s.substr(0, c2) : s.substr(c1 + 1, c2 - c1 - 1)) &&
            (c1 == std::string::npos || hex(s.substr(0, c1)));
  if (!ok) {
    return invalid("remote_gpu \"" + s +
                   "\" is neither a PCI BDF (0000:4a:00.0) nor a GPU index (0)");
  }
  *is_bdf = true;
  return Status::ok();
}

// ---- transfers ----

enum class Op { kSend, kRecv, kWrite, kRead };

// Checks the arrays of a call and builds its segments. fifos is NULL for send/recv.
Status segments(const uccl_mr_t* mrs, const void* const* ptrs, const size_t* sizes,
                const FifoItem* fifos, bool need_fifos, int n, std::vector<eng::Segment>* out) {
  if (n <= 0) return invalid("num_iovs must be > 0 and every array must hold num_iovs entries");
  if (mrs == nullptr || ptrs == nullptr || sizes == nullptr || (need_fifos && fifos == nullptr)) {
    return invalid("an array argument is NULL");
  }
  out->resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    eng::Segment& s = (*out)[static_cast<size_t>(i)];
    if (ptrs[i] == nullptr) return invalid("buffer " + std::to_string(i) + " is NULL");
    s.mr = mrs[i];
    s.ptr = const_cast<void*>(ptrs[i]);  // the engine's Segment is shared by both directions
    s.size = sizes[i];
    if (need_fifos) std::memcpy(s.fifo.data(), &fifos[i], sizeof(FifoItem));
  }
  return Status::ok();
}

Status start(uccl_conn* conn, Op op, std::span<const eng::Segment> segs, StateRef* state,
             uint64_t* xfer) {
  eng::ConnId id = 0;
  TCPXP_RETURN_IF_ERROR(findConn(conn, state, &id));
  eng::Endpoint& ep = *(*state)->ep;
  switch (op) {
    case Op::kSend:
      return ep.sendAsync(id, segs, xfer);
    case Op::kRecv:
      return ep.recvAsync(id, segs, xfer);
    case Op::kWrite:
      return ep.writeAsync(id, segs, xfer);
    case Op::kRead:
      return ep.readAsync(id, segs, xfer);
  }
  return Status(Code::kInternal, "unknown operation");
}

int submit(const char* fn, uccl_conn* conn, Op op, const uccl_mr_t* mrs, const void* const* ptrs,
           const size_t* sizes, const FifoItem* fifos, int n, uint64_t* transfer_id) {
  return run(fn, [&] {
    if (transfer_id == nullptr) return invalid("transfer_id is NULL");
    std::vector<eng::Segment> segs;
    TCPXP_RETURN_IF_ERROR(
        segments(mrs, ptrs, sizes, fifos, op == Op::kWrite || op == Op::kRead, n, &segs));
    StateRef state;
    uint64_t xfer = 0;
    TCPXP_RETURN_IF_ERROR(start(conn, op, segs, &state, &xfer));
    *transfer_id = xfer;
    return Status::ok();
  });
}

// Blocking receive. If the engine is destroyed meanwhile the wait gives up; the recv stays
// posted until the Endpoint dies with its last reference (held here until we return).
int recvBlocking(const char* fn, uccl_conn* conn, const uccl_mr_t* mrs, void* const* ptrs,
                 const size_t* sizes, int n) {
  return run(fn, [&] {
    std::vector<eng::Segment> segs;
    TCPXP_RETURN_IF_ERROR(segments(mrs, ptrs, sizes, nullptr, false, n, &segs));
    StateRef state;
    uint64_t xfer = 0;
    TCPXP_RETURN_IF_ERROR(start(conn, Op::kRecv, segs, &state, &xfer));
    return state->ep->wait(xfer, closingFlag(state));
  });
}

int pollTransfer(const char* fn, uccl_conn* conn, uint64_t transfer_id, bool* done, size_t* bytes) {
  return run(fn, [&] {
    if (done == nullptr) return invalid("done is NULL");
    StateRef state;
    eng::ConnId id = 0;
    TCPXP_RETURN_IF_ERROR(findConn(conn, &state, &id));
    bool finished = false;
    size_t moved = 0;
    Status st = state->ep->poll(transfer_id, &finished, &moved);
    if (finished) *done = true;  // also when it failed: the id is released either way
    if (!st.isOk()) return st;
    *done = finished;
    if (finished && bytes != nullptr) *bytes = moved;
    return Status::ok();
  });
}

}  // namespace

extern "C" {

// ---- engine ----

uccl_engine_t* uccl_engine_create_gpu(int gpu_idx) {
  uccl_engine_t* out = nullptr;
  (void)run("uccl_engine_create", [&] {
    if (gpu_idx < -1)
      return invalid("gpu_idx " + std::to_string(gpu_idx) + " (use -1 for host-only)");
    auto state = std::make_shared<EngineState>();
    TCPXP_RETURN_IF_ERROR(eng::Endpoint::create(gpu_idx, &state->ep));
    auto e = std::make_unique<uccl_engine>();
    e->state = std::move(state);
    Handles& h = handles();
    std::lock_guard<std::mutex> lock(h.mu);
    h.engines.insert(e.get());
    out = e.release();
    return Status::ok();
  });
  return out;
}

uccl_engine_t* uccl_engine_create(int num_cpus, bool in_python) {
  (void)num_cpus;   // one driver thread per engine
  (void)in_python;  // no interpreter lock is taken here
  int gpu = -1;
  try {
    gpu = static_cast<int>(tcpxp::envInt(tcpxp::engine::kGpuKnob, -1));
  } catch (...) {
    setError("uccl_engine_create", "cannot read UCCL_TCPX_GPU");
    return nullptr;
  }
  return uccl_engine_create_gpu(gpu);
}

void uccl_engine_destroy(uccl_engine_t* engine) {
  (void)run("uccl_engine_destroy", [&] {
    if (engine == nullptr) return invalid("engine is NULL");
    std::vector<uccl_conn*> orphans;
    StateRef state;
    {
      Handles& h = handles();
      std::lock_guard<std::mutex> lock(h.mu);
      if (h.engines.erase(engine) == 0) {
        return Status(Code::kNotFound, "engine handle is not live (destroyed or never created)");
      }
      for (auto it = h.conns.begin(); it != h.conns.end();) {
        if (it->second == engine) {
          orphans.push_back(it->first);
          it = h.conns.erase(it);
        } else {
          ++it;
        }
      }
      state = std::move(engine->state);
    }
    state->closing.store(true, std::memory_order_release);
    state->ep->stopAccept();
    queueNotifications(*state);
    for (uccl_conn* c : orphans) delete c;
    delete engine;
    // The Endpoint closes its connections when the last reference (ours, or that of a call
    // still returning on another thread) goes.
    return Status::ok();
  });
}

int uccl_engine_get_metadata(uccl_engine_t* engine, char** metadata_str) {
  return run("uccl_engine_get_metadata", [&] {
    if (metadata_str == nullptr) return invalid("metadata_str is NULL");
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    const eng::EndpointInfo& info = state->ep->info();
    std::string text;
    TCPXP_RETURN_IF_ERROR(control::formatMetadataString({info.ip, info.port, info.bdf}, &text));
    // new[], as UCCL allocates it: NIXL's plugin frees it with delete[].
    char* s = new (std::nothrow) char[text.size() + 1];
    if (s == nullptr) return Status(Code::kResourceExhausted, "out of memory");
    std::memcpy(s, text.c_str(), text.size() + 1);
    *metadata_str = s;
    return Status::ok();
  });
}

void uccl_engine_free_metadata(char* metadata_str) { delete[] metadata_str; }

// ---- connections ----

uccl_conn_t* uccl_engine_connect(uccl_engine_t* engine, const char* ip_addr, int remote_gpu_idx,
                                 int remote_port) {
  uccl_conn_t* out = nullptr;
  (void)run("uccl_engine_connect", [&] {
    if (ip_addr == nullptr) return invalid("ip_addr is NULL");
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    eng::ConnId id = 0;
    TCPXP_RETURN_IF_ERROR(
        state->ep->connect(ip_addr, remote_gpu_idx, remote_port, &id, closingFlag(state)));
    return adoptConn(engine, state, id, &out);
  });
  return out;
}

namespace {
// UCCL (p2p/uccl_engine.cc uccl_engine_connect): a peer is local when ip_addr is this host's
// address and UCCL_P2P_DISABLE_IPC is not 1; its NCCL build then still connects over the network
// (control, notifications) and moves the data by IPC when the caller passes ipc_bufs (NIXL's
// plugin does, with the peer's get_ipc_info blobs). The same here. Not local: a connection to
// oneself (same_process: UCCL uses direct addresses there; here it is an ordinary loopback
// connection), a host-only engine, a build without CUDA.
bool peerIsLocal(const eng::Endpoint& ep, const std::string& ip, bool same_process) {
  const eng::EndpointInfo& info = ep.info();
  if (same_process || info.gpu_index < 0 || info.ipc.rfind("CUDA IPC", 0) != 0) return false;
  if (tcpxp::envBool(eng::kDisableIpcKnob, false)) return false;
  return ip == info.ip || ip == eng::oobIp();
}
}  // namespace

uccl_conn_t* uccl_engine_connect_bdf(uccl_engine_t* engine, const char* ip_addr,
                                     const char* remote_gpu, int remote_port, bool same_process) {
  uccl_conn_t* out = nullptr;
  (void)run("uccl_engine_connect", [&] {
    if (ip_addr == nullptr) return invalid("ip_addr is NULL");
    int index = -1;
    bool is_bdf = false;
    TCPXP_RETURN_IF_ERROR(parseRemoteGpu(remote_gpu, &index, &is_bdf));
    if (is_bdf && remote_port <= 0) {
      return invalid("remote_port " + std::to_string(remote_port) +
                     " with a BDF: pass the port from the peer's metadata (ip:port?BDF)");
    }
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    eng::ConnId id = 0;
    TCPXP_RETURN_IF_ERROR(state->ep->connect(ip_addr, index, remote_port, &id, closingFlag(state)));
    return adoptConn(engine, state, id, &out, peerIsLocal(*state->ep, ip_addr, same_process));
  });
  return out;
}

uccl_conn_t* uccl_engine_accept(uccl_engine_t* engine, char* ip_addr_buf, size_t ip_addr_buf_len,
                                int* remote_gpu_idx) {
  uccl_conn_t* out = nullptr;
  (void)run("uccl_engine_accept", [&] {
    if (ip_addr_buf == nullptr && ip_addr_buf_len != 0) {
      return invalid("ip_addr_buf is NULL but ip_addr_buf_len is not 0");
    }
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    eng::ConnId id = 0;
    std::string ip;
    int gpu = -1;
    TCPXP_RETURN_IF_ERROR(state->ep->accept(&id, &ip, &gpu, closingFlag(state)));
    TCPXP_RETURN_IF_ERROR(adoptConn(engine, state, id, &out));
    if (ip_addr_buf_len != 0) {
      size_t n = std::min(ip.size(), ip_addr_buf_len - 1);
      std::memcpy(ip_addr_buf, ip.data(), n);
      ip_addr_buf[n] = '\0';
    }
    if (remote_gpu_idx != nullptr) *remote_gpu_idx = gpu;
    return Status::ok();
  });
  return out;
}

void uccl_engine_stop_accept(uccl_engine_t* engine) {
  (void)run("uccl_engine_stop_accept", [&] {
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    state->ep->stopAccept();
    return Status::ok();
  });
}

int uccl_engine_start_listener(uccl_conn_t* conn) {
  return run("uccl_engine_start_listener", [&] {
    StateRef state;
    eng::ConnId id = 0;
    return findConn(conn, &state, &id);  // notifications arrive on the driver thread already
  });
}

void uccl_engine_conn_destroy(uccl_conn_t* conn) {
  (void)run("uccl_engine_conn_destroy", [&] {
    if (conn == nullptr) return invalid("conn is NULL");
    StateRef state;
    {
      Handles& h = handles();
      std::lock_guard<std::mutex> lock(h.mu);
      auto it = h.conns.find(conn);
      if (it == h.conns.end()) {
        return Status(Code::kNotFound,
                      "connection handle is not live (destroyed or never created)");
      }
      state = it->second->state;
      h.conns.erase(it);
    }
    std::unique_ptr<uccl_conn> owned(conn);
    return state->ep->closeConnection(owned->id);
  });
}

bool uccl_engine_conn_is_local(uccl_conn_t* conn) {
  bool local = false;
  (void)run("uccl_engine_conn_is_local", [&] {
    StateRef state;
    eng::ConnId id = 0;
    return findConn(conn, &state, &id, &local);
  });
  return local;
}

// ---- memory ----

int uccl_engine_reg(uccl_engine_t* engine, uintptr_t data, size_t size, uccl_mr_t* mr_id) {
  return run("uccl_engine_reg", [&] {
    if (mr_id == nullptr) return invalid("mr_id is NULL");
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    eng::MrId id = 0;
    TCPXP_RETURN_IF_ERROR(state->ep->reg(reinterpret_cast<void*>(data), size, &id));
    *mr_id = id;
    std::lock_guard<std::mutex> lock(state->regs_mu);
    state->regs[data] = {id, size};
    return Status::ok();
  });
}

void uccl_engine_mr_destroy(uccl_engine_t* engine, uccl_mr_t mr) {
  (void)run("uccl_engine_mr_destroy", [&] {
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    TCPXP_RETURN_IF_ERROR(state->ep->dereg(mr));
    std::lock_guard<std::mutex> lock(state->regs_mu);
    for (auto it = state->regs.begin(); it != state->regs.end(); ++it) {
      if (it->second.first == mr) {
        state->regs.erase(it);
        break;
      }
    }
    return Status::ok();
  });
}

int uccl_engine_prepare_fifo(uccl_engine_t* engine, uccl_mr_t mr, const void* data, size_t size,
                             char* fifo_buf) {
  return run("uccl_engine_prepare_fifo", [&] {
    if (data == nullptr || fifo_buf == nullptr) return invalid("data or fifo_buf is NULL");
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    eng::FifoBlob blob{};
    TCPXP_RETURN_IF_ERROR(
        state->ep->advertise(/*conn=*/0, mr, const_cast<void*>(data), size, &blob));
    std::memcpy(fifo_buf, blob.data(), blob.size());
    return Status::ok();
  });
}

int uccl_engine_update_fifo(FifoItem* fifo_item, uint64_t remote_addr, uint32_t size) {
  return run("uccl_engine_update_fifo", [&] {
    if (fifo_item == nullptr) return invalid("fifo_item is NULL");
    // Object representation access; updateFifoItem leaves the bytes untouched when it refuses.
    return control::updateFifoItem(reinterpret_cast<uint8_t*>(fifo_item), remote_addr, size);
  });
}

// UCCL (uccl_engine_get_ipc_info): addr must be the start of a registration (-1 otherwise);
// host memory, or UCCL_P2P_DISABLE_IPC=1, gives 0 with has_ipc false.
int uccl_engine_get_ipc_info(uccl_engine_t* engine, uintptr_t addr, char* ipc_buf, bool* has_ipc) {
  return run("uccl_engine_get_ipc_info", [&] {
    if (ipc_buf == nullptr || has_ipc == nullptr) return invalid("ipc_buf or has_ipc is NULL");
    StateRef state;
    TCPXP_RETURN_IF_ERROR(findEngine(engine, &state));
    size_t size = 0;
    {
      std::lock_guard<std::mutex> lock(state->regs_mu);
      auto it = state->regs.find(addr);
      if (it == state->regs.end()) return invalid("addr is not the start of a registration");
      size = it->second.second;
    }
    std::memset(ipc_buf, 0, UCCL_ENGINE_IPC_INFO_SIZE);
    *has_ipc = false;
    if (tcpxp::envBool(eng::kDisableIpcKnob, false)) return Status::ok();
    if (state->ep->info().gpu_index < 0 ||
        eng::classifyMemory(reinterpret_cast<void*>(addr)).kind !=
            tcpxp::transport::MemKind::kCuda) {
      return Status::ok();
    }
    tcpxp::datapath::IpcBlob blob{};
    // Not exportable (memory from cuMemCreate, managed memory): no IPC info; the network path
    // still serves the buffer.
    if (!state->ep->advertiseIpc(reinterpret_cast<void*>(addr), size, &blob).isOk()) {
      return Status::ok();
    }
    std::memcpy(ipc_buf, blob.data(), blob.size());
    *has_ipc = true;
    return Status::ok();
  });
}

int uccl_engine_update_ipc_info(char* ipc_buf, uintptr_t addr, uintptr_t base_addr, size_t size) {
  return run("uccl_engine_update_ipc_info", [&] {
    if (ipc_buf == nullptr) return invalid("ipc_buf is NULL");
    return tcpxp::datapath::updateIpcInfo(reinterpret_cast<uint8_t*>(ipc_buf), addr, base_addr,
                                          size);
  });
}

// ---- transfers ----

int uccl_engine_read(uccl_conn_t* conn, uccl_mr_t mr, const void* data, size_t size,
                     FifoItem fifo_item, uint64_t* transfer_id) {
  return submit("uccl_engine_read", conn, Op::kRead, &mr, &data, &size, &fifo_item, 1, transfer_id);
}

int uccl_engine_write(uccl_conn_t* conn, uccl_mr_t mr, const void* data, size_t size,
                      FifoItem fifo_item, uint64_t* transfer_id) {
  return submit("uccl_engine_write", conn, Op::kWrite, &mr, &data, &size, &fifo_item, 1,
                transfer_id);
}

int uccl_engine_read_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids, void* const* dst_v,
                            const size_t* size_v, const FifoItem* fifo_items, int num_iovs,
                            uint64_t* transfer_id) {
  return submit("uccl_engine_read_vector", conn, Op::kRead, mr_ids, dst_v, size_v, fifo_items,
                num_iovs, transfer_id);
}

int uccl_engine_write_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids, void* const* src_v,
                             const size_t* size_v, const FifoItem* fifo_items, int num_iovs,
                             uint64_t* transfer_id) {
  return submit("uccl_engine_write_vector", conn, Op::kWrite, mr_ids, src_v, size_v, fifo_items,
                num_iovs, transfer_id);
}

namespace {
// UCCL (uccl_engine_read_vector / write_vector): on a local connection with ipc_bufs given, the
// pieces are IPC copies (the FifoItems and mr_ids are not used); otherwise ipc_bufs are ignored.
// *ipc is set when this call took the IPC path (its result is then the answer).
int ipcVector(const char* fn, uccl_conn_t* conn, bool write, void* const* ptrs,
              const size_t* size_v, int num_iovs, uint64_t* transfer_id,
              const char* const* ipc_bufs, bool* ipc) {
  *ipc = false;
  if (ipc_bufs == nullptr) return 0;
  StateRef state;
  eng::ConnId id = 0;
  bool local = false;
  if (!findConn(conn, &state, &id, &local).isOk() || !local) return 0;
  *ipc = true;
  return run(fn, [&] {
    if (ptrs == nullptr || size_v == nullptr || transfer_id == nullptr || num_iovs <= 0) {
      return invalid("NULL array, NULL transfer_id or num_iovs <= 0");
    }
    std::vector<eng::IpcSegment> segs(static_cast<size_t>(num_iovs));
    for (size_t i = 0; i < segs.size(); ++i) {
      if (ipc_bufs[i] == nullptr) return invalid("ipc_bufs[" + std::to_string(i) + "] is NULL");
      segs[i].ptr = ptrs[i];
      segs[i].size = size_v[i];
      std::memcpy(segs[i].info.data(), ipc_bufs[i], segs[i].info.size());
    }
    eng::XferId x = 0;
    TCPXP_RETURN_IF_ERROR(write ? state->ep->writeIpcAsync(id, segs, &x)
                                : state->ep->readIpcAsync(id, segs, &x));
    *transfer_id = x;
    return Status::ok();
  });
}
}  // namespace

int uccl_engine_read_vector_ipc(uccl_conn_t* conn, const uccl_mr_t* mr_ids, void* const* dst_v,
                                const size_t* size_v, const FifoItem* fifo_items, int num_iovs,
                                uint64_t* transfer_id, const char* const* ipc_bufs) {
  bool ipc = false;
  int rc = ipcVector("uccl_engine_read_vector", conn, /*write=*/false, dst_v, size_v, num_iovs,
                     transfer_id, ipc_bufs, &ipc);
  if (ipc) return rc;
  return submit("uccl_engine_read_vector", conn, Op::kRead, mr_ids, dst_v, size_v, fifo_items,
                num_iovs, transfer_id);
}

int uccl_engine_write_vector_ipc(uccl_conn_t* conn, const uccl_mr_t* mr_ids, void* const* src_v,
                                 const size_t* size_v, const FifoItem* fifo_items, int num_iovs,
                                 uint64_t* transfer_id, const char* const* ipc_bufs) {
  bool ipc = false;
  int rc = ipcVector("uccl_engine_write_vector", conn, /*write=*/true, src_v, size_v, num_iovs,
                     transfer_id, ipc_bufs, &ipc);
  if (ipc) return rc;
  return submit("uccl_engine_write_vector", conn, Op::kWrite, mr_ids, src_v, size_v, fifo_items,
                num_iovs, transfer_id);
}

int uccl_engine_send(uccl_conn_t* conn, uccl_mr_t mr, const void* data, size_t size,
                     uint64_t* transfer_id) {
  return submit("uccl_engine_send", conn, Op::kSend, &mr, &data, &size, nullptr, 1, transfer_id);
}

int uccl_engine_send_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids, const void* const* src_v,
                            const size_t* size_v, int num_iovs, uint64_t* transfer_id) {
  return submit("uccl_engine_send_vector", conn, Op::kSend, mr_ids, src_v, size_v, nullptr,
                num_iovs, transfer_id);
}

int uccl_engine_recv(uccl_conn_t* conn, uccl_mr_t mr, void* data, size_t max_size) {
  return recvBlocking("uccl_engine_recv", conn, &mr, &data, &max_size, 1);
}

int uccl_engine_recv_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids, void* const* data_v,
                            const size_t* size_v, int num_iovs) {
  return recvBlocking("uccl_engine_recv_vector", conn, mr_ids, data_v, size_v, num_iovs);
}

int uccl_engine_recv_async(uccl_conn_t* conn, uccl_mr_t mr, void* data, size_t max_size,
                           uint64_t* transfer_id) {
  const void* ptr = data;
  return submit("uccl_engine_recv_async", conn, Op::kRecv, &mr, &ptr, &max_size, nullptr, 1,
                transfer_id);
}

bool uccl_engine_xfer_status(uccl_conn_t* conn, uint64_t transfer_id) {
  bool done = false;
  int rc = pollTransfer("uccl_engine_xfer_status", conn, transfer_id, &done, nullptr);
  if (rc == 0) return done;
  // Failed or unknown: over, and the caller's next send_notif on conn must fail (uccl_engine.h).
  try {
    t_pending_failure.why = "transfer " + std::to_string(transfer_id) +
                            " failed (uccl_engine_xfer_status returned true): " + t_last_error;
  } catch (...) {
    t_pending_failure.why.clear();
  }
  t_pending_failure.conn = conn;
  return true;
}

int uccl_engine_xfer_poll(uccl_conn_t* conn, uint64_t transfer_id, bool* done, size_t* bytes) {
  return pollTransfer("uccl_engine_xfer_poll", conn, transfer_id, done, bytes);
}

// ---- notifications ----

int uccl_engine_send_notif(uccl_conn_t* conn, notify_msg_t* notify_msg) {
  return run("uccl_engine_send_notif", [&] {
    if (notify_msg == nullptr) return invalid("notify_msg is NULL");
    size_t name_len = strnlen(notify_msg->name, sizeof(notify_msg->name));
    if (name_len > kNotifyNameMax) return invalid("name is not NUL-terminated within 256 bytes");
    // All 256 bytes of msg, as UCCL sends them (NIXL reads sizeof(msg) bytes back).
    return sendNotification(conn, std::string(notify_msg->name, name_len),
                            std::string(notify_msg->msg, sizeof(notify_msg->msg)));
  });
}

int uccl_engine_send_notif_bytes(uccl_conn_t* conn, const char* name, size_t name_len,
                                 const void* msg, size_t msg_len) {
  return run("uccl_engine_send_notif_v", [&] {
    if ((name == nullptr && name_len != 0) || (msg == nullptr && msg_len != 0)) {
      return invalid("name or msg is NULL with a non-zero length");
    }
    if (name_len > kNotifyNameMax || msg_len > kNotifyMsgMax) {
      return invalid("name is " + std::to_string(name_len) + " bytes and msg " +
                     std::to_string(msg_len) + "; at most " + std::to_string(kNotifyNameMax) +
                     " and " + std::to_string(kNotifyMsgMax));
    }
    return sendNotification(
        conn, name_len == 0 ? std::string() : std::string(name, name_len),
        msg_len == 0 ? std::string() : std::string(static_cast<const char*>(msg), msg_len));
  });
}

int uccl_engine_get_notifs(notify_msg_t* msgs, size_t max_msgs, size_t* count) {
  return uccl_engine_get_notifs_sized(msgs, nullptr, max_msgs, count);
}

int uccl_engine_get_notifs_sized(notify_msg_t* msgs, size_t* msg_lens, size_t max_msgs,
                                 size_t* count) {
  return run("uccl_engine_get_notifs", [&] {
    if (count == nullptr) return invalid("count is NULL");
    if (msgs == nullptr && max_msgs != 0) return invalid("msgs is NULL but max_msgs is not 0");
    Handles& h = handles();
    std::vector<StateRef> live;
    {
      std::lock_guard<std::mutex> lock(h.mu);
      for (uccl_engine* e : h.engines) live.push_back(e->state);
    }
    for (const StateRef& s : live) queueNotifications(*s);
    std::lock_guard<std::mutex> lock(h.mu);
    size_t n = std::min(max_msgs, h.notifs.size());
    for (size_t i = 0; i < n; ++i) {
      msgs[i] = toNotifyMsg(h.notifs.front());
      if (msg_lens != nullptr) msg_lens[i] = std::min(h.notifs.front().msg.size(), kNotifyMsgMax);
      h.notifs.pop_front();
    }
    *count = n;
    return Status::ok();
  });
}

// ---- errors ----

const char* uccl_engine_last_error(void) { return t_last_error.c_str(); }

}  // extern "C"
