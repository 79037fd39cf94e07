// Fuzz target: an Endpoint's Connection state machine fed arbitrary frame sequences.
//
// One Endpoint per process (host memory; its channels on the in-memory transport of mem_net.h,
// its control port real TCP on loopback). Per input, one new control connection from a scripted
// peer (tests/engine/scripted_peer.h) in this process, on the same in-memory transport:
//   byte 0, the mode:  bit 0  complete a real handshake first (Hello, HelloAck, the channel's
//                             comms), so that the endpoint's side is ready;
//                      bits 1-5 after the handshake, this endpoint starts, on that connection:
//                             1 a recv, 2 a send, 3 a write, 4 a read, 5 a second send (sizes
//                             from the next bytes), so that the peer's Cts/Done/Nack/ReadOk/
//                             ReadData with small ids (1, 2, ...) find transfers of ours;
//   then records, each a tag byte and its fields (past the input's end every field reads 0):
//      tag & 0x0f = 0     raw bytes: a length byte, then that many bytes sent as they are;
//                         with 0x10: channel data instead: a size byte; the peer sends a message
//                         of that size on its channel to the endpoint (in-memory transport:
//                         buffered until the endpoint posts a receive; nothing without a
//                         handshake);
//      tag & 0x0f = 1..15 a frame of that FrameType built from the next bytes and encoded with
//                         control::encode (fields as given, so invalid ones too):
//        0x10  Write/Read/WriteInline: aim at the endpoint's advertisement (its token, mr id and
//              address + an offset) instead of a made-up token;
//        0x20  initiator kDataReceiver (Cts, Done, Nack), else kDataSender;
//        0x40  Hello/HelloAck: odd variants (another engine version, transport name);
//              Cts/Done/Nack: a raw initiator byte;
//        0x80  the transfer id is 8 bytes, else 1 (small ids, the ones in use).
//      Read and ReadVec end with a byte c: first_channel c below 0x80 (0 is the one channel,
//      others do not exist), else kNoChannel.
//      Sizes and offsets are a byte indexing kSizes (boundaries of chunks, inline, 4 GiB, ...).
// After the records: a Read with id UINT64_MAX and a token nobody holds (answered by a Nack
// if the connection is still up) and a Bye, then reading until the endpoint closes the socket:
// every input is fully processed, and the connection gone, before the next starts. (When the
// bytes end inside a frame, the Bye would only complete it: shutdown(SHUT_WR) ends the stream
// instead. Otherwise the endpoint closes first, which leaves no TIME_WAIT socket on an ephemeral
// port: at ~800 inputs a second those ran the machine's ephemeral ports low.)
//
// Properties: no crash, use-after-free, leak or undefined behaviour (ASan/UBSan); every frame
// the endpoint sends decodes; the endpoint closes the socket within kBoundMs of the input's
// end, and every transfer this side started on it has ended by then; notifications only come from
// established connections, with their id; no ERROR line is logged (illegal state transitions
// log at ERROR). At exit, the same endpoint must still serve a normal connection from a second
// endpoint (send/recv and writes, every byte checked).
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/log.h"
#include "control/fifo_item.h"
#include "engine/endpoint.h"
#include "engine/handshake.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/mem_net.h"
#include "tests/engine/scripted_peer.h"
#include "transport/net.h"

