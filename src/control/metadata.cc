#include "control/metadata.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <utility>

namespace tcpxp::control {
namespace {

constexpr size_t kV4AddrBytes = 4;
constexpr size_t kV6AddrBytes = 16;

Status invalid(const std::string& what) { return Status(Code::kInvalidArgument, what); }

// A numeric address in binary form: 4 or 16 bytes.
struct RawAddr {
  uint8_t bytes[kV6AddrBytes] = {};
  size_t len = 0;
};

Status parseIp(std::string_view text, RawAddr* out) {
  std::string s(text);  // inet_pton needs a terminated string
  RawAddr addr;
  if (inet_pton(AF_INET, s.c_str(), addr.bytes) == 1) {
    addr.len = kV4AddrBytes;
  } else if (inet_pton(AF_INET6, s.c_str(), addr.bytes) == 1) {
    addr.len = kV6AddrBytes;
  } else {
    return invalid("'" + s + "' is not a numeric IPv4 or IPv6 address (no brackets, no zone id)");
  }
  *out = addr;
  return Status::ok();
}

std::string ipText(const uint8_t* bytes, size_t len) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(len == kV4AddrBytes ? AF_INET : AF_INET6, bytes, buf, sizeof(buf));
  return buf;
}

// Offset of the first byte outside 0x20..0x7e, or len when all are printable.
size_t firstUnprintable(const uint8_t* p, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (p[i] < 0x20 || p[i] > 0x7e) return i;
  }
  return len;
}

Status checkBdf(std::string_view bdf) {
  if (bdf.size() > kMaxBdfBytes) {
    return invalid("BDF is " + std::to_string(bdf.size()) + " bytes, max " +
                   std::to_string(kMaxBdfBytes));
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bdf.data());
  size_t bad_at = firstUnprintable(p, bdf.size());
  if (bad_at != bdf.size()) {
    return invalid("BDF has a non-printable byte " + std::to_string(p[bad_at]) + " at index " +
                   std::to_string(bad_at));
  }
  return Status::ok();
}

Status checkPort(uint32_t port) {
  if (port == 0) return invalid("port 0 is not a listening port");
  return Status::ok();
}

// Canonical ip text and all field rules, shared by encode and format.
Status normalize(std::string_view ip, uint16_t port, std::string_view bdf, RawAddr* addr) {
  TCPXP_RETURN_IF_ERROR(parseIp(ip, addr));
  TCPXP_RETURN_IF_ERROR(checkPort(port));
  return checkBdf(bdf);
}

Status parsePort(std::string_view text, uint16_t* out) {
  if (text.empty() || text.size() > 5) {
    return invalid("port '" + std::string(text) + "' is not a decimal number 1..65535");
  }
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return invalid("port '" + std::string(text) + "' is not a decimal number 1..65535");
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return invalid("port " + std::to_string(value) + " is above 65535");
  TCPXP_RETURN_IF_ERROR(checkPort(value));
  *out = static_cast<uint16_t>(value);
  return Status::ok();
}

}  // namespace

Status encodeMetadata(std::string_view ip, uint16_t port, std::string_view bdf,
                      std::vector<uint8_t>* out) {
  RawAddr addr;
  TCPXP_RETURN_IF_ERROR(normalize(ip, port, bdf, &addr));
  std::vector<uint8_t> bytes(addr.len + 3 + bdf.size());
  std::memcpy(bytes.data(), addr.bytes, addr.len);
  bytes[addr.len] = static_cast<uint8_t>(port >> 8);
  bytes[addr.len + 1] = static_cast<uint8_t>(port);
  bytes[addr.len + 2] = static_cast<uint8_t>(bdf.size());
  if (!bdf.empty()) std::memcpy(bytes.data() + addr.len + 3, bdf.data(), bdf.size());
  *out = std::move(bytes);
  return Status::ok();
}

