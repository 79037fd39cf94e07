#include "control/control_wire.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "control/wire_bytes.h"

namespace tcpxp::control {
namespace {

using wire::put32;
using wire::put64;
using wire::Reader;
using wire::Writer;

// Fixed parts of the variable-size payloads (see the layout in control_wire.h).
constexpr uint32_t kHelloFixedBytes = 20;
constexpr uint32_t kHelloAckFixedBytes = 16;
constexpr uint32_t kNackFixedBytes = 16;
constexpr uint32_t kStr16Bytes = 2;
constexpr uint32_t kAllHandlesBytes = kMaxChannels * kPluginHandleBytes;

constexpr uint32_t kSendBytes = 16;
constexpr uint32_t kRemoteAccessBytes = 48;  // Write, Read
constexpr uint32_t kReadOkBytes = 8;
constexpr uint32_t kXferStepBytes = 16;  // Cts, Done
constexpr size_t kXferStepReservedBytes = 7;
constexpr size_t kNackReservedBytes = 3;
constexpr uint32_t kWriteInlineFixedBytes = 40;
constexpr uint32_t kIdOnlyBytes = 8;     // ReadData, SendInline before their data
constexpr uint32_t kVecFixedBytes = 16;  // WriteVec, ReadVec before their pieces
constexpr uint32_t kVecPieceBytes = 28;

// Size rule per type, indexed by the type byte: exact when min == max.
struct TypeInfo {
  const char* name;
  uint32_t min_payload;
  uint32_t max_payload;
};
constexpr TypeInfo kTypes[] = {
    {"unknown", 0, 0},
    {"Hello", kHelloFixedBytes + kPluginHandleBytes + kStr16Bytes + 1,
     kHelloFixedBytes + kAllHandlesBytes + kStr16Bytes + kMaxTransportNameBytes},
    {"HelloAck", kHelloAckFixedBytes + kStr16Bytes,
     kHelloAckFixedBytes + kAllHandlesBytes + kStr16Bytes + kMaxErrorMessageBytes},
    {"Send", kSendBytes, kSendBytes},
    {"Write", kRemoteAccessBytes, kRemoteAccessBytes},
    {"Read", kRemoteAccessBytes, kRemoteAccessBytes},
    {"ReadOk", kReadOkBytes, kReadOkBytes},
    {"Cts", kXferStepBytes, kXferStepBytes},
    {"Done", kXferStepBytes, kXferStepBytes},
    {"Nack", kNackFixedBytes + kStr16Bytes, kNackFixedBytes + kStr16Bytes + kMaxErrorMessageBytes},
    {"Notify", 2 * kStr16Bytes, 2 * (kStr16Bytes + kMaxNotifyFieldBytes)},
    {"Bye", 0, 0},
    {"WriteInline", kWriteInlineFixedBytes, kWriteInlineFixedBytes + kMaxInlineBytes},
    {"ReadData", kIdOnlyBytes, kIdOnlyBytes + kMaxInlineBytes},
    {"SendInline", kIdOnlyBytes, kIdOnlyBytes + kMaxInlineBytes},
    {"Heartbeat", 0, 0},
    {"WriteVec", kVecFixedBytes + kVecPieceBytes,
     kVecFixedBytes + kVecPieceBytes* kMaxVectorPieces},
    {"ReadVec", kVecFixedBytes + kVecPieceBytes, kVecFixedBytes + kVecPieceBytes* kMaxVectorPieces},
};
constexpr size_t kNumTypes = sizeof(kTypes) / sizeof(kTypes[0]);
static_assert(kNumTypes == static_cast<size_t>(FrameType::kReadVec) + 1, "one row per FrameType");
constexpr bool allFit() {
  for (const TypeInfo& t : kTypes) {
    if (t.min_payload > t.max_payload || t.max_payload > kMaxFramePayloadBytes) return false;
  }
  return true;
}
static_assert(allFit(), "every payload fits under kMaxFramePayloadBytes");

const TypeInfo& info(FrameType type) {
  auto index = static_cast<size_t>(type);
  return index < kNumTypes ? kTypes[index] : kTypes[0];
}

#define TCPXP_COUNT_CODE(name, desc) +1
constexpr uint32_t kNumCodes = 0 TCPXP_STATUS_CODES(TCPXP_COUNT_CODE);
#undef TCPXP_COUNT_CODE

bool knownCode(uint32_t value) { return value < kNumCodes; }
bool knownInitiator(uint8_t value) {
  return value <= static_cast<uint8_t>(Initiator::kDataReceiver);
}
bool printableAscii(const std::string& s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Status bad(const std::string& what) { return Status(Code::kProtocolError, what); }
std::string num(uint64_t v) { return std::to_string(v); }

// What is wrong with a message's fields, or "" when nothing is. Shared by validate()
// (kInvalidArgument, before encoding) and decode() (kProtocolError, after parsing).
std::string chunkProblem(uint32_t chunk_bytes) {
  if (chunk_bytes == 0 || chunk_bytes > kMaxChunkBytes) {
    return "chunk_bytes " + num(chunk_bytes) + " out of range 1.." + num(kMaxChunkBytes);
  }
  return "";
}
std::string gpuProblem(int32_t gpu_index) {
  return gpu_index < -1 ? "gpu_index " + std::to_string(gpu_index) + " is below -1" : "";
}
std::string channelsProblem(size_t n) {
  if (n < 1 || n > kMaxChannels) {
    return "num_channels " + num(n) + " out of range 1.." + num(kMaxChannels);
  }
  return "";
}
std::string lengthProblem(const char* field, size_t len, size_t max) {
  return len > max ? std::string(field) + " is " + num(len) + " bytes, max " + num(max) : "";
}

std::string problem(const Hello& m) {
  if ((m.flags & ~kHelloKnownFlags) != 0) return "unknown flags " + num(m.flags);
  std::string p = channelsProblem(m.handles.size());
  if (p.empty()) p = chunkProblem(m.chunk_bytes);
  if (p.empty()) p = gpuProblem(m.gpu_index);
  if (p.empty() && m.transport.empty()) p = "transport name is empty";
  if (p.empty()) p = lengthProblem("transport name", m.transport.size(), kMaxTransportNameBytes);
  if (p.empty() && !printableAscii(m.transport)) p = "transport name is not printable ASCII";
  return p;
}
std::string problem(const HelloAck& m) {
  if (!knownCode(static_cast<uint32_t>(m.status))) {
    return "unknown status " + std::to_string(static_cast<int>(m.status));
  }
  std::string p = lengthProblem("message", m.message.size(), kMaxErrorMessageBytes);
  if (!p.empty()) return p;
  if (m.status != Code::kOk) {
    if (!m.handles.empty())
      return "refusal (status != 0) carries " + num(m.handles.size()) + " handles";
    return gpuProblem(m.gpu_index);
  }
  p = channelsProblem(m.handles.size());
  if (p.empty()) p = chunkProblem(m.chunk_bytes);
  if (p.empty()) p = gpuProblem(m.gpu_index);
  if (p.empty() && !m.message.empty()) p = "status 0 carries an error message";
  return p;
}
std::string problem(const Send&) { return ""; }
template <typename T>
std::string remoteAccessProblem(const T& m) {
  if (m.size > UINT64_MAX - m.remote_addr) {
    return "remote range [" + num(m.remote_addr) + ", +" + num(m.size) + ") wraps around";
  }
  return "";
}
std::string problem(const Write& m) { return remoteAccessProblem(m); }
std::string problem(const Read& m) { return remoteAccessProblem(m); }
std::string problem(const ReadOk&) { return ""; }
std::string initiatorProblem(Initiator initiator) {
  auto v = static_cast<uint8_t>(initiator);
  return knownInitiator(v) ? "" : "unknown initiator " + num(v);
}
std::string problem(const Cts& m) { return initiatorProblem(m.initiator); }
std::string problem(const Done& m) { return initiatorProblem(m.initiator); }
std::string problem(const Nack& m) {
  std::string p = initiatorProblem(m.initiator);
  if (!p.empty()) return p;
  if (m.code == Code::kOk) return "code is kOk (a Nack must carry an error)";
  if (!knownCode(static_cast<uint32_t>(m.code))) {
    return "unknown code " + std::to_string(static_cast<int>(m.code));
  }
  return lengthProblem("message", m.message.size(), kMaxErrorMessageBytes);
}
std::string problem(const Notify& m) {
  std::string p = lengthProblem("name", m.name.size(), kMaxNotifyFieldBytes);
  return p.empty() ? lengthProblem("msg", m.msg.size(), kMaxNotifyFieldBytes) : p;
}
std::string problem(const Bye&) { return ""; }
std::string problem(const Heartbeat&) { return ""; }
std::string inlineProblem(size_t n) { return lengthProblem("inline data", n, kMaxInlineBytes); }
std::string problem(const WriteInline& m) {
  if (m.data.size() > UINT64_MAX - m.remote_addr) return "remote range wraps around";
  return inlineProblem(m.data.size());
}
std::string problem(const ReadData& m) { return inlineProblem(m.data.size()); }
std::string problem(const SendInline& m) { return inlineProblem(m.data.size()); }
std::string vecProblem(const std::vector<VecPiece>& pieces) {
  if (pieces.empty() || pieces.size() > kMaxVectorPieces) {
    return "count " + num(pieces.size()) + " out of range 1.." + num(kMaxVectorPieces);
  }
  uint64_t total = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const VecPiece& p = pieces[i];
    if (p.len == 0) return "piece " + num(i) + " is empty";
    if (p.len > UINT64_MAX - p.addr) return "piece " + num(i) + " wraps around";
    total += p.len;  // <= 2048 * (2^32 - 1): no overflow
  }
  if (total > kMaxVectorBytes) {
    return "pieces total " + num(total) + " bytes, max " + num(kMaxVectorBytes);
  }
  return "";
}
std::string problem(const WriteVec& m) { return vecProblem(m.pieces); }
std::string problem(const ReadVec& m) { return vecProblem(m.pieces); }

template <typename T>
Status validateMessage(const T& m) {
  std::string p = problem(m);
  if (p.empty()) return Status::ok();
  return Status(Code::kInvalidArgument, std::string(info(T::kType).name) + ": " + p);
}

// Parsed fields pass the same rules before *out is set.
template <typename T>
Status finish(T& parsed, T* out) {
  std::string p = problem(parsed);
  if (!p.empty()) return bad(std::string(info(T::kType).name) + ": " + p);
  *out = std::move(parsed);
  return Status::ok();
}

Status checkExactLength(FrameType type, size_t len) {
  const TypeInfo& t = info(type);
  if (len != t.min_payload) {
    return bad(std::string(t.name) + " payload is " + num(len) + " bytes, expected " +
               num(t.min_payload));
  }
  return Status::ok();
}
Status checkBoundedLength(FrameType type, size_t len) {
  const TypeInfo& t = info(type);
  if (len < t.min_payload || len > t.max_payload) {
    return bad(std::string(t.name) + " payload is " + num(len) + " bytes, allowed " +
               num(t.min_payload) + ".." + num(t.max_payload));
  }
  return Status::ok();
}

// Reads a str16 that must end exactly at the end of the payload.
Status readLastStr16(Reader& r, const char* where, const char* field, std::string* out) {
  if (r.remaining() < kStr16Bytes) {
    return bad(std::string(where) + ": no room for the " + field + " length");
  }
  uint16_t len = r.u16();
  if (len != r.remaining()) {
    return bad(std::string(where) + ": " + field + " length " + num(len) + " but " +
               num(r.remaining()) + " bytes remain");
  }
  out->assign(reinterpret_cast<const char*>(r.bytes(len)), len);
  return Status::ok();
}
// Reads a str16 followed by more fields.
Status readStr16(Reader& r, const char* where, const char* field, std::string* out) {
  if (r.remaining() < kStr16Bytes) {
    return bad(std::string(where) + ": no room for the " + field + " length");
  }
  uint16_t len = r.u16();
  if (len > r.remaining()) {
    return bad(std::string(where) + ": " + field + " length " + num(len) + " but only " +
               num(r.remaining()) + " bytes remain");
  }
  out->assign(reinterpret_cast<const char*>(r.bytes(len)), len);
  return Status::ok();
}

Status readHandles(Reader& r, const char* where, size_t n, std::vector<PluginHandle>* out) {
  if (r.remaining() < n * kPluginHandleBytes) {
    return bad(std::string(where) + ": " + num(r.remaining()) + " bytes cannot hold " + num(n) +
               " handles of " + num(kPluginHandleBytes) + " bytes");
  }
  out->resize(n);
  for (PluginHandle& h : *out) std::memcpy(h.data(), r.bytes(kPluginHandleBytes), h.size());
  return Status::ok();
}

// Appends a header with a placeholder length, the payload, then patches the length.
template <typename Body>
void frame(FrameType type, std::vector<uint8_t>* out, Body body) {
  size_t start = out->size();
  Writer w(out);
  w.u32(kFrameMagic);
  w.u8(kFrameVersion);
  w.u8(static_cast<uint8_t>(type));
  w.u16(0);  // flags
  w.u32(0);  // payload_len, patched below
  w.u32(0);  // reserved
  body(w);
  wire::put32(out->data() + start + 8,
              static_cast<uint32_t>(out->size() - start - kFrameHeaderBytes));
}

void putHandles(Writer& w, const std::vector<PluginHandle>& handles) {
  for (const PluginHandle& h : handles) w.bytes(h.data(), h.size());
}

// Read and ReadVec name where the reader queued its receives in what is reserved (zero) in
// Write and WriteVec: first_channel u16 | reserved u16.
template <typename T>
void putFirstChannel(Writer& w, const T& m) {
  if constexpr (requires { m.first_channel; }) {
    w.u16(m.first_channel);
    w.u16(0);
  } else {
    w.u32(0);
  }
}
template <typename T>
Status getFirstChannel(Reader& r, T* m) {
  if constexpr (requires { m->first_channel; }) {
    m->first_channel = r.u16();
    if (r.u16() == 0) return Status::ok();
  } else if (r.u32() == 0) {
    return Status::ok();
  }
  return bad(std::string(info(T::kType).name) + ": non-zero reserved field");
}

template <typename T>
void encodeRemoteAccess(const T& m, std::vector<uint8_t>* out) {
  frame(T::kType, out, [&](Writer& w) {
    w.u64(m.xfer_id);
    w.u64(m.remote_addr);
    w.u64(m.size);
    w.u64(m.token.lo);
    w.u64(m.token.hi);
    w.u32(m.mr_id);
    putFirstChannel(w, m);
  });
}
template <typename T>
Status decodeRemoteAccess(const uint8_t* p, size_t len, T* out) {
  TCPXP_RETURN_IF_ERROR(checkExactLength(T::kType, len));
  Reader r(p, len);
  T m;
  m.xfer_id = r.u64();
  m.remote_addr = r.u64();
  m.size = r.u64();
  m.token.lo = r.u64();
  m.token.hi = r.u64();
  m.mr_id = r.u32();
  TCPXP_RETURN_IF_ERROR(getFirstChannel(r, &m));
  return finish(m, out);
}

template <typename T>
void encodeXferStep(const T& m, std::vector<uint8_t>* out) {
  frame(T::kType, out, [&](Writer& w) {
    w.u64(m.xfer_id);
    w.u8(static_cast<uint8_t>(m.initiator));
    w.zeros(kXferStepReservedBytes);
  });
}
template <typename T>
Status decodeXferStep(const uint8_t* p, size_t len, T* out) {
  TCPXP_RETURN_IF_ERROR(checkExactLength(T::kType, len));
  Reader r(p, len);
  T m;
  m.xfer_id = r.u64();
  m.initiator = static_cast<Initiator>(r.u8());
  if (!wire::allZero(r.bytes(kXferStepReservedBytes), kXferStepReservedBytes)) {
    return bad(std::string(info(T::kType).name) + ": non-zero reserved bytes");
  }
  return finish(m, out);
}

}  // namespace

const char* frameTypeName(FrameType type) { return info(type).name; }

Status decodeFrameHeader(const uint8_t in[kFrameHeaderBytes], FrameHeader* out) {
  uint32_t magic = wire::get32(in);
  if (magic != kFrameMagic) {
    return bad("control frame has a bad magic " + num(magic) + " (not a tcpx-p2p control socket)");
  }
  if (in[4] != kFrameVersion) {
    return bad("control frame version " + num(in[4]) + ", expected " + num(kFrameVersion));
  }
  uint8_t type = in[5];
  if (type == 0 || type >= kNumTypes) return bad("control frame has unknown type " + num(type));
  const TypeInfo& t = kTypes[type];
  uint16_t flags = wire::get16(in + 6);
  if (flags != 0) return bad(std::string(t.name) + " frame has unknown flags " + num(flags));
  if (wire::get32(in + 12) != 0) return bad(std::string(t.name) + " frame has non-zero reserved");
  uint32_t len = wire::get32(in + 8);
  if (len < t.min_payload || len > t.max_payload) {
    std::string allowed = t.min_payload == t.max_payload
                              ? "exactly " + num(t.min_payload)
                              : num(t.min_payload) + ".." + num(t.max_payload);
    return bad(std::string(t.name) + " frame announces a " + num(len) + "-byte payload, allowed " +
               allowed);
  }
  *out = FrameHeader{static_cast<FrameType>(type), len};
  return Status::ok();
}

Status validate(const Hello& msg) { return validateMessage(msg); }
Status validate(const HelloAck& msg) { return validateMessage(msg); }
Status validate(const Send& msg) { return validateMessage(msg); }
Status validate(const Write& msg) { return validateMessage(msg); }
Status validate(const Read& msg) { return validateMessage(msg); }
Status validate(const ReadOk& msg) { return validateMessage(msg); }
Status validate(const Cts& msg) { return validateMessage(msg); }
Status validate(const Done& msg) { return validateMessage(msg); }
Status validate(const Nack& msg) { return validateMessage(msg); }
Status validate(const WriteInline& msg) { return validateMessage(msg); }
Status validate(const ReadData& msg) { return validateMessage(msg); }
Status validate(const SendInline& msg) { return validateMessage(msg); }
Status validate(const Notify& msg) { return validateMessage(msg); }
Status validate(const Bye& msg) { return validateMessage(msg); }
Status validate(const Heartbeat& msg) { return validateMessage(msg); }
Status validate(const WriteVec& msg) { return validateMessage(msg); }
Status validate(const ReadVec& msg) { return validateMessage(msg); }

// Hello ---------------------------------------------------------------------------------------

void encode(const Hello& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kHello, out, [&](Writer& w) {
    w.u32(msg.engine_version);
    w.u16(static_cast<uint16_t>(msg.handles.size()));
    w.u16(0);
    w.u32(msg.chunk_bytes);
    w.u32(static_cast<uint32_t>(msg.gpu_index));
    w.u32(msg.flags);
    putHandles(w, msg.handles);
    w.str16(msg.transport);
  });
}

