// The call sequence of NIXL's UCCL backend plugin (ai-dynamo/nixl src/plugins/uccl), replayed
// against uccl_engine.h through the C++ signatures that plugin compiles against: two agents, each
// an engine with its accepting thread, host memory, every byte checked. The Agent class below
// mirrors what the plugin does per NIXL entry point (constructor, getConnInfo,
// loadRemoteConnInfo, connect to itself, registerMem, getPublicData, loadRemoteMD, prepXfer,
// postXfer, checkXfer, getNotifs, genNotif, disconnect, deregisterMem, destructor); it is written
// from that sequence, not copied. What matters is the order of the calls, their argument types
// (so that overload resolution picks what it picks for the plugin) and what the plugin does with
// each result, above all checkXfer's: a bool from uccl_engine_xfer_status, then a send_notif
// whose failure is the only way a failed transfer can become an error there.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "uccl_engine.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto kDeadline = 20s;

const bool kEnvironment = [] {
  setenv("UCCL_SOCKET_IFNAME", "lo", /*overwrite=*/0);
  setenv("UCCL_TCPX_TIMEOUT_MS", "10000", /*overwrite=*/0);
  return true;
}();

enum class St { kSuccess, kInProg, kErr };

// A notification body as the plugin builds it: a serialized string that must fit the 256-byte
// msg field; the receiver deserializes from all 256 bytes. Any self-delimiting format does.
std::string packNotif(const std::string& text) {
  std::string out = "NTF1";
  uint32_t n = static_cast<uint32_t>(text.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof(n));
  return out + text;
}
bool unpackNotif(const char* bytes, size_t len, std::string* text) {
  if (len < 8 || std::memcmp(bytes, "NTF1", 4) != 0) return false;
  uint32_t n = 0;
  std::memcpy(&n, bytes + 4, sizeof(n));
  if (n > len - 8) return false;
  text->assign(bytes + 8, n);
  return true;
}

std::string toHex(const char* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    char h[3];
    std::snprintf(h, sizeof(h), "%02x", static_cast<unsigned char>(p[i]));
    s += h;
  }
  return s;
}
void fromHex(const std::string& s, size_t at, char* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<char>(std::strtoul(s.substr(at + 2 * i, 2).c_str(), nullptr, 16));
  }
}

// The plugin's per-registration metadata (local) and per-remote-descriptor metadata.
struct MemMD {
  void* addr = nullptr;
  size_t length = 0;
  int ref_cnt = 0;
  uccl_mr_t mr_id = 0;
  char fifo_item[FIFO_SIZE] = {};
  char ipc_info[IPC_INFO_SIZE] = {};
  bool has_ipc = false;
};

// A NIXL descriptor: an address range plus the metadata of the registration it lies in.
struct Desc {
  uintptr_t addr;
  size_t len;
  const MemMD* md;
};

struct ReqH {
  uccl_conn_t* conn = nullptr;
  uint64_t transfer_id = 0;
  std::string notif_msg;
  std::vector<FifoItem> fifo_items;
  std::vector<std::vector<char>> ipc_infos;
  bool use_ipc = false;
};

class Agent {
 public:
  explicit Agent(std::string name) : name_(std::move(name)) {
    const size_t num_cpus = 4;  // the plugin's defaults, with its types
    const bool in_python = true;
    engine_ = uccl_engine_create(num_cpus, in_python);
    if (engine_ != nullptr) listener_ = std::thread([this] { acceptLoop(); });
    pending_local_agent_ = name_;  // NIXL connects every agent to itself at backend creation
  }
  ~Agent() { shutdown(); }
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  bool ok() const { return engine_ != nullptr; }
  const std::string& name() const { return name_; }

