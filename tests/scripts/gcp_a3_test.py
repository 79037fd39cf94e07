#!/usr/bin/env python3
"""The GCP A3 launchers (scripts/gcp-a3/server.sh and client.sh) on loopback, without GPUs or TCPX.

Both modes, each with two "GPUs" in host memory (BENCH_MEMORY=host) over the built-in transport:
one process per GPU, then --single-process (one process per side holding both endpoints). Each
run: server.sh starts the servers (after `doctor`, which fails here, hence --force), the test
waits until every server's log says it is listening, client.sh drives them with --verify, and
both scripts must exit 0 with a verified result for every GPU. Also the launchers' usage errors
and --help. python3 standard library only.

usage: gcp_a3_test.py PATH/TO/tcpx-p2p
"""
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(ROOT, "scripts", "gcp-a3")
TIMEOUT_S = 90


def expect(cond, what, out="", err=""):
    if not cond:
        sys.stderr.write(f"FAIL: {what}\n--- stdout ---\n{out}\n--- stderr ---\n{err}\n")
        sys.exit(1)
    print(f"ok: {what}")


def free_port_pair():
    """A port p with p and p + 1 free now (the servers of GPUs 0 and 1 in host mode), below the
    kernel's ephemeral range: a port the kernel handed out (bind to 0) can be handed out again to
    another test's socket before the servers bind it, which failed both servers once under load."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, ephemeral_low - 10000), ephemeral_low - 1)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports below the ephemeral range")


def wait_for_lines(paths, pattern, server, deadline):
    """The first match of `pattern` in each log, once every log has one. The servers write
    those lines when they listen; the logs are re-read until then (or the server exits)."""
    found = {}
    while True:
        for p in paths:
            if p not in found and os.path.exists(p):
                m = re.search(pattern, open(p).read())
                if m:
                    found[p] = m
        if len(found) == len(paths):
            return [found[p] for p in paths]
        if server.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.02)  # polling the logs for a condition, with a deadline


def launch(tool, single):
    mode = "--single-process" if single else "one process per GPU"
    with tempfile.TemporaryDirectory() as logs:
        env = dict(os.environ, TCPX_P2P=tool, BENCH_MEMORY="host", GPUS="0 1", LOG_DIR=logs,
                   UCCL_P2P_TRANSPORT="tcp", UCCL_SOCKET_IFNAME="lo",
                   UCCL_TCPX_BOOTSTRAP_PORT_BASE=str(free_port_pair()))
        flags = ["--force"] + (["--single-process"] if single else [])
        server = subprocess.Popen(["bash", os.path.join(SCRIPTS, "server.sh"), *flags, "--",
                                   "--accept-timeout", "60", "--timeout", "20"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        try:
            names = ["server-all.log"] if single else ["server-gpu0.log", "server-gpu1.log"]
            matches = wait_for_lines([os.path.join(logs, n) for n in names],
                                     r"waiting \d+ s for: tcpx-p2p bench --client (\S+)", server,
                                     time.monotonic() + TIMEOUT_S)
            if matches is None:
                server.kill()
                out, err = server.communicate()
                expect(False, f"{mode}: the servers listen", out, err)
            target = "127.0.0.1"
            if single:  # host endpoints take ephemeral ports: the first one's from the log
                target += ":" + matches[0][1].rsplit(":", 1)[1]
            client = subprocess.run(
                ["bash", os.path.join(SCRIPTS, "client.sh"), *flags, target, "--", "--sizes",
                 "4K,64K", "--iters", "2", "--mode", "write,read", "--verify"],
                capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
            out, err = server.communicate(timeout=TIMEOUT_S)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        expect(client.returncode == 0 and "clients done: 0 of" in client.stdout,
               f"{mode}: client.sh exits 0", client.stdout, client.stderr)
        expect(server.returncode == 0 and "servers done: 0 of" in out,
               f"{mode}: server.sh exits 0", out, err)
        rows = [l for l in client.stdout.splitlines() if re.match(r"(write|read) ", l)]
        if single:
            expect(len(rows) == 4 * 3 and all(l.split()[3] in ("0:", "1:", "all") for l in rows)
                   and client.stdout.count("every received byte verified") == 1
                   and "--gpus hostx2" in client.stdout,
                   f"{mode}: one process, rows for 2 pairs and their aggregate, verified",
                   client.stdout, client.stderr)
        else:
            expect(len(rows) == 2 * 4
                   and client.stdout.count("every received byte verified") == 2,
                   f"{mode}: one process per GPU, 4 rows each, verified", client.stdout,
                   client.stderr)


def check_usage(tool):
    env = dict(os.environ, TCPX_P2P=tool)
    for script in ("server.sh", "client.sh"):
        p = subprocess.run(["bash", os.path.join(SCRIPTS, script), "--help"], capture_output=True,
                           text=True, env=env, timeout=TIMEOUT_S)
        expect(p.returncode == 0 and "--single-process" in p.stdout and "Usage:" in p.stdout,
               f"{script} --help documents --single-process", p.stdout, p.stderr)
    p = subprocess.run(["bash", os.path.join(SCRIPTS, "client.sh"), "10.0.0.1:47000"],
                       capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    expect(p.returncode == 2 and "SERVER_HOST:PORT is for --single-process" in p.stderr,
           "client.sh HOST:PORT without --single-process exits 2", p.stdout, p.stderr)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = os.path.abspath(sys.argv[1])
    check_usage(tool)
    launch(tool, single=False)
    launch(tool, single=True)


if __name__ == "__main__":
    main()
