// Fuzz target: the control-frame codec (src/control/control_wire.h).
//
// Each input is used twice:
//  1. as a stream of frames: decodeFrameHeader, then decode() of the payload by its type, frame
//     after frame until one does not decode or the bytes run out;
//  2. as (type byte, payload): decode() of the other bytes as that type (1 + byte % 15), so
//     every payload decoder sees arbitrary bytes even without a valid header in front.
// Properties: a header that decodes has exactly one encoding (the 16 bytes it came from); a
// payload that decodes passes validate() and re-encodes, header included, to the same bytes;
// a decode that fails says kProtocolError and leaves its output untouched.
#include <cstdint>
#include <cstring>
#include <vector>

#include "control/control_wire.h"
#include "fuzz/fuzz_check.h"

namespace {

using namespace tcpxp;
using namespace tcpxp::control;

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The one encoding of a header (control_wire.h's layout).
void expectedHeader(FrameType type, uint32_t payload_len, uint8_t out[kFrameHeaderBytes]) {
  std::memset(out, 0, kFrameHeaderBytes);
  put32(out, kFrameMagic);
  out[4] = kFrameVersion;
  out[5] = static_cast<uint8_t>(type);
  put32(out + 8, payload_len);
}

// A value decode() must not touch when it fails.
template <typename Msg>
Msg untouched() {
  Msg m{};
  if constexpr (requires { m.xfer_id; }) m.xfer_id = 0x5eed5eed5eed5eedULL;
  if constexpr (requires { m.chunk_bytes; }) m.chunk_bytes = 0x5eed;
  if constexpr (requires { m.name; }) m.name = "untouched";
  return m;
}

template <typename Msg>
void checkPayload(const uint8_t* p, size_t n) {
  Msg out = untouched<Msg>();
  Status st = decode(p, n, &out);
  if (!st.isOk()) {
    FUZZ_REQUIRE(st.code() == Code::kProtocolError, "%s: %s", frameTypeName(Msg::kType),
                 st.toString().c_str());
    FUZZ_REQUIRE(out == untouched<Msg>(), "%s: a failed decode changed its output",
                 frameTypeName(Msg::kType));
    return;
  }
  Status valid = validate(out);
  FUZZ_REQUIRE(valid.isOk(), "%s decoded but does not validate: %s", frameTypeName(Msg::kType),
               valid.toString().c_str());
  std::vector<uint8_t> again;
  encode(out, &again);
  FUZZ_REQUIRE(again.size() == kFrameHeaderBytes + n, "%s: %zu payload bytes re-encode to %zu",
               frameTypeName(Msg::kType), n, again.size() - kFrameHeaderBytes);
  FUZZ_REQUIRE(n == 0 || std::memcmp(again.data() + kFrameHeaderBytes, p, n) == 0,
               "%s: the payload re-encodes to other bytes", frameTypeName(Msg::kType));
  uint8_t header[kFrameHeaderBytes];
  expectedHeader(Msg::kType, static_cast<uint32_t>(n), header);
  FUZZ_REQUIRE(std::memcmp(again.data(), header, kFrameHeaderBytes) == 0,
               "%s: encode() wrote another header", frameTypeName(Msg::kType));
  FrameHeader h;
  FUZZ_REQUIRE(decodeFrameHeader(again.data(), &h).isOk() &&
                   h == (FrameHeader{Msg::kType, static_cast<uint32_t>(n)}),
               "%s: the re-encoded header does not decode to itself", frameTypeName(Msg::kType));
}

void checkPayload(FrameType type, const uint8_t* p, size_t n) {
  switch (type) {
    case FrameType::kHello:
      return checkPayload<Hello>(p, n);
    case FrameType::kHelloAck:
      return checkPayload<HelloAck>(p, n);
    case FrameType::kSend:
      return checkPayload<Send>(p, n);
    case FrameType::kWrite:
      return checkPayload<Write>(p, n);
    case FrameType::kRead:
      return checkPayload<Read>(p, n);
    case FrameType::kReadOk:
      return checkPayload<ReadOk>(p, n);
    case FrameType::kCts:
      return checkPayload<Cts>(p, n);
    case FrameType::kDone:
      return checkPayload<Done>(p, n);
    case FrameType::kNack:
      return checkPayload<Nack>(p, n);
    case FrameType::kNotify:
      return checkPayload<Notify>(p, n);
    case FrameType::kBye:
      return checkPayload<Bye>(p, n);
    case FrameType::kWriteInline:
      return checkPayload<WriteInline>(p, n);
    case FrameType::kReadData:
      return checkPayload<ReadData>(p, n);
    case FrameType::kSendInline:
      return checkPayload<SendInline>(p, n);
    case FrameType::kHeartbeat:
      return checkPayload<Heartbeat>(p, n);
    case FrameType::kWriteVec:
      return checkPayload<WriteVec>(p, n);
    case FrameType::kReadVec:
      return checkPayload<ReadVec>(p, n);
  }
  FUZZ_REQUIRE(false, "decodeFrameHeader let through type %d", static_cast<int>(type));
}

void checkStream(const uint8_t* data, size_t size) {
  size_t off = 0;
  while (size - off >= kFrameHeaderBytes) {
    FrameHeader h{FrameType::kNotify, 12345};
    const FrameHeader before = h;
    Status st = decodeFrameHeader(data + off, &h);
    if (!st.isOk()) {
      FUZZ_REQUIRE(st.code() == Code::kProtocolError, "header: %s", st.toString().c_str());
      FUZZ_REQUIRE(h == before, "a failed header decode changed its output");
      return;
    }
    FUZZ_REQUIRE(h.payload_len <= kMaxFramePayloadBytes, "header allows %u payload bytes",
                 h.payload_len);
    uint8_t header[kFrameHeaderBytes];
    expectedHeader(h.type, h.payload_len, header);
    FUZZ_REQUIRE(std::memcmp(header, data + off, kFrameHeaderBytes) == 0,
                 "a %s header decoded from bytes that are not its one encoding",
                 frameTypeName(h.type));
    off += kFrameHeaderBytes;
    if (size - off < h.payload_len) return;
    // Copied so that ASan sees the payload's exact end (a decoder reading past it is caught).
    std::vector<uint8_t> payload(data + off, data + off + h.payload_len);
    checkPayload(h.type, payload.data(), payload.size());
    off += h.payload_len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  checkStream(data, size);
  if (size >= 1) {
    std::vector<uint8_t> payload(data + 1, data + size);
    checkPayload(static_cast<FrameType>(1 + data[0] % 15), payload.data(), payload.size());
  }
  return 0;
}
