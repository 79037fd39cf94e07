// A peer that lies: frames before the handshake, Hellos past this side's limits, duplicate
// transfer ids, forged tokens. Each case proves the endpoint closes or refuses as documented and
// that nothing it holds (transfers, registrations, notifications) is touched.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <arpa/inet.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "control/fifo_item.h"
#include "engine/endpoint.h"
#include "engine/registry.h"
#include "tests/engine/scripted_peer.h"
#include "transport/socket/socket_wire.h"

namespace tcpxp::engine {
namespace {

using testing::ScriptedPeer;
constexpr int kBoundMs = 5000;

std::unique_ptr<Endpoint> makeEndpoint() {
  std::unique_ptr<Endpoint> ep;
  Status st = Endpoint::create(-1, &ep);
  EXPECT_TRUE(st.isOk()) << st.toString();
  return ep;
}

// The scripted peer completes a handshake; returns the endpoint's id for that connection.
ConnId acceptScripted(Endpoint& ep, ScriptedPeer& peer) {
  auto accepted = std::async(std::launch::async, [&] {
    ConnId id = 0;
    std::string ip;
    int gpu = 0;
    Status st = ep.accept(&id, &ip, &gpu, nullptr, kBoundMs);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return id;
  });
  EXPECT_TRUE(peer.dial(ep.info().port).isOk());
  Status st = peer.handshake(kBoundMs);
  EXPECT_TRUE(st.isOk()) << st.toString();
  return accepted.get();
}

// The endpoint's answer to the next transfer frame (skipping Heartbeats).
Status nextAnswer(ScriptedPeer& peer, control::FrameHeader* h, std::vector<uint8_t>* payload) {
  for (;;) {
    TCPXP_RETURN_IF_ERROR(peer.next(h, payload, kBoundMs));
    if (h->type != control::FrameType::kHeartbeat) return Status::ok();
  }
}

// The endpoint's answer to a Hello it refuses: a HelloAck with kRefused whose message says `says`.
void expectRefusal(ScriptedPeer& peer, const char* says, control::HelloAck* ack) {
  control::FrameHeader h;
  std::vector<uint8_t> payload;
  ASSERT_TRUE(peer.next(&h, &payload, kBoundMs).isOk());
  ASSERT_EQ(h.type, control::FrameType::kHelloAck);
  ASSERT_TRUE(control::decode(payload.data(), payload.size(), ack).isOk());
  EXPECT_EQ(ack->status, Code::kRefused);
  EXPECT_NE(ack->message.find(says), std::string::npos) << ack->message;
}

TEST(HostilePeer, OnlyHelloIsAcceptedBeforeTheHandshake) {
  auto ep = makeEndpoint();
  for (int kind = 0; kind < 4; ++kind) {
    SCOPED_TRACE(kind);
    ScriptedPeer peer;
    ASSERT_TRUE(peer.dial(ep->info().port).isOk());
    switch (kind) {
      case 0:
        ASSERT_TRUE(peer.send(control::Notify{"spoofed", "notification"}).isOk());
        break;
      case 1:
        ASSERT_TRUE(peer.send(control::Send{1, 1 << 20}).isOk());
        break;
      case 2:
        ASSERT_TRUE(peer.send(control::Heartbeat{}).isOk());
        break;
      case 3:
        ASSERT_TRUE(peer.send(control::HelloAck{}).isOk());
        break;
    }
    std::vector<control::FrameType> seen;
    EXPECT_TRUE(peer.closedWithin(kBoundMs, &seen)) << "the endpoint kept the socket open";
    EXPECT_TRUE(seen.empty()) << "the endpoint answered a frame before the handshake";
  }
  EXPECT_TRUE(ep->takeNotifications().empty()) << "a notification before the handshake arrived";
}

TEST(HostilePeer, HellosPastThisSidesLimitsAreRefused) {
  auto ep = makeEndpoint();
  struct Case {
    size_t channels;
    uint32_t chunk;
    const char* says;
  } cases[] = {{33, 1 << 20, "33 channels asked; at most 32"},
               {1, 1, "chunk size 1 outside [4096, 4194303]"},
               {1, 4095, "chunk size 4095 outside"},
               {1, 4 << 20, nullptr}};  // past the codec's own bound: closed without a word
  for (const Case& c : cases) {
    SCOPED_TRACE(c.says ? c.says : "chunk 4 MiB");
    ScriptedPeer peer;
    ASSERT_TRUE(peer.dial(ep->info().port).isOk());
    control::Hello hello;
    ASSERT_TRUE(peer.hello(&hello, c.channels).isOk());
    hello.chunk_bytes = c.chunk;
    ASSERT_TRUE(peer.send(hello).isOk());
    if (c.says == nullptr) {
      std::vector<control::FrameType> seen;
      EXPECT_TRUE(peer.closedWithin(kBoundMs, &seen));
      EXPECT_TRUE(seen.empty());
      continue;
    }
    control::HelloAck ack;
    ASSERT_NO_FATAL_FAILURE(expectRefusal(peer, c.says, &ack));
    EXPECT_TRUE(ack.handles.empty()) << "a refused Hello gets no handles to dial";
    EXPECT_TRUE(peer.closedWithin(kBoundMs));
  }
}

TEST(HostilePeer, DuplicateTransferIdEndsTheConnectionWithoutTouchingLiveState) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ConnId conn = acceptScripted(*ep, peer);
  ASSERT_NE(conn, 0u);
  // A served write in progress (1 MiB: over the inline size, so it waits for data) ...
  std::vector<uint8_t> target(1 << 20, 0x5a), spare(4096, 0);
  MrId tmr = 0, smr = 0;
  ASSERT_TRUE(ep->reg(target.data(), target.size(), &tmr).isOk());
  ASSERT_TRUE(ep->reg(spare.data(), spare.size(), &smr).isOk());
  FifoBlob blob{};
  ASSERT_TRUE(ep->advertise(0, tmr, target.data(), target.size(), &blob).isOk());
  control::FifoItem item;
  ASSERT_TRUE(control::decodeFifoItem(blob.data(), blob.size(), &item).isOk());
  ASSERT_TRUE(peer.send(control::Write{5, item.addr, item.size, item.token, item.mr_id}).isOk());
  control::FrameHeader h;
  std::vector<uint8_t> payload;
  ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
  ASSERT_EQ(h.type, control::FrameType::kCts) << "the write was accepted";
  // ... and a recv posted, which a Send would match: the duplicate id must not reach it.
  Segment seg{smr, spare.data(), spare.size(), {}};
  XferId rx = 0;
  ASSERT_TRUE(ep->recvAsync(conn, {&seg, 1}, &rx).isOk());
  ASSERT_TRUE(peer.send(control::Send{5, 100}).isOk());
  EXPECT_TRUE(peer.closedWithin(kBoundMs));
  Status st = ep->wait(rx, nullptr, nullptr, kBoundMs);
  EXPECT_EQ(st.code(), Code::kProtocolError) << st.toString();
  EXPECT_NE(st.message().find("transfer id 5 from the peer is not new"), std::string::npos)
      << st.toString();
  EXPECT_TRUE(std::all_of(target.begin(), target.end(), [](uint8_t b) { return b == 0x5a; }));
  // The connection is gone and with it every hold on the registrations.
  EXPECT_TRUE(ep->dereg(tmr).isOk());
  EXPECT_TRUE(ep->dereg(smr).isOk());
}

TEST(HostilePeer, IdsMustGrowAcrossFrameKinds) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ASSERT_NE(acceptScripted(*ep, peer), 0u);
  std::vector<uint8_t> data(16, 1);
  ASSERT_TRUE(peer.send(control::SendInline{7, data}).isOk());  // buffered: no recv posted
  ASSERT_TRUE(peer.send(control::Read{7, 0x1000, 8, {1, 2}, 1}).isOk());
  std::vector<control::FrameType> seen;
  EXPECT_TRUE(peer.closedWithin(kBoundMs, &seen));
  for (control::FrameType t : seen) {
    EXPECT_EQ(t, control::FrameType::kHeartbeat) << "a reused id was answered";
  }
}

