// The engine keeps the rules TCPX cannot refuse (docs/TCPX.md): a second accept on a listen comm
// crashes TCPX (use after free, then a double-free abort), and a GPU receive of over 2048
// fragments makes it exit(1); so the engine must never issue either, whatever the transfer.
// Two endpoints in one process over loopback, each on its side of the recording decorator
// (tests/transport/fault_net.h, no faults planned) around the built-in transport, move large
// transfers of every kind in both directions over two connections; then every call the engines
// made is checked. Registered with the UNPACK emulation and host buffers taking the GPU receive
// path (UCCL_SOCKET_UNPACK=1, UCCL_TCPX_EMULATE_GPU_BUFFERS=1), where each GPU receive's
// fragment count (cnt[slot], read after test() reports it done) is checked too, and without it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "engine/endpoint.h"
#include "engine_test_util.h"
#include "transport/abi/net_v7.h"
#include "transport/fault_net.h"

namespace tcpxp::engine {
namespace {

using tcpxp::testing::FaultNet;
using tcpxp::testing::NetRecord;
using testing::pattern;

constexpr int64_t kBoundMs = 60000;
constexpr size_t kBig = (size_t{24} << 20) + 3;      // several full chunks and a ragged tail
constexpr uint64_t kTcpxMaxRequest = (4 << 20) - 1;  // every request under 4 MiB
constexpr int kA = 0, kB = 1;

struct Conn {
  ConnId ab = 0, ba = 0;
};

// The chunk size under test: "" is the transport's default; 4194303 the largest allowed.
class DriverRules : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    transport::NetPlugin* pa = nullptr;
    transport::NetPlugin* pb = nullptr;
    ASSERT_TRUE(FaultNet::plugin(kA, &pa).isOk());
    ASSERT_TRUE(FaultNet::plugin(kB, &pb).isOk());
    FaultNet::side(kA).reset();
    FaultNet::side(kB).reset();
    if (*GetParam() != '\0') ::setenv("UCCL_TCPX_CHUNK_BYTES", GetParam(), 1);
    Status sa = Endpoint::create(-1, pa, &ep_[kA]);
    Status sb = Endpoint::create(-1, pb, &ep_[kB]);
    ::unsetenv("UCCL_TCPX_CHUNK_BYTES");
    ASSERT_TRUE(sa.isOk()) << sa.toString();
    ASSERT_TRUE(sb.isOk()) << sb.toString();
    if (*GetParam() != '\0') {
      ASSERT_EQ(ep_[kA]->info().chunk_bytes, std::stoul(GetParam()));
    }
  }

  Endpoint& ep(int side) { return *ep_[side]; }

  void connect(Conn* out) {
    auto accepted = std::async(std::launch::async, [&] {
      ConnId id = 0;
      Status st = ep(kB).accept(&id, nullptr, nullptr, nullptr, kBoundMs);
      EXPECT_TRUE(st.isOk()) << st.toString();
      return id;
    });
    Status st = ep(kA).connect("127.0.0.1", -1, ep(kB).info().port, &out->ab);
    out->ba = accepted.get();
    ASSERT_TRUE(st.isOk()) << st.toString();
    ASSERT_NE(out->ba, 0u);
  }

  // A buffer of `size` on endpoint `side`, registered, with pattern `seed` (or zeros).
  struct Buf {
    std::vector<uint8_t> bytes;
    MrId mr = 0;
  };
  void makeBuf(int side, size_t size, uint32_t seed, Buf* b) {
    b->bytes = seed ? pattern(size, seed) : std::vector<uint8_t>(size, 0);
    ASSERT_TRUE(ep(side).reg(b->bytes.data(), size, &b->mr).isOk());
  }

  void waitOk(int side, XferId id, const char* what) {
    Status st = ep(side).wait(id, nullptr, nullptr, kBoundMs);
    EXPECT_TRUE(st.isOk()) << what << ": " << st.toString();
  }

