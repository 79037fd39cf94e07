// One-sided vectors (WriteVec/ReadVec, datapath/vector_path.cc): pieces of odd sizes at odd
// addresses, 1 to 4096 pieces, empty pieces, adjacent and overlapping pieces, pieces outside
// their advertisement. Every byte is checked, and so are the bytes around the pieces.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "control/fifo_item.h"
#include "engine/endpoint.h"
#include "engine_test_util.h"
#include "transport/transports.h"

namespace tcpxp::engine {
namespace {

using testing::connectPair;
using testing::Pair;
using testing::pattern;
constexpr int kBoundMs = 30000;
constexpr uint8_t kUntouched = 0xA5;

// Where the pieces lie: piece i of sizes[i] bytes at local[i] here and remote[i] at the peer.
struct Layout {
  std::vector<size_t> sizes, local, remote;
};

// Pieces one after another with `gap` bytes between them, starting at `start` (odd: unaligned).
// reverse: the remote side's pieces in the opposite order (scattered on both sides).
Layout scattered(const std::vector<size_t>& sizes, size_t start, size_t gap, bool reverse) {
  Layout l;
  l.sizes = sizes;
  size_t at = start;
  for (size_t s : sizes) {
    l.local.push_back(at);
    at += s + gap;
  }
  l.remote.resize(sizes.size());
  at = start + 1;
  for (size_t k = 0; k < sizes.size(); ++k) {
    size_t i = reverse ? sizes.size() - 1 - k : k;
    l.remote[i] = at;
    at += sizes[i] + gap;
  }
  return l;
}

size_t extent(const std::vector<size_t>& offsets, const std::vector<size_t>& sizes) {
  size_t end = 0;
  for (size_t i = 0; i < offsets.size(); ++i) end = std::max(end, offsets[i] + sizes[i]);
  return end + 64;
}

// The bytes that moved: src[from[i], +sizes[i]) at dst[to[i]]; every other dst byte untouched.
void expectMoved(const std::vector<uint8_t>& src, const std::vector<uint8_t>& dst,
                 const std::vector<size_t>& from, const std::vector<size_t>& to,
                 const std::vector<size_t>& sizes) {
  std::vector<uint8_t> want(dst.size(), kUntouched);
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::copy_n(src.begin() + static_cast<ptrdiff_t>(from[i]), sizes[i],
                want.begin() + static_cast<ptrdiff_t>(to[i]));
  }
  for (size_t k = 0; k < dst.size(); ++k) {
    if (dst[k] != want[k]) {
      ADD_FAILURE() << "byte " << k << " is " << int(dst[k]) << ", expected " << int(want[k]);
      return;
    }
  }
}

class Vectors : public ::testing::Test {
 protected:
  void SetUp() override { p_ = connectPair(); }

  // A moves the layout's pieces to (write) or from (read) B; B advertises each piece on its
  // own (one_ad false) or its whole buffer once, the pieces then sub-ranges of it.
  Status run(bool write, const Layout& l, bool one_ad, size_t* bytes = nullptr) {
    local_ = write ? pattern(extent(l.local, l.sizes), 7)
                   : std::vector<uint8_t>(extent(l.local, l.sizes), kUntouched);
    remote_ = write ? std::vector<uint8_t>(extent(l.remote, l.sizes), kUntouched)
                    : pattern(extent(l.remote, l.sizes), 9);
    MrId lmr = 0, rmr = 0;
    EXPECT_TRUE(p_.a->reg(local_.data(), local_.size(), &lmr).isOk());
    EXPECT_TRUE(p_.b->reg(remote_.data(), remote_.size(), &rmr).isOk());
    FifoBlob whole{};
    EXPECT_TRUE(p_.b->advertise(p_.ba, rmr, remote_.data(), remote_.size(), &whole).isOk());
    std::vector<Segment> segs(l.sizes.size());
    for (size_t i = 0; i < segs.size(); ++i) {
      segs[i] = Segment{lmr, local_.data() + l.local[i], l.sizes[i], whole};
      uint8_t* r = remote_.data() + l.remote[i];
      if (one_ad) {
        EXPECT_TRUE(
            control::updateFifoItem(segs[i].fifo.data(), reinterpret_cast<uint64_t>(r), l.sizes[i])
                .isOk());
      } else {
        EXPECT_TRUE(p_.b->advertise(p_.ba, rmr, r, l.sizes[i], &segs[i].fifo).isOk());
      }
    }
    XferId x = 0;
    Status st = write ? p_.a->writeAsync(p_.ab, segs, &x) : p_.a->readAsync(p_.ab, segs, &x);
    if (st.isOk()) st = p_.a->wait(x, nullptr, bytes, kBoundMs);
    EXPECT_TRUE(p_.a->dereg(lmr).isOk());
    EXPECT_TRUE(p_.b->dereg(rmr).isOk());
    return st;
  }

