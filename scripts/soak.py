#!/usr/bin/env python3
"""Soak test of tcpx_p2p: two processes, a mixed workload, idle gaps, reconnects and kills.

Two worker processes, A and B, each with one host-memory Endpoint(-1) on loopback, are driven by
this (controller) process over pipes. Until --duration has passed the controller repeats:

  batch      a random mix of send/recv, write, read, sendv/recvv, writev/readv (2..--vec-max small
             blocks) and notifications, in both directions, most asynchronous (*_async + poll_async),
             some blocking; sizes log-uniform from 1 B to --max-size; every buffer is registered,
             advertised where one-sided, and deregistered afterwards. Every byte that arrives is
             checked against a pattern seeded per transfer, and the bytes around each destination
             (guard gaps) must be untouched.
  idle       every --idle-every s: B posts a recv, nothing moves for --idle s (longer than
             UCCL_TCPX_TIMEOUT_MS, which the soak sets to --timeout-ms), then A sends: the posted
             recv and the connection must both survive the gap.
  reconnect  every --reconnect-every s: both sides close the connection and open a new one (the
             direction of connect/accept alternates).
  kill       every --kill-every s: A posts 4 receives and 2 sends of 16 MiB, B starts sending into
             the first 2 receives and is killed (SIGKILL). Within 10 s every transfer A had
             outstanding must have ended: the 4 B never served with an error (counted as expected
             errors, their texts tallied), the 2 B was sending with an error or with the right
             bytes. A closes the dead connection and deregisters every buffer (a refusal is an
             error), a new B is started and A accepts from it or connects to it (alternating).

Every --interval s both processes report RSS, open fds (/proc/self/fd), threads, transfers done,
bytes and error counts; one line is printed per interval and, with --json FILE, written there too.
"tw" is the network namespace's TCP sockets in TIME_WAIT (/proc/net/sockstat, every process's):
each connection binds ephemeral ports, so a machine whose other work leaves ~28k of them (the
default range) makes connects fail with EADDRINUSE; run the soak in its own namespace there
(`unshare -n sh -c 'ip link set lo up && exec python3 scripts/soak.py ...'`, as root).
The samples are taken between steps, when exactly one connection is open and nothing is in flight.

The run fails (exit 1, saying why) on any data error, any unexpected error (a failed call outside
a kill, a transfer that does not end, a dereg refused after a failure, a worker that dies) or on
growth after warm-up: for A over the whole run and for each B process over its own life, the first
sample taken at least --warmup s into the process's life is the baseline; later samples must have
exactly the baseline's fds and threads, and the last samples' RSS (the smallest of the last three)
must stay within max(--rss-tolerance-pct %, --rss-tolerance-mib MiB) of it.

Exit status: 0 passed, 1 failed (the reasons on stderr), 2 usage error or nothing to import.
Needs numpy and the built module (tcpx_p2p from <repo>/build/python, or --build DIR, or
PYTHONPATH). Example: .venv/bin/python scripts/soak.py --duration 3600 --json soak.json
"""

import argparse
import json
import math
import multiprocessing
import os
import random
import re
import sys
import time
import traceback

MIB = 1 << 20
REPLY_S = 300.0  # the longest any single step may take before the soak calls it hung
KILL_REAP_S = 10.0  # outstanding transfers must have failed this soon after the kill
CANARY = 0x5A
KINDS = ("send", "write", "read", "sendv", "writev", "readv", "notify")
WEIGHTS = (4, 3, 3, 1, 2, 2, 2)
TWO_SIDED = ("send", "sendv")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="soak.py",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--duration", type=float, default=60, help="seconds to run (default 60)")
    ap.add_argument("--interval", type=float, default=10, help="seconds between report lines (default 10)")
    ap.add_argument("--warmup", type=float, default=20,
                    help="seconds into a process's life before its growth baseline (default 20)")
    ap.add_argument("--timeout-ms", type=int, default=2000,
                    help="UCCL_TCPX_TIMEOUT_MS given to both processes (default 2000)")
    ap.add_argument("--idle", type=float, default=5,
                    help="length of an idle gap in s; must exceed --timeout-ms (default 5)")
    ap.add_argument("--idle-every", type=float, default=25, help="seconds between idle gaps (default 25)")
    ap.add_argument("--reconnect-every", type=float, default=15,
                    help="seconds between close-and-reconnect cycles (default 15)")
    ap.add_argument("--kill-every", type=float, default=40,
                    help="seconds between SIGKILLs of B (default 40; 0: never)")
    ap.add_argument("--max-size", type=int, default=16 * MIB,
                    help="largest single transfer in bytes; sizes are log-uniform from 1 (default 16 MiB)")
    ap.add_argument("--batch-bytes", type=int, default=48 * MIB,
                    help="payload bytes of one batch at most (default 48 MiB)")
    ap.add_argument("--batch-ops", type=int, default=24, help="transfers in one batch at most (default 24)")
    ap.add_argument("--vec-max", type=int, default=48,
                    help="most blocks in one vector transfer (default 48; each 1 B .. 64 KiB)")
    ap.add_argument("--seed", type=int, default=None, help="workload seed (default: random, printed)")
    ap.add_argument("--json", metavar="FILE", help="write the per-interval numbers and the summary here")
    ap.add_argument("--build", metavar="DIR",
                    help="build tree whose python/ holds tcpx_p2p (default: PYTHONPATH, else <repo>/build)")
    ap.add_argument("--rss-tolerance-pct", type=float, default=10.0,
                    help="allowed RSS growth after warm-up in %% of the baseline (default 10)")
    ap.add_argument("--rss-tolerance-mib", type=float, default=32.0,
                    help="allowed RSS growth after warm-up in MiB, whichever is larger (default 32)")
    ap.add_argument("--inject", choices=("data", "growth"),
                    help="tests the soak itself: 'data' flips one received byte in A, 'growth' makes A "
                         "keep 48 MiB, one fd and one thread more at every report; the run must fail")
    a = ap.parse_args(argv)
    if a.duration <= 0 or a.interval <= 0 or a.warmup < 0:
        ap.error("--duration and --interval must be positive, --warmup not negative")
    if a.idle * 1000 <= a.timeout_ms:
        ap.error(f"--idle ({a.idle} s) must be longer than --timeout-ms ({a.timeout_ms} ms)")
    if a.max_size < 1 or a.batch_bytes < a.max_size or a.batch_ops < 1 or a.vec_max < 2:
        ap.error("need --max-size >= 1, --batch-bytes >= --max-size, --batch-ops >= 1, --vec-max >= 2")
    if min(a.idle_every, a.reconnect_every, a.kill_every) < 0:
        ap.error("--idle-every, --reconnect-every and --kill-every must not be negative")
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    return a


