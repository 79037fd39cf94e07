// Endpoint end to end over the built-in transport on loopback: two endpoints in one process
// (the single-process mode), each with its own driver thread.
#include "engine/endpoint.h"
#include "engine_test_util.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <future>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/net_util.h"

namespace tcpxp::engine {
namespace {

using testing::connectPair;
using testing::Pair;
using testing::pattern;

TEST(Endpoint, SendRecvHostMemory) {
  Pair p = connectPair();
  for (size_t size : {size_t{1}, size_t{4096}, size_t{1} << 20, (size_t{10} << 20) + 7}) {
    auto src = pattern(size, static_cast<uint32_t>(size));
    std::vector<uint8_t> dst(size + 16, 0xEE);
    MrId smr = 0, rmr = 0;
    ASSERT_TRUE(p.a->reg(src.data(), src.size(), &smr).isOk());
    ASSERT_TRUE(p.b->reg(dst.data(), dst.size(), &rmr).isOk());
    XferId rx = 0, tx = 0;
    Segment rs{rmr, dst.data(), dst.size()};
    Segment ss{smr, src.data(), src.size()};
    ASSERT_TRUE(p.b->recvAsync(p.ba, {&rs, 1}, &rx).isOk());
    ASSERT_TRUE(p.a->sendAsync(p.ab, {&ss, 1}, &tx).isOk());
    size_t got = 0;
    Status st = p.b->wait(rx, nullptr, &got);
    ASSERT_TRUE(st.isOk()) << st.toString();
    st = p.a->wait(tx);
    ASSERT_TRUE(st.isOk()) << st.toString();
    EXPECT_EQ(got, size);
    EXPECT_TRUE(std::equal(src.begin(), src.end(), dst.begin()));
    EXPECT_EQ(dst[size], 0xEE);
    EXPECT_TRUE(p.a->dereg(smr).isOk());
    EXPECT_TRUE(p.b->dereg(rmr).isOk());
  }
}

TEST(Endpoint, ChunkIsTheTransportsDefaultUnlessSet) {
  // The built-in transport's default is 1 MiB (TCPX's would be 512 KiB); the variable wins,
  // and a value out of range falls back to the default.
  const struct {
    const char* env;
    size_t want;
  } cases[] = {{nullptr, size_t{1} << 20}, {"256K", size_t{256} << 10}, {"4M", size_t{1} << 20}};
  for (const auto& c : cases) {
    if (c.env) ::setenv("UCCL_TCPX_CHUNK_BYTES", c.env, 1);
    std::unique_ptr<Endpoint> ep;
    Status st = Endpoint::create(-1, &ep);
    ::unsetenv("UCCL_TCPX_CHUNK_BYTES");
    ASSERT_TRUE(st.isOk()) << st.toString();
    ASSERT_EQ(ep->info().transport, "tcpx-p2p-socket");
    EXPECT_EQ(ep->info().chunk_bytes, c.want) << "UCCL_TCPX_CHUNK_BYTES=" << (c.env ? c.env : "");
  }
}

TEST(Endpoint, WriteAndReadAdvertisedBuffer) {
  Pair p = connectPair();
  const size_t size = (size_t{3} << 20) + 123;
  auto local = pattern(size, 1);
  std::vector<uint8_t> remote(size, 0);
  MrId lmr = 0, rmr = 0;
  ASSERT_TRUE(p.a->reg(local.data(), size, &lmr).isOk());
  ASSERT_TRUE(p.b->reg(remote.data(), size, &rmr).isOk());
  FifoBlob fifo{};
  ASSERT_TRUE(p.b->advertise(p.ba, rmr, remote.data(), size, &fifo).isOk());
  XferId x = 0;
  Segment w{lmr, local.data(), size, fifo};
  ASSERT_TRUE(p.a->writeAsync(p.ab, {&w, 1}, &x).isOk());
  Status st = p.a->wait(x);
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(local, remote);

  std::vector<uint8_t> back(size, 0);
  MrId bmr = 0;
  ASSERT_TRUE(p.a->reg(back.data(), size, &bmr).isOk());
  Segment r{bmr, back.data(), size, fifo};
  ASSERT_TRUE(p.a->readAsync(p.ab, {&r, 1}, &x).isOk());
  st = p.a->wait(x);
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(back, remote);
}

TEST(Endpoint, WriteOutsideTheAdvertisementIsRefused) {
  Pair p = connectPair();
  std::vector<uint8_t> local(8192, 1), remote(8192, 0);
  MrId lmr = 0, rmr = 0;
  ASSERT_TRUE(p.a->reg(local.data(), local.size(), &lmr).isOk());
  ASSERT_TRUE(p.b->reg(remote.data(), remote.size(), &rmr).isOk());
  // The item points past the advertised range: the passive side refuses, nothing is written.
  FifoBlob fifo = advertisementMovedPastItsEnd(p, rmr, remote.data(), 4096);
  XferId x = 0;
  Segment w{lmr, local.data(), 4096, fifo};
  ASSERT_TRUE(p.a->writeAsync(p.ab, {&w, 1}, &x).isOk());
  Status st = p.a->wait(x);
  EXPECT_EQ(st.code(), Code::kRefused) << st.toString();
  EXPECT_TRUE(std::all_of(remote.begin(), remote.end(), [](uint8_t v) { return v == 0; }));
}

// A read queues its receives when it sends the Read (one round trip fewer): they wait on the
// channels until the peer's ReadOk, and a refused read's are skipped in their turn. Reads
// (some refused, some vectors, some inline-sized) go out while the peer writes into this side
// (the same channels and direction) and reads from it: every byte lands where it should and a
// refused read's buffer is untouched.
TEST(Endpoint, RefusedReadsAmongTrafficBothWaysLeaveEveryOtherByteRight) {
  Pair p = connectPair();
  const size_t sizes[] = {size_t{256} << 10,     (size_t{3} << 20) + 13, 4096,
                          (size_t{1} << 20) + 1, size_t{64} << 10,       77};
  constexpr int kReads = 24;
  size_t total = 0;
  for (int i = 0; i < kReads; ++i) total += sizes[i % 6];
  // b's memory that a reads (advertised per read) and b's source for its writes into a; a's
  // destinations of its reads, a's memory b writes into and reads from.
  auto served = pattern(total, 1), b_src = pattern(total, 2), a_mem = pattern(total, 3);
  std::vector<uint8_t> a_dst(total, 0xAB), b_dst(total, 0xCD);
  MrId served_mr = 0, b_src_mr = 0, b_dst_mr = 0, a_dst_mr = 0, a_mem_mr = 0;
  ASSERT_TRUE(p.b->reg(served.data(), total, &served_mr).isOk());
  ASSERT_TRUE(p.b->reg(b_src.data(), total, &b_src_mr).isOk());
  ASSERT_TRUE(p.b->reg(b_dst.data(), total, &b_dst_mr).isOk());
  ASSERT_TRUE(p.a->reg(a_dst.data(), total, &a_dst_mr).isOk());
  ASSERT_TRUE(p.a->reg(a_mem.data(), total, &a_mem_mr).isOk());
  const std::vector<uint8_t> a_mem_before = a_mem;
  std::vector<XferId> reads, refused, others;
  std::vector<bool> is_refused(kReads);
  size_t off = 0;
  for (int i = 0; i < kReads; ++i) {
    const size_t n = sizes[i % 6];
    is_refused[i] = i % 3 == 1;
    // b writes a's bytes [off, +n) from b_src, and reads a's [off, +n) back into b_dst: data
    // both ways on every channel while a's reads are queued and refused.
    FifoBlob a_ad{};
    ASSERT_TRUE(p.a->advertise(p.ab, a_mem_mr, a_mem.data() + off, n, &a_ad).isOk());
    XferId x = 0;
    if (i % 2 == 0) {
      Segment w{b_src_mr, b_src.data() + off, n, a_ad};
      ASSERT_TRUE(p.b->writeAsync(p.ba, {&w, 1}, &x).isOk());
    } else {
      Segment r{b_dst_mr, b_dst.data() + off, n, a_ad};
      ASSERT_TRUE(p.b->readAsync(p.ba, {&r, 1}, &x).isOk());
    }
    others.push_back(x);
    FifoBlob ad{};
    if (is_refused[i]) {
      ad = testing::advertisementMovedPastItsEnd(p, served_mr, served.data() + off, n / 2);
    } else {
      ASSERT_TRUE(p.b->advertise(p.ba, served_mr, served.data() + off, n, &ad).isOk());
    }
    const size_t len = is_refused[i] ? n / 2 : n;
    if (i % 4 == 3 && len >= 8) {
      // A vector of two halves, the second first: the destination's order differs from the
      // source's.
      FifoBlob lo{}, hi{};
      const size_t h = len / 2;
      ASSERT_TRUE(p.b->advertise(p.ba, served_mr, served.data() + off, h, &lo).isOk());
      ASSERT_TRUE(p.b->advertise(p.ba, served_mr, served.data() + off + h, len - h, &hi).isOk());
      if (is_refused[i]) hi = ad;  // one refused piece refuses the vector
      Segment v[2] = {{a_dst_mr, a_dst.data() + off + h, len - h, hi},
                      {a_dst_mr, a_dst.data() + off, h, lo}};
      ASSERT_TRUE(p.a->readAsync(p.ab, v, &x).isOk());
    } else {
      Segment r{a_dst_mr, a_dst.data() + off, len, ad};
      ASSERT_TRUE(p.a->readAsync(p.ab, {&r, 1}, &x).isOk());
    }
    (is_refused[i] ? refused : reads).push_back(x);
    off += n;
  }
  for (XferId x : reads) {
    Status st = p.a->wait(x, nullptr, nullptr, 20000);
    EXPECT_TRUE(st.isOk()) << st.toString();
  }
  for (XferId x : refused) {
    Status st = p.a->wait(x, nullptr, nullptr, 20000);
    EXPECT_EQ(st.code(), Code::kRefused) << st.toString();
  }
  for (XferId x : others) {
    Status st = p.b->wait(x, nullptr, nullptr, 20000);
    EXPECT_TRUE(st.isOk()) << st.toString();
  }
  off = 0;
  for (int i = 0; i < kReads; ++i) {
    const size_t n = sizes[i % 6];
    SCOPED_TRACE("read " + std::to_string(i) + " of " + std::to_string(n) + " bytes");
    auto at = [&](const std::vector<uint8_t>& v) { return v.begin() + static_cast<long>(off); };
    if (is_refused[i]) {
      EXPECT_TRUE(std::all_of(at(a_dst), at(a_dst) + static_cast<long>(n), [](uint8_t v) {
        return v == 0xAB;
      })) << "a refused read wrote into its buffer";
    } else {
      EXPECT_TRUE(std::equal(at(a_dst), at(a_dst) + static_cast<long>(n), at(served)));
    }
    if (i % 2 == 0) {
      EXPECT_TRUE(std::equal(at(a_mem), at(a_mem) + static_cast<long>(n), at(b_src)));
    } else {
      EXPECT_TRUE(std::equal(at(b_dst), at(b_dst) + static_cast<long>(n), at(a_mem_before)));
    }
    off += n;
  }
  // Nothing is held: every registration can go.
  for (MrId mr : {served_mr, b_src_mr, b_dst_mr}) EXPECT_TRUE(p.b->dereg(mr).isOk());
  for (MrId mr : {a_dst_mr, a_mem_mr}) EXPECT_TRUE(p.a->dereg(mr).isOk());
}

}  // namespace
}  // namespace tcpxp::engine