TEST(HostilePeer, EveryDeniedAccessGetsTheSameAnswer) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ASSERT_NE(acceptScripted(*ep, peer), 0u);
  std::vector<uint8_t> target(8192, 0x11);
  MrId mr = 0;
  ASSERT_TRUE(ep->reg(target.data(), target.size(), &mr).isOk());
  FifoBlob blob{};
  ASSERT_TRUE(ep->advertise(0, mr, target.data(), 4096, &blob).isOk());
  control::FifoItem item;
  ASSERT_TRUE(control::decodeFifoItem(blob.data(), blob.size(), &item).isOk());
  control::AccessToken forged_hi{item.token.lo, item.token.hi ^ 1};
  control::AccessToken unknown{item.token.lo ^ 1, item.token.hi};
  std::vector<uint8_t> bytes(64, 0xee);
  struct Attempt {
    const char* what;
    control::WriteInline frame;
  } attempts[] = {
      {"forged high half", {1, item.addr, forged_hi, item.mr_id, bytes}},
      {"unknown token", {2, item.addr, unknown, item.mr_id, bytes}},
      {"past the advertised end", {3, item.addr + 4096, item.token, item.mr_id, bytes}},
      {"before the start", {4, item.addr - 64, item.token, item.mr_id, bytes}},
  };
  for (const Attempt& a : attempts) {
    SCOPED_TRACE(a.what);
    ASSERT_TRUE(peer.send(a.frame).isOk());
    control::FrameHeader h;
    std::vector<uint8_t> payload;
    ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
    ASSERT_EQ(h.type, control::FrameType::kNack);
    control::Nack nack;
    ASSERT_TRUE(control::decode(payload.data(), payload.size(), &nack).isOk());
    EXPECT_EQ(nack.code, Code::kRefused);
    EXPECT_EQ(nack.message, kAccessRefused);
  }
  EXPECT_TRUE(std::all_of(target.begin(), target.end(), [](uint8_t b) { return b == 0x11; }))
      << "a refused write changed memory";
  // The same peer, with the right token and range, is served: refusals do not end it.
  ASSERT_TRUE(peer.send(control::WriteInline{5, item.addr, item.token, item.mr_id, bytes}).isOk());
  control::FrameHeader h;
  std::vector<uint8_t> payload;
  ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
  EXPECT_EQ(h.type, control::FrameType::kDone);
  EXPECT_EQ(target[0], 0xee);
  EXPECT_EQ(target[64], 0x11);
}