# ---------------------------------------------------------------- shared by both sides


def log_uniform(rng, hi):
    """An integer in [1, hi], its logarithm uniform."""
    return min(hi, max(1, int(math.exp(rng.uniform(0.0, math.log(hi + 1))))))


def make_ops(seed, batch, a):
    """The batch's transfers, the same list on both sides (derived from the seeds only)."""
    rng = random.Random(f"{seed}/{batch}")
    ops, total = [], 0
    while len(ops) < a.batch_ops:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind in ("send", "write", "read"):
            sizes = [log_uniform(rng, a.max_size)]
        elif kind == "notify":
            sizes = [rng.randint(1, 64), rng.randint(0, 256)]  # name and message bytes
        else:
            sizes = [log_uniform(rng, 64 << 10) for _ in range(rng.randint(2, a.vec_max))]
        payload = sum(sizes) if kind != "notify" else 0
        if total + payload > a.batch_bytes:
            break
        total += payload
        ops.append({
            "i": len(ops),
            "kind": kind,
            "by": rng.choice("AB"),  # the initiator: sender, writer, reader or notifier
            "sizes": sizes,
            "blocking": kind != "notify" and rng.random() < 0.25,
        })
    return ops


def data_from(op):
    """Who holds the source bytes of op (the other side receives them)."""
    if op["kind"] in ("read", "readv"):
        return "B" if op["by"] == "A" else "A"
    return op["by"]


def two_sided_order(ops, sender):
    """The order in which sender posts its sends (async ones, then blocking ones), which the
    receiver's recvs follow: the engine matches them by posting order."""
    mine = [o for o in ops if o["kind"] in TWO_SIDED and o["by"] == sender]
    return [o for o in mine if not o["blocking"]] + [o for o in mine if o["blocking"]]


# ---------------------------------------------------------------- the worker processes


def _pattern(np, n, key):
    """n bytes that depend on key (a transfer's seed) and on their position: a block delivered
    to the wrong place or from the wrong transfer does not match."""
    w = (n + 7) // 8
    x = np.arange(w, dtype=np.uint64)
    x += np.uint64(key & 0xFFFFFFFFFFFFFFFF)
    x *= np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(31)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return x.view(np.uint8)[:n]


def _key(seed, batch, i, j):
    return (((seed * 1000003 + batch) * 4099 + i) * 131 + j) * 0x100000001B3


def _notify_name(batch, i, n):
    """A unique name of about n bytes for notification i of a batch."""
    return f"soak.{batch}.{i}.".ljust(n, "x")


def _doom_bytes(a):
    """The size of each transfer outstanding at a kill."""
    return min(16 * MIB, a.max_size)


