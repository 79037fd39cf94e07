// Pure pieces of the engine core: the connection's state table, the data-path decider and the
// staging pool's sharing of slots between directions.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "datapath/gpu_stream.h"
#include "datapath/path_choice.h"
#include "engine/connection.h"

namespace tcpxp::engine {
namespace {

using State = Connection::State;

TEST(ConnectionStates, OnlyTheDocumentedTransitionsAreAllowed) {
  const State all[] = {State::kAwaitHello, State::kAwaitAck, State::kEstablishing, State::kReady,
                       State::kClosed};
  auto allowed = [](State from, State to) {
    if (to == State::kClosed) return from != State::kClosed;  // failure, from anywhere once
    if (to == State::kEstablishing) return from == State::kAwaitHello || from == State::kAwaitAck;
    if (to == State::kReady) return from == State::kEstablishing;
    return false;  // nothing goes back to waiting for a handshake frame
  };
  for (State from : all) {
    for (State to : all) {
      EXPECT_EQ(Connection::transitionAllowed(from, to), allowed(from, to))
          << Connection::stateName(from) << " -> " << Connection::stateName(to);
    }
  }
}

TEST(ConnectionStates, NamesAreDistinct) {
  std::set<std::string> names;
  for (State s : {State::kAwaitHello, State::kAwaitAck, State::kEstablishing, State::kReady,
                  State::kClosed}) {
    names.insert(Connection::stateName(s));
  }
  EXPECT_EQ(names.size(), 5u);
}

using datapath::BufferFacts;
using datapath::choosePath;
using datapath::PathKind;
using datapath::TransportCaps;

TEST(ChoosePath, EveryMemoryKindDirectionAndTransport) {
  const TransportCaps host_only{false, false}, tcpx{true, true}, gpu_capable{true, false};
  // The built-in transport's GPU direct mode: GPU transfers up to 16 MiB, larger ones staged.
  const TransportCaps gpu_direct_16m{true, false, true, size_t{16} << 20};
  struct Case {
    BufferFacts buffer;
    TransportCaps caps;
    PathKind want;
  } cases[] = {
      // Host memory: the transport moves it, whatever the transport.
      {{.gpu_memory = false, .receiving = false, .size = 1 << 20}, host_only, PathKind::kDirect},
      {{.gpu_memory = false, .receiving = true, .size = 1 << 20}, tcpx, PathKind::kDirect},
      // GPU memory over a host-only transport: staged both ways.
      {{.gpu_memory = true, .receiving = false, .size = 1 << 20}, host_only, PathKind::kStaged},
      {{.gpu_memory = true, .receiving = true, .size = 1 << 20}, host_only, PathKind::kStaged},
      // TCPX: sends straight from GPU memory, receives through bounce pages.
      {{.gpu_memory = true, .receiving = false, .size = 1 << 20}, tcpx, PathKind::kDirect},
      {{.gpu_memory = true, .receiving = true, .size = 1 << 20}, tcpx, PathKind::kUnpack},
      // A transport that moves GPU memory without bounce pages.
      {{.gpu_memory = true, .receiving = true, .size = 1 << 20}, gpu_capable, PathKind::kDirect},
      // ...up to its limit, both ways; over it, staged both ways.
      {{.gpu_memory = true, .receiving = false, .size = 16 << 20},
       gpu_direct_16m,
       PathKind::kDirect},
      {{.gpu_memory = true, .receiving = true, .size = 16 << 20},
       gpu_direct_16m,
       PathKind::kDirect},
      {{.gpu_memory = true, .receiving = false, .size = (16 << 20) + 1},
       gpu_direct_16m,
       PathKind::kStaged},
      {{.gpu_memory = true, .receiving = true, .size = (16 << 20) + 1},
       gpu_direct_16m,
       PathKind::kStaged},
      // Host memory is the transport's at any size.
      {{.gpu_memory = false, .receiving = true, .size = 1 << 30},
       gpu_direct_16m,
       PathKind::kDirect},
      // Small transfers allowed inline go inline, GPU or host.
      {{.gpu_memory = true, .receiving = true, .size = 8, .inline_allowed = true},
       tcpx,
       PathKind::kInline},
      {{.gpu_memory = false, .receiving = false, .size = 8, .inline_allowed = true},
       host_only,
       PathKind::kInline},
  };
  for (const Case& c : cases) {
    datapath::PathChoice got = choosePath(c.buffer, c.caps);
    EXPECT_EQ(got.kind, c.want) << "gpu=" << c.buffer.gpu_memory
                                << " receiving=" << c.buffer.receiving
                                << " inline=" << c.buffer.inline_allowed << ": got "
                                << datapath::pathKindName(got.kind);
    EXPECT_FALSE(got.reason.empty());
  }
}

TEST(ChoosePath, NamesAreTheDocumentedOnes) {
  EXPECT_STREQ(datapath::pathKindName(PathKind::kDirect), "direct");
  EXPECT_STREQ(datapath::pathKindName(PathKind::kStaged), "staged");
  EXPECT_STREQ(datapath::pathKindName(PathKind::kUnpack), "unpack");
  EXPECT_STREQ(datapath::pathKindName(PathKind::kInline), "inline");
}

using datapath::TwoWaySlots;

TEST(TwoWaySlots, OneDirectionTakesAllButTheOthersReserve) {
  TwoWaySlots slots;
  slots.reset(8, 2);
  std::set<int> taken;
  for (int i = 0; i < 6; ++i) {
    int s = slots.acquire(TwoWaySlots::kSend);
    ASSERT_GE(s, 0) << i;
    EXPECT_TRUE(taken.insert(s).second) << "slot " << s << " handed out twice";
  }
  EXPECT_EQ(slots.acquire(TwoWaySlots::kSend), -1);  // the last two are the receives' reserve
  EXPECT_GE(slots.acquire(TwoWaySlots::kRecv), 0);
  EXPECT_GE(slots.acquire(TwoWaySlots::kRecv), 0);
  EXPECT_EQ(slots.acquire(TwoWaySlots::kRecv), -1);  // pool empty
  EXPECT_EQ(slots.held(TwoWaySlots::kSend), 6u);
  EXPECT_EQ(slots.held(TwoWaySlots::kRecv), 2u);
}

TEST(TwoWaySlots, ReserveShrinksAsTheOtherDirectionHoldsSlots) {
  TwoWaySlots slots;
  slots.reset(8, 3);
  int r = slots.acquire(TwoWaySlots::kRecv);
  ASSERT_GE(r, 0);
  // Receives hold 1 of their 3: sends may take all but 2 of the 7 free.
  for (int i = 0; i < 5; ++i) ASSERT_GE(slots.acquire(TwoWaySlots::kSend), 0) << i;
  EXPECT_EQ(slots.acquire(TwoWaySlots::kSend), -1);
  // Receives may grow past their reserve into what is free.
  EXPECT_GE(slots.acquire(TwoWaySlots::kRecv), 0);
  EXPECT_GE(slots.acquire(TwoWaySlots::kRecv), 0);
  EXPECT_EQ(slots.acquire(TwoWaySlots::kRecv), -1);
  // With receives holding 3, sends get the next slot released by a receive.
  slots.release(TwoWaySlots::kRecv, r);
  EXPECT_EQ(slots.acquire(TwoWaySlots::kSend), -1);  // receives hold 2 of 3: one owed
  EXPECT_GE(slots.acquire(TwoWaySlots::kRecv), 0);
}

TEST(TwoWaySlots, HalfTheSlotsAsReserveSplitsThePool) {
  TwoWaySlots slots;
  slots.reset(6, 100);  // capped at half
  EXPECT_EQ(slots.reserve(), 3u);
  for (int i = 0; i < 3; ++i) ASSERT_GE(slots.acquire(TwoWaySlots::kSend), 0);
  EXPECT_EQ(slots.acquire(TwoWaySlots::kSend), -1);
  for (int i = 0; i < 3; ++i) ASSERT_GE(slots.acquire(TwoWaySlots::kRecv), 0);
  EXPECT_EQ(slots.acquire(TwoWaySlots::kRecv), -1);
}

TEST(TwoWaySlots, FreedSlotsComeBackOldestFirst) {
  TwoWaySlots slots;
  slots.reset(4, 1);
  int a = slots.acquire(TwoWaySlots::kSend);
  int b = slots.acquire(TwoWaySlots::kSend);
  int c = slots.acquire(TwoWaySlots::kSend);
  slots.release(TwoWaySlots::kSend, b);
  slots.release(TwoWaySlots::kSend, a);
  // Slot 3 was never used; then b and a in the order they were freed.
  EXPECT_EQ(slots.acquire(TwoWaySlots::kRecv), 3);
  EXPECT_EQ(slots.acquire(TwoWaySlots::kRecv), b);
  EXPECT_EQ(slots.acquire(TwoWaySlots::kRecv), a);
  EXPECT_NE(c, -1);
}

// Random traffic: a slot is never handed out twice, and an acquire fails exactly when taking it
// would leave the other direction short of its reserve.
TEST(TwoWaySlots, RandomTrafficKeepsEveryRule) {
  std::mt19937 rng(7);
  for (size_t n : {2u, 3u, 8u, 64u}) {
    for (size_t reserve : {size_t{1}, n / 4, n / 2}) {
      TwoWaySlots slots;
      slots.reset(n, reserve);
      const size_t kept = std::min(reserve, n / 2);
      std::vector<int> held[2];
      std::set<int> out;
      for (int step = 0; step < 5000; ++step) {
        auto d = static_cast<TwoWaySlots::Direction>(rng() & 1);
        if ((rng() % 3) != 0) {
          size_t other = held[1 - d].size();
          size_t owed = other < kept ? kept - other : 0;
          bool may = n - out.size() > owed;
          int s = slots.acquire(d);
          ASSERT_EQ(s >= 0, may) << "n " << n << " reserve " << reserve << " step " << step;
          if (s < 0) continue;
          ASSERT_LT(static_cast<size_t>(s), n);
          ASSERT_TRUE(out.insert(s).second) << "slot " << s << " handed out twice";
          held[d].push_back(s);
        } else if (!held[d].empty()) {
          size_t i = rng() % held[d].size();
          int s = held[d][i];
          held[d].erase(held[d].begin() + static_cast<std::ptrdiff_t>(i));
          out.erase(s);
          slots.release(d, s);
        }
        ASSERT_EQ(slots.held(TwoWaySlots::kSend), held[0].size());
        ASSERT_EQ(slots.held(TwoWaySlots::kRecv), held[1].size());
      }
    }
  }
}

}  // namespace
}  // namespace tcpxp::engine
