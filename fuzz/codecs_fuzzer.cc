// Fuzz target: the metadata codec (src/control/metadata.h) and the FifoItem codec
// (src/control/fifo_item.h). Every input goes through all of them:
//  - decodeMetadata(input): what decodes re-encodes to the same bytes and formats to a string
//    that parses back to it;
//  - parseMetadataString(input): what parses formats and parses back to itself, encodes, and
//    (BDF under 32 characters: metadata.h's ambiguity bound) decodes back to itself;
//  - decodeFifoItem(input): only 64 bytes decode; what decodes re-encodes to the same bytes
//    (bar a stale size64 where size@8 is authoritative) and decodes again to the same item;
//  - updateFifoItem(first 64 bytes, addr and size from bytes 64..79): refused (bytes untouched)
//    exactly when the item does not decode or the range wraps, else the item decodes to the new
//    range with its token and registration kept.
// Every failure is kInvalidArgument and leaves the output untouched.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "control/fifo_item.h"
#include "control/metadata.h"
#include "fuzz/fuzz_check.h"

namespace {

using namespace tcpxp;
using namespace tcpxp::control;

const EndpointMetadata kUntouchedMd{"untouched", 7, "bdf"};

uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void checkFailure(const Status& st, const char* what) {
  FUZZ_REQUIRE(st.code() == Code::kInvalidArgument, "%s: %s", what, st.toString().c_str());
}

// Format, then parse: the same metadata.
void checkStringRoundTrip(const EndpointMetadata& md) {
  std::string text;
  Status st = formatMetadataString(md, &text);
  FUZZ_REQUIRE(st.isOk(), "valid metadata does not format: %s", st.toString().c_str());
  EndpointMetadata back = kUntouchedMd;
  st = parseMetadataString(text, &back);
  FUZZ_REQUIRE(st.isOk(), "'%s' (formatted) does not parse: %s", text.c_str(),
               st.toString().c_str());
  FUZZ_REQUIRE(back == md, "'%s' parses to other metadata", text.c_str());
}

void checkMetadataBytes(const uint8_t* data, size_t size) {
  EndpointMetadata md = kUntouchedMd;
  Status st = decodeMetadata(data, size, &md);
  if (!st.isOk()) {
    checkFailure(st, "decodeMetadata");
    FUZZ_REQUIRE(md == kUntouchedMd, "a failed decodeMetadata changed its output");
    return;
  }
  FUZZ_REQUIRE(md.port != 0, "decoded port 0");
  std::vector<uint8_t> again;
  st = encodeMetadata(md.ip, md.port, md.bdf, &again);
  FUZZ_REQUIRE(st.isOk(), "decoded metadata does not encode: %s", st.toString().c_str());
  FUZZ_REQUIRE(again.size() == size && std::memcmp(again.data(), data, size) == 0,
               "metadata '%s' port %u re-encodes to other bytes", md.ip.c_str(), md.port);
  checkStringRoundTrip(md);
}

void checkMetadataString(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  EndpointMetadata md = kUntouchedMd;
  Status st = parseMetadataString(text, &md);
  if (!st.isOk()) {
    checkFailure(st, "parseMetadataString");
    FUZZ_REQUIRE(md == kUntouchedMd, "a failed parseMetadataString changed its output");
    return;
  }
  checkStringRoundTrip(md);
  std::vector<uint8_t> bytes;
  st = encodeMetadata(md.ip, md.port, md.bdf, &bytes);
  FUZZ_REQUIRE(st.isOk(), "parsed metadata does not encode: %s", st.toString().c_str());
  if (md.bdf.size() < 32) {
    EndpointMetadata back = kUntouchedMd;
    st = decodeMetadata(bytes.data(), bytes.size(), &back);
    FUZZ_REQUIRE(st.isOk() && back == md, "metadata '%s' port %u bdf '%s' does not round-trip: %s",
                 md.ip.c_str(), md.port, md.bdf.c_str(), st.toString().c_str());
  }
}

const FifoItem kUntouchedItem{1, 2, 3, {4, 5}};

void checkFifoItem(const uint8_t* data, size_t size) {
  FifoItem item = kUntouchedItem;
  Status st = decodeFifoItem(data, size, &item);
  if (!st.isOk()) {
    checkFailure(st, "decodeFifoItem");
    FUZZ_REQUIRE(item == kUntouchedItem, "a failed decodeFifoItem changed its output");
  } else {
    FUZZ_REQUIRE(size == kFifoItemBytes, "a %zu-byte FifoItem decoded", size);
    FUZZ_REQUIRE(item.size <= UINT64_MAX - item.addr, "a FifoItem range that wraps decoded");
    uint8_t again[kFifoItemBytes];
    encodeFifoItem(item, again);
    // size@8 is authoritative unless it holds the escape value: then size64 is stale data the
    // encoder rewrites; every other byte comes back as it was.
    uint8_t expected[kFifoItemBytes];
    std::memcpy(expected, data, kFifoItemBytes);
    if (get64(data + kFifoSize64Offset) != item.size) {
      for (int i = 0; i < 8; ++i) {
        expected[kFifoSize64Offset + i] = static_cast<uint8_t>(item.size >> (8 * i));
      }
    }
    FUZZ_REQUIRE(std::memcmp(again, expected, kFifoItemBytes) == 0,
                 "a FifoItem re-encodes to other bytes");
    FifoItem back = kUntouchedItem;
    FUZZ_REQUIRE(decodeFifoItem(again, kFifoItemBytes, &back).isOk() && back == item,
                 "an encoded FifoItem does not decode to itself");
  }
  if (size < kFifoItemBytes) return;

  uint8_t arg[16] = {};
  std::memcpy(arg, data + kFifoItemBytes, std::min<size_t>(16, size - kFifoItemBytes));
  uint64_t addr = get64(arg), len = get64(arg + 8);
  uint8_t updated[kFifoItemBytes];
  std::memcpy(updated, data, kFifoItemBytes);
  FifoItem before = kUntouchedItem;
  bool decodes = decodeFifoItem(updated, kFifoItemBytes, &before).isOk();
  st = updateFifoItem(updated, addr, len);
  bool should = decodes && len <= UINT64_MAX - addr;
  FUZZ_REQUIRE(st.isOk() == should, "updateFifoItem said %s for an item that %s, range wraps: %d",
               st.toString().c_str(), decodes ? "decodes" : "does not decode",
               len > UINT64_MAX - addr);
  if (!st.isOk()) {
    checkFailure(st, "updateFifoItem");
    FUZZ_REQUIRE(std::memcmp(updated, data, kFifoItemBytes) == 0,
                 "a refused updateFifoItem changed the item");
    return;
  }
  FifoItem after = kUntouchedItem;
  st = decodeFifoItem(updated, kFifoItemBytes, &after);
  FUZZ_REQUIRE(st.isOk(), "an updated FifoItem does not decode: %s", st.toString().c_str());
  FUZZ_REQUIRE(after.addr == addr && after.size == len && after.mr_id == before.mr_id &&
                   after.token == before.token,
               "the updated FifoItem does not hold the new range with its old token");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  checkMetadataBytes(data, size);
  checkMetadataString(data, size);
  checkFifoItem(data, size);
  return 0;
}
