"""Two processes over loopback, host memory (numpy): ports of UCCL's p2p test patterns
(test_engine_send.py, test_engine_write.py, test_engine_read.py) plus async, vector, many
transfers in flight and both directions at once."""

import struct
import threading

from p2p_harness import dial, finish, listen, pattern, reg, run_pair, wait_all, wait_done

SIZES = [1, 255, 4096, 65536 + 3, 1 << 20, (3 << 20) + 5]
SLACK = 64  # recv buffers are larger than the message: size is a maximum


# ---- send / recv of several sizes, blocking (UCCL test_engine_send.py) ----


def _recv_sizes(peer):
    import numpy as np

    ep, conn = listen(peer)
    buf = np.empty(max(SIZES) + SLACK, dtype=np.uint8)
    mr = reg(ep, buf)
    for size in SIZES:
        buf.fill(0xEE)
        assert ep.recv(conn, mr, buf.ctypes.data, size + SLACK), ep.last_error()
        assert np.array_equal(buf[:size], pattern(size, size)), f"size {size}: data differs"
        assert (buf[size:] == 0xEE).all(), f"size {size}: wrote past the message"
        peer.send(("verified", size))
    finish(peer)
    return len(SIZES)


def _send_sizes(peer):
    ep, conn = dial(peer)
    for size in SIZES:
        src = pattern(size, size)
        mr = reg(ep, src)
        assert ep.send(conn, mr, src.ctypes.data, size), ep.last_error()
        peer.expect(("verified", size))
        assert ep.dereg(mr)
    finish(peer)
    return len(SIZES)


def test_send_recv_sizes(core):
    assert run_pair(_recv_sizes, _send_sizes) == (len(SIZES), len(SIZES))


# ---- write / read into an advertised buffer (UCCL test_engine_write.py / test_engine_read.py) ----

N = (2 << 20) + 17


def _advertiser(peer):
    import numpy as np

    ep, conn = listen(peer)
    buf = np.zeros(N, dtype=np.uint8)
    mr = reg(ep, buf)
    ok, fifo_conn = ep.advertise(conn, mr, buf.ctypes.data, N)  # UCCL 0.1.1 signature
    assert ok and len(fifo_conn) == 64, ep.last_error()
    ok, fifo_any = ep.advertise(mr, buf.ctypes.data, N)  # newer signature, any connection
    assert ok and len(fifo_any) == 64, ep.last_error()
    # UCCL layout: u64 addr @0, u32 size @8, little-endian.
    assert struct.unpack_from("<QI", fifo_conn) == (buf.ctypes.data, N)
    peer.send((fifo_conn, fifo_any))

    peer.expect("written")
    assert np.array_equal(buf, pattern(N, 1)), "write: data differs"
    peer.send("checked")
    peer.expect("sub-range written")
    assert np.array_equal(buf[4096:8192], pattern(4096, 3)), "sub-range write missed"
    assert np.array_equal(buf[:4096], pattern(N, 1)[:4096]), "sub-range write spilled"
    buf[:] = pattern(N, 2)
    peer.send("ready to be read")
    peer.expect("read")
    finish(peer)
    return "ok"


def _writer_reader(peer):
    import numpy as np

    ep, conn = dial(peer)
    fifo_conn, fifo_any = peer.recv()
    src = pattern(N, 1)
    mr = reg(ep, src)
    assert ep.write(conn, mr, src.ctypes.data, N, fifo_conn), ep.last_error()
    peer.send("written")
    peer.expect("checked")
    # Point the item at a sub-range, as applications do (uccl_engine_update_fifo): addr @0, size @8.
    addr, _ = struct.unpack_from("<QI", fifo_any)
    sub = bytearray(fifo_any)
    struct.pack_into("<QI", sub, 0, addr + 4096, 4096)
    small = pattern(4096, 3)
    small_mr = reg(ep, small)
    assert ep.write(conn, small_mr, small.ctypes.data, 4096, bytes(sub)), ep.last_error()
    peer.send("sub-range written")
    peer.expect("ready to be read")
    dst = np.zeros(N, dtype=np.uint8)
    dst_mr = reg(ep, dst)
    assert ep.read(conn, dst_mr, dst.ctypes.data, N, fifo_any), ep.last_error()
    assert np.array_equal(dst, pattern(N, 2)), "read: data differs"
    peer.send("read")
    finish(peer)
    return "ok"


def test_write_read_advertised(core):
    assert run_pair(_advertiser, _writer_reader) == ("ok", "ok")


