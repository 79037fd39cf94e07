#include "transport/socket/socket_wire.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "transport/socket/socket_config.h"

namespace tcpxp::transport::socket {
namespace {

SockAddr loopback(uint16_t port) {
  SockAddr a;
  auto* sa = reinterpret_cast<sockaddr_in*>(&a.storage);
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.len = sizeof(sockaddr_in);
  a.setPort(port);
  return a;
}

TEST(SocketWire, HandleRoundTripsIpv4AndIpv6) {
  uint8_t bytes[kHandleBytes];
  ListenInfo in{loopback(4242), 0x1122334455667788ull};
  encodeHandle(in, bytes);
  ListenInfo out;
  ASSERT_TRUE(decodeHandle(bytes, &out).isOk());
  EXPECT_EQ(out.addr.toString(), "127.0.0.1:4242");
  EXPECT_EQ(out.nonce, in.nonce);
  for (size_t i = kHandleListenBytes; i < kHandleBytes; ++i) EXPECT_EQ(bytes[i], 0) << i;

  SockAddr v6;
  auto* sa6 = reinterpret_cast<sockaddr_in6*>(&v6.storage);
  sa6->sin6_family = AF_INET6;
  sa6->sin6_addr = in6addr_loopback;
  v6.len = sizeof(sockaddr_in6);
  v6.setPort(7);
  encodeHandle({v6, 9}, bytes);
  ASSERT_TRUE(decodeHandle(bytes, &out).isOk());
  EXPECT_EQ(out.addr.toString(), "[::1]:7");
}

TEST(SocketWire, HandleRejectsGarbage) {
  uint8_t bytes[kHandleBytes];
  encodeHandle({loopback(1), 1}, bytes);
  ListenInfo out;
  uint8_t bad[kHandleBytes];
  std::memcpy(bad, bytes, kHandleBytes);
  bad[0] ^= 1;  // magic
  EXPECT_EQ(decodeHandle(bad, &out).code(), Code::kProtocolError);
  std::memcpy(bad, bytes, kHandleBytes);
  bad[4] = 9;  // version
  EXPECT_EQ(decodeHandle(bad, &out).code(), Code::kProtocolError);
  std::memcpy(bad, bytes, kHandleBytes);
  bad[6] = 77;  // family
  EXPECT_EQ(decodeHandle(bad, &out).code(), Code::kProtocolError);
  std::memcpy(bad, bytes, kHandleBytes);
  bad[8] = bad[9] = 0;  // port 0
  EXPECT_EQ(decodeHandle(bad, &out).code(), Code::kProtocolError);
  std::memcpy(bad, bytes, kHandleBytes);
  bad[50] = 1;  // reserved
  EXPECT_EQ(decodeHandle(bad, &out).code(), Code::kProtocolError);
}

TEST(SocketWire, HelloRoundTripsAndRejectsBadFields) {
  Hello in{SocketKind::kData, 3, 11, 22, 4};
  uint8_t bytes[kHelloBytes];
  encodeHello(in, bytes);
  Hello out;
  ASSERT_TRUE(decodeHello(bytes, &out).isOk());
  EXPECT_EQ(out.kind, SocketKind::kData);
  EXPECT_EQ(out.index, 3);
  EXPECT_EQ(out.listen_nonce, 11u);
  EXPECT_EQ(out.comm_nonce, 22u);
  EXPECT_EQ(out.nsocks, 4);

  auto mutate = [&](size_t at, uint8_t value) {
    uint8_t copy[kHelloBytes];
    std::memcpy(copy, bytes, kHelloBytes);
    copy[at] = value;
    return decodeHello(copy, &out).code();
  };
  EXPECT_EQ(mutate(0, 0), Code::kProtocolError);   // magic
  EXPECT_EQ(mutate(4, 2), Code::kProtocolError);   // version
  EXPECT_EQ(mutate(6, 5), Code::kProtocolError);   // kind
  EXPECT_EQ(mutate(7, 4), Code::kProtocolError);   // index >= nsocks
  EXPECT_EQ(mutate(24, 9), Code::kProtocolError);  // more than 8 data sockets
  EXPECT_EQ(mutate(24, 0), Code::kProtocolError);  // no data sockets
  EXPECT_EQ(mutate(25, 1), Code::kProtocolError);  // flags
  EXPECT_EQ(mutate(31, 1), Code::kProtocolError);  // reserved
}

TEST(SocketWire, ChunkHeaderRoundTripsAndChecksRanges) {
  ChunkHeader in{5, 4096, 100, 5000};
  uint8_t bytes[kChunkHeaderBytes];
  encodeChunkHeader(in, bytes);
  ChunkHeader out;
  ASSERT_TRUE(decodeChunkHeader(bytes, &out).isOk());
  EXPECT_EQ(out.seq, 5u);
  EXPECT_EQ(out.offset, 4096u);
  EXPECT_EQ(out.len, 100u);
  EXPECT_EQ(out.total, 5000u);

  encodeChunkHeader({0, 0, 0, 0}, bytes);  // a 0-byte message
  EXPECT_TRUE(decodeChunkHeader(bytes, &out).isOk());
  encodeChunkHeader({0, 4000, 2000, 5000}, bytes);  // piece past the end
  EXPECT_EQ(decodeChunkHeader(bytes, &out).code(), Code::kProtocolError);
  encodeChunkHeader({0, 0, 0, 10}, bytes);  // empty piece of a non-empty message
  EXPECT_EQ(decodeChunkHeader(bytes, &out).code(), Code::kProtocolError);
  encodeChunkHeader({0, 0, 1, 1}, bytes);
  bytes[6] = 1;  // flags
  EXPECT_EQ(decodeChunkHeader(bytes, &out).code(), Code::kProtocolError);
  encodeChunkHeader({0, 0, 1, 1}, bytes);
  bytes[4] = 2;  // a close frame is not a chunk
  EXPECT_EQ(decodeChunkHeader(bytes, &out).code(), Code::kProtocolError);
}

TEST(SocketWire, CloseFrameRoundTrips) {
  uint8_t bytes[kCloseBytes];
  encodeClose(17, bytes);
  uint64_t final_seq = 0;
  ASSERT_TRUE(decodeClose(bytes, &final_seq).isOk());
  EXPECT_EQ(final_seq, 17u);
  bytes[0] = 0;
  EXPECT_EQ(decodeClose(bytes, &final_seq).code(), Code::kProtocolError);
}

TEST(SocketWire, RequestsSplitIntoPageAlignedPiecesOnePerSocket) {
  // An idle comm's 256 KiB request over 4 sockets: four 64 KiB pieces.
  RequestSplit s = splitRequest(256 << 10, 64 << 10, 4);
  EXPECT_EQ(s.pieces, 4u);
  EXPECT_EQ(s.piece_bytes, size_t{64} << 10);
  // Never more pieces than sockets: the largest request over 4 sockets.
  s = splitRequest((4 << 20) - 1, 64 << 10, 4);
  EXPECT_EQ(s.pieces, 4u);
  EXPECT_EQ(s.piece_bytes, size_t{1} << 20);
  // Odd sizes: pieces rounded up to 4 KiB, the last one shorter, all bytes covered.
  s = splitRequest(65537, 4096, 2);
  EXPECT_EQ(s.pieces, 2u);
  EXPECT_EQ(s.piece_bytes, 36864u);
  s = splitRequest(4097, 4096, 4);
  EXPECT_EQ(s.pieces, 2u);
  EXPECT_EQ(s.piece_bytes, 4096u);
  // Rounding can leave fewer pieces than asked: 3 x 12 KiB + 1 would need 4, 4 KiB aligned.
  s = splitRequest(3 * 4096 + 1, 4096, 4);
  EXPECT_EQ(s.pieces, 4u);
  EXPECT_EQ(s.piece_bytes, 4096u);
  s = splitRequest(8192 + 100, 4096, 2);
  EXPECT_EQ(s.pieces, 2u);
  EXPECT_EQ(s.piece_bytes, 8192u);
  // Empty requests still travel as one (empty) piece; one socket takes everything.
  s = splitRequest(0, 64 << 10, 4);
  EXPECT_EQ(s.pieces, 1u);
  s = splitRequest(3 << 20, 64 << 10, 1);
  EXPECT_EQ(s.pieces, 1u);
  EXPECT_EQ(s.piece_bytes, size_t{3} << 20);
}

TEST(SocketWire, BusyCommsSplitIntoFewLargePiecesAtLeastTwo) {
  // The defaults: pieces of at most 512 KiB, at least two where both reach 256 KiB.
  constexpr size_t kMin = 256 << 10, kMax = 512 << 10;
  // TCPX's 512 KiB requests: two halves (one piece each on two sockets).
  RequestSplit s = splitBusyRequest(512 << 10, kMin, kMax, 8);
  EXPECT_EQ(s.pieces, 2u);
  EXPECT_EQ(s.piece_bytes, size_t{256} << 10);
  // The engine's 1 MiB requests: two 512 KiB pieces, not four of 256 KiB.
  s = splitBusyRequest(1 << 20, kMin, kMax, 8);
  EXPECT_EQ(s.pieces, 2u);
  EXPECT_EQ(s.piece_bytes, kMax);
  // 2 MiB: four 512 KiB pieces; with two sockets, two of 1 MiB.
  s = splitBusyRequest(2 << 20, kMin, kMax, 8);
  EXPECT_EQ(s.pieces, 4u);
  EXPECT_EQ(s.piece_bytes, kMax);
  s = splitBusyRequest(2 << 20, kMin, kMax, 2);
  EXPECT_EQ(s.pieces, 2u);
  EXPECT_EQ(s.piece_bytes, size_t{1} << 20);
  // Under two minimum pieces: whole. One socket: whole.
  s = splitBusyRequest((512 << 10) - 1, kMin, kMax, 8);
  EXPECT_EQ(s.pieces, 1u);
  s = splitBusyRequest(256 << 10, kMin, kMax, 8);
  EXPECT_EQ(s.pieces, 1u);
  s = splitBusyRequest(1 << 20, kMin, kMax, 1);
  EXPECT_EQ(s.pieces, 1u);
  EXPECT_EQ(s.piece_bytes, size_t{1} << 20);
  // The largest request over 8 sockets; an empty one.
  s = splitBusyRequest((4 << 20) - 1, kMin, kMax, 8);
  EXPECT_EQ(s.pieces, 8u);
  EXPECT_EQ(s.piece_bytes, kMax);
  s = splitBusyRequest(0, kMin, kMax, 8);
  EXPECT_EQ(s.pieces, 1u);
}

TEST(SocketConfig, ChunkBoundsFromTheEnvironment) {
  SocketConfig c = SocketConfig::fromEnv();
  EXPECT_EQ(c.min_chunk, 256 << 10);
  EXPECT_EQ(c.max_chunk, 512 << 10);
  // A larger minimum alone raises the maximum with it (whole requests up to 1 MiB).
  ::setenv("UCCL_SOCKET_MIN_CHUNK", "1M", 1);
  c = SocketConfig::fromEnv();
  EXPECT_EQ(c.min_chunk, 1 << 20);
  EXPECT_EQ(c.max_chunk, 1 << 20);
  // A maximum below the minimum is raised to it too.
  ::setenv("UCCL_SOCKET_MIN_CHUNK", "256K", 1);
  ::setenv("UCCL_SOCKET_MAX_CHUNK", "128K", 1);
  c = SocketConfig::fromEnv();
  EXPECT_EQ(c.max_chunk, 256 << 10);
  ::setenv("UCCL_SOCKET_MAX_CHUNK", "2M", 1);
  c = SocketConfig::fromEnv();
  EXPECT_EQ(c.max_chunk, 2 << 20);
  ::unsetenv("UCCL_SOCKET_MIN_CHUNK");
  ::unsetenv("UCCL_SOCKET_MAX_CHUNK");
}

}  // namespace
}  // namespace tcpxp::transport::socket

#include "common/cpu_affinity.h"

namespace tcpxp {
namespace {

TEST(CpuAffinity, ParsesSysfsCpuLists) {
  std::vector<int> cpus;
  ASSERT_TRUE(parseCpuList("0-3,8,10-11", &cpus));
  EXPECT_EQ(cpus, (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  ASSERT_TRUE(parseCpuList("5", &cpus));
  EXPECT_EQ(cpus, (std::vector<int>{5}));
  EXPECT_FALSE(parseCpuList("3-1", &cpus));
  EXPECT_FALSE(parseCpuList("a-b", &cpus));
  EXPECT_FALSE(parseCpuList("1,x", &cpus));
  EXPECT_GE(numaNodeCount(), 1);
  EXPECT_EQ(numaNodeOfNet("lo"), -1);  // virtual: no NUMA node
}

}  // namespace
}  // namespace tcpxp
