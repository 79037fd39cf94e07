// Typed reads of environment variables. A value that does not parse is reported once with the
// variable's name and the default that is used instead; it never aborts.
#pragma once

#include <cstdint>
#include <string>

namespace tcpxp {

// The raw value, or `fallback` when unset or empty.
std::string envString(const char* name, const std::string& fallback);
// Integer in [min_value, max_value]; suffixes K, M, G (binary) accepted. Unset: `fallback`;
// invalid: `fallback` and a warning that names it (`fallback_text` when the number says little).
int64_t envInt(const char* name, int64_t fallback, int64_t min_value, int64_t max_value,
               const char* fallback_text = nullptr);
bool envBool(const char* name, bool fallback);

// Parses "123", "64K", "4M", "1G". Returns false on junk or overflow.
bool parseSize(const std::string& text, int64_t* out);

}  // namespace tcpxp