Status decode(const uint8_t* payload, size_t len, Hello* out) {
  TCPXP_RETURN_IF_ERROR(checkBoundedLength(FrameType::kHello, len));
  Reader r(payload, len);
  Hello m;
  m.engine_version = r.u32();
  uint16_t n = r.u16();
  uint16_t reserved = r.u16();
  m.chunk_bytes = r.u32();
  m.gpu_index = static_cast<int32_t>(r.u32());
  m.flags = r.u32();
  if (reserved != 0) return bad("Hello: non-zero reserved field");
  if (std::string p = channelsProblem(n); !p.empty()) return bad("Hello: " + p);
  TCPXP_RETURN_IF_ERROR(readHandles(r, "Hello", n, &m.handles));
  TCPXP_RETURN_IF_ERROR(readLastStr16(r, "Hello", "transport name", &m.transport));
  return finish(m, out);
}

// HelloAck ------------------------------------------------------------------------------------

void encode(const HelloAck& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kHelloAck, out, [&](Writer& w) {
    w.u32(static_cast<uint32_t>(msg.status));
    w.u16(static_cast<uint16_t>(msg.handles.size()));
    w.u16(0);
    w.u32(msg.chunk_bytes);
    w.u32(static_cast<uint32_t>(msg.gpu_index));
    putHandles(w, msg.handles);
    w.str16(msg.message);
  });
}

