// _core.Endpoint: the lazily made engine endpoint (Endpoint()), and UCCL HEAD's Ray-style API:
// register_memory / deregister_memory, transfer, add_remote_endpoint / remove_remote_endpoint,
// start_passive_accept. Built on the engine's reg, advertise, writeAsync / readAsync and connect.
#include <algorithm>
#include <chrono>

#include "api/python/py_endpoint.h"

namespace tcpxp::python {

engine::Endpoint* PyEndpoint::eng(const void* first_buffer) {
  if (engine::Endpoint* e = ready_.load(std::memory_order_acquire)) return e;
  int gpu = -1;
  {
    GilRelease release;
    gpu = engine::currentGpu();
    if (first_buffer != nullptr) {
      engine::MemoryInfo m = engine::classifyMemory(first_buffer);
      if (m.device >= 0) gpu = m.device;
    }
  }
  create(gpu, "tcpx_p2p.Endpoint() on GPU " + std::to_string(gpu) + " (chosen on first use)");
  return ready_.load(std::memory_order_acquire);
}

void PyEndpoint::create(int gpu, const std::string& what) {
  Status st;
  {
    GilRelease release;
    std::lock_guard lock(create_mu_);
    if (ready_.load(std::memory_order_acquire) == nullptr) {
      st = engine::Endpoint::create(gpu, &ep_);
      // Pairs with the acquire loads in eng() and repr(): ep_ is complete before it is seen.
      if (st.isOk()) ready_.store(ep_.get(), std::memory_order_release);
    }
  }
  if (!st.isOk()) throw std::runtime_error(what + ": " + st.toString());
}

PyEndpoint::~PyEndpoint() {
  if (!passive_.joinable()) return;
  stopping_.store(true, std::memory_order_release);
  ep_->stopAccept();
  GilRelease release;  // the passive thread never takes the GIL; other Python threads may run
  passive_.join();
}

bool PyEndpoint::startPassiveAccept() {
  engine::Endpoint* e = eng();
  if (passive_.joinable()) return true;
  passive_ = std::thread([this, e] {
    auto stop = [this] { return stopping_.load(std::memory_order_acquire); };
    while (!stop()) {
      ConnId id = 0;
      std::string ip;
      int gpu = -1;
      Status st = e->accept(&id, &ip, &gpu, stop);
      if (st.isOk()) {
        known(id, true);
      } else if (stop() || st.code() == Code::kBusy) {
        return;
      } else {
        // A peer whose handshake failed (the engine logged why): keep accepting, throttled so
        // that an error that repeats cannot spin a core.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  });
  return true;
}

nb::tuple PyEndpoint::addRemoteEndpoint(nb::bytes metadata) {
  std::string key(metadata.c_str(), metadata.size());
  auto cached = remote_endpoints_.find(key);
  if (cached != remote_endpoints_.end() && isKnown(cached->second)) {
    return nb::make_tuple(true, cached->second);
  }
  control::EndpointMetadata md;
  Status st =
      control::decodeMetadata(reinterpret_cast<const uint8_t*>(key.data()), key.size(), &md);
  if (!st.isOk()) raiseMetadataError("add_remote_endpoint: " + st.toString());  // UCCL raises
  nb::tuple result = connectTo(md.ip, -1, md.port);
  if (nb::cast<bool>(result[0])) remote_endpoints_[key] = nb::cast<ConnId>(result[1]);
  return result;
}

bool PyEndpoint::removeRemoteEndpoint(ConnId conn) {
  if (!isKnown(conn)) {
    return fail("remove_remote_endpoint",
                Status(Code::kNotFound, "Invalid conn_id " + std::to_string(conn)));
  }
  std::erase_if(remote_endpoints_, [conn](const auto& kv) { return kv.second == conn; });
  // Forgotten even if closing fails (a peer that already closed it): like UCCL, removal is of
  // this endpoint's record; the failure is in last_error().
  (void)closeConnection(conn);
  return true;
}

std::vector<XferDesc> PyEndpoint::registerMemory(nb::list tensors) {
  struct Buffer {
    uint64_t ptr;
    uint64_t size;
  };
  std::vector<Buffer> bufs;
  for (size_t i = 0; i < nb::len(tensors); ++i) {
    nb::handle t = tensors[i];
    // UCCL's checks and messages (RuntimeError).
    if (!nb::hasattr(t, "data_ptr")) {
      throw std::runtime_error("Object at index " + std::to_string(i) +
                               " is not a tensor (missing data_ptr() method)");
    }
    for (const char* method : {"numel", "element_size"}) {
      if (!nb::hasattr(t, method))
        throw std::runtime_error(std::string("Tensor does not have ") + method + "() method");
    }
    auto ptr = nb::cast<uint64_t>(t.attr("data_ptr")());
    auto numel = nb::cast<int64_t>(t.attr("numel")());
    auto element = nb::cast<int64_t>(t.attr("element_size")());
    if (numel < 0 || element < 0) {
      throw std::runtime_error("Object at index " + std::to_string(i) + " has a negative size");
    }
    bufs.push_back({ptr, static_cast<uint64_t>(numel) * static_cast<uint64_t>(element)});
  }
  std::vector<XferDesc> out(bufs.size());
  if (bufs.empty()) return out;
  engine::Endpoint* e = eng(toPtr(bufs[0].ptr));
  for (size_t i = 0; i < bufs.size(); ++i) {
    XferDesc& d = out[i];
    d.addr = bufs[i].ptr;
    d.size = bufs[i].size;
    auto inside = std::find_if(regions_.begin(), regions_.end(), [&](const auto& kv) {
      const Region& r = kv.second;
      return d.addr >= r.addr && d.addr - r.addr <= r.size && d.size <= r.size - (d.addr - r.addr);
    });
    MrId mr = 0;
    FifoBlob ad{};
    Status st;
    {
      GilRelease release;
      st = e->reg(toPtr(d.addr), d.size, &mr);
      if (st.isOk() && inside == regions_.end()) {
        st = e->advertise(0, mr, toPtr(d.addr), d.size, &ad);  // any connection, like rkeys
        if (!st.isOk()) (void)e->dereg(mr);
      }
    }
    if (!st.isOk()) {
      // UCCL keeps going: a descriptor without keys (mr_id 2**64-1), the reason logged.
      fail("register_memory",
           Status(st.code(), "buffer " + std::to_string(i) + ": " + st.message()));
      continue;
    }
    if (inside == regions_.end()) {
      inside = regions_.emplace(mr, Region{d.addr, d.size, ad, 0}).first;
    }
    ++inside->second.users;
    region_of_[mr] = inside->first;
    d.mr_id = mr;
    d.rkeys = keysFromFifo(inside->second.ad);
    d.lkeys = d.rkeys;
  }
  return out;
}

void PyEndpoint::deregisterMemory(const std::vector<XferDesc>& descs) {
  engine::Endpoint* e = eng();
  std::vector<MrId> drop;
  for (const XferDesc& d : descs) {
    if (d.mr_id == kNoMr) continue;
    auto of = region_of_.find(d.mr_id);
    if (of == region_of_.end()) {
      // Not from register_memory (plain reg), or already given back: a region's own
      // registration stays while other descriptors use it.
      if (regions_.count(d.mr_id) == 0) drop.push_back(d.mr_id);
      continue;
    }
    MrId owner = of->second;
    region_of_.erase(of);
    if (d.mr_id != owner) drop.push_back(d.mr_id);
    auto region = regions_.find(owner);
    if (--region->second.users == 0) {
      drop.push_back(owner);
      regions_.erase(region);
    }
  }
  for (MrId mr : drop) {
    Status st;
    {
      GilRelease release;
      st = e->dereg(mr);
    }
    (void)check("deregister_memory", st);  // UCCL returns None whatever happens
  }
}

nb::tuple PyEndpoint::transfer(ConnId conn, const std::string& op_name,
                               const std::vector<XferDesc>& local,
                               const std::vector<XferDesc>& remote) {
  // UCCL's checks, messages and exception type (RuntimeError).
  if (local.size() != remote.size())
    throw std::runtime_error("Local and remote descriptors must have the same size");
  bool is_write = op_name == "write";
  if (!is_write && op_name != "read") throw std::runtime_error("Invalid op_name: " + op_name);
  if (!isKnown(conn)) throw std::runtime_error("Invalid conn_id " + std::to_string(conn));
  std::vector<Segment> segs(local.size());
  for (size_t i = 0; i < local.size(); ++i) {
    const XferDesc& l = local[i];
    const XferDesc& r = remote[i];
    if (l.mr_id == kNoMr || r.rkeys.empty()) {
      throw std::runtime_error(
          "RDMA transfer requires RDMA-registered local and remote descriptors (pair " +
          std::to_string(i) + ")");
    }
    Segment& s = segs[i];
    s.mr = l.mr_id;
    s.ptr = toPtr(l.addr);
    s.size = l.size;
    // The remote region's advertisement, pointed at the descriptor's addr and size (a
    // descriptor may describe part of what register_memory registered).
    Status st = fifoFromKeys(r.rkeys, &s.fifo)
                    ? control::updateFifoItem(s.fifo.data(), r.addr, r.size)
                    : Status(Code::kInvalidArgument, "its rkeys are not 16 words");
    if (!st.isOk()) {
      throw std::runtime_error("transfer: remote descriptor " + std::to_string(i) +
                               " is not one of tcpx-p2p's register_memory: " + st.message());
    }
  }
  return async(is_write ? Op::kWrite : Op::kRead, conn, segs, "transfer");
}

}  // namespace tcpxp::python