  // Send/recv both ways at once, then a write A -> B and a read A <- B, every byte checked.
  void traffic(const Conn& c, uint32_t seed) {
    Buf a_src, a_dst, b_src, b_dst;
    ASSERT_NO_FATAL_FAILURE(makeBuf(kA, kBig, seed, &a_src));
    ASSERT_NO_FATAL_FAILURE(makeBuf(kA, kBig, 0, &a_dst));
    ASSERT_NO_FATAL_FAILURE(makeBuf(kB, kBig, seed + 1, &b_src));
    ASSERT_NO_FATAL_FAILURE(makeBuf(kB, kBig, 0, &b_dst));
    Segment as{a_src.mr, a_src.bytes.data(), kBig}, ad{a_dst.mr, a_dst.bytes.data(), kBig};
    Segment bs{b_src.mr, b_src.bytes.data(), kBig}, bd{b_dst.mr, b_dst.bytes.data(), kBig};
    XferId ar = 0, br = 0, as_id = 0, bs_id = 0;
    ASSERT_TRUE(ep(kB).recvAsync(c.ba, {&bd, 1}, &br).isOk());
    ASSERT_TRUE(ep(kA).recvAsync(c.ab, {&ad, 1}, &ar).isOk());
    ASSERT_TRUE(ep(kA).sendAsync(c.ab, {&as, 1}, &as_id).isOk());
    ASSERT_TRUE(ep(kB).sendAsync(c.ba, {&bs, 1}, &bs_id).isOk());
    waitOk(kB, br, "recv on B");
    waitOk(kA, ar, "recv on A");
    waitOk(kA, as_id, "send from A");
    waitOk(kB, bs_id, "send from B");
    EXPECT_TRUE(b_dst.bytes == a_src.bytes) << "send/recv A -> B";
    EXPECT_TRUE(a_dst.bytes == b_src.bytes) << "send/recv B -> A";

    std::fill(b_dst.bytes.begin(), b_dst.bytes.end(), 0);
    FifoBlob fifo{};
    ASSERT_TRUE(ep(kB).advertise(c.ba, b_dst.mr, b_dst.bytes.data(), kBig, &fifo).isOk());
    Segment w{a_src.mr, a_src.bytes.data(), kBig, fifo};
    XferId wx = 0;
    ASSERT_TRUE(ep(kA).writeAsync(c.ab, {&w, 1}, &wx).isOk());
    waitOk(kA, wx, "write A -> B");
    EXPECT_TRUE(b_dst.bytes == a_src.bytes) << "write A -> B";

    std::fill(a_dst.bytes.begin(), a_dst.bytes.end(), 0);
    ASSERT_TRUE(ep(kB).advertise(c.ba, b_src.mr, b_src.bytes.data(), kBig, &fifo).isOk());
    Segment r{a_dst.mr, a_dst.bytes.data(), kBig, fifo};
    XferId rx = 0;
    ASSERT_TRUE(ep(kA).readAsync(c.ab, {&r, 1}, &rx).isOk());
    waitOk(kA, rx, "read A <- B");
    EXPECT_TRUE(a_dst.bytes == b_src.bytes) << "read A <- B";

    for (auto [side, b] : {std::pair{kA, &a_src}, std::pair{kA, &a_dst}, std::pair{kB, &b_src},
                           std::pair{kB, &b_dst}}) {
      EXPECT_TRUE(ep(side).dereg(b->mr).isOk());
    }
  }

  std::unique_ptr<Endpoint> ep_[2];
};

TEST_P(DriverRules, OneAcceptPerListenCommAndNoGpuReceiveOverTheBound) {
  Conn c1, c2;
  ASSERT_NO_FATAL_FAILURE(connect(&c1));
  ASSERT_NO_FATAL_FAILURE(connect(&c2));
  ASSERT_NO_FATAL_FAILURE(traffic(c1, 11));
  ASSERT_NO_FATAL_FAILURE(traffic(c2, 21));
  EXPECT_TRUE(ep(kA).closeConnection(c1.ab).isOk());
  EXPECT_TRUE(ep(kA).closeConnection(c2.ab).isOk());

  const bool gpu_path = ep(kB).info().emulated_gpu_buffers;
  const size_t channels = static_cast<size_t>(ep(kA).info().num_channels);
  for (int side : {kA, kB}) {
    NetRecord r = FaultNet::side(side).record();
    const std::string who = side == kA ? "endpoint A" : "endpoint B";
    // Every channel of both connections accepted once on each side (channels are bidirectional).
    EXPECT_GE(r.accepted, 2 * channels) << who;
    EXPECT_LE(r.accepted, r.listens) << who;
    EXPECT_EQ(r.accepts_after, 0u) << who
                                   << " called accept again on a listen comm that had "
                                      "returned its recv comm (TCPX: double free, abort)";
    EXPECT_GT(r.requests, 0u) << who;
    EXPECT_LE(r.max_request_bytes, kTcpxMaxRequest) << who;
    if (gpu_path) {
      EXPECT_GT(r.gpu_irecvs, 0u) << who << ": the GPU receive path was not exercised";
      EXPECT_LE(r.max_gpu_irecv_bytes, kTcpxMaxRequest) << who;
      EXPECT_EQ(r.gpu_irecvs_checked, r.gpu_irecvs) << who;
      EXPECT_GT(r.max_gpu_irecv_fragments, 0u) << who;
      EXPECT_LE(r.max_gpu_irecv_fragments, uint64_t{NCCL_NET_UNPACK_MAX_SLICE_PAGES})
          << who << ": a GPU receive of more fragments makes TCPX exit(1)";
    } else {
      EXPECT_EQ(r.gpu_irecvs, 0u) << who;
    }
    RecordProperty(
        side == kA ? "a" : "b",
        "accepted " + std::to_string(r.accepted) + ", requests " + std::to_string(r.requests) +
            ", largest " + std::to_string(r.max_request_bytes) + " B, GPU receives " +
            std::to_string(r.gpu_irecvs) + " (largest " + std::to_string(r.max_gpu_irecv_bytes) +
            " B, most fragments " + std::to_string(r.max_gpu_irecv_fragments) + ")");
  }
}

INSTANTIATE_TEST_SUITE_P(Chunk, DriverRules, ::testing::Values("", "4194303"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return *p.param ? std::string("Max") : std::string("Default");
                         });

}  // namespace
}  // namespace tcpxp::engine
