// Control-plane wire format: framed messages on the one TCP control socket of a connection.
// Pure codec: nothing here touches a socket, logs or allocates beyond the std::string /
// std::vector fields of a decoded message. All integers little-endian.
//
// Frame header (16 bytes), before every payload:
//   0        4     5     6        8              12             16
//   +--------+-----+-----+--------+--------------+--------------+
//   | magic  | ver | type| flags  | payload_len  |   reserved   |
//   +--------+-----+-----+--------+--------------+--------------+
//   magic u32 0x45505854 ("TXPE" in memory) | version u8 (1) | type u8 (FrameType) |
//   flags u16 (no flag is defined: must be 0) | payload_len u32 | reserved u32 (must be 0)
//   payload_len is checked against the type before the payload is read: exact for fixed-size
//   types, [min, max] for variable ones, never above kMaxFramePayloadBytes.
//
// Payloads (offsets from the start of the payload; "str16" = u16 length + that many bytes):
//   1 Hello (connector -> acceptor), 20 + 128 * n + 2 + t bytes:
//     0 engine_version u32 | 4 num_channels u16 (n, 1..64) | 6 reserved u16 |
//     8 chunk_bytes u32 (1 .. 4 MiB - 1) | 12 gpu_index i32 (-1 = host only) | 16 flags u32 (0) |
//     20 handles[n] of 128 bytes: the connector's plugin listen handles (acceptor -> connector
//        data) | transport str16 (t = 1..64 printable ASCII bytes: both sides' transport name)
//   2 HelloAck (acceptor -> connector), 16 + 128 * n + 2 + m bytes:
//     0 status u32 (0 ok, else a Code) | 4 num_channels u16 (n) | 6 reserved u16 |
//     8 chunk_bytes u32 | 12 gpu_index i32 | 16 handles[n] of 128 bytes: the acceptor's listen
//     handles (connector -> acceptor data) | message str16 (m <= 1024)
//     status 0: n = 1..64, chunk_bytes as in Hello, empty message.
//     status != 0: n = 0 (the connection is refused); chunk_bytes is not checked.
//   3 Send (two-sided: the data sender offers a message), 16 bytes:
//     0 xfer_id u64 | 8 size u64
//   4 Write, 5 Read (one-sided, the connector targets an advertised registration), 48 bytes:
//     0 xfer_id u64 | 8 remote_addr u64 | 16 size u64 | 24 token.lo u64 | 32 token.hi u64 |
//     40 mr_id u32 | 44 Write: reserved u32; Read: first_channel u16 | 46 reserved u16;
//     remote_addr + size must not wrap. A Read's first_channel: the reader already queued its
//     receives, piece i on channel (first_channel + i) % channels, and the data sender answers
//     ReadOk and sends at once (no Cts); kNoChannel: it queued nothing (answered by ReadData,
//     or by ReadOk and then the reader's Cts)
//   6 ReadOk, 8 bytes: 0 xfer_id u64
//   7 Cts (clear to send: the data receiver posted its receives), 16 bytes:
//     0 xfer_id u64 | 8 initiator u8 (Initiator) | 9 reserved u8 | 10 first_channel u16 |
//     12 reserved u32.  Piece i of the transfer goes on channel (first_channel + i) % channels.
//   8 Done (all data landed at the data receiver), 16 bytes:
//     0 xfer_id u64 | 8 initiator u8 (Initiator) | 9 reserved[7]
//   9 Nack, 18 + m bytes:
//     0 xfer_id u64 | 8 initiator u8 | 9 reserved[3] | 12 code u32 (a Code, not kOk) |
//     16 message str16 (m <= 1024)
//   10 Notify (UCCL notify_msg_t), 4 + a + b bytes: name str16 (a <= 256) | msg str16 (b <= 256)
//   11 Bye, 0 bytes.
//   12 WriteInline (a small write carrying its bytes), 40 + n bytes:
//     0 xfer_id u64 | 8 remote_addr u64 | 16 token.lo u64 | 24 token.hi u64 | 32 mr_id u32 |
//     36 reserved u32 | 40 data[n], n = 0..kMaxInlineBytes (the size); answered by Done or Nack
//   13 ReadData (the answer to a small Read, instead of ReadOk), 8 + n bytes:
//     0 xfer_id u64 | 8 data[n], n = the Read's size <= kMaxInlineBytes
//   14 SendInline (a small two-sided send carrying its bytes), 8 + n bytes:
//     0 xfer_id u64 | 8 data[n], n = 0..kMaxInlineBytes; answered by Done or Nack
//   15 Heartbeat, 0 bytes: "still here", sent by each side of a ready connection when it has
//     sent nothing for a while (liveness: silence longer than the timeout fails a connection)
//   16 WriteVec, 17 ReadVec (one-sided vector: n pieces, each in an advertised region, moved as
//     one stream of their total through the channels), 16 + 28 * n bytes:
//     0 xfer_id u64 | 8 count u32 (n) | 12 WriteVec: reserved u32; ReadVec: first_channel u16
//     (as in Read) | 14 reserved u16 |
//     16 pieces[n] of { addr u64 | len u32 | token.lo u64 | token.hi u64 }, in stream order.
//     n = 1..kMaxVectorPieces, every len >= 1, addr + len must not wrap, the lens' sum at most
//     kMaxVectorBytes. Answered like Write and Read (Cts / ReadOk, Done, Nack); the data is the
//     pieces' bytes back to back, cut into chunks exactly like a Write of their sum.
//
// Contract: decode() and decodeFrameHeader() reject wrong lengths, trailing bytes, unknown enum
// values, unknown flags and non-zero reserved fields (inline frames: their data is the rest of
// the payload, so only its maximum applies) with kProtocolError and a message that says
// what was wrong; they set *out only on success. A payload that decodes re-encodes to the same
// bytes (one encoding per message). encode() writes the fields as given: run validate() first on
// anything that came from outside (e.g. user notification text); a frame built from an invalid
// message is rejected by the peer's decode(). Cross-message rules (HelloAck channel count equal to
// Hello's, matching transport names, known xfer_ids) belong to the engine, not here.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "control/access_token.h"