  // The plugin's destructor, in its order.
  void shutdown() {
    stop_listener_ = true;
    if (engine_ != nullptr) uccl_engine_stop_accept(engine_);
    if (listener_.joinable()) listener_.join();
    {
      std::lock_guard<std::mutex> lock(mem_mu_);
      for (auto& [addr, md] : mem_) {
        if (md->mr_id != 0) uccl_engine_mr_destroy(engine_, md->mr_id);
      }
      mem_.clear();
    }
    {
      std::lock_guard<std::mutex> lock(conn_mu_);
      std::set<uccl_conn_t*> destroyed;
      for (auto& [agent, conn] : conns_) {
        if (destroyed.insert(conn).second) uccl_engine_conn_destroy(conn);
      }
      conns_.clear();
    }
    if (engine_ != nullptr) {
      uccl_engine_destroy(engine_);
      engine_ = nullptr;
    }
  }

  St getConnInfo(std::string* out) const {
    char* metadata = nullptr;
    if (uccl_engine_get_metadata(engine_, &metadata) != 0 || metadata == nullptr) return St::kErr;
    *out = metadata;
    delete[] metadata;  // as the plugin frees it
    return St::kSuccess;
  }

  // "ip:port?bdf", split at the first ':' as the plugin does (IPv4).
  static bool parseConnectionString(const std::string& s, std::unique_ptr<char[]>* ip, int* port,
                                    std::string* bdf) {
    size_t colon = s.find(':');
    if (colon == std::string::npos) return false;
    size_t q = s.find('?', colon);
    if (q == std::string::npos) return false;
    std::string ip_str = s.substr(0, colon);
    *ip = std::make_unique<char[]>(ip_str.size() + 1);
    std::memcpy(ip->get(), ip_str.c_str(), ip_str.size() + 1);
    *port = std::stoi(s.substr(colon + 1, q - colon - 1));
    *bdf = s.substr(q + 1);
    return true;
  }

  St loadRemoteConnInfo(const std::string& remote_agent, const std::string& info) {
    std::lock_guard<std::mutex> lock(conn_mu_);
    std::unique_ptr<char[]> ip;
    int port = 0;
    std::string gpu_bdf;
    if (!parseConnectionString(info, &ip, &port, &gpu_bdf)) return St::kErr;
    uccl_conn_t* conn = uccl_engine_connect(engine_, ip.get(), gpu_bdf.c_str(), port, false);
    if (conn == nullptr) return St::kErr;
    uccl_engine_start_listener(conn);
    conns_[remote_agent] = conn;
    return St::kSuccess;
  }

  St registerMem(void* p, size_t len, const MemMD** out) {
    std::lock_guard<std::mutex> lock(mem_mu_);
    const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
    if (auto it = mem_.find(addr); it != mem_.end()) {
      it->second->ref_cnt++;
      *out = it->second.get();
      return St::kSuccess;
    }
    uccl_mr_t mr;
    if (uccl_engine_reg(engine_, addr, len, mr) != 0) return St::kErr;
    auto md = std::make_unique<MemMD>();
    md->addr = p;
    md->length = len;
    md->ref_cnt = 1;
    md->mr_id = mr;
    if (uccl_engine_prepare_fifo(engine_, mr, (void*)addr, len, md->fifo_item) != 0) {
      uccl_engine_mr_destroy(engine_, mr);
      return St::kErr;
    }
    bool has_ipc = false;
    uccl_engine_get_ipc_info(engine_, addr, md->ipc_info, &has_ipc);  // result unchecked there
    md->has_ipc = has_ipc;
    *out = md.get();
    mem_[addr] = std::move(md);
    local_conn_status_ = prepareLocalConn();  // the plugin only warns when this fails
    return St::kSuccess;
  }

  St deregisterMem(const MemMD* md) {
    std::lock_guard<std::mutex> lock(mem_mu_);
    auto it = mem_.find(reinterpret_cast<uintptr_t>(md->addr));
    if (it == mem_.end()) return St::kErr;
    if (--it->second->ref_cnt > 0) return St::kSuccess;
    uccl_engine_mr_destroy(engine_, it->second->mr_id);
    mem_.erase(it);
    return St::kSuccess;
  }

