#include "transport/socket/socket_wire.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace tcpxp::transport::socket {
namespace {

// Little-endian field access; the project only targets little-endian x86-64 and Arm64, but the
// codec states the byte order rather than relying on the host's.
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
bool allZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}
Status bad(const std::string& what) { return Status(Code::kProtocolError, what); }

}  // namespace

void encodeHandle(const ListenInfo& info, uint8_t out[kHandleBytes]) {
  std::memset(out, 0, kHandleBytes);
  put32(out + 0, kHandleMagic);
  put16(out + 4, kWireVersion);
  put16(out + 6, static_cast<uint16_t>(info.addr.family()));
  put16(out + 8, info.addr.port());
  if (info.addr.family() == AF_INET) {
    std::memcpy(out + 16, &reinterpret_cast<const sockaddr_in*>(&info.addr.storage)->sin_addr, 4);
  } else {
    std::memcpy(out + 16, &reinterpret_cast<const sockaddr_in6*>(&info.addr.storage)->sin6_addr,
                16);
  }
  put64(out + 32, info.nonce);
}

Status decodeHandle(const uint8_t in[kHandleBytes], ListenInfo* out) {
  if (get32(in) != kHandleMagic)
    return bad("connection handle has a bad magic (not from listen())");
  if (get16(in + 4) != kWireVersion) {
    return bad("connection handle version " + std::to_string(get16(in + 4)) + ", expected " +
               std::to_string(kWireVersion));
  }
  if (!allZero(in + 10, 6) || !allZero(in + 40, kHandleListenBytes - 40)) {
    return bad("connection handle has non-zero reserved bytes");
  }
  uint16_t family = get16(in + 6);
  uint16_t port = get16(in + 8);
  if (port == 0) return bad("connection handle has port 0");
  ListenInfo info;
  if (family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&info.addr.storage);
    sa->sin_family = AF_INET;
    std::memcpy(&sa->sin_addr, in + 16, 4);
    if (!allZero(in + 20, 12)) return bad("connection handle has bytes after its IPv4 address");
    info.addr.len = sizeof(sockaddr_in);
  } else if (family == AF_INET6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&info.addr.storage);
    sa->sin6_family = AF_INET6;
    std::memcpy(&sa->sin6_addr, in + 16, 16);
    info.addr.len = sizeof(sockaddr_in6);
  } else {
    return bad("connection handle has unknown address family " + std::to_string(family));
  }
  info.addr.setPort(port);
  info.nonce = get64(in + 32);
  *out = info;
  return Status::ok();
}

void encodeHello(const Hello& hello, uint8_t out[kHelloBytes]) {
  std::memset(out, 0, kHelloBytes);
  put32(out + 0, kHelloMagic);
  put16(out + 4, kWireVersion);
  out[6] = static_cast<uint8_t>(hello.kind);
  out[7] = hello.index;
  put64(out + 8, hello.listen_nonce);
  put64(out + 16, hello.comm_nonce);
  out[24] = hello.nsocks;
}

Status decodeHello(const uint8_t in[kHelloBytes], Hello* out) {
  if (get32(in) != kHelloMagic) return bad("hello has a bad magic");
  if (get16(in + 4) != kWireVersion) {
    return bad("hello version " + std::to_string(get16(in + 4)) + ", expected " +
               std::to_string(kWireVersion));
  }
  Hello hello;
  if (in[6] > 1) return bad("hello has unknown socket kind " + std::to_string(in[6]));
  hello.kind = static_cast<SocketKind>(in[6]);
  hello.index = in[7];
  hello.listen_nonce = get64(in + 8);
  hello.comm_nonce = get64(in + 16);
  hello.nsocks = in[24];
  if (in[25] != 0 || !allZero(in + 26, 6)) return bad("hello has unknown flags or reserved bytes");
  if (hello.nsocks < 1 || hello.nsocks > kMaxDataSockets) {
    return bad("hello announces " + std::to_string(hello.nsocks) + " data sockets (1..8)");
  }
  if (hello.kind == SocketKind::kData ? hello.index >= hello.nsocks : hello.index != 0) {
    return bad("hello has socket index " + std::to_string(hello.index) + " out of range");
  }
  *out = hello;
  return Status::ok();
}

void encodeChunkHeader(const ChunkHeader& header, uint8_t out[kChunkHeaderBytes]) {
  std::memset(out, 0, kChunkHeaderBytes);
  put32(out + 0, kChunkMagic);
  put16(out + 4, static_cast<uint16_t>(FrameType::kData));
  put64(out + 8, header.seq);
  put32(out + 16, header.offset);
  put32(out + 20, header.len);
  put32(out + 24, header.total);
}

Status decodeChunkHeader(const uint8_t in[kChunkHeaderBytes], ChunkHeader* out) {
  if (get32(in) != kChunkMagic) return bad("chunk header has a bad magic");
  if (get16(in + 4) != static_cast<uint16_t>(FrameType::kData)) {
    return bad("chunk header has unknown type " + std::to_string(get16(in + 4)));
  }
  if (get16(in + 6) != 0 || get32(in + 28) != 0) return bad("chunk header has unknown flags");
  ChunkHeader header;
  header.seq = get64(in + 8);
  header.offset = get32(in + 16);
  header.len = get32(in + 20);
  header.total = get32(in + 24);
  if (header.total > INT32_MAX ||
      static_cast<uint64_t>(header.offset) + header.len > header.total ||
      (header.len == 0 && header.total != 0)) {
    return bad("chunk header covers [" + std::to_string(header.offset) + ", +" +
               std::to_string(header.len) + ") of a " + std::to_string(header.total) +
               "-byte message");
  }
  *out = header;
  return Status::ok();
}

void encodeClose(uint64_t final_seq, uint8_t out[kCloseBytes]) {
  std::memset(out, 0, kCloseBytes);
  put32(out + 0, kChunkMagic);
  put16(out + 4, static_cast<uint16_t>(FrameType::kClose));
  put64(out + 8, final_seq);
}

Status decodeClose(const uint8_t in[kCloseBytes], uint64_t* final_seq) {
  if (get32(in) != kChunkMagic || get16(in + 4) != static_cast<uint16_t>(FrameType::kClose) ||
      get16(in + 6) != 0) {
    return bad("control socket carried bytes that are not a close frame");
  }
  *final_seq = get64(in + 8);
  return Status::ok();
}

namespace {

// `size` bytes in about `pieces` pieces, each but the last a multiple of 4 KiB.
RequestSplit cutInto(size_t size, size_t pieces) {
  RequestSplit split;
  split.pieces = std::max<size_t>(pieces, 1);
  split.piece_bytes = ((size + split.pieces - 1) / split.pieces + 4095) & ~size_t{4095};
  if (size > 0) split.pieces = (size + split.piece_bytes - 1) / split.piece_bytes;
  return split;
}

size_t ceilDiv(size_t a, size_t b) { return (a + b - 1) / std::max<size_t>(b, 1); }

}  // namespace

RequestSplit splitRequest(size_t size, size_t min_piece, size_t nsocks) {
  return cutInto(size,
                 std::clamp<size_t>(ceilDiv(size, min_piece), 1, std::max<size_t>(nsocks, 1)));
}

RequestSplit splitBusyRequest(size_t size, size_t min_piece, size_t max_piece, size_t nsocks) {
  size_t pieces = std::max<size_t>(ceilDiv(size, max_piece), size >= 2 * min_piece ? 2 : 1);
  return cutInto(size, std::clamp<size_t>(pieces, 1, std::max<size_t>(nsocks, 1)));
}

}  // namespace tcpxp::transport::socket
