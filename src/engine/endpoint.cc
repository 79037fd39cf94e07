#include "engine/endpoint.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "common/net_util.h"
#include "control/fifo_item.h"
#include "control/metadata.h"
#include "engine/decisions.h"
#include "engine/driver.h"
#include "engine/memory_info.h"
#include "engine/metrics_server.h"
#include "engine/transport_select.h"
#include "transport/transports.h"

namespace tcpxp::engine {
namespace {

// The IPv4 address of interface `name`, or "".
std::string interfaceIp(const std::string& name) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)) continue;
    bool want = name.empty() ? !(i->ifa_flags & IFF_LOOPBACK) : name == i->ifa_name;
    if (!want) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof(buf));
    out = buf;
    break;
  }
  ::freeifaddrs(list);
  return out;
}

Status listenBootstrap(int port, Fd* out, uint16_t* bound_port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status(Code::kSystemError, "socket: " + errnoText(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 128) != 0) {
    return Status(Code::kSystemError,
                  "control port " + std::to_string(port) + ": " + errnoText(errno) +
                      " (another endpoint on it? set UCCL_TCPX_BOOTSTRAP_PORT_BASE)");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = ntohs(addr.sin_port);
  *out = std::move(fd);
  return Status::ok();
}

// Blocking TCP connect with a deadline; polls `interrupted`.
Status dial(const std::string& ip, int port, int64_t timeout_ms, const Interrupted& interrupted,
            Fd* out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = ::getaddrinfo(ip.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0)
    return Status(Code::kInvalidArgument, "connect: bad address '" + ip + "': " + gai_strerror(rc));
  Fd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int err = fd.valid() ? ::connect(fd.get(), res->ai_addr, res->ai_addrlen) : -1;
  int connect_errno = errno;
  ::freeaddrinfo(res);
  if (err != 0 && connect_errno != EINPROGRESS) {
    return Status(Code::kSystemError,
                  "connect to " + ip + ":" + port_text + ": " + errnoText(connect_errno));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (err != 0) {
    pollfd p{fd.get(), POLLOUT, 0};
    int r = ::poll(&p, 1, 20);
    if (r > 0) {
      int so = 0;
      socklen_t len = sizeof(so);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so, &len);
      if (so != 0) {
        return Status(Code::kSystemError, "connect to " + ip + ":" + port_text + ": " +
                                              errnoText(so) + " (is the peer's endpoint running?)");
      }
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Code::kTimeout, "connect to " + ip + ":" + port_text + " timed out");
    }
    if (interrupted && interrupted()) return Status(Code::kTimeout, "connect interrupted");
  }
  setNoDelay(fd.get());
  *out = std::move(fd);
  return Status::ok();
}

}  // namespace

Status Endpoint::stats(EndpointStats* out) {
  std::vector<TrafficCounters> nics;
  EndpointStats s;
  TCPXP_RETURN_IF_ERROR(driver_->call([&] {
    driver_->stats(&nics, &s.connections, &s.channels);
    return Status::ok();
  }));
  for (size_t d = 0; d < nics.size(); ++d) {
    transport::NetProperties p;
    std::string name = driver_->net().properties(static_cast<int>(d), &p).isOk() ? p.name : "?";
    s.nics.push_back({static_cast<int>(d), name, nics[d]});
  }
  *out = std::move(s);
  return Status::ok();
}

std::string oobIp() {
  std::string ip = interfaceIp("");
  return ip.empty() ? "127.0.0.1" : ip;
}

Status Endpoint::create(int gpu_index, std::unique_ptr<Endpoint>* out) {
  return create(gpu_index, nullptr, out);
}