// A vector's piece list is the peer's word: each piece is checked like a Write of it alone,
// the destination's pieces must not overlap, and one bad piece refuses the whole vector with
// the same answer as any denied access, before a byte moves.
TEST(HostilePeer, EveryPieceOfAVectorIsChecked) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ASSERT_NE(acceptScripted(*ep, peer), 0u);
  std::vector<uint8_t> target(1 << 20, 0x11), other(8192, 0x22);
  MrId mr = 0, omr = 0;
  ASSERT_TRUE(ep->reg(target.data(), target.size(), &mr).isOk());
  ASSERT_TRUE(ep->reg(other.data(), other.size(), &omr).isOk());
  FifoBlob blob{};
  ASSERT_TRUE(ep->advertise(0, mr, target.data(), 512 << 10, &blob).isOk());
  control::FifoItem ad;
  ASSERT_TRUE(control::decodeFifoItem(blob.data(), blob.size(), &ad).isOk());
  control::AccessToken t = ad.token;
  control::AccessToken forged{t.lo, t.hi ^ 1};
  using P = control::VecPiece;
  struct Attempt {
    const char* what;
    bool write;
    std::vector<P> pieces;
    const char* says;  // the Nack's message
  } attempts[] = {
      {"second piece past the end",
       true,
       {{ad.addr, 4096, t}, {ad.addr + (512 << 10), 1, t}},
       kAccessRefused},
      {"second piece straddles the end",
       false,
       {{ad.addr, 4096, t}, {ad.addr + (512 << 10) - 8, 16, t}},
       kAccessRefused},
      {"a piece before the start",
       false,
       {{ad.addr - 1, 2, t}, {ad.addr, 4096, t}},
       kAccessRefused},
      {"a forged token on the last piece",
       true,
       {{ad.addr, 4096, t}, {ad.addr + 8192, 4096, t}, {ad.addr + 16384, 4096, forged}},
       kAccessRefused},
      {"overlapping destinations",
       true,
       {{ad.addr + 100, 4096, t}, {ad.addr, 101, t}},
       "vector write: its pieces overlap"},
      {"a piece of 4 GiB - 1", false, {{ad.addr, UINT32_MAX, t}, {ad.addr, 1, t}}, kAccessRefused},
  };
  uint64_t id = 1;
  for (const Attempt& a : attempts) {
    SCOPED_TRACE(a.what);
    if (a.write) {
      ASSERT_TRUE(peer.send(control::WriteVec{id++, a.pieces}).isOk());
    } else {
      ASSERT_TRUE(peer.send(control::ReadVec{id++, a.pieces}).isOk());
    }
    control::FrameHeader h;
    std::vector<uint8_t> payload;
    ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
    ASSERT_EQ(h.type, control::FrameType::kNack) << "the vector was not refused";
    control::Nack nack;
    ASSERT_TRUE(control::decode(payload.data(), payload.size(), &nack).isOk());
    EXPECT_EQ(nack.code, Code::kRefused);
    EXPECT_EQ(nack.message, a.says);
    EXPECT_EQ(nack.initiator,
              a.write ? control::Initiator::kDataSender : control::Initiator::kDataReceiver);
  }
  EXPECT_TRUE(std::all_of(target.begin(), target.end(), [](uint8_t b) { return b == 0x11; }));
  EXPECT_TRUE(std::all_of(other.begin(), other.end(), [](uint8_t b) { return b == 0x22; }));
  // Nothing was held: both registrations are free, and a good vector is still served.
  EXPECT_TRUE(ep->dereg(omr).isOk());
  ASSERT_TRUE(
      peer.send(control::WriteVec{id++, {{ad.addr, 4096, t}, {ad.addr + 4096, 8, t}}}).isOk());
  control::FrameHeader h;
  std::vector<uint8_t> payload;
  ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
  EXPECT_EQ(h.type, control::FrameType::kCts) << "a good vector was refused";
}

