// The engine's deciders over fake facts (engine/decisions.h): transport, chunk size, data paths.
#include "engine/decisions.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <tuple>

#include "engine/endpoint.h"

namespace tcpxp::engine {
namespace {

// Every prerequisite of TCPX holds; the probe passes and counts its calls.
struct Machine {
  int probes = 0;
  ProbeVerdict verdict = ProbeVerdict::kPassed;
  TransportFacts facts() {
    TransportFacts f;
    f.plugin_path = "/opt/tcpx/libnccl-net.so";
    f.gpu_count = 8;
    f.rxdm_present = true;
    f.rxdm_dir = "/run/tcpx";
    f.probe = [this] {
      ++probes;
      return ProbeResult{verdict,
                         verdict == ProbeVerdict::kFailed ? "TCPX probe failed (exit 5)" : ""};
    };
    return f;
  }
};

EngineConfig forced(const char* transport) {
  EngineConfig c;
  c.transport = transport;
  return c;
}

TEST(DecideTransport, ForcedTcpAndTcpxNeverProbe) {
  Machine m;
  TransportDecision d = decideTransport(forced("tcp"), m.facts());
  EXPECT_EQ(d.kind, TransportKind::kBuiltin);
  EXPECT_EQ(d.reason, "UCCL_P2P_TRANSPORT=tcp");
  TransportFacts none;  // nothing there: forcing tcpx still says tcpx (loading then fails)
  d = decideTransport(forced("tcpx"), none);
  EXPECT_EQ(d.kind, TransportKind::kTcpx);
  EXPECT_EQ(d.reason, "UCCL_P2P_TRANSPORT=tcpx");
  EXPECT_FALSE(d.tentative);
  EXPECT_EQ(m.probes, 0);
}

TEST(DecideTransport, AutomaticNeedsPluginGpuAndRxdm) {
  Machine m;
  TransportFacts f = m.facts();
  f.plugin_path.clear();
  TransportDecision d = decideTransport(EngineConfig{}, f);
  EXPECT_EQ(d.kind, TransportKind::kBuiltin);
  EXPECT_NE(d.reason.find("no TCPX plugin found"), std::string::npos) << d.reason;

  f = m.facts();
  f.gpu_count = 0;
  d = decideTransport(EngineConfig{}, f);
  EXPECT_EQ(d.kind, TransportKind::kBuiltin);
  EXPECT_NE(d.reason.find("no GPU driver"), std::string::npos) << d.reason;

  f = m.facts();
  f.rxdm_present = false;
  d = decideTransport(EngineConfig{}, f);
  EXPECT_EQ(d.kind, TransportKind::kBuiltin);
  EXPECT_NE(d.reason.find("no rxdm socket under /run/tcpx"), std::string::npos) << d.reason;
  EXPECT_EQ(m.probes, 0) << "the probe runs only when everything else holds";
}

TEST(DecideTransport, RxdmAbsenceNamesTheMissingSockets) {
  RxdmFacts rx;
  rx.dir = "/run/tcpx";
  rx.dir_from_env = true;
  rx.missing = {"rx_rule_uninstall"};
  TransportFacts f;
  f.plugin_path = "/usr/local/tcpx/lib64/libnccl-net.so";
  f.gpu_count = 8;
  f.rxdm_dir = rx.dir;
  f.rxdm_absence = describeRxdmAbsence(rx);
  TransportDecision d = decideTransport(EngineConfig{}, f);
  EXPECT_EQ(d.kind, TransportKind::kBuiltin);
  EXPECT_NE(d.reason.find("no rx_rule_uninstall unix socket under /run/tcpx "
                          "(NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX)"),
            std::string::npos)
      << d.reason;
}

TEST(DecideTransport, ProbeDecidesTheRest) {
  Machine m;
  TransportDecision d = decideTransport(EngineConfig{}, m.facts());
  EXPECT_EQ(d.kind, TransportKind::kTcpx);
  EXPECT_EQ(d.plugin_path, "/opt/tcpx/libnccl-net.so");
  EXPECT_NE(d.reason.find("passed its probe"), std::string::npos) << d.reason;
  EXPECT_EQ(m.probes, 1);

  m.verdict = ProbeVerdict::kFailed;
  d = decideTransport(EngineConfig{}, m.facts());
  EXPECT_EQ(d.kind, TransportKind::kBuiltin);
  EXPECT_NE(d.reason.find("exit 5"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("built-in"), std::string::npos) << d.reason;

  TransportFacts f = m.facts();
  f.probe = nullptr;  // `info --no-dlopen`: not run, so the answer is tentative
  d = decideTransport(EngineConfig{}, f);
  EXPECT_EQ(d.kind, TransportKind::kTcpx);
  EXPECT_TRUE(d.tentative);
  EXPECT_NE(d.reason.find("probe not run"), std::string::npos) << d.reason;
}

TEST(DecideChunk, OverrideElseTheTransportsPreference) {
  transport::ChunkPreference pref{1 << 20, "the built-in transport's preferred chunk"};
  ChunkDecision c = decideChunkBytes(EngineConfig{}, pref);
  EXPECT_EQ(c.bytes, size_t{1} << 20);
  EXPECT_EQ(c.reason, pref.reason);
  EngineConfig set;
  set.chunk_bytes = 256 << 10;
  c = decideChunkBytes(set, pref);
  EXPECT_EQ(c.bytes, size_t{256} << 10);
  EXPECT_NE(c.reason.find("UCCL_TCPX_CHUNK_BYTES"), std::string::npos) << c.reason;
}

TEST(DecideChunk, TransportPreferences) {
  EXPECT_EQ(transport::preferredChunk(TransportKind::kBuiltin).bytes, size_t{1} << 20);
  ::unsetenv("NCCL_DYNAMIC_CHUNK_SIZE");
  transport::ChunkPreference t = transport::preferredChunk(TransportKind::kTcpx);
  EXPECT_EQ(t.bytes, size_t{512} << 10);
  EXPECT_NE(t.reason.find("unset"), std::string::npos) << t.reason;
  ::setenv("NCCL_DYNAMIC_CHUNK_SIZE", "262144", 1);
  t = transport::preferredChunk(TransportKind::kTcpx);
  EXPECT_EQ(t.bytes, size_t{256} << 10);
  EXPECT_NE(t.reason.find("NCCL_DYNAMIC_CHUNK_SIZE=262144"), std::string::npos) << t.reason;
  ::setenv("NCCL_DYNAMIC_CHUNK_SIZE", "16777216", 1);  // a request must stay under 4 MiB
  EXPECT_EQ(transport::preferredChunk(TransportKind::kTcpx).bytes, (size_t{4} << 20) - 1);
  ::unsetenv("NCCL_DYNAMIC_CHUNK_SIZE");
}

TEST(DecidePaths, PerMemoryKindAndDirection) {
  datapath::TransportCaps host_only{false, false}, tcpx{true, true}, gpu_direct{true, false};
  BufferPaths p = decideBufferPaths(false, tcpx);
  EXPECT_EQ(p.send.kind, datapath::PathKind::kDirect);
  EXPECT_EQ(p.receive.kind, datapath::PathKind::kDirect);
  p = decideBufferPaths(true, tcpx);
  EXPECT_EQ(p.send.kind, datapath::PathKind::kDirect);
  EXPECT_EQ(p.receive.kind, datapath::PathKind::kUnpack);
  EXPECT_NE(describeBufferPaths(p).find("receive: unpack"), std::string::npos);
  p = decideBufferPaths(true, host_only);
  EXPECT_EQ(p.send.kind, datapath::PathKind::kStaged);
  EXPECT_EQ(p.receive.kind, datapath::PathKind::kStaged);
  EXPECT_EQ(describeBufferPaths(p).rfind("staged (", 0), 0u) << describeBufferPaths(p);
  p = decideBufferPaths(true, gpu_direct);
  EXPECT_EQ(p.receive.kind, datapath::PathKind::kDirect);
  // Small transfers go inline whatever the memory (the decider the engine asks per transfer).
  datapath::BufferFacts small{true, true, 100, true};
  EXPECT_EQ(datapath::choosePath(small, tcpx).kind, datapath::PathKind::kInline);
}

TEST(DecidePaths, VectorsSayWhetherTheyGoAsVectoredRequests) {
  datapath::TransportCaps builtin{false, false, true}, tcpx{true, true, false};
  datapath::BufferFacts host{.size = 1 << 20, .vector = true};
  datapath::BufferFacts gpu{.gpu_memory = true, .size = 1 << 20, .vector = true};
  for (const auto& [b, caps, vectored] :
       {std::tuple{host, builtin, true}, std::tuple{gpu, builtin, false},
        std::tuple{host, tcpx, false}}) {
    datapath::PathChoice c = datapath::choosePath(b, caps);
    EXPECT_EQ(c.kind, datapath::PathKind::kVector);
    EXPECT_EQ(c.reason.find("vectored request") != std::string::npos, vectored) << c.reason;
    EXPECT_EQ(c.reason.rfind("pieces of a vector: gathered", 0) == 0, !vectored) << c.reason;
  }
}

TEST(DecideTransport, CapsPreviewMatchesTheTransports) {
  transport::TransportCapsPreview t = transport::capsPreview(TransportKind::kTcpx);
  EXPECT_TRUE(t.moves_gpu_memory);
  EXPECT_TRUE(t.unpack);
  ::unsetenv("UCCL_SOCKET_UNPACK");
  ::unsetenv("UCCL_SOCKET_GPU_DIRECT");
  transport::TransportCapsPreview b = transport::capsPreview(TransportKind::kBuiltin);
  EXPECT_FALSE(b.moves_gpu_memory);
  EXPECT_FALSE(b.unpack);
  // GPU direct: GPU memory without bounce pages; UNPACK: both.
  ::setenv("UCCL_SOCKET_GPU_DIRECT", "1", 1);
  transport::TransportCapsPreview direct = transport::capsPreview(TransportKind::kBuiltin);
  EXPECT_TRUE(direct.moves_gpu_memory);
  EXPECT_FALSE(direct.unpack);
  ::setenv("UCCL_SOCKET_UNPACK", "1", 1);
  transport::TransportCapsPreview unpack = transport::capsPreview(TransportKind::kBuiltin);
  EXPECT_TRUE(unpack.moves_gpu_memory);
  EXPECT_TRUE(unpack.unpack);
  ::unsetenv("UCCL_SOCKET_UNPACK");
  ::unsetenv("UCCL_SOCKET_GPU_DIRECT");
}

// The endpoint acts on the same answers and carries them (bench prints them from here).
TEST(EndpointDecisions, InfoCarriesTheDecisions) {
  ::setenv("UCCL_P2P_TRANSPORT", "tcp", 1);
  ::unsetenv("UCCL_TCPX_CHUNK_BYTES");
  std::unique_ptr<Endpoint> ep;
  ASSERT_TRUE(Endpoint::create(-1, &ep).isOk());
  const EndpointInfo& info = ep->info();
  EXPECT_EQ(info.transport_reason, "UCCL_P2P_TRANSPORT=tcp");
  EXPECT_TRUE(info.builtin_transport);
  transport::ChunkPreference pref = transport::preferredChunk(TransportKind::kBuiltin);
  EXPECT_EQ(info.chunk_bytes, pref.bytes);
  EXPECT_EQ(info.chunk_reason, pref.reason);
  EXPECT_NE(info.placement.find("host-only"), std::string::npos) << info.placement;
  EXPECT_NE(info.transport_detail.find("sockets/comm"), std::string::npos);
  transport::TransportCapsPreview caps = transport::capsPreview(TransportKind::kBuiltin);
  EXPECT_EQ(info.transport_moves_gpu_memory, caps.moves_gpu_memory);
  EXPECT_EQ(info.unpack, caps.unpack);
}

}  // namespace
}  // namespace tcpxp::engine