Status Endpoint::create(int gpu_index, transport::NetPlugin* transport,
                        std::unique_ptr<Endpoint>* out) {
  if (gpu_index < -1 || gpu_index >= gpuCount()) {
    int n = gpuCount();
    return Status(Code::kInvalidArgument,
                  "no GPU " + std::to_string(gpu_index) + ": this machine has " +
                      std::to_string(n) + " GPU" + (n == 1 ? "" : "s") +
                      (n > 0 ? " (0.." + std::to_string(n - 1) + ")" : "") +
                      " as CUDA sees them; -1 makes a host-memory endpoint");
  }
  EngineConfig config = EngineConfig::fromEnv();
  if (!config.error.empty()) return Status(Code::kInvalidArgument, config.error);
  transport::NetPlugin* plugin = transport;
  TransportDecision decision;
  decision.reason = "given by the caller";
  if (plugin == nullptr) TCPXP_RETURN_IF_ERROR(selectTransport(config, &plugin, &decision));
  transport::Net net(plugin);
  ChunkDecision chunk = decideChunkBytes(config, net);
  config.chunk_bytes = static_cast<int64_t>(chunk.bytes);
  int ndev = 0;
  TCPXP_RETURN_IF_ERROR(net.devices(&ndev));
  std::vector<transport::NetProperties> all(static_cast<size_t>(ndev));
  for (int d = 0; d < ndev; ++d) TCPXP_RETURN_IF_ERROR(net.properties(d, &all[d]));
  DeviceDecision placed;
  TCPXP_RETURN_IF_ERROR(
      decideDevices(config.devs, devicePciFacts(all), gpu_index, gpuPciFacts(gpu_index), &placed));
  const std::vector<int>& devs = placed.devs;
  const std::string& placement = placed.reason;
  int dev = devs[0];
  const transport::NetProperties& props = all[dev];

  std::unique_ptr<Endpoint> ep(new Endpoint());
  ep->info_.gpu_index = gpu_index;
  ep->info_.transport = net.name();
  ep->info_.dev = dev;
  ep->info_.dev_name = props.name;
  for (int d : devs) {
    ep->info_.devs.push_back(d);
    ep->info_.dev_names.push_back(all[d].name);
  }
  ep->info_.placement = placement;
  ep->info_.transport_moves_gpu_memory = props.supports_cuda;
  ep->info_.gpu_direct_max_bytes = props.gpu_direct_max_bytes;
  ep->info_.unpack = props.unpack;
  ep->info_.num_channels = config.num_channels;
  ep->info_.chunk_bytes = chunk.bytes;
  ep->info_.chunk_reason = chunk.reason;
  ep->info_.transport_reason = decision.reason;
  ep->info_.builtin_transport = transport::isBuiltinName(net.name());
  if (ep->info_.builtin_transport) {
    transport::BuiltinSettings sc = transport::builtinSettings(/*with_interfaces=*/false);
    ep->info_.transport_detail = std::to_string(sc.nsocks) + " sockets/comm";
    if (sc.unpack) ep->info_.transport_detail += ", UNPACK emulation";
  }
  ep->info_.bdf = gpuBdf(gpu_index);
  std::string ip = interfaceIp(props.name);
  ep->info_.ip = ip.empty() || ip.rfind("127.", 0) == 0 ? (ip.empty() ? oobIp() : ip) : ip;
  int port =
      config.bootstrap_port_base > 0 ? config.bootstrap_port_base + std::max(gpu_index, 0) : 0;
  Fd bootstrap;
  TCPXP_RETURN_IF_ERROR(listenBootstrap(port, &bootstrap, &ep->info_.port));
  // Tests without a GPU: host buffers registered as CUDA take the GPU paths of a transport that
  // moves GPU memory (the built-in one accepts that when no GPU is usable: UNPACK gathers then
  // run on the CPU; GPU direct moves them as host memory).
  ep->emulate_gpu_buffers_ = props.supports_cuda && gpuCount() == 0 && config.emulate_gpu_buffers;
  ep->info_.emulated_gpu_buffers = ep->emulate_gpu_buffers_;
  ep->driver_ =
      std::make_unique<Driver>(config, net, devs, ndev, gpu_index, props, std::move(bootstrap));
  ep->makeIpc(config);
  if (config.metrics_port > 0) {
    int mport = config.metrics_port + std::max(gpu_index, 0);
    Endpoint* raw = ep.get();
    Status st = MetricsServer::start(
        mport,
        [raw, gpu_index] {
          EndpointStats stats;
          Status s = raw->stats(&stats);
          return s.isOk() ? renderPrometheus(stats, gpu_index) : "# " + s.toString() + "\n";
        },
        &ep->metrics_);
    if (st.isOk()) {
      ep->info_.metrics_port = ep->metrics_->port();
      LOG_INFO("metrics: http://0.0.0.0:%d/metrics", ep->info_.metrics_port);
    } else {
      LOG_WARN("%s; metrics are not served (UCCL_TCPX_METRICS_PORT)", st.toString().c_str());
    }
  }
  LOG_INFO("endpoint gpu %d: transport %s (%s), devices %s (%s), chunk %zu (%s), control %s:%u",
           gpu_index, net.name().c_str(), decision.reason.c_str(),
           config.devs.empty() ? "auto" : config.devs.c_str(), placement.c_str(), chunk.bytes,
           chunk.reason.c_str(), ep->info_.ip.c_str(), ep->info_.port);
  *out = std::move(ep);
  return Status::ok();
}

