#include "common/status.h"

namespace tcpxp {

std::string_view codeName(Code code) {
  switch (code) {
#define TCPXP_NAME(name, desc) \
  case Code::name:             \
    return #name;
    TCPXP_STATUS_CODES(TCPXP_NAME)
#undef TCPXP_NAME
  }
  return "kUnknown";
}

std::string_view codeDescription(Code code) {
  switch (code) {
#define TCPXP_DESC(name, desc) \
  case Code::name:             \
    return desc;
    TCPXP_STATUS_CODES(TCPXP_DESC)
#undef TCPXP_DESC
  }
  return "unknown status code";
}

std::string Status::toString() const {
  std::string out(codeName(code_));
  out += ": ";
  out += codeDescription(code_);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace tcpxp