namespace {

using namespace tcpxp;
using namespace tcpxp::engine;
using tcpxp::control::FrameType;
using tcpxp::engine::testing::ScriptedPeer;
using tcpxp::fuzz::memNet;
using Clock = std::chrono::steady_clock;

constexpr int kBoundMs = 10000;
constexpr size_t kOpsBytes = 4 << 20;  // this side's transfers use [0, 4 MiB) of the buffer
constexpr size_t kAdBytes = 4 << 20;   // the advertisement: the next 4 MiB
constexpr uint64_t kSizes[16] = {0,
                                 1,
                                 8,
                                 4095,
                                 4096,
                                 64 << 10,
                                 (64 << 10) + 1,
                                 (1 << 20) - 1,
                                 1 << 20,
                                 (1 << 20) + 1,
                                 3 << 20,
                                 4 << 20,
                                 (4 << 20) + 1,
                                 uint64_t{1} << 32,
                                 uint64_t{1} << 63,
                                 UINT64_MAX};

struct Fixture {
  transport::NetPlugin* net = nullptr;  // mem_net.h
  std::unique_ptr<Endpoint> ep;
  std::vector<uint8_t> buffer;  // registered as `mr`: ops area, then the advertised area
  MrId mr = 0;
  control::FifoItem ad;  // what the endpoint advertised (to any connection)
  std::string transport;
  std::vector<uint8_t> inline_bytes = std::vector<uint8_t>(control::kMaxInlineBytes + 1024, 0xab);
  std::vector<uint8_t> channel_bytes = std::vector<uint8_t>(transport::Net::kMaxRequestBytes, 0xcd);
  uint64_t inputs = 0;
  uint64_t handshakes = 0;
};
Fixture* fx = nullptr;

// Fields of a record; zeros past the end of the input.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), left_(size) {}
  bool empty() const { return left_ == 0; }
  uint8_t u8() {
    if (left_ == 0) return 0;
    --left_;
    return *p_++;
  }
  uint16_t u16() {
    uint16_t lo = u8();
    return static_cast<uint16_t>(lo | (u8() << 8));
  }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{u8()} << (8 * i);
    return v;
  }
  uint64_t size() { return kSizes[u8() % 16]; }
  std::vector<uint8_t> bytes(size_t n) {
    n = std::min(n, left_);
    std::vector<uint8_t> out(p_, p_ + n);
    p_ += n;
    left_ -= n;
    return out;
  }

 private:
  const uint8_t* p_;
  size_t left_;
};

void abortOnError(LogLevel level, const char* line) {
  if (level <= LogLevel::kError) {
    std::fprintf(stderr, "connection_fuzzer: the endpoint logged an error: %s\n", line);
    std::abort();
  }
}