# ---- async: *_async + poll_async with a deadline ----


def _async_server(peer):
    import numpy as np

    ep, conn = listen(peer)
    rbuf = np.zeros(1 << 20, dtype=np.uint8)
    rmr = reg(ep, rbuf)
    ok, tid = ep.recv_async(conn, rmr, rbuf.ctypes.data, rbuf.nbytes)
    assert ok, ep.last_error()
    wait_done(ep, tid)
    assert np.array_equal(rbuf, pattern(1 << 20, 5))
    # A finished id is released: polling it again is an error.
    assert ep.poll_async(tid) == (False, False)
    assert "unknown" in ep.last_error()

    target = np.zeros(1 << 20, dtype=np.uint8)
    tmr = reg(ep, target)
    ok, fifo = ep.advertise(conn, tmr, target.ctypes.data, target.nbytes)
    assert ok
    peer.send(fifo)
    peer.expect("written")
    assert np.array_equal(target, pattern(1 << 20, 6))
    target[:] = pattern(1 << 20, 7)
    peer.send("read now")
    peer.expect("done")
    finish(peer)
    return "ok"


def _async_client(peer):
    import numpy as np

    ep, conn = dial(peer)
    src = pattern(1 << 20, 5)
    mr = reg(ep, src)
    ok, tid = ep.send_async(conn, mr, src.ctypes.data, src.nbytes)
    assert ok, ep.last_error()
    wait_done(ep, tid)

    fifo = peer.recv()
    w = pattern(1 << 20, 6)
    wmr = reg(ep, w)
    ok, tid = ep.write_async(conn, wmr, w.ctypes.data, w.nbytes, fifo)
    assert ok, ep.last_error()
    wait_done(ep, tid)
    peer.send("written")
    peer.expect("read now")
    back = np.zeros(1 << 20, dtype=np.uint8)
    bmr = reg(ep, back)
    ok, tid = ep.read_async(conn, bmr, back.ctypes.data, back.nbytes, fifo)
    assert ok, ep.last_error()
    wait_done(ep, tid)
    assert np.array_equal(back, pattern(1 << 20, 7))
    peer.send("done")
    finish(peer)
    return "ok"


def test_async_poll(core):
    assert run_pair(_async_server, _async_client) == ("ok", "ok")


# ---- vector calls: sendv/recvv, writev/readv (+ _async), regv, advertisev ----

VSIZES = [100, 70000, 1 << 20]


def _vector_server(peer):
    import numpy as np

    ep, conn = listen(peer)
    bufs = [np.zeros(n, dtype=np.uint8) for n in VSIZES]
    ok, mrs = ep.regv([b.ctypes.data for b in bufs], [b.nbytes for b in bufs])
    assert ok and len(mrs) == len(bufs), ep.last_error()
    ptrs = [b.ctypes.data for b in bufs]
    assert ep.recvv(conn, mrs, ptrs, VSIZES, len(bufs)), ep.last_error()
    for i, b in enumerate(bufs):
        assert np.array_equal(b, pattern(VSIZES[i], 10 + i)), f"recvv buffer {i}"
    ok, tid = ep.recvv_async(conn, mrs, ptrs, VSIZES, len(bufs))
    assert ok, ep.last_error()
    wait_done(ep, tid)
    for i, b in enumerate(bufs):
        assert np.array_equal(b, pattern(VSIZES[i], 20 + i)), f"recvv_async buffer {i}"

    ok, fifos_conn = ep.advertisev(conn, mrs, ptrs, VSIZES, len(bufs))  # UCCL 0.1.1
    assert ok and [len(f) for f in fifos_conn] == [64] * len(bufs), ep.last_error()
    ok, fifos_any = ep.advertisev(mrs, ptrs, VSIZES, len(bufs))  # newer, no conn_id
    assert ok and len(fifos_any) == len(bufs), ep.last_error()
    peer.send((fifos_conn, fifos_any))
    for seed in (30, 40):
        peer.expect(("written", seed))
        for i, b in enumerate(bufs):
            assert np.array_equal(b, pattern(VSIZES[i], seed + i)), f"writev seed {seed} buffer {i}"
            b[:] = pattern(VSIZES[i], seed + 5 + i)
        peer.send(("ready", seed))
    peer.expect("done")
    finish(peer)
    return "ok"


