// Small transfers inside control frames (UCCL_TCPX_INLINE_BYTES, default 64 KiB): WriteInline,
// ReadData and SendInline end to end, at the size boundary, unmatched sends buffered in order
// past the inline credit, and refusals that write nothing.
#include <gtest/gtest.h>

#include <future>
#include <random>
#include <vector>

#include "control/control_wire.h"
#include "engine/endpoint.h"
#include "engine_test_util.h"

namespace tcpxp::engine {
namespace {

constexpr size_t kInline = control::kMaxInlineBytes;

using testing::connectPair;
using testing::Pair;
using testing::pattern;

TEST(Inline, WriteAndReadAroundTheBoundary) {
  Pair p = connectPair();
  const size_t cap = kInline + 4096;
  std::vector<uint8_t> remote(cap + 1, 0xEE), back(cap, 0);
  MrId rmr = 0, bmr = 0;
  ASSERT_TRUE(p.b->reg(remote.data(), remote.size(), &rmr).isOk());
  ASSERT_TRUE(p.a->reg(back.data(), back.size(), &bmr).isOk());
  for (size_t size : {size_t{1}, size_t{4095}, kInline - 1, kInline, kInline + 1, cap}) {
    SCOPED_TRACE(size);
    auto local = pattern(size, static_cast<uint32_t>(size));
    MrId lmr = 0;
    ASSERT_TRUE(p.a->reg(local.data(), size, &lmr).isOk());
    FifoBlob fifo{};
    ASSERT_TRUE(p.b->advertise(p.ba, rmr, remote.data(), size, &fifo).isOk());
    remote.assign(remote.size(), 0xEE);
    XferId x = 0;
    Segment w{lmr, local.data(), size, fifo};
    ASSERT_TRUE(p.a->writeAsync(p.ab, {&w, 1}, &x).isOk());
    Status st = p.a->wait(x);
    ASSERT_TRUE(st.isOk()) << st.toString();
    EXPECT_TRUE(std::equal(local.begin(), local.end(), remote.begin()));
    EXPECT_EQ(remote[size], 0xEE);  // nothing past the transfer
    back.assign(back.size(), 0);
    Segment r{bmr, back.data(), size, fifo};
    ASSERT_TRUE(p.a->readAsync(p.ab, {&r, 1}, &x).isOk());
    st = p.a->wait(x);
    ASSERT_TRUE(st.isOk()) << st.toString();
    EXPECT_TRUE(std::equal(local.begin(), local.end(), back.begin()));
    if (size < back.size()) {
      EXPECT_EQ(back[size], 0);
    }
    ASSERT_TRUE(p.a->dereg(lmr).isOk());
  }
}

// More unmatched small sends than the inline credit (64), mixed with large ones, all posted
// before any recv: the receiver buffers the inline ones and everything arrives in order.
TEST(Inline, UnmatchedSendsArriveInOrderPastTheCredit) {
  Pair p = connectPair();
  constexpr int kMessages = 150;
  std::vector<std::vector<uint8_t>> src(kMessages), dst(kMessages);
  std::vector<MrId> smr(kMessages), rmr(kMessages);
  std::vector<XferId> tx(kMessages), rx(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    size_t size = i % 10 == 9 ? kInline * 3 + static_cast<size_t>(i) : static_cast<size_t>(i) * 97;
    src[i] = pattern(size + 1, static_cast<uint32_t>(i));  // + 1: a 0-byte send has a buffer too
    src[i].pop_back();
    dst[i].assign(size + 1, 0xEE);
    ASSERT_TRUE(p.a->reg(src[i].data(), src[i].capacity(), &smr[i]).isOk());
    ASSERT_TRUE(p.b->reg(dst[i].data(), dst[i].size(), &rmr[i]).isOk());
    Segment s{smr[i], src[i].data(), size};
    ASSERT_TRUE(p.a->sendAsync(p.ab, {&s, 1}, &tx[i]).isOk());
  }
  for (int i = 0; i < kMessages; ++i) {
    Segment r{rmr[i], dst[i].data(), dst[i].size()};
    ASSERT_TRUE(p.b->recvAsync(p.ba, {&r, 1}, &rx[i]).isOk());
  }
  for (int i = 0; i < kMessages; ++i) {
    SCOPED_TRACE(i);
    size_t got = 0;
    Status st = p.b->wait(rx[i], nullptr, &got);
    ASSERT_TRUE(st.isOk()) << st.toString();
    EXPECT_EQ(got, src[i].size());
    EXPECT_TRUE(std::equal(src[i].begin(), src[i].end(), dst[i].begin()));
    EXPECT_EQ(dst[i][src[i].size()], 0xEE);
    st = p.a->wait(tx[i]);
    ASSERT_TRUE(st.isOk()) << st.toString();
  }
}

TEST(Inline, SendLargerThanTheRecvFailsBothSidesAndWritesNothing) {
  Pair p = connectPair();
  auto src = pattern(1000, 3);
  std::vector<uint8_t> dst(500, 0xEE);
  MrId smr = 0, rmr = 0;
  ASSERT_TRUE(p.a->reg(src.data(), src.size(), &smr).isOk());
  ASSERT_TRUE(p.b->reg(dst.data(), dst.size(), &rmr).isOk());
  XferId tx = 0, rx = 0;
  Segment r{rmr, dst.data(), dst.size()};
  Segment s{smr, src.data(), src.size()};
  ASSERT_TRUE(p.b->recvAsync(p.ba, {&r, 1}, &rx).isOk());
  ASSERT_TRUE(p.a->sendAsync(p.ab, {&s, 1}, &tx).isOk());
  EXPECT_EQ(p.b->wait(rx).code(), Code::kInvalidArgument);
  EXPECT_EQ(p.a->wait(tx).code(), Code::kRefused);
  EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](uint8_t v) { return v == 0xEE; }));
  // The connection still works.
  Segment r2{rmr, dst.data(), dst.size()};
  Segment s2{smr, src.data(), 100};
  ASSERT_TRUE(p.b->recvAsync(p.ba, {&r2, 1}, &rx).isOk());
  ASSERT_TRUE(p.a->sendAsync(p.ab, {&s2, 1}, &tx).isOk());
  size_t got = 0;
  EXPECT_TRUE(p.b->wait(rx, nullptr, &got).isOk());
  EXPECT_EQ(got, 100u);
  EXPECT_TRUE(p.a->wait(tx).isOk());
}

TEST(Inline, ReadOutsideTheAdvertisementIsRefused) {
  Pair p = connectPair();
  std::vector<uint8_t> remote(8192, 7), local(4096, 0);
  MrId rmr = 0, lmr = 0;
  ASSERT_TRUE(p.b->reg(remote.data(), remote.size(), &rmr).isOk());
  ASSERT_TRUE(p.a->reg(local.data(), local.size(), &lmr).isOk());
  FifoBlob fifo = advertisementMovedPastItsEnd(p, rmr, remote.data(), 4096);
  XferId x = 0;
  Segment r{lmr, local.data(), 4096, fifo};
  ASSERT_TRUE(p.a->readAsync(p.ab, {&r, 1}, &x).isOk());
  EXPECT_EQ(p.a->wait(x).code(), Code::kRefused);
  EXPECT_TRUE(std::all_of(local.begin(), local.end(), [](uint8_t v) { return v == 0; }));
}

}  // namespace
}  // namespace tcpxp::engine
