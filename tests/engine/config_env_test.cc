// The engine's and the built-in transport's knobs as read from the environment: an unknown
// transport is an error, a malformed number warns once per process however many layers read it,
// and every knob's documented default reads back by its own syntax.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "engine/endpoint.h"
#include "engine/engine_config.h"
#include "engine/transport_select.h"

namespace tcpxp::engine {
namespace {

std::vector<std::string>* g_lines = nullptr;
void collect(LogLevel, const char* line) { g_lines->push_back(line); }

class LogCapture {
 public:
  LogCapture() {
    g_lines = &lines_;
    setLogObserver(&collect);
  }
  ~LogCapture() {
    setLogObserver(nullptr);
    g_lines = nullptr;
  }
  size_t count(const std::string& text) const {
    size_t n = 0;
    for (const std::string& l : lines_) n += l.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
  std::string all() const {
    std::string s;
    for (const std::string& l : lines_) s += l;
    return s;
  }

 private:
  std::vector<std::string> lines_;
};

TEST(EngineConfigEnv, TransportIsOneOfTheAcceptedOrAnError) {
  const struct {
    const char* value;  // nullptr: unset
    const char* transport;
  } good[] = {{nullptr, ""},    {"", ""},         {"auto", ""},    {"tcp", "tcp"},
              {"tcpx", "tcpx"}, {"TCPX", "tcpx"}, {" tcp ", "tcp"}};
  for (const auto& c : good) {
    if (c.value) {
      ::setenv("UCCL_P2P_TRANSPORT", c.value, 1);
    } else {
      ::unsetenv("UCCL_P2P_TRANSPORT");
    }
    EngineConfig config = EngineConfig::fromEnv();
    EXPECT_EQ(config.transport, c.transport) << (c.value ? c.value : "(unset)");
    EXPECT_EQ(config.error, "") << (c.value ? c.value : "(unset)");
  }
  ::setenv("UCCL_P2P_TRANSPORT", "foo", 1);
  EngineConfig config = EngineConfig::fromEnv();
  ::unsetenv("UCCL_P2P_TRANSPORT");
  EXPECT_EQ(config.transport, "");
  EXPECT_EQ(config.error,
            "UCCL_P2P_TRANSPORT=foo: unknown value 'foo' (accepted: tcpx, tcp, auto)");
}

TEST(EngineConfigEnv, UnknownTransportFailsEndpointCreation) {
  ::setenv("UCCL_P2P_TRANSPORT", "foo", 1);
  std::unique_ptr<Endpoint> ep;
  Status st = Endpoint::create(-1, &ep);
  ::unsetenv("UCCL_P2P_TRANSPORT");
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.toString();
  EXPECT_EQ(st.message(),
            "UCCL_P2P_TRANSPORT=foo: unknown value 'foo' (accepted: tcpx, tcp, auto)");
  EXPECT_EQ(ep, nullptr);
  // The same process creates endpoints again once the variable is fixed.
  ::setenv("UCCL_P2P_TRANSPORT", "tcp", 1);
  st = Endpoint::create(-1, &ep);
  ::unsetenv("UCCL_P2P_TRANSPORT");
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(ep->info().transport, "tcpx-p2p-socket");
}

TEST(EngineConfigEnv, MalformedValuesWarnOncePerProcess) {
  // Endpoint::create, the socket transport's init, capsPreview and builtinSettings all read the
  // environment; before, each warning printed up to three times.
  LogCapture log;
  ::setenv("UCCL_TCPX_NUM_CHANNELS", "99", 1);
  ::setenv("UCCL_SOCKET_NSOCKS", "abc", 1);
  ::setenv("UCCL_TCPX_STAGING_BYTES", "64Q", 1);
  for (int i = 0; i < 2; ++i) {
    std::unique_ptr<Endpoint> ep;
    Status st = Endpoint::create(-1, &ep);
    ASSERT_TRUE(st.isOk()) << st.toString();
    EXPECT_EQ(ep->info().num_channels, 4);
    (void)transport::capsPreview(TransportKind::kBuiltin);
    (void)builtinTransportSettings();
  }
  ::unsetenv("UCCL_TCPX_NUM_CHANNELS");
  ::unsetenv("UCCL_SOCKET_NSOCKS");
  ::unsetenv("UCCL_TCPX_STAGING_BYTES");
  EXPECT_EQ(log.count("UCCL_TCPX_NUM_CHANNELS=99: out of range [1, 32]; using 4"), 1u) << log.all();
  EXPECT_EQ(log.count("UCCL_SOCKET_NSOCKS=abc: not a number; using 4"), 1u) << log.all();
  EXPECT_EQ(log.count("UCCL_TCPX_STAGING_BYTES=64Q: unknown unit 'Q' (accepted: K, M, G, KB, MB, "
                      "GB, KiB, MiB, GiB, B); using 64M"),
            1u)
      << log.all();
}

TEST(EngineConfigEnv, EveryDocumentedDefaultReadsBack) {
  std::set<std::string> names;
  std::vector<KnobDoc> all = engineKnobs();
  all.insert(all.end(), builtinTransportKnobs().begin(), builtinTransportKnobs().end());
  for (const KnobDoc& k : all) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name << " is listed twice";
    if (k.syntax.type == KnobType::kText) continue;
    std::string def = k.default_value;
    std::string first = def.substr(0, def.find(' '));  // "512K with TCPX, ..." -> "512K"
    Parsed p = parseKnob(k, first);
    EXPECT_TRUE(p.ok()) << k.name << " default '" << first << "': " << p.message;
  }
}

}  // namespace
}  // namespace tcpxp::engine
