#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from valid messages.

  python3 fuzz/make_corpus.py            # rewrites fuzz/corpus/ (the committed seeds)
  python3 fuzz/make_corpus.py --out DIR  # somewhere else

The frames are encoded here from the layouts in src/control/control_wire.h, metadata.h and
fifo_item.h (the fuzzers' round-trip checks reject a seed that drifts from them only by
treating it as an invalid input, so a drift shows as lost coverage, not as a failure). The
connection_fuzzer seeds follow the record format in fuzz/connection_fuzzer.cc.
"""
import argparse
import os
import shutil
import struct

# --- control frames (control_wire.h) ------------------------------------------------------

MAGIC = 0x45505854
HELLO, HELLO_ACK, SEND, WRITE, READ, READ_OK, CTS, DONE, NACK, NOTIFY, BYE = range(1, 12)
WRITE_INLINE, READ_DATA, SEND_INLINE, HEARTBEAT = range(12, 16)
ENGINE_VERSION = 3  # src/engine/handshake.h kEngineVersion


def frame(ftype, payload=b""):
    return struct.pack("<IBBHII", MAGIC, 1, ftype, 0, len(payload), 0) + payload


def str16(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<H", len(b)) + b


def hello(channels=1, chunk=1 << 20, gpu=-1, transport="tcp"):
    handles = b"".join(bytes([i]) * 128 for i in range(channels))
    return frame(HELLO, struct.pack("<IHHIiI", ENGINE_VERSION, channels, 0, chunk, gpu, 0)
                 + handles + str16(transport))


def hello_ack(status=0, channels=1, chunk=1 << 20, gpu=-1, message=""):
    handles = b"".join(bytes([0x40 + i]) * 128 for i in range(channels))
    return frame(HELLO_ACK, struct.pack("<IHHIi", status, channels, 0, chunk, gpu)
                 + handles + str16(message))


def send(xid, size):
    return frame(SEND, struct.pack("<QQ", xid, size))


def remote(ftype, xid, addr, size, tok=(1, 2), mr=1):
    return frame(ftype, struct.pack("<QQQQQII", xid, addr, size, tok[0], tok[1], mr, 0))


def read_ok(xid):
    return frame(READ_OK, struct.pack("<Q", xid))


def cts(xid, initiator=0, first=0):
    return frame(CTS, struct.pack("<QBBHI", xid, initiator, 0, first, 0))


def done(xid, initiator=0):
    return frame(DONE, struct.pack("<QB7x", xid, initiator))


def nack(xid, initiator=0, code=9, message="refused"):
    return frame(NACK, struct.pack("<QB3xI", xid, initiator, code) + str16(message))


def notify(name, msg):
    return frame(NOTIFY, str16(name) + str16(msg))


def write_inline(xid, addr, data, tok=(1, 2), mr=1):
    return frame(WRITE_INLINE, struct.pack("<QQQQII", xid, addr, tok[0], tok[1], mr, 0) + data)


def read_data(xid, data):
    return frame(READ_DATA, struct.pack("<Q", xid) + data)


def send_inline(xid, data):
    return frame(SEND_INLINE, struct.pack("<Q", xid) + data)


def control_wire_seeds():
    seeds = {
        "hello": hello(),
        "hello_4ch": hello(channels=4, chunk=512 << 10, gpu=3),
        "hello_ack_ok": hello_ack(),
        "hello_ack_refused": frame(HELLO_ACK, struct.pack("<IHHIi", 14, 0, 0, 0, -1)
                                   + str16("refused: chunk size")),
        "send": send(1, 1 << 20),
        "write": remote(WRITE, 2, 0x7F0000001000, 4096),
        "read": remote(READ, 3, 0x7F0000002000, 1 << 20, tok=(0xDEADBEEF, 0xFEED), mr=7),
        "read_ok": read_ok(3),
        "cts": cts(1, 0, 2),
        "cts_receiver": cts(3, 1, 0),
        "done": done(1),
        "done_receiver": done(3, 1),
        "nack": nack(2, 0, 9, "access refused"),
        "notify": notify("kv", "layer 3 ready"),
        "bye": frame(BYE),
        "heartbeat": frame(HEARTBEAT),
        "write_inline": write_inline(4, 0x1000, b"abcdefgh"),
        "read_data": read_data(5, bytes(range(16))),
        "send_inline": send_inline(6, b"hello world"),
        "send_inline_empty": send_inline(7, b""),
        "stream_handshake": hello() + hello_ack() + frame(HEARTBEAT),
        "stream_send": send(1, 4096) + cts(1) + done(1),
        "stream_read": remote(READ, 1, 0x1000, 1 << 20) + read_ok(1) + cts(1, 1) + done(1, 1),
        "stream_mixed": notify("a", "b") + send_inline(2, b"x" * 100) + nack(3, 1) + frame(BYE),
    }
    # The second use of an input: first byte = type - 1, then a payload.
    for name, f in list(seeds.items()):
        if not name.startswith("stream_"):
            seeds["payload_" + name] = bytes([f[5] - 1]) + f[16:]
    return seeds


# --- metadata and FifoItem (metadata.h, fifo_item.h) -----------------------------------------

FIFO_MAGIC = 0x54585046


def fifo_item(addr, size, mr=1, tok=(0x1111, 0x2222), stale64=None):
    size32 = size if size < 0xFFFFFFFF else 0xFFFFFFFF
    size64 = size if stale64 is None else stale64
    return (struct.pack("<QIIIIQQQ", addr, size32, FIFO_MAGIC, 1, mr, tok[0], size64, tok[1])
            + bytes(16))


def metadata_v4(ip, port, bdf=""):
    return bytes(ip) + struct.pack(">H", port) + bytes([len(bdf)]) + bdf.encode()


def codecs_seeds():
    v6 = bytes.fromhex("fe800000000000000000000000000001")
    return {
        "md_v4": metadata_v4([10, 0, 0, 1], 5000, "0000:4a:00.0"),
        "md_v4_nobdf": metadata_v4([127, 0, 0, 1], 40000),
        "md_v6": v6 + struct.pack(">H", 5000) + bytes([12]) + b"0000:4a:00.0",
        "md_v6_nobdf": v6 + struct.pack(">H", 1) + bytes([0]),
        "md_str_v4": b"10.0.0.1:5000?0000:4a:00.0",
        "md_str_v4_nobdf": b"192.168.1.20:65535?",
        "md_str_v6": b"[fe80::1]:5000?0000:4a:00.0",
        "md_str_v6_mapped": b"[::ffff:10.1.2.3]:80?0000:c0:00.0",
        "fifo_small": fifo_item(0x7F0000001000, 4096),
        "fifo_zero": fifo_item(0, 0, mr=0, tok=(0, 0)),
        "fifo_4g": fifo_item(0x10000, 5 << 30),
        "fifo_stale64": fifo_item(0x10000, 1 << 20, stale64=123),
        "fifo_top": fifo_item(0xFFFFFFFFFFFFF000, 4096),
        "fifo_update": fifo_item(0x7F0000001000, 1 << 20) + struct.pack("<QQ", 0x7F0000001800, 64),
        "fifo_update_wrap": fifo_item(0x1000, 4096) + struct.pack("<QQ", 1 << 63, 1 << 63),
        "fifo_update_4g": fifo_item(0x1000, 4096) + struct.pack("<QQ", 0x2000, 6 << 30),
        # Boundaries and near misses: each differs from a valid value in one field.
        "md_v4_bdf255": metadata_v4([10, 1, 2, 3], 5000, "b" * 255),
        "md_v6_bdf31": v6 + struct.pack(">H", 5000) + bytes([31]) + b"0" * 31,
        "md_v6_bdf32": v6 + struct.pack(">H", 5000) + bytes([32]) + b"0" * 32,
        "md_v4_port0": metadata_v4([10, 0, 0, 1], 0, "0000:4a:00.0"),
        "md_str_port0": b"10.0.0.1:0?",
        "md_str_port_big": b"10.0.0.1:65536?x",
        "md_str_v4_brackets": b"[10.0.0.1]:5000?",
        "md_str_v6_bare": b"fe80::1:5000?",
        "md_str_no_bdf_mark": b"10.0.0.1:5000",
        "fifo_escape_exact": fifo_item(0x1000, 0xFFFFFFFF),
        "fifo_escape_small64": fifo_item(0x1000, 0xFFFFFFFF, stale64=5),
        "fifo_bad_magic": fifo_item(0x1000, 64)[:12] + b"XXXX" + fifo_item(0x1000, 64)[16:],
        "fifo_nmsgs2": fifo_item(0x1000, 64)[:16] + struct.pack("<I", 2)
        + fifo_item(0x1000, 64)[20:],
        "fifo_reserved": fifo_item(0x1000, 64)[:63] + b"\x01",
        "fifo_short": fifo_item(0x1000, 64)[:63],
        "fifo_wraps": fifo_item(0xFFFFFFFFFFFFF000, 0x2000),
    }


# --- connection_fuzzer records (connection_fuzzer.cc) ----------------------------------------

# Size indices into kSizes.
S0, S1, S8, S4095, S4K, S64K, S64K1, S1M_1, S1M, S1M1, S3M, S4M, S4M1 = range(13)
AD, RECEIVER, ODD, BIGID = 0x10, 0x20, 0x40, 0x80
# Mode bits: this side's transfers after the handshake.
HS, OUR_RECV, OUR_SEND, OUR_WRITE, OUR_READ, OUR_SEND2 = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def mode(bits, *op_sizes):
    """The mode byte, then per started transfer: its size index and the FifoItem bytes."""
    return bytes([bits]) + b"".join(bytes([s, 0, 1, 5, 6]) for s in op_sizes)


def r_send(xid, size):
    return bytes([SEND, xid, size])


def r_remote(ftype, xid, offset, size, ad=True):
    if ad:
        return bytes([ftype | AD, xid, offset, size])
    return bytes([ftype, xid]) + struct.pack("<Q", 0x1000) + bytes([1, 2, 1, size])


def r_cts(xid, receiver=False, first=0):
    return bytes([CTS | (RECEIVER if receiver else 0), xid, first])


def r_done(xid, receiver=False):
    return bytes([DONE | (RECEIVER if receiver else 0), xid])


def r_nack(xid, receiver=False, code=9, msg_len=4):
    return bytes([NACK | (RECEIVER if receiver else 0), xid, code, msg_len])


def r_inline(ftype, xid, n, offset=None):
    if ftype == WRITE_INLINE:
        return bytes([ftype | AD, xid, offset or 0]) + struct.pack("<H", n)
    return bytes([ftype, xid]) + struct.pack("<H", n)


def r_raw(data):
    return bytes([0, len(data)]) + data


def r_data(size):
    """The peer sends a message of kSizes[size] bytes on its channel."""
    return bytes([AD, size])


def connection_seeds():
    hs = mode(HS)
    return {
        "nothing": mode(0),
        "handshake_only": hs,
        "pre_notify": mode(0) + bytes([NOTIFY, 3, 4]),
        "pre_send": mode(0) + r_send(1, S1M),
        "pre_heartbeat": mode(0) + bytes([HEARTBEAT]),
        "pre_hello": mode(0) + bytes([HELLO, 1, S1M, 0xFF]),
        "pre_hello_tiny_chunk": mode(0) + bytes([HELLO, 1, S1, 0xFF]),
        "pre_hello_65ch": mode(0) + bytes([HELLO, 65, S1M, 0xFF]),
        "pre_hello_ack": mode(0) + bytes([HELLO_ACK, 0, 1, S1M]),
        "pre_raw_garbage": mode(0) + r_raw(b"GET / HTTP/1.0\r\n\r\n"),
        "notify": hs + bytes([NOTIFY, 3, 4]),
        "heartbeats": hs + bytes([HEARTBEAT, HEARTBEAT]),
        "bye": hs + bytes([BYE]),
        "hello_again": hs + bytes([HELLO, 1, S1M, 0xFF]),
        "offer_unmatched": hs + r_send(1, S1M),
        "offer_matched": mode(HS | OUR_RECV, S1M) + r_send(1, S1M),
        "offer_too_big": mode(HS | OUR_RECV, S4K) + r_send(1, S1M),
        "offers_two": mode(HS | OUR_RECV, S3M) + r_send(1, S1M) + r_send(2, S8),
        "send_inline_matched": mode(HS | OUR_RECV, S4K) + r_inline(SEND_INLINE, 1, 100),
        "send_inline_buffered": hs + r_inline(SEND_INLINE, 1, 100) + r_inline(SEND_INLINE, 2, 0),
        # One past the 64 unanswered inline sends a connection buffers.
        "send_inline_past_cap": hs + b"".join(r_inline(SEND_INLINE, i, 1) for i in range(1, 66)),
        "write_ad": hs + r_remote(WRITE, 1, S0, S1M),
        "write_ad_outside": hs + r_remote(WRITE, 1, S4M, S1),
        "write_forged": hs + r_remote(WRITE, 1, 0, S4K, ad=False),
        "write_inline_ad": hs + r_inline(WRITE_INLINE, 1, 512, offset=S4K),
        "read_ad_inline": hs + r_remote(READ, 1, S0, S8),
        "read_ad_channels": hs + r_remote(READ, 1, S4K, S1M) + r_cts(1, receiver=True),
        "read_ad_done": hs + r_remote(READ, 1, S0, S1M) + r_cts(1, receiver=True) + r_done(1),
        "duplicate_write_send": hs + r_remote(WRITE, 1, S0, S1M) + r_send(1, S1M),
        # issue 21's use-after-free: the Send matched to a recv replaced the served write.
        "duplicate_write_send_recv": mode(HS | OUR_RECV, S3M) + r_remote(WRITE, 1, S0, S1M)
        + r_send(1, S1M) + r_data(S1M),
        "write_ad_data": hs + r_remote(WRITE, 1, S4K, S1M1) + r_data(S1M) + r_data(S1),
        "write_ad_data_short": hs + r_remote(WRITE, 1, S0, S1M) + r_data(S8),
        "write_ad_data_long": hs + r_remote(WRITE, 1, S0, S4K) + r_data(S1M),
        "offer_matched_data": mode(HS | OUR_RECV, S1M) + r_send(1, S1M) + r_data(S1M),
        "read_ad_cts_data_done": hs + r_remote(READ, 1, S0, S3M) + r_cts(1, receiver=True)
        + r_data(S1M),
        "duplicate_read_read": hs + r_remote(READ, 2, S0, S1M) + r_remote(READ, 2, S0, S1M),
        "ids_backwards": hs + r_send(5, S8) + r_send(3, S8),
        "our_send_cts_done": mode(HS | OUR_SEND, S1M) + r_cts(1) + r_done(1),
        "our_send_done_early": mode(HS | OUR_SEND, S1M) + r_done(1),
        "our_send_inline_done": mode(HS | OUR_SEND, S8) + r_done(1),
        "our_send_nack": mode(HS | OUR_SEND, S1M) + r_nack(1),
        "our_send_cts_bad_channel": mode(HS | OUR_SEND, S1M) + r_cts(1, first=3),
        "our_write_cts": mode(HS | OUR_WRITE, S3M) + r_cts(1) + r_done(1),
        "our_write_inline_nack": mode(HS | OUR_WRITE, S8) + r_nack(1, code=14),
        "our_read_data": mode(HS | OUR_READ, S8) + r_inline(READ_DATA, 1, 8),
        "our_read_data_wrong_size": mode(HS | OUR_READ, S8) + r_inline(READ_DATA, 1, 9),
        "our_read_ok_done": mode(HS | OUR_READ, S1M) + bytes([READ_OK, 1])
        + r_done(1, receiver=True),
        "our_read_nack": mode(HS | OUR_READ, S1M) + r_nack(1, receiver=True),
        "all_ours": mode(HS | OUR_RECV | OUR_SEND | OUR_WRITE | OUR_READ | OUR_SEND2,
                         S1M, S8, S1M, S1M, S3M)
        + r_send(1, S8) + r_cts(1) + r_cts(2) + bytes([READ_OK, 3]) + r_done(4) + r_nack(4),
        "big_id": hs + bytes([SEND | BIGID]) + struct.pack("<Q", 2**64 - 1) + bytes([S8]),
        "raw_half_frame": hs + r_raw(send(1, 8)[:20]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "corpus"))
    args = ap.parse_args()
    for target, seeds in [("control_wire_fuzzer", control_wire_seeds()),
                          ("codecs_fuzzer", codecs_seeds()),
                          ("connection_fuzzer", connection_seeds())]:
        d = os.path.join(args.out, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{d}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
