// Little-endian field access for the control-plane codecs (control_wire, fifo_item). Internal to
// src/control: not part of any public wire contract. Header-only on purpose.
//
// The project only targets little-endian x86-64 and Arm64, but the codecs state the byte order
// rather than relying on the host's (the same choice as transport/socket/socket_wire.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tcpxp::control::wire {

inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline bool allZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// Appends little-endian fields to a byte vector (the only allocation an encoder makes).
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}
  void u8(uint8_t v) { out_->push_back(v); }
  void u16(uint16_t v) {
    grow(2, [&](uint8_t* p) { put16(p, v); });
  }
  void u32(uint32_t v) {
    grow(4, [&](uint8_t* p) { put32(p, v); });
  }
  void u64(uint64_t v) {
    grow(8, [&](uint8_t* p) { put64(p, v); });
  }
  void zeros(size_t n) { out_->insert(out_->end(), n, 0); }
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_->insert(out_->end(), p, p + n);
  }
  // u16 length, then the bytes. The caller has checked the length fits (validate()).
  void str16(const std::string& s) {
    u16(static_cast<uint16_t>(s.size()));
    bytes(s.data(), s.size());
  }

 private:
  template <typename Fn>
  void grow(size_t n, Fn fill) {
    size_t at = out_->size();
    out_->resize(at + n);
    fill(out_->data() + at);
  }
  std::vector<uint8_t>* out_;
};

// Reads little-endian fields from a bounded buffer. A read past the end returns zeros and makes
// ok() false for good, so a decoder may read a fixed block and check ok() once; decoders still
// check remaining() before variable-length fields to report a precise error.
class Reader {
 public:
  Reader(const uint8_t* data, size_t len) : p_(data), left_(len) {}
  size_t remaining() const { return left_; }
  bool ok() const { return ok_; }
  uint8_t u8() { return take(1) ? p_[-1] : 0; }
  uint16_t u16() { return take(2) ? get16(p_ - 2) : 0; }
  uint32_t u32() { return take(4) ? get32(p_ - 4) : 0; }
  uint64_t u64() { return take(8) ? get64(p_ - 8) : 0; }
  // Returns the next n bytes (nullptr past the end).
  const uint8_t* bytes(size_t n) { return take(n) ? p_ - n : nullptr; }

 private:
  bool take(size_t n) {
    if (!ok_ || n > left_) {
      ok_ = false;
      return false;
    }
    p_ += n;
    left_ -= n;
    return true;
  }
  const uint8_t* p_;
  size_t left_;
  bool ok_ = true;
};

}  // namespace tcpxp::control::wire
