#include "engine/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/net_util.h"
#include "common/thread_name.h"
#include "engine/endpoint.h"

namespace tcpxp::engine {
namespace {

void metric(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string value(uint64_t v) { return std::to_string(v); }
std::string seconds(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9f", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace

std::string renderPrometheus(const EndpointStats& stats, int gpu_index) {
  struct Field {
    const char* suffix;
    const char* help;
    std::string (*get)(const TrafficCounters&);
  };
  static const Field fields[] = {
      {"bytes_sent_total", "Bytes of completed send requests.",
       [](const TrafficCounters& c) { return value(c.bytes_sent); }},
      {"bytes_received_total", "Bytes of completed (consumed) receive requests.",
       [](const TrafficCounters& c) { return value(c.bytes_received); }},
      {"sends_total", "Completed send requests.",
       [](const TrafficCounters& c) { return value(c.sends); }},
      {"receives_total", "Completed receive requests.",
       [](const TrafficCounters& c) { return value(c.receives); }},
      {"errors_total", "Connections that failed while using it.",
       [](const TrafficCounters& c) { return value(c.errors); }},
      {"busy_seconds_total", "Time with requests posted.",
       [](const TrafficCounters& c) { return seconds(c.busy_ns); }},
  };
  std::string out;
  std::string gpu = std::to_string(gpu_index);
  for (const Field& f : fields) {
    std::string name = std::string("tcpxp_nic_") + f.suffix;
    metric(&out, name.c_str(), "counter", f.help);
    for (const NicStats& n : stats.nics) {
      out += name + "{gpu=\"" + gpu + "\",dev=\"" + std::to_string(n.dev) + "\",nic=\"" + n.name +
             "\"} " + f.get(n.counters) + "\n";
    }
  }
  for (const Field& f : fields) {
    std::string name = std::string("tcpxp_channel_") + f.suffix;
    metric(&out, name.c_str(), "counter", f.help);
    for (const ChannelStats& c : stats.channels) {
      std::string nic = c.dev < static_cast<int>(stats.nics.size()) ? stats.nics[c.dev].name : "?";
      out += name + "{gpu=\"" + gpu + "\",conn=\"" + std::to_string(c.conn) + "\",channel=\"" +
             std::to_string(c.channel) + "\",nic=\"" + nic + "\"} " + f.get(c.counters) + "\n";
    }
  }
  return out;
}

Status MetricsServer::start(int port, Render render, std::unique_ptr<MetricsServer>* out) {
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s->listen_.valid())
    return Status(Code::kSystemError, "metrics: socket: " + errnoText(errno));
  int one = 1;
  ::setsockopt(s->listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(s->listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(s->listen_.get(), 16) != 0) {
    return Status(Code::kSystemError,
                  "metrics port " + std::to_string(port) + ": " + errnoText(errno));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(s->listen_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.sin_port);
  s->render_ = std::move(render);
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  *out = std::move(s);
  return Status::ok();
}

MetricsServer::~MetricsServer() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void MetricsServer::run() {
  nameCurrentThread("tcpxp-metrics");
  while (!stop_.load()) {
    pollfd p{listen_.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;  // wakes to notice stop_
    Fd client(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client.valid()) answer(client.get());
  }
}

// Reads the request head (bounded in size and time), answers, closes.
void MetricsServer::answer(int fd) {
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  char req[4096];
  size_t got = 0;
  while (got < sizeof(req) - 1) {
    ssize_t n = ::recv(fd, req + got, sizeof(req) - 1 - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
    req[got] = '\0';
    if (std::strstr(req, "\r\n\r\n") || std::strstr(req, "\n\n")) break;
  }
  req[got] = '\0';
  std::string head;
  std::string body;
  if (std::strncmp(req, "GET ", 4) == 0) {
    body = render_();
    head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n";
  } else {
    body = "only GET is served\n";
    head = "HTTP/1.0 405 Method Not Allowed\r\nContent-Type: text/plain\r\n";
  }
  head += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  (void)sendAll(fd, head.data(), head.size());
  (void)sendAll(fd, body.data(), body.size());
}

}  // namespace tcpxp::engine
