"""Two-process test harness for tcpx_p2p over loopback.

run_pair(server, client) starts each side in its own spawned process, connected to the other by
a pipe (Peer) for out-of-band exchange (metadata, FIFO blobs, "done" messages), and waits for
both with a deadline. A side that raises, hangs past the deadline or dies fails the test with its
traceback; both processes are always reaped. Side functions must be module-level (picklable) and
take (peer, *args); they return something picklable.

Nothing here sleeps to synchronise: every wait is on a pipe or a queue, with a deadline.
"""

import multiprocessing
import os
import queue
import time
import traceback

DEADLINE_S = float(os.environ.get("TCPXP_PYTEST_DEADLINE_S", "30"))
# Bound the engine's own waits (a transfer or handshake with no progress fails after this).
os.environ.setdefault("UCCL_SOCKET_IFNAME", "lo")
os.environ.setdefault("UCCL_TCPX_TIMEOUT_MS", "10000")


def core_import_error():
    """None when tcpx_p2p and its compiled module import, else why not."""
    try:
        import tcpx_p2p

        tcpx_p2p._load_core()
        return None
    except ImportError as e:  # not built, or built for another Python
        return f"{type(e).__name__}: {e}"


def p2p():
    import tcpx_p2p

    return tcpx_p2p


class Peer:
    """The other process: send() anything picklable, recv() with a deadline."""

    def __init__(self, conn, name):
        self._conn = conn
        self.name = name

    def send(self, obj):
        self._conn.send(obj)

    def recv(self, timeout=DEADLINE_S):
        if not self._conn.poll(timeout):
            raise TimeoutError(f"{self.name}: no message from the peer within {timeout} s")
        return self._conn.recv()

    def expect(self, value, timeout=DEADLINE_S):
        got = self.recv(timeout)
        if got != value:
            raise AssertionError(f"{self.name}: expected {value!r} from the peer, got {got!r}")


def _side_main(fn, name, conn, results, args):
    import faulthandler

    faulthandler.enable()  # a crash prints the Python stack of every thread to stderr
    try:
        value = fn(Peer(conn, name), *args)
        results.put((name, "ok", value))
    except BaseException:  # noqa: B036 - report everything, KeyboardInterrupt included
        results.put((name, "error", traceback.format_exc()))


def run_pair(server, client, *args, timeout=DEADLINE_S):
    """Runs server(peer, *args) and client(peer, *args) in two processes; returns their results."""
    ctx = multiprocessing.get_context("spawn")
    a, b = ctx.Pipe(duplex=True)
    results = ctx.Queue()
    procs = {
        "server": ctx.Process(target=_side_main, args=(server, "server", a, results, args), daemon=True),
        "client": ctx.Process(target=_side_main, args=(client, "client", b, results, args), daemon=True),
    }
    for p in procs.values():
        p.start()
    got = {}
    deadline = time.monotonic() + timeout
    try:
        while len(got) < len(procs):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                name, status, value = results.get(timeout=min(left, 0.5))
            except queue.Empty:
                # A side that died without reporting (crash, abort) ends the wait early.
                dead = [n for n, p in procs.items() if n not in got and p.exitcode is not None]
                if dead and results.empty():
                    for n in dead:
                        got[n] = ("error", f"process exited with code {procs[n].exitcode} without a result")
                continue
            got[name] = (status, value)
            if status == "error":
                break  # the other side is probably waiting for it: do not wait out the deadline
    finally:
        killed = set()
        for name, p in procs.items():
            p.join(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
            if p.is_alive():
                killed.add(name)
                p.kill()
                p.join(timeout=5)
        results.close()
        a.close()
        b.close()
    problems = []
    for name, p in procs.items():
        if name in killed:
            missing = f"no result within {timeout} s (killed)"
        else:
            missing = f"process exited with code {p.exitcode} without a result (negative: signal)"
        status, value = got.get(name, ("error", missing))
        if status != "ok":
            problems.append(f"--- {name} ---\n{value}")
    if problems:
        raise AssertionError("two-process test failed:\n" + "\n".join(problems))
    return got["server"][1], got["client"][1]


# ---- helpers used inside the side processes ----


def finish(peer):
    """Barrier at the end of a side: neither process closes its endpoint (by returning) while the
    other may still be completing a transfer on the connection."""
    peer.send("finished")
    peer.expect("finished")


def pattern(n, seed):
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8)


