#include "control/control_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace tcpxp::control {
namespace {

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

template <typename T>
std::vector<uint8_t> frameOf(const T& msg) {
  std::vector<uint8_t> bytes;
  encode(msg, &bytes);
  return bytes;
}

template <typename T>
std::vector<uint8_t> payloadOf(const T& msg) {
  std::vector<uint8_t> bytes = frameOf(msg);
  return std::vector<uint8_t>(bytes.begin() + kFrameHeaderBytes, bytes.end());
}

// Header then payload, as the engine's reader does.
template <typename T>
Status decodeFrame(const std::vector<uint8_t>& bytes, T* out) {
  if (bytes.size() < kFrameHeaderBytes) return Status(Code::kProtocolError, "short frame");
  FrameHeader header;
  TCPXP_RETURN_IF_ERROR(decodeFrameHeader(bytes.data(), &header));
  if (header.type != T::kType) return Status(Code::kProtocolError, "other type");
  if (header.payload_len != bytes.size() - kFrameHeaderBytes) {
    return Status(Code::kProtocolError, "length mismatch");
  }
  return decode(bytes.data() + kFrameHeaderBytes, header.payload_len, out);
}

// decode() alone (no header), so payload rules are tested even where the header would already
// have refused the length.
template <typename T>
Code decodePayload(const std::vector<uint8_t>& payload) {
  T out;
  return decode(payload.data(), payload.size(), &out).code();
}

template <typename T>
Code mutatedPayload(const T& msg, size_t at, uint8_t value) {
  std::vector<uint8_t> payload = payloadOf(msg);
  payload.at(at) = value;
  return decodePayload<T>(payload);
}

Code headerCode(const std::vector<uint8_t>& frame) {
  FrameHeader header;
  return decodeFrameHeader(frame.data(), &header).code();
}

// Properties every frame type must have.
template <typename T>
void expectWellFormed(const T& msg) {
  SCOPED_TRACE(frameTypeName(T::kType));
  ASSERT_TRUE(validate(msg).isOk()) << validate(msg).toString();
  std::vector<uint8_t> bytes = frameOf(msg);
  ASSERT_GE(bytes.size(), kFrameHeaderBytes);

  // Header drawn in control_wire.h.
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "TXPE");
  EXPECT_EQ(bytes[4], kFrameVersion);
  EXPECT_EQ(bytes[5], static_cast<uint8_t>(T::kType));
  EXPECT_EQ(bytes[6] | bytes[7], 0);
  uint32_t len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24);
  EXPECT_EQ(len, bytes.size() - kFrameHeaderBytes);
  for (size_t i = 12; i < 16; ++i) EXPECT_EQ(bytes[i], 0);

  // Round trip.
  T out;
  ASSERT_TRUE(decodeFrame(bytes, &out).isOk()) << decodeFrame(bytes, &out).toString();
  EXPECT_TRUE(out == msg);
  FrameHeader header;
  ASSERT_TRUE(decodeFrameHeader(bytes.data(), &header).isOk());
  EXPECT_EQ(header, (FrameHeader{T::kType, len}));

  // encode() appends.
  std::vector<uint8_t> appended = {1, 2, 3};
  encode(msg, &appended);
  EXPECT_EQ(appended, concat({1, 2, 3}, bytes));

  // Every strict prefix and any trailing byte is rejected, by decode() alone.
  std::vector<uint8_t> payload(bytes.begin() + kFrameHeaderBytes, bytes.end());
  for (size_t n = 0; n < payload.size(); ++n) {
    std::vector<uint8_t> prefix(payload.begin(), payload.begin() + n);
    ASSERT_EQ(decodePayload<T>(prefix), Code::kProtocolError) << "prefix of " << n;
  }
  ASSERT_EQ(decodePayload<T>(concat(payload, {0})), Code::kProtocolError) << "trailing byte";

  // One encoding per message: a mutated payload either is rejected or re-encodes to itself.
  for (size_t i = 0; i < payload.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> mutated = payload;
      mutated[i] ^= mask;
      T decoded;
      Status s = decode(mutated.data(), mutated.size(), &decoded);
      if (s.isOk()) {
        ASSERT_EQ(payloadOf(decoded), mutated) << "byte " << i << " mask " << int(mask);
      } else {
        ASSERT_EQ(s.code(), Code::kProtocolError);
        ASSERT_FALSE(s.message().empty());
      }
    }
  }
}

PluginHandle patternHandle(int seed) {
  PluginHandle h;
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return h;
}