  // fifo_item as hex, then "00" (no IPC info) or "01" + the IPC blob as hex.
  static std::string getPublicData(const MemMD& md) {
    std::string s = toHex(md.fifo_item, FIFO_SIZE);
    s += md.has_ipc ? "01" + toHex(md.ipc_info, IPC_INFO_SIZE) : "00";
    return s;
  }
  static St loadRemoteMD(void* remote_addr, size_t len, const std::string& hex, MemMD* out) {
    out->addr = remote_addr;
    out->length = len;
    out->ref_cnt = 1;
    if (hex.size() < FIFO_SIZE * 2) return St::kErr;
    fromHex(hex, 0, out->fifo_item, FIFO_SIZE);
    size_t pos = FIFO_SIZE * 2;
    if (hex.size() >= pos + 2) {
      std::string flag = hex.substr(pos, 2);
      pos += 2;
      if (flag == "01") {
        if (hex.size() < pos + IPC_INFO_SIZE * 2) return St::kErr;
        fromHex(hex, pos, out->ipc_info, IPC_INFO_SIZE);
        out->has_ipc = true;
      } else if (flag != "00") {
        return St::kErr;
      }
    }
    return St::kSuccess;
  }

  St prepXfer(const std::vector<Desc>& local, const std::vector<Desc>& remote,
              const std::string& remote_agent, std::unique_ptr<ReqH>* handle) const {
    uccl_conn_t* conn = connFor(remote_agent);
    if (conn == nullptr || local.size() != remote.size()) return St::kErr;
    auto h = std::make_unique<ReqH>();
    h->conn = conn;
    const size_t lcnt = local.size();
    h->fifo_items.resize(lcnt);
    const bool is_local_conn = uccl_engine_conn_is_local(conn);
    const bool is_same_process = remote_agent == name_;
    if (is_local_conn) h->ipc_infos.resize(lcnt);
    std::lock_guard<std::mutex> lock(mem_mu_);
    for (size_t i = 0; i < lcnt; ++i) {
      const MemMD* rmd = remote[i].md;
      const size_t rsize = remote[i].len;
      const uintptr_t remote_addr = remote[i].addr;
      if (mem_.count(reinterpret_cast<uintptr_t>(local[i].md->addr)) == 0) return St::kErr;
      deserialize_fifo_item(rmd->fifo_item, &h->fifo_items[i]);
      uccl_engine_update_fifo(h->fifo_items[i], remote_addr, rsize);
      if (is_local_conn) {
        if (rmd->has_ipc) {
          h->ipc_infos[i].assign(rmd->ipc_info, rmd->ipc_info + IPC_INFO_SIZE);
          uccl_engine_update_ipc_info(h->ipc_infos[i].data(), remote_addr, (uintptr_t)rmd->addr,
                                      rsize);
          h->use_ipc = true;
        } else if (is_same_process) {
          h->ipc_infos[i].assign(IPC_INFO_SIZE, 0);
          h->use_ipc = true;
        }
      }
    }
    *handle = std::move(h);
    return St::kSuccess;
  }

  St postXfer(bool is_read, const std::vector<Desc>& local, const std::vector<Desc>& remote,
              const std::string& remote_agent, ReqH* h, const std::string& notif = "") const {
    uccl_conn_t* conn = connFor(remote_agent);
    if (conn == nullptr || local.size() != remote.size()) return St::kErr;
    const size_t lcnt = local.size();
    std::vector<uccl_mr_t> mr_ids;
    std::vector<void*> addr_v;
    std::vector<size_t> size_v;
    std::lock_guard<std::mutex> lock(mem_mu_);
    for (size_t i = 0; i < lcnt; ++i) {
      if (local[i].len != remote[i].len) return St::kErr;
      auto it = mem_.find(reinterpret_cast<uintptr_t>(local[i].md->addr));
      if (it == mem_.end()) return St::kErr;
      mr_ids.push_back(it->second->mr_id);
      addr_v.push_back((void*)local[i].addr);
      size_v.push_back(local[i].len);
    }
    int result = 0;
    uint64_t transfer_id = 0;
    std::vector<char*> ipc_ptrs;
    if (h->use_ipc) {
      ipc_ptrs.resize(lcnt);
      for (size_t i = 0; i < lcnt; ++i) ipc_ptrs[i] = h->ipc_infos[i].data();
    }
    // lcnt is a size_t passed as num_iovs, as in the plugin.
    if (is_read) {
      result = uccl_engine_read_vector(conn, mr_ids, addr_v, size_v, h->fifo_items,
                                       static_cast<int>(lcnt), &transfer_id, ipc_ptrs);
    } else {
      result = uccl_engine_write_vector(conn, mr_ids, addr_v, size_v, h->fifo_items,
                                        static_cast<int>(lcnt), &transfer_id, ipc_ptrs);
    }
    if (result != 0) return St::kErr;
    h->transfer_id = transfer_id;
    h->notif_msg = notif;
    return St::kInProg;
  }