def _vector_client(peer):
    import numpy as np

    ep, conn = dial(peer)

    def sources(seed):
        srcs = [pattern(n, seed + i) for i, n in enumerate(VSIZES)]
        ok, mrs = ep.regv([s.ctypes.data for s in srcs], [s.nbytes for s in srcs])
        assert ok, ep.last_error()
        return srcs, mrs, [s.ctypes.data for s in srcs]

    srcs, mrs, ptrs = sources(10)
    assert ep.sendv(conn, mrs, ptrs, VSIZES, len(srcs)), ep.last_error()
    srcs2, mrs2, ptrs2 = sources(20)
    ok, tid = ep.sendv_async(conn, mrs2, ptrs2, VSIZES, len(srcs2))
    assert ok, ep.last_error()
    wait_done(ep, tid)

    fifos_conn, fifos_any = peer.recv()
    for seed, fifos, use_async in ((30, fifos_conn, False), (40, fifos_any, True)):
        srcs, mrs, ptrs = sources(seed)
        if use_async:
            ok, tid = ep.writev_async(conn, mrs, ptrs, VSIZES, fifos, len(srcs))
            assert ok, ep.last_error()
            wait_done(ep, tid)
        else:
            assert ep.writev(conn, mrs, ptrs, VSIZES, fifos, len(srcs)), ep.last_error()
        peer.send(("written", seed))
        peer.expect(("ready", seed))
        dsts = [np.zeros(n, dtype=np.uint8) for n in VSIZES]
        ok, dmrs = ep.regv([d.ctypes.data for d in dsts], VSIZES)
        assert ok
        dptrs = [d.ctypes.data for d in dsts]
        if use_async:
            ok, tid = ep.readv_async(conn, dmrs, dptrs, VSIZES, fifos, len(dsts))
            assert ok, ep.last_error()
            wait_done(ep, tid)
        else:
            assert ep.readv(conn, dmrs, dptrs, VSIZES, fifos, len(dsts)), ep.last_error()
        for i, d in enumerate(dsts):
            assert np.array_equal(d, pattern(VSIZES[i], seed + 5 + i)), f"readv seed {seed} buffer {i}"
    peer.send("done")
    finish(peer)
    return "ok"


def test_vectored(core):
    assert run_pair(_vector_server, _vector_client) == ("ok", "ok")


# ---- many transfers in flight ----

MANY = 64
PIECE = 24 * 1024 + 1


def _many_receiver(peer):
    import numpy as np

    ep, conn = listen(peer)
    buf = np.zeros(MANY * PIECE, dtype=np.uint8)
    mr = reg(ep, buf)
    tids = []
    for i in range(MANY):
        ok, tid = ep.recv_async(conn, mr, buf.ctypes.data + i * PIECE, PIECE)
        assert ok, ep.last_error()
        tids.append(tid)
    peer.send("posted")
    wait_all(ep, tids)
    for i in range(MANY):  # posting order matches: piece i went to receive i
        assert np.array_equal(buf[i * PIECE:(i + 1) * PIECE], pattern(PIECE, 100 + i)), f"piece {i}"

    buf[:] = 0
    ok, fifo = ep.advertise(conn, mr, buf.ctypes.data, buf.nbytes)
    assert ok
    peer.send(fifo)
    peer.expect("written")
    for i in range(MANY):
        assert np.array_equal(buf[i * PIECE:(i + 1) * PIECE], pattern(PIECE, 200 + i)), f"write {i}"
    finish(peer)
    return "ok"


def _many_sender(peer):
    import numpy as np

    ep, conn = dial(peer)
    src = np.concatenate([pattern(PIECE, 100 + i) for i in range(MANY)])
    mr = reg(ep, src)
    peer.expect("posted")  # not required for correctness; makes all receives wait first
    tids = []
    for i in range(MANY):
        ok, tid = ep.send_async(conn, mr, src.ctypes.data + i * PIECE, PIECE)
        assert ok, ep.last_error()
        tids.append(tid)
    wait_all(ep, tids)

    fifo = peer.recv()
    addr, _ = struct.unpack_from("<QI", fifo)
    wsrc = np.concatenate([pattern(PIECE, 200 + i) for i in range(MANY)])
    wmr = reg(ep, wsrc)
    tids = []
    for i in range(MANY):
        item = bytearray(fifo)
        struct.pack_into("<QI", item, 0, addr + i * PIECE, PIECE)
        ok, tid = ep.write_async(conn, wmr, wsrc.ctypes.data + i * PIECE, PIECE, bytes(item))
        assert ok, ep.last_error()
        tids.append(tid)
    wait_all(ep, tids)
    peer.send("written")
    finish(peer)
    return "ok"