Status decode(const uint8_t* payload, size_t len, HelloAck* out) {
  TCPXP_RETURN_IF_ERROR(checkBoundedLength(FrameType::kHelloAck, len));
  Reader r(payload, len);
  HelloAck m;
  uint32_t status = r.u32();
  uint16_t n = r.u16();
  uint16_t reserved = r.u16();
  m.chunk_bytes = r.u32();
  m.gpu_index = static_cast<int32_t>(r.u32());
  if (reserved != 0) return bad("HelloAck: non-zero reserved field");
  if (!knownCode(status)) return bad("HelloAck: unknown status " + num(status));
  m.status = static_cast<Code>(status);
  if (n > kMaxChannels) return bad("HelloAck: " + channelsProblem(n));
  TCPXP_RETURN_IF_ERROR(readHandles(r, "HelloAck", n, &m.handles));
  TCPXP_RETURN_IF_ERROR(readLastStr16(r, "HelloAck", "message", &m.message));
  return finish(m, out);
}

// Send, Write, Read, ReadOk -------------------------------------------------------------------

void encode(const Send& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kSend, out, [&](Writer& w) {
    w.u64(msg.xfer_id);
    w.u64(msg.size);
  });
}

Status decode(const uint8_t* payload, size_t len, Send* out) {
  TCPXP_RETURN_IF_ERROR(checkExactLength(FrameType::kSend, len));
  Reader r(payload, len);
  Send m;
  m.xfer_id = r.u64();
  m.size = r.u64();
  return finish(m, out);
}