  St checkXfer(ReqH* h) const {
    if (h == nullptr || h->conn == nullptr) return St::kErr;
    bool is_done = uccl_engine_xfer_status(h->conn, h->transfer_id);
    if (!is_done) return St::kInProg;
    std::string serialized = packNotif(h->notif_msg);
    if (serialized.size() <= sizeof(notify_msg_t::msg)) {
      notify_msg_t notify_msg = {};
      std::strncpy(notify_msg.name, name_.c_str(), sizeof(notify_msg.name) - 1);
      std::memcpy(notify_msg.msg, serialized.c_str(), serialized.size());
      if (uccl_engine_send_notif(h->conn, &notify_msg) < 0) return St::kErr;
    }
    return St::kSuccess;
  }

  // Polls checkXfer as NIXL's users do, bounded.
  St waitXfer(ReqH* h) const {
    for (auto end = Clock::now() + kDeadline; Clock::now() < end;
         std::this_thread::sleep_for(1ms)) {
      St st = checkXfer(h);
      if (st != St::kInProg) return st;
    }
    return St::kInProg;
  }

  St getNotifs(std::vector<std::pair<std::string, std::string>>* out) {
    std::vector<notify_msg_t> msgs = uccl_engine_get_notifs();
    for (const notify_msg_t& m : msgs) {
      std::string text;
      if (!unpackNotif(m.msg, sizeof(m.msg), &text)) continue;  // the plugin skips these
      out->emplace_back(std::string(m.name), text);
    }
    return St::kSuccess;
  }

  St genNotif(const std::string& remote_agent, const std::string& msg) const {
    uccl_conn_t* conn = connFor(remote_agent);
    if (conn == nullptr) return St::kErr;
    std::string serialized = packNotif(msg);
    if (serialized.size() > sizeof(notify_msg_t::msg)) return St::kErr;
    notify_msg_t notify_msg;
    std::memset(&notify_msg, 0, sizeof(notify_msg));
    std::strncpy(notify_msg.name, name_.c_str(), sizeof(notify_msg.name) - 1);
    std::memcpy(notify_msg.msg, serialized.c_str(), serialized.size());
    return uccl_engine_send_notif(conn, &notify_msg) < 0 ? St::kErr : St::kSuccess;
  }

  St disconnect(const std::string& remote_agent) {
    std::lock_guard<std::mutex> lock(conn_mu_);
    auto it = conns_.find(remote_agent);
    if (it == conns_.end()) return St::kErr;
    uccl_engine_conn_destroy(it->second);
    conns_.erase(it);
    return St::kSuccess;
  }

  St localConnStatus() const { return local_conn_status_; }
  size_t acceptedCount() const {
    std::lock_guard<std::mutex> lock(conn_mu_);
    return accepted_;
  }

 private:
  void acceptLoop() {
    while (!stop_listener_) {
      char ip_buf[256];
      int remote_gpu_idx;
      uccl_conn_t* conn = uccl_engine_accept(engine_, ip_buf, sizeof(ip_buf), &remote_gpu_idx);
      if (conn == nullptr) {
        if (stop_listener_) break;
        continue;
      }
      uccl_engine_start_listener(conn);
      std::lock_guard<std::mutex> lock(conn_mu_);
      // The plugin files accepted connections under the peer's IP; keep every one so that the
      // destructor's sweep destroys them (in the plugin a second one from the same IP would
      // replace the first and stay until uccl_engine_destroy releases it).
      conns_["accepted:" + std::string(ip_buf) + ":" + std::to_string(accepted_++)] = conn;
    }
  }

