// Endpoint's same-host CUDA IPC calls (endpoint.h): the work is in ipc_connections.cc; here the
// ids come from the driver and network connections are told from unknown ones.
#include "engine/driver.h"
#include "engine/endpoint.h"

namespace tcpxp::engine {

void Endpoint::makeIpc(const EngineConfig& config) {
  IpcConnections::Config c;
  c.gpu = info_.gpu_index;
  c.bdf = info_.bdf;
  c.scope = config.ipc_scope;
  c.timeout_ms = config.timeout_ms;
  Driver* driver = driver_.get();
  ipc_ = std::make_unique<IpcConnections>(c, driver->completions(), [driver](ConnId* id) {
    return driver->call([&] {
      *id = driver->reserveConnId();
      return Status::ok();
    });
  });
  info_.ipc = IpcConnections::describe(info_.gpu_index);
}

Status Endpoint::connectLocal(const std::string& remote_bdf, ConnId* out,
                              const Interrupted& interrupted) {
  return ipc_->connect(remote_bdf, interrupted, out);
}

Status Endpoint::acceptLocal(std::string* remote_bdf, ConnId* out, const Interrupted& interrupted,
                             int64_t timeout_ms) {
  return ipc_->accept(interrupted, timeout_ms, remote_bdf, out);
}

bool Endpoint::isLocal(ConnId conn) { return ipc_->isLocal(conn); }

Status Endpoint::advertiseIpc(void* ptr, size_t size, datapath::IpcBlob* out) {
  return ipc_->advertise(ptr, size, out);
}

namespace {
Status liveNetworkConnection(Driver& driver, ConnId conn) {
  return driver.call([&] {
    Connection* c = driver.connection(conn);
    if (c == nullptr || c->state() != Connection::State::kReady) {
      return Status(Code::kNotFound, "unknown or closed conn_id " + std::to_string(conn));
    }
    return Status::ok();
  });
}
}  // namespace

Status Endpoint::writeIpcAsync(ConnId conn, std::span<const IpcSegment> segs, XferId* out) {
  if (!ipc_->isLocal(conn)) TCPXP_RETURN_IF_ERROR(liveNetworkConnection(*driver_, conn));
  return ipc_->transfer(/*write=*/true, conn, segs, out);
}

Status Endpoint::readIpcAsync(ConnId conn, std::span<const IpcSegment> segs, XferId* out) {
  if (!ipc_->isLocal(conn)) TCPXP_RETURN_IF_ERROR(liveNetworkConnection(*driver_, conn));
  return ipc_->transfer(/*write=*/false, conn, segs, out);
}

}  // namespace tcpxp::engine
