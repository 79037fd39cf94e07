// Shared by the host-memory engine tests: byte patterns and two connected endpoints in one
// process (each with its own driver thread) over loopback.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "control/fifo_item.h"
#include "engine/endpoint.h"

namespace tcpxp::engine::testing {

inline std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

struct Pair {
  std::unique_ptr<Endpoint> a, b;
  ConnId ab = 0, ba = 0;  // a's connection to b, b's connection from a
};

inline Pair connectPair() {
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

// b advertises [remote, remote + n) of its registration rmr to a; the returned FifoItem is then
// pointed at the n bytes just past it, which the passive side must refuse.
inline FifoBlob advertisementMovedPastItsEnd(Pair& p, MrId rmr, uint8_t* remote, size_t n) {
  FifoBlob fifo{};
  EXPECT_TRUE(p.b->advertise(p.ba, rmr, remote, n, &fifo).isOk());
  EXPECT_TRUE(
      control::updateFifoItem(fifo.data(), reinterpret_cast<uint64_t>(remote) + n, n).isOk());
  return fifo;
}

}  // namespace tcpxp::engine::testing
