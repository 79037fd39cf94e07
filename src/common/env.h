// Typed reads of environment variables, parsed by quantity.h. A value that does not parse never
// aborts: the reader uses its fallback and warns once per process (per variable and value, however
// many layers read it) with the variable, the value, what is wrong and the value used instead:
//   UCCL_TCPX_CHUNK_BYTES=4M: out of range [4096, 4194303] (4M = 4194304); using the transport's
//   default
#pragma once

#include <cstdint>
#include <string>

#include "common/knob.h"

namespace tcpxp {

// The raw value, or `fallback` when unset or empty.
std::string envString(const char* name, const std::string& fallback);

// The knob's value by its syntax (knob.h). Unset or empty: `fallback`. Malformed: `fallback` and
// the warning above (naming `fallback_text` when given, else the fallback).
// envInt: kInteger or kBytes knobs. envBool: kBool. envAutoBool: kAutoBool, -1 for auto (also
// when unset or malformed), else 1 or 0. (kChoice knobs are read where the choice is made.)
int64_t envInt(const KnobDoc& knob, int64_t fallback, const char* fallback_text = nullptr);
bool envBool(const KnobDoc& knob, bool fallback);
int envAutoBool(const KnobDoc& knob);

// Variables without a knob row (NCCL_* that TCPX reads as well): a plain number in
// [min_value, max_value], no units (TCPX does not read "512K" as 512 KiB); a boolean.
int64_t envInt(const char* name, int64_t fallback, int64_t min_value, int64_t max_value,
               const char* fallback_text = nullptr);
bool envBool(const char* name, bool fallback);

// Logs `message` at WARN unless this process has logged the same message before. For the
// environment's warnings, which several layers would otherwise repeat.
void warnOnce(const std::string& message);

}  // namespace tcpxp
