#include "control/fifo_item.h"

#include <cstring>
#include <string>

#include "control/wire_bytes.h"

namespace tcpxp::control {
namespace {

constexpr uint32_t kNmsgs = 1;
constexpr uint32_t kSizeEscape = UINT32_MAX;
constexpr size_t kReservedBytes = kFifoItemBytes - kFifoReservedOffset;

Status invalid(const std::string& what) { return Status(Code::kInvalidArgument, what); }

void putSize(uint8_t* item, uint64_t size) {
  wire::put32(item + kFifoSizeOffset,
              size >= kSizeEscape ? kSizeEscape : static_cast<uint32_t>(size));
  wire::put64(item + kFifoSize64Offset, size);
}

}  // namespace

void encodeFifoItem(const FifoItem& item, uint8_t out[kFifoItemBytes]) {
  std::memset(out, 0, kFifoItemBytes);
  wire::put64(out + kFifoAddrOffset, item.addr);
  wire::put32(out + kFifoRkeyOffset, kFifoItemMagic);
  wire::put32(out + kFifoNmsgsOffset, kNmsgs);
  wire::put32(out + kFifoRidOffset, item.mr_id);
  wire::put64(out + kFifoIdxOffset, item.token.lo);
  wire::put64(out + kFifoTokenHiOffset, item.token.hi);
  putSize(out, item.size);
}

Status decodeFifoItem(const uint8_t* data, size_t len, FifoItem* out) {
  if (len != kFifoItemBytes) {
    return invalid("FifoItem must be 64 bytes, got " + std::to_string(len));
  }
  uint32_t rkey = wire::get32(data + kFifoRkeyOffset);
  if (rkey != kFifoItemMagic) {
    return invalid("FifoItem was not produced by tcpx-p2p advertise() (rkey " +
                   std::to_string(rkey) + ", expected " + std::to_string(kFifoItemMagic) + ")");
  }
  uint32_t nmsgs = wire::get32(data + kFifoNmsgsOffset);
  if (nmsgs != kNmsgs)
    return invalid("FifoItem has nmsgs " + std::to_string(nmsgs) + ", expected 1");
  if (!wire::allZero(data + kFifoReservedOffset, kReservedBytes)) {
    return invalid("FifoItem has non-zero reserved padding bytes 48..63");
  }
  FifoItem item;
  item.addr = wire::get64(data + kFifoAddrOffset);
  item.mr_id = wire::get32(data + kFifoRidOffset);
  item.token.lo = wire::get64(data + kFifoIdxOffset);
  item.token.hi = wire::get64(data + kFifoTokenHiOffset);
  uint32_t size32 = wire::get32(data + kFifoSizeOffset);
  uint64_t size64 = wire::get64(data + kFifoSize64Offset);
  if (size32 != kSizeEscape) {
    item.size = size32;  // UCCL's field wins; size64 may be stale after an application patch
  } else if (size64 >= kSizeEscape) {
    item.size = size64;
  } else {
    return invalid("FifoItem size@8 says 4 GiB or more but the 64-bit size is " +
                   std::to_string(size64));
  }
  if (item.size > UINT64_MAX - item.addr) {
    return invalid("FifoItem range [" + std::to_string(item.addr) + ", +" +
                   std::to_string(item.size) + ") wraps around the address space");
  }
  *out = item;
  return Status::ok();
}

Status updateFifoItem(uint8_t item[kFifoItemBytes], uint64_t remote_addr, uint64_t size) {
  FifoItem decoded;
  TCPXP_RETURN_IF_ERROR(decodeFifoItem(item, kFifoItemBytes, &decoded));
  if (size > UINT64_MAX - remote_addr) {
    return invalid("update_fifo: [" + std::to_string(remote_addr) + ", +" + std::to_string(size) +
                   ") wraps around the address space");
  }
  wire::put64(item + kFifoAddrOffset, remote_addr);
  putSize(item, size);
  return Status::ok();
}

}  // namespace tcpxp::control