void encode(const Write& msg, std::vector<uint8_t>* out) { encodeRemoteAccess(msg, out); }
Status decode(const uint8_t* payload, size_t len, Write* out) {
  return decodeRemoteAccess(payload, len, out);
}
void encode(const Read& msg, std::vector<uint8_t>* out) { encodeRemoteAccess(msg, out); }
Status decode(const uint8_t* payload, size_t len, Read* out) {
  return decodeRemoteAccess(payload, len, out);
}

void encode(const ReadOk& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kReadOk, out, [&](Writer& w) { w.u64(msg.xfer_id); });
}

Status decode(const uint8_t* payload, size_t len, ReadOk* out) {
  TCPXP_RETURN_IF_ERROR(checkExactLength(FrameType::kReadOk, len));
  ReadOk m;
  m.xfer_id = wire::get64(payload);
  return finish(m, out);
}

// Cts, Done, Nack -----------------------------------------------------------------------------

void encode(const Cts& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kCts, out, [&](Writer& w) {
    w.u64(msg.xfer_id);
    w.u8(static_cast<uint8_t>(msg.initiator));
    w.zeros(1);
    w.u16(msg.first_channel);
    w.zeros(4);
  });
}
Status decode(const uint8_t* payload, size_t len, Cts* out) {
  TCPXP_RETURN_IF_ERROR(checkExactLength(FrameType::kCts, len));
  Reader r(payload, len);
  Cts m;
  m.xfer_id = r.u64();
  m.initiator = static_cast<Initiator>(r.u8());
  bool reserved_zero = wire::allZero(r.bytes(1), 1);
  m.first_channel = r.u16();
  if (!reserved_zero || !wire::allZero(r.bytes(4), 4)) return bad("Cts: non-zero reserved bytes");
  return finish(m, out);
}
void encode(const Done& msg, std::vector<uint8_t>* out) { encodeXferStep(msg, out); }
Status decode(const uint8_t* payload, size_t len, Done* out) {
  return decodeXferStep(payload, len, out);
}

