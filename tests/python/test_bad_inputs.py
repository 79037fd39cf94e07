"""Bad inputs return False / (False, ...) with a reason in last_error(), like UCCL; where UCCL raises
(a FifoItem that is not 64 bytes, lists of the wrong length for write/read/regv), they raise
RuntimeError as UCCL does. They never crash or touch memory they should not."""

import struct
import time

import pytest

from p2p_harness import DEADLINE_S, dial, finish, listen, pattern, reg, run_pair


@pytest.fixture
def ep_and_buf(core):
    import numpy as np

    ep = core.Endpoint()
    buf = np.zeros(8192, dtype=np.uint8)
    return ep, buf


def test_local_bad_inputs(ep_and_buf):
    ep, buf = ep_and_buf
    ptr = buf.ctypes.data
    assert ep.reg(0, 4096) == (False, 0)
    assert "reg" in ep.last_error()
    assert ep.reg(ptr, 0) == (False, 0)
    with pytest.raises(RuntimeError, match="ptrs and sizes must match"):  # as UCCL
        ep.regv([ptr, ptr], [4096])
    assert ep.regv([ptr, 0], [4096, 4096]) == (False, [])  # all or nothing
    assert ep.dereg(987654) is False
    assert ep.poll_async(987654) == (False, False)
    ok, mr = ep.reg(ptr, buf.nbytes)
    assert ok
    assert ep.advertise(987654, ptr, 4096) == (False, b"")  # unknown mr_id
    assert ep.advertise(55, mr, ptr, 4096) == (False, b"")  # unknown conn_id
    assert ep.advertise(mr, ptr + 4096, 8192) == (False, b"")  # outside the registration
    assert ep.advertisev([mr], [ptr, ptr], [1, 1], 2) == (False, [])
    # Transfers on a connection that does not exist.
    assert ep.send(77, mr, ptr, 16) is False
    assert "conn" in ep.last_error()
    assert ep.recv_async(77, mr, ptr, 16) == (False, 0)
    ok, fifo = ep.advertise(mr, ptr, 4096)
    assert ok
    assert ep.write(77, mr, ptr, 16, fifo) is False
    assert ep.sendv(77, [mr], [ptr], [16, 16], 1) is False
    assert "lengths" in ep.last_error()
    assert ep.sendv(77, [], [], [], 0) is False
    assert ep.dereg(mr) is True
    assert ep.dereg(mr) is False


@pytest.mark.parametrize("length", [0, 1, 63, 65, 128])
def test_wrong_length_fifo_blob(ep_and_buf, length):
    ep, buf = ep_and_buf
    ok, mr = ep.reg(buf.ctypes.data, buf.nbytes)
    assert ok
    blob = b"\x01" * length
    # UCCL raises RuntimeError("meta must be exactly 64 bytes (serialized FifoItem)").
    for call in (lambda: ep.write(1, mr, buf.ctypes.data, 16, blob),
                 lambda: ep.read_async(1, mr, buf.ctypes.data, 16, blob),
                 lambda: ep.writev(1, [mr], [buf.ctypes.data], [16], [blob], 1),
                 lambda: ep.readv_async(1, [mr], [buf.ctypes.data], [16], [blob], 1)):
        with pytest.raises(RuntimeError, match=rf"is {length} bytes; expected the 64-byte FifoItem"):
            call()


def test_wrong_argument_types_raise_type_error(ep_and_buf):
    ep, buf = ep_and_buf
    with pytest.raises(TypeError):
        ep.reg("not a pointer", 16)
    with pytest.raises(TypeError):
        ep.write(1, 1, buf.ctypes.data, 16, "not bytes")
    with pytest.raises(TypeError):
        ep.connect("127.0.0.1", 1.5, 1234)


# ---- against a real peer: refused one-sided access leaves the target untouched ----

REGION = 8192
ADVERTISED = 4096