  // The deferred connection to itself, made at the first registration (same_process = true).
  St prepareLocalConn() {
    {
      std::lock_guard<std::mutex> lock(conn_mu_);
      if (pending_local_agent_.empty()) return St::kSuccess;
    }
    std::string info;
    if (getConnInfo(&info) != St::kSuccess) return St::kErr;
    std::unique_ptr<char[]> ip;
    int port = 0;
    std::string gpu_bdf;
    if (!parseConnectionString(info, &ip, &port, &gpu_bdf)) return St::kErr;
    uccl_conn_t* conn = uccl_engine_connect(engine_, ip.get(), gpu_bdf.c_str(), port,
                                            /*same_process=*/true);
    if (conn == nullptr) return St::kErr;
    std::lock_guard<std::mutex> lock(conn_mu_);
    conns_[pending_local_agent_] = conn;
    pending_local_agent_.clear();
    return St::kSuccess;
  }

  uccl_conn_t* connFor(const std::string& agent) const {
    std::lock_guard<std::mutex> lock(conn_mu_);
    auto it = conns_.find(agent);
    return it == conns_.end() ? nullptr : it->second;
  }

  std::string name_;
  uccl_engine_t* engine_ = nullptr;
  std::thread listener_;
  std::atomic<bool> stop_listener_{false};
  mutable std::mutex mem_mu_;
  mutable std::mutex conn_mu_;
  std::map<uintptr_t, std::unique_ptr<MemMD>> mem_;
  std::map<std::string, uccl_conn_t*> conns_;
  std::string pending_local_agent_;
  size_t accepted_ = 0;
  St local_conn_status_ = St::kSuccess;
};

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}
uintptr_t at(std::vector<uint8_t>& v, size_t off) {
  return reinterpret_cast<uintptr_t>(v.data()) + off;
}

// Waits (bounded) until `agent` has collected at least n notifications.
std::vector<std::pair<std::string, std::string>> notifs(Agent& agent, size_t n) {
  std::vector<std::pair<std::string, std::string>> got;
  for (auto end = Clock::now() + kDeadline; got.size() < n && Clock::now() < end;) {
    agent.getNotifs(&got);
    if (got.size() < n) std::this_thread::sleep_for(1ms);
  }
  return got;
}

class NixlReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    // Notifications are process-wide: drop what an earlier test in this process left unread.
    (void)uccl_engine_get_notifs();
    a_ = std::make_unique<Agent>("decode");   // initiator, as vLLM's consumer
    b_ = std::make_unique<Agent>("prefill");  // target
    ASSERT_TRUE(a_->ok() && b_->ok()) << uccl_engine_last_error();
    std::string a_info, b_info;
    ASSERT_EQ(a_->getConnInfo(&a_info), St::kSuccess) << uccl_engine_last_error();
    ASSERT_EQ(b_->getConnInfo(&b_info), St::kSuccess) << uccl_engine_last_error();
    // Both sides load the other's metadata (NIXL's add_remote_agent), so each can notify.
    ASSERT_EQ(a_->loadRemoteConnInfo(b_->name(), b_info), St::kSuccess)
        << b_info << ": " << uccl_engine_last_error();
    ASSERT_EQ(b_->loadRemoteConnInfo(a_->name(), a_info), St::kSuccess)
        << a_info << ": " << uccl_engine_last_error();
  }
  void TearDown() override {
    b_.reset();
    a_.reset();
  }

  // Registers buf with agent and returns the metadata the peer loads from its public data.
  static MemMD exportTo(Agent& owner, std::vector<uint8_t>& buf, const MemMD** local) {
    EXPECT_EQ(owner.registerMem(buf.data(), buf.size(), local), St::kSuccess)
        << uccl_engine_last_error();
    std::string pub = Agent::getPublicData(**local);
    EXPECT_EQ(pub.size(), FIFO_SIZE * 2 + 2u);
    EXPECT_EQ(pub.substr(FIFO_SIZE * 2), "00") << "no IPC info is advertised";
    MemMD remote;
    EXPECT_EQ(Agent::loadRemoteMD(buf.data(), buf.size(), pub, &remote), St::kSuccess);
    return remote;
  }

  std::unique_ptr<Agent> a_, b_;
};

