// Small file reads for sysfs and procfs.
#pragma once

#include <cctype>
#include <fstream>
#include <string>

namespace tcpxp {

// The first line of `path` without trailing whitespace, or "" when it cannot be read.
inline std::string readFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

}  // namespace tcpxp