void encode(const Nack& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kNack, out, [&](Writer& w) {
    w.u64(msg.xfer_id);
    w.u8(static_cast<uint8_t>(msg.initiator));
    w.zeros(kNackReservedBytes);
    w.u32(static_cast<uint32_t>(msg.code));
    w.str16(msg.message);
  });
}

Status decode(const uint8_t* payload, size_t len, Nack* out) {
  TCPXP_RETURN_IF_ERROR(checkBoundedLength(FrameType::kNack, len));
  Reader r(payload, len);
  Nack m;
  m.xfer_id = r.u64();
  uint8_t initiator = r.u8();
  if (!wire::allZero(r.bytes(kNackReservedBytes), kNackReservedBytes)) {
    return bad("Nack: non-zero reserved bytes");
  }
  uint32_t code = r.u32();
  if (!knownInitiator(initiator)) return bad("Nack: unknown initiator " + num(initiator));
  if (!knownCode(code)) return bad("Nack: unknown code " + num(code));
  m.initiator = static_cast<Initiator>(initiator);
  m.code = static_cast<Code>(code);
  TCPXP_RETURN_IF_ERROR(readLastStr16(r, "Nack", "message", &m.message));
  return finish(m, out);
}

// Notify, Bye ---------------------------------------------------------------------------------