// What a vector's initiator puts on the wire: pieces adjacent on both sides under one
// advertisement travel as one piece; a gap on either side, another advertisement (token) or
// another registration keeps them apart. The scripted peer reads the WriteVec and ReadVec frames.
TEST(HostilePeer, AdjacentPiecesOfAVectorTravelAsOne) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ConnId conn = acceptScripted(*ep, peer);
  ASSERT_NE(conn, 0u);
  // Two registrations over one buffer's halves: adjacent memory, different registrations.
  std::vector<uint8_t> mine(1 << 20);
  uint8_t* p = mine.data();
  const uint32_t half = 512 << 10;
  MrId mra = 0, mrb = 0;
  ASSERT_TRUE(ep->reg(p, half, &mra).isOk());
  ASSERT_TRUE(ep->reg(p + half, half, &mrb).isOk());
  const uint64_t remote = 0x7f0000100000;
  const uint32_t kb4 = 4096;
  const control::AccessToken t1{11, 12}, t2{21, 22};
  auto seg = [&](MrId m, uint8_t* local, uint64_t at, uint32_t len, control::AccessToken tok) {
    control::FifoItem item;
    item.addr = at;
    item.size = len;
    item.mr_id = 7;
    item.token = tok;
    Segment s{m, local, len, {}};
    control::encodeFifoItem(item, s.fifo.data());
    return s;
  };
  std::vector<Segment> segs;
  // 64 blocks of 4 KiB in a row on both sides: one piece of 256 KiB.
  for (uint32_t i = 0; i < 64; ++i)
    segs.push_back(seg(mra, p + i * kb4, remote + i * kb4, kb4, t1));
  // A gap on the local side, then one on the remote side: a piece each.
  segs.push_back(seg(mra, p + 65 * kb4, remote + 64 * kb4, kb4, t1));
  segs.push_back(seg(mra, p + 66 * kb4, remote + 66 * kb4, kb4, t1));
  // Adjacent on both sides under another advertisement (token): a piece of its own.
  segs.push_back(seg(mra, p + 67 * kb4, remote + 67 * kb4, kb4, t2));
  // The last block of one registration and the first of the next, adjacent on both sides under
  // one advertisement: apart.
  segs.push_back(seg(mra, p + half - kb4, remote + 68 * kb4, kb4, t2));
  segs.push_back(seg(mrb, p + half, remote + 69 * kb4, kb4, t2));
  // An empty piece between two adjacent ones does not separate them.
  segs.push_back(seg(mrb, p + half + kb4, remote + 70 * kb4, 0, t2));
  segs.push_back(seg(mrb, p + half + kb4, remote + 70 * kb4, 100, t2));
  using P = control::VecPiece;
  const std::vector<P> want = {{remote, 64 * kb4, t1},       {remote + 64 * kb4, kb4, t1},
                               {remote + 66 * kb4, kb4, t1}, {remote + 67 * kb4, kb4, t2},
                               {remote + 68 * kb4, kb4, t2}, {remote + 69 * kb4, kb4 + 100, t2}};
  for (bool write : {true, false}) {
    SCOPED_TRACE(write ? "writev" : "readv");
    XferId x = 0;
    ASSERT_TRUE((write ? ep->writeAsync(conn, segs, &x) : ep->readAsync(conn, segs, &x)).isOk());
    control::FrameHeader h;
    std::vector<uint8_t> payload;
    ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
    std::vector<P> got;
    uint64_t id = 0;
    if (write) {
      ASSERT_EQ(h.type, control::FrameType::kWriteVec);
      control::WriteVec m;
      ASSERT_TRUE(control::decode(payload.data(), payload.size(), &m).isOk());
      got = m.pieces;
      id = m.xfer_id;
    } else {
      ASSERT_EQ(h.type, control::FrameType::kReadVec);
      control::ReadVec m;
      ASSERT_TRUE(control::decode(payload.data(), payload.size(), &m).isOk());
      got = m.pieces;
      id = m.xfer_id;
    }
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].addr, want[i].addr) << "piece " << i;
      EXPECT_EQ(got[i].len, want[i].len) << "piece " << i;
      EXPECT_TRUE(got[i].token == want[i].token) << "piece " << i;
    }
    // Refused: the transfer ends with the peer's answer, nothing moved.
    ASSERT_TRUE(peer.send(control::Nack{id,
                                        write ? control::Initiator::kDataSender
                                              : control::Initiator::kDataReceiver,
                                        Code::kRefused, kAccessRefused})
                    .isOk());
    Status st = ep->wait(x);
    EXPECT_EQ(st.code(), Code::kRefused) << st.toString();
  }
  EXPECT_TRUE(ep->dereg(mra).isOk());
  EXPECT_TRUE(ep->dereg(mrb).isOk());
}

