#include "api/python/xfer_desc.h"

#include <cstring>
#include <stdexcept>

namespace tcpxp::python {
namespace {

constexpr size_t kWord = sizeof(uint64_t);
constexpr size_t kFifoWords = std::tuple_size_v<engine::FifoBlob> / sizeof(uint32_t);

void put(std::string* out, const void* p, size_t n) { out->append(static_cast<const char*>(p), n); }

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  void take(void* dst, size_t n, const char* what) {
    if (n > left()) {
      throw std::runtime_error("Invalid serialized XferDesc data: " + std::string(what) +
                               " needs " + std::to_string(n) + " bytes, " + std::to_string(left()) +
                               " left");
    }
    if (n == 0) return;  // dst may be null (an empty vector's data())
    std::memcpy(dst, p_, n);
    p_ += n;
  }
  uint64_t u64(const char* what) {
    uint64_t v = 0;
    take(&v, sizeof(v), what);
    return v;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

std::vector<uint32_t> keysFromFifo(const engine::FifoBlob& blob) {
  std::vector<uint32_t> keys(kFifoWords);
  for (size_t i = 0; i < kFifoWords; ++i) {
    const uint8_t* b = blob.data() + 4 * i;
    keys[i] = uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  }
  return keys;
}

bool fifoFromKeys(const std::vector<uint32_t>& keys, engine::FifoBlob* out) {
  if (keys.size() != kFifoWords) return false;
  for (size_t i = 0; i < kFifoWords; ++i) {
    for (size_t k = 0; k < 4; ++k) (*out)[4 * i + k] = static_cast<uint8_t>(keys[i] >> (8 * k));
  }
  return true;
}

std::string serializeDescs(const std::vector<XferDesc>& descs) {
  std::string out;
  uint64_t count = descs.size();
  put(&out, &count, kWord);
  for (const XferDesc& d : descs) {
    if (d.lkeys.size() != d.rkeys.size()) {
      throw std::runtime_error("XferDesc lkeys and rkeys differ in length (" +
                               std::to_string(d.lkeys.size()) + " vs " +
                               std::to_string(d.rkeys.size()) + ")");
    }
    uint64_t keys = d.lkeys.size(), ipc = d.ipc_info.size();
    put(&out, &d.addr, kWord);
    put(&out, &d.size, kWord);
    put(&out, &keys, kWord);
    put(&out, d.lkeys.data(), keys * sizeof(uint32_t));
    put(&out, d.rkeys.data(), keys * sizeof(uint32_t));
    put(&out, &ipc, kWord);
    out += d.ipc_info;
  }
  return out;
}

std::vector<XferDesc> deserializeDescs(const uint8_t* data, size_t len) {
  if (len == 0) return {};  // UCCL: empty bytes are an empty list
  Reader r(data, len);
  uint64_t count = r.u64("the descriptor count");
  // Each descriptor takes at least 24 bytes: a count past that is a lie, not a reason to allocate.
  if (count > r.left() / (3 * kWord)) {
    throw std::runtime_error("Invalid serialized XferDesc data: " + std::to_string(count) +
                             " descriptors cannot fit in " + std::to_string(r.left()) + " bytes");
  }
  std::vector<XferDesc> out(count);
  for (XferDesc& d : out) {
    d.addr = r.u64("addr");
    d.size = r.u64("size");
    uint64_t keys = r.u64("the key count");
    if (keys > r.left() / (2 * sizeof(uint32_t))) {
      throw std::runtime_error("Invalid serialized XferDesc data: " + std::to_string(keys) +
                               " keys cannot fit in " + std::to_string(r.left()) + " bytes");
    }
    d.lkeys.resize(keys);
    d.rkeys.resize(keys);
    r.take(d.lkeys.data(), keys * sizeof(uint32_t), "lkeys");
    r.take(d.rkeys.data(), keys * sizeof(uint32_t), "rkeys");
    if (r.left() == 0) continue;  // no ipc part (older layout); a next descriptor fails above
    uint64_t ipc = r.u64("the ipc length");
    if (ipc > r.left()) {
      throw std::runtime_error("Invalid serialized XferDesc data: ipc info of " +
                               std::to_string(ipc) + " bytes, " + std::to_string(r.left()) +
                               " left");
    }
    d.ipc_info.resize(ipc);
    r.take(d.ipc_info.data(), ipc, "ipc info");
  }
  if (r.left() != 0) {
    throw std::runtime_error("Invalid serialized XferDesc data: " + std::to_string(r.left()) +
                             " bytes after the last descriptor");
  }
  return out;
}

}  // namespace tcpxp::python