void encode(const Notify& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kNotify, out, [&](Writer& w) {
    w.str16(msg.name);
    w.str16(msg.msg);
  });
}

Status decode(const uint8_t* payload, size_t len, Notify* out) {
  TCPXP_RETURN_IF_ERROR(checkBoundedLength(FrameType::kNotify, len));
  Reader r(payload, len);
  Notify m;
  TCPXP_RETURN_IF_ERROR(readStr16(r, "Notify", "name", &m.name));
  TCPXP_RETURN_IF_ERROR(readLastStr16(r, "Notify", "msg", &m.msg));
  return finish(m, out);
}

void encode(const Bye&, std::vector<uint8_t>* out) {
  frame(FrameType::kBye, out, [](Writer&) {});
}

Status decode(const uint8_t*, size_t len, Bye* out) {
  TCPXP_RETURN_IF_ERROR(checkExactLength(FrameType::kBye, len));
  *out = Bye{};
  return Status::ok();
}

void encode(const Heartbeat&, std::vector<uint8_t>* out) {
  frame(FrameType::kHeartbeat, out, [](Writer&) {});
}

Status decode(const uint8_t*, size_t len, Heartbeat* out) {
  TCPXP_RETURN_IF_ERROR(checkExactLength(FrameType::kHeartbeat, len));
  *out = Heartbeat{};
  return Status::ok();
}