Hello sampleHello(size_t channels) {
  Hello hello;
  hello.engine_version = 0x00010002;
  hello.chunk_bytes = 512 * 1024;
  hello.gpu_index = 3;
  for (size_t i = 0; i < channels; ++i) hello.handles.push_back(patternHandle(int(i)));
  hello.transport = "socket";
  return hello;
}

HelloAck sampleAck(size_t channels) {
  HelloAck ack;
  ack.chunk_bytes = 512 * 1024;
  ack.gpu_index = -1;
  for (size_t i = 0; i < channels; ++i) ack.handles.push_back(patternHandle(int(i) + 100));
  return ack;
}

// Header --------------------------------------------------------------------------------------

TEST(ControlWireHeader, RejectsBadMagicVersionTypeFlagsReserved) {
  std::vector<uint8_t> good = frameOf(Send{7, 8});
  ASSERT_EQ(headerCode(good), Code::kOk);
  auto with = [&](size_t at, uint8_t value) {
    std::vector<uint8_t> bad = good;
    bad[at] = value;
    return headerCode(bad);
  };
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(with(i, good[i] ^ 0x20), Code::kProtocolError) << i;
  EXPECT_EQ(with(4, 0), Code::kProtocolError);
  EXPECT_EQ(with(4, 2), Code::kProtocolError);
  EXPECT_EQ(with(5, 0), Code::kProtocolError);
  EXPECT_EQ(with(5, 12), Code::kProtocolError);
  EXPECT_EQ(with(5, 255), Code::kProtocolError);
  for (int bit = 0; bit < 16; ++bit) {
    EXPECT_EQ(with(6 + bit / 8, uint8_t(1u << (bit % 8))), Code::kProtocolError) << bit;
  }
  for (size_t i = 12; i < 16; ++i) EXPECT_EQ(with(i, 1), Code::kProtocolError) << i;
}

TEST(ControlWireHeader, ErrorMessagesSayWhatWasWrong) {
  std::vector<uint8_t> bad = frameOf(Bye{});
  bad[4] = 9;
  FrameHeader header;
  Status s = decodeFrameHeader(bad.data(), &header);
  EXPECT_EQ(s.code(), Code::kProtocolError);
  EXPECT_NE(s.message().find("version 9"), std::string::npos) << s.message();
  bad = frameOf(Bye{});
  bad[5] = 42;
  s = decodeFrameHeader(bad.data(), &header);
  EXPECT_NE(s.message().find("unknown type 42"), std::string::npos) << s.message();
}

TEST(ControlWireHeader, ChecksPayloadLengthPerType) {
  struct Rule {
    FrameType type;
    uint32_t min;
    uint32_t max;
  };
  const Rule rules[] = {
      {FrameType::kHello, 151, 20 + 64 * 128 + 2 + 64},
      {FrameType::kHelloAck, 18, 16 + 64 * 128 + 2 + 1024},
      {FrameType::kSend, 16, 16},
      {FrameType::kWrite, 48, 48},
      {FrameType::kRead, 48, 48},
      {FrameType::kReadOk, 8, 8},
      {FrameType::kCts, 16, 16},
      {FrameType::kDone, 16, 16},
      {FrameType::kNack, 18, 18 + 1024},
      {FrameType::kNotify, 4, 4 + 2 * 256},
      {FrameType::kBye, 0, 0},
      {FrameType::kWriteInline, 40, 40 + 65536},
      {FrameType::kReadData, 8, 8 + 65536},
      {FrameType::kSendInline, 8, 8 + 65536},
      {FrameType::kHeartbeat, 0, 0},
      {FrameType::kWriteVec, 16 + 28, 16 + 28 * 2048},
      {FrameType::kReadVec, 16 + 28, 16 + 28 * 2048},
  };
  for (const Rule& rule : rules) {
    SCOPED_TRACE(frameTypeName(rule.type));
    std::vector<uint8_t> bytes = frameOf(Bye{});
    bytes[5] = static_cast<uint8_t>(rule.type);
    auto withLen = [&](uint64_t len) {
      for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<uint8_t>(len >> (8 * i));
      return headerCode(bytes);
    };
    EXPECT_EQ(withLen(rule.min), Code::kOk);
    EXPECT_EQ(withLen(rule.max), Code::kOk);
    if (rule.min > 0) {
      EXPECT_EQ(withLen(rule.min - 1), Code::kProtocolError);
    }
    EXPECT_EQ(withLen(rule.max + 1), Code::kProtocolError);
    EXPECT_EQ(withLen(kMaxFramePayloadBytes + 1), Code::kProtocolError);
    EXPECT_EQ(withLen(UINT32_MAX), Code::kProtocolError);
  }
}