// A Read that names its first channel (its reader queued the receives) is answered with ReadOk
// and the bytes at once, no Cts; a channel the connection does not have ends it.
TEST(HostilePeer, AReadNamingItsChannelIsServedWithoutACts) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ASSERT_NE(acceptScripted(*ep, peer), 0u);
  const size_t n = size_t{256} << 10;
  std::vector<uint8_t> source(n);
  for (size_t i = 0; i < n; ++i) source[i] = static_cast<uint8_t>(i * 7 + 1);
  MrId mr = 0;
  ASSERT_TRUE(ep->reg(source.data(), n, &mr).isOk());
  FifoBlob blob{};
  ASSERT_TRUE(ep->advertise(0, mr, source.data(), n, &blob).isOk());
  control::FifoItem item;
  ASSERT_TRUE(control::decodeFifoItem(blob.data(), blob.size(), &item).isOk());
  ASSERT_TRUE(peer.send(control::Read{1, item.addr, n, item.token, item.mr_id, 0}).isOk());
  control::FrameHeader h;
  std::vector<uint8_t> payload;
  ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
  ASSERT_EQ(h.type, control::FrameType::kReadOk);
  std::vector<uint8_t> got(n, 0);
  ASSERT_TRUE(peer.moveBytes(0, /*receiving=*/true, got.data(), n).isOk());
  EXPECT_EQ(got, source);
  ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
  ASSERT_EQ(h.type, control::FrameType::kDone);
  control::Done done;
  ASSERT_TRUE(control::decode(payload.data(), payload.size(), &done).isOk());
  EXPECT_EQ(done.xfer_id, 1u);
  EXPECT_EQ(done.initiator, control::Initiator::kDataReceiver);
  // One channel: channel 1 does not exist.
  ASSERT_TRUE(peer.send(control::Read{2, item.addr, n, item.token, item.mr_id, 1}).isOk());
  std::vector<control::FrameType> seen;
  EXPECT_TRUE(peer.closedWithin(kBoundMs, &seen)) << "the endpoint kept the connection";
  for (control::FrameType t : seen) {
    EXPECT_EQ(t, control::FrameType::kHeartbeat) << "a Read naming a missing channel was answered";
  }
  EXPECT_TRUE(ep->dereg(mr).isOk());
}

// The reader's side: its receives wait on the channel until the peer's ReadOk. A Nack drops them
// (the read fails, nothing written), and the next read's receive still pairs with the peer's
// next send; a Done for a read not yet answered ReadOk is a lie that ends the connection.
TEST(HostilePeer, AQueuedReadWaitsForReadOkAndARefusalDropsIt) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ConnId conn = acceptScripted(*ep, peer);
  ASSERT_NE(conn, 0u);
  const size_t n = size_t{256} << 10;
  std::vector<uint8_t> dst(n, 0x5a);
  MrId mr = 0;
  ASSERT_TRUE(ep->reg(dst.data(), n, &mr).isOk());
  control::FifoItem theirs;
  theirs.addr = 0x7f0000200000;
  theirs.size = n;
  theirs.mr_id = 3;
  theirs.token = {31, 32};
  Segment seg{mr, dst.data(), n, {}};
  control::encodeFifoItem(theirs, seg.fifo.data());
  auto nextRead = [&](control::Read* r) {
    control::FrameHeader h;
    std::vector<uint8_t> payload;
    ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
    ASSERT_EQ(h.type, control::FrameType::kRead);
    ASSERT_TRUE(control::decode(payload.data(), payload.size(), r).isOk());
    EXPECT_EQ(r->first_channel, 0) << "a 256 KiB read queues its receive on the only channel";
    EXPECT_EQ(r->size, n);
  };
  // Refused.
  XferId x = 0;
  ASSERT_TRUE(ep->readAsync(conn, {&seg, 1}, &x).isOk());
  control::Read r;
  ASSERT_NO_FATAL_FAILURE(nextRead(&r));
  ASSERT_TRUE(peer.send(control::Nack{r.xfer_id, control::Initiator::kDataReceiver, Code::kRefused,
                                      kAccessRefused})
                  .isOk());
  Status st = ep->wait(x, nullptr, nullptr, kBoundMs);
  EXPECT_EQ(st.code(), Code::kRefused) << st.toString();
  EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](uint8_t b) { return b == 0x5a; }));
  // Served: ReadOk, the bytes (the first send on the channel), Done.
  ASSERT_TRUE(ep->readAsync(conn, {&seg, 1}, &x).isOk());
  ASSERT_NO_FATAL_FAILURE(nextRead(&r));
  std::vector<uint8_t> source(n);
  for (size_t i = 0; i < n; ++i) source[i] = static_cast<uint8_t>(i * 13 + 5);
  ASSERT_TRUE(peer.send(control::ReadOk{r.xfer_id}).isOk());
  ASSERT_TRUE(peer.moveBytes(0, /*receiving=*/false, source.data(), n).isOk());
  ASSERT_TRUE(peer.send(control::Done{r.xfer_id, control::Initiator::kDataReceiver}).isOk());
  st = ep->wait(x, nullptr, nullptr, kBoundMs);
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(dst, source);
  // Done before ReadOk.
  ASSERT_TRUE(ep->readAsync(conn, {&seg, 1}, &x).isOk());
  ASSERT_NO_FATAL_FAILURE(nextRead(&r));
  ASSERT_TRUE(peer.send(control::Done{r.xfer_id, control::Initiator::kDataReceiver}).isOk());
  EXPECT_TRUE(peer.closedWithin(kBoundMs)) << "the endpoint kept the connection";
  st = ep->wait(x, nullptr, nullptr, kBoundMs);
  EXPECT_EQ(st.code(), Code::kProtocolError) << st.toString();
  EXPECT_EQ(dst, source) << "the lying peer's read wrote into the buffer";
  EXPECT_TRUE(ep->dereg(mr).isOk());
}

