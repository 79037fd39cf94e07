"""Liveness: a connection with nothing to do lives on; a peer that stops answering fails it.

The test process is one side; a spawned child process (the peer) is the other, so that the test
can freeze (SIGSTOP) or kill (SIGKILL) it. UCCL_TCPX_TIMEOUT_MS is short here (500 ms): idle gaps
three times as long must not matter, a frozen peer must fail every outstanding transfer within
the timeout + 1 s with an error that says so and names the peer, and a killed one within 100 ms.
Every byte that moves is checked.
"""

import multiprocessing
import os
import signal
import time

import pytest

from p2p_harness import DEADLINE_S, pattern, reg

TIMEOUT_MS = 500
IDLE_S = 3 * TIMEOUT_MS / 1000
SIZES = (8, 1 << 20)


def _peer_main(pipe, timeout_ms):
    """The child: connects to the test's endpoint and follows its orders until "exit"."""
    os.environ["UCCL_TCPX_TIMEOUT_MS"] = str(timeout_ms)
    os.environ.setdefault("UCCL_SOCKET_IFNAME", "lo")
    import numpy as np
    import tcpx_p2p as p2p

    ep = p2p.Endpoint(-1)
    ip, port, _ = p2p.Endpoint.parse_metadata(pipe.recv())
    ok, conn = ep.connect(ip, -1, port)
    pipe.send(("connected", ok, os.getpid()))
    bufs = {}
    while True:
        order = pipe.recv()
        kind = order[0]
        if kind == "exit":
            return
        if kind == "idle":  # the scenario itself: a gap with no traffic at all
            time.sleep(order[1])
            pipe.send("idled")
        elif kind == "send":
            size, seed = order[1], order[2]
            src = pattern(size, seed)
            ok = ep.send(conn, reg(ep, src), src.ctypes.data, size)
            pipe.send(("sent", ok, ep.last_error()))
        elif kind == "write" or kind == "read":
            size, seed, fifo = order[1], order[2], order[3]
            buf = pattern(size, seed) if kind == "write" else np.zeros(size, dtype=np.uint8)
            call = ep.write if kind == "write" else ep.read
            ok = call(conn, reg(ep, buf), buf.ctypes.data, size, fifo)
            pipe.send((kind, ok, ep.last_error(), buf.tobytes() if kind == "read" else b""))
        elif kind == "hold":  # keep the connection open, do nothing
            bufs["held"] = True
            pipe.send("holding")


class Peer:
    def __init__(self, ep, timeout_ms=TIMEOUT_MS):
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_peer_main, args=(child, timeout_ms), daemon=True)
        self.proc.start()
        self.pipe.send(ep.get_metadata())
        ok, self.ip, _gpu, self.conn = ep.accept()
        assert ok, ep.last_error()
        tag, ok, self.pid = self.ask(None)
        assert tag == "connected" and ok

    def ask(self, order, timeout=DEADLINE_S):
        if order is not None:
            self.pipe.send(order)
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"no answer from the peer process to {order!r}")
        return self.pipe.recv()

    def close(self):
        if self.proc.is_alive():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                self.pipe.send(("exit",))
            except (OSError, BrokenPipeError):
                pass
            self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)


@pytest.fixture
def endpoint(core, monkeypatch):
    monkeypatch.setenv("UCCL_TCPX_TIMEOUT_MS", str(TIMEOUT_MS))
    monkeypatch.setenv("UCCL_SOCKET_IFNAME", "lo")
    return core.Endpoint(-1)


