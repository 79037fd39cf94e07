// The documentation of one environment variable: its name, default and meaning. Each layer keeps
// a table of these next to the code that reads the variables; --help and `tcpx-p2p info` print
// them.
#pragma once

namespace tcpxp {

struct KnobDoc {
  const char* name;
  const char* default_value;
  const char* doc;
};

}  // namespace tcpxp