// One record -> the bytes to send on the control socket (or data sent at once on the channel).
void appendRecord(Input& in, ScriptedPeer& peer, std::vector<uint8_t>* out) {
  const uint8_t tag = in.u8();
  const auto type = static_cast<FrameType>(tag & 0x0f);
  const bool use_ad = tag & 0x10;
  const auto initiator =
      (tag & 0x20) ? control::Initiator::kDataReceiver : control::Initiator::kDataSender;
  const bool odd = tag & 0x40;
  auto id = [&] { return (tag & 0x80) ? in.u64() : uint64_t{in.u8()}; };
  auto initiatorField = [&] { return odd ? static_cast<control::Initiator>(in.u8()) : initiator; };
  auto firstChannel = [&]() -> uint16_t {
    uint8_t c = in.u8();
    return c < 0x80 ? c : control::kNoChannel;
  };
  auto inlineData = [&] {
    size_t n = std::min<size_t>(in.u16(), fx->inline_bytes.size());
    return std::span<const uint8_t>(fx->inline_bytes.data(), n);
  };
  // Target fields of Write/Read/WriteInline: the advertisement's, or made up.
  struct Target {
    uint64_t addr;
    control::AccessToken token;
    uint32_t mr;
  };
  auto target = [&] {
    if (use_ad) return Target{fx->ad.addr + in.size(), fx->ad.token, fx->ad.mr_id};
    return Target{in.u64(), {in.u8(), in.u8()}, in.u8()};
  };
  if ((tag & 0x0f) == 0 && use_ad) {
    size_t size = std::min<uint64_t>(in.size(), fx->channel_bytes.size());
    if (void* comm = peer.sendComm(0)) {
      void* request = nullptr;
      Status st =
          transport::Net(fx->net).isend(comm, fx->channel_bytes.data(), size, nullptr, &request);
      FUZZ_REQUIRE(st.isOk(), "the peer's isend: %s", st.toString().c_str());
    }
    return;
  }
  if ((tag & 0x0f) == 0) {
    std::vector<uint8_t> raw = in.bytes(in.u8());
    out->insert(out->end(), raw.begin(), raw.end());
    return;
  }
  switch (type) {
    case FrameType::kHello: {
      control::Hello m;
      m.engine_version = odd ? in.u8() : kEngineVersion;
      m.handles.resize(in.u8() % (control::kMaxChannels + 2));
      m.chunk_bytes = static_cast<uint32_t>(in.size());
      m.gpu_index = static_cast<int8_t>(in.u8());
      m.transport = odd ? std::string(in.u8() % 70, 'x') : fx->transport;
      return control::encode(m, out);
    }
    case FrameType::kHelloAck: {
      control::HelloAck m;
      m.status = static_cast<Code>(in.u8() % 24);
      m.handles.resize(in.u8() % 3);
      m.chunk_bytes = static_cast<uint32_t>(in.size());
      m.message = std::string(odd ? in.u8() : 0, 'm');
      return control::encode(m, out);
    }
    case FrameType::kSend: {
      uint64_t xid = id();
      return control::encode(control::Send{xid, in.size()}, out);
    }
    case FrameType::kWrite:
    case FrameType::kRead: {
      uint64_t xid = id();
      Target t = target();
      uint64_t size = in.size();
      if (type == FrameType::kWrite) {
        return control::encode(control::Write{xid, t.addr, size, t.token, t.mr}, out);
      }
      return control::encode(control::Read{xid, t.addr, size, t.token, t.mr, firstChannel()}, out);
    }
    case FrameType::kReadOk:
      return control::encode(control::ReadOk{id()}, out);
    case FrameType::kCts: {
      uint64_t xid = id();
      control::Initiator who = initiatorField();
      return control::encode(control::Cts{xid, who, in.u8()}, out);
    }
    case FrameType::kDone: {
      uint64_t xid = id();
      return control::encode(control::Done{xid, initiatorField()}, out);
    }
    case FrameType::kNack: {
      uint64_t xid = id();
      control::Initiator who = initiatorField();
      auto code = static_cast<Code>(in.u8() % 24);
      return control::encode(control::Nack{xid, who, code, std::string(in.u8() * 5, 'n')}, out);
    }
    case FrameType::kNotify: {
      std::string name(in.u8() * 2, 'a');
      return control::encode(control::Notify{name, std::string(in.u8() * 2, 'b')}, out);
    }
    case FrameType::kBye:
      if (odd) {  // the vector frames (types 16, 17 lie outside the tag's 4 bits)
        uint64_t xid = id();
        Target t = target();
        std::vector<control::VecPiece> pieces(1 + in.u8() % 8);
        for (control::VecPiece& p : pieces) {
          p.addr = t.addr + in.u16();
          p.len = in.u16();
          p.token = t.token;
        }
        if (initiator == control::Initiator::kDataSender) {
          return control::encode(control::WriteVec{xid, pieces}, out);
        }
        return control::encode(control::ReadVec{xid, pieces, firstChannel()}, out);
      }
      return control::encode(control::Bye{}, out);
    case FrameType::kWriteVec:
    case FrameType::kReadVec:
      return;  // made by the odd Bye above
    case FrameType::kWriteInline: {
      uint64_t xid = id();
      Target t = target();
      return control::encode(control::WriteInline{xid, t.addr, t.token, t.mr, inlineData()}, out);
    }
    case FrameType::kReadData: {
      uint64_t xid = id();
      return control::encode(control::ReadData{xid, inlineData()}, out);
    }
    case FrameType::kSendInline: {
      uint64_t xid = id();
      return control::encode(control::SendInline{xid, inlineData()}, out);
    }
    case FrameType::kHeartbeat:
      return control::encode(control::Heartbeat{}, out);
  }
}

// Every frame from the endpoint must decode (the peer's engine would close on one that does not).
template <typename Msg>
void requireDecodes(const std::vector<uint8_t>& payload) {
  Msg m;
  Status st = control::decode(payload.data(), payload.size(), &m);
  FUZZ_REQUIRE(st.isOk(), "the endpoint sent a %s that does not decode: %s",
               control::frameTypeName(Msg::kType), st.toString().c_str());
}