// A peer that takes a queued Read and then freezes (no answer, no heartbeat): the connection
// fails at UCCL_TCPX_TIMEOUT_MS, the read ends with it, its held receive is gone with the
// channels and nothing was written or is still held.
TEST(HostilePeer, AFrozenPeerEndsAHeldReadAtTheTimeout) {
  ::setenv("UCCL_TCPX_TIMEOUT_MS", "1000", 1);  // this process only (one test per process)
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ConnId conn = acceptScripted(*ep, peer);
  ASSERT_NE(conn, 0u);
  const size_t n = size_t{256} << 10;
  std::vector<uint8_t> dst(n, 0x5a);
  MrId mr = 0;
  ASSERT_TRUE(ep->reg(dst.data(), n, &mr).isOk());
  control::FifoItem theirs;
  theirs.addr = 0x7f0000200000;
  theirs.size = n;
  theirs.mr_id = 3;
  theirs.token = {31, 32};
  Segment seg{mr, dst.data(), n, {}};
  control::encodeFifoItem(theirs, seg.fifo.data());
  XferId x = 0;
  ASSERT_TRUE(ep->readAsync(conn, {&seg, 1}, &x).isOk());
  control::FrameHeader h;
  std::vector<uint8_t> payload;
  ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
  ASSERT_EQ(h.type, control::FrameType::kRead);
  control::Read r;
  ASSERT_TRUE(control::decode(payload.data(), payload.size(), &r).isOk());
  ASSERT_NE(r.first_channel, control::kNoChannel) << "the read did not queue its receive";
  // Frozen from here: the endpoint's heartbeats go unanswered.
  auto start = std::chrono::steady_clock::now();
  Status st = ep->wait(x, nullptr, nullptr, kBoundMs);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  EXPECT_FALSE(st.isOk());
  // The connection's own reason, not wait()'s bound.
  EXPECT_NE(st.message().find("stopped answering"), std::string::npos) << st.toString();
  EXPECT_LT(waited.count(), kBoundMs);
  EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](uint8_t b) { return b == 0x5a; }));
  EXPECT_TRUE(peer.closedWithin(kBoundMs)) << "the endpoint kept the connection";
  EXPECT_TRUE(ep->dereg(mr).isOk()) << "the failed read still holds its registration";
}

// A piece list that does not parse (a count that disagrees with the payload, an empty piece)
// is a protocol error: the connection ends, nothing is answered or written.
TEST(HostilePeer, MalformedVectorFramesEndTheConnection) {
  auto ep = makeEndpoint();
  std::vector<uint8_t> target(8192, 0x33);
  MrId mr = 0;
  ASSERT_TRUE(ep->reg(target.data(), target.size(), &mr).isOk());
  FifoBlob blob{};
  ASSERT_TRUE(ep->advertise(0, mr, target.data(), target.size(), &blob).isOk());
  control::FifoItem ad;
  ASSERT_TRUE(control::decodeFifoItem(blob.data(), blob.size(), &ad).isOk());
  for (int kind = 0; kind < 3; ++kind) {
    SCOPED_TRACE(kind);
    ScriptedPeer peer;
    ASSERT_NE(acceptScripted(*ep, peer), 0u);
    std::vector<uint8_t> frame;
    control::encode(control::WriteVec{1, {{ad.addr, 16, ad.token}, {ad.addr + 16, 16, ad.token}}},
                    &frame);
    size_t payload = control::kFrameHeaderBytes;
    if (kind == 0) frame[payload + 8] = 3;  // count 3, two pieces
    if (kind == 1) {
      for (int i = 0; i < 4; ++i) frame[payload + 16 + 8 + i] = 0;  // piece 0 empty
    }
    if (kind == 2) frame[payload + 8] = 1;  // count 1, two pieces
    ASSERT_TRUE(peer.sendBytes(frame).isOk());
    std::vector<control::FrameType> seen;
    EXPECT_TRUE(peer.closedWithin(kBoundMs, &seen)) << "the endpoint kept the connection";
    for (control::FrameType t : seen) {
      EXPECT_EQ(t, control::FrameType::kHeartbeat) << "a malformed vector was answered";
    }
  }
  EXPECT_TRUE(std::all_of(target.begin(), target.end(), [](uint8_t b) { return b == 0x33; }));
  EXPECT_TRUE(ep->dereg(mr).isOk());
}

