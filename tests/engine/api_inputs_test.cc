// Bad input at the API fails at once, with its reason: memory that is not mapped, ranges that
// wrap, GPUs the machine does not have, FifoItems that wrap. Never a crash later.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "control/fifo_item.h"
#include "engine/endpoint.h"
#include "engine/memory_info.h"
#include "engine_test_util.h"

namespace tcpxp::engine {
namespace {

bool mentions(const Status& st, const std::string& text) {
  return st.message().find(text) != std::string::npos;
}

TEST(ApiInputs, RegRefusesMemoryThatIsNotMapped) {
  std::unique_ptr<Endpoint> ep;
  ASSERT_TRUE(Endpoint::create(-1, &ep).isOk());
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  // Far below where mmap() hands out addresses (top down from near the stack), so that no
  // allocation of another thread (the driver's, the sanitizer's) refills the hole meanwhile.
  void* hint = reinterpret_cast<void*>(uintptr_t{0x40000000});  // 1 GiB: below ASan's shadow too
  void* two = ::mmap(hint, 2 * page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (two == MAP_FAILED) {
    two = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  ASSERT_NE(two, MAP_FAILED);
  char* base = static_cast<char*>(two);
  ASSERT_EQ(::munmap(base + page, page), 0);  // the second page is gone
  MrId mr = 0;
  EXPECT_TRUE(ep->reg(base, page, &mr).isOk()) << "the mapped page";
  Status st = ep->reg(base, 2 * page, &mr);
  ASSERT_FALSE(hostRangeMapped(base, 2 * page)) << "something mapped the hole again";
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
  EXPECT_TRUE(mentions(st, "not mapped")) << st.toString();
  st = ep->reg(base + page + 8, 16, &mr);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << "inside the unmapped page: " << st.toString();
  st = ep->reg(reinterpret_cast<void*>(UINTPTR_MAX - 15), 32, &mr);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
  EXPECT_TRUE(mentions(st, "wraps")) << st.toString();
  ASSERT_EQ(::munmap(base, page), 0);
}

TEST(ApiInputs, EndpointRefusesAGpuTheMachineDoesNotHave) {
  for (int gpu : {-5, gpuCount(), 99}) {
    std::unique_ptr<Endpoint> ep;
    Status st = Endpoint::create(gpu, &ep);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << gpu << ": " << st.toString();
    EXPECT_TRUE(mentions(st, "no GPU " + std::to_string(gpu))) << st.toString();
    EXPECT_TRUE(mentions(st, "-1 makes a host-memory endpoint")) << st.toString();
    EXPECT_EQ(ep, nullptr);
  }
}

TEST(ApiInputs, AFifoItemThatWrapsIsRefusedBeforeAnythingIsSent) {
  testing::Pair p = testing::connectPair();
  std::vector<uint8_t> buf(4096);
  MrId mr = 0;
  ASSERT_TRUE(p.a->reg(buf.data(), buf.size(), &mr).isOk());
  FifoBlob fifo{};
  control::encodeFifoItem({0x1000, 64, 1, {1, 2}}, fifo.data());
  // Patch addr@0 as an application following UCCL's layout could: now addr + size wraps.
  uint64_t addr = UINT64_MAX - 8;
  std::memcpy(fifo.data(), &addr, sizeof addr);
  Segment seg{mr, buf.data(), 64, fifo};
  XferId id = 0;
  Status st = p.a->writeAsync(p.ab, {&seg, 1}, &id);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
  EXPECT_TRUE(mentions(st, "wraps")) << st.toString();
}

}  // namespace
}  // namespace tcpxp::engine

namespace tcpxp::engine {
namespace {

// The acceptor (a child process, fork()ed before any endpoint exists here) has used up its file
// descriptors: the connector is told so, not "peer closed" or a timeout.
TEST(ApiInputs, AnAcceptorOutOfDescriptorsSaysSo) {
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::unique_ptr<Endpoint> ep;
    uint16_t port = 0;
    if (Endpoint::create(-1, &ep).isOk()) port = ep->info().port;
    while (::open("/dev/null", O_RDONLY) >= 0) {
    }
    ssize_t n = ::write(to_parent[1], &port, sizeof port);
    char done = 0;
    n = ::read(to_child[0], &done, 1);  // until the parent has its answer
    ::_exit(n == 1 ? 0 : 1);
  }
  uint16_t port = 0;
  ASSERT_EQ(::read(to_parent[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  ASSERT_NE(port, 0);
  std::unique_ptr<Endpoint> ep;
  ASSERT_TRUE(Endpoint::create(-1, &ep).isOk());
  ConnId id = 0;
  Status st = ep->connect("127.0.0.1", -1, port, &id);
  char done = 1;
  ASSERT_EQ(::write(to_child[1], &done, 1), 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(st.code(), Code::kResourceExhausted) << st.toString();
  EXPECT_TRUE(mentions(st, "out of file descriptors")) << st.toString();
}

}  // namespace
}  // namespace tcpxp::engine
