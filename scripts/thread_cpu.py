#!/usr/bin/env python3
"""Where a run's CPU goes, thread by thread.

usage: scripts/thread_cpu.py [--names tcpx-p2p,tcp_bw] [--delay S] [--window S] -- COMMAND ...

Runs COMMAND, waits --delay seconds (its set-up), then samples for --window seconds the CPU time
(utime + stime, /proc/PID/task/TID/stat) of every thread of every process whose name starts with
one of --names (any process on the machine: `tcpx-p2p bench --local` starts its server as a second
process), and the machine's busy cores (/proc/stat). Prints COMMAND's output, then one line per
process and thread name, busiest first, threads of one name summed (the engine names its threads:
tcpxp-driver, the transport's helpers ...):

    cpu: machine busy 14.20 cores over 1.50 s
    cpu: pid 4242 tcpxp-driver     x1     0.99 cores (user 0.93, sys 0.06)

Size the run so that it is still moving data after DELAY + WINDOW seconds (a size sweep with
enough --iters): a thread that ended before the window shows nothing. Exit status: COMMAND's
(2 for a bad option). Linux only. Used for issue 23 item 6 (the gap to raw TCP on one GPU).
"""
import argparse
import collections
import os
import subprocess
import sys
import threading
import time

from bench_vs_peers_cpu import machine_ticks  # (busy, total) ticks of /proc/stat


def thread_ticks(prefixes):
    """{(pid, tid): (thread name, utime, stime)} of the processes whose name matches."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            if not any(comm.startswith(p[:15]) for p in prefixes):
                continue
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            name = s[s.index("(") + 1:s.rindex(")")]
            fields = s[s.rindex(")") + 2:].split()
            out[(pid, tid)] = (name, int(fields[11]), int(fields[12]))
    return out


def summarize(before, after, seconds, hz):
    """Lines 'pid NAME xN cores (user, sys)' for threads alive at both samples, busiest first."""
    groups = collections.defaultdict(lambda: [0, 0, 0])
    for key, (name, u1, s1) in after.items():
        if key not in before:
            continue
        _, u0, s0 = before[key]
        # Helpers are numbered (tcpxp-send-3): one line per role.
        g = groups[(key[0], name.rstrip("0123456789-"))]
        g[0] += u1 - u0
        g[1] += s1 - s0
        g[2] += 1
    lines = []
    for (pid, name), (u, s, n) in sorted(groups.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        if u + s == 0:
            continue
        lines.append(f"cpu: pid {pid} {name:<16} x{n:<3} {(u + s) / hz / seconds:6.2f} cores "
                     f"(user {u / hz / seconds:.2f}, sys {s / hz / seconds:.2f})")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 usage="thread_cpu.py [options] -- COMMAND ...")
    ap.add_argument("--names", default="tcpx-p2p,tcp_bw,transport_bw",
                    help="comma-separated process name prefixes (default: %(default)s)")
    ap.add_argument("--delay", type=float, default=1.5, help="seconds before sampling (default 1.5)")
    ap.add_argument("--window", type=float, default=1.5, help="seconds sampled (default 1.5)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    o = ap.parse_args(argv)
    cmd = o.command[1:] if o.command[:1] == ["--"] else o.command
    if not cmd or o.delay < 0 or o.window <= 0:
        ap.print_usage(sys.stderr)
        print("thread_cpu.py: give a COMMAND after --, a delay >= 0 and a window > 0",
              file=sys.stderr)
        return 2
    prefixes = [n for n in o.names.split(",") if n]
    hz = os.sysconf("SC_CLK_TCK")
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        print(f"thread_cpu.py: cannot run {cmd[0]}: {e}", file=sys.stderr)
        return 2
    # Drain the output while waiting, so that a chatty command never blocks on a full pipe.
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    time.sleep(o.delay)
    m0, t0, w0 = machine_ticks(), thread_ticks(prefixes), time.monotonic()
    time.sleep(o.window)
    m1, t1, w1 = machine_ticks(), thread_ticks(prefixes), time.monotonic()
    rc = proc.wait()
    reader.join()
    print("".join(chunks).rstrip())
    seconds = w1 - w0
    print(f"cpu: machine busy {(m1[0] - m0[0]) / hz / seconds:.2f} cores over {seconds:.2f} s")
    lines = summarize(t0, t1, seconds, hz)
    print("\n".join(lines) if lines else f"cpu: no thread of {','.join(prefixes)} ran in the window")
    return rc


if __name__ == "__main__":
    sys.exit(main())
