// A peer that lies: frames before the handshake, Hellos past this side's limits, duplicate
// transfer ids, forged tokens. Each case proves the endpoint closes or refuses as documented and
// that nothing it holds (transfers, registrations, notifications) is touched.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "control/fifo_item.h"
#include "engine/endpoint.h"
#include "engine/registry.h"
#include "tests/engine/scripted_peer.h"

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
    control::FrameHeader h;
    std::vector<uint8_t> payload;
    ASSERT_TRUE(peer.next(&h, &payload, kBoundMs).isOk());
    ASSERT_EQ(h.type, control::FrameType::kHelloAck);
    control::HelloAck ack;
    ASSERT_TRUE(control::decode(payload.data(), payload.size(), &ack).isOk());
    EXPECT_EQ(ack.status, Code::kRefused);
    EXPECT_NE(ack.message.find(c.says), std::string::npos) << ack.message;
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
