// A connection to one peer: a control socket plus N channels in each direction.
//
// Handshake (driver thread, non-blocking):
//   connector: listen N comms -> Hello{handles} -> HelloAck{handles} -> connect N send comms
//              and accept N recv comms at once -> ready
//   acceptor:  Hello -> listen N comms -> HelloAck -> connect + accept -> ready
//
// Ordering rule (what makes posting-order matching hold with any number of transfers in flight,
// both directions at once): for data flowing X -> Y, only Y decides the order. Y appends the
// pieces of a transfer to its channels' receive queues at the moment it sends Cts for it, piece
// i on channel (first + i) % N with `first` named in the Cts; X appends them to its send queues
// when that Cts arrives. Cts frames arrive in the order sent, so both sides append to every
// channel in the same order.
//   send/recv: Send(X->Y) .. Y matches a posted recv .. Cts(Y->X) .. data .. Done(Y->X)
//   write:     Write(X->Y) .. Y checks the advertisement .. Cts .. data .. Done
//   read:      Read(Y->X) .. X checks .. ReadOk(X->Y) .. Y: Cts(Y->X) .. data X->Y .. Done(X->Y)
//              (X's sends completed: Y's read ends only then, so X may free its buffer after it)
// A refused request gets a Nack instead and nothing is posted or written.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "control/control_wire.h"
#include "engine/channel.h"
#include "engine/completions.h"
#include "engine/control_socket.h"
#include "engine/engine_config.h"
#include "engine/registry.h"
#include "engine/transfer.h"
#include "transport/net.h"

namespace tcpxp::engine {

// Counters of one channel or one NIC (bytes of completed requests).
struct TrafficCounters {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t sends = 0;     // completed send requests
  uint64_t receives = 0;  // completed (consumed) receive requests
  uint64_t errors = 0;    // connections failed while using it
  uint64_t busy_ns = 0;   // time with requests posted
  void add(const TrafficCounters& o) {
    bytes_sent += o.bytes_sent;
    bytes_received += o.bytes_received;
    sends += o.sends;
    receives += o.receives;
    errors += o.errors;
    busy_ns += o.busy_ns;
  }
};

struct Notification {
  std::string name;
  std::string msg;
};

// What a connection needs from its endpoint's driver.
struct EngineContext {
  const EngineConfig& config;
  const transport::Net& net;
  Registry& registry;
  Completions& completions;
  std::vector<int> devs;  // transport devices, channel i on devs[i % size]
  int gpu_index;
  transport::NetProperties props;    // of `dev`
  bool emulate_gpu_buffers = false;  // host buffers take the GPU paths (UNPACK tests w/o GPU)
  std::function<void(Notification)> on_notify;
  std::vector<TrafficCounters> nic_counters;  // per transport device, kept past connections
};

struct ChannelStats {
  ConnId conn = 0;
  int channel = 0;
  int dev = 0;
  TrafficCounters counters;
};

struct ConnectionStats {
  ConnId conn = 0;
  std::string peer;
  int channels = 0;
  size_t staging_bytes = 0;  // pinned staging memory held (GPU memory over a host-only transport)
};

class Connection {
 public:
  enum class State { kAwaitHello, kAwaitAck, kEstablishing, kReady, kClosed };

  // `ready_slot`: completion finished when the handshake ends (connector), 0 for none.
  Connection(EngineContext& ctx, ConnId id, ControlSocket ctrl, bool connector,
             uint64_t ready_slot);
  ~Connection();

  ConnId id() const { return id_; }
  State state() const { return state_; }
  bool connector() const { return connector_; }
  int remoteGpu() const { return remote_gpu_; }
  const std::string& peer() const { return ctrl_.peer(); }
  int fd() const { return ctrl_.fd(); }
  bool hasPostedWork() const;
  bool busy() const { return !mine_.empty() || !theirs_.empty(); }

  // Starts the connector side of the handshake (sends Hello).
  Status start();
  // Reads control frames and advances everything; false when the connection is finished
  // (closed or failed: the caller destroys it).
  bool progress(bool* did_work);
  void fail(const Status& why);
  // Orderly close: Bye to the peer, then the comms.
  void close();
  void appendStats(std::vector<ChannelStats>* out) const;
  ConnectionStats stats() const;

  // API operations; on error nothing was sent and no completion will fire.
  Status send(uint64_t api, Registration* reg, char* ptr, size_t size);
  Status recv(uint64_t api, Registration* reg, char* ptr, size_t size);
  Status write(uint64_t api, Registration* reg, char* ptr, size_t size, uint64_t remote_addr,
               uint64_t token, uint32_t remote_mr);
  Status read(uint64_t api, Registration* reg, char* ptr, size_t size, uint64_t remote_addr,
              uint64_t token, uint32_t remote_mr);
  Status notify(const std::string& name, const std::string& msg);