TEST(HostilePeer, NotificationsNameTheirConnection) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ConnId conn = acceptScripted(*ep, peer);
  ASSERT_TRUE(peer.send(control::Notify{"layer", "done"}).isOk());
  // The endpoint answers nothing to a Notify; a Read of an unknown token is answered after it,
  // so once the Nack is here the Notify was handled.
  ASSERT_TRUE(peer.send(control::Read{1, 0x1000, 8, {1, 2}, 1}).isOk());
  control::FrameHeader h;
  std::vector<uint8_t> payload;
  ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk());
  ASSERT_EQ(h.type, control::FrameType::kNack);
  std::vector<Notification> got = ep->takeNotifications();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].name, "layer");
  EXPECT_EQ(got[0].msg, "done");
  EXPECT_EQ(got[0].conn, conn);
}

}  // namespace
}  // namespace tcpxp::engine

namespace tcpxp::engine {
namespace {

TEST(HostilePeerLimits, ConnectionsPastTheLimitAreRefusedSayingWhy) {
  ::setenv("UCCL_TCPX_MAX_CONNECTIONS", "2", 1);
  auto ep = makeEndpoint();
  ::unsetenv("UCCL_TCPX_MAX_CONNECTIONS");
  ScriptedPeer first, second, third;
  ASSERT_NE(acceptScripted(*ep, first), 0u);
  ASSERT_NE(acceptScripted(*ep, second), 0u);
  ASSERT_TRUE(third.dial(ep->info().port).isOk());
  Status st = third.handshake(kBoundMs);
  EXPECT_EQ(st.code(), Code::kResourceExhausted) << st.toString();
  EXPECT_NE(st.message().find("UCCL_TCPX_MAX_CONNECTIONS=2"), std::string::npos) << st.toString();
  // A real connector is told the same.
  auto other = makeEndpoint();
  ConnId id = 0;
  st = other->connect("127.0.0.1", -1, ep->info().port, &id);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("UCCL_TCPX_MAX_CONNECTIONS"), std::string::npos) << st.toString();
}

TEST(HostilePeerLimits, HandshakesPastTheCapAreClosedAndSilentOnesExpire) {
  ::setenv("UCCL_TCPX_TIMEOUT_MS", "1000", 1);  // the Hello deadline is min(5 s, this)
  auto ep = makeEndpoint();
  ::setenv("UCCL_TCPX_TIMEOUT_MS", "10000", 1);
  std::vector<std::unique_ptr<ScriptedPeer>> silent;
  for (size_t i = 0; i < kMaxHandshakes; ++i) {
    silent.push_back(std::make_unique<ScriptedPeer>());
    ASSERT_TRUE(silent.back()->dial(ep->info().port).isOk());
  }
  // The endpoint accepts at most once a millisecond: the 64 are in once a Hello of a newcomer
  // is closed unanswered, which is what a full table does.
  ScriptedPeer extra;
  ASSERT_TRUE(extra.dial(ep->info().port).isOk());
  control::Hello hello;
  ASSERT_TRUE(extra.hello(&hello).isOk());
  ASSERT_TRUE(extra.send(hello).isOk());
  std::vector<control::FrameType> seen;
  EXPECT_TRUE(extra.closedWithin(kBoundMs, &seen));
  EXPECT_TRUE(seen.empty()) << "a handshake past the cap was served";
  // Those that never say Hello are dropped after the Hello deadline (1 s here), and a real
  // connector gets through again.
  for (auto& s : silent) EXPECT_TRUE(s->closedWithin(kBoundMs));
  ScriptedPeer late;
  ASSERT_NE(acceptScripted(*ep, late), 0u);
}

TEST(HostilePeerLimits, APeerThatDoesNotReadGetsNoMoreInlineBytes) {
  auto ep = makeEndpoint();
  ScriptedPeer peer;
  ASSERT_NE(acceptScripted(*ep, peer), 0u);
  std::vector<uint8_t> source(64 << 10, 0x42);
  MrId mr = 0;
  ASSERT_TRUE(ep->reg(source.data(), source.size(), &mr).isOk());
  FifoBlob blob{};
  ASSERT_TRUE(ep->advertise(0, mr, source.data(), source.size(), &blob).isOk());
  control::FifoItem item;
  ASSERT_TRUE(control::decodeFifoItem(blob.data(), blob.size(), &item).isOk());
  // 2000 reads of 64 KiB: 128 MiB of answers if each came inline. Written without reading.
  constexpr uint64_t kReads = 2000;
  std::vector<uint8_t> frames;
  for (uint64_t id = 1; id <= kReads; ++id) {
    control::encode(control::Read{id, item.addr, item.size, item.token, item.mr_id}, &frames);
  }
  ASSERT_TRUE(peer.sendBytes(frames).isOk());
  uint64_t inline_answers = 0, channel_answers = 0;
  for (uint64_t answered = 0; answered < kReads;) {
    control::FrameHeader h;
    std::vector<uint8_t> payload;
    ASSERT_TRUE(nextAnswer(peer, &h, &payload).isOk()) << answered << " answered";
    inline_answers += h.type == control::FrameType::kReadData;
    channel_answers += h.type == control::FrameType::kReadOk;
    answered += h.type == control::FrameType::kReadData || h.type == control::FrameType::kReadOk;
  }
  std::printf("%llu answered inline, %llu through the channels\n",
              static_cast<unsigned long long>(inline_answers),
              static_cast<unsigned long long>(channel_answers));
  // Inline answers stop once 16 MiB wait for the peer (256 of them), give or take what the
  // kernel's socket buffers took meanwhile.
  EXPECT_LT(inline_answers * (64 << 10), kInlineOutputCapBytes + (size_t{24} << 20));
  EXPECT_GT(channel_answers, 0u);
}

}  // namespace
}  // namespace tcpxp::engine

