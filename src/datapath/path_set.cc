#include "datapath/path_set.h"

namespace tcpxp::datapath {

PathSet::~PathSet() = default;

Status PathSet::make(PathKind kind, int device, std::unique_ptr<DataPath>* out) const {
  PathParams p = params_;
  if (device >= 0) p.device = device;
  p.vectored_requests = caps_.vectored_requests;
  switch (kind) {
    case PathKind::kDirect:
      *out = makeDirectPath();
      return Status::ok();
    case PathKind::kStaged:
      return makeStagedPath(p, out);
    case PathKind::kUnpack:
      return makeUnpackPath(p, out);
    case PathKind::kInline:
      *out = makeInlinePath(p);
      return Status::ok();
    case PathKind::kVector:
      return makeVectorPath(p, out);
  }
  return Status(Code::kInternal, "unknown data path");
}

Status PathSet::forBuffer(const BufferFacts& buffer, int device, DataPath** out, std::string* why) {
  PathChoice choice = choosePath(buffer, caps_);
  auto& slot = paths_[static_cast<size_t>(choice.kind)];
  if (!slot) TCPXP_RETURN_IF_ERROR(make(choice.kind, device, &slot));
  if (why) *why = std::move(choice.reason);
  *out = slot.get();
  return Status::ok();
}

Status PathSet::prepareGpuPaths() {
  DataPath* ignored = nullptr;
  // Small and large transfers may take different paths (UCCL_SOCKET_GPU_DIRECT_MAX).
  for (bool receiving : {false, true}) {
    for (size_t size : {size_t{0}, SIZE_MAX}) {
      TCPXP_RETURN_IF_ERROR(forBuffer({.gpu_memory = true, .receiving = receiving, .size = size},
                                      params_.device, &ignored));
    }
  }
  return Status::ok();
}

void PathSet::forgetComm(const transport::Net& net, void* comm) {
  for (auto& p : paths_) {
    if (p) p->forgetComm(net, comm);
  }
}

size_t PathSet::stagingBytes() const {
  size_t n = 0;
  for (const auto& p : paths_) n += p ? p->stagingBytes() : 0;
  return n;
}

PathCounters PathSet::counters() const {
  PathCounters sum;
  for (const auto& p : paths_) {
    if (!p) continue;
    const PathCounters& c = p->counters();
    sum.cuda_ns += c.cuda_ns;
    sum.cuda_calls += c.cuda_calls;
    sum.poll_ns += c.poll_ns;
    sum.polls += c.polls;
    sum.stage_ns += c.stage_ns;
    sum.staged_sends += c.staged_sends;
  }
  return sum;
}

}  // namespace tcpxp::datapath