namespace tcpxp::engine {
namespace {

int freePort() {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 0;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

std::string httpGet(int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return "";
  const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
  if (!sendAll(fd.get(), req, sizeof(req) - 1).isOk()) return "";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(Endpoint, OneChunkTransfersKeepToTwoChannelsLargerOnesUseAll) {
  Pair p = connectPair();
  const size_t channels = static_cast<size_t>(p.a->info().num_channels);
  if (channels < 3) GTEST_SKIP() << "needs 3+ channels, this run has " << channels;
  const size_t chunk = p.a->info().chunk_bytes;
  // Bytes each side's channels carried, by channel index.
  auto perChannel = [&](Endpoint& ep, bool sent) {
    EndpointStats st;
    EXPECT_TRUE(ep.stats(&st).isOk());
    std::vector<uint64_t> bytes(channels, 0);
    for (const ChannelStats& c : st.channels) {
      bytes.at(static_cast<size_t>(c.channel)) +=
          sent ? c.counters.bytes_sent : c.counters.bytes_received;
    }
    return bytes;
  };
  auto transfer = [&](size_t size, size_t count) {
    std::vector<std::vector<uint8_t>> src, dst;
    std::vector<MrId> smr(count), dmr(count);
    std::vector<Segment> ss, rs;
    for (size_t i = 0; i < count; ++i) {
      src.push_back(pattern(size, static_cast<uint32_t>(i + 1)));
      dst.emplace_back(size, 0);
      ASSERT_TRUE(p.a->reg(src[i].data(), size, &smr[i]).isOk());
      ASSERT_TRUE(p.b->reg(dst[i].data(), size, &dmr[i]).isOk());
      ss.push_back({smr[i], src[i].data(), size});
      rs.push_back({dmr[i], dst[i].data(), size});
    }
    std::vector<XferId> rx(count), tx(count);
    for (size_t i = 0; i < count; ++i)
      ASSERT_TRUE(p.b->recvAsync(p.ba, {&rs[i], 1}, &rx[i]).isOk());
    for (size_t i = 0; i < count; ++i)
      ASSERT_TRUE(p.a->sendAsync(p.ab, {&ss[i], 1}, &tx[i]).isOk());
    for (size_t i = 0; i < count; ++i) {
      ASSERT_TRUE(p.b->wait(rx[i]).isOk());
      ASSERT_TRUE(p.a->wait(tx[i]).isOk());
      EXPECT_EQ(dst[i], src[i]) << "transfer " << i;
    }
  };
  // 12 one-chunk transfers in flight: channels 0 and 1 never both hold 8 receives, so channels
  // 2 and up stay unused (their helpers would only sleep between pieces).
  transfer(chunk, 12);
  ASSERT_FALSE(HasFatalFailure());
  std::vector<uint64_t> sent = perChannel(*p.a, true), received = perChannel(*p.b, false);
  EXPECT_EQ(sent[0] + sent[1], 12 * chunk);
  for (size_t c = 2; c < channels; ++c) {
    EXPECT_EQ(sent[c], 0u) << "channel " << c;
    EXPECT_EQ(received[c], 0u) << "channel " << c;
  }
  // A transfer of one chunk per channel spreads over all of them.
  transfer(channels * chunk, 1);
  ASSERT_FALSE(HasFatalFailure());
  sent = perChannel(*p.a, true);
  for (size_t c = 2; c < channels; ++c) EXPECT_EQ(sent[c], chunk) << "channel " << c;
}

TEST(Endpoint, StatsAndPrometheusMetricsCountTheBytes) {
  int port = freePort();
  ASSERT_GT(port, 0);
  ::setenv("UCCL_TCPX_METRICS_PORT", std::to_string(port).c_str(), 1);
  std::unique_ptr<Endpoint> a;
  ASSERT_TRUE(Endpoint::create(-1, &a).isOk());
  ::unsetenv("UCCL_TCPX_METRICS_PORT");
  ASSERT_EQ(a->info().metrics_port, port);
  std::unique_ptr<Endpoint> b;
  ASSERT_TRUE(Endpoint::create(-1, &b).isOk());
  auto accepted = std::async(std::launch::async, [&] {
    ConnId id = 0;
    EXPECT_TRUE(b->accept(&id, nullptr, nullptr, nullptr, 10000).isOk());
    return id;
  });
  ConnId ab = 0;
  ASSERT_TRUE(a->connect("127.0.0.1", -1, b->info().port, &ab).isOk());
  ConnId ba = accepted.get();
  const size_t size = (size_t{3} << 20) + 5;
  auto src = pattern(size, 9);
  std::vector<uint8_t> dst(size);
  MrId smr = 0, dmr = 0;
  ASSERT_TRUE(a->reg(src.data(), size, &smr).isOk());
  ASSERT_TRUE(b->reg(dst.data(), size, &dmr).isOk());
  XferId rx = 0, tx = 0;
  Segment r{dmr, dst.data(), size}, s{smr, src.data(), size};
  ASSERT_TRUE(b->recvAsync(ba, {&r, 1}, &rx).isOk());
  ASSERT_TRUE(a->sendAsync(ab, {&s, 1}, &tx).isOk());
  ASSERT_TRUE(b->wait(rx).isOk());
  ASSERT_TRUE(a->wait(tx).isOk());

  EndpointStats st;
  ASSERT_TRUE(a->stats(&st).isOk());
  uint64_t sent = 0, channel_sent = 0;
  for (const NicStats& n : st.nics) sent += n.counters.bytes_sent;
  for (const ChannelStats& c : st.channels) channel_sent += c.counters.bytes_sent;
  EXPECT_EQ(sent, size);
  EXPECT_EQ(channel_sent, size);

  std::string page = httpGet(port);
  EXPECT_NE(page.find("200 OK"), std::string::npos) << page;
  EXPECT_NE(page.find("# TYPE tcpxp_nic_bytes_sent_total counter"), std::string::npos) << page;
  std::string line =
      "tcpxp_nic_bytes_sent_total{gpu=\"-1\",dev=\"0\",nic=\"lo\"} " + std::to_string(size);
  EXPECT_NE(page.find(line), std::string::npos) << page;
  EXPECT_NE(page.find("tcpxp_channel_bytes_sent_total{"), std::string::npos) << page;
}

}  // namespace
}  // namespace tcpxp::engine
