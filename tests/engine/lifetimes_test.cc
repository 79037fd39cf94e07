// Ownership across the engine: a registration lives while a transfer uses it, and a vector call
// reports only once every part it started has finished.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <vector>

#include "engine/endpoint.h"
#include "engine_test_util.h"

namespace tcpxp::engine {
namespace {

using testing::connectPair;
using testing::Pair;
using testing::pattern;

TEST(Lifetimes, DeregWhileATransferUsesItIsBusyAfterItIsFreed) {
  Pair p = connectPair();
  const size_t size = (size_t{2} << 20) + 9;
  auto src = pattern(size, 3);
  std::vector<uint8_t> dst(size, 0);
  MrId smr = 0, rmr = 0;
  ASSERT_TRUE(p.a->reg(src.data(), size, &smr).isOk());
  ASSERT_TRUE(p.b->reg(dst.data(), size, &rmr).isOk());
  // A recv waiting for its send holds the registration.
  XferId rx = 0;
  Segment r{rmr, dst.data(), size};
  ASSERT_TRUE(p.b->recvAsync(p.ba, {&r, 1}, &rx).isOk());
  Status st = p.b->dereg(rmr);
  EXPECT_EQ(st.code(), Code::kBusy) << st.toString();
  XferId tx = 0;
  Segment s{smr, src.data(), size};
  ASSERT_TRUE(p.a->sendAsync(p.ab, {&s, 1}, &tx).isOk());
  ASSERT_TRUE(p.b->wait(rx).isOk());
  ASSERT_TRUE(p.a->wait(tx).isOk());
  EXPECT_EQ(dst, src);
  // Ended: the registration is free to go, once.
  EXPECT_TRUE(p.b->dereg(rmr).isOk());
  EXPECT_EQ(p.b->dereg(rmr).code(), Code::kNotFound);
  EXPECT_TRUE(p.a->dereg(smr).isOk());
}

// Three segments, the middle one refused by the peer (outside its advertisement): the call's
// error arrives only after the other two finished, so their bytes are all there at that moment
// and every registration can go.
TEST(Lifetimes, VectorWhoseMiddleSegmentIsRefusedReportsAfterTheOthers) {
  Pair p = connectPair();
  const size_t seg = size_t{8} << 20;
  for (bool is_read : {true, false}) {
    auto local = pattern(3 * seg, is_read ? 5 : 6);
    auto remote = pattern(4 * seg, is_read ? 7 : 8);  // the 4th part: the refused window
    std::vector<uint8_t> local_before = local, remote_before = remote;
    MrId lmr = 0, rmr = 0;
    ASSERT_TRUE(p.a->reg(local.data(), local.size(), &lmr).isOk());
    ASSERT_TRUE(p.b->reg(remote.data(), remote.size(), &rmr).isOk());
    Segment segs[3];
    for (size_t i = 0; i < 3; ++i) {
      segs[i] = Segment{lmr, local.data() + i * seg, seg};
      ASSERT_TRUE(p.b->advertise(p.ba, rmr, remote.data() + i * seg, seg, &segs[i].fifo).isOk());
    }
    segs[1].fifo = testing::advertisementMovedPastItsEnd(p, rmr, remote.data() + 2 * seg, seg);
    XferId x = 0;
    Status st = is_read ? p.a->readAsync(p.ab, segs, &x) : p.a->writeAsync(p.ab, segs, &x);
    ASSERT_TRUE(st.isOk()) << st.toString();
    st = p.a->wait(x, nullptr, nullptr, 20000);
    EXPECT_EQ(st.code(), Code::kRefused) << st.toString();
    // Batched (UCCL_TCPX_VECTOR_BATCH, the default) the peer refuses the whole WriteVec/ReadVec
    // and no segment moves; one transfer per segment, the good ones complete. Either way none is
    // still moving when the error is reported: each is whole or untouched.
    const char* batch_env = std::getenv("UCCL_TCPX_VECTOR_BATCH");
    const bool batched = batch_env == nullptr || std::string(batch_env) != "0";
    for (size_t i : {size_t{0}, size_t{2}}) {
      const uint8_t* got = is_read ? local.data() + i * seg : remote.data() + i * seg;
      const uint8_t* want = is_read ? remote.data() + i * seg : local.data() + i * seg;
      const uint8_t* before =
          is_read ? local_before.data() + i * seg : remote_before.data() + i * seg;
      EXPECT_TRUE(std::equal(got, got + seg, batched ? before : want))
          << (is_read ? "read" : "write") << " segment " << i
          << (batched ? " moved though its vector was refused" : " not complete when reported");
    }
    // The refused segment touched nothing.
    if (is_read) {
      EXPECT_TRUE(
          std::equal(local.begin() + seg, local.begin() + 2 * seg, local_before.begin() + seg));
    } else {
      EXPECT_TRUE(
          std::equal(remote.begin() + 3 * seg, remote.end(), remote_before.begin() + 3 * seg));
    }
    EXPECT_TRUE(p.a->dereg(lmr).isOk());
    EXPECT_TRUE(p.b->dereg(rmr).isOk());
  }
}

// A vector with a bad middle segment is refused before any segment starts: the peer's next
// recv gets the next good send, not the bad vector's first segment.
TEST(Lifetimes, VectorWithABadMiddleSegmentStartsNothing) {
  Pair p = connectPair();
  const size_t size = size_t{1} << 20;
  auto first = pattern(size, 21), good = pattern(size, 22);
  std::vector<uint8_t> dst(size, 0);
  MrId fmr = 0, gmr = 0, rmr = 0;
  ASSERT_TRUE(p.a->reg(first.data(), size, &fmr).isOk());
  ASSERT_TRUE(p.a->reg(good.data(), size, &gmr).isOk());
  ASSERT_TRUE(p.b->reg(dst.data(), size, &rmr).isOk());
  Segment bad[3] = {
      {fmr, first.data(), size}, {987654, first.data(), size}, {fmr, first.data(), size}};
  XferId x = 0;
  Status st = p.a->sendAsync(p.ab, bad, &x);
  EXPECT_EQ(st.code(), Code::kNotFound) << st.toString();
  XferId rx = 0, tx = 0;
  Segment r{rmr, dst.data(), size};
  Segment s{gmr, good.data(), size};
  ASSERT_TRUE(p.b->recvAsync(p.ba, {&r, 1}, &rx).isOk());
  ASSERT_TRUE(p.a->sendAsync(p.ab, {&s, 1}, &tx).isOk());
  ASSERT_TRUE(p.b->wait(rx).isOk());
  ASSERT_TRUE(p.a->wait(tx).isOk());
  EXPECT_EQ(dst, good);
  EXPECT_TRUE(p.a->dereg(fmr).isOk()) << "the refused vector holds no registration";
}

}  // namespace
}  // namespace tcpxp::engine
