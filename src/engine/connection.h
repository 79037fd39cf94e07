// A connection to one peer: a control socket plus N channels in each direction.
//
// States (one transition function, setState, checks each move against a table):
//   connector: kAwaitAck -> kEstablishing -> kReady -> kClosed
//   acceptor:  kAwaitHello -> kEstablishing -> kReady -> kClosed
// (any state -> kClosed on failure). handshake.h has the handshake itself, transfer_table.h the
// transfers, datapath/ how each piece's bytes move.
//
// Ordering rule (what makes posting-order matching hold with any number of transfers in flight,
// both directions at once): for data flowing X -> Y, only Y decides the order. Y appends the
// pieces of a transfer to its channels' receive queues at the moment it sends Cts (or, for its
// own read, the Read) for it, piece i on channel (first + i) % N with `first` named in that
// frame; X appends them to its send queues when the frame arrives. Those frames arrive in the
// order sent, so both sides append to every channel in the same order.
//   send/recv: Send(X->Y) .. Y matches a posted recv .. Cts(Y->X) .. data .. Done(Y->X)
//   write:     Write(X->Y) .. Y checks the advertisement .. Cts .. data .. Done
//   read:      Read(Y->X, first; Y's receives queued, held) .. X checks .. ReadOk(X->Y) and
//              data X->Y at once .. Y: ReadOk lets its receives post .. Done(X->Y)
//              (X's sends completed: Y's read ends only then, so X may free its buffer after it)
//              A read Y expects inline names no channel: ReadData, or ReadOk .. Cts .. data ..
//              Done as a write.
// A refused request gets a Nack instead and nothing is posted or written (a refused read's held
// receives are dropped in their turn: Transfer::gate). Transfers of at most
// UCCL_TCPX_INLINE_BYTES carry their bytes in the control frame (SendInline, WriteInline,
// ReadData) and skip the channels.
// One-sided vectors (several buffers against one advertisement) travel as one transfer:
// WriteVec/ReadVec list the peer's pieces, the bytes move as one stream of their total through
// the channels (gathered and scattered by datapath/vector_path.cc), one Cts (a write's; a read
// needs none), one Done, one completion. The destination's pieces must not overlap (refused: the
// chunks land in any order); adjacent pieces and overlapping sources are fine.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "control/control_wire.h"
#include "datapath/path_set.h"
#include "engine/channel.h"
#include "engine/control_socket.h"
#include "engine/engine_context.h"
#include "engine/handshake.h"
#include "engine/transfer_table.h"

namespace tcpxp::engine {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  enum class State : uint8_t { kAwaitHello, kAwaitAck, kEstablishing, kReady, kClosed };
  static const char* stateName(State s);
  // Whether the state table allows `from` -> `to`.
  static bool transitionAllowed(State from, State to);

  // `ready_slot`: completion finished when the handshake ends (connector), 0 for none.
  Connection(EngineContext& ctx, ConnId id, ControlSocket ctrl, bool connector,
             uint64_t ready_slot);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ConnId id() const { return id_; }
  State state() const { return state_; }
  bool connector() const { return connector_; }
  int remoteGpu() const { return handshake_.remoteGpu(); }
  const std::string& peer() const { return ctrl_.peer(); }
  int fd() const { return ctrl_.fd(); }
  // Requests posted on the channels (the driver keeps polling them).
  bool hasPostedWork() const;
  // The handshake is past the Hello exchange and the transport's comms are being set up (the
  // driver polls it often, without spinning).
  bool establishing() const { return state_ == State::kEstablishing; }
  // Control frames wait for room in the socket: the driver must wake when it drains.
  bool wantsWrite() const { return ctrl_.hasOutput(); }
  // False while this side holds back from reading the peer: its output to the peer is over
  // kMaxOutputBytes (backpressure on a peer that sends but does not read).
  bool wantsRead() const { return ctrl_.outputBytes() <= kMaxOutputBytes; }
  bool busy() const { return !table_.empty(); }

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
  Status send(uint64_t api, RegRef reg, char* ptr, size_t size);
  Status recv(uint64_t api, RegRef reg, char* ptr, size_t size);
  Status write(uint64_t api, RegRef reg, char* ptr, size_t size, uint64_t remote_addr,
               control::AccessToken token, uint32_t remote_mr);
  Status read(uint64_t api, RegRef reg, char* ptr, size_t size, uint64_t remote_addr,
              control::AccessToken token, uint32_t remote_mr);
  // A vector: local[i] <-> remote[i] (equal lengths, none empty, checked by the caller, with
  // the overlap rule above); `parts`: the API segments it covers.
  Status writeVec(uint64_t api, int parts, std::vector<RegRef> regs,
                  std::vector<datapath::IoSpan> local, std::vector<control::VecPiece> remote);
  Status readVec(uint64_t api, int parts, std::vector<RegRef> regs,
                 std::vector<datapath::IoSpan> local, std::vector<control::VecPiece> remote);
  Status notify(const std::string& name, const std::string& msg);

