// Direct: the transport reads or writes the user's buffer itself (host memory, or GPU memory
// on a transport that moves it). Nothing to prepare, land or release.
#include "datapath/data_path.h"

namespace tcpxp::datapath {
namespace {

class DirectPath final : public DataPath {
 public:
  PathKind kind() const override { return PathKind::kDirect; }
  Status prepare(Piece& p, bool* ready) override {
    (void)p;
    *ready = true;
    return Status::ok();
  }
  PostBuffer buffer(const Piece& p) const override { return {p.user, p.user_region}; }
};

}  // namespace

std::unique_ptr<DataPath> makeDirectPath() { return std::make_unique<DirectPath>(); }

}  // namespace tcpxp::datapath
