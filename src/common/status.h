// One status type for the whole project. Codes come from a single X-macro list, grouped by
// blast radius: what a caller must tear down when it sees the code.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace tcpxp {

// X(name, description)
#define TCPXP_STATUS_CODES(X)                          \
  X(kOk, "success")                                    \
  /* transfer: only this operation failed */           \
  X(kInvalidArgument, "invalid argument")              \
  X(kNotFound, "not found")                            \
  X(kTimeout, "timed out")                             \
  X(kRefused, "refused by the peer")                   \
  /* connection: the connection or comm is unusable */ \
  X(kPeerClosed, "peer closed the connection")         \
  X(kProtocolError, "protocol error")                  \
  X(kRemoteError, "remote error")                      \
  X(kRuleViolation, "transport rule violated")         \
  /* endpoint: local resources */                      \
  X(kSystemError, "system error")                      \
  X(kCudaError, "CUDA error")                          \
  X(kBusy, "busy: work in flight")                     \
  X(kResourceExhausted, "resource exhausted")          \
  /* engine: the transport or plugin itself */         \
  X(kPluginError, "transport plugin error")            \
  X(kNotSupported, "not supported")                    \
  X(kInternal, "internal error")

enum class Code : int {
#define TCPXP_ENUM(name, desc) name,
  TCPXP_STATUS_CODES(TCPXP_ENUM)
#undef TCPXP_ENUM
};

std::string_view codeName(Code code);
std::string_view codeDescription(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool isOk() const { return code_ == Code::kOk; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "kTimeout: timed out: <message>"
  std::string toString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace tcpxp

// Propagate a non-OK status to the caller (callers only propagate; the origin logs).
#define TCPXP_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    ::tcpxp::Status tcpxp_status_ = (expr);          \
    if (!tcpxp_status_.isOk()) return tcpxp_status_; \
  } while (0)