namespace tcpxp::control {

inline constexpr uint32_t kFrameMagic = 0x45505854;  // "TXPE"
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 16;
// Small transfers travel inside control frames (no clear-to-send round trip, no channel).
inline constexpr uint32_t kMaxInlineBytes = 64 * 1024;
inline constexpr uint32_t kMaxFramePayloadBytes = kMaxInlineBytes + 64;

inline constexpr size_t kPluginHandleBytes = 128;  // NCCL_NET_HANDLE_MAXSIZE
inline constexpr size_t kMaxChannels = 64;
inline constexpr uint32_t kMaxChunkBytes = 4 * 1024 * 1024 - 1;  // a TCPX request stays < 4 MiB
inline constexpr size_t kMaxTransportNameBytes = 64;
inline constexpr size_t kMaxErrorMessageBytes = 1024;
inline constexpr size_t kMaxNotifyFieldBytes = 256;  // notify_msg_t: char name[256], msg[256]
inline constexpr uint32_t kHelloKnownFlags = 0;      // no Hello flag is defined yet
// A Read/ReadVec whose reader queued no receives (see Read above).
inline constexpr uint16_t kNoChannel = 0xFFFF;
// One WriteVec/ReadVec: at most this many pieces (its frame stays under 56.1 KiB) and bytes.
inline constexpr uint32_t kMaxVectorPieces = 2048;
inline constexpr uint64_t kMaxVectorBytes = uint64_t{1} << 32;

enum class FrameType : uint8_t {
  kHello = 1,
  kHelloAck = 2,
  kSend = 3,
  kWrite = 4,
  kRead = 5,
  kReadOk = 6,
  kCts = 7,
  kDone = 8,
  kNack = 9,
  kNotify = 10,
  kBye = 11,
  kWriteInline = 12,
  kReadData = 13,
  kSendInline = 14,
  kHeartbeat = 15,
  kWriteVec = 16,
  kReadVec = 17,
};

// "Hello", "HelloAck", ...; "unknown" for a value outside the enum.
const char* frameTypeName(FrameType type);

// Which side started the transfer that a Cts/Done/Nack refers to, so the receiver of the frame
// can find the transfer among its own (data sender: Send, Write; data receiver: Read).
enum class Initiator : uint8_t { kDataSender = 0, kDataReceiver = 1 };

using PluginHandle = std::array<uint8_t, kPluginHandleBytes>;

struct FrameHeader {
  FrameType type = FrameType::kBye;
  uint32_t payload_len = 0;
  bool operator==(const FrameHeader&) const = default;
};

// Checks magic, version, type, flags, reserved and payload_len against the type's size rule.
Status decodeFrameHeader(const uint8_t in[kFrameHeaderBytes], FrameHeader* out);

struct Hello {
  static constexpr FrameType kType = FrameType::kHello;
  uint32_t engine_version = 0;
  uint32_t chunk_bytes = 0;
  int32_t gpu_index = -1;
  uint32_t flags = 0;
  std::vector<PluginHandle> handles;  // one per channel
  std::string transport;
  bool operator==(const Hello&) const = default;
};

struct HelloAck {
  static constexpr FrameType kType = FrameType::kHelloAck;
  Code status = Code::kOk;
  uint32_t chunk_bytes = 0;
  int32_t gpu_index = -1;
  std::vector<PluginHandle> handles;  // one per channel; empty when status is not kOk
  std::string message;                // why the connection was refused; empty when kOk
  bool operator==(const HelloAck&) const = default;
};

struct Send {
  static constexpr FrameType kType = FrameType::kSend;
  uint64_t xfer_id = 0;
  uint64_t size = 0;
  bool operator==(const Send&) const = default;
};

struct Write {
  static constexpr FrameType kType = FrameType::kWrite;
  uint64_t xfer_id = 0;
  uint64_t remote_addr = 0;
  uint64_t size = 0;
  AccessToken token;   // the advertisement's (FifoItem idx and bytes 40..47)
  uint32_t mr_id = 0;  // the passive side's registration (FifoItem rid)
  bool operator==(const Write&) const = default;
};

struct Read {
  static constexpr FrameType kType = FrameType::kRead;
  uint64_t xfer_id = 0;
  uint64_t remote_addr = 0;
  uint64_t size = 0;
  AccessToken token;
  uint32_t mr_id = 0;
  // Where the reader queued its receives (kNoChannel: nowhere); the engine checks the range.
  uint16_t first_channel = kNoChannel;
  bool operator==(const Read&) const = default;
};

struct ReadOk {
  static constexpr FrameType kType = FrameType::kReadOk;
  uint64_t xfer_id = 0;
  bool operator==(const ReadOk&) const = default;
};

struct Cts {
  static constexpr FrameType kType = FrameType::kCts;
  uint64_t xfer_id = 0;
  Initiator initiator = Initiator::kDataSender;
  // Chosen by the data receiver; the engine checks it against the connection's channel count.
  uint16_t first_channel = 0;
  bool operator==(const Cts&) const = default;
};

struct Done {
  static constexpr FrameType kType = FrameType::kDone;
  uint64_t xfer_id = 0;
  Initiator initiator = Initiator::kDataSender;
  bool operator==(const Done&) const = default;
};

struct Nack {
  static constexpr FrameType kType = FrameType::kNack;
  uint64_t xfer_id = 0;
  Initiator initiator = Initiator::kDataSender;
  Code code = Code::kRemoteError;
  std::string message;
  bool operator==(const Nack&) const = default;
};

struct Notify {
  static constexpr FrameType kType = FrameType::kNotify;
  std::string name;
  std::string msg;
  bool operator==(const Notify&) const = default;
};

struct Bye {
  static constexpr FrameType kType = FrameType::kBye;
  bool operator==(const Bye&) const = default;
};

struct Heartbeat {
  static constexpr FrameType kType = FrameType::kHeartbeat;
  bool operator==(const Heartbeat&) const = default;
};

// Inline payloads: `data` points into the encoder's source or, after decode(), into the decoded
// payload (valid as long as that buffer is).
struct WriteInline {
  static constexpr FrameType kType = FrameType::kWriteInline;
  uint64_t xfer_id = 0;
  uint64_t remote_addr = 0;
  AccessToken token;
  uint32_t mr_id = 0;
  std::span<const uint8_t> data;
  bool operator==(const WriteInline& o) const {
    return xfer_id == o.xfer_id && remote_addr == o.remote_addr && token == o.token &&
           mr_id == o.mr_id && std::ranges::equal(data, o.data);
  }
};

struct ReadData {
  static constexpr FrameType kType = FrameType::kReadData;
  uint64_t xfer_id = 0;
  std::span<const uint8_t> data;
  bool operator==(const ReadData& o) const {
    return xfer_id == o.xfer_id && std::ranges::equal(data, o.data);
  }
};

struct SendInline {
  static constexpr FrameType kType = FrameType::kSendInline;
  uint64_t xfer_id = 0;
  std::span<const uint8_t> data;
  bool operator==(const SendInline& o) const {
    return xfer_id == o.xfer_id && std::ranges::equal(data, o.data);
  }
};

// One piece of a vector request: [addr, +len) inside the peer's advertisement `token`.
struct VecPiece {
  uint64_t addr = 0;
  uint32_t len = 0;
  AccessToken token;
  bool operator==(const VecPiece&) const = default;
};

struct WriteVec {
  static constexpr FrameType kType = FrameType::kWriteVec;
  uint64_t xfer_id = 0;
  std::vector<VecPiece> pieces;
  bool operator==(const WriteVec&) const = default;
};

struct ReadVec {
  static constexpr FrameType kType = FrameType::kReadVec;
  uint64_t xfer_id = 0;
  std::vector<VecPiece> pieces;
  uint16_t first_channel = kNoChannel;  // as in Read
  bool operator==(const ReadVec&) const = default;
};

// Whether two pieces share a byte (adjacent pieces do not). Ascending pieces are checked in one
// pass; others are sorted in `scratch` (reused: no allocation once it is large enough).
bool piecesOverlap(std::span<const VecPiece> pieces, std::vector<VecPiece>* scratch);

// The field rules that decode() enforces, for a message about to be encoded.
// kInvalidArgument with a message naming the field.
Status validate(const Hello& msg);
Status validate(const HelloAck& msg);
Status validate(const Send& msg);
Status validate(const Write& msg);
Status validate(const Read& msg);
Status validate(const ReadOk& msg);
Status validate(const Cts& msg);
Status validate(const Done& msg);
Status validate(const Nack& msg);
Status validate(const Notify& msg);
Status validate(const Bye& msg);
Status validate(const Heartbeat& msg);
Status validate(const WriteInline& msg);
Status validate(const ReadData& msg);
Status validate(const SendInline& msg);
Status validate(const WriteVec& msg);
Status validate(const ReadVec& msg);

// Appends one whole frame (header + payload) to *out; existing contents are kept.
void encode(const Hello& msg, std::vector<uint8_t>* out);
void encode(const HelloAck& msg, std::vector<uint8_t>* out);
void encode(const Send& msg, std::vector<uint8_t>* out);
void encode(const Write& msg, std::vector<uint8_t>* out);
void encode(const Read& msg, std::vector<uint8_t>* out);
void encode(const ReadOk& msg, std::vector<uint8_t>* out);
void encode(const Cts& msg, std::vector<uint8_t>* out);
void encode(const Done& msg, std::vector<uint8_t>* out);
void encode(const Nack& msg, std::vector<uint8_t>* out);
void encode(const Notify& msg, std::vector<uint8_t>* out);
void encode(const Bye& msg, std::vector<uint8_t>* out);
void encode(const Heartbeat& msg, std::vector<uint8_t>* out);
void encode(const WriteInline& msg, std::vector<uint8_t>* out);
void encode(const ReadData& msg, std::vector<uint8_t>* out);
void encode(const SendInline& msg, std::vector<uint8_t>* out);
void encode(const WriteVec& msg, std::vector<uint8_t>* out);
void encode(const ReadVec& msg, std::vector<uint8_t>* out);

// Decodes a payload (the payload_len bytes after a header whose type matched). kProtocolError
// on any deviation; *out is set only on success.
Status decode(const uint8_t* payload, size_t len, Hello* out);
Status decode(const uint8_t* payload, size_t len, HelloAck* out);
Status decode(const uint8_t* payload, size_t len, Send* out);
Status decode(const uint8_t* payload, size_t len, Write* out);
Status decode(const uint8_t* payload, size_t len, Read* out);
Status decode(const uint8_t* payload, size_t len, ReadOk* out);
Status decode(const uint8_t* payload, size_t len, Cts* out);
Status decode(const uint8_t* payload, size_t len, Done* out);
Status decode(const uint8_t* payload, size_t len, Nack* out);
Status decode(const uint8_t* payload, size_t len, Notify* out);
Status decode(const uint8_t* payload, size_t len, Bye* out);
Status decode(const uint8_t* payload, size_t len, Heartbeat* out);
Status decode(const uint8_t* payload, size_t len, WriteInline* out);
Status decode(const uint8_t* payload, size_t len, ReadData* out);
Status decode(const uint8_t* payload, size_t len, SendInline* out);
Status decode(const uint8_t* payload, size_t len, WriteVec* out);
Status decode(const uint8_t* payload, size_t len, ReadVec* out);

}  // namespace tcpxp::control