def _target(peer):
    import numpy as np

    ep, conn = listen(peer)
    buf = np.zeros(REGION, dtype=np.uint8)
    mr = reg(ep, buf)
    ok, fifo = ep.advertise(conn, mr, buf.ctypes.data, ADVERTISED)  # only the first half
    assert ok
    peer.send(fifo)
    peer.expect("refusals done")
    assert not buf.any(), "a refused write changed the target"
    peer.send("untouched")
    peer.expect("valid write done")
    assert np.array_equal(buf[:ADVERTISED], pattern(ADVERTISED, 9))
    assert not buf[ADVERTISED:].any()
    peer.send("verified")
    finish(peer)
    return "ok"


def _intruder(peer):
    import numpy as np

    ep, conn = dial(peer)
    fifo = peer.recv()
    src = pattern(REGION, 9)
    mr = reg(ep, src)
    ptr = src.ctypes.data
    addr, _ = struct.unpack_from("<QI", fifo)

    def patched(new_addr, new_size, token_xor=0):
        item = bytearray(fifo)
        struct.pack_into("<QI", item, 0, new_addr, new_size)
        idx = struct.unpack_from("<Q", item, 24)[0] ^ token_xor
        struct.pack_into("<Q", item, 24, idx)
        return bytes(item)

    failures = {
        "past the advertisement": ep.write(conn, mr, ptr, ADVERTISED, patched(addr + ADVERTISED, ADVERTISED)),
        "straddling the end": ep.write(conn, mr, ptr, 2048, patched(addr + 3072, 2048)),
        "before the start": ep.write(conn, mr, ptr, 16, patched(addr - 16, 16)),
        "larger than advertised": ep.write(conn, mr, ptr, REGION, fifo),
        "forged token": ep.write(conn, mr, ptr, 16, patched(addr, 16, token_xor=1)),
        "unknown local mr_id": ep.write(conn, 424242, ptr, 16, fifo),
        "buffer outside local mr": ep.write(conn, mr, ptr + REGION - 8, 16, fifo),
        "wrong conn_id": ep.write(conn + 1000, mr, ptr, 16, fifo),
        "read past the advertisement": ep.read(conn, mr, ptr, 16, patched(addr + ADVERTISED, 16)),
    }
    accepted = [k for k, ok in failures.items() if ok is not False]
    assert not accepted, f"accepted bad writes: {accepted}"
    try:
        ep.write(conn, mr, ptr, 16, fifo[:63])
        raise AssertionError("a truncated FifoItem was accepted")
    except RuntimeError as e:  # raised before anything is sent, as UCCL does
        assert "63 bytes" in str(e)
    ok, tid = ep.write_async(conn, mr, ptr, 16, patched(addr + ADVERTISED, 16))
    if ok:  # refused by the peer: the failure arrives through poll_async
        deadline = time.monotonic() + DEADLINE_S
        while True:
            ok, done = ep.poll_async(tid)
            if done or not ok or time.monotonic() > deadline:
                break
            time.sleep(0.0002)
        assert (ok, done) == (False, True), "refused async write did not report failure"
    peer.send("refusals done")
    peer.expect("untouched")
    # The connection still works after all of that.
    assert ep.write(conn, mr, ptr, ADVERTISED, fifo), ep.last_error()
    peer.send("valid write done")
    peer.expect("verified")
    finish(peer)
    return "ok"


def test_refused_access_leaves_target_untouched(core):
    assert run_pair(_target, _intruder) == ("ok", "ok")


def test_unknown_transport_fails_construction(core, monkeypatch):
    # Not "auto": a typo must not quietly pick another transport.
    monkeypatch.setenv("UCCL_P2P_TRANSPORT", "foo")
    with pytest.raises(RuntimeError, match=r"UCCL_P2P_TRANSPORT=foo: unknown value 'foo' "
                                           r"\(accepted: tcpx, tcp, auto\)"):
        core.Endpoint()
    monkeypatch.setenv("UCCL_P2P_TRANSPORT", "tcp")
    assert core.Endpoint() is not None