// Inline data -----------------------------------------------------------------------------------

void encode(const WriteInline& msg, std::vector<uint8_t>* out) {
  frame(FrameType::kWriteInline, out, [&](Writer& w) {
    w.u64(msg.xfer_id);
    w.u64(msg.remote_addr);
    w.u64(msg.token.lo);
    w.u64(msg.token.hi);
    w.u32(msg.mr_id);
    w.u32(0);
    w.bytes(msg.data.data(), msg.data.size());
  });
}

Status decode(const uint8_t* payload, size_t len, WriteInline* out) {
  TCPXP_RETURN_IF_ERROR(checkBoundedLength(FrameType::kWriteInline, len));
  Reader r(payload, len);
  WriteInline m;
  m.xfer_id = r.u64();
  m.remote_addr = r.u64();
  m.token.lo = r.u64();
  m.token.hi = r.u64();
  m.mr_id = r.u32();
  if (r.u32() != 0) return bad("WriteInline: non-zero reserved field");
  m.data = {payload + kWriteInlineFixedBytes, len - kWriteInlineFixedBytes};
  return finish(m, out);
}

namespace {
template <typename T>
void encodeIdAndData(const T& msg, std::vector<uint8_t>* out) {
  frame(T::kType, out, [&](Writer& w) {
    w.u64(msg.xfer_id);
    w.bytes(msg.data.data(), msg.data.size());
  });
}
template <typename T>
Status decodeIdAndData(const uint8_t* payload, size_t len, T* out) {
  TCPXP_RETURN_IF_ERROR(checkBoundedLength(T::kType, len));
  T m;
  m.xfer_id = wire::get64(payload);
  m.data = {payload + kIdOnlyBytes, len - kIdOnlyBytes};
  return finish(m, out);
}
}  // namespace

