// _core.Endpoint's transfers: one-buffer and vector, blocking and async, and poll_async. The
// Python arguments become engine Segments here. A bad argument of write/read and their v forms
// (a FifoItem that is not 64 bytes, lists that are not num_iovs long) raises RuntimeError, as
// UCCL does; the send/recv families, which UCCL does not check, fail like an engine error
// (False / (False, 0), last_error()).
#include <cstring>

#include "api/python/py_endpoint.h"

namespace tcpxp::python {
namespace {

// UCCL raises for malformed write/read arguments (the fifos are given): so do we.
void raiseIfOneSided(const char* name, const Status& st, bool one_sided) {
  if (one_sided) throw std::runtime_error(std::string(name) + ": " + st.message());
}

}  // namespace

// One-buffer transfers. `fifo`: the peer's advertisement (write/read only).
bool PyEndpoint::xfer(Op op, ConnId conn, MrId mr, uint64_t ptr, size_t size,
                      const nb::bytes* fifo) {
  std::vector<Segment> segs;
  Status st = oneSegment(mr, ptr, size, fifo, &segs);
  if (!st.isOk()) {
    raiseIfOneSided(opName(op, false, false), st, fifo != nullptr);
    return fail(opName(op, false, false), st);
  }
  return blocking(op, conn, segs, opName(op, false, false));
}

nb::tuple PyEndpoint::xferAsync(Op op, ConnId conn, MrId mr, uint64_t ptr, size_t size,
                                const nb::bytes* fifo) {
  std::vector<Segment> segs;
  Status st = oneSegment(mr, ptr, size, fifo, &segs);
  if (!st.isOk()) {
    raiseIfOneSided(opName(op, false, true), st, fifo != nullptr);
    return nb::make_tuple(fail(opName(op, false, true), st), 0);
  }
  return async(op, conn, segs, opName(op, false, true));
}

// Vector transfers. `fifos`: the peer's advertisements (writev/readv only).
bool PyEndpoint::xferv(Op op, ConnId conn, const std::vector<MrId>& mrs,
                       const std::vector<uint64_t>& ptrs, const std::vector<size_t>& sizes,
                       const std::vector<nb::bytes>* fifos, size_t n) {
  std::vector<Segment> segs;
  Status st = segments(mrs, ptrs, sizes, fifos, n, &segs);
  if (!st.isOk()) {
    raiseIfOneSided(opName(op, true, false), st, fifos != nullptr);
    return fail(opName(op, true, false), st);
  }
  return blocking(op, conn, segs, opName(op, true, false));
}

nb::tuple PyEndpoint::xfervAsync(Op op, ConnId conn, const std::vector<MrId>& mrs,
                                 const std::vector<uint64_t>& ptrs,
                                 const std::vector<size_t>& sizes,
                                 const std::vector<nb::bytes>* fifos, size_t n) {
  std::vector<Segment> segs;
  Status st = segments(mrs, ptrs, sizes, fifos, n, &segs);
  if (!st.isOk()) {
    raiseIfOneSided(opName(op, true, true), st, fifos != nullptr);
    return nb::make_tuple(fail(opName(op, true, true), st), 0);
  }
  return async(op, conn, segs, opName(op, true, true));
}

// (ok, done). A transfer that finished with an error reports (False, True); an unknown or
// already reported id (False, False).
nb::tuple PyEndpoint::pollAsync(XferId id) {
  engine::Endpoint* e = eng();
  bool done = false;
  Status st;
  {
    GilRelease release;
    st = e->poll(id, &done);
  }
  if (!st.isOk()) {
    return nb::make_tuple(fail("poll_async", st), st.code() != Code::kNotFound);
  }
  return nb::make_tuple(true, done);
}

const char* PyEndpoint::opName(Op op, bool vector, bool is_async) {
  static const char* const kNames[4][4] = {
      {"send", "send_async", "sendv", "sendv_async"},
      {"recv", "recv_async", "recvv", "recvv_async"},
      {"write", "write_async", "writev", "writev_async"},
      {"read", "read_async", "readv", "readv_async"},
  };
  return kNames[static_cast<int>(op)][(vector ? 2 : 0) + (is_async ? 1 : 0)];
}

Status PyEndpoint::lengthMismatch(size_t n, std::initializer_list<size_t> lengths) {
  std::string text = "argument lists have lengths";
  for (size_t len : lengths) text += " " + std::to_string(len);
  return Status(Code::kInvalidArgument, text + ", expected " + std::to_string(n) + " each");
}

Status PyEndpoint::lengthsMatch(size_t n, std::initializer_list<size_t> lengths) {
  for (size_t len : lengths) {
    if (len != n) return lengthMismatch(n, lengths);
  }
  return Status::ok();
}

Status PyEndpoint::fifoBlob(const nb::bytes& blob, size_t index, FifoBlob* out) {
  if (blob.size() != out->size()) {
    return Status(Code::kInvalidArgument,
                  "fifo blob " + std::to_string(index) + " is " + std::to_string(blob.size()) +
                      " bytes; expected the " + std::to_string(out->size()) +
                      "-byte FifoItem that the peer's advertise() returned");
  }
  std::memcpy(out->data(), blob.c_str(), out->size());
  return Status::ok();
}

Status PyEndpoint::oneSegment(MrId mr, uint64_t ptr, size_t size, const nb::bytes* fifo,
                              std::vector<Segment>* out) {
  Segment s{mr, toPtr(ptr), size, {}};
  if (fifo) TCPXP_RETURN_IF_ERROR(fifoBlob(*fifo, 0, &s.fifo));
  out->push_back(s);
  return Status::ok();
}

Status PyEndpoint::segments(const std::vector<MrId>& mrs, const std::vector<uint64_t>& ptrs,
                            const std::vector<size_t>& sizes, const std::vector<nb::bytes>* fifos,
                            size_t n, std::vector<Segment>* out) {
  TCPXP_RETURN_IF_ERROR(
      fifos ? lengthsMatch(n, {mrs.size(), ptrs.size(), sizes.size(), fifos->size()})
            : lengthsMatch(n, {mrs.size(), ptrs.size(), sizes.size()}));
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*out)[i] = Segment{mrs[i], toPtr(ptrs[i]), sizes[i], {}};
    if (fifos) TCPXP_RETURN_IF_ERROR(fifoBlob((*fifos)[i], i, &(*out)[i].fifo));
  }
  return Status::ok();
}

