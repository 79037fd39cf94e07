// UCCL endpoint metadata (Endpoint.get_metadata / parse_metadata, uccl_engine_get_metadata).
// Pure codec: no sockets, no name resolution (only numeric address text).
//
// Binary form, as UCCL writes it (no magic, no version: the format is UCCL's, not ours):
//   IPv4:  0 addr[4]  | 4 port u16 (network order) | 6 bdf_len u8  | 7 bdf[bdf_len]
//   IPv6:  0 addr[16] | 16 port u16 (network order) | 18 bdf_len u8 | 19 bdf[bdf_len]
//   The total length is the only family marker: 7 + bdf_len for IPv4, 19 + bdf_len for IPv6.
//   The BDF is the GPU's PCI bus id in ASCII, e.g. "0000:4a:00.0" (empty for a host-only engine).
//
// Telling the families apart: decodeMetadata tries IPv4 (7 + b[6] == len) first, as UCCL does,
// and takes it only if its BDF is printable ASCII; otherwise IPv6 (19 + b[18] == len). A real
// IPv6 blob misread as IPv4 would put its own bdf_len byte (b[18]) inside the IPv4 "BDF", and a
// bdf_len below 32 is not printable, so any BDF shorter than 32 characters (PCI ids are 12)
// decodes unambiguously. Only an IPv6 blob with a 32+ character BDF, printable address bytes
// 7..15 and port, and b[6] == 12 + bdf_len could be mistaken for IPv4; UCCL has the same limit.
//
// String form (uccl_engine_get_metadata): "ip:port?BDF", IPv6 as "[addr]:port?BDF".
//
// Every address text produced here is canonical (inet_ntop), so decode(encode(x)) and
// parse(format(x)) give the same ip text. Errors are kInvalidArgument (metadata comes from the
// application) and name what was wrong; out-params are set only on success.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tcpxp::control {

inline constexpr size_t kMaxBdfBytes = 255;
inline constexpr size_t kMetadataV4FixedBytes = 4 + 2 + 1;
inline constexpr size_t kMetadataV6FixedBytes = 16 + 2 + 1;

struct EndpointMetadata {
  std::string ip;     // numeric IPv4 or IPv6 text, without brackets
  uint16_t port = 0;  // never 0
  std::string bdf;    // printable ASCII, at most 255 bytes, may be empty
  bool operator==(const EndpointMetadata&) const = default;
};

// ip: numeric IPv4 ("10.0.0.1") or IPv6 ("fe80::1", no brackets, no zone id) text.
// Replaces *out with the binary form.
Status encodeMetadata(std::string_view ip, uint16_t port, std::string_view bdf,
                      std::vector<uint8_t>* out);
Status decodeMetadata(const uint8_t* data, size_t len, EndpointMetadata* out);

// "10.0.0.1:5000?0000:4a:00.0", "[fe80::1]:5000?0000:4a:00.0". Validates as encodeMetadata.
Status formatMetadataString(const EndpointMetadata& md, std::string* out);
// Inverse of formatMetadataString. The BDF is everything after the first '?' (it may be empty);
// the port is 1..65535 in decimal; an IPv6 address must be bracketed.
Status parseMetadataString(std::string_view text, EndpointMetadata* out);

}  // namespace tcpxp::control