Endpoint::~Endpoint() {
  metrics_.reset();  // its scrapes call into the driver
}

std::vector<uint8_t> Endpoint::metadata() const {
  std::vector<uint8_t> out;
  Status st = control::encodeMetadata(info_.ip, info_.port, info_.bdf, &out);
  if (!st.isOk()) LOG_ERROR("metadata: %s", st.toString().c_str());
  return out;
}

Status Endpoint::connect(const std::string& ip, int remote_gpu, int remote_port, ConnId* out,
                         const Interrupted& interrupted) {
  const EngineConfig& config = driver_->config();
  int port = remote_port;
  if (port <= 0) {
    if (config.bootstrap_port_base <= 0) {
      return Status(Code::kInvalidArgument,
                    "connect: no remote port given and UCCL_TCPX_BOOTSTRAP_PORT_BASE is not set");
    }
    port = config.bootstrap_port_base + std::max(remote_gpu, 0);
  }
  if (port > 65535)
    return Status(Code::kInvalidArgument,
                  "connect: port " + std::to_string(port) + " out of range");
  Fd fd;
  TCPXP_RETURN_IF_ERROR(dial(ip, port, config.timeout_ms, interrupted, &fd));
  uint64_t slot = driver_->completions().open();
  ConnId id = 0;
  std::string peer = ip + ":" + std::to_string(port);
  TCPXP_RETURN_IF_ERROR(driver_->call([&] {
    Status started;
    id = driver_->addConnection(std::move(fd), peer, /*connector=*/true, slot, &started);
    return started;
  }));
  Status st = driver_->completions().wait(slot, config.timeout_ms + 1000, interrupted, nullptr);
  if (!st.isOk()) {
    (void)driver_->call([&] { return driver_->closeConnection(id); });
    return st;
  }
  *out = id;
  return Status::ok();
}

Status Endpoint::accept(ConnId* out, std::string* remote_ip, int* remote_gpu,
                        const Interrupted& interrupted, int64_t timeout_ms) {
  AcceptedConnection a;
  TCPXP_RETURN_IF_ERROR(
      driver_->waitAccepted(timeout_ms < 0 ? INT64_C(1) << 40 : timeout_ms, interrupted, &a));
  *out = a.id;
  if (remote_ip) *remote_ip = a.ip;
  if (remote_gpu) *remote_gpu = a.remote_gpu;
  return Status::ok();
}

void Endpoint::stopAccept() { driver_->stopAccepting(); }

Status Endpoint::closeConnection(ConnId conn) {
  if (ipc_->isLocal(conn)) return ipc_->close(conn, /*local=*/true);
  Status st = driver_->call([&] { return driver_->closeConnection(conn); });
  // IPC copies it carried (write_ipc on a network connection) finish; their imports close.
  (void)ipc_->close(conn, /*local=*/false);
  return st;
}

Status Endpoint::reg(void* ptr, size_t size, MrId* out) {
  if (ptr == nullptr || size == 0)
    return Status(Code::kInvalidArgument, "reg: null pointer or size 0");
  auto begin = reinterpret_cast<uintptr_t>(ptr);
  if (size > UINTPTR_MAX - begin) {
    return Status(Code::kInvalidArgument, "reg: [ptr, ptr + size) wraps around the address space");
  }
  MemoryInfo mem = classifyMemory(ptr);
  // A bad range fails here, with its reason, not later as a crash in a send or a receive.
  if (mem.kind == transport::MemKind::kCuda) {
    uintptr_t base = 0;
    size_t alloc = 0;
    if (allocationRange(ptr, &base, &alloc) && begin + size > base + alloc) {
      return Status(Code::kInvalidArgument, "reg: [ptr, +" + std::to_string(size) + ") runs " +
                                                std::to_string(begin + size - (base + alloc)) +
                                                " bytes past the end of its GPU allocation");
    }
  } else if (!hostRangeMapped(ptr, size)) {
    return Status(Code::kInvalidArgument,
                  "reg: [ptr, +" + std::to_string(size) +
                      ") is not mapped host memory (freed, never allocated, or a device pointer "
                      "of another API)");
  }
  if (emulate_gpu_buffers_) mem.kind = transport::MemKind::kCuda;
  return driver_->call(
      [&] { return driver_->registry().add(ptr, size, mem.kind, mem.device, out); });
}