void checkFromEndpoint(FrameType type, const std::vector<uint8_t>& payload, bool* nacked) {
  switch (type) {
    case FrameType::kHello:
      return requireDecodes<control::Hello>(payload);
    case FrameType::kHelloAck:
      return requireDecodes<control::HelloAck>(payload);
    case FrameType::kSend:
      return requireDecodes<control::Send>(payload);
    case FrameType::kWrite:
      return requireDecodes<control::Write>(payload);
    case FrameType::kRead:
      return requireDecodes<control::Read>(payload);
    case FrameType::kReadOk:
      return requireDecodes<control::ReadOk>(payload);
    case FrameType::kCts:
      return requireDecodes<control::Cts>(payload);
    case FrameType::kDone:
      return requireDecodes<control::Done>(payload);
    case FrameType::kNack: {
      control::Nack m;
      Status st = control::decode(payload.data(), payload.size(), &m);
      FUZZ_REQUIRE(st.isOk(), "the endpoint sent a Nack that does not decode: %s",
                   st.toString().c_str());
      if (m.xfer_id == UINT64_MAX) *nacked = true;
      return;
    }
    case FrameType::kNotify:
      return requireDecodes<control::Notify>(payload);
    case FrameType::kBye:
      return requireDecodes<control::Bye>(payload);
    case FrameType::kWriteInline:
      return requireDecodes<control::WriteInline>(payload);
    case FrameType::kReadData:
      return requireDecodes<control::ReadData>(payload);
    case FrameType::kSendInline:
      return requireDecodes<control::SendInline>(payload);
    case FrameType::kHeartbeat:
      return requireDecodes<control::Heartbeat>(payload);
    case FrameType::kWriteVec:
      return requireDecodes<control::WriteVec>(payload);
    case FrameType::kReadVec:
      return requireDecodes<control::ReadVec>(payload);
  }
}

int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Whether the endpoint, having read `bytes`, is at a frame boundary or has closed (a header it
// refuses closes the connection): then a Bye that follows is read as one.
bool endsOnFrameBoundary(const std::vector<uint8_t>& bytes) {
  size_t off = 0;
  for (;;) {
    if (off == bytes.size()) return true;
    if (bytes.size() - off < control::kFrameHeaderBytes) return false;
    control::FrameHeader h;
    if (!control::decodeFrameHeader(bytes.data() + off, &h).isOk()) return true;
    off += control::kFrameHeaderBytes;
    if (bytes.size() - off < h.payload_len) return false;
    off += h.payload_len;
  }
}

// Sends `bytes` (then EOF unless `closes` says the endpoint closes by itself) while reading, and
// checking, what the endpoint sends, until it closes the socket. The endpoint's output is
// drained all along, so neither side can block the other however much the input makes it answer.
void pump(ScriptedPeer& peer, const std::vector<uint8_t>& bytes, bool closes, bool* nacked) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kBoundMs);
  size_t off = 0;
  bool shut = closes;
  for (;;) {
    for (;;) {
      control::FrameHeader h;
      std::vector<uint8_t> payload;
      Status st = peer.next(&h, &payload, 0);
      if (st.code() == Code::kTimeout) break;
      if (st.code() == Code::kPeerClosed) return;
      FUZZ_REQUIRE(st.isOk(), "the endpoint sent bytes that are not a frame: %s",
                   st.toString().c_str());
      checkFromEndpoint(h.type, payload, nacked);
    }
    short events = POLLIN;
    if (off < bytes.size()) {
      ssize_t n =
          ::send(peer.fd(), bytes.data() + off, bytes.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        off = bytes.size();  // the endpoint closed: read what it sent until EOF
      } else {
        events |= POLLOUT;
      }
    } else if (!shut) {
      ::shutdown(peer.fd(), SHUT_WR);
      shut = true;
    }
    FUZZ_REQUIRE(Clock::now() < deadline,
                 "the endpoint did not close the control socket within %d ms (%zu of %zu bytes "
                 "sent, then %s)",
                 kBoundMs, off, bytes.size(), closes ? "Bye" : "EOF");
    pollfd p{peer.fd(), events, 0};
    ::poll(&p, 1, std::min(msLeft(deadline), 100));
  }
}

// This side's transfers on the fuzzed connection (mode bits 1-5).
std::vector<XferId> startTransfers(uint8_t mode, ConnId conn, Input& in) {
  std::vector<XferId> ids;
  auto start = [&](Status (Endpoint::*op)(ConnId, std::span<const Segment>, XferId*),
                   size_t offset) {
    Segment seg;
    seg.mr = fx->mr;
    seg.size = std::min<uint64_t>(in.size(), kOpsBytes / 2);
    seg.ptr = fx->buffer.data() + offset;
    // The peer's advertisement, as far as this side knows: any FifoItem will do.
    control::FifoItem item{0x10000, seg.size + in.u8(), in.u8(), {in.u8(), in.u8()}};
    control::encodeFifoItem(item, seg.fifo.data());
    XferId id = 0;
    if (((*fx->ep).*op)(conn, std::span<const Segment>(&seg, 1), &id).isOk()) ids.push_back(id);
  };
  if (mode & 0x02) start(&Endpoint::recvAsync, 0);
  if (mode & 0x04) start(&Endpoint::sendAsync, kOpsBytes / 2);
  if (mode & 0x08) start(&Endpoint::writeAsync, kOpsBytes / 2);
  if (mode & 0x10) start(&Endpoint::readAsync, 0);
  if (mode & 0x20) start(&Endpoint::sendAsync, kOpsBytes / 2);
  return ids;
}