def test_idle_connection_outlives_the_timeout(endpoint):
    """Gaps of 3x the timeout between transfers: every kind, small and large, still works."""
    import numpy as np

    ep = endpoint
    peer = Peer(ep)
    try:
        for size in SIZES:
            # send/recv
            assert peer.ask(("idle", IDLE_S)) == "idled"
            dst = np.zeros(size, dtype=np.uint8)
            peer.pipe.send(("send", size, 11))
            ok = ep.recv(peer.conn, reg(ep, dst), dst.ctypes.data, size)
            assert ok, ep.last_error()
            tag, sent, err = peer.ask(None)
            assert sent, err
            assert np.array_equal(dst, pattern(size, 11))
            # one-sided write into an advertised buffer
            assert peer.ask(("idle", IDLE_S)) == "idled"
            target = np.zeros(size, dtype=np.uint8)
            mr = reg(ep, target)
            ok, fifo = ep.advertise(peer.conn, mr, target.ctypes.data, size)
            assert ok, ep.last_error()
            tag, wrote, err, _ = peer.ask(("write", size, 12, fifo))
            assert wrote, err
            assert np.array_equal(target, pattern(size, 12))
            # one-sided read from an advertised buffer
            assert peer.ask(("idle", IDLE_S)) == "idled"
            source = pattern(size, 13)
            mr = reg(ep, source)
            ok, fifo = ep.advertise(peer.conn, mr, source.ctypes.data, size)
            assert ok, ep.last_error()
            tag, read, err, data = peer.ask(("read", size, 0, fifo))
            assert read, err
            assert data == source.tobytes()
    finally:
        peer.close()


def _wait_failed(ep, tids, limit_s):
    """Polls until every transfer ended; returns (seconds, [(ok, error text)])."""
    start = time.monotonic()
    ended = {}
    while len(ended) < len(tids):
        for tid in tids:
            if tid in ended:
                continue
            ok, done = ep.poll_async(tid)
            if not ok or done:
                ended[tid] = (ok, ep.last_error())
        if time.monotonic() - start > limit_s:
            break
        time.sleep(0.0002)  # backoff between polls, bounded by limit_s
    return time.monotonic() - start, [ended.get(t, (None, "still running")) for t in tids]


def test_frozen_peer_fails_everything_outstanding(endpoint):
    """A posted recv (UCCL: waits for the peer's send) and a send the peer never receives: both
    outstanding when the peer freezes; both fail within the timeout + 1 s, saying why."""
    import numpy as np

    ep = endpoint
    peer = Peer(ep)
    try:
        assert peer.ask(("hold",)) == "holding"
        dst = np.zeros(1 << 20, dtype=np.uint8)
        ok, rx = ep.recv_async(peer.conn, reg(ep, dst), dst.ctypes.data, dst.nbytes)
        assert ok, ep.last_error()
        src = pattern(1 << 20, 5)
        ok, tx = ep.send_async(peer.conn, reg(ep, src), src.ctypes.data, src.nbytes)
        assert ok, ep.last_error()
        # Alive and idle: nothing ends while the peer answers (3 timeouts long).
        seconds, ended = _wait_failed(ep, [rx, tx], IDLE_S)
        assert ended == [(None, "still running")] * 2, ended
        os.kill(peer.pid, signal.SIGSTOP)
        seconds, ended = _wait_failed(ep, [rx, tx], TIMEOUT_MS / 1000 + 3)
        for ok, err in ended:
            assert ok is False, ended
            assert "stopped answering" in err and "127.0.0.1" in err, err
        print(f"frozen peer: both transfers failed {seconds:.3f} s after SIGSTOP "
              f"(UCCL_TCPX_TIMEOUT_MS={TIMEOUT_MS})")
        assert seconds <= TIMEOUT_MS / 1000 + 1.0, f"detected after {seconds:.2f} s"
        assert seconds >= TIMEOUT_MS / 1000 * 0.5, f"failed too early: {seconds:.2f} s"
    finally:
        peer.close()


def test_killed_peer_is_detected_within_100_ms(endpoint):
    import numpy as np

    ep = endpoint
    peer = Peer(ep, timeout_ms=30000)
    try:
        assert peer.ask(("hold",)) == "holding"
        dst = np.zeros(4096, dtype=np.uint8)
        ok, rx = ep.recv_async(peer.conn, reg(ep, dst), dst.ctypes.data, dst.nbytes)
        assert ok, ep.last_error()
        os.kill(peer.pid, signal.SIGKILL)
        seconds, ended = _wait_failed(ep, [rx], 5)
        assert ended[0][0] is False, ended
        assert "127.0.0.1" in ended[0][1], ended
        print(f"killed peer: the posted recv failed {seconds * 1000:.1f} ms after SIGKILL")
        assert seconds < 0.1, f"a killed peer was detected after {seconds * 1000:.0f} ms"
    finally:
        peer.close()
