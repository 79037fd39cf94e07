#include "control/fifo_item.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace tcpxp::control {
namespace {

uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t le32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

struct Blob {
  uint8_t bytes[kFifoItemBytes];
};

Blob encoded(const FifoItem& item) {
  Blob blob;
  std::memset(blob.bytes, 0xaa, sizeof(blob.bytes));  // encode must write every byte
  encodeFifoItem(item, blob.bytes);
  return blob;
}

Code decodeCode(const Blob& blob) {
  FifoItem out;
  return decodeFifoItem(blob.bytes, kFifoItemBytes, &out).code();
}

const FifoItem kItem{
    0x00007f1234560000ull, 1ull << 20, 42, {0x0123456789abcdefull, 0xfedcba9876543210ull}};

TEST(FifoItem, LayoutMatchesUcclOffsets) {
  Blob blob = encoded(kItem);
  const uint8_t* b = blob.bytes;
  EXPECT_EQ(le64(b + 0), kItem.addr);
  EXPECT_EQ(le32(b + 8), kItem.size);
  EXPECT_EQ(le32(b + 12), 0x54585046u);
  EXPECT_EQ(le32(b + 16), 1u);
  EXPECT_EQ(le32(b + 20), kItem.mr_id);
  EXPECT_EQ(le64(b + 24), kItem.token.lo);
  EXPECT_EQ(le64(b + 32), kItem.size);
  EXPECT_EQ(le64(b + 40), kItem.token.hi);
  for (size_t i = 48; i < kFifoItemBytes; ++i) EXPECT_EQ(b[i], 0) << i;
}

TEST(FifoItem, RoundTrips) {
  const FifoItem cases[] = {
      kItem,
      {0, 0, 0, 0},
      {UINT64_MAX - UINT32_MAX, UINT32_MAX - 1ull, UINT32_MAX, {UINT64_MAX, UINT64_MAX}},
      {1, UINT32_MAX, 1, 1},       // exactly the escape value
      {2, 5ull << 32, 2, 2},       // over 4 GiB
      {0, UINT64_MAX, 3, {3, 4}},  // the whole address space: ends exactly at the top
  };
  for (const FifoItem& item : cases) {
    Blob blob = encoded(item);
    FifoItem out;
    ASSERT_TRUE(decodeFifoItem(blob.bytes, kFifoItemBytes, &out).isOk());
    EXPECT_EQ(out, item) << item.size;
  }
}

TEST(FifoItem, LargeSizeUsesEscapeAndFullSize) {
  Blob blob = encoded({0x1000, 6ull << 30, 7, 8});
  EXPECT_EQ(le32(blob.bytes + 8), UINT32_MAX);
  EXPECT_EQ(le64(blob.bytes + 32), 6ull << 30);
}

TEST(FifoItem, RejectsWrongLength) {
  Blob blob = encoded(kItem);
  FifoItem out;
  for (size_t len : {size_t{0}, size_t{63}, size_t{65}, size_t{128}}) {
    Status s = decodeFifoItem(blob.bytes, len, &out);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << len;
    EXPECT_EQ(s.message(), "FifoItem must be 64 bytes, got " + std::to_string(len));
  }
}

TEST(FifoItem, RejectsForeignItems) {
  Blob blob = encoded(kItem);
  for (size_t i = 12; i < 16; ++i) {
    Blob bad = blob;
    bad.bytes[i] ^= 0x01;
    FifoItem out;
    Status s = decodeFifoItem(bad.bytes, kFifoItemBytes, &out);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << i;
    EXPECT_NE(s.message().find("not produced by tcpx-p2p advertise"), std::string::npos)
        << s.message();
  }
  Blob zero{};  // e.g. a UCCL item with rkey 0, or an uninitialised buffer
  EXPECT_EQ(decodeCode(zero), Code::kInvalidArgument);
}

TEST(FifoItem, RejectsBadNmsgsAndReservedBytes) {
  Blob blob = encoded(kItem);
  for (uint8_t nmsgs : {0, 2, 255}) {
    Blob bad = blob;
    bad.bytes[16] = nmsgs;
    EXPECT_EQ(decodeCode(bad), Code::kInvalidArgument) << int(nmsgs);
  }
  for (size_t i = 48; i < kFifoItemBytes; ++i) {
    Blob bad = blob;
    bad.bytes[i] = 1;
    EXPECT_EQ(decodeCode(bad), Code::kInvalidArgument) << i;
  }
}

TEST(FifoItem, RefusesARangeThatWraps) {
  Blob blob = encoded({UINT64_MAX - 10, 11, 2, {3, 4}});
  EXPECT_EQ(decodeCode(blob), Code::kInvalidArgument);
  Blob fits = encoded({UINT64_MAX - 10, 10, 2, {3, 4}});
  EXPECT_EQ(decodeCode(fits), Code::kOk);
  EXPECT_EQ(updateFifoItem(fits.bytes, UINT64_MAX - 5, 5).code(), Code::kOk);
  Blob patched = fits;
  EXPECT_EQ(updateFifoItem(fits.bytes, UINT64_MAX - 5, 6).code(), Code::kInvalidArgument);
  EXPECT_EQ(std::memcmp(fits.bytes, patched.bytes, kFifoItemBytes), 0) << "left untouched";
}

TEST(FifoItem, TokenHalvesTravelApart) {
  FifoItem out;
  Blob blob = encoded({0x1000, 64, 1, {0x1111, 0x2222}});
  ASSERT_TRUE(decodeFifoItem(blob.bytes, kFifoItemBytes, &out).isOk());
  EXPECT_EQ(out.token, (AccessToken{0x1111, 0x2222}));
}

TEST(FifoItem, EscapeSizeNeedsAFullSize) {
  Blob blob = encoded({1, 5ull << 32, 2, 3});
  // Clear the high half of size64: the escape at @8 now points at a size below 4 GiB.
  blob.bytes[36] = 0;
  blob.bytes[37] = 0;
  blob.bytes[38] = 0;
  blob.bytes[39] = 0;
  ASSERT_LT(le64(blob.bytes + 32), uint64_t{UINT32_MAX});
  EXPECT_EQ(decodeCode(blob), Code::kInvalidArgument);
}

// Applications that follow UCCL's layout patch addr@0 and size@8 directly; size@8 wins over the
// now stale 64-bit copy unless it holds the escape value.
TEST(FifoItem, ApplicationPatchedSizeWins) {
  Blob blob = encoded({0x1000, 1ull << 20, 2, 3});
  uint32_t patched = 4096;
  std::memcpy(blob.bytes + 8, &patched, 4);  // little-endian host
  FifoItem out;
  ASSERT_TRUE(decodeFifoItem(blob.bytes, kFifoItemBytes, &out).isOk());
  EXPECT_EQ(out.size, 4096u);

  Blob big = encoded({0x1000, 8ull << 30, 2, 3});
  std::memcpy(big.bytes + 8, &patched, 4);
  ASSERT_TRUE(decodeFifoItem(big.bytes, kFifoItemBytes, &out).isOk());
  EXPECT_EQ(out.size, 4096u);
}

TEST(FifoItem, UpdateRewritesAddrAndSizeOnly) {
  Blob blob = encoded(kItem);
  ASSERT_TRUE(updateFifoItem(blob.bytes, 0xdead0000, 512).isOk());
  FifoItem out;
  ASSERT_TRUE(decodeFifoItem(blob.bytes, kFifoItemBytes, &out).isOk());
  EXPECT_EQ(out, (FifoItem{0xdead0000, 512, kItem.mr_id, kItem.token}));
  Blob expect = encoded({0xdead0000, 512, kItem.mr_id, kItem.token});
  EXPECT_EQ(std::memcmp(blob.bytes, expect.bytes, kFifoItemBytes), 0);

  ASSERT_TRUE(updateFifoItem(blob.bytes, 1, 9ull << 30).isOk());
  ASSERT_TRUE(decodeFifoItem(blob.bytes, kFifoItemBytes, &out).isOk());
  EXPECT_EQ(out, (FifoItem{1, 9ull << 30, kItem.mr_id, kItem.token}));
  EXPECT_EQ(le32(blob.bytes + 8), UINT32_MAX);

  ASSERT_TRUE(updateFifoItem(blob.bytes, 2, 100).isOk());  // back under 4 GiB
  EXPECT_EQ(le32(blob.bytes + 8), 100u);
  EXPECT_EQ(le64(blob.bytes + 32), 100u);
}

TEST(FifoItem, UpdateRefusesForeignItemsAndLeavesThemAlone) {
  Blob foreign = encoded(kItem);
  foreign.bytes[12] = 0;
  Blob before = foreign;
  EXPECT_EQ(updateFifoItem(foreign.bytes, 1, 2).code(), Code::kInvalidArgument);
  EXPECT_EQ(std::memcmp(foreign.bytes, before.bytes, kFifoItemBytes), 0);
}

TEST(FifoItem, DecodeLeavesOutputUntouchedOnError) {
  Blob bad = encoded(kItem);
  bad.bytes[50] = 1;
  FifoItem out{9, 9, 9, 9};
  EXPECT_FALSE(decodeFifoItem(bad.bytes, kFifoItemBytes, &out).isOk());
  EXPECT_EQ(out, (FifoItem{9, 9, 9, 9}));
}

}  // namespace
}  // namespace tcpxp::control