TEST(ControlWireHeader, TypeNames) {
  EXPECT_STREQ(frameTypeName(FrameType::kHello), "Hello");
  EXPECT_STREQ(frameTypeName(FrameType::kHelloAck), "HelloAck");
  EXPECT_STREQ(frameTypeName(FrameType::kSend), "Send");
  EXPECT_STREQ(frameTypeName(FrameType::kWrite), "Write");
  EXPECT_STREQ(frameTypeName(FrameType::kRead), "Read");
  EXPECT_STREQ(frameTypeName(FrameType::kReadOk), "ReadOk");
  EXPECT_STREQ(frameTypeName(FrameType::kCts), "Cts");
  EXPECT_STREQ(frameTypeName(FrameType::kDone), "Done");
  EXPECT_STREQ(frameTypeName(FrameType::kNack), "Nack");
  EXPECT_STREQ(frameTypeName(FrameType::kNotify), "Notify");
  EXPECT_STREQ(frameTypeName(FrameType::kBye), "Bye");
  EXPECT_STREQ(frameTypeName(FrameType::kHeartbeat), "Heartbeat");
  EXPECT_STREQ(frameTypeName(FrameType::kWriteVec), "WriteVec");
  EXPECT_STREQ(frameTypeName(FrameType::kReadVec), "ReadVec");
  EXPECT_STREQ(frameTypeName(static_cast<FrameType>(0)), "unknown");
  EXPECT_STREQ(frameTypeName(static_cast<FrameType>(200)), "unknown");
}

TEST(ControlWireHeader, FramesOnOneStreamParseInOrder) {
  std::vector<uint8_t> stream;
  encode(sampleHello(2), &stream);
  encode(Write{1, 0x1000, 64, {99, 98}, 5}, &stream);
  encode(Notify{"n", "m"}, &stream);
  encode(Bye{}, &stream);
  std::vector<FrameType> seen;
  size_t at = 0;
  while (at < stream.size()) {
    FrameHeader header;
    ASSERT_TRUE(decodeFrameHeader(stream.data() + at, &header).isOk());
    seen.push_back(header.type);
    at += kFrameHeaderBytes + header.payload_len;
  }
  EXPECT_EQ(at, stream.size());
  EXPECT_EQ(seen, (std::vector<FrameType>{FrameType::kHello, FrameType::kWrite, FrameType::kNotify,
                                          FrameType::kBye}));
}

TEST(ControlWireHeader, DecodeRefusesAnotherTypesPayload) {
  Read read;
  std::vector<uint8_t> write_frame = frameOf(Write{1, 2, 3, {4, 6}, 5});
  EXPECT_EQ(decodeFrame(write_frame, &read).code(), Code::kProtocolError);
}

// Hello ---------------------------------------------------------------------------------------

TEST(ControlWireHello, RoundTrips) {
  expectWellFormed(sampleHello(1));
  expectWellFormed(sampleHello(4));
  Hello big = sampleHello(kMaxChannels);
  big.transport = std::string(kMaxTransportNameBytes, 'x');
  big.gpu_index = -1;
  big.chunk_bytes = kMaxChunkBytes;
  big.engine_version = UINT32_MAX;
  EXPECT_EQ(frameOf(big).size(), kFrameHeaderBytes + 20 + 64 * 128 + 2 + 64);
  expectWellFormed(big);
}

TEST(ControlWireHello, RejectsBadFields) {
  Hello good = sampleHello(2);
  EXPECT_EQ(mutatedPayload(good, 6, 1), Code::kProtocolError);   // reserved
  EXPECT_EQ(mutatedPayload(good, 16, 1), Code::kProtocolError);  // flags
  EXPECT_EQ(mutatedPayload(good, 19, 0x80), Code::kProtocolError);
  EXPECT_EQ(mutatedPayload(good, 4, 3), Code::kProtocolError);  // 3 channels, 2 handles
  EXPECT_EQ(mutatedPayload(good, 4, 1), Code::kProtocolError);  // 1 channel: bytes left over

  auto rejects = [](const Hello& hello, const char* what) {
    EXPECT_EQ(validate(hello).code(), Code::kInvalidArgument) << what;
    EXPECT_NE(validate(hello).message().find(what), std::string::npos) << validate(hello).message();
    EXPECT_EQ(decodePayload<Hello>(payloadOf(hello)), Code::kProtocolError) << what;
  };
  Hello h = good;
  h.handles.clear();
  rejects(h, "num_channels 0");
  h = sampleHello(kMaxChannels + 1);
  rejects(h, "num_channels 65");
  h = good;
  h.chunk_bytes = 0;
  rejects(h, "chunk_bytes 0");
  h.chunk_bytes = kMaxChunkBytes + 1;
  rejects(h, "chunk_bytes 4194304");
  h = good;
  h.gpu_index = -2;
  rejects(h, "gpu_index -2");
  h = good;
  h.flags = 4;
  rejects(h, "unknown flags");
  h = good;
  h.transport = "";
  rejects(h, "transport name is empty");
  h.transport = std::string(kMaxTransportNameBytes + 1, 't');
  rejects(h, "transport name is 65 bytes");
  h.transport = std::string("tc\0x", 4);
  rejects(h, "not printable");
  h.transport = "t\x7f";
  rejects(h, "not printable");
}

