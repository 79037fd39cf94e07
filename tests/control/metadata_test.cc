#include "control/metadata.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tcpxp::control {
namespace {

std::vector<uint8_t> encoded(const std::string& ip, uint16_t port, const std::string& bdf) {
  std::vector<uint8_t> out;
  Status s = encodeMetadata(ip, port, bdf, &out);
  EXPECT_TRUE(s.isOk()) << s.toString();
  return out;
}

Status decodeBytes(const std::vector<uint8_t>& bytes, EndpointMetadata* out) {
  return decodeMetadata(bytes.data(), bytes.size(), out);
}

Code decodeCode(const std::vector<uint8_t>& bytes) {
  EndpointMetadata out;
  return decodeBytes(bytes, &out).code();
}

TEST(Metadata, Ipv4LayoutMatchesUccl) {
  std::vector<uint8_t> bytes = encoded("10.1.2.3", 0x1388, "0000:4a:00.0");
  std::vector<uint8_t> expect = {10, 1, 2, 3, 0x13, 0x88, 12};
  for (char c : std::string("0000:4a:00.0")) expect.push_back(static_cast<uint8_t>(c));
  EXPECT_EQ(bytes, expect);

  EndpointMetadata md;
  ASSERT_TRUE(decodeBytes(bytes, &md).isOk());
  EXPECT_EQ(md, (EndpointMetadata{"10.1.2.3", 5000, "0000:4a:00.0"}));
}

TEST(Metadata, Ipv6LayoutMatchesUccl) {
  std::vector<uint8_t> bytes = encoded("fe80::1", 65535, "0000:cc:00.0");
  ASSERT_EQ(bytes.size(), 16u + 2 + 1 + 12);
  EXPECT_EQ(bytes[0], 0xfe);
  EXPECT_EQ(bytes[1], 0x80);
  EXPECT_EQ(bytes[15], 0x01);
  EXPECT_EQ(bytes[16], 0xff);
  EXPECT_EQ(bytes[17], 0xff);
  EXPECT_EQ(bytes[18], 12);

  EndpointMetadata md;
  ASSERT_TRUE(decodeBytes(bytes, &md).isOk());
  EXPECT_EQ(md, (EndpointMetadata{"fe80::1", 65535, "0000:cc:00.0"}));
}

TEST(Metadata, RoundTripsEdgeCases) {
  const EndpointMetadata cases[] = {
      {"0.0.0.0", 1, ""},
      {"255.255.255.255", 65535, std::string(kMaxBdfBytes, 'b')},
      {"::", 2, ""},
      {"::1", 3, "0000:00:04.0"},
      {"::ffff:192.168.0.1", 4, "x"},
      {"2001:db8::8a2e:370:7334", 5, std::string(kMaxBdfBytes, '~')},
      {"1.2.3.4", 6, " !#?"},
  };
  for (const EndpointMetadata& md : cases) {
    SCOPED_TRACE(md.ip + " " + md.bdf);
    std::vector<uint8_t> bytes = encoded(md.ip, md.port, md.bdf);
    EndpointMetadata out;
    ASSERT_TRUE(decodeBytes(bytes, &out).isOk()) << decodeBytes(bytes, &out).toString();
    EXPECT_EQ(out, md);
  }
}

TEST(Metadata, DecodeCanonicalizesAddressText) {
  EndpointMetadata out;
  ASSERT_TRUE(decodeBytes(encoded("2001:0DB8:0000:0000::0001", 7, "g"), &out).isOk());
  EXPECT_EQ(out.ip, "2001:db8::1");
}

TEST(Metadata, EncodeRejectsBadInput) {
  std::vector<uint8_t> out = {9};
  auto code = [&](const std::string& ip, uint16_t port, const std::string& bdf) {
    return encodeMetadata(ip, port, bdf, &out).code();
  };
  EXPECT_EQ(code("", 1, "b"), Code::kInvalidArgument);
  EXPECT_EQ(code("localhost", 1, "b"), Code::kInvalidArgument);
  EXPECT_EQ(code("1.2.3", 1, "b"), Code::kInvalidArgument);
  EXPECT_EQ(code("1.2.3.256", 1, "b"), Code::kInvalidArgument);
  EXPECT_EQ(code("[::1]", 1, "b"), Code::kInvalidArgument);
  EXPECT_EQ(code("fe80::1%eth0", 1, "b"), Code::kInvalidArgument);
  EXPECT_EQ(code("1.2.3.4", 0, "b"), Code::kInvalidArgument);
  EXPECT_EQ(code("1.2.3.4", 1, std::string(kMaxBdfBytes + 1, 'b')), Code::kInvalidArgument);
  EXPECT_EQ(code("1.2.3.4", 1, "a\nb"), Code::kInvalidArgument);
  EXPECT_EQ(code("1.2.3.4", 1, std::string("a\0b", 3)), Code::kInvalidArgument);
  EXPECT_EQ(out, std::vector<uint8_t>{9});  // untouched on error

  Status s = encodeMetadata("1.2.3.4", 1, std::string(256, 'b'), &out);
  EXPECT_NE(s.message().find("256 bytes, max 255"), std::string::npos) << s.message();
  s = encodeMetadata("nope", 1, "", &out);
  EXPECT_NE(s.message().find("'nope' is not a numeric"), std::string::npos) << s.message();
}

TEST(Metadata, DecodeRejectsWrongLengths) {
  std::vector<uint8_t> v4 = encoded("10.0.0.1", 80, "0000:4a:00.0");
  for (size_t n = 0; n < v4.size(); ++n) {
    EXPECT_EQ(decodeCode(std::vector<uint8_t>(v4.begin(), v4.begin() + n)), Code::kInvalidArgument)
        << n;
  }
  std::vector<uint8_t> longer = v4;
  longer.push_back('x');
  EXPECT_EQ(decodeCode(longer), Code::kInvalidArgument);

  std::vector<uint8_t> v6 = encoded("fd00::5", 80, "0000:4a:00.0");
  for (size_t n = 0; n < v6.size(); ++n) {
    EXPECT_EQ(decodeCode(std::vector<uint8_t>(v6.begin(), v6.begin() + n)), Code::kInvalidArgument)
        << n;
  }
  v6.push_back('x');
  EXPECT_EQ(decodeCode(v6), Code::kInvalidArgument);

  EndpointMetadata out;
  std::vector<uint8_t> short_one = {1, 2, 3};
  Status s = decodeBytes(short_one, &out);
  EXPECT_NE(s.message().find("3 bytes, shorter than the 7-byte minimum"), std::string::npos)
      << s.message();
  s = decodeBytes(longer, &out);
  EXPECT_NE(s.message().find("not IPv4 (7 + bdf_len 12 = 19) nor IPv6"), std::string::npos)
      << s.message();
}

TEST(Metadata, DecodeRejectsInconsistentBdfLen) {
  std::vector<uint8_t> v4 = encoded("10.0.0.1", 80, "0000:4a:00.0");
  for (int delta : {-1, 1, 100}) {
    std::vector<uint8_t> bad = v4;
    bad[6] = static_cast<uint8_t>(bad[6] + delta);
    EXPECT_EQ(decodeCode(bad), Code::kInvalidArgument) << delta;
  }
  std::vector<uint8_t> v6 = encoded("fd00::5", 80, "0000:4a:00.0");
  for (int delta : {-1, 1}) {
    std::vector<uint8_t> bad = v6;
    bad[18] = static_cast<uint8_t>(bad[18] + delta);
    EXPECT_EQ(decodeCode(bad), Code::kInvalidArgument) << delta;
  }
}

TEST(Metadata, DecodeRejectsNonPrintableBdfAndPortZero) {
  std::vector<uint8_t> v4 = encoded("10.0.0.1", 80, "0000:4a:00.0");
  for (uint8_t c : {0x00, 0x1f, 0x7f, 0x80, 0xff}) {
    std::vector<uint8_t> bad = v4;
    bad[10] = c;
    EndpointMetadata out;
    Status s = decodeBytes(bad, &out);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << int(c);
    EXPECT_NE(s.message().find("non-printable byte " + std::to_string(c) + " at index 3"),
              std::string::npos)
        << s.message();
  }
  std::vector<uint8_t> port0 = v4;
  port0[4] = port0[5] = 0;
  EXPECT_EQ(decodeCode(port0), Code::kInvalidArgument);
}

// The only family marker is the length. An IPv6 blob whose address byte 6 happens to equal
// 12 + bdf_len also passes the IPv4 length test; the IPv4 reading would put the IPv6 bdf_len
// byte (< 32) inside its BDF, which is not printable, so the decoder falls through to IPv6.
TEST(Metadata, Ipv6WithIpv4LookingLengthStillDecodesAsIpv6) {
  const std::string bdf = "0000:4a:00.0";
  // Byte 6 of 2001:db8:1:1800:: is 0x18 = 24 = 12 + 12.
  std::vector<uint8_t> bytes = encoded("2001:db8:1:1800::1", 9000, bdf);
  ASSERT_EQ(size_t{bytes[6]}, 12 + bdf.size());
  ASSERT_EQ(7 + size_t{bytes[6]}, bytes.size());  // the IPv4 length test passes too
  EndpointMetadata out;
  ASSERT_TRUE(decodeBytes(bytes, &out).isOk()) << decodeBytes(bytes, &out).toString();
  EXPECT_EQ(out, (EndpointMetadata{"2001:db8:1:1800::1", 9000, bdf}));

  // Same with an empty BDF: byte 6 == 12, length 19.
  bytes = encoded("2001:db8:1:c00::1", 9000, "");
  ASSERT_EQ(7 + size_t{bytes[6]}, bytes.size());
  ASSERT_TRUE(decodeBytes(bytes, &out).isOk());
  EXPECT_EQ(out.ip, "2001:db8:1:c00::1");
}

TEST(MetadataString, FormatsLikeUcclEngine) {
  std::string text;
  ASSERT_TRUE(formatMetadataString({"10.1.2.3", 5000, "0000:4a:00.0"}, &text).isOk());
  EXPECT_EQ(text, "10.1.2.3:5000?0000:4a:00.0");
  ASSERT_TRUE(formatMetadataString({"fe80::1", 7, "0000:4a:00.0"}, &text).isOk());
  EXPECT_EQ(text, "[fe80::1]:7?0000:4a:00.0");
  ASSERT_TRUE(formatMetadataString({"2001:0db8::0001", 7, ""}, &text).isOk());
  EXPECT_EQ(text, "[2001:db8::1]:7?");

  text = "keep";
  EXPECT_EQ(formatMetadataString({"[::1]", 7, ""}, &text).code(), Code::kInvalidArgument);
  EXPECT_EQ(formatMetadataString({"::1", 0, ""}, &text).code(), Code::kInvalidArgument);
  EXPECT_EQ(formatMetadataString({"::1", 1, "\t"}, &text).code(), Code::kInvalidArgument);
  EXPECT_EQ(text, "keep");
}

TEST(MetadataString, ParsesWhatItFormats) {
  const EndpointMetadata cases[] = {
      {"10.1.2.3", 5000, "0000:4a:00.0"},
      {"fe80::1", 65535, "0000:4a:00.0"},
      {"::ffff:1.2.3.4", 1, ""},
      {"127.0.0.1", 2, "weird?bdf:with]stuff"},
  };
  for (const EndpointMetadata& md : cases) {
    std::string text;
    ASSERT_TRUE(formatMetadataString(md, &text).isOk());
    EndpointMetadata out;
    ASSERT_TRUE(parseMetadataString(text, &out).isOk()) << text;
    EXPECT_EQ(out, md) << text;
  }
}

TEST(MetadataString, ParseAcceptsUcclOutput) {
  EndpointMetadata out;
  ASSERT_TRUE(parseMetadataString("192.168.1.20:41234?0000:4a:00.0", &out).isOk());
  EXPECT_EQ(out, (EndpointMetadata{"192.168.1.20", 41234, "0000:4a:00.0"}));
  ASSERT_TRUE(parseMetadataString("[2001:db8::1]:80?0000:4a:00.0", &out).isOk());
  EXPECT_EQ(out, (EndpointMetadata{"2001:db8::1", 80, "0000:4a:00.0"}));
  ASSERT_TRUE(parseMetadataString("1.2.3.4:00080?", &out).isOk());
  EXPECT_EQ(out, (EndpointMetadata{"1.2.3.4", 80, ""}));
}

TEST(MetadataString, ParseRejectsMalformedText) {
  const char* bad[] = {
      "",
      "1.2.3.4:80",          // no '?'
      "?0000:4a:00.0",       // no ip:port
      "1.2.3.4?bdf",         // no port
      "1.2.3.4:?bdf",        // empty port
      "1.2.3.4:0?bdf",       // port 0
      "1.2.3.4:65536?bdf",   // port too big
      "1.2.3.4:123456?bdf",  // too many digits
      "1.2.3.4:+80?bdf",     // sign
      "1.2.3.4:8 0?bdf",     // space
      "1.2.3.4:80x?bdf",     // junk
      "host:80?bdf",         // not numeric
      "::1:80?bdf",          // unbracketed IPv6
      "[::1]80?bdf",         // no ':' after ']'
      "[::1]?bdf",           // no port
      "[::1:80?bdf",         // no ']'
      "[1.2.3.4]:80?bdf",    // IPv4 in brackets
      "[]:80?bdf",           // empty address
      "1.2.3.4:80?bd\x01",   // non-printable BDF
  };
  for (const char* text : bad) {
    EndpointMetadata out{"keep", 1, "keep"};
    Status s = parseMetadataString(text, &out);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << "'" << text << "'";
    EXPECT_FALSE(s.message().empty());
    EXPECT_EQ(out.ip, "keep");
  }
  EndpointMetadata out;
  std::string long_bdf = "1.2.3.4:80?" + std::string(kMaxBdfBytes + 1, 'b');
  EXPECT_EQ(parseMetadataString(long_bdf, &out).code(), Code::kInvalidArgument);
  Status s = parseMetadataString("::1:80?bdf", &out);
  EXPECT_NE(s.message().find("must be bracketed"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tcpxp::control
