// The data paths of one connection: at most one instance of each kind, made on first use (a GPU
// endpoint makes its GPU paths when the connection is ready, so that the first transfer does
// not wait for pinned memory: cudaHostAlloc of the pools took ~30 ms per side on the GPU
// machine, BENCHMARKS.md section 18). Driver thread only.
#pragma once

#include <array>
#include <memory>

#include "datapath/data_path.h"

namespace tcpxp::datapath {

class PathSet {
 public:
  // `params.device` is the endpoint's GPU (-1: host only); a path for GPU memory of another
  // device is made with that device.
  PathSet(const PathParams& params, const TransportCaps& caps) : params_(params), caps_(caps) {}
  ~PathSet();
  PathSet(const PathSet&) = delete;
  PathSet& operator=(const PathSet&) = delete;

  // The path of a buffer (choosePath), made now if needed. `device`: the buffer's GPU, -1 for
  // host memory. *why, if given, gets the decider's reason.
  Status forBuffer(const BufferFacts& buffer, int device, DataPath** out,
                   std::string* why = nullptr);
  // Makes the paths a GPU buffer of the endpoint's GPU takes, both directions.
  Status prepareGpuPaths();
  void forgetComm(const transport::Net& net, void* comm);
  size_t stagingBytes() const;
  // Counters of every path made, summed.
  PathCounters counters() const;

 private:
  Status make(PathKind kind, int device, std::unique_ptr<DataPath>* out) const;

  PathParams params_;
  TransportCaps caps_;
  std::array<std::unique_ptr<DataPath>, 5> paths_;  // by PathKind
};

}  // namespace tcpxp::datapath
