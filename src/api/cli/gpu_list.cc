#include "api/cli/gpu_list.h"

#include <algorithm>
#include <map>

namespace tcpxp::cli {
namespace {

constexpr int kMaxGpuIndex = 1023;
constexpr const char* kForms = "N, A-B or host, each optionally xK (e.g. 0-7, 0,1,4, 0x4, hostx4)";

// A GPU index: 1..4 digits, at most kMaxGpuIndex.
bool parseIndex(std::string_view s, int* out) {
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  if (v > kMaxGpuIndex) return false;
  *out = v;
  return true;
}

std::string gpusOfMachine(int gpu_count) {
  if (gpu_count <= 0) return "this machine has no GPU; use host entries (e.g. hostx4)";
  return "this machine has " + std::to_string(gpu_count) + " GPU" + (gpu_count == 1 ? "" : "s") +
         " (" + (gpu_count == 1 ? std::string("0") : "0-" + std::to_string(gpu_count - 1)) + ")";
}

}  // namespace

bool parseGpuList(const std::string& flag, std::string_view text, int gpu_count,
                  std::vector<int>* out, std::string* error) {
  auto fail = [&](const std::string& message) {
    *error = flag + ": " + message;
    return false;
  };
  if (text.empty()) return fail(std::string("empty list; give ") + kForms);
  std::vector<int> gpus;
  std::map<int, std::string> listed_by;  // GPU (or host) -> the item that listed it
  std::string_view rest = text;
  for (;;) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    std::string item_text(item);
    if (item.empty()) return fail("empty entry in '" + std::string(text) + "'");
    // The count suffix: the last 'x' followed by digits only ("hostx4", "0-3x2").
    int count = 1;
    size_t x = item.rfind('x');
    if (x != std::string_view::npos && x + 1 < item.size() &&
        item.substr(x + 1).find_first_not_of("0123456789") == std::string_view::npos) {
      std::string_view k = item.substr(x + 1);
      count = k.size() > 3 ? 0 : std::stoi(std::string(k));
      if (count < 1 || count > static_cast<int>(kMaxEndpoints)) {
        return fail("'" + item_text + "': the count after x must be 1.." +
                    std::to_string(kMaxEndpoints));
      }
      item = item.substr(0, x);
    }
    int first = 0, last = 0;
    size_t dash = item.find('-');
    if (item == "host") {
      first = last = kHostEndpoint;
    } else if (dash != std::string_view::npos) {
      if (!parseIndex(item.substr(0, dash), &first) || !parseIndex(item.substr(dash + 1), &last))
        return fail("'" + item_text + "' is not " + kForms);
      if (last < first) {
        return fail("'" + item_text + "': the range goes down (write " + std::to_string(last) +
                    "-" + std::to_string(first) + ")");
      }
    } else if (!parseIndex(item, &first)) {
      return fail("'" + item_text + "' is not " + kForms);
    } else {
      last = first;
    }
    for (int g = first; g <= last; ++g) {
      auto [it, inserted] = listed_by.emplace(g, item_text);
      if (!inserted) {
        std::string twice = "' and '" + item_text + "'); ";
        if (g == kHostEndpoint) {
          return fail("host memory is listed twice ('" + it->second + twice +
                      "several host-memory endpoints are written hostxK, e.g. hostx2");
        }
        std::string n = std::to_string(g);
        return fail("GPU " + n + " is listed twice ('" + it->second + twice +
                    "several endpoints on one GPU are written " + n + "xK, e.g. " + n + "x2");
      }
      if (gpus.size() + static_cast<size_t>(count) > kMaxEndpoints) {
        return fail("more than " + std::to_string(kMaxEndpoints) + " endpoints in '" +
                    std::string(text) + "'");
      }
      gpus.insert(gpus.end(), static_cast<size_t>(count), g);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  // Syntax first, then this machine: "0,0" is a typo wherever it runs.
  for (int g : gpus) {
    if (g != kHostEndpoint && g >= gpu_count)
      return fail("GPU " + std::to_string(g) + " does not exist: " + gpusOfMachine(gpu_count));
  }
  *out = std::move(gpus);
  return true;
}

std::string formatGpuList(const std::vector<int>& gpus) {
  // Runs of one value (count), then consecutive single GPUs merged into ranges.
  std::vector<std::pair<int, size_t>> runs;
  for (int g : gpus) {
    if (!runs.empty() && runs.back().first == g) {
      ++runs.back().second;
    } else {
      runs.emplace_back(g, 1);
    }
  }
  std::string out;
  for (size_t i = 0; i < runs.size();) {
    auto [g, n] = runs[i];
    size_t j = i + 1;
    if (n == 1 && g != kHostEndpoint) {
      while (j < runs.size() && runs[j].second == 1 && runs[j].first == runs[j - 1].first + 1) ++j;
    }
    std::string item = endpointLabel(g);
    if (j - i > 1) item += "-" + std::to_string(runs[j - 1].first);
    if (n > 1) item += "x" + std::to_string(n);
    out += (out.empty() ? "" : ",") + item;
    i = j;
  }
  return out;
}

std::string endpointLabel(int gpu) { return gpu < 0 ? "host" : std::to_string(gpu); }

}  // namespace tcpxp::cli