TEST_F(NixlReplay, WriteThenReadWithNotificationsEveryByteChecked) {
  const size_t block = 64 << 10, blocks = 12;
  std::vector<uint8_t> src = pattern(block * blocks, 1), back(block * blocks, 0);
  std::vector<uint8_t> target(block * blocks * 2, 0x5A);  // written at odd blocks only
  const MemMD *src_md = nullptr, *back_md = nullptr, *target_local = nullptr;
  ASSERT_EQ(a_->registerMem(src.data(), src.size(), &src_md), St::kSuccess);
  ASSERT_EQ(a_->registerMem(back.data(), back.size(), &back_md), St::kSuccess);
  MemMD target_md = exportTo(*b_, target, &target_local);
  ASSERT_EQ(a_->localConnStatus(), St::kSuccess) << uccl_engine_last_error();

  std::vector<Desc> local, remote, local_back;
  for (size_t i = 0; i < blocks; ++i) {
    local.push_back({at(src, i * block), block, src_md});
    local_back.push_back({at(back, i * block), block, back_md});
    remote.push_back({at(target, (2 * i + 1) * block), block, &target_md});
  }
  std::unique_ptr<ReqH> w;
  ASSERT_EQ(a_->prepXfer(local, remote, b_->name(), &w), St::kSuccess);
  EXPECT_FALSE(w->use_ipc);
  ASSERT_EQ(a_->postXfer(false, local, remote, b_->name(), w.get(), "kv-written"), St::kInProg)
      << uccl_engine_last_error();
  ASSERT_EQ(a_->waitXfer(w.get()), St::kSuccess) << uccl_engine_last_error();
  for (size_t i = 0; i < blocks; ++i) {
    ASSERT_EQ(std::memcmp(target.data() + (2 * i + 1) * block, src.data() + i * block, block), 0)
        << "block " << i;
    ASSERT_TRUE(std::all_of(target.begin() + 2 * i * block, target.begin() + (2 * i + 1) * block,
                            [](uint8_t v) { return v == 0x5A; }))
        << "gap " << i << " was touched";
  }
  auto got = notifs(*b_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::make_pair(a_->name(), std::string("kv-written")));

  std::unique_ptr<ReqH> r;
  ASSERT_EQ(a_->prepXfer(local_back, remote, b_->name(), &r), St::kSuccess);
  ASSERT_EQ(a_->postXfer(true, local_back, remote, b_->name(), r.get(), "kv-read"), St::kInProg);
  ASSERT_EQ(a_->waitXfer(r.get()), St::kSuccess) << uccl_engine_last_error();
  EXPECT_EQ(back, src);
  got = notifs(*b_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, "kv-read");

  // genNotif both ways, the longest body that fits the 256-byte field.
  const std::string longest(256 - 8, 'n');
  ASSERT_EQ(b_->genNotif(a_->name(), longest), St::kSuccess) << uccl_engine_last_error();
  ASSERT_EQ(a_->genNotif(b_->name(), "bye"), St::kSuccess) << uccl_engine_last_error();
  got = notifs(*a_, 2);  // one process: every agent's getNotifs drains the process-wide list
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, std::string> by_sender(got.begin(), got.end());
  EXPECT_EQ(by_sender[b_->name()], longest);
  EXPECT_EQ(by_sender[a_->name()], "bye");

  ASSERT_EQ(a_->disconnect(b_->name()), St::kSuccess);
  EXPECT_EQ(a_->deregisterMem(src_md), St::kSuccess);
  EXPECT_EQ(a_->deregisterMem(back_md), St::kSuccess);
  EXPECT_EQ(b_->deregisterMem(target_local), St::kSuccess);
}

