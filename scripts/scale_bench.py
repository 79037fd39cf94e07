#!/usr/bin/env python3
"""Scale benchmark of tcpx_p2p: P concurrent GPU pairs, GPU i -> GPU i+P, on one machine.

Two ways to hold the endpoints (--mode):
  multi   2P processes, one Endpoint each (sender i on GPU i, receiver i on GPU i+P), as vLLM runs;
  single  one process holding the P sender Endpoints and one holding the P receiver Endpoints,
          each pair driven by its own Python thread (the module releases the GIL in blocking calls).

For each size: a warm-up, then all pairs start together (a start time handed to every process)
and each pair runs --iters serialized transfers (UCCL's loop: submit, wait). The receive buffer
is filled with a sentinel before the timed transfers and checked against the pair's pattern after
them, so every pair's data is verified.

Reported per mode and size: GB/s of each pair (bytes / that pair's time), their mean, min/mean
(goal >= 0.70), aggregate GB/s (all bytes / (last end - first start)), and CPU cost: user+system
time of every process (all threads: the engine's included) over the timed window, as cores busy
and cores per 10 GB/s of aggregate. GB = 1e9 bytes.

  python3 scripts/scale_bench.py --pairs 2 --mode both --sizes 4M,64M            # GPU memory (torch)
  python3 scripts/scale_bench.py --host --pairs 2 --mode both --sizes 64K --iters 3 --json out.json

Needs tcpx_p2p importable (PYTHONPATH=<build>/python:python); torch only for GPU memory. The
transport follows the usual environment (UCCL_SOCKET_IFNAME=lo keeps a local run on loopback).
Processes are spawned (multiprocessing, spawn) and coordinated over pipes; every wait has a
deadline (--timeout); a child that fails or dies fails the run (exit 1) with its traceback, and
all children are killed on the way out. Exit 0 only when every pair of every size verified.
"""

import argparse
import ctypes
import json
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import wait as mp_wait

SENTINEL = 0xFF  # never a pattern byte (patterns use 0..250)
PERIOD = 251


# ---------------------------------------------------------------- helpers (both sides)


def parse_size(text):
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text[:-1] if mult != 1 else text
    value = int(digits) * mult
    if value <= 0:
        raise ValueError(f"size must be positive: {text}")
    return value