def test_many_in_flight(core):
    assert run_pair(_many_receiver, _many_sender) == ("ok", "ok")


# ---- both directions at once; blocking calls from two threads (proves the GIL is released:
# each side's blocking send can only finish once the other side's recv thread has run) ----

BIDIR = 4 << 20


def _bidir(peer, role):
    import numpy as np

    ep, conn = listen(peer) if role == "server" else dial(peer)
    mine, theirs = (1, 2) if role == "server" else (2, 1)
    src = pattern(BIDIR, mine)
    dst = np.zeros(BIDIR, dtype=np.uint8)
    smr, dmr = reg(ep, src), reg(ep, dst)

    # Async, both directions in flight together.
    ok, rt = ep.recv_async(conn, dmr, dst.ctypes.data, BIDIR)
    assert ok, ep.last_error()
    ok, st = ep.send_async(conn, smr, src.ctypes.data, BIDIR)
    assert ok, ep.last_error()
    wait_all(ep, [rt, st])
    assert np.array_equal(dst, pattern(BIDIR, theirs))

    # Blocking, a sender thread and a receiving main thread.
    dst[:] = 0
    sent = []
    t = threading.Thread(target=lambda: sent.append(ep.send(conn, smr, src.ctypes.data, BIDIR)), daemon=True)
    t.start()
    assert ep.recv(conn, dmr, dst.ctypes.data, BIDIR), ep.last_error()
    t.join(timeout=30)
    assert sent == [True], ep.last_error()
    assert np.array_equal(dst, pattern(BIDIR, theirs))
    finish(peer)
    return "ok"


def _bidir_server(peer):
    return _bidir(peer, "server")


def _bidir_client(peer):
    return _bidir(peer, "client")


def test_both_directions(core):
    assert run_pair(_bidir_server, _bidir_client) == ("ok", "ok")


# ---- notifications (extras, the C API's uccl_engine_send_notif / get_notifs) ----


def _notified(peer):
    import time

    ep, conn = listen(peer)
    deadline = time.monotonic() + 20
    got = []
    while len(got) < 2 and time.monotonic() < deadline:
        got += ep.get_notifs()
        time.sleep(0.001)  # backoff while polling, bounded by the deadline
    finish(peer)
    return got


def _notifier(peer):
    ep, conn = dial(peer)
    assert ep.send_notify(conn, "kv-ready", b"\x00\x01binary")
    assert ep.send_notify(conn, "text", "plain str")
    assert ep.send_notify(conn + 99, "x", "y") is False
    finish(peer)
    return "sent"


def test_notifications(core):
    got, _ = run_pair(_notified, _notifier)
    assert got == [("kv-ready", b"\x00\x01binary"), ("text", b"plain str")]


# ---- a receiver that goes away right after its recv: the sender's send still succeeds ----


def _recv_and_leave(peer):
    import numpy as np

    ep, conn = listen(peer)
    buf = np.empty(3 << 20, dtype=np.uint8)
    mr = reg(ep, buf)
    assert ep.recv(conn, mr, buf.ctypes.data, buf.nbytes), ep.last_error()
    del ep  # closes the connection at once (no barrier on purpose)
    return "left"


def _send_to_leaver(peer):
    ep, conn = dial(peer)
    src = pattern(3 << 20, 11)
    mr = reg(ep, src)
    return ep.send(conn, mr, src.ctypes.data, src.nbytes), ep.last_error()


def test_send_completes_when_the_receiver_leaves(core):
    _, (ok, err) = run_pair(_recv_and_leave, _send_to_leaver)
    assert ok, err


# ---- traffic counters (Endpoint.stats(), tcpx-p2p extension) ----

STATS_SIZE = (4 << 20) + 1


def _stats_receiver(peer):
    import numpy as np

    ep, conn = listen(peer)
    buf = np.empty(STATS_SIZE, dtype=np.uint8)
    mr = reg(ep, buf)
    assert ep.recv(conn, mr, buf.ctypes.data, STATS_SIZE), ep.last_error()
    stats = ep.stats()
    received = sum(n["bytes_received"] for n in stats["nics"])
    assert received >= STATS_SIZE, stats
    assert sum(c["bytes_received"] for c in stats["channels"]) >= STATS_SIZE, stats
    finish(peer)
    return received