Status decodeMetadata(const uint8_t* data, size_t len, EndpointMetadata* out) {
  if (len < kMetadataV4FixedBytes) {
    return invalid("metadata is " + std::to_string(len) + " bytes, shorter than the " +
                   std::to_string(kMetadataV4FixedBytes) + "-byte minimum (IPv4, empty BDF)");
  }
  const size_t v4_bdf = data[kMetadataV4FixedBytes - 1];
  const bool v4_len = kMetadataV4FixedBytes + v4_bdf == len;
  const bool v6_len = len >= kMetadataV6FixedBytes && kMetadataV6FixedBytes + data[18] == len;
  const auto printable = [&](size_t fixed) {
    return firstUnprintable(data + fixed, len - fixed) == len - fixed;
  };

  size_t addr_len = 0;
  if (v4_len && printable(kMetadataV4FixedBytes)) {
    addr_len = kV4AddrBytes;
  } else if (v6_len && printable(kMetadataV6FixedBytes)) {
    addr_len = kV6AddrBytes;
  } else if (v4_len || v6_len) {
    size_t fixed = v4_len ? kMetadataV4FixedBytes : kMetadataV6FixedBytes;
    size_t at = firstUnprintable(data + fixed, len - fixed);
    return invalid(std::string("metadata BDF (") + (v4_len ? "IPv4" : "IPv6") +
                   " layout) has a non-printable byte " + std::to_string(data[fixed + at]) +
                   " at index " + std::to_string(at));
  } else {
    std::string why = "metadata is " + std::to_string(len) + " bytes: not IPv4 (7 + bdf_len " +
                      std::to_string(v4_bdf) + " = " + std::to_string(7 + v4_bdf) + ")";
    if (len >= kMetadataV6FixedBytes) {
      why += " nor IPv6 (19 + bdf_len " + std::to_string(data[18]) + " = " +
             std::to_string(19 + data[18]) + ")";
    } else {
      why += " and too short for IPv6 (19 + bdf_len)";
    }
    return invalid(why);
  }

  uint16_t port = static_cast<uint16_t>((data[addr_len] << 8) | data[addr_len + 1]);
  TCPXP_RETURN_IF_ERROR(checkPort(port));
  EndpointMetadata md;
  md.ip = ipText(data, addr_len);
  md.port = port;
  md.bdf.assign(reinterpret_cast<const char*>(data + addr_len + 3), len - addr_len - 3);
  *out = std::move(md);
  return Status::ok();
}

Status formatMetadataString(const EndpointMetadata& md, std::string* out) {
  RawAddr addr;
  TCPXP_RETURN_IF_ERROR(normalize(md.ip, md.port, md.bdf, &addr));
  std::string ip = ipText(addr.bytes, addr.len);
  std::string text = addr.len == kV6AddrBytes ? "[" + ip + "]" : ip;
  text += ":" + std::to_string(md.port) + "?" + md.bdf;
  *out = std::move(text);
  return Status::ok();
}

Status parseMetadataString(std::string_view text, EndpointMetadata* out) {
  const std::string quoted = "'" + std::string(text) + "'";
  size_t question = text.find('?');
  if (question == std::string_view::npos) {
    return invalid("metadata string " + quoted + " has no '?' before the GPU BDF");
  }
  std::string_view hostport = text.substr(0, question);
  std::string_view bdf = text.substr(question + 1);

  std::string_view host;
  std::string_view port_text;
  RawAddr addr;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos || close + 1 >= hostport.size() ||
        hostport[close + 1] != ':') {
      return invalid("metadata string " + quoted + ": expected '[IPv6]:port' before the '?'");
    }
    host = hostport.substr(1, close - 1);
    port_text = hostport.substr(close + 2);
    TCPXP_RETURN_IF_ERROR(parseIp(host, &addr));
    if (addr.len != kV6AddrBytes) {
      return invalid("metadata string " + quoted + ": brackets hold an IPv4 address");
    }
  } else {
    size_t colon = hostport.rfind(':');
    if (colon == std::string_view::npos) {
      return invalid("metadata string " + quoted + ": expected 'ip:port' before the '?'");
    }
    host = hostport.substr(0, colon);
    port_text = hostport.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalid("metadata string " + quoted + ": an IPv6 address must be bracketed");
    }
    TCPXP_RETURN_IF_ERROR(parseIp(host, &addr));
  }

  EndpointMetadata md;
  TCPXP_RETURN_IF_ERROR(parsePort(port_text, &md.port));
  TCPXP_RETURN_IF_ERROR(checkBdf(bdf));
  md.ip = ipText(addr.bytes, addr.len);
  md.bdf = std::string(bdf);
  *out = std::move(md);
  return Status::ok();
}

}  // namespace tcpxp::control