def size_label(n):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def auto_iters(size):
    """About 2 GiB per pair, 10 .. 200 transfers."""
    return max(10, min(200, (2 << 30) // size))


def cpu_seconds():
    """User + system CPU time of this process, all its threads (the engine's included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pattern_bytes(n, seed):
    """n bytes, byte k = (k + seed) % 251: a shift or a mix-up of pairs or sizes shows."""
    base = bytes(range(PERIOD))
    s = seed % PERIOD
    rot = base[s:] + base[:s]
    return (rot * (n // PERIOD + 1))[:n]


def pair_seed(pair, size_index):
    return (pair * 37 + size_index * 11 + 1) % PERIOD


def sleep_until(t):
    while True:
        left = t - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.01) if left > 0.002 else 0)


class HostBuf:
    """Host memory: a ctypes array (no numpy needed)."""

    def __init__(self, n, _gpu):
        self.n = n
        self.arr = (ctypes.c_ubyte * n)()
        self.ptr = ctypes.addressof(self.arr)

    def fill_pattern(self, seed):
        ctypes.memmove(self.ptr, pattern_bytes(self.n, seed), self.n)

    def fill_sentinel(self):
        ctypes.memset(self.ptr, SENTINEL, self.n)

    def check(self, seed):
        """None when the buffer holds the pattern, else a description of the first difference."""
        got = ctypes.string_at(self.ptr, self.n)
        want = pattern_bytes(self.n, seed)
        if got == want:
            return None
        step = 1 << 16
        for off in range(0, self.n, step):
            if got[off:off + step] != want[off:off + step]:
                first = next(i for i in range(off, min(off + step, self.n)) if got[i] != want[i])
                sentinel = got.count(bytes([SENTINEL]))
                return (f"data differs from byte {first} (got {got[first]}, want {want[first]}); "
                        f"{sentinel} of {self.n} bytes still hold the sentinel")
        return "data differs"


class GpuBuf:
    """GPU memory: a torch CUDA tensor on the given GPU."""

    def __init__(self, n, gpu):
        import torch

        self.torch = torch
        self.n = n
        self.dev = torch.device("cuda", gpu)
        self.t = torch.empty(n, dtype=torch.uint8, device=self.dev)
        self.ptr = self.t.data_ptr()

    def _pattern(self, seed):
        host = self.torch.frombuffer(bytearray(pattern_bytes(self.n, seed)), dtype=self.torch.uint8)
        return host.to(self.dev)

    def fill_pattern(self, seed):
        self.t.copy_(self._pattern(seed))
        self.torch.cuda.synchronize(self.dev)

    def fill_sentinel(self):
        self.t.fill_(SENTINEL)
        self.torch.cuda.synchronize(self.dev)

    def check(self, seed):
        self.torch.cuda.synchronize(self.dev)
        want = self._pattern(seed)
        if self.torch.equal(self.t, want):
            return None
        diff = (self.t != want).nonzero()
        first = int(diff[0].item())
        sentinel = int((self.t == SENTINEL).sum().item())
        return (f"data differs from byte {first} ({diff.numel()} bytes differ); "
                f"{sentinel} of {self.n} bytes still hold the sentinel")


def run_threads(fn, items, timeout, what):
    """fn(item) on one thread per item; returns {item: result}. Raises on an error or a timeout."""
    results, errors = {}, {}

    def body(item):
        try:
            results[item] = fn(item)
        except BaseException:  # noqa: B036 - report everything
            errors[item] = traceback.format_exc()

    threads = [threading.Thread(target=body, args=(it,), daemon=True, name=f"{what}-{it}")
               for it in items]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if errors:
        item = sorted(errors)[0]
        raise RuntimeError(f"{what}, pair {item}:\n{errors[item]}")
    stuck = [it for it, t in zip(items, threads) if t.is_alive()]
    if stuck:
        raise TimeoutError(f"{what}: pairs {stuck} not finished within {timeout} s")
    return results


# ---------------------------------------------------------------- child process


def _die_with_parent(parent_pid):
    """Linux: this process gets SIGKILL when the coordinator dies (no orphans even if it is
    killed with SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(1)


class Child:
    def __init__(self, conn, name, role, gpus, cfg):
        self.conn = conn
        self.name = name
        self.role = role  # "send" or "recv"
        self.gpus = gpus  # {pair: gpu} (gpu -1: host memory)
        self.pairs = sorted(gpus)
        self.cfg = cfg
        self.timeout = cfg["timeout"]

    def send(self, *msg):
        self.conn.send(msg)

    def recv(self, tag):
        if not self.conn.poll(self.timeout):
            raise TimeoutError(f"{self.name}: no '{tag}' from the coordinator within {self.timeout} s")
        msg = self.conn.recv()
        if msg[0] != tag:
            raise RuntimeError(f"{self.name}: expected '{tag}' from the coordinator, got {msg[0]!r}")
        return msg[1:]

    def run(self):
        if not self.cfg["host"]:
            import torch  # before the endpoints, as UCCL's tests do

            torch.cuda.set_device(self.gpus[self.pairs[0]])  # no context on GPU 0 by accident
        import tcpx_p2p

        P = tcpx_p2p
        self.eps = {p: P.Endpoint(g) for p, g in self.gpus.items()}
        info = {p: {"gpu": self.gpus[p], "transport": ep.info.get("transport"),
                    "dev_name": ep.info.get("dev_name"), "pid": os.getpid()}
                for p, ep in self.eps.items()}
        if self.role == "recv":
            self.send("hello", {p: ep.get_metadata() for p, ep in self.eps.items()}, info)

            def accept(p):
                ok, _ip, _gpu, conn = self.eps[p].accept()
                if not ok:
                    raise RuntimeError(f"accept failed: {self.eps[p].last_error()}")
                return conn

            self.conns = run_threads(accept, self.pairs, self.timeout, f"{self.name} accept")
        else:
            self.send("hello", {}, info)
            (metas,) = self.recv("peers")

            def connect(p):
                ip, port, _bdf = P.Endpoint.parse_metadata(metas[p])
                remote_gpu = self.cfg["remote_gpus"][p]
                ok, conn = self.eps[p].connect(ip, remote_gpu, port)
                if not ok:
                    raise RuntimeError(f"connect to {ip}:{port} failed: {self.eps[p].last_error()}")
                return conn

            self.conns = run_threads(connect, self.pairs, self.timeout, f"{self.name} connect")
        self.send("connected")
        while True:
            if not self.conn.poll(self.timeout):
                raise TimeoutError(f"{self.name}: no instruction from the coordinator within "
                                   f"{self.timeout} s")
            msg = self.conn.recv()
            if msg[0] == "exit":
                break
            if msg[0] != "size":
                raise RuntimeError(f"{self.name}: unexpected message {msg[0]!r}")
            self.run_size(*msg[1:])
        self.send("bye")

    def run_size(self, size_index, size, iters, warmup):
        # Test hook: SCALE_BENCH_FAIL=NAME makes child NAME raise here, NAME:exit makes it exit
        # without a word (tests/python/test_scale_bench.py checks how the run fails).
        fail = os.environ.get("SCALE_BENCH_FAIL", "").split(":")
        if fail[0] == self.name:
            if fail[1:] == ["exit"]:
                os._exit(3)
            raise RuntimeError(f"injected failure in {self.name} (SCALE_BENCH_FAIL)")
        Buf = HostBuf if self.cfg["host"] else GpuBuf
        op = self.cfg["op"]
        bufs, mrs = {}, {}
        for p in self.pairs:
            bufs[p] = Buf(size, self.gpus[p])
            if self.role == "send":
                bufs[p].fill_pattern(pair_seed(p, size_index))
            ok, mrs[p] = self.eps[p].reg(bufs[p].ptr, size)
            if not ok:
                raise RuntimeError(f"{self.name}: reg of {size} bytes failed: "
                                   f"{self.eps[p].last_error()}")
        fifos = {}
        if self.role == "recv":
            if op == "write":
                for p in self.pairs:
                    ok, fifos[p] = self.eps[p].advertise(self.conns[p], mrs[p], bufs[p].ptr, size)
                    if not ok:
                        raise RuntimeError(f"{self.name}: advertise failed: {self.eps[p].last_error()}")
            self.send("fifos", fifos)
        else:
            (fifos,) = self.recv("fifos")

        def loop(p, count):
            ep, conn, mr, ptr = self.eps[p], self.conns[p], mrs[p], bufs[p].ptr
            if op == "write":
                fifo = fifos[p]
                for i in range(count):
                    if not ep.write(conn, mr, ptr, size, fifo):
                        raise RuntimeError(f"write {i} of {size} bytes failed: {ep.last_error()}")
            elif self.role == "send":
                for i in range(count):
                    if not ep.send(conn, mr, ptr, size):
                        raise RuntimeError(f"send {i} of {size} bytes failed: {ep.last_error()}")
            else:
                for i in range(count):
                    if not ep.recv(conn, mr, ptr, size):
                        raise RuntimeError(f"recv {i} of {size} bytes failed: {ep.last_error()}")

        active = self.role == "send" or op == "sendrecv"
        if active and warmup:
            run_threads(lambda p: loop(p, warmup), self.pairs, self.timeout, f"{self.name} warm-up")
        self.send("warm")
        if self.role == "recv":
            self.recv("prepare")  # every warm-up transfer has landed: poison the buffers
            for p in self.pairs:
                bufs[p].fill_sentinel()
        self.send("ready")
        (t_start,) = self.recv("go")

        times = {}
        if active:
            go = threading.Event()

            def timed(p):
                if not go.wait(self.timeout):
                    raise TimeoutError("start signal never came")
                t0 = time.monotonic()
                loop(p, iters)
                return (t0, time.monotonic())

            holder = {}
            runner = threading.Thread(
                target=lambda: holder.update(r=self._catch(
                    lambda: run_threads(timed, self.pairs, self.timeout, f"{self.name} timed"))),
                daemon=True)
            runner.start()  # the pair threads start and wait for the event
            sleep_until(t_start)
            c0, w0 = cpu_seconds(), time.monotonic()
            go.set()
            runner.join(self.timeout + 5)
            c1, w1 = cpu_seconds(), time.monotonic()
            if runner.is_alive():
                raise TimeoutError(f"{self.name}: timed transfers not done within {self.timeout} s")
            kind, value = holder["r"]
            if kind == "error":
                raise value
            times = value
        else:
            # Passive side of a write: the window ends when every sender has finished.
            sleep_until(t_start)
            c0, w0 = cpu_seconds(), time.monotonic()
            self.recv("stop")
            c1, w1 = cpu_seconds(), time.monotonic()

        checks = {}
        if self.role == "recv":
            for p in self.pairs:
                checks[p] = bufs[p].check(pair_seed(p, size_index))
        self.send("done", times, c1 - c0, (w0, w1), checks)
        for p in self.pairs:
            if not self.eps[p].dereg(mrs[p]):
                raise RuntimeError(f"{self.name}: dereg failed: {self.eps[p].last_error()}")

    @staticmethod
    def _catch(fn):
        try:
            return ("ok", fn())
        except BaseException as e:  # noqa: B036
            return ("error", e)


def child_main(conn, name, role, gpus, cfg):
    _die_with_parent(cfg["parent_pid"])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides; it kills us if needed
    try:
        Child(conn, name, role, gpus, cfg).run()
    except BaseException:  # noqa: B036
        try:
            conn.send(("error", traceback.format_exc()))
            conn.close()
        except Exception:
            pass
        sys.stderr.flush()
        os._exit(1)  # threads may still sit in engine calls: do not wait for them


# ---------------------------------------------------------------- coordinator


class ChildFailed(RuntimeError):
    pass


class Children:
    """The spawned processes of one mode, their pipes, and waits with deadlines."""

    def __init__(self, specs, cfg):
        ctx = multiprocessing.get_context("spawn")
        self.names = [s[0] for s in specs]
        self.procs, self.conns, self.inbox = {}, {}, {}
        self.finished = set()  # children that said 'bye': their exit is expected
        self.timeout = cfg["timeout"]
        child_ends = []
        for name, role, gpus in specs:
            parent_end, child_end = ctx.Pipe(duplex=True)
            proc = ctx.Process(target=child_main, args=(child_end, name, role, gpus, cfg),
                               name=name, daemon=True)
            self.procs[name], self.conns[name], self.inbox[name] = proc, parent_end, []
            child_ends.append(child_end)
        for proc in self.procs.values():
            proc.start()
        for end in child_ends:
            end.close()  # the children hold them now: a dead child reads as EOF here

    def send(self, names, *msg):
        for n in names:
            try:
                self.conns[n].send(msg)
            except OSError:  # BrokenPipeError: the child is gone; say how, as _pump does
                self._died(n)

    def _take(self, n, msg):
        if msg[0] == "error":
            self._blame_dead_sibling(n, msg[1])
            raise ChildFailed(f"{n} failed:\n{msg[1]}")
        if msg[0] == "bye":
            self.finished.add(n)
        self.inbox[n].append(msg)

    def _pump(self, timeout):
        """Reads what is ready (up to timeout); raises on a child's error or death."""
        by_obj = {}
        for n in self.names:
            if n not in self.finished:
                by_obj[self.conns[n]] = ("conn", n)
                by_obj[self.procs[n].sentinel] = ("proc", n)
        if not by_obj:
            return
        ready = mp_wait(list(by_obj), timeout)
        dead = []
        for obj in ready:
            kind, n = by_obj[obj]
            if kind == "proc":
                dead.append(n)
                continue
            try:
                self._take(n, self.conns[n].recv())
            except (EOFError, OSError):
                dead.append(n)
        for n in dict.fromkeys(dead):
            self._died(n)

    def _blame_dead_sibling(self, n, error):
        """A child's error is often the echo of a sibling's death (its peer vanished): the
        death is what to report. The dying sibling's exit may be seen a moment after the error
        arrives, so its sentinel is waited for, bounded."""
        others = {self.procs[o].sentinel: o for o in self.names if o != n and o not in self.finished}
        for sentinel in mp_wait(list(others), 2.0) if others else []:
            o = others[sentinel]
            self.procs[o].join(2)
            code = self.procs[o].exitcode
            if code:
                why = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise ChildFailed(f"{o} died ({why}) without reporting an error (see its output "
                                  f"above); then {n} failed:\n{error}")

    def _died(self, n):
        """Child n's pipe or process ended: raises with its last error or its exit status
        (returns only if it had said 'bye')."""
        try:
            while self.conns[n].poll(0):  # what it said before it went
                self._take(n, self.conns[n].recv())
        except (EOFError, OSError):
            pass
        if n in self.finished:
            return
        self.procs[n].join(2)
        code = self.procs[n].exitcode
        why = (f"signal {-code}" if code is not None and code < 0 else
               f"exit code {code}" if code is not None else "closed its pipe")
        raise ChildFailed(f"{n} died ({why}) without reporting an error (see its output above)")

    def gather(self, names, tag, timeout=None):
        """{name: payload tuple} of the next message of each named child, which must be `tag`."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = {}
        while True:
            for n in names:
                if n not in out and self.inbox[n]:
                    msg = self.inbox[n].pop(0)
                    if msg[0] != tag:
                        raise ChildFailed(f"{n}: expected '{tag}', got {msg[0]!r}")
                    out[n] = msg[1:]
            if len(out) == len(names):
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                missing = [n for n in names if n not in out]
                raise ChildFailed(f"no '{tag}' from {', '.join(missing)} within "
                                  f"{timeout or self.timeout} s")
            self._pump(min(left, 1.0))

    def finish(self):
        """Tells every child to exit and waits for it."""
        self.send(self.names, "exit")
        self.gather(self.names, "bye")
        deadline = time.monotonic() + 20
        for n in self.names:
            self.procs[n].join(max(0.1, deadline - time.monotonic()))
        late = [n for n in self.names if self.procs[n].is_alive()]
        if late:
            raise ChildFailed(f"{', '.join(late)} did not exit within 20 s of 'exit'")
        bad = [f"{n} (exit code {self.procs[n].exitcode})" for n in self.names
               if self.procs[n].exitcode != 0]
        if bad:
            raise ChildFailed("children exited with an error: " + ", ".join(bad))

    def kill_all(self):
        for p in self.procs.values():
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + 3
        for p in self.procs.values():
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.procs.values():
            if p.is_alive():
                p.kill()
                p.join(5)
        for c in self.conns.values():
            c.close()


def log(t0, text):
    print(f"[{time.monotonic() - t0:7.1f}s] {text}", file=sys.stderr, flush=True)


def run_mode(mode, args, sizes, t_begin):
    P = args.pairs
    src = {i: (-1 if args.host else i) for i in range(P)}
    dst = {i: (-1 if args.host else i + P) for i in range(P)}
    cfg = {"host": args.host, "op": args.op, "timeout": args.timeout, "remote_gpus": dst,
           "parent_pid": os.getpid()}
    if mode == "multi":
        senders = [f"sender{i}" for i in range(P)]
        receivers = [f"receiver{i}" for i in range(P)]
        specs = ([(f"sender{i}", "send", {i: src[i]}) for i in range(P)]
                 + [(f"receiver{i}", "recv", {i: dst[i]}) for i in range(P)])
        owner_s = {i: f"sender{i}" for i in range(P)}
    else:
        senders, receivers = ["senders"], ["receivers"]
        specs = [("senders", "send", src), ("receivers", "recv", dst)]
        owner_s = {i: "senders" for i in range(P)}
    everyone = senders + receivers
    kids = Children(specs, cfg)
    results = []
    try:
        hello = kids.gather(everyone, "hello")
        metas = {}
        info = {}
        for n in everyone:
            metas.update(hello[n][0])
            for p, d in hello[n][1].items():
                info.setdefault(p, {})["send" if n in senders else "recv"] = d
        for n in senders:
            mine = {p: metas[p] for p in range(P) if owner_s[p] == n}
            kids.send([n], "peers", mine)
        kids.gather(everyone, "connected")
        transports = sorted({d.get("transport") or "?" for v in info.values() for d in v.values()})
        log(t_begin, f"{mode}: {len(everyone)} processes, {P} pairs connected "
                     f"(transport {', '.join(transports)})")
        for si, size in enumerate(sizes):
            iters = args.iters or auto_iters(size)
            kids.send(everyone, "size", si, size, iters, args.warmup)
            fifos = {}
            for v in kids.gather(receivers, "fifos").values():
                fifos.update(v[0])
            for n in senders:
                kids.send([n], "fifos", {p: f for p, f in fifos.items() if owner_s[p] == n})
            kids.gather(everyone, "warm")
            kids.send(receivers, "prepare")
            kids.gather(everyone, "ready")
            t_start = time.monotonic() + 0.1  # everyone sleeps until then: one start for all
            kids.send(everyone, "go", t_start)
            done = kids.gather(senders, "done")
            if args.op == "write":
                kids.send(receivers, "stop")
            done.update(kids.gather(receivers, "done"))
            results.append(summarize(mode, args, size, iters, src, dst, senders, receivers, done,
                                     info, transports))
            r = results[-1]
            log(t_begin, f"{mode}: P={P} size={size_label(size)} x{iters}: aggregate "
                         f"{r['aggregate_gbps']:.2f} GB/s, min/mean {r['min_over_mean']:.2f}, "
                         f"{r['cores_busy']:.2f} cores, verified={r['verified']}")
        kids.finish()
    except BaseException:
        kids.kill_all()
        raise
    return results


def summarize(mode, args, size, iters, src, dst, senders, receivers, done, info, transports):
    P = args.pairs
    times_s, times_r, checks = {}, {}, {}
    cpu = {}
    windows = []
    for n, (times, cpu_s, window, chk) in done.items():
        (times_s if n in senders else times_r).update(times)
        checks.update(chk)
        cpu[n] = cpu_s
        windows.append(window)
    pairs = []
    for p in range(P):
        t0, t1 = times_s[p]
        if p in times_r:  # send/recv: the pair is done when its receiver is
            t0, t1 = min(t0, times_r[p][0]), max(t1, times_r[p][1])
        secs = t1 - t0
        pairs.append({"pair": p, "src_gpu": src[p], "dst_gpu": dst[p], "start": t0, "end": t1,
                      "seconds": secs, "gbps": size * iters / secs / 1e9,
                      "verified": checks.get(p) is None and p in checks, "error": checks.get(p),
                      "endpoints": info.get(p, {})})
    first = min(x["start"] for x in pairs)
    last = max(x["end"] for x in pairs)
    gbps = [x["gbps"] for x in pairs]
    mean = sum(gbps) / len(gbps)
    agg = P * size * iters / (last - first) / 1e9
    cpu_window = max(w[1] for w in windows) - min(w[0] for w in windows)
    cpu_total = sum(cpu.values())
    cores = cpu_total / cpu_window if cpu_window > 0 else 0.0
    cores_send = sum(v for n, v in cpu.items() if n in senders) / cpu_window if cpu_window else 0
    return {
        "mode": mode, "op": args.op, "memory": "host" if args.host else "gpu", "pairs": P,
        "size": size, "size_label": size_label(size), "iters": iters, "warmup": args.warmup,
        "pair_gbps": gbps, "mean_gbps": mean, "min_gbps": min(gbps), "max_gbps": max(gbps),
        "min_over_mean": min(gbps) / mean if mean > 0 else 0.0,
        "fair": (min(gbps) / mean if mean > 0 else 0.0) >= 0.70,
        "aggregate_gbps": agg, "window_s": last - first, "bytes_total": P * size * iters,
        "cpu_seconds": cpu_total, "cpu_seconds_per_process": cpu, "cpu_window_s": cpu_window,
        "cores_busy": cores, "cores_busy_senders": cores_send, "cores_busy_receivers": cores - cores_send,
        "cores_per_10gbps": cores / (agg / 10) if agg > 0 else None,
        "verified": all(x["verified"] for x in pairs), "transports": transports,
        "pairs_detail": pairs,
    }


def table(mode, rows, args):
    what = ("2P processes, one Endpoint each" if mode == "multi"
            else "1 sender process + 1 receiver process, one thread per pair")
    out = [f"== {mode} ({what}); op={args.op}, memory={'host' if args.host else 'gpu'}, GB/s = 1e9 B/s",
           f"{'P':>2} {'size':>5} {'iters':>5}  {'per-pair GB/s':<30} {'mean':>6} {'min/mean':>8}"
           f"  {'aggregate':>9} {'cores':>6} {'cores/10GB/s':>12}  verified"]
    for r in rows:
        each = " ".join(f"{g:.2f}" for g in r["pair_gbps"])
        fair = "ok" if r["fair"] else "LOW"
        c10 = f"{r['cores_per_10gbps']:.2f}" if r["cores_per_10gbps"] is not None else "-"
        out.append(f"{r['pairs']:>2} {r['size_label']:>5} {r['iters']:>5}  {each:<30} "
                   f"{r['mean_gbps']:>6.2f} {r['min_over_mean']:>5.2f} {fair:<3} {r['aggregate_gbps']:>9.2f}"
                   f" {r['cores_busy']:>6.2f} {c10:>12}  {'yes' if r['verified'] else 'NO'}")
    return "\n".join(out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: PYTHONPATH=build/python:python UCCL_SOCKET_IFNAME=lo python3 "
               "scripts/scale_bench.py --pairs 2 --mode both --sizes 4M,64M --json out/scale.json")
    p.add_argument("--pairs", type=int, default=1, help="P: pairs GPU i -> GPU i+P (default 1)")
    p.add_argument("--mode", choices=("multi", "single", "both"), default="both",
                   help="multi: one process per endpoint; single: one process per side, a thread "
                        "per pair; both (default)")
    p.add_argument("--sizes", default="4M,64M", help="comma-separated sizes, K/M/G = KiB/MiB/GiB "
                                                    "(default 4M,64M)")
    p.add_argument("--iters", type=int, default=0,
                   help="timed transfers per pair and size (default: about 2 GiB, 10 .. 200)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up transfers per pair and size")
    p.add_argument("--op", choices=("write", "sendrecv"), default="write",
                   help="write: one-sided write into an advertised buffer (default); "
                        "sendrecv: send/recv")
    p.add_argument("--host", action="store_true",
                   help="host memory (ctypes buffers) instead of torch CUDA tensors; no GPU needed")
    p.add_argument("--timeout", type=float, default=120,
                   help="seconds any single step may take (default 120)")
    p.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = p.parse_args(argv)
    if args.pairs < 1:
        p.error("--pairs must be >= 1")
    if args.iters < 0 or args.warmup < 0:
        p.error("--iters and --warmup must be >= 0")
    try:
        args.size_list = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError as e:
        p.error(f"bad --sizes '{args.sizes}': {e}")
    if not args.size_list:
        p.error("--sizes is empty")
    return args


def check_gpus(args):
    try:
        import torch
    except ImportError:
        return "torch is not installed (use --host for host memory)"
    n = torch.cuda.device_count()
    if n < 2 * args.pairs:
        return f"--pairs {args.pairs} needs {2 * args.pairs} GPUs, torch sees {n} (use --host?)"
    return None


def _on_sigterm(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)  # `timeout` -> clean up the children
    t_begin = time.monotonic()
    modes = ["multi", "single"] if args.mode == "both" else [args.mode]
    report = {"config": {"pairs": args.pairs, "modes": modes, "sizes": args.size_list,
                         "iters": args.iters or "auto", "warmup": args.warmup, "op": args.op,
                         "memory": "host" if args.host else "gpu", "timeout_s": args.timeout,
                         "env": {k: v for k, v in os.environ.items()
                                 if k.startswith(("UCCL_", "NCCL_", "CUDA_VISIBLE"))},
                         "python": sys.version.split()[0], "cpus": os.cpu_count()},
              "results": [], "ok": False, "error": None}
    code = 1
    try:
        if not args.host:
            err = check_gpus(args)
            if err:
                raise ChildFailed(err)
        for mode in modes:
            log(t_begin, f"{mode}: starting, {args.pairs} pairs, sizes "
                         f"{','.join(size_label(s) for s in args.size_list)}, op {args.op}, "
                         f"{'host' if args.host else 'gpu'} memory")
            rows = run_mode(mode, args, args.size_list, t_begin)
            report["results"].extend(rows)
            print(table(mode, rows, args), flush=True)
            print(flush=True)
        bad = [f"{r['mode']} size={r['size_label']} pair={x['pair']}: {x['error']}"
               for r in report["results"] for x in r["pairs_detail"] if not x["verified"]]
        if bad:
            report["error"] = "data verification failed: " + "; ".join(bad)
            print("FAIL: " + report["error"], file=sys.stderr)
        else:
            report["ok"] = True
            code = 0
    except ChildFailed as e:
        report["error"] = str(e)
        print(f"FAIL: scale_bench: {e}", file=sys.stderr)
    except SystemExit as e:
        report["error"] = f"interrupted (exit {e.code})"
        print(f"FAIL: scale_bench: {report['error']}", file=sys.stderr)
        code = e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:
        report["error"] = "interrupted"
        print("FAIL: scale_bench: interrupted", file=sys.stderr)
        code = 130
    report["elapsed_s"] = time.monotonic() - t_begin
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    log(t_begin, f"done: {'ok' if code == 0 else 'FAILED'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
