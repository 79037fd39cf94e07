#!/usr/bin/env python3
"""ctest `soak`: scripts/soak.py for TCPXP_SOAK_S seconds (default 120), then its self-tests.

  soak_test.py BUILD_DIR

1. The soak itself (two processes, mixed workload, idle gaps past the timeout, reconnects,
   SIGKILLed peers, growth checks): it must pass, and its JSON must show that every part of the
   workload ran (idle gaps, reconnects, kills whose outstanding transfers failed, notifications
   both ways, a growth check of at least one process after warm-up).
2. The soak must be able to fail: one flipped byte (--inject data) and growth of RSS, fds and
   threads (--inject growth) each make it exit 1 saying so.

Runs the soak in a network namespace of its own where it can (root, unshare): the engine binds
ephemeral ports for each connection, and other tests' TIME_WAIT sockets must not use them up.
Exits 77 (skipped) when the module is not built for this Python or numpy is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOAK = os.path.join(HERE, "..", "..", "scripts", "soak.py")


def own_namespace():
    """The command prefix that runs the soak in a network namespace of its own (root with
    unshare and ip), so that TIME_WAIT sockets left by other tests cannot use up the ephemeral
    ports its connections bind; empty where that is not possible."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return []
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        return []
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"']


PREFIX = own_namespace()


def run(build, args, timeout):
    cmd = PREFIX + [sys.executable, SOAK, "--build", build] + args
    start = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return p.returncode, p.stdout, time.monotonic() - start


def check(cond, what, output=""):
    if not cond:
        print(output)
        print(f"FAILED: {what}")
        sys.exit(1)


def main():
    build = os.path.abspath(sys.argv[1])
    sys.path.insert(0, os.path.join(build, "python"))
    try:
        import numpy  # noqa: F401
        import tcpx_p2p

        tcpx_p2p._load_core()
    except ImportError as e:
        print(f"skipped: {e}")
        return 77
    seconds = float(os.environ.get("TCPXP_SOAK_S", "120"))

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "soak.json")
        rc, text, wall = run(build, ["--duration", str(seconds), "--json", out], seconds + 300)
        print(text)
        check(rc == 0, f"soak.py exited {rc}")
        with open(out) as f:
            j = json.load(f)
        s = j["summary"]
        check(j["result"] == "pass" and not j["problems"], f"JSON result {j['result']}: {j['problems']}")
        check(len(j["intervals"]) >= seconds / j["args"]["interval"], "one sample per interval")
        if seconds >= 100:  # the default schedule: idle 25 s, reconnect 15 s, kill 40 s
            check(s["idles"] >= 2 and s["reconnects"] >= 2 and s["kills"] >= 2,
                  f"every part of the workload ran: {s['idles']} idles, {s['reconnects']} reconnects, "
                  f"{s['kills']} kills")
            # Per kill 6 transfers are outstanding; at most the 2 the victim was sending finish.
            check(s["kill_outstanding_failed"] >= 4 * s["kills"],
                  f"{s['kill_outstanding_failed']} outstanding transfers failed in {s['kills']} kills")
            check(s["growth_checked_processes"] >= 2, "A and at least one B checked for growth")
        for side in ("A", "B_all_processes"):
            t = s[side]
            check(t["xfers"] > 0 and t["data_errors"] == 0 and t["err_unexpected"] == 0, f"{side}: {t}")
            check(t["notifs_received"] > 0, f"{side} received notifications")
        check(s["A"]["err_expected"] == s["kill_outstanding_failed"], "expected errors are the kills'")
        print(f"soak: wall {wall:.1f} s, worker CPU {s['children_cpu_s']} s, "
              f"controller CPU {s['controller_cpu_s']} s")

        rc, text, _ = run(build, ["--duration", "20", "--inject", "data"], 200)
        check(rc == 1 and "DATA ERROR" in text and "1 of " in text,
              f"a flipped byte must fail the soak (exit {rc})", text)
        rc, text, _ = run(build, ["--duration", "10", "--interval", "2", "--warmup", "2", "--kill-every", "0",
                                  "--idle-every", "0", "--reconnect-every", "3", "--inject", "growth"], 200)
        check(rc == 1 and "A: fds" in text and "A: threads" in text and "A: RSS grew" in text,
              f"growth of RSS, fds and threads must fail the soak (exit {rc})", text)
    print(f"soak test passed ({'in its own network namespace' if PREFIX else 'in this network namespace'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