// Connections left over from earlier inputs (a Hello sent as raw bytes that, against the odds,
// completed) are closed, so that accept() below returns this input's connection.
void dropStaleAccepts() {
  for (;;) {
    ConnId id = 0;
    if (!fx->ep->accept(&id, nullptr, nullptr, nullptr, 0).isOk()) return;
    (void)fx->ep->closeConnection(id);
  }
}

// At exit: the fuzzed endpoint still serves a normal connection.
void checkStillUsable() {
  if (fx == nullptr) return;
  std::unique_ptr<Endpoint> other;
  Status st = Endpoint::create(-1, fx->net, &other);
  FUZZ_REQUIRE(st.isOk(), "second endpoint: %s", st.toString().c_str());
  auto accepted = std::async(std::launch::async, [] {
    ConnId id = 0;
    Status s = fx->ep->accept(&id, nullptr, nullptr, nullptr, kBoundMs);
    FUZZ_REQUIRE(s.isOk(), "accept after fuzzing: %s", s.toString().c_str());
    return id;
  });
  ConnId to_fuzzed = 0;
  st = other->connect("127.0.0.1", -1, fx->ep->info().port, &to_fuzzed);
  FUZZ_REQUIRE(st.isOk(), "connect to the fuzzed endpoint: %s", st.toString().c_str());
  ConnId from_other = accepted.get();

  const size_t kBytes = (1 << 20) + 3;
  std::vector<uint8_t> src(kBytes), dst(kBytes, 0);
  for (size_t i = 0; i < kBytes; ++i) src[i] = static_cast<uint8_t>(i * 7 + i / 251);
  MrId src_mr = 0, dst_mr = 0;
  FUZZ_REQUIRE(other->reg(src.data(), kBytes, &src_mr).isOk(), "reg");
  FUZZ_REQUIRE(fx->ep->reg(dst.data(), kBytes, &dst_mr).isOk(), "reg");
  for (size_t size : {size_t{8}, kBytes}) {
    // send -> recv
    std::fill(dst.begin(), dst.end(), 0);
    Segment r{dst_mr, dst.data(), size, {}}, s{src_mr, src.data(), size, {}};
    XferId rid = 0, sid = 0;
    FUZZ_REQUIRE(fx->ep->recvAsync(from_other, {&r, 1}, &rid).isOk(), "recv");
    FUZZ_REQUIRE(other->sendAsync(to_fuzzed, {&s, 1}, &sid).isOk(), "send");
    size_t got = 0;
    st = fx->ep->wait(rid, nullptr, &got, kBoundMs);
    FUZZ_REQUIRE(st.isOk() && got == size, "recv of %zu bytes after fuzzing: %s, %zu bytes", size,
                 st.toString().c_str(), got);
    FUZZ_REQUIRE(other->wait(sid, nullptr, nullptr, kBoundMs).isOk(), "send after fuzzing");
    FUZZ_REQUIRE(std::memcmp(dst.data(), src.data(), size) == 0, "received bytes differ");
    // write into the fuzzed endpoint's advertisement
    std::fill(dst.begin(), dst.end(), 0);
    Segment w{src_mr, src.data(), size, {}};
    st = fx->ep->advertise(from_other, dst_mr, dst.data(), size, &w.fifo);
    FUZZ_REQUIRE(st.isOk(), "advertise: %s", st.toString().c_str());
    XferId wid = 0;
    FUZZ_REQUIRE(other->writeAsync(to_fuzzed, {&w, 1}, &wid).isOk(), "write");
    st = other->wait(wid, nullptr, nullptr, kBoundMs);
    FUZZ_REQUIRE(st.isOk(), "write of %zu bytes after fuzzing: %s", size, st.toString().c_str());
    FUZZ_REQUIRE(std::memcmp(dst.data(), src.data(), size) == 0, "written bytes differ");
  }
  FUZZ_REQUIRE(other->closeConnection(to_fuzzed).isOk(), "close");
  other.reset();
  FUZZ_REQUIRE(fx->ep->dereg(dst_mr).isOk(), "dereg after the connection closed");
  std::fprintf(stderr,
               "connection_fuzzer: after %llu inputs (%llu handshakes) the endpoint still serves "
               "a new connection (send/recv and write of 8 B and 1 MiB + 3, bytes checked)\n",
               static_cast<unsigned long long>(fx->inputs),
               static_cast<unsigned long long>(fx->handshakes));
  // Its own shutdown must be clean too (ASan sees its threads and memory go).
  setLogObserver(nullptr);
  delete fx;
  fx = nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Quiet logs unless asked for (each input ends a connection, most with a warning).
  setenv("UCCL_TCPX_DEBUG", "ERROR", 0);
  fx = new Fixture;
  Status st = memNet(&fx->net);
  FUZZ_REQUIRE(st.isOk(), "in-memory transport: %s", st.toString().c_str());
  st = Endpoint::create(-1, fx->net, &fx->ep);
  FUZZ_REQUIRE(st.isOk(), "Endpoint::create: %s", st.toString().c_str());
  fx->transport = fx->ep->info().transport;
  fx->buffer.assign(kOpsBytes + kAdBytes, 0);
  st = fx->ep->reg(fx->buffer.data(), fx->buffer.size(), &fx->mr);
  FUZZ_REQUIRE(st.isOk(), "reg: %s", st.toString().c_str());
  FifoBlob blob{};
  st = fx->ep->advertise(0, fx->mr, fx->buffer.data() + kOpsBytes, kAdBytes, &blob);
  FUZZ_REQUIRE(st.isOk(), "advertise: %s", st.toString().c_str());
  FUZZ_REQUIRE(control::decodeFifoItem(blob.data(), blob.size(), &fx->ad).isOk(), "FifoItem");
  setLogObserver(abortOnError);
  std::atexit(checkStillUsable);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ++fx->inputs;
  Input in(data, size);
  const uint8_t mode = in.u8();
  dropStaleAccepts();
  ScriptedPeer peer(fx->net);
  Status st = peer.dial(fx->ep->info().port);
  FUZZ_REQUIRE(st.isOk(), "dial: %s", st.toString().c_str());
  ConnId conn = 0;
  std::vector<XferId> ours;
  if (mode & 1) {
    st = peer.handshake(kBoundMs);
    FUZZ_REQUIRE(st.isOk(), "a clean handshake failed: %s", st.toString().c_str());
    st = fx->ep->accept(&conn, nullptr, nullptr, nullptr, kBoundMs);
    FUZZ_REQUIRE(st.isOk(), "the handshaken connection was not accepted: %s",
                 st.toString().c_str());
    ++fx->handshakes;
    ours = startTransfers(mode, conn, in);
  }
  std::vector<uint8_t> bytes;
  size_t records = 0;
  for (; !in.empty(); ++records) appendRecord(in, peer, &bytes);
  control::encode(control::Read{UINT64_MAX, 0, 1, {0, 0}, 0}, &bytes);
  const bool closes = endsOnFrameBoundary(bytes);
  if (closes) control::encode(control::Bye{}, &bytes);
  bool nacked = false;
  pump(peer, bytes, closes, &nacked);
  FUZZ_REQUIRE(nacked || records > 0 || conn == 0,
               "a ready connection did not answer a Read with an unknown token");
  FUZZ_REQUIRE(!nacked || records > 0 || conn != 0,
               "the endpoint answered a Read before any handshake");

  // The socket closes when the connection is destroyed, after it ended all it held: every
  // transfer of this side on it has finished (its status is whatever the peer's frames made it).
  for (XferId id : ours) {
    bool done = false;
    st = fx->ep->poll(id, &done);
    FUZZ_REQUIRE(done, "transfer %llu was still running after its connection closed (%s)",
                 static_cast<unsigned long long>(id), st.toString().c_str());
  }
  for (const Notification& n : fx->ep->takeNotifications()) {
    FUZZ_REQUIRE(n.conn != 0 && (conn == 0 || n.conn == conn),
                 "a notification from connection %llu (this input's: %llu)",
                 static_cast<unsigned long long>(n.conn), static_cast<unsigned long long>(conn));
  }
  return 0;
}