void encode(const ReadData& msg, std::vector<uint8_t>* out) { encodeIdAndData(msg, out); }
Status decode(const uint8_t* payload, size_t len, ReadData* out) {
  return decodeIdAndData(payload, len, out);
}
void encode(const SendInline& msg, std::vector<uint8_t>* out) { encodeIdAndData(msg, out); }
Status decode(const uint8_t* payload, size_t len, SendInline* out) {
  return decodeIdAndData(payload, len, out);
}

bool piecesOverlap(std::span<const VecPiece> pieces, std::vector<VecPiece>* scratch) {
  auto overlapIn = [](std::span<const VecPiece> sorted) {
    for (size_t i = 1; i < sorted.size(); ++i) {
      // addr + len does not wrap (checked on decode and by the API).
      if (sorted[i - 1].addr + sorted[i - 1].len > sorted[i].addr) return true;
    }
    return false;
  };
  bool ascending = true;
  for (size_t i = 1; i < pieces.size() && ascending; ++i) {
    ascending = pieces[i - 1].addr <= pieces[i].addr;
  }
  if (ascending) return overlapIn(pieces);
  scratch->assign(pieces.begin(), pieces.end());
  std::sort(scratch->begin(), scratch->end(),
            [](const VecPiece& a, const VecPiece& b) { return a.addr < b.addr; });
  return overlapIn(*scratch);
}

// Vectors -------------------------------------------------------------------------------------

namespace {
template <typename T>
void encodeVec(const T& msg, std::vector<uint8_t>* out) {
  // One allocation for the frame (thousands of pieces: growing per field cost ~5% of a vector).
  out->reserve(out->size() + kFrameHeaderBytes + kVecFixedBytes +
               kVecPieceBytes * msg.pieces.size());
  frame(T::kType, out, [&](Writer& w) {
    w.u64(msg.xfer_id);
    w.u32(static_cast<uint32_t>(msg.pieces.size()));
    putFirstChannel(w, msg);
    // The pieces in place: one resize, four stores each.
    size_t at = out->size();
    out->resize(at + kVecPieceBytes * msg.pieces.size());
    uint8_t* q = out->data() + at;
    for (const VecPiece& p : msg.pieces) {
      put64(q, p.addr);
      put32(q + 8, p.len);
      put64(q + 12, p.token.lo);
      put64(q + 20, p.token.hi);
      q += kVecPieceBytes;
    }
  });
}
template <typename T>
Status decodeVec(const uint8_t* payload, size_t len, T* out) {
  TCPXP_RETURN_IF_ERROR(checkBoundedLength(T::kType, len));
  const char* name = info(T::kType).name;
  Reader r(payload, len);
  T m;
  m.xfer_id = r.u64();
  uint32_t count = r.u32();
  TCPXP_RETURN_IF_ERROR(getFirstChannel(r, &m));
  // The count must match the payload exactly (checked before anything is allocated for it).
  if (count == 0 || count > kMaxVectorPieces ||
      len != kVecFixedBytes + size_t{kVecPieceBytes} * count) {
    return bad(std::string(name) + ": count " + num(count) + " does not match a " + num(len) +
               "-byte payload");
  }
  m.pieces.resize(count);
  for (VecPiece& p : m.pieces) {
    p.addr = r.u64();
    p.len = r.u32();
    p.token.lo = r.u64();
    p.token.hi = r.u64();
  }
  return finish(m, out);
}
}  // namespace

void encode(const WriteVec& msg, std::vector<uint8_t>* out) { encodeVec(msg, out); }
Status decode(const uint8_t* payload, size_t len, WriteVec* out) {
  return decodeVec(payload, len, out);
}
void encode(const ReadVec& msg, std::vector<uint8_t>* out) { encodeVec(msg, out); }
Status decode(const uint8_t* payload, size_t len, ReadVec* out) {
  return decodeVec(payload, len, out);
}

}  // namespace tcpxp::control