// vLLM's NixlConnector on the decode side: several prepped READs in flight at once, 192
// descriptors each, then polled to completion.
TEST_F(NixlReplay, FiveConcurrentReadsOf192Descriptors) {
  const size_t block = 16 << 10, descs = 192, reads = 5;
  std::vector<uint8_t> kv = pattern(block * descs * reads, 2), dst(block * descs * reads, 0);
  const MemMD *dst_md = nullptr, *kv_local = nullptr;
  ASSERT_EQ(a_->registerMem(dst.data(), dst.size(), &dst_md), St::kSuccess);
  MemMD kv_md = exportTo(*b_, kv, &kv_local);
  std::vector<std::unique_ptr<ReqH>> handles(reads);
  std::vector<std::vector<Desc>> locals(reads), remotes(reads);
  for (size_t r = 0; r < reads; ++r) {
    for (size_t i = 0; i < descs; ++i) {
      // Remote blocks in reverse order, so every descriptor names a different sub-range.
      size_t src_block = r * descs + (descs - 1 - i);
      locals[r].push_back({at(dst, (r * descs + i) * block), block, dst_md});
      remotes[r].push_back({at(kv, src_block * block), block, &kv_md});
    }
    ASSERT_EQ(a_->prepXfer(locals[r], remotes[r], b_->name(), &handles[r]), St::kSuccess);
  }
  for (size_t r = 0; r < reads; ++r) {
    ASSERT_EQ(a_->postXfer(true, locals[r], remotes[r], b_->name(), handles[r].get(),
                           "read-" + std::to_string(r)),
              St::kInProg)
        << uccl_engine_last_error();
  }
  std::vector<bool> done(reads, false);
  for (auto end = Clock::now() + kDeadline;
       std::count(done.begin(), done.end(), true) < static_cast<long>(reads) && Clock::now() < end;
       std::this_thread::sleep_for(1ms)) {
    for (size_t r = 0; r < reads; ++r) {
      if (done[r]) continue;
      St st = a_->checkXfer(handles[r].get());
      ASSERT_NE(st, St::kErr) << "read " << r << ": " << uccl_engine_last_error();
      done[r] = st == St::kSuccess;
    }
  }
  ASSERT_EQ(std::count(done.begin(), done.end(), true), static_cast<long>(reads));
  for (size_t r = 0; r < reads; ++r) {
    for (size_t i = 0; i < descs; ++i) {
      size_t src_block = r * descs + (descs - 1 - i);
      ASSERT_EQ(
          std::memcmp(dst.data() + (r * descs + i) * block, kv.data() + src_block * block, block),
          0)
          << "read " << r << " descriptor " << i;
    }
  }
  auto got = notifs(*b_, reads);
  EXPECT_EQ(got.size(), reads);
}

