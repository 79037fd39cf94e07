// Wire formats of the built-in socket transport. Pure codecs: nothing here touches a socket.
// All integers little-endian. Every frame starts with a magic and a version; unknown flags
// and non-zero reserved bytes are rejected.
//
// Connection handle (128 bytes, NCCL_NET_HANDLE_MAXSIZE), written by listen():
//   0      4      6      8      10         16                32       40            64
//   +------+------+------+------+----------+-----------------+--------+-------------+
//   |magic |vers  |family|port  | reserved |  address (16)   | nonce  |  reserved   |
//   +------+------+------+------+----------+-----------------+--------+-------------+
//   bytes 64..127 belong to connect(): its retry state (a token), never sent by the peer's
//   listen() (it writes zeros).
//
// Hello (32 bytes), first bytes on every socket of a comm, connector -> acceptor:
//   magic u32 | version u16 | kind u8 (0 ctrl, 1 data) | index u8 | listen nonce u64 |
//   comm nonce u64 | nsocks u8 | flags u8 (0) | reserved[6]
//
// Chunk header (32 bytes), before every piece of a request on a data socket:
//   magic u32 | type u16 (1 data) | flags u16 (0) | seq u64 | offset u32 | len u32 |
//   total u32 | reserved u32
//   `seq` counts isends on the comm from 0; `total` is the request's size; the piece covers
//   [offset, offset + len) of it. A 0-byte request is one header with len 0.
//
// Close (16 bytes), on the control socket when a send comm closes:
//   magic u32 | type u16 (2 close) | flags u16 | final seq u64 (requests fully handed to the
//   kernel; the receiver fails any request from this seq on)
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/net_util.h"
#include "common/status.h"

namespace tcpxp::transport::socket {

inline constexpr uint32_t kHandleMagic = 0x48505854;  // "TXPH"
inline constexpr uint32_t kHelloMagic = 0x53505854;   // "TXPS"
inline constexpr uint32_t kChunkMagic = 0x43505854;   // "TXPC"
inline constexpr uint16_t kWireVersion = 1;
inline constexpr size_t kHandleBytes = 128;
inline constexpr size_t kHandleListenBytes = 64;
inline constexpr size_t kHelloBytes = 32;
inline constexpr size_t kChunkHeaderBytes = 32;
inline constexpr size_t kCloseBytes = 16;
inline constexpr int kMaxDataSockets = 8;

enum class SocketKind : uint8_t { kControl = 0, kData = 1 };
enum class FrameType : uint16_t { kData = 1, kClose = 2 };

struct ListenInfo {
  SockAddr addr;
  uint64_t nonce = 0;
};
void encodeHandle(const ListenInfo& info, uint8_t out[kHandleBytes]);
Status decodeHandle(const uint8_t in[kHandleBytes], ListenInfo* out);

struct Hello {
  SocketKind kind = SocketKind::kData;
  uint8_t index = 0;
  uint64_t listen_nonce = 0;
  uint64_t comm_nonce = 0;
  uint8_t nsocks = 0;
};
void encodeHello(const Hello& hello, uint8_t out[kHelloBytes]);
Status decodeHello(const uint8_t in[kHelloBytes], Hello* out);

struct ChunkHeader {
  uint64_t seq = 0;
  uint32_t offset = 0;
  uint32_t len = 0;
  uint32_t total = 0;
};
void encodeChunkHeader(const ChunkHeader& header, uint8_t out[kChunkHeaderBytes]);
Status decodeChunkHeader(const uint8_t in[kChunkHeaderBytes], ChunkHeader* out);

void encodeClose(uint64_t final_seq, uint8_t out[kCloseBytes]);
Status decodeClose(const uint8_t in[kCloseBytes], uint64_t* final_seq);

// How a request of `size` bytes is cut for `nsocks` data sockets: at most one piece per socket,
// each but the last a multiple of 4 KiB so that pieces start page-aligned in the message. A
// request of 0 bytes is one piece.
struct RequestSplit {
  size_t pieces = 1;
  size_t piece_bytes = 0;  // every piece but the last
};
// As many pieces of at least `min_piece` bytes as the size allows (an idle comm: 64 KiB).
RequestSplit splitRequest(size_t size, size_t min_piece, size_t nsocks);
// A busy comm: pieces of at most `max_piece` bytes (larger when the sockets run out), and at
// least two where both reach `min_piece`.
RequestSplit splitBusyRequest(size_t size, size_t min_piece, size_t max_piece, size_t nsocks);

}  // namespace tcpxp::transport::socket
