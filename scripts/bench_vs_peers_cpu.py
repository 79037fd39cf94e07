"""CPU cost of a benchmark run, for scripts/bench_vs_peers.py.

run_monitored() runs a command, copies its output (stdout + stderr) to a log and, at every output
line, records a sample: the time (since start and CLOCK_MONOTONIC), the machine's busy and total
clock ticks from /proc/stat, and the utime + stime of every process descended from the command
(/proc/PID/stat). idle() takes two samples some seconds apart with nothing of ours running.

cpu_cost() turns the samples of one `tcpx-p2p bench` run into cores busy over its table's window:
the bench --json file's "table_window" gives the CLOCK_MONOTONIC times at which the client printed
its table header and its last row (time.monotonic() reads the same clock), and the window runs
from the first sample taken at or after each. Whole-machine busy time (user + nice + system + irq
+ softirq, so the kernel's loopback TCP work counts too) minus an idle baseline, divided by the
window's wall time = cores busy; divided by (GB/s moved in the window / 10) = cores per 10 GB/s.
Bytes moved include each size's warm-up transfers. /proc counts in clock ticks (10 ms), so short
windows are coarse: the window's length goes into the JSON.
"""

import json
import os
import subprocess
import time


def machine_ticks():
    """(busy, total) clock ticks of the whole machine since boot."""
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is in user)
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle_, iowait, irq, softirq = v[:7]
    steal = v[7] if len(v) > 7 else 0
    busy = user + nice + system + irq + softirq
    return busy, busy + idle_ + iowait + steal


def tree_ticks(root):
    """utime + stime (all threads) of root and its descendants, and how many there are."""
    parent, ticks = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue  # gone meanwhile
        rest = s[s.rindex(")") + 2:].split()  # fields from "state" on; comm may hold spaces
        parent[int(d)], ticks[int(d)] = int(rest[1]), int(rest[11]) + int(rest[12])
    tree, todo = set(), [root]
    while todo:
        p = todo.pop()
        if p in ticks and p not in tree:
            tree.add(p)
            todo += [c for c, pp in parent.items() if pp == p]
    return sum(ticks[p] for p in tree), len(tree)


def sample(t0, line_no, root=None):
    now = time.monotonic()
    busy, total = machine_ticks()
    s = {"t": round(now - t0, 6), "mono": round(now, 6), "line": line_no, "busy": busy, "total": total}
    if root is not None:
        s["proc"], s["nprocs"] = tree_ticks(root)
    return s


def run_monitored(cmd, log_path, mon_path, env=None):
    """Runs cmd (its output to log_path, a sample per line to mon_path); returns its exit status.
    The command bounds its own run time (callers wrap it in `timeout`)."""
    meta = {"hz": os.sysconf("SC_CLK_TCK"), "ncpu": os.cpu_count(), "cmd": cmd}
    t0 = time.monotonic()
    samples = [sample(t0, -1)]
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        for n, raw in enumerate(p.stdout):
            samples.append(sample(t0, n, p.pid))
            log.write(raw.decode(errors="replace"))
            log.flush()
        rc = p.wait()
    samples.append(sample(t0, -1))
    meta.update(rc=rc, samples=samples)
    with open(mon_path, "w") as f:
        json.dump(meta, f, indent=1)
    return rc


def idle(seconds, mon_path):
    """Two samples `seconds` apart while nothing of ours runs: the idle baseline."""
    t0 = time.monotonic()
    first = sample(t0, -1)
    time.sleep(seconds)  # the measurement itself, not a wait for anything
    meta = {"hz": os.sysconf("SC_CLK_TCK"), "ncpu": os.cpu_count(), "samples": [first, sample(t0, -1)]}
    with open(mon_path, "w") as f:
        json.dump(meta, f, indent=1)


def idle_cores(mons):
    """Cores busy in each idle baseline (monitor files of idle()), and their mean (None: none)."""
    each = []
    for mon in mons:
        if mon and len(mon.get("samples", [])) == 2:
            a, b = mon["samples"]
            if b["t"] > a["t"]:
                each.append((b["busy"] - a["busy"]) / mon["hz"] / (b["t"] - a["t"]))
    return each, (sum(each) / len(each) if each else None)


def cpu_cost(mon, results, window, warmup=1, idle=None):
    """Cores busy over a bench run's table window, and per 10 GB/s; None when it cannot be told
    (no samples, no results, no window, or a window shorter than one sample apart).
    mon: run_monitored()'s JSON; results: bench --json "results"; window: its "table_window"."""
    if not mon or not results or not window:
        return None
    smp = [s for s in mon.get("samples", []) if s["line"] >= 0 and "mono" in s]
    start = next((s for s in smp if s["mono"] >= window["start_s"]), None)
    end = next((s for s in smp if s["mono"] >= window["end_s"]), None)
    if start is None or end is None:
        return None
    dt = end["t"] - start["t"]
    if dt <= 0:
        return None
    hz = mon["hz"]
    moved = sum(r["size"] * (r.get("iters", 0) + r.get("warmup", warmup)) for r in results)
    gbps = moved / dt / 1e9
    machine_cores = (end["busy"] - start["busy"]) / hz / dt - (idle or 0)
    proc_cores = (end.get("proc", 0) - start.get("proc", 0)) / hz / dt

    def per10(c):
        return c / (gbps / 10) if gbps > 0 else None

    return {"window_s": round(dt, 4), "bytes": moved, "gbps_in_window": round(gbps, 3),
            "machine_busy_ticks": end["busy"] - start["busy"], "hz": hz,
            "idle_cores_subtracted": idle,
            "cores_busy_machine": round(machine_cores, 3),
            "cores_busy_processes": round(proc_cores, 3),
            "cores_per_10gbps_machine": per10(machine_cores),
            "cores_per_10gbps_processes": per10(proc_cores)}