 private:
  Status onFrame(control::FrameType type, const uint8_t* payload, size_t len);
  Status onHello(const control::Hello& m);
  Status onHelloAck(const control::HelloAck& m);
  Status onSend(const control::Send& m);
  Status onWriteOrRead(bool is_write, uint64_t id, uint64_t addr, uint64_t size, uint64_t token);
  Status onReadOk(const control::ReadOk& m);
  Status onCts(const control::Cts& m);
  Status onDone(const control::Done& m);
  Status onNack(const control::Nack& m);
  Status onWriteInline(const control::WriteInline& m);
  Status onReadData(const control::ReadData& m);
  Status onSendInline(const control::SendInline& m);
  // Whether a transfer of `size` bytes goes inside a control frame.
  bool inlined(size_t size) const { return size <= static_cast<size_t>(ctx_.config.inline_bytes); }
  // Copies host bytes of an inline frame (at most kMaxInlineBytes) into a registered buffer
  // (host or GPU memory, per `reg`), waiting for the copy.
  Status copyBlocking(const Registration& reg, void* dst, const void* src, size_t n);
  // Host bytes of a registered buffer for an inline frame (GPU memory: copied to pinned memory,
  // valid until the next inline copy).
  Status hostView(const Registration& reg, const char* src, size_t n,
                  std::span<const uint8_t>* out);
  // Fills a posted recv from an inline send (the bytes are in the frame).
  void landInlineSend(std::unique_ptr<Transfer> x, uint64_t xfer_id, std::span<const uint8_t> data);
  // The inline copies' stream and pinned buffer (created on first use), checked to hold n bytes.
  Status inlineResources(const Registration& reg, size_t n);
  Status listenAll(std::vector<transport::NetHandle>* handles);
  Status establish(bool* did_work);
  Status createPathResources(int device);
  int devFor(int channel) const {
    return ctx_.devs[static_cast<size_t>(channel) % ctx_.devs.size()];
  }
  DataPath choosePath(const Transfer& x, bool receiving) const;

  std::unique_ptr<Transfer> makeTransfer(uint64_t id, uint64_t api, XferKind kind,
                                         Registration* reg, char* ptr, size_t size);
  Transfer* addMine(uint64_t api, XferKind kind, Registration* reg, char* ptr, size_t size);
  Transfer* addTheirs(uint64_t peer_id, XferKind kind, Registration* reg, char* ptr, size_t size);
  size_t chunkCount(size_t size) const { return (size + chunk_bytes_ - 1) / chunk_bytes_; }
  // Hands the transfer's pieces to channels: piece i on channel (first + i) % channels.
  Status postPieces(Transfer* x, bool receiving, size_t first);
  // The data receiver's choice of first channel for a transfer of `pieces` pieces it is about
  // to accept (see .cc).
  size_t pickFirstChannel(size_t pieces) const;
  static constexpr size_t kSmallChannels = 2;
  static constexpr size_t kSmallSpill = 8;
  // Receiving side: posts the pieces and tells the data sender where they go.
  Status postAndClear(Transfer* x, control::Initiator initiator);
  // Matches queued Send offers with posted recvs.
  Status matchRecvs();
  void checkFinished(Transfer* x);
  void logChannelTimes() const;
  void writeTrace() const;
  // Sets channel i's index, NIC and tracing (after channels_ is sized).
  void initChannel(int i);
  void complete(Transfer* x, const Status& status);

  EngineContext& ctx_;
  ConnId id_;
  ControlSocket ctrl_;
  bool connector_;
  uint64_t ready_slot_;
  State state_;
  int remote_gpu_ = -1;
  bool peer_bye_ = false;
  Clock::time_point deadline_;

  std::vector<Channel> channels_;
  std::vector<void*> listen_comms_;
  std::vector<transport::NetHandle> connect_handles_;  // peer's handles, one connect each
  size_t chunk_bytes_ = 0;

  uint64_t next_id_ = 1;
  std::unordered_map<XferId, std::unique_ptr<Transfer>> mine_;    // send, write, read
  std::unordered_map<XferId, std::unique_ptr<Transfer>> theirs_;  // recv, serve write/read
  std::deque<std::unique_ptr<Transfer>> posted_recvs_;            // recv() waiting for a Send
  // A Send (or SendInline, with its bytes) waiting for a recv().
  struct Offer {
    control::Send send;
    bool has_data = false;
    std::vector<uint8_t> data;
  };
  std::deque<Offer> offers_;
  size_t inline_sends_ = 0;           // our SendInlines the peer has not answered yet
  size_t buffered_inline_sends_ = 0;  // the peer's, in offers_ (at most kMaxInlineSends)
  std::unique_ptr<datapath::PinnedBuffer> inline_pinned_;  // GPU bytes of inline frames
  std::unique_ptr<datapath::GpuStream> inline_stream_;     // their copies, waited for
  std::vector<Transfer*> finished_;
  std::unique_ptr<datapath::GpuStream> send_stream_, recv_stream_;  // see PathResources
  Ring<uint32_t> send_copy_turns_, recv_slot_turns_;
  std::unique_ptr<datapath::StagingPool> send_staging_, recv_staging_;
  MrId send_staging_mr_ = 0, recv_staging_mr_ = 0;
};

}  // namespace tcpxp::engine