TEST(ControlWireHello, RejectsTransportLengthThatDisagrees) {
  std::vector<uint8_t> payload = payloadOf(sampleHello(1));
  size_t len_at = 20 + 128;
  payload[len_at] = 7;  // "socket" is 6
  EXPECT_EQ(decodePayload<Hello>(payload), Code::kProtocolError);
  payload[len_at] = 5;
  EXPECT_EQ(decodePayload<Hello>(payload), Code::kProtocolError);
  payload[len_at] = 6;
  payload[len_at + 1] = 1;  // 262
  EXPECT_EQ(decodePayload<Hello>(payload), Code::kProtocolError);
}

// HelloAck ------------------------------------------------------------------------------------

TEST(ControlWireHelloAck, RoundTrips) {
  expectWellFormed(sampleAck(1));
  expectWellFormed(sampleAck(kMaxChannels));
  HelloAck refusal;
  refusal.status = Code::kRefused;
  refusal.gpu_index = 2;
  refusal.chunk_bytes = 123;  // not checked in a refusal
  refusal.message = "transport mismatch: connector 'tcpx', acceptor 'socket'";
  expectWellFormed(refusal);
  refusal.message = std::string(kMaxErrorMessageBytes, 'e');
  expectWellFormed(refusal);
  refusal.message.clear();
  expectWellFormed(refusal);
}

TEST(ControlWireHelloAck, EveryStatusCodeRoundTrips) {
  for (int c = 1; c <= static_cast<int>(Code::kInternal); ++c) {
    HelloAck refusal;
    refusal.status = static_cast<Code>(c);
    std::vector<uint8_t> bytes = frameOf(refusal);
    HelloAck out;
    ASSERT_TRUE(decodeFrame(bytes, &out).isOk()) << c;
    EXPECT_EQ(out.status, refusal.status);
  }
}

TEST(ControlWireHelloAck, RejectsBadFields) {
  HelloAck good = sampleAck(2);
  EXPECT_EQ(mutatedPayload(good, 0, static_cast<uint8_t>(Code::kInternal) + 1),
            Code::kProtocolError);  // unknown status
  EXPECT_EQ(mutatedPayload(good, 3, 1), Code::kProtocolError);
  EXPECT_EQ(mutatedPayload(good, 6, 1), Code::kProtocolError);  // reserved
  EXPECT_EQ(mutatedPayload(good, 5, 1), Code::kProtocolError);  // 258 channels

  auto rejects = [](const HelloAck& ack, const char* what) {
    EXPECT_EQ(validate(ack).code(), Code::kInvalidArgument) << what;
    EXPECT_NE(validate(ack).message().find(what), std::string::npos) << validate(ack).message();
    EXPECT_EQ(decodePayload<HelloAck>(payloadOf(ack)), Code::kProtocolError) << what;
  };
  HelloAck a = good;
  a.message = "oops";
  rejects(a, "status 0 carries an error message");
  a = good;
  a.handles.clear();
  rejects(a, "num_channels 0");
  a = good;
  a.chunk_bytes = 0;
  rejects(a, "chunk_bytes 0");
  a = good;
  a.status = Code::kRefused;
  rejects(a, "refusal (status != 0) carries 2 handles");
  a.handles.clear();
  a.gpu_index = -5;
  rejects(a, "gpu_index -5");
  a.gpu_index = 0;
  a.message = std::string(kMaxErrorMessageBytes + 1, 'e');
  rejects(a, "message is 1025 bytes");
}

// Send, Write, Read, ReadOk -------------------------------------------------------------------