Status Endpoint::dereg(MrId mr) {
  return driver_->call([&] { return driver_->registry().remove(mr, driver_->net()); });
}

Status Endpoint::advertise(ConnId conn, MrId mr, void* ptr, size_t size, FifoBlob* out) {
  return driver_->call([&] {
    if (conn != 0 && driver_->connection(conn) == nullptr) {
      return Status(Code::kNotFound, "advertise: unknown conn_id " + std::to_string(conn));
    }
    control::AccessToken token;
    TCPXP_RETURN_IF_ERROR(driver_->registry().advertise(mr, ptr, size, conn, &token));
    control::FifoItem item;
    item.addr = reinterpret_cast<uint64_t>(ptr);
    item.size = size;
    item.mr_id = static_cast<uint32_t>(mr);
    item.token = token;
    control::encodeFifoItem(item, out->data());
    return Status::ok();
  });
}

namespace {

// Where the batched vector (WriteVec/ReadVec) starting at segment `begin` ends: the run of
// segments in one kind of local memory, each under 4 GiB, within the frame's limits of pieces
// and bytes. Empty segments ride along (nothing to move).
// Vectors of at most this many pieces whose bytes fit the inline limit stay inline frames.
constexpr size_t kInlineVectorPieces = 16;

size_t vectorRunEnd(std::span<const Segment> segs, std::span<Registration* const> regs,
                    size_t begin, size_t* pieces) {
  size_t end = begin;
  uint64_t total = 0;
  *pieces = 0;
  for (; end < segs.size(); ++end) {
    const Segment& s = segs[end];
    if (regs[end]->device != regs[begin]->device || regs[end]->kind() != regs[begin]->kind() ||
        s.size > UINT32_MAX || total + s.size > control::kMaxVectorBytes ||
        (s.size > 0 && *pieces == control::kMaxVectorPieces)) {
      break;
    }
    total += s.size;
    if (s.size > 0) ++*pieces;
  }
  return end;
}

}  // namespace