namespace tcpxp::engine {
namespace {

double cpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Serving keeps connections open between requests: 100 idle ones (both ends in this process,
// heartbeats flowing) must cost next to nothing.
TEST(IdleConnections, HundredIdleConnectionsCostUnderFivePercentOfACore) {
  auto a = makeEndpoint();
  auto b = makeEndpoint();
  constexpr int kConnections = 100;
  auto accepted = std::async(std::launch::async, [&] {
    for (int i = 0; i < kConnections; ++i) {
      ConnId id = 0;
      std::string ip;
      int gpu = 0;
      if (!b->accept(&id, &ip, &gpu, nullptr, kBoundMs).isOk()) return i;
    }
    return kConnections;
  });
  for (int i = 0; i < kConnections; ++i) {
    ConnId id = 0;
    ASSERT_TRUE(a->connect("127.0.0.1", -1, b->info().port, &id).isOk()) << i;
  }
  ASSERT_EQ(accepted.get(), kConnections);
  // Idle for 3 heartbeat intervals (1 s each at the default timeout); the scenario, not a sync.
  double cpu0 = cpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double share = (cpuSeconds() - cpu0) / wall;
  std::printf("%d idle connections (both ends here): %.2f%% of a core\n", kConnections,
              100 * share);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(share, 0.05);
#endif
}

}  // namespace
}  // namespace tcpxp::engine

namespace tcpxp::engine {
namespace {

// A Hello whose handles point at someone else must not make this side dial them.
TEST(HostilePeer, HandlesThatPointElsewhereAreRefusedBeforeDialling) {
  auto ep = makeEndpoint();
  struct Case {
    const char* what;
    std::function<void(control::PluginHandle*)> forge;
    const char* says;
  } cases[] = {
      {"a third party",
       [](control::PluginHandle* h) {
         transport::socket::ListenInfo info;
         sockaddr_in* sin = reinterpret_cast<sockaddr_in*>(&info.addr.storage);
         sin->sin_family = AF_INET;
         sin->sin_port = htons(22);
         ::inet_pton(AF_INET, "203.0.113.7", &sin->sin_addr);  // TEST-NET-3: no local network
         info.addr.len = sizeof(sockaddr_in);
         info.nonce = 42;
         transport::socket::encodeHandle(info, h->data());
       },
       "points at 203.0.113.7, neither the peer's address nor a network of this machine"},
      {"junk", [](control::PluginHandle* h) { h->fill(0x5a); }, "transport handle 0 is malformed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ScriptedPeer peer;
    ASSERT_TRUE(peer.dial(ep->info().port).isOk());
    control::Hello hello;
    ASSERT_TRUE(peer.hello(&hello).isOk());
    c.forge(&hello.handles[0]);
    ASSERT_TRUE(peer.send(hello).isOk());
    control::HelloAck ack;
    ASSERT_NO_FATAL_FAILURE(expectRefusal(peer, c.says, &ack));
  }
}

}  // namespace
}  // namespace tcpxp::engine
