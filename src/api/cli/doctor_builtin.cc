// tcpx-p2p doctor: the built-in socket transport's readiness. Its interfaces as it would pick
// them, then a self-test: two host-only endpoints of this process on the built-in transport
// connect over the first interface and move bytes both ways (send/recv and a one-sided write),
// every byte checked. Passing it proves what an endpoint needs: listen, connect, accept, data.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/cli/args.h"
#include "api/cli/doctor.h"
#include "engine/endpoint.h"
#include "engine/transport_select.h"
#include "transport/transports.h"

namespace tcpxp::cli::doctor {
namespace {

constexpr size_t kSelfTestBytes = 1 << 20;
constexpr int64_t kSelfTestTimeoutMs = 10000;

// Runs the exchange; on failure returns the step and the engine's message.
Status selfTest(std::string* route) {
  // The self-test binds ephemeral ports: a fixed UCCL_TCPX_BOOTSTRAP_PORT_BASE would give both
  // endpoints the same port (or collide with a running server). This process is only doctor.
  ::unsetenv("UCCL_TCPX_BOOTSTRAP_PORT_BASE");
  transport::NetPlugin* builtin = nullptr;
  TCPXP_RETURN_IF_ERROR(transport::loadBuiltin(&builtin));
  std::unique_ptr<engine::Endpoint> server, client;
  TCPXP_RETURN_IF_ERROR(engine::Endpoint::create(-1, builtin, &server));
  TCPXP_RETURN_IF_ERROR(engine::Endpoint::create(-1, builtin, &client));
  *route = server->info().ip + ":" + std::to_string(server->info().port) + " over " +
           server->info().dev_name;

  Status accepted = Status::ok();
  engine::ConnId server_conn = 0;
  std::thread acceptor([&] {
    std::string ip;
    int gpu = 0;
    accepted = server->accept(&server_conn, &ip, &gpu, nullptr, kSelfTestTimeoutMs);
  });
  engine::ConnId client_conn = 0;
  Status connected = client->connect(server->info().ip, -1, server->info().port, &client_conn);
  if (!connected.isOk()) server->stopAccept();
  acceptor.join();
  TCPXP_RETURN_IF_ERROR(connected);
  TCPXP_RETURN_IF_ERROR(accepted);

  std::vector<uint8_t> src(kSelfTestBytes), dst(kSelfTestBytes, 0), back(kSelfTestBytes, 0);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 131 + 7);
  engine::MrId src_mr = 0, dst_mr = 0, back_mr = 0;
  TCPXP_RETURN_IF_ERROR(client->reg(src.data(), src.size(), &src_mr));
  TCPXP_RETURN_IF_ERROR(server->reg(dst.data(), dst.size(), &dst_mr));
  TCPXP_RETURN_IF_ERROR(client->reg(back.data(), back.size(), &back_mr));

  // send/recv, client -> server.
  engine::Segment send_seg{src_mr, src.data(), src.size(), {}};
  engine::Segment recv_seg{dst_mr, dst.data(), dst.size(), {}};
  engine::XferId recv_id = 0, send_id = 0;
  TCPXP_RETURN_IF_ERROR(server->recvAsync(server_conn, {&recv_seg, 1}, &recv_id));
  TCPXP_RETURN_IF_ERROR(client->sendAsync(client_conn, {&send_seg, 1}, &send_id));
  TCPXP_RETURN_IF_ERROR(client->wait(send_id, nullptr, nullptr, kSelfTestTimeoutMs));
  TCPXP_RETURN_IF_ERROR(server->wait(recv_id, nullptr, nullptr, kSelfTestTimeoutMs));
  if (dst != src) return Status(Code::kInternal, "send/recv delivered different bytes");

  // One-sided: the client advertises `back`, the server writes what it received into it.
  engine::FifoBlob fifo{};
  TCPXP_RETURN_IF_ERROR(client->advertise(client_conn, back_mr, back.data(), back.size(), &fifo));
  engine::Segment write_seg{dst_mr, dst.data(), dst.size(), fifo};
  engine::XferId write_id = 0;
  TCPXP_RETURN_IF_ERROR(server->writeAsync(server_conn, {&write_seg, 1}, &write_id));
  TCPXP_RETURN_IF_ERROR(server->wait(write_id, nullptr, nullptr, kSelfTestTimeoutMs));
  if (back != src) return Status(Code::kInternal, "a one-sided write delivered different bytes");
  return Status::ok();
}

}  // namespace

void checkBuiltin(Report& r) {
  transport::BuiltinSettings s = transport::builtinSettings();
  std::string ifname =
      s.ifname.empty() ? "UCCL_SOCKET_IFNAME unset" : "UCCL_SOCKET_IFNAME=" + s.ifname;
  if (s.interfaces.empty()) {
    r.fail("built-in", "no usable interface (" + ifname + ")",
           "export UCCL_SOCKET_IFNAME to an interface with an IPv4 address (ip -4 addr)");
    return;
  }
  for (const transport::BuiltinInterface& i : s.interfaces) {
    r.ok("built-in", "interface " + i.name + " " + i.ip +
                         (i.pci_path.empty() ? " (virtual)" : " PCI " + i.pci_path) + " (" +
                         ifname + ")");
  }
  r.ok("built-in", std::to_string(s.nsocks) + " sockets per comm; socket I/O " +
                       (s.caller_io ? "in the driver thread" : "in helper threads") + " (" +
                       s.io_reason + ")");
  std::string route;
  auto start = std::chrono::steady_clock::now();
  Status st = selfTest(&route);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!st.isOk()) {
    r.fail("built-in",
           "self-test failed" + (route.empty() ? "" : " (" + route + ")") + ": " + st.message(),
           "check that " + (s.interfaces[0].name) +
               " accepts TCP connections to its own address (firewall, UCCL_SOCKET_IFNAME)");
    return;
  }
  char text[160];
  std::snprintf(text, sizeof text, "self-test passed in %.0f ms: ", ms);
  r.ok("built-in", text + route + ", " + formatBytes(kSelfTestBytes) +
                       " send/recv and a one-sided write, every byte checked");
}

}  // namespace tcpxp::cli::doctor