def listen(peer, gpu=-1):
    """Server side: an endpoint, its metadata sent to the peer, one accepted connection."""
    ep = p2p().Endpoint(gpu)
    peer.send(ep.get_metadata())
    ok, remote_ip, remote_gpu, conn = ep.accept()
    assert ok, ep.last_error()
    assert isinstance(remote_ip, str) and remote_ip
    assert isinstance(remote_gpu, int)
    return ep, conn


def dial(peer, gpu=-1):
    """Client side: an endpoint connected to the peer's (from its metadata)."""
    P = p2p()
    ep = P.Endpoint(gpu)
    ip, port, _bdf = P.Endpoint.parse_metadata(peer.recv())
    ok, conn = ep.connect(ip, -1, port)
    assert ok, ep.last_error()
    return ep, conn


def reg(ep, arr):
    ok, mr = ep.reg(arr.ctypes.data, arr.nbytes)
    assert ok, ep.last_error()
    return mr


def wait_done(ep, tid, timeout=DEADLINE_S):
    """Polls transfer tid until done; asserts it succeeded. Backs off briefly between polls."""
    deadline = time.monotonic() + timeout
    while True:
        ok, done = ep.poll_async(tid)
        assert ok, f"transfer {tid}: {ep.last_error()}"
        if done:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"transfer {tid} not done after {timeout} s")
        time.sleep(0.0002)  # backoff, not synchronisation: the deadline bounds the wait


def wait_all(ep, tids, timeout=DEADLINE_S):
    deadline = time.monotonic() + timeout
    pending = list(tids)
    while pending:
        still = []
        for tid in pending:
            ok, done = ep.poll_async(tid)
            assert ok, f"transfer {tid}: {ep.last_error()}"
            if not done:
                still.append(tid)
        pending = still
        if pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} transfers not done after {timeout} s")
            time.sleep(0.0002)


def _call_offsets(code, line):
    """Bytecode offsets of the call instructions on `line` of `code`."""
    import dis

    offsets, current = set(), None
    for ins in dis.get_instructions(code):
        positions = getattr(ins, "positions", None)  # 3.11+
        if positions is not None and positions.lineno is not None:
            current = positions.lineno
        elif ins.starts_line is not None and not isinstance(ins.starts_line, bool):
            current = ins.starts_line
        if current == line and ins.opname.startswith("CALL"):
            offsets.add(ins.offset)
    return offsets


class _CallWatcher:
    def __init__(self, thread, stop):
        self._thread = thread
        self._stop = stop
        self.fired = False

    def finish(self):
        """After the call: stops watching (the call may have returned without blocking)."""
        self._stop.set()
        self._thread.join(timeout=DEADLINE_S)
        return self.fired


def when_blocked_in_call(line, action, timeout=DEADLINE_S):
    """Runs action() on a helper thread once the calling thread is executing the call on `line`
    of the calling function. Call finish() on the result after the call.

    The helper can only look at the other thread's frame while it holds the GIL, and a thread
    that is inside a call instruction of a C function gives the GIL up only where that function
    releases it. So seeing the caller there proves that the call released the GIL, and an action
    such as raising SIGINT then lands inside the call, not just before it."""
    import sys
    import threading

    caller = sys._getframe(1).f_code
    offsets = _call_offsets(caller, line)
    assert offsets, f"no call on line {line} of {caller.co_name}"
    target = threading.get_ident()
    stop = threading.Event()

    def helper():
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            frame = sys._current_frames().get(target)
            if frame is not None and frame.f_code is caller and frame.f_lasti in offsets:
                watcher.fired = True
                action()
                return
            stop.wait(0.001)  # backoff while polling, bounded by the deadline

    thread = threading.Thread(target=helper, daemon=True)
    watcher = _CallWatcher(thread, stop)
    thread.start()
    return watcher
