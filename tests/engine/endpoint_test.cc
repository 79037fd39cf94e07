// Endpoint end to end over the built-in transport on loopback: two endpoints in one process
// (the single-process mode), each with its own driver thread.
#include "engine/endpoint.h"

#include <gtest/gtest.h>

#include <future>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "control/fifo_item.h"

namespace tcpxp::engine {
namespace {

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

struct Pair {
  std::unique_ptr<Endpoint> a, b;
  ConnId ab = 0, ba = 0;  // a's connection to b, b's connection from a
};

Pair connectPair() {
  Pair p;
  EXPECT_TRUE(Endpoint::create(-1, &p.a).isOk());
  EXPECT_TRUE(Endpoint::create(-1, &p.b).isOk());
  auto accepted = std::async(std::launch::async, [&] {
    std::string ip;
    int gpu = 0;
    ConnId id = 0;
    Status st = p.b->accept(&id, &ip, &gpu, nullptr, 10000);
    EXPECT_TRUE(st.isOk()) << st.toString();
    EXPECT_EQ(gpu, -1);
    return id;
  });
  Status st = p.a->connect("127.0.0.1", -1, p.b->info().port, &p.ab);
  EXPECT_TRUE(st.isOk()) << st.toString();
  p.ba = accepted.get();
  return p;
}

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
  FifoBlob fifo{};
  ASSERT_TRUE(p.b->advertise(p.ba, rmr, remote.data(), 4096, &fifo).isOk());
  // Point the item past the advertised range: the passive side refuses, nothing is written.
  ASSERT_TRUE(
      control::updateFifoItem(fifo.data(), reinterpret_cast<uint64_t>(remote.data()) + 4096, 4096)
          .isOk());
  XferId x = 0;
  Segment w{lmr, local.data(), 4096, fifo};
  ASSERT_TRUE(p.a->writeAsync(p.ab, {&w, 1}, &x).isOk());
  Status st = p.a->wait(x);
  EXPECT_EQ(st.code(), Code::kRefused) << st.toString();
  EXPECT_TRUE(std::all_of(remote.begin(), remote.end(), [](uint8_t v) { return v == 0; }));
}

}  // namespace
}  // namespace tcpxp::engine
