// Pure pieces of the engine core: the connection's state table and the data-path decider.
#include <gtest/gtest.h>

#include <set>
#include <string>

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

}  // namespace
}  // namespace tcpxp::engine