def _stats_sender(peer):
    ep, conn = dial(peer)
    src = pattern(STATS_SIZE, 3)
    mr = reg(ep, src)
    assert ep.send(conn, mr, src.ctypes.data, STATS_SIZE), ep.last_error()
    stats = ep.stats()
    assert {"nics", "connections", "channels"} <= set(stats)
    # A host-memory endpoint holds no pinned staging.
    assert [(c["conn_id"], c["staging_bytes"]) for c in stats["connections"]] == [(conn, 0)], stats
    sent = sum(n["bytes_sent"] for n in stats["nics"])
    assert sent >= STATS_SIZE, stats
    finish(peer)
    return sent


def test_stats_count_the_bytes_moved(core):
    received, sent = run_pair(_stats_receiver, _stats_sender)
    assert received >= STATS_SIZE and sent >= STATS_SIZE


# ---- vectors of many small scattered pieces (one WriteVec/ReadVec per 2048 pieces) ----

NPIECES = 3000
GAP = 13


def _piece_layout():
    """Odd piece sizes (1 B .. 20 KiB, some empty); the server's pieces in reverse order."""
    import numpy as np

    sizes = np.random.default_rng(23).integers(0, 20 * 1024, NPIECES)
    sizes[::97] = 0
    sizes[5] = 1
    local = np.cumsum(np.concatenate(([7], sizes[:-1] + GAP)))
    remote = np.empty(NPIECES, dtype=np.int64)
    at = 3
    for i in reversed(range(NPIECES)):
        remote[i] = at
        at += sizes[i] + GAP
    return [int(s) for s in sizes], [int(x) for x in local], [int(x) for x in remote], at + 64


def _expect_pieces(dst, dst_offs, src, src_offs, sizes, untouched):
    import numpy as np

    want = np.full(dst.size, untouched, dtype=np.uint8)
    for s, d, n in zip(src_offs, dst_offs, sizes):
        want[d:d + n] = src[s:s + n]
    bad = np.nonzero(dst != want)[0]
    assert bad.size == 0, f"{bad.size} bytes differ, the first at {bad[0]}"


def _pieces_server(peer):
    import numpy as np

    ep, conn = listen(peer)
    sizes, local, remote, extent = _piece_layout()
    buf = np.full(extent, 0xEE, dtype=np.uint8)
    mr = reg(ep, buf)
    ok, fifo = ep.advertise(conn, mr, buf.ctypes.data, buf.nbytes)
    assert ok, ep.last_error()
    peer.send(fifo)
    peer.expect("written")
    src = pattern(extent + 64, 77)  # what the client wrote, at its offsets
    _expect_pieces(buf, remote, src, local, sizes, 0xEE)
    buf[:] = pattern(extent, 78)
    peer.send("ready")
    peer.expect("done")
    finish(peer)
    return "ok"


def _pieces_client(peer):
    import numpy as np

    ep, conn = dial(peer)
    sizes, local, remote, extent = _piece_layout()
    fifo = peer.recv()
    addr, _ = struct.unpack_from("<QI", fifo)
    fifos = []
    for off, n in zip(remote, sizes):
        item = bytearray(fifo)
        struct.pack_into("<QI", item, 0, addr + off, n)
        fifos.append(bytes(item))
    src = pattern(extent + 64, 77)
    mr = reg(ep, src)
    mrs = [mr] * NPIECES
    assert ep.writev(conn, mrs, [src.ctypes.data + o for o in local], sizes, fifos, NPIECES), \
        ep.last_error()
    peer.send("written")
    peer.expect("ready")
    dst = np.full(extent + 64, 0xEE, dtype=np.uint8)
    dmr = reg(ep, dst)
    ok, tid = ep.readv_async(conn, [dmr] * NPIECES, [dst.ctypes.data + o for o in local], sizes,
                             fifos, NPIECES)
    assert ok, ep.last_error()
    wait_done(ep, tid)
    _expect_pieces(dst, local, pattern(extent, 78), remote, sizes, 0xEE)
    # Destination pieces that overlap are refused before anything moves.
    dst[:] = 0xEE
    overlapping = [dst.ctypes.data + 100, dst.ctypes.data + 100 + 4096]
    assert not ep.readv(conn, [dmr, dmr], overlapping, [8192, 8192], fifos[1:3], 2)
    assert "overlap" in ep.last_error(), ep.last_error()
    assert (dst == 0xEE).all(), "a refused readv wrote"
    peer.send("done")
    finish(peer)
    return "ok"


def test_vector_of_thousands_of_scattered_pieces(core):
    assert run_pair(_pieces_server, _pieces_client) == ("ok", "ok")