  void expectDone(bool write, const Layout& l) {
    if (write) {
      expectMoved(local_, remote_, l.local, l.remote, l.sizes);
    } else {
      expectMoved(remote_, local_, l.remote, l.local, l.sizes);
    }
  }

  Pair p_;
  std::vector<uint8_t> local_, remote_;
};

TEST_F(Vectors, OddSizesAndAlignmentsArriveByteForByte) {
  const std::vector<size_t> sizes = {1,  3,     4095,  4097, 65537, 7, 8192, (1 << 20) + 5,
                                     13, 65536, 131071};
  for (bool write : {true, false}) {
    for (bool one_ad : {true, false}) {
      SCOPED_TRACE(std::string(write ? "write" : "read") + (one_ad ? ", one ad" : ", an ad each"));
      Layout l = scattered(sizes, 3, 61, /*reverse=*/write);
      size_t bytes = 0;
      Status st = run(write, l, one_ad, &bytes);
      ASSERT_TRUE(st.isOk()) << st.toString();
      size_t total = 0;
      for (size_t s : sizes) total += s;
      EXPECT_EQ(bytes, total);
      expectDone(write, l);
    }
  }
}

TEST_F(Vectors, OnePieceAndThousandsOfPieces) {
  for (size_t n : {size_t{1}, size_t{2}, size_t{2048}, size_t{2049}, size_t{4096}}) {
    for (bool write : {true, false}) {
      SCOPED_TRACE(std::to_string(n) + (write ? " written" : " read"));
      Layout l = scattered(std::vector<size_t>(n, 4096), 5, 4096 + 3, true);
      Status st = run(write, l, /*one_ad=*/n > 2048);
      ASSERT_TRUE(st.isOk()) << st.toString();
      expectDone(write, l);
    }
  }
}

// Requests a's channels completed receiving so far.
uint64_t receivesOf(Endpoint& ep) {
  EndpointStats st;
  EXPECT_TRUE(ep.stats(&st).isOk());
  uint64_t n = 0;
  for (const ChannelStats& c : st.channels) n += c.counters.receives;
  return n;
}

TEST_F(Vectors, SmallPiecesTravelAsFewChunkSizedRequests) {
  // 4096 pieces of 8 KiB: two WriteVec/ReadVec of 2048 pieces, 32 MiB cut into chunks (issue
  // 23: one request, and inline one control frame, per piece before).
  Layout l = scattered(std::vector<size_t>(4096, 8192), 1, 100, true);
  uint64_t before = receivesOf(*p_.a);
  Status st = run(false, l, true);
  ASSERT_TRUE(st.isOk()) << st.toString();
  expectDone(false, l);
  uint64_t requests = receivesOf(*p_.a) - before;
  size_t chunk = p_.a->info().chunk_bytes;
  EXPECT_LE(requests, 2 * (2048 * 8192 / chunk + 1)) << "pieces were not batched";
  EXPECT_GE(requests, 2u);
}

// Staging memory the connections of both endpoints hold.
size_t stagingHeld(Endpoint& a, Endpoint& b) {
  size_t n = 0;
  for (Endpoint* ep : {&a, &b}) {
    EndpointStats st;
    EXPECT_TRUE(ep->stats(&st).isOk());
    for (const ConnectionStats& c : st.connections) n += c.staging_bytes;
  }
  return n;
}

TEST_F(Vectors, HostPiecesGoAsVectoredRequestsWithoutStaging) {
  // Over the built-in transport with UCCL_SOCKET_IOV on (the default), a host vector's chunks are
  // vectored requests straight over the pieces: no staging slot is ever allocated. Without it
  // (or with buffers taking the GPU paths), the pieces go through the slots.
  Layout l = scattered(std::vector<size_t>(1000, 8192 + 3), 1, 5, true);
  for (bool write : {true, false}) {
    Status st = run(write, l, true);
    ASSERT_TRUE(st.isOk()) << st.toString();
    expectDone(write, l);
  }
  bool vectored = transport::builtinSettings(false).iov && !p_.a->info().emulated_gpu_buffers;
  if (vectored) {
    EXPECT_EQ(stagingHeld(*p_.a, *p_.b), 0u) << "host pieces went through staging slots";
  } else {
    EXPECT_GT(stagingHeld(*p_.a, *p_.b), 0u);
  }
}

TEST_F(Vectors, ChunksOfOver1024PiecesAreStagedBesideVectoredOnes) {
  // A chunk over more than 1024 pieces cannot be one vectored request: it is staged, while the
  // chunks of large pieces around it go vectored, in one vector and several in flight.
  std::vector<size_t> sizes(1500, 3);
  for (int i = 0; i < 6; ++i) sizes.push_back(300001);
  sizes.insert(sizes.end(), 1300, 1);
  for (int i = 0; i < 3; ++i) sizes.push_back(700000 + i);
  for (bool write : {true, false}) {
    SCOPED_TRACE(write ? "write" : "read");
    Layout l = scattered(sizes, 7, 2, write);
    Status st = run(write, l, true);
    ASSERT_TRUE(st.isOk()) << st.toString();
    expectDone(write, l);
  }
}

TEST_F(Vectors, EmptyPiecesAreSkipped) {
  // Empty segments anywhere (first, between, last) move nothing and do not end the batch.
  Layout l = scattered({0, 9000, 0, 0, 70000, 1, 0}, 11, 17, false);
  for (bool write : {true, false}) {
    SCOPED_TRACE(write ? "write" : "read");
    Status st = run(write, l, true);
    ASSERT_TRUE(st.isOk()) << st.toString();
    expectDone(write, l);
  }
}

TEST_F(Vectors, AdjacentPiecesAreOneRangeInEffect) {
  // Destination pieces back to back (no gap), in order and reversed.
  for (bool reverse : {false, true}) {
    for (bool write : {true, false}) {
      SCOPED_TRACE(std::string(write ? "write" : "read") + (reverse ? ", reversed" : ""));
      Layout l = scattered({30000, 40000, 50000, 1}, 1, 0, reverse);
      Status st = run(write, l, true);
      ASSERT_TRUE(st.isOk()) << st.toString();
      expectDone(write, l);
    }
  }
}

TEST_F(Vectors, OverlappingDestinationsAreRefusedBeforeAnythingMoves) {
  // The chunks of one vector land in any order: two pieces writing one byte would race.
  Layout l = scattered({40000, 40000, 40000}, 1, 8, false);
  for (bool write : {true, false}) {
    SCOPED_TRACE(write ? "write" : "read");
    Layout bad = l;
    (write ? bad.remote : bad.local)[2] = (write ? bad.remote : bad.local)[1] + 39999;
    Status st = run(write, bad, true);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
    EXPECT_NE(st.message().find("overlap"), std::string::npos) << st.toString();
    const std::vector<uint8_t>& dst = write ? remote_ : local_;
    EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](uint8_t b) { return b == kUntouched; }))
        << "a refused vector moved bytes";
  }
  // Overlapping sources are fine: the same bytes sent to two places, or read twice.
  Layout twice = l;
  twice.local[1] = twice.local[0];  // write: local is the source
  ASSERT_TRUE(run(true, twice, true).isOk());
  expectDone(true, twice);
  twice = l;
  twice.remote[2] = twice.remote[0] + 5;  // read: remote is the source
  ASSERT_TRUE(run(false, twice, true).isOk());
  expectDone(false, twice);
}