TEST(ControlWireSend, RoundTrips) {
  expectWellFormed(Send{0, 0});
  expectWellFormed(Send{UINT64_MAX, UINT64_MAX});
  EXPECT_EQ(payloadOf(Send{0x0102030405060708ull, 9}),
            (std::vector<uint8_t>{8, 7, 6, 5, 4, 3, 2, 1, 9, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(ControlWireWrite, RoundTripsAndRejectsBadFields) {
  Write w{42, 0x7f0000001000ull, 1ull << 33, {0xfeedfacecafebeefull, 0x0102030405060708ull}, 17};
  expectWellFormed(w);
  expectWellFormed(Write{1, UINT64_MAX, 0, {}, 0});
  expectWellFormed(Write{1, UINT64_MAX - 10, 10, {}, 0});
  std::vector<uint8_t> payload = payloadOf(w);
  ASSERT_EQ(payload.size(), 48u);
  EXPECT_EQ(payload[32], 0x08) << "token.hi follows token.lo";
  EXPECT_EQ(payload[40], 17) << "then mr_id";
  for (size_t i = 44; i < 48; ++i) EXPECT_EQ(mutatedPayload(w, i, 1), Code::kProtocolError) << i;
  Write wraps{1, UINT64_MAX - 10, 11, {}, 0};
  EXPECT_EQ(validate(wraps).code(), Code::kInvalidArgument);
  EXPECT_EQ(decodePayload<Write>(payloadOf(wraps)), Code::kProtocolError);
}

TEST(ControlWireRead, RoundTripsAndRejectsBadFields) {
  Read r{43, 0x1000, 4096, {7, 8}, UINT32_MAX};
  EXPECT_EQ(r.first_channel, kNoChannel) << "a Read queues nothing unless it says so";
  expectWellFormed(r);
  expectWellFormed(Read{43, 0x1000, 4096, {7, 8}, 5, 63});
  // Write's layout, a distinct type byte, and first_channel where Write keeps reserved zeros.
  Write w{43, 0x1000, 4096, {7, 8}, UINT32_MAX};
  Read at0{43, 0x1000, 4096, {7, 8}, UINT32_MAX, 0};
  EXPECT_EQ(payloadOf(at0), payloadOf(w));
  EXPECT_NE(frameOf(at0)[5], frameOf(w)[5]);
  std::vector<uint8_t> p = payloadOf(Read{1, 2, 3, {}, 4, 0x0102});
  EXPECT_EQ(p[44], 0x02);
  EXPECT_EQ(p[45], 0x01);
  for (size_t i = 46; i < 48; ++i) EXPECT_EQ(mutatedPayload(r, i, 1), Code::kProtocolError) << i;
  Read wraps{1, 2, UINT64_MAX, {}, 0};
  EXPECT_EQ(decodePayload<Read>(payloadOf(wraps)), Code::kProtocolError);
}

TEST(ControlWireReadOk, RoundTrips) {
  expectWellFormed(ReadOk{0});
  expectWellFormed(ReadOk{0x8000000000000001ull});
}

// Cts, Done, Nack -----------------------------------------------------------------------------

TEST(ControlWireCts, RoundTripsAndRejectsBadFields) {
  expectWellFormed(Cts{5, Initiator::kDataSender, 0});
  expectWellFormed(Cts{UINT64_MAX, Initiator::kDataReceiver, 63});
  expectWellFormed(Cts{9, Initiator::kDataSender, UINT16_MAX});  // the engine bounds it
  Cts good{5, Initiator::kDataReceiver, 3};
  std::vector<uint8_t> payload = payloadOf(good);
  EXPECT_EQ(payload[10], 3);  // first_channel u16 at 10, little endian
  EXPECT_EQ(payload[11], 0);
  EXPECT_EQ(mutatedPayload(good, 8, 2), Code::kProtocolError);  // unknown initiator
  EXPECT_EQ(mutatedPayload(good, 9, 1), Code::kProtocolError);  // reserved
  for (size_t i = 12; i < 16; ++i) EXPECT_EQ(mutatedPayload(good, i, 1), Code::kProtocolError) << i;
  EXPECT_EQ(validate(Cts{1, static_cast<Initiator>(2)}).code(), Code::kInvalidArgument);
}

TEST(ControlWireDone, RoundTripsAndRejectsBadFields) {
  expectWellFormed(Done{6, Initiator::kDataSender});
  expectWellFormed(Done{7, Initiator::kDataReceiver});
  Done good{6, Initiator::kDataSender};
  EXPECT_EQ(mutatedPayload(good, 8, 0xff), Code::kProtocolError);
  for (size_t i = 9; i < 16; ++i) EXPECT_EQ(mutatedPayload(good, i, 1), Code::kProtocolError) << i;
}

// Inline frames: the data is the rest of the payload (its length is the frame's), so unlike the
// other frames a shorter or longer payload is simply other data; everything else is checked.
template <typename T>
void expectInlineRoundTrip(const T& msg, size_t fixed) {
  SCOPED_TRACE(frameTypeName(T::kType));
  ASSERT_TRUE(validate(msg).isOk());
  std::vector<uint8_t> bytes = frameOf(msg);
  EXPECT_EQ(bytes.size(), kFrameHeaderBytes + fixed + msg.data.size());
  T out;
  ASSERT_TRUE(decodeFrame(bytes, &out).isOk()) << decodeFrame(bytes, &out).toString();
  EXPECT_TRUE(out == msg);
  std::vector<uint8_t> payload = payloadOf(msg);
  for (size_t n = 0; n < fixed; ++n) {
    std::vector<uint8_t> prefix(payload.begin(), payload.begin() + n);
    EXPECT_EQ(decodePayload<T>(prefix), Code::kProtocolError) << "prefix of " << n;
  }
  // One encoding per message.
  for (size_t i = 0; i < std::min<size_t>(payload.size(), fixed + 2); ++i) {
    std::vector<uint8_t> mutated = payload;
    mutated[i] ^= 0x80;
    T decoded;
    if (decode(mutated.data(), mutated.size(), &decoded).isOk()) {
      EXPECT_EQ(payloadOf(decoded), mutated) << "byte " << i;
    }
  }
}

TEST(ControlWireInline, RoundTripsAtEverySizeClass) {
  std::vector<uint8_t> max(kMaxInlineBytes);
  for (size_t i = 0; i < max.size(); ++i) max[i] = static_cast<uint8_t>(i * 13);
  for (size_t n : {size_t{0}, size_t{1}, size_t{4097}, size_t{kMaxInlineBytes}}) {
    std::span<const uint8_t> data(max.data(), n);
    expectInlineRoundTrip(WriteInline{7, 0x10000, {99, 98}, 3, data}, 40);
    expectInlineRoundTrip(ReadData{8, data}, 8);
    expectInlineRoundTrip(SendInline{9, data}, 8);
  }
}

TEST(ControlWireInline, RejectsOversizeDataReservedBitsAndWrapping) {
  std::vector<uint8_t> big(kMaxInlineBytes + 1, 1);
  std::span<const uint8_t> too_big(big);
  EXPECT_EQ(validate(WriteInline{1, 0, {}, 0, too_big}).code(), Code::kInvalidArgument);
  EXPECT_EQ(validate(ReadData{1, too_big}).code(), Code::kInvalidArgument);
  EXPECT_EQ(validate(SendInline{1, too_big}).code(), Code::kInvalidArgument);
  std::vector<uint8_t> payload(8 + kMaxInlineBytes + 1, 0);
  EXPECT_EQ(decodePayload<SendInline>(payload), Code::kProtocolError);
  EXPECT_EQ(decodePayload<ReadData>(payload), Code::kProtocolError);
  std::vector<uint8_t> four(4, 5);
  WriteInline good{1, 0x1000, {2, 9}, 3, four};
  for (size_t i = 36; i < 40; ++i) EXPECT_EQ(mutatedPayload(good, i, 1), Code::kProtocolError) << i;
  WriteInline wraps{1, UINT64_MAX - 2, {2, 9}, 3, four};
  EXPECT_EQ(validate(wraps).code(), Code::kInvalidArgument);
}

std::vector<VecPiece> vecPieces(size_t n) {
  std::vector<VecPiece> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = {0x10000 + 3 * i * 4096 + i, static_cast<uint32_t>(1 + i * 7), {i + 1, ~i}};
  }
  return v;
}

TEST(ControlWireVector, RoundTripsFromOneToTheMostPieces) {
  // expectWellFormed mutates every byte (quadratic): a few pieces; the most, a round trip.
  for (size_t n : {size_t{1}, size_t{2}, size_t{5}}) {
    SCOPED_TRACE(n);
    expectWellFormed(WriteVec{7, vecPieces(n)});
    expectWellFormed(ReadVec{8, vecPieces(n)});
  }
  WriteVec most{7, vecPieces(kMaxVectorPieces)};
  ASSERT_EQ(payloadOf(most).size(), 16 + 28 * size_t{kMaxVectorPieces});
  WriteVec back;
  ASSERT_TRUE(decodeFrame(frameOf(most), &back).isOk());
  EXPECT_EQ(back, most);
  // The layout drawn in control_wire.h: id, count, reserved, then addr | len | token per piece.
  std::vector<uint8_t> p = payloadOf(ReadVec{0x0102, {{0xAABB, 5, {0x11, 0x22}}}});
  EXPECT_EQ(p[0], 0x02);
  EXPECT_EQ(p[8], 1);      // count
  EXPECT_EQ(p[16], 0xBB);  // addr
  EXPECT_EQ(p[24], 5);     // len
  EXPECT_EQ(p[28], 0x11);  // token.lo
  EXPECT_EQ(p[36], 0x22);  // token.hi
  // A ReadVec's first_channel where a WriteVec keeps reserved zeros.
  EXPECT_EQ(p[12], 0xFF);  // kNoChannel
  EXPECT_EQ(p[14], 0);
  std::vector<uint8_t> q = payloadOf(ReadVec{1, {{0xAABB, 5, {0x11, 0x22}}}, 0x0203});
  EXPECT_EQ(q[12], 0x03);
  EXPECT_EQ(q[13], 0x02);
  expectWellFormed(ReadVec{8, vecPieces(2), 7});
  EXPECT_EQ(mutatedPayload(ReadVec{8, vecPieces(2), 7}, 14, 1), Code::kProtocolError);
  EXPECT_EQ(mutatedPayload(WriteVec{8, vecPieces(2)}, 13, 1), Code::kProtocolError);
}

TEST(ControlWireVector, RejectsBadCountsEmptyOrWrappingPiecesAndTooManyBytes) {
  EXPECT_EQ(validate(WriteVec{1, {}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(validate(ReadVec{1, vecPieces(kMaxVectorPieces + 1)}).code(), Code::kInvalidArgument);
  EXPECT_EQ(validate(WriteVec{1, {{0x1000, 0, {1, 1}}}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(validate(WriteVec{1, {{UINT64_MAX - 2, 4, {1, 1}}}}).code(), Code::kInvalidArgument);
  std::vector<VecPiece> big(2, VecPiece{0, UINT32_MAX, {1, 1}});
  big[1].addr = UINT32_MAX;
  EXPECT_EQ(validate(WriteVec{1, big}).code(), Code::kInvalidArgument);  // 8 GiB > 4 GiB
  // On the wire: the same rules, plus a count that must match the payload and zero reserved.
  WriteVec good{1, vecPieces(3)};
  ASSERT_EQ(decodePayload<WriteVec>(payloadOf(good)), Code::kOk);
  EXPECT_EQ(mutatedPayload(good, 8, 2), Code::kProtocolError);      // count 2, 3 pieces
  EXPECT_EQ(mutatedPayload(good, 8, 4), Code::kProtocolError);      // count 4, 3 pieces
  EXPECT_EQ(mutatedPayload(good, 8, 0), Code::kProtocolError);      // count 0
  EXPECT_EQ(mutatedPayload(good, 11, 0x80), Code::kProtocolError);  // count 2^31 + 3
  EXPECT_EQ(mutatedPayload(good, 12, 1), Code::kProtocolError);     // reserved
  std::vector<uint8_t> empty_piece = payloadOf(good);
  for (int i = 0; i < 4; ++i) empty_piece[16 + 8 + i] = 0;  // piece 0's len
  EXPECT_EQ(decodePayload<WriteVec>(empty_piece), Code::kProtocolError);
  std::vector<uint8_t> wraps = payloadOf(good);
  for (int i = 0; i < 8; ++i) wraps[16 + i] = 0xff;  // piece 0's addr
  EXPECT_EQ(decodePayload<ReadVec>(wraps), Code::kProtocolError);
  std::vector<uint8_t> truncated = payloadOf(good);
  truncated.pop_back();
  EXPECT_EQ(decodePayload<WriteVec>(truncated), Code::kProtocolError);
}

TEST(ControlWireVector, OverlapIsTwoPiecesSharingAByteAdjacentIsNot) {
  std::vector<VecPiece> scratch;
  auto overlap = [&](std::vector<VecPiece> v) { return piecesOverlap(v, &scratch); };
  EXPECT_FALSE(overlap({}));
  EXPECT_FALSE(overlap({{100, 10, {}}}));
  EXPECT_FALSE(overlap({{100, 10, {}}, {110, 10, {}}}));                 // adjacent
  EXPECT_FALSE(overlap({{200, 10, {}}, {110, 10, {}}, {100, 10, {}}}));  // adjacent, reversed
  EXPECT_TRUE(overlap({{100, 10, {}}, {109, 10, {}}}));
  EXPECT_TRUE(overlap({{300, 5, {}}, {100, 10, {}}, {105, 1, {}}}));  // unsorted, inside
  EXPECT_TRUE(overlap({{100, 10, {}}, {100, 10, {}}}));               // the same piece twice
  EXPECT_TRUE(overlap({{150, 1, {}}, {100, 100, {}}}));
}

TEST(ControlWireNack, RoundTrips) {
  expectWellFormed(Nack{9, Initiator::kDataReceiver, Code::kRefused,
                        "range [0x1000, +4096) is outside registration 3"});
  expectWellFormed(Nack{9, Initiator::kDataSender, Code::kInternal, ""});
  expectWellFormed(
      Nack{9, Initiator::kDataSender, Code::kNotFound, std::string(kMaxErrorMessageBytes, 'm')});
}

TEST(ControlWireNack, RejectsBadFields) {
  Nack good{9, Initiator::kDataReceiver, Code::kRefused, "no"};
  EXPECT_EQ(mutatedPayload(good, 8, 2), Code::kProtocolError);  // initiator
  for (size_t i = 9; i < 12; ++i) EXPECT_EQ(mutatedPayload(good, i, 1), Code::kProtocolError) << i;
  EXPECT_EQ(mutatedPayload(good, 12, 0), Code::kProtocolError);  // kOk
  EXPECT_EQ(mutatedPayload(good, 12, 200), Code::kProtocolError);
  EXPECT_EQ(mutatedPayload(good, 15, 1), Code::kProtocolError);
  EXPECT_EQ(mutatedPayload(good, 16, 3), Code::kProtocolError);  // message length 3, 2 bytes

  Nack n = good;
  n.code = Code::kOk;
  EXPECT_EQ(validate(n).code(), Code::kInvalidArgument);
  EXPECT_EQ(decodePayload<Nack>(payloadOf(n)), Code::kProtocolError);
  n = good;
  n.message = std::string(kMaxErrorMessageBytes + 1, 'm');
  EXPECT_EQ(validate(n).code(), Code::kInvalidArgument);
  EXPECT_EQ(decodePayload<Nack>(payloadOf(n)), Code::kProtocolError);
}

// Notify, Bye ---------------------------------------------------------------------------------

TEST(ControlWireNotify, RoundTrips) {
  expectWellFormed(Notify{"", ""});
  expectWellFormed(Notify{"agent-0", "kv ready"});
  expectWellFormed(Notify{std::string(kMaxNotifyFieldBytes, 'n'), std::string(255, '\xff')});
  EXPECT_EQ(frameOf(Notify{std::string(256, 'n'), std::string(256, 'm')}).size(),
            kFrameHeaderBytes + 516);
}

TEST(ControlWireNotify, RejectsBadFields) {
  Notify long_name{std::string(kMaxNotifyFieldBytes + 1, 'n'), "m"};
  EXPECT_EQ(validate(long_name).code(), Code::kInvalidArgument);
  EXPECT_EQ(decodePayload<Notify>(payloadOf(long_name)), Code::kProtocolError);
  Notify long_msg{"n", std::string(kMaxNotifyFieldBytes + 1, 'm')};
  EXPECT_EQ(validate(long_msg).code(), Code::kInvalidArgument);
  EXPECT_EQ(decodePayload<Notify>(payloadOf(long_msg)), Code::kProtocolError);

  Notify good{"ab", "cd"};
  EXPECT_EQ(mutatedPayload(good, 0, 5), Code::kProtocolError);  // name runs past the end
  EXPECT_EQ(mutatedPayload(good, 0, 3), Code::kProtocolError);  // eats msg's length
  EXPECT_EQ(mutatedPayload(good, 4, 1), Code::kProtocolError);  // msg shorter than the rest
}

TEST(ControlWireHeartbeat, RoundTripsAndIsEmpty) {
  expectWellFormed(Heartbeat{});
  EXPECT_EQ(frameOf(Heartbeat{}).size(), kFrameHeaderBytes);
  Heartbeat out;
  std::vector<uint8_t> one_byte = {0};
  EXPECT_EQ(decode(one_byte.data(), one_byte.size(), &out).code(), Code::kProtocolError);
}

TEST(ControlWireBye, RoundTrips) {
  expectWellFormed(Bye{});
  EXPECT_EQ(frameOf(Bye{}).size(), kFrameHeaderBytes);
  Bye out;
  uint8_t one = 0;
  EXPECT_EQ(decode(&one, 1, &out).code(), Code::kProtocolError);
  EXPECT_TRUE(decode(nullptr, 0, &out).isOk());
}

TEST(ControlWire, DecodeLeavesOutputUntouchedOnError) {
  Nack out{1, Initiator::kDataReceiver, Code::kTimeout, "keep"};
  Nack before = out;
  std::vector<uint8_t> payload = payloadOf(Nack{2, Initiator::kDataSender, Code::kRefused, "x"});
  payload[12] = 0;  // kOk
  EXPECT_FALSE(decode(payload.data(), payload.size(), &out).isOk());
  EXPECT_TRUE(out == before);
}

}  // namespace
}  // namespace tcpxp::control