Status Endpoint::submit(Op op, ConnId conn, std::span<const Segment> segs, XferId* out) {
  if (segs.empty()) return Status(Code::kInvalidArgument, "no buffers given");
  // Decode FifoItems before touching the driver: a bad blob is the caller's error.
  std::vector<control::FifoItem> items(segs.size());
  if (op == Op::kWrite || op == Op::kRead) {
    for (size_t i = 0; i < segs.size(); ++i) {
      TCPXP_RETURN_IF_ERROR(
          control::decodeFifoItem(segs[i].fifo.data(), segs[i].fifo.size(), &items[i]));
      if (segs[i].size > items[i].size) {
        return Status(Code::kInvalidArgument, "transfer of " + std::to_string(segs[i].size) +
                                                  " bytes into an advertised region of " +
                                                  std::to_string(items[i].size) + " bytes");
      }
    }
  }
  uint64_t slot = driver_->completions().open(static_cast<int>(segs.size()));
  size_t started = 0;  // segments handed to the connection
  Status st = driver_->call([&] {
    // Every check before the first segment starts: a bad argument starts nothing.
    Connection* c = driver_->connection(conn);
    if (c == nullptr || c->state() != Connection::State::kReady) {
      return Status(Code::kNotFound, "unknown or closed conn_id " + std::to_string(conn));
    }
    // Plain pointers (the registry keeps them alive on this thread): a vector's pieces mostly
    // share a registration, and a reference count per piece cost more than the lookup.
    std::vector<Registration*> regs(segs.size());
    std::vector<size_t> sizes(segs.size());
    for (size_t i = 0; i < segs.size(); ++i) {
      regs[i] = i > 0 && segs[i].mr == segs[i - 1].mr ? regs[i - 1]
                                                      : driver_->registry().find(segs[i].mr).get();
      if (regs[i] == nullptr)
        return Status(Code::kNotFound, "unknown mr_id " + std::to_string(segs[i].mr));
      sizes[i] = segs[i].size;
      // A recv's size is a maximum (UCCL: test_engine_send receives numel*8 into 4 KiB): what
      // may be written is the part inside the registration; a larger send is refused, unwritten.
      if (op == Op::kRecv && regs[i]->contains(segs[i].ptr, 1)) {
        size_t room =
            regs[i]->size - static_cast<size_t>(static_cast<char*>(segs[i].ptr) - regs[i]->base);
        sizes[i] = std::min(sizes[i], room);
      }
      if (!regs[i]->contains(segs[i].ptr, sizes[i])) {
        return Status(Code::kInvalidArgument, "buffer [ptr, +" + std::to_string(segs[i].size) +
                                                  ") is not inside mr_id " +
                                                  std::to_string(segs[i].mr));
      }
    }
    // One-sided vectors: the destination's pieces must not overlap (a batched vector's chunks
    // land in any order; the rule holds for every vector, batched or not, so that a vector's
    // meaning does not depend on its size or UCCL_TCPX_VECTOR_BATCH).
    if ((op == Op::kWrite || op == Op::kRead) && segs.size() > 1) {
      std::vector<control::VecPiece>& dst = overlap_dst_;
      dst.clear();
      for (size_t k = 0; k < segs.size(); ++k) {
        if (segs[k].size == 0) continue;
        if (segs[k].size > UINT64_MAX - items[k].addr) {
          return Status(Code::kInvalidArgument,
                        "segment " + std::to_string(k) + ": remote range wraps around");
        }
        uint64_t at = op == Op::kWrite ? items[k].addr : reinterpret_cast<uint64_t>(segs[k].ptr);
        // Sizes over 4 GiB: the overlap check only needs [at, +size) (never sent as a piece).
        for (uint64_t off = 0; off < segs[k].size; off += UINT32_MAX) {
          dst.push_back({at + off,
                         static_cast<uint32_t>(std::min<uint64_t>(UINT32_MAX, segs[k].size - off)),
                         {}});
        }
      }
      if (control::piecesOverlap(dst, &overlap_scratch_)) {
        return Status(Code::kInvalidArgument,
                      std::string("vector ") + (op == Op::kWrite ? "write" : "read") +
                          ": the destination pieces overlap (refused: they would land in any "
                          "order)");
      }
    }
    // Runs of at least two pieces, more bytes than UCCL_TCPX_INLINE_BYTES or more than
    // kInlineVectorPieces pieces, become one WriteVec/ReadVec (planned before anything starts).
    std::vector<size_t> run_end(segs.size(), 0);  // run_end[i] > i: a batched run starts at i
    bool batch = driver_->config().vector_batch && (op == Op::kWrite || op == Op::kRead);
    for (size_t i = 0; batch && i < segs.size();) {
      size_t pieces = 0;
      size_t end = vectorRunEnd(segs, regs, i, &pieces);
      uint64_t total = 0;
      for (size_t k = i; k < end; ++k) total += segs[k].size;
      // A few pieces the inline limit holds keep their inline frames: one round trip, no
      // channel; more pieces cost more frames than one WriteVec/ReadVec round.
      if (pieces < 2 || (total <= static_cast<uint64_t>(driver_->config().inline_bytes) &&
                         pieces <= kInlineVectorPieces)) {
        i = std::max(end, i + 1);  // its segments go one by one
        continue;
      }
      run_end[i] = end;
      i = end;
    }
    while (started < segs.size()) {
      size_t i = started;
      if (run_end[i] > i) {
        size_t end = run_end[i];
        std::vector<RegRef> run_regs;
        std::vector<datapath::IoSpan> local;
        std::vector<control::VecPiece> remote;
        local.reserve(end - i);
        remote.reserve(end - i);
        for (size_t k = i; k < end; ++k) {
          if (segs[k].size == 0) continue;
          if (run_regs.empty() || run_regs.back().get() != regs[k]) {
            run_regs.push_back(regs[k]->ref());
          }
          char* ptr = static_cast<char*>(segs[k].ptr);
          auto size = static_cast<uint32_t>(segs[k].size);
          // A piece that continues the previous one on both sides, in the same registration and
          // under the same advertisement, extends it: KV blocks allocated in a row are adjacent
          // on both ends, and one piece costs one frame entry, one check and one stretch instead
          // of many. (Adjacent ranges under one advertisement: the union is checked as well as
          // each part would be.)
          if (!local.empty() && local.back().ptr + local.back().len == ptr &&
              local.back().region == &regs[k]->net &&
              remote.back().addr + remote.back().len == items[k].addr &&
              remote.back().token == items[k].token &&
              uint64_t{local.back().len} + size <= UINT32_MAX) {
            local.back().len += size;
            remote.back().len += size;
            continue;
          }
          local.push_back({ptr, size, &regs[k]->net});
          remote.push_back({items[k].addr, size, items[k].token});
        }
        int parts = static_cast<int>(end - i);
        if (op == Op::kWrite) {
          TCPXP_RETURN_IF_ERROR(
              c->writeVec(slot, parts, std::move(run_regs), std::move(local), std::move(remote)));
        } else {
          TCPXP_RETURN_IF_ERROR(
              c->readVec(slot, parts, std::move(run_regs), std::move(local), std::move(remote)));
        }
        started = end;
        continue;
      }
      ++started;
      char* p = static_cast<char*>(segs[i].ptr);
      switch (op) {
        case Op::kSend:
          TCPXP_RETURN_IF_ERROR(c->send(slot, regs[i]->ref(), p, segs[i].size));
          break;
        case Op::kRecv:
          TCPXP_RETURN_IF_ERROR(c->recv(slot, regs[i]->ref(), p, sizes[i]));
          break;
        case Op::kWrite:
          TCPXP_RETURN_IF_ERROR(c->write(slot, regs[i]->ref(), p, segs[i].size, items[i].addr,
                                         items[i].token, items[i].mr_id));
          break;
        case Op::kRead:
          TCPXP_RETURN_IF_ERROR(c->read(slot, regs[i]->ref(), p, segs[i].size, items[i].addr,
                                        items[i].token, items[i].mr_id));
          break;
      }
    }
    return Status::ok();
  });
  if (!st.isOk()) {
    // The parts that never started end here. The slot is released only once the parts that did
    // start have finished too (or failed with their connection): until then the engine may
    // still read or write their buffers, which the caller, told "failed", would free.
    for (size_t i = started; i < segs.size(); ++i) driver_->completions().finish(slot, st);
    (void)driver_->completions().wait(slot, INT64_C(1) << 40, nullptr, nullptr);
    return st;
  }
  *out = slot;
  return Status::ok();
}