TEST_F(Vectors, APieceOutsideItsAdvertisementRefusesTheWholeVector) {
  Layout l = scattered({70000, 70000, 70000}, 1, 64, false);
  for (bool write : {true, false}) {
    SCOPED_TRACE(write ? "write" : "read");
    local_ = write ? pattern(extent(l.local, l.sizes), 7)
                   : std::vector<uint8_t>(extent(l.local, l.sizes), kUntouched);
    remote_ = write ? std::vector<uint8_t>(extent(l.remote, l.sizes), kUntouched)
                    : pattern(extent(l.remote, l.sizes), 9);
    MrId lmr = 0, rmr = 0;
    ASSERT_TRUE(p_.a->reg(local_.data(), local_.size(), &lmr).isOk());
    ASSERT_TRUE(p_.b->reg(remote_.data(), remote_.size(), &rmr).isOk());
    std::vector<Segment> segs(3);
    for (size_t i = 0; i < 3; ++i) {
      segs[i] = Segment{lmr, local_.data() + l.local[i], l.sizes[i], {}};
      ASSERT_TRUE(
          p_.b->advertise(p_.ba, rmr, remote_.data() + l.remote[i], l.sizes[i], &segs[i].fifo)
              .isOk());
    }
    // Piece 1 points 64 bytes past the end of its own advertisement (still inside the
    // registration): the peer must refuse, and move none of the three.
    ASSERT_TRUE(control::updateFifoItem(
                    segs[1].fifo.data(),
                    reinterpret_cast<uint64_t>(remote_.data() + l.remote[1] + 64), l.sizes[1])
                    .isOk());
    XferId x = 0;
    Status st = write ? p_.a->writeAsync(p_.ab, segs, &x) : p_.a->readAsync(p_.ab, segs, &x);
    ASSERT_TRUE(st.isOk()) << st.toString();
    st = p_.a->wait(x, nullptr, nullptr, kBoundMs);
    EXPECT_EQ(st.code(), Code::kRefused) << st.toString();
    const std::vector<uint8_t>& dst = write ? remote_ : local_;
    EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](uint8_t b) { return b == kUntouched; }))
        << "a refused vector moved bytes";
    EXPECT_TRUE(p_.a->dereg(lmr).isOk());
    EXPECT_TRUE(p_.b->dereg(rmr).isOk());
  }
  // The connection serves the next vector.
  ASSERT_TRUE(run(true, l, false).isOk());
  expectDone(true, l);
}