 private:
  // The transfer of a WriteVec/ReadVec this side starts.
  Transfer* addVector(uint64_t api, XferKind kind, int parts, std::vector<RegRef> regs,
                      std::vector<datapath::IoSpan> local);
  void setState(State next);
  // A channel's transport error, or the control socket's account of it (closed, reset).
  Status explainChannelFailure(const Status& channel_error);
  // Liveness (see checkLiveness in connection.cc): the handshake's deadline; a ready peer that
  // is silent for UCCL_TCPX_TIMEOUT_MS fails; heartbeats after heartbeatInterval() of quiet.
  Status checkLiveness(Clock::time_point now, bool data_moved);
  std::chrono::milliseconds heartbeatInterval() const;
  Status onFrame(control::FrameType type, const uint8_t* payload, size_t len);
  Status establish(bool* did_work);

  // transfer_protocol.cc: the transfer frames, matching, pieces and completion.
  Status onTransferFrame(control::FrameType type, const uint8_t* p, size_t n);
  // A transfer-starting frame's id must be above every earlier one (duplicates end the
  // connection before they touch anything).
  Status claimPeerId(uint64_t id);
  Status onSend(const control::Send& m);
  Status onWriteOrRead(bool is_write, uint64_t id, uint64_t addr, uint64_t size,
                       control::AccessToken token, uint16_t first_channel);
  // A Read/ReadVec's first_channel: kNoChannel or one of ours (else a protocol error).
  Status checkQueuedChannel(uint16_t first_channel) const;
  // ReadOk for a read this side serves, then its sends when the reader queued its receives.
  Status answerRead(Transfer* x, uint16_t first_channel);
  // A read this side starts: its receives queued now, held until the peer's ReadOk (the ordering
  // rule above); *first: the channel of its first piece, for the Read frame. On error the
  // transfer is gone (nothing was queued).
  Status queueRead(Transfer* x, uint16_t* first);
  Status onReadOk(const control::ReadOk& m);
  Status onCts(const control::Cts& m);
  Status onDone(const control::Done& m);
  Status onNack(const control::Nack& m);
  Status onWriteInline(const control::WriteInline& m);
  Status onReadData(const control::ReadData& m);
  Status onSendInline(const control::SendInline& m);
  Status onVector(bool is_write, uint64_t id, const std::vector<control::VecPiece>& pieces,
                  uint16_t first_channel);
  // A request the peer made and this side refused: logged at most once a second (counted).
  void logRefusal(const char* what, uint64_t size, const std::string& why);
  // Whether a transfer of `size` bytes goes inside a control frame.
  // Not while the control output is long: inline bytes would only lengthen the queue the peer
  // has not read yet (the channel path is paced by the peer's own receives).
  bool inlined(size_t size) const {
    return size <= static_cast<size_t>(ctx_.config.inline_bytes) &&
           ctrl_.outputBytes() < kInlineOutputCapBytes;
  }
  // The bytes of [src, +n) for an inline frame (GPU memory: a pinned copy, valid until the next
  // inline copy), and the other way: a frame's bytes into [dst, +size) (waited for).
  Status inlineBytes(Registration& reg, char* src, size_t n, std::span<const uint8_t>* out);
  Status landInline(Registration& reg, char* dst, std::span<const uint8_t> data);
  // Fills a posted recv from an inline send (the bytes are in the frame).
  void landInlineSend(std::unique_ptr<Transfer> x, uint64_t xfer_id, std::span<const uint8_t> data);
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
  // Every piece of `x` is done here.
  void onPiecesDone(Transfer* x);
  void complete(Transfer* x, const Status& status);

  // connection_report.cc
  void logChannelTimes() const;
  void writeTrace() const;

  EngineContext& ctx_;
  ConnId id_;
  ControlSocket ctrl_;
  bool connector_;
  uint64_t ready_slot_;
  State state_;
  bool peer_bye_ = false;
  Clock::time_point deadline_;       // the handshake's, pushed by each handshake step
  Clock::time_point data_deadline_;  // posted requests must progress before this
  Handshake handshake_;

  std::vector<Channel> channels_;
  size_t chunk_bytes_ = 0;
  std::unique_ptr<datapath::PathSet> paths_;  // made with the channels
  TransferTable table_;
  uint64_t last_peer_id_ = 0;         // the highest transfer id the peer started
  size_t inline_sends_ = 0;           // our SendInlines the peer has not answered yet
  size_t buffered_inline_sends_ = 0;  // the peer's, in table_.offers (at most kMaxInlineSends)
  std::vector<Transfer*> finished_;   // one entry per piece finished this turn
  size_t served_vector_pieces_ = 0;   // of the peer's vectors being served (kMaxServedVector..)
  std::vector<control::VecPiece> overlap_scratch_;
};

}  // namespace tcpxp::engine