Status Endpoint::sendAsync(ConnId conn, std::span<const Segment> segs, XferId* out) {
  return submit(Op::kSend, conn, segs, out);
}
Status Endpoint::recvAsync(ConnId conn, std::span<const Segment> segs, XferId* out) {
  return submit(Op::kRecv, conn, segs, out);
}
Status Endpoint::writeAsync(ConnId conn, std::span<const Segment> segs, XferId* out) {
  return submit(Op::kWrite, conn, segs, out);
}
Status Endpoint::readAsync(ConnId conn, std::span<const Segment> segs, XferId* out) {
  return submit(Op::kRead, conn, segs, out);
}

Status Endpoint::poll(XferId id, bool* done, size_t* bytes) {
  return driver_->completions().poll(id, done, bytes);
}

Status Endpoint::wait(XferId id, const Interrupted& interrupted, size_t* bytes,
                      int64_t timeout_ms) {
  return driver_->completions().wait(id, timeout_ms < 0 ? INT64_C(1) << 40 : timeout_ms,
                                     interrupted, bytes);
}

Status Endpoint::sendNotify(ConnId conn, const std::string& name, const std::string& msg) {
  return driver_->call([&] {
    Connection* c = driver_->connection(conn);
    if (c == nullptr) return Status(Code::kNotFound, "unknown conn_id " + std::to_string(conn));
    return c->notify(name, msg);
  });
}

std::vector<Notification> Endpoint::takeNotifications() { return driver_->takeNotifications(); }

}  // namespace tcpxp::engine