TEST_F(Vectors, ManyInFlightBothWays) {
  // Several vectors at once in both directions share the staging slots without deadlock.
  constexpr int kVectors = 6;
  Layout l = scattered(std::vector<size_t>(300, 8192 + 5), 1, 9, true);
  std::vector<std::vector<uint8_t>> src(kVectors), dst(kVectors);
  std::vector<MrId> smr(kVectors), dmr(kVectors);
  std::vector<XferId> ids(kVectors);
  for (int v = 0; v < kVectors; ++v) {
    bool write = v % 2 == 0;
    Endpoint& from = write ? *p_.a : *p_.b;
    Endpoint& to = write ? *p_.b : *p_.a;
    src[v] = pattern(extent(write ? l.local : l.remote, l.sizes), 100 + v);
    dst[v].assign(extent(write ? l.remote : l.local, l.sizes), kUntouched);
    ASSERT_TRUE(from.reg(src[v].data(), src[v].size(), &smr[v]).isOk());
    ASSERT_TRUE(to.reg(dst[v].data(), dst[v].size(), &dmr[v]).isOk());
    // a writes into b, or reads from b: b advertises.
    std::vector<uint8_t>& theirs = write ? dst[v] : src[v];
    std::vector<uint8_t>& mine = write ? src[v] : dst[v];
    MrId their_mr = write ? dmr[v] : smr[v], my_mr = write ? smr[v] : dmr[v];
    FifoBlob whole{};
    ASSERT_TRUE(p_.b->advertise(p_.ba, their_mr, theirs.data(), theirs.size(), &whole).isOk());
    std::vector<Segment> segs(l.sizes.size());
    for (size_t i = 0; i < segs.size(); ++i) {
      segs[i] = Segment{my_mr, mine.data() + l.local[i], l.sizes[i], whole};
      ASSERT_TRUE(control::updateFifoItem(segs[i].fifo.data(),
                                          reinterpret_cast<uint64_t>(theirs.data() + l.remote[i]),
                                          l.sizes[i])
                      .isOk());
    }
    Status st =
        write ? p_.a->writeAsync(p_.ab, segs, &ids[v]) : p_.a->readAsync(p_.ab, segs, &ids[v]);
    ASSERT_TRUE(st.isOk()) << st.toString();
  }
  for (int v = 0; v < kVectors; ++v) {
    SCOPED_TRACE(v);
    Status st = p_.a->wait(ids[v], nullptr, nullptr, kBoundMs);
    ASSERT_TRUE(st.isOk()) << st.toString();
    bool write = v % 2 == 0;
    if (write) {
      expectMoved(src[v], dst[v], l.local, l.remote, l.sizes);
    } else {
      expectMoved(src[v], dst[v], l.remote, l.local, l.sizes);
    }
    EXPECT_TRUE((write ? *p_.a : *p_.b).dereg(smr[v]).isOk());
    EXPECT_TRUE((write ? *p_.b : *p_.a).dereg(dmr[v]).isOk());
  }
}

}  // namespace
}  // namespace tcpxp::engine