Status PyEndpoint::submit(engine::Endpoint* e, Op op, ConnId conn, std::span<const Segment> segs,
                          XferId* id) {
  switch (op) {
    case Op::kSend:
      return e->sendAsync(conn, segs, id);
    case Op::kRecv:
      return e->recvAsync(conn, segs, id);
    case Op::kWrite:
      return e->writeAsync(conn, segs, id);
    case Op::kRead:
      return e->readAsync(conn, segs, id);
  }
  return Status(Code::kInternal, "unknown op");
}

bool PyEndpoint::blocking(Op op, ConnId conn, std::span<const Segment> segs, const char* name) {
  engine::Endpoint* e = eng();
  SignalWatch sig;
  Status st;
  {
    GilRelease release;
    XferId id = 0;
    st = submit(e, op, conn, segs, &id);
    if (st.isOk()) st = e->wait(id, sig.callback());
  }
  sig.rethrow();
  return check(name, st);
}

nb::tuple PyEndpoint::async(Op op, ConnId conn, std::span<const Segment> segs, const char* name) {
  engine::Endpoint* e = eng();
  Status st;
  XferId id = 0;
  {
    GilRelease release;
    st = submit(e, op, conn, segs, &id);
  }
  if (!st.isOk()) return nb::make_tuple(fail(name, st), 0);
  return nb::make_tuple(true, id);
}

}  // namespace tcpxp::python
