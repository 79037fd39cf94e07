// Little-endian field access for the control-plane codecs (control_wire, fifo_item). Internal to
// src/control: not part of any public wire contract. Header-only on purpose.
//
// The project only targets little-endian x86-64 and Arm64, but the codecs state the byte order
// rather than relying on the host's (the same choice as transport/socket/socket_wire.cc).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tcpxp::control::wire {

// One load or store each: memcpy of the host's bytes, swapped on a big-endian host. (The
// byte-by-byte loops these replace were not folded into loads by GCC -O2, and decoding one
// vector's FifoItems took ~10% of a 4096-piece vector's CPU, issue 23.)
template <typename T>
inline T toLittle(T v) {
  if constexpr (std::endian::native == std::endian::little || sizeof(T) == 1) {
    return v;
  } else if constexpr (sizeof(T) == 2) {
    return __builtin_bswap16(v);
  } else if constexpr (sizeof(T) == 4) {
    return __builtin_bswap32(v);
  } else {
    return __builtin_bswap64(v);
  }
}
template <typename T>
inline void putLe(uint8_t* p, T v) {
  v = toLittle(v);
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
inline T getLe(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return toLittle(v);
}
inline void put16(uint8_t* p, uint16_t v) { putLe(p, v); }
inline void put32(uint8_t* p, uint32_t v) { putLe(p, v); }
inline void put64(uint8_t* p, uint64_t v) { putLe(p, v); }
inline uint16_t get16(const uint8_t* p) { return getLe<uint16_t>(p); }
inline uint32_t get32(const uint8_t* p) { return getLe<uint32_t>(p); }
inline uint64_t get64(const uint8_t* p) { return getLe<uint64_t>(p); }
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
