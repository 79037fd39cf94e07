"""Blocking calls release the GIL and return on Ctrl-C (SIGINT -> KeyboardInterrupt).

when_blocked_in_call() raises SIGINT only once the main thread is inside the call with the GIL
released, so the KeyboardInterrupt must come out of the call itself."""

import os
import signal
import sys
import time

from p2p_harness import DEADLINE_S, dial, listen, reg, run_pair, when_blocked_in_call


def _ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


def _interrupted_accept(peer):
    import tcpx_p2p as p2p

    ep = p2p.Endpoint()
    start = time.monotonic()
    helper = when_blocked_in_call(sys._getframe().f_lineno + 2, _ctrl_c)
    try:
        result = ep.accept()  # nobody connects
    except KeyboardInterrupt:
        result = "interrupted"
    assert helper.finish(), f"accept returned without blocking: {result}"
    return result, time.monotonic() - start


def _idle(peer):
    return "idle"


def test_ctrl_c_interrupts_accept(core):
    (result, seconds), _ = run_pair(_interrupted_accept, _idle)
    assert result == "interrupted"
    assert seconds < DEADLINE_S


def _interrupted_recv(peer):
    import numpy as np

    ep, conn = listen(peer)
    buf = np.zeros(4096, dtype=np.uint8)
    mr = reg(ep, buf)
    ptr = buf.ctypes.data
    helper = when_blocked_in_call(sys._getframe().f_lineno + 2, _ctrl_c)
    try:
        result = ep.recv(conn, mr, ptr, buf.nbytes)  # the peer never sends
    except KeyboardInterrupt:
        result = "interrupted"
    fired = helper.finish()
    peer.send("finished")  # the peer keeps the connection open until then
    assert fired, f"recv returned without blocking: {result}, {ep.last_error()}"
    return result


def _connects_and_waits(peer):
    ep, conn = dial(peer)  # keep the endpoint (and so the connection) alive
    peer.expect("finished")
    return "done"


def test_ctrl_c_interrupts_recv(core):
    result, _ = run_pair(_interrupted_recv, _connects_and_waits)
    assert result == "interrupted"


def _stopped_accept(peer):
    """accept() must release the GIL: the helper thread needs it to see the main thread blocked
    and to call stop_accept(); if accept held it, this would hang until the harness deadline."""
    import tcpx_p2p as p2p

    ep = p2p.Endpoint()
    helper = when_blocked_in_call(sys._getframe().f_lineno + 1, ep.stop_accept)
    ok, ip, gpu, conn = ep.accept()
    assert helper.finish(), "accept returned without blocking"
    assert (ok, ip, gpu, conn) == (False, "", -1, 0)
    assert "accept" in ep.last_error()
    return "stopped"


def test_accept_releases_gil(core):
    assert run_pair(_stopped_accept, _idle) == ("stopped", "idle")


EXIT_WITH_BLOCKED_DAEMON = """
import sys, threading
sys.path.insert(0, {harness_dir!r})
import p2p_harness
import tcpx_p2p

ep = tcpx_p2p.Endpoint()
blocked = threading.Event()

def daemon():
    w = p2p_harness.when_blocked_in_call(sys._getframe().f_lineno + 1, blocked.set)
    ep.accept()

threading.Thread(target=daemon, daemon=True).start()
assert blocked.wait({deadline})
print("exiting", flush=True)
"""


def test_exit_with_a_daemon_thread_blocked_in_accept(core):
    """Interpreter exit while a daemon thread is blocked in accept(): a clean exit (Python would
    otherwise end that thread inside the binding, and the process would abort)."""
    import subprocess

    code = EXIT_WITH_BLOCKED_DAEMON.format(harness_dir=os.path.dirname(__file__), deadline=DEADLINE_S)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_S)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exiting"
    assert "terminate" not in proc.stderr and "leaked" not in proc.stderr, proc.stderr