// A target that deregistered its region refuses the transfer; through the plugin's checkXfer that
// must come out as an error, with the local buffer untouched and no "done" notification sent.
TEST_F(NixlReplay, RefusedTransferIsAnErrorNeverDone) {
  const size_t size = 256 << 10;
  std::vector<uint8_t> kv = pattern(size, 3), dst(size, 0xC3), src = pattern(size, 4);
  const MemMD *dst_md = nullptr, *src_md = nullptr, *kv_local = nullptr;
  ASSERT_EQ(a_->registerMem(dst.data(), dst.size(), &dst_md), St::kSuccess);
  ASSERT_EQ(a_->registerMem(src.data(), src.size(), &src_md), St::kSuccess);
  MemMD kv_md = exportTo(*b_, kv, &kv_local);
  std::vector<Desc> local = {{at(dst, 0), size / 2, dst_md}, {at(dst, size / 2), size / 2, dst_md}};
  std::vector<Desc> remote = {{at(kv, 0), size / 2, &kv_md}, {at(kv, size / 2), size / 2, &kv_md}};
  std::vector<Desc> local_src = {{at(src, 0), size / 2, src_md},
                                 {at(src, size / 2), size / 2, src_md}};

  ASSERT_EQ(b_->deregisterMem(kv_local), St::kSuccess);  // the target frees its KV blocks
  const std::vector<uint8_t> kv_before = kv;

  std::unique_ptr<ReqH> r;
  ASSERT_EQ(a_->prepXfer(local, remote, b_->name(), &r), St::kSuccess);
  ASSERT_EQ(a_->postXfer(true, local, remote, b_->name(), r.get(), "read-done"), St::kInProg);
  EXPECT_EQ(a_->waitXfer(r.get()), St::kErr) << "a refused READ read as done";
  EXPECT_NE(std::string(uccl_engine_last_error()).find("failed"), std::string::npos)
      << uccl_engine_last_error();
  EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](uint8_t v) { return v == 0xC3; }));

  std::unique_ptr<ReqH> w;
  ASSERT_EQ(a_->prepXfer(local_src, remote, b_->name(), &w), St::kSuccess);
  ASSERT_EQ(a_->postXfer(false, local_src, remote, b_->name(), w.get(), "write-done"), St::kInProg);
  EXPECT_EQ(a_->waitXfer(w.get()), St::kErr) << "a refused WRITE read as done";
  EXPECT_EQ(kv, kv_before) << "a refused WRITE changed the deregistered region";

  // Neither "done" notification was sent: notifications on a connection arrive in order, so the
  // marker sent afterwards is the first thing B sees.
  ASSERT_EQ(a_->genNotif(b_->name(), "marker"), St::kSuccess) << uccl_engine_last_error();
  auto got = notifs(*b_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, "marker");

  // The connection still works: a fresh registration moves bytes.
  const MemMD* kv2_local = nullptr;
  MemMD kv2_md = exportTo(*b_, kv, &kv2_local);
  std::vector<Desc> remote2 = {{at(kv, 0), size / 2, &kv2_md},
                               {at(kv, size / 2), size / 2, &kv2_md}};
  std::unique_ptr<ReqH> r2;
  ASSERT_EQ(a_->prepXfer(local, remote2, b_->name(), &r2), St::kSuccess);
  ASSERT_EQ(a_->postXfer(true, local, remote2, b_->name(), r2.get()), St::kInProg);
  ASSERT_EQ(a_->waitXfer(r2.get()), St::kSuccess) << uccl_engine_last_error();
  EXPECT_EQ(dst, kv);
}

// NIXL connects each agent to itself (same_process = true) and moves data within the agent over
// that connection; without an IPC path it is a loopback connection with FifoItems.
TEST_F(NixlReplay, TransferWithinOneAgentOverItsOwnConnection) {
  const size_t size = (1 << 20) + 4096;
  std::vector<uint8_t> from = pattern(size, 5), to(size, 0);
  const MemMD *from_md = nullptr, *to_local = nullptr;
  ASSERT_EQ(a_->registerMem(from.data(), from.size(), &from_md), St::kSuccess);
  ASSERT_EQ(a_->localConnStatus(), St::kSuccess) << uccl_engine_last_error();
  MemMD to_md = exportTo(*a_, to, &to_local);
  std::vector<Desc> local = {{at(from, 0), size, from_md}};
  std::vector<Desc> remote = {{at(to, 0), size, &to_md}};
  std::unique_ptr<ReqH> w;
  ASSERT_EQ(a_->prepXfer(local, remote, a_->name(), &w), St::kSuccess);
  EXPECT_FALSE(w->use_ipc) << "no connection is local: no IPC blobs are passed";
  ASSERT_EQ(a_->postXfer(false, local, remote, a_->name(), w.get(), "self"), St::kInProg)
      << uccl_engine_last_error();
  ASSERT_EQ(a_->waitXfer(w.get()), St::kSuccess) << uccl_engine_last_error();
  EXPECT_EQ(to, from);
  auto got = notifs(*a_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::make_pair(a_->name(), std::string("self")));
}

}  // namespace