def _proc_numbers():
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            status[k] = v.strip()
    return {
        "rss_kib": int(status["VmRSS"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir("/proc/self/fd")) - 1,  # less the one listdir itself opened
    }


def _time_wait():
    """TCP sockets in TIME_WAIT in this network namespace (all processes): each holds a local
    port, and the engine binds a listening socket to an ephemeral port for every connection, so
    many of them (from anything on the machine) can make connections fail with EADDRINUSE."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    fields = line.split()
                    return int(fields[fields.index("tw") + 1])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _port_state():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
    except OSError:
        lo = hi = "?"
    return f"{_time_wait()} TCP sockets in TIME_WAIT in this network namespace, ephemeral ports {lo}-{hi}"


class Worker:
    def __init__(self, name, pipe, args):
        import numpy as np
        import tcpx_p2p

        self.np = np
        self.name = name
        self.pipe = pipe
        self.a = args
        self.ep = tcpx_p2p.Endpoint(-1)
        self.conn = None
        self.peer = None
        # The buffers live in two arenas allocated and touched once, so that RSS measures the
        # engine, not Python's allocator; registrations are made and dropped per transfer.
        arena = max(args.batch_bytes + args.batch_ops * args.vec_max * 128 + (1 << 16),
                    4 * _doom_bytes(args))
        self.src = np.full(arena, 0xEE, dtype=np.uint8)
        self.dst = np.full(arena, CANARY, dtype=np.uint8)
        self.c = {"xfers": 0, "bytes": 0, "notifs_sent": 0, "notifs_received": 0,
                  "err_expected": 0, "err_unexpected": 0, "data_errors": 0}
        self.problems = []  # unexpected errors and data errors, in words
        self.batch = None
        self.doomed = None
        self.idle_recv = None
        self.kept = []  # --inject growth

    # -- helpers

    def unexpected(self, what):
        self.c["err_unexpected"] += 1
        self.problems.append(f"{self.name}: {what}")

    def reg(self, ptr, n):
        ok, mr = self.ep.reg(ptr, n)
        if not ok:
            raise RuntimeError(f"reg({n} B) failed: {self.ep.last_error()}")
        return mr

    def dereg_all(self, mrs, when):
        for mr in mrs:
            if not self.ep.dereg(mr):
                self.unexpected(f"dereg {when} refused: {self.ep.last_error()}")

    def check(self, got, key, what):
        """got must equal the pattern for key; returns True when it does."""
        np = self.np
        if self.a.inject == "data" and self.name == "A" and self.c["xfers"] > 100:
            self.a.inject = None
            got[got.nbytes // 2] ^= 0x01  # one flipped bit
        want = _pattern(np, got.nbytes, key)
        if np.array_equal(got, want):
            return True
        bad = np.flatnonzero(got != want)
        self.c["data_errors"] += 1
        self.problems.append(f"{self.name}: DATA ERROR in {what}: {bad.size} of {got.nbytes} bytes "
                             f"differ, first at offset {bad[0]}")
        return False

    def wait(self, tids, deadline_s=REPLY_S):
        """Polls (what, tid) pairs until all ended; returns [(what, ok, error)]."""
        pending = dict(tids)
        ended = {}
        deadline = time.monotonic() + deadline_s
        while pending:
            for tid in list(pending):
                ok, done = self.ep.poll_async(tid)
                if not ok or done:
                    ended[tid] = (pending.pop(tid), ok, "" if ok else self.ep.last_error())
            if pending:
                if time.monotonic() > deadline:
                    for tid, what in pending.items():
                        ended[tid] = (what, None, f"not ended after {deadline_s} s")
                    break
                time.sleep(0.0005)  # backoff between polls; the deadline bounds the wait
        return [ended[t] for t, _ in tids]

    # -- connection

    def cmd_accept(self):
        ok, ip, _gpu, conn = self.ep.accept()
        if not ok:
            raise RuntimeError(f"accept failed: {self.ep.last_error()} ({_port_state()})")
        self.conn = conn
        return {"peer_ip": ip}

    def cmd_connect(self, metadata):
        ok, conn = self.ep.connect(metadata)
        if not ok:
            raise RuntimeError(f"connect failed: {self.ep.last_error()} ({_port_state()})")
        self.conn = conn
        return {}

    def cmd_close(self, dead=False):
        # The engine forgets a connection its peer closed: closing it then says "unknown conn_id".
        ok = self.ep.close_connection(self.conn)
        if not ok and not dead and "unknown conn_id" not in self.ep.last_error():
            self.unexpected(f"close_connection failed: {self.ep.last_error()}")
        self.conn = None
        return {}

    # -- one batch: prepare (advertise), run (post, wait, check what arrived), finish

    def cmd_prepare(self, batch):
        np = self.np
        me = self.name
        ops = make_ops(self.a.seed, batch, self.a)
        src_off = dst_off = 0
        rng = random.Random(f"{self.a.seed}/{batch}/{me}/layout")
        self.dst[: self.a.batch_bytes + self.a.batch_ops * self.a.vec_max * 128].fill(CANARY)
        st = {"ops": ops, "batch": batch, "mrs": [], "bufs": {}, "gaps": [], "fifos": {}}
        for op in ops:
            if op["kind"] == "notify":
                continue
            src_side = data_from(op)
            views, ptrs = [], []
            for j, n in enumerate(op["sizes"]):
                if me == src_side:
                    src_off += rng.randrange(0, 64)
                    v = self.src[src_off: src_off + n]
                    v[:] = _pattern(np, n, _key(self.a.seed, batch, op["i"], j))
                    src_off += n
                else:
                    gap = 8 + rng.randrange(0, 64)  # guard bytes before each destination
                    st["gaps"].append((dst_off, dst_off + gap))
                    dst_off += gap
                    v = self.dst[dst_off: dst_off + n]
                    dst_off += n
                views.append(v)
                ptrs.append(v.ctypes.data)
            if me != src_side:
                st["gaps"].append((dst_off, dst_off + 8))
                dst_off += 8
            sizes = op["sizes"]
            if len(sizes) > 1:
                ok, mrs = self.ep.regv(ptrs, sizes)
                if not ok:
                    raise RuntimeError(f"regv failed: {self.ep.last_error()}")
            else:
                mrs = [self.reg(ptrs[0], sizes[0])]
            st["mrs"] += mrs
            st["bufs"][op["i"]] = (views, ptrs, mrs)
            passive = op["kind"] in ("write", "read", "writev", "readv") and op["by"] != me
            if passive:
                if len(sizes) > 1:
                    ok, fifos = self.ep.advertisev(self.conn, mrs, ptrs, sizes, len(sizes))
                else:
                    ok, fifo = self.ep.advertise(self.conn, mrs[0], ptrs[0], sizes[0])
                    fifos = [fifo]
                if not ok:
                    raise RuntimeError(f"advertise failed: {self.ep.last_error()}")
                st["fifos"][op["i"]] = fifos
        self.batch = st
        return {"fifos": st["fifos"]}

    def cmd_run(self, peer_fifos):
        st = self.batch
        ep, conn, me, ops = self.ep, self.conn, self.name, st["ops"]
        other = "B" if me == "A" else "A"
        tids = []

        def note(ok_tid, what):
            ok, tid = ok_tid
            if not ok:
                self.unexpected(f"{what} refused: {ep.last_error()}")
            else:
                tids.append((tid, what))

        # Receives first, in the order the peer posts its sends.
        for op in two_sided_order(ops, other):
            views, ptrs, mrs = st["bufs"][op["i"]]
            if op["kind"] == "send":
                note(ep.recv_async(conn, mrs[0], ptrs[0], op["sizes"][0]), f"recv #{op['i']}")
            else:
                note(ep.recvv_async(conn, mrs, ptrs, op["sizes"], len(mrs)), f"recvv #{op['i']}")
        blocking = []
        for op in ops:
            if op["by"] != me:
                continue
            kind, i = op["kind"], op["i"]
            if kind == "notify":
                n_name, n_msg = op["sizes"]
                name = _notify_name(st["batch"], i, n_name)
                msg = bytes(_pattern(self.np, n_msg, _key(self.a.seed, st["batch"], i, 7)))
                if ep.send_notify(conn, name, msg):
                    self.c["notifs_sent"] += 1
                else:
                    self.unexpected(f"send_notify failed: {ep.last_error()}")
                continue
            if op["blocking"]:
                blocking.append(op)
                continue
            if kind == "sendv":
                continue  # posted in order below
            views, ptrs, mrs = st["bufs"][i]
            n = op["sizes"]
            if kind == "send":
                continue
            fifos = peer_fifos[i]
            if kind == "write":
                note(ep.write_async(conn, mrs[0], ptrs[0], n[0], fifos[0]), f"write #{i}")
            elif kind == "read":
                note(ep.read_async(conn, mrs[0], ptrs[0], n[0], fifos[0]), f"read #{i}")
            elif kind == "writev":
                note(ep.writev_async(conn, mrs, ptrs, n, fifos, len(n)), f"writev #{i}")
            elif kind == "readv":
                note(ep.readv_async(conn, mrs, ptrs, n, fifos, len(n)), f"readv #{i}")
        for op in two_sided_order(ops, me):
            if op["blocking"]:
                continue
            views, ptrs, mrs = st["bufs"][op["i"]]
            if op["kind"] == "send":
                note(ep.send_async(conn, mrs[0], ptrs[0], op["sizes"][0]), f"send #{op['i']}")
            else:
                note(ep.sendv_async(conn, mrs, ptrs, op["sizes"], len(mrs)), f"sendv #{op['i']}")
        # Blocking calls: sends in their posting order, then the one-sided ones.
        blocking = [o for o in two_sided_order(ops, me) if o["blocking"]] + \
                   [o for o in blocking if o["kind"] not in TWO_SIDED]
        for op in blocking:
            kind, i, n = op["kind"], op["i"], op["sizes"]
            views, ptrs, mrs = st["bufs"][i]
            if kind == "send":
                ok = ep.send(conn, mrs[0], ptrs[0], n[0])
            elif kind == "sendv":
                ok = ep.sendv(conn, mrs, ptrs, n, len(n))
            elif kind == "write":
                ok = ep.write(conn, mrs[0], ptrs[0], n[0], peer_fifos[i][0])
            elif kind == "read":
                ok = ep.read(conn, mrs[0], ptrs[0], n[0], peer_fifos[i][0])
            elif kind == "writev":
                ok = ep.writev(conn, mrs, ptrs, n, peer_fifos[i], len(n))
            else:
                ok = ep.readv(conn, mrs, ptrs, n, peer_fifos[i], len(n))
            if ok:
                self.c["xfers"] += 1
                self.c["bytes"] += sum(n)
            else:
                self.unexpected(f"blocking {kind} #{i} ({sum(n)} B) failed: {ep.last_error()}")
        for what, ok, err in self.wait(tids):
            if ok:
                self.c["xfers"] += 1
                i = int(what.split("#")[1])
                self.c["bytes"] += sum(ops[i]["sizes"])
            else:
                self.unexpected(f"{what} failed: {err}")
        # What arrived here with the transfer's own completion: recvs and reads.
        for op in ops:
            if op["kind"] == "notify" or data_from(op) == me:
                continue
            landed_here = op["kind"] in TWO_SIDED or op["by"] == me
            if landed_here:
                self.check_op(op)
        return {}

    def check_op(self, op):
        views, _, _ = self.batch["bufs"][op["i"]]
        for j, v in enumerate(views):
            if not self.check(v, _key(self.a.seed, self.batch["batch"], op["i"], j),
                              f"batch {self.batch['batch']} {op['kind']} #{op['i']} block {j} "
                              f"({v.nbytes} B)"):
                break

    def cmd_finish(self):
        """After both sides ran: writes into this side are complete; notifications arrive."""
        st = self.batch
        me, ops = self.name, st["ops"]
        for op in ops:
            if op["kind"] in ("write", "writev") and op["by"] != me:
                self.check_op(op)
        for lo, hi in st["gaps"]:
            if not (self.dst[lo:hi] == CANARY).all():
                self.c["data_errors"] += 1
                self.problems.append(f"{me}: DATA ERROR: guard bytes [{lo}, {hi}) of the destination "
                                     f"arena overwritten in batch {st['batch']}")
                break
        want = {}
        for op in ops:
            if op["kind"] == "notify" and op["by"] != me:
                n_name, n_msg = op["sizes"]
                name = _notify_name(st["batch"], op["i"], n_name)
                want[name] = bytes(_pattern(self.np, n_msg, _key(self.a.seed, st["batch"], op["i"], 7)))
        deadline = time.monotonic() + 30
        while want:
            for name, msg in self.ep.get_notifs():
                if name not in want:
                    self.unexpected(f"notification {name!r} not expected now")
                elif want.pop(name) != msg:
                    self.c["data_errors"] += 1
                    self.problems.append(f"{me}: DATA ERROR in notification {name!r}")
                else:
                    self.c["notifs_received"] += 1
            if want and time.monotonic() > deadline:
                self.unexpected(f"{len(want)} notifications did not arrive within 30 s")
                break
            if want:
                time.sleep(0.001)  # backoff while polling; the deadline bounds the wait
        self.dereg_all(st["mrs"], "after a batch")
        self.batch = None
        return {}

    # -- an idle gap with a recv posted across it

    def cmd_idle_recv(self, key, n):
        v = self.dst[:n]
        mr = self.reg(v.ctypes.data, n)
        ok, tid = self.ep.recv_async(self.conn, mr, v.ctypes.data, n)
        if not ok:
            raise RuntimeError(f"recv_async before the idle gap refused: {self.ep.last_error()}")
        self.idle_recv = (v, mr, tid, key)
        return {}

    def cmd_idle_send(self, key, n):
        v = self.src[:n]
        v[:] = _pattern(self.np, n, key)
        mr = self.reg(v.ctypes.data, n)
        if self.ep.send(self.conn, mr, v.ctypes.data, n):
            self.c["xfers"] += 1
            self.c["bytes"] += n
        else:
            self.unexpected(f"send after an idle gap failed: {self.ep.last_error()}")
        self.dereg_all([mr], "after the idle send")
        return {}

    def cmd_idle_finish(self):
        v, mr, tid, key = self.idle_recv
        ((_, ok, err),) = self.wait([(tid, "recv posted across the idle gap")])
        if ok:
            self.c["xfers"] += 1
            self.c["bytes"] += v.nbytes
            self.check(v, key, "the recv posted across the idle gap")
        else:
            self.unexpected(f"the recv posted across the idle gap failed: {err}")
        self.dereg_all([mr], "after the idle recv")
        self.dst[: v.nbytes].fill(CANARY)
        self.idle_recv = None
        return {}

    # -- a kill: transfers outstanding on the survivor (A) and in flight from the victim (B)

    def cmd_doom(self, key, role):
        """role "survivor": posts 4 recvs and 2 sends; "victim": sends into the first 2 recvs."""
        ep, conn = self.ep, self.conn
        n = _doom_bytes(self.a)
        st = {"mrs": [], "tids": [], "views": []}
        if role == "survivor":
            for i in range(4):
                v = self.dst[i * n: (i + 1) * n]
                mr = self.reg(v.ctypes.data, n)
                st["mrs"].append(mr)
                ok, tid = ep.recv_async(conn, mr, v.ctypes.data, n)
                if not ok:
                    raise RuntimeError(f"recv_async before the kill refused: {ep.last_error()}")
                st["tids"].append((tid, f"recv {i}"))
                st["views"].append((v, _key(key, 0, i, 0)))
            for i in range(2):
                v = self.src[i * n: (i + 1) * n]
                mr = self.reg(v.ctypes.data, n)
                st["mrs"].append(mr)
                ok, tid = ep.send_async(conn, mr, v.ctypes.data, n)
                if not ok:
                    raise RuntimeError(f"send_async before the kill refused: {ep.last_error()}")
                st["tids"].append((tid, f"send {i} (never received)"))
        else:
            for i in range(2):
                v = self.src[i * n: (i + 1) * n]
                v[:] = _pattern(self.np, n, _key(key, 0, i, 0))
                mr = self.reg(v.ctypes.data, n)
                ok, tid = ep.send_async(conn, mr, v.ctypes.data, n)
                if not ok:
                    raise RuntimeError(f"victim send_async refused: {ep.last_error()}")
        self.doomed = st
        return {}

    def cmd_reap(self, killed_at):
        """After the victim's SIGKILL: every outstanding transfer must end, the unmatched ones
        (recv 2, 3 and both sends) with an error; the two the victim was sending may have
        completed before the kill (then their bytes must be right)."""
        st = self.doomed
        ended = self.wait(st["tids"], KILL_REAP_S)
        detect_ms = (time.monotonic() - killed_at) * 1000
        failed, completed, errors = 0, 0, []
        for (what, ok, err), idx in zip(ended, range(len(ended))):
            if ok is None:
                self.unexpected(f"after the peer's SIGKILL, {what} did not end within {KILL_REAP_S} s")
            elif ok:
                if idx >= 2:
                    self.unexpected(f"after the peer's SIGKILL, {what} reported success")
                else:
                    completed += 1
                    self.c["xfers"] += 1
                    v, key = st["views"][idx]
                    self.c["bytes"] += v.nbytes
                    self.check(v, key, f"a recv completed before the peer's SIGKILL ({what})")
            else:
                failed += 1
                self.c["err_expected"] += 1
                errors.append(err)
        self.cmd_close(dead=True)
        self.dereg_all(st["mrs"], "after the peer's SIGKILL")
        self.dst[: 4 * _doom_bytes(self.a)].fill(CANARY)
        stale = self.ep.get_notifs()
        if stale:
            self.unexpected(f"{len(stale)} notifications left over after the kill")
        self.doomed = None
        return {"failed": failed, "completed": completed, "detect_ms": detect_ms,
                "errors": errors}

    def cmd_metadata(self):
        return {"metadata": self.ep.get_metadata(), "pid": os.getpid()}

    def cmd_stats(self):
        if self.a.inject == "growth" and self.name == "A":
            import threading

            stop = threading.Event()
            threading.Thread(target=stop.wait, daemon=True).start()
            self.kept.append((self.np.ones(48 * MIB, dtype=self.np.uint8),
                              os.open("/dev/null", os.O_RDONLY), stop))
        return dict(_proc_numbers(), **self.c)

    def serve(self):
        while True:
            msg = self.pipe.recv()
            cmd, kw = msg[0], msg[1] if len(msg) > 1 else {}
            if cmd == "exit":
                self.pipe.send(("ok", {}, [], dict(self.c)))
                return
            result = getattr(self, "cmd_" + cmd)(**kw)
            problems, self.problems = self.problems, []
            self.pipe.send(("ok", result, problems, dict(self.c)))


def _worker_main(name, pipe, args):
    try:
        w = Worker(name, pipe, args)
        w.serve()
    except (EOFError, KeyboardInterrupt):
        pass
    except BaseException:  # noqa: B036 - the controller reports it
        try:
            pipe.send(("fatal", traceback.format_exc(), [], {}))
        except OSError:
            pass


# ---------------------------------------------------------------- the controller


class Failed(Exception):
    pass


class Proc:
    """One worker process and its pipe; ask() waits for its answer with a deadline."""

    def __init__(self, ctx, name, args, incarnation):
        self.name = name
        self.incarnation = incarnation
        self.pipe, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(name, child, args), daemon=True)
        self.proc.start()
        child.close()
        self.started = time.monotonic()
        self.counts = {}
        self.problems = []

    @property
    def label(self):
        return self.name if self.name == "A" else f"B#{self.incarnation}"

    def post(self, cmd, **kw):
        self.pipe.send((cmd, kw))

    def answer(self, timeout=REPLY_S):
        deadline = time.monotonic() + timeout
        while not self.pipe.poll(0.5):
            if not self.proc.is_alive() and not self.pipe.poll(0):
                raise Failed(f"{self.label} (pid {self.proc.pid}) died, exit code {self.proc.exitcode}")
            if time.monotonic() > deadline:
                raise Failed(f"{self.label} did not answer within {timeout} s (hung?)")
        try:
            status, result, problems, counts = self.pipe.recv()
        except EOFError:
            raise Failed(f"{self.label} (pid {self.proc.pid}) closed its pipe, exit code "
                         f"{self.proc.exitcode}") from None
        if status == "fatal":
            raise Failed(f"{self.label} failed:\n{result}")
        self.counts = counts
        self.problems += problems
        return result

    def ask(self, cmd, timeout=REPLY_S, **kw):
        self.post(cmd, **kw)
        return self.answer(timeout)

    def stop(self):
        if self.proc.is_alive():
            try:
                self.pipe.send(("exit", {}))
                self.answer(10)
            except (Failed, OSError):
                pass
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def fmt_bytes(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


class Soak:
    def __init__(self, a):
        self.a = a
        self.ctx = multiprocessing.get_context("spawn")
        self.t0 = time.monotonic()
        self.A = Proc(self.ctx, "A", a, 0)
        self.B = Proc(self.ctx, "B", a, 1)
        self.dead_B = []  # counts of killed B processes
        self.samples = []
        self.batches = self.ops = self.op_bytes = 0
        self.idles = self.reconnects = self.kills = 0
        self.kill_failed = self.kill_completed = 0
        self.detect_ms = []
        self.kill_errors = {}  # error text (ports and ids as N) -> count
        self.direction = 0  # even: B connects to A; odd: A connects to B
        self.growth = []

    def now(self):
        return time.monotonic() - self.t0

    def raise_problems(self):
        problems = self.A.problems + self.B.problems
        if problems:
            raise Failed("\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more"
                                                      if len(problems) > 20 else ""))

    def both(self, cmd_a, cmd_b):
        """Sends both orders, then waits for both answers (so that neither waits on the other)."""
        self.A.post(*cmd_a[:1], **(cmd_a[1] if len(cmd_a) > 1 else {}))
        self.B.post(*cmd_b[:1], **(cmd_b[1] if len(cmd_b) > 1 else {}))
        ra = self.A.answer()
        rb = self.B.answer()
        self.raise_problems()
        return ra, rb

    def connect(self):
        dialer, listener = (self.B, self.A) if self.direction % 2 == 0 else (self.A, self.B)
        self.direction += 1
        md = listener.ask("metadata")["metadata"]
        listener.post("accept")
        dialer.post("connect", metadata=md)
        dialer.answer()
        listener.answer()
        self.raise_problems()

    def batch(self):
        b = self.batches
        fa, fb = self.both(("prepare", {"batch": b}), ("prepare", {"batch": b}))
        self.both(("run", {"peer_fifos": fb["fifos"]}), ("run", {"peer_fifos": fa["fifos"]}))
        self.both(("finish",), ("finish",))
        ops = make_ops(self.a.seed, b, self.a)
        self.batches += 1
        self.ops += len(ops)
        self.op_bytes += sum(sum(o["sizes"]) for o in ops if o["kind"] != "notify")

    def idle(self):
        key = _key(self.a.seed, 1 << 20, self.idles, 0)
        n = log_uniform(random.Random(key), self.a.max_size)
        self.B.ask("idle_recv", key=key, n=n)
        time.sleep(self.a.idle)  # the scenario itself: nothing moves for longer than the timeout
        self.A.ask("idle_send", key=key, n=n)
        self.B.ask("idle_finish")
        self.raise_problems()
        self.idles += 1

    def reconnect(self):
        # One side closes first (alternating), then the other, which may find it gone already.
        first, second = (self.A, self.B) if self.reconnects % 2 == 0 else (self.B, self.A)
        first.ask("close")
        second.ask("close")
        self.raise_problems()
        self.connect()
        self.reconnects += 1

    def kill(self):
        key = _key(self.a.seed, 1 << 21, self.kills, 0)
        self.A.ask("doom", key=key, role="survivor")
        self.B.ask("doom", key=key, role="victim")
        self.raise_problems()
        killed_at = time.monotonic()
        self.B.proc.kill()  # SIGKILL
        self.B.proc.join(10)
        r = self.A.ask("reap", killed_at=killed_at)
        self.raise_problems()
        self.kills += 1
        self.kill_failed += r["failed"]
        self.kill_completed += r["completed"]
        self.detect_ms.append(r["detect_ms"])
        for err in r["errors"]:
            text = re.sub(r"(:|conn_id |connection |#)\d+", r"\1N", err)
            self.kill_errors[text] = self.kill_errors.get(text, 0) + 1
        self.dead_B.append(self.B.counts)
        self.B.pipe.close()
        self.B = Proc(self.ctx, "B", self.a, self.B.incarnation + 1)
        self.connect()

    def sample(self, final=False, timeout=REPLY_S, after_failure=False):
        row = {"t": round(self.now(), 1), "final": final, "after_failure": after_failure, "batches": self.batches, "ops": self.ops,
               "op_bytes": self.op_bytes, "idles": self.idles, "reconnects": self.reconnects,
               "kills": self.kills, "tcp_time_wait": _time_wait()}
        for p in (self.A, self.B):
            s = p.ask("stats", timeout=timeout)
            s["pid"] = p.proc.pid
            s["incarnation"] = p.incarnation
            s["age_s"] = round(time.monotonic() - p.started, 1)
            row[p.name] = s
        self.samples.append(row)

        def side(p):
            s = row[p.name]
            return (f"{p.label}: rss {s['rss_kib'] / 1024:6.1f} MiB fds {s['fds']:3d} thr {s['threads']:3d} "
                    f"xfers {s['xfers']:7d} {fmt_bytes(s['bytes']):>10} "
                    f"err exp {s['err_expected']} unexp {s['err_unexpected']} data {s['data_errors']}")

        print(f"[{row['t']:7.1f}s] {side(self.A)} | {side(self.B)} | ops {self.ops} "
              f"({fmt_bytes(self.op_bytes)}) idles {self.idles} reconnects {self.reconnects} "
              f"kills {self.kills} tw {row['tcp_time_wait']}", flush=True)

    def run(self):
        a = self.a
        self.connect()
        self.sample()
        end = self.t0 + a.duration
        next_sample = self.t0 + a.interval
        next_idle = self.t0 + a.idle_every if a.idle_every else math.inf
        next_reconnect = self.t0 + a.reconnect_every if a.reconnect_every else math.inf
        next_kill = self.t0 + a.kill_every if a.kill_every else math.inf
        while True:
            t = time.monotonic()
            if t >= end:
                break
            if t >= next_sample:
                self.sample()
                next_sample += a.interval * max(1, math.ceil((t - next_sample) / a.interval + 1e-9))
            elif t >= next_kill:
                self.kill()
                next_kill = time.monotonic() + a.kill_every
            elif t >= next_reconnect:
                self.reconnect()
                next_reconnect = time.monotonic() + a.reconnect_every
            elif t >= next_idle:
                self.idle()
                next_idle = time.monotonic() + a.idle_every
            else:
                self.batch()
        self.sample(final=True)

    def check_growth(self):
        """Per process (A, each B): baseline = first sample >= warmup into its life."""
        a = self.a
        lives = {}
        for row in self.samples:
            if row["after_failure"]:
                continue  # the failure is reported already; the connection may be gone
            for name in ("A", "B"):
                s = row[name]
                lives.setdefault((name, s["incarnation"]), []).append(s)
        checked = 0
        for (name, inc), ss in sorted(lives.items()):
            label = name if name == "A" else f"B#{inc}"
            post = [s for s in ss if s["age_s"] >= a.warmup]
            if len(post) < 2:
                continue
            checked += 1
            base = post[0]
            for k in ("fds", "threads"):
                off = [s for s in post[1:] if s[k] != base[k]]
                if off:
                    self.growth.append(f"{label}: {k} {base[k]} at {base['age_s']} s of its life (baseline), "
                                       f"then {off[0][k]} at {off[0]['age_s']} s and {off[-1][k]} at "
                                       f"{off[-1]['age_s']} s ({len(off)} of {len(post) - 1} later samples differ)")
            last = min(s["rss_kib"] for s in post[1:][-3:])
            allowed = max(base["rss_kib"] * a.rss_tolerance_pct / 100, a.rss_tolerance_mib * 1024)
            if last - base["rss_kib"] > allowed:
                self.growth.append(f"{label}: RSS grew from {base['rss_kib'] / 1024:.1f} MiB at "
                                   f"{base['age_s']} s to {last / 1024:.1f} MiB (allowed +{allowed / 1024:.1f} MiB)")
        return checked

    def totals(self, name):
        cur = self.samples[-1][name]
        keys = ("xfers", "bytes", "notifs_sent", "notifs_received", "err_expected",
                "err_unexpected", "data_errors")
        out = {k: cur[k] for k in keys}
        if name == "B":
            for dead in self.dead_B:
                for k in keys:
                    out[k] += dead.get(k, 0)
        return out

    def stop(self):
        for p in (self.A, self.B):
            p.stop()


def _import_check(a):
    if a.build:
        sys.path.insert(0, os.path.join(os.path.abspath(a.build), "python"))
    try:
        import tcpx_p2p

        tcpx_p2p._load_core()
    except ImportError:
        if a.build:
            raise
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path.insert(0, os.path.join(repo, "build", "python"))
        import tcpx_p2p

        for name in list(sys.modules):
            if name.startswith("tcpx_p2p"):
                del sys.modules[name]
        import tcpx_p2p  # noqa: F811

        tcpx_p2p._load_core()
    import numpy  # noqa: F401 - the workers need it; say so now rather than in a child


def main(argv=None):
    a = parse_args(argv)
    try:
        _import_check(a)
    except ImportError as e:
        print(f"soak: cannot import tcpx_p2p or numpy ({e}); build first (make build) or pass --build",
              file=sys.stderr)
        return 2
    os.environ["UCCL_TCPX_TIMEOUT_MS"] = str(a.timeout_ms)
    os.environ.setdefault("UCCL_SOCKET_IFNAME", "lo")
    print(f"soak: {a.duration:g} s, seed {a.seed}, UCCL_TCPX_TIMEOUT_MS={a.timeout_ms}, idle gaps of "
          f"{a.idle:g} s every {a.idle_every:g} s, reconnect every {a.reconnect_every:g} s, SIGKILL of B "
          f"every {a.kill_every:g} s, sizes 1 B .. {fmt_bytes(a.max_size)}, report every {a.interval:g} s, "
          f"warm-up {a.warmup:g} s", flush=True)
    cpu0 = os.times()
    soak = None
    failure = None
    try:
        soak = Soak(a)
        soak.run()
    except Failed as e:
        failure = str(e)
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        if soak is not None:
            if failure is not None:
                try:
                    soak.sample(final=True, timeout=10, after_failure=True)  # the numbers at the failure, where the workers still answer
                except (Failed, OSError):
                    pass
            soak.stop()
    wall = time.monotonic() - soak.t0 if soak else 0.0
    cpu1 = os.times()
    problems = []
    if failure:
        problems.append(failure)
    checked = 0
    if soak and soak.samples:
        checked = soak.check_growth()
        problems += soak.growth
    summary = {}
    if soak and soak.samples:
        A, B = soak.totals("A"), soak.totals("B")
        post_a = [s["A"] for s in soak.samples if s["A"]["age_s"] >= a.warmup]
        first_a = post_a[0] if post_a else soak.samples[0]["A"]
        first_what = "first sample after warm-up" if post_a else "first sample; none after warm-up"
        last_a = soak.samples[-1]["A"]
        summary = {
            "wall_s": round(wall, 1),
            "children_cpu_s": round((cpu1.children_user + cpu1.children_system)
                                    - (cpu0.children_user + cpu0.children_system), 1),
            "controller_cpu_s": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 1),
            "seed": a.seed, "batches": soak.batches, "ops": soak.ops, "op_bytes": soak.op_bytes,
            "idles": soak.idles, "reconnects": soak.reconnects, "kills": soak.kills,
            "kill_outstanding_failed": soak.kill_failed, "kill_completed_before": soak.kill_completed,
            "kill_detect_ms_max": round(max(soak.detect_ms), 1) if soak.detect_ms else None,
            "kill_errors": soak.kill_errors,
            "A": A, "B_all_processes": B,
            "A_first_post_warmup": {k: first_a[k] for k in ("rss_kib", "fds", "threads", "age_s")},
            "A_last": {k: last_a[k] for k in ("rss_kib", "fds", "threads", "age_s")},
            "growth_checked_processes": checked,
        }
        print("\nsoak summary:")
        print(f"  wall {summary['wall_s']} s; worker CPU {summary['children_cpu_s']} s (reaped ones), "
              f"controller CPU {summary['controller_cpu_s']} s")
        print(f"  {soak.batches} batches, {soak.ops} transfers ({fmt_bytes(soak.op_bytes)} of payload), "
              f"{soak.idles} idle gaps of {a.idle:g} s, {soak.reconnects} reconnects, {soak.kills} kills")
        print(f"  A: {A['xfers']} transfers done, {fmt_bytes(A['bytes'])}, notifications sent "
              f"{A['notifs_sent']} received {A['notifs_received']}, errors expected {A['err_expected']} "
              f"unexpected {A['err_unexpected']}, data errors {A['data_errors']}")
        print(f"  B ({len(soak.dead_B) + 1} processes): {B['xfers']} transfers done, {fmt_bytes(B['bytes'])}, "
              f"notifications sent {B['notifs_sent']} received {B['notifs_received']}, errors unexpected "
              f"{B['err_unexpected']}, data errors {B['data_errors']}")
        if soak.kills:
            print(f"  kills: {soak.kill_failed} outstanding transfers failed as expected "
                  f"({soak.kill_completed} finished before the kill), all ended within "
                  f"{summary['kill_detect_ms_max']} ms of the SIGKILL, saying:")
            for text, n in sorted(soak.kill_errors.items(), key=lambda kv: -kv[1]):
                print(f"    {n:5d} x {text}")
        print(f"  A RSS {first_a['rss_kib'] / 1024:.1f} MiB fds {first_a['fds']} threads {first_a['threads']} "
              f"({first_what}, {first_a['age_s']} s) -> RSS {last_a['rss_kib'] / 1024:.1f} MiB "
              f"fds {last_a['fds']} threads {last_a['threads']} (last, {last_a['age_s']} s)")
        if checked == 0:
            print(f"  growth: not checked (no process lived past --warmup {a.warmup:g} s for two samples)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "intervals": soak.samples if soak else [], "summary": summary,
                       "result": "fail" if problems else "pass", "problems": problems}, f, indent=1)
    if problems:
        print("\nsoak FAILED:\n  " + "\n  ".join(problems), file=sys.stderr, flush=True)
        return 1
    print("soak passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
