#!/usr/bin/env python3
"""Many NICs (issue #6): channels striped over four veth NICs between two network namespaces.

Usage: netns_test.py PATH/TO/tcpx-p2p      the test (ctest `netns`)
       netns_test.py --setup-check         only create the namespaces, ping over each veth pair,
                                           delete them (no engine needed)

Two namespaces, tcpxp-<pid>-a (client) and tcpxp-<pid>-b (server), joined by four veth pairs
a:ethN <-> b:ethN on 10.201.N.0/24 (a = .1, b = .2). Both peers run `tcpx-p2p bench` with
UCCL_SOCKET_IFNAME=eth1,eth2,eth3,eth4 (devices 0..3) and UCCL_TCPX_NUM_CHANNELS=4:
  case A  UCCL_TCPX_DEV=0,1,2,3  every NIC carries >= 20% of the client's transmitted bytes;
  case B  UCCL_TCPX_DEV=0,1      eth1 and eth2 carry >= 20% each, eth3 and eth4 < 1%.
The kernel's counters (/sys/class/net/ethN/statistics in namespace a, before and after) are the
reference; the engine's per-NIC bytes_sent (bench --stats-json, client side) must agree with
them within 5% per NIC.

Exit status: 0 pass, 1 fail (each reason printed; "MISSING:" marks what the engine lacks),
77 skip (not root, no iproute2, or namespaces cannot be made here). TCPXP_NETNS_REQUIRED=1
turns the skip into a failure (CI, which runs as root, sets it).

The namespaces are always deleted: in a finally block, from atexit, and from SIGTERM, SIGINT,
SIGHUP and the test's own overall deadline (SIGALRM, below ctest's TIMEOUT). The child processes
get SIGKILL if this script dies (PR_SET_PDEATHSIG), and a run first deletes namespaces left by
an earlier run whose process no longer exists (one killed with SIGKILL). Every subprocess has a
timeout; nothing sleeps: the client starts once the server has printed its address.
Python 3 standard library only.
"""
import atexit
import ctypes
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
SKIP_MESSAGE = "SKIP: needs root and iproute2 (ip netns)"
NICS = ["eth1", "eth2", "eth3", "eth4"]
CMD_TIMEOUT_S = 20         # every ip / cat / ping
SERVER_ADDR_TIMEOUT_S = 30  # the server prints its address
CLIENT_TIMEOUT_S = 100     # one case's transfers (the engine's own waits are shorter)
ENGINE_TIMEOUT_S = 40      # bench --timeout: every wait and message of the tool
OVERALL_TIMEOUT_S = 270    # below ctest's TIMEOUT 300, so the cleanup runs first
SIZE = 64 << 20
ITERS = 8
WARMUP = 1
MIN_SHARE = 0.20           # a selected NIC carries at least this share of the bytes
MAX_IDLE_SHARE = 0.01      # an unselected NIC at most this share (ARP and the like)
AGREE = 0.05               # engine vs kernel, per NIC


def subnet_ip(n, host):
    return f"10.201.{n}.{host}"


# ---------------------------------------------------------------------------------------------
# Cleanup that cannot be skipped: children first (a namespace lives on while a process is in
# it), then the namespaces. Idempotent; safe from signal handlers and atexit.

_children = []      # subprocess.Popen of processes this script started and that may still run
_namespaces = []    # namespace names this script created
_cleaned_up = False


def _set_pdeathsig():
    # Runs in the child between fork and exec: SIGKILL it when this script dies, even by
    # SIGKILL (ip netns exec execs the tool, so the setting reaches it).
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _run(args, timeout=CMD_TIMEOUT_S, check=True, env=None):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env,
                          preexec_fn=_set_pdeathsig)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` exited {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()}")
    return proc


def cleanup():
    global _cleaned_up
    for child in list(_children):
        if child.poll() is None:
            try:
                child.kill()
                child.wait(timeout=10)
            except Exception:
                pass
        _children.remove(child)
    for ns in list(_namespaces):
        try:
            proc = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True,
                                  timeout=CMD_TIMEOUT_S)
            if proc.returncode != 0 and ns in list_namespaces():
                sys.stderr.write(f"warning: could not delete namespace {ns}: {proc.stderr}")
                continue
        except Exception as e:  # keep going: the other namespace still has to go
            sys.stderr.write(f"warning: deleting namespace {ns}: {e}\n")
            continue
        _namespaces.remove(ns)
    _cleaned_up = not _namespaces
    if _guardian is not None and _cleaned_up and not _guardian.closed:
        _guardian.close()  # our own deletion is done: the guardian finds nothing and exits


class Deadline(Exception):
    pass


def _on_signal(signum, _frame):
    if signum == signal.SIGALRM:
        raise Deadline(f"the test ran past its overall deadline of {OVERALL_TIMEOUT_S} s")
    sys.stderr.write(f"netns_test: signal {signum}, cleaning up\n")
    cleanup()
    sys.exit(128 + signum)


def install_cleanup_handlers():
    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, _on_signal)
    signal.alarm(OVERALL_TIMEOUT_S)


# ---------------------------------------------------------------------------------------------
# Namespaces

def list_namespaces():
    proc = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          timeout=CMD_TIMEOUT_S)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def delete_stale_namespaces():
    """Namespaces of earlier runs whose process is gone (killed with SIGKILL)."""
    for ns in list_namespaces():
        m = re.fullmatch(r"tcpxp-(\d+)-[ab]", ns)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running: another instance's
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        print(f"deleting namespace {ns} left by an earlier run (pid {pid} is gone)")
        _run(["ip", "netns", "del", ns], check=False)


class CannotCreate(Exception):
    pass


GUARDIAN = r'''
import os, subprocess, sys
if os.fork():  # the guardian is the grandchild: not ours, so not in a killed process tree
    os._exit(0)
sys.stdin.buffer.read()  # returns at EOF: when the test exits, however it exits
listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=20)
present = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
for ns in sys.argv[1:]:
    if ns in present:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
'''
_guardian = None


def start_guardian(names):
    """A process that deletes `names` once this script is gone, even when it was killed with
    SIGKILL: ctest's timeout SIGKILLs the test's whole process tree, so the guardian is detached
    (own session, reparented away by a double fork) and waits for EOF on a pipe only we hold."""
    global _guardian
    launcher = subprocess.Popen([sys.executable, "-c", GUARDIAN, *names], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    launcher.wait(timeout=CMD_TIMEOUT_S)  # the intermediate exits at once
    _guardian = launcher.stdin             # the write end: closed (EOF) when we exit


def create_topology():
    """Returns (ns_a, ns_b). Registers each namespace for cleanup before anything else."""
    ns_a, ns_b = f"tcpxp-{os.getpid()}-a", f"tcpxp-{os.getpid()}-b"
    start_guardian([ns_a, ns_b])
    for ns in (ns_a, ns_b):
        proc = _run(["ip", "netns", "add", ns], check=False)
        if proc.returncode != 0:
            if ns in list_namespaces():
                _namespaces.append(ns)
            raise CannotCreate(f"ip netns add {ns}: {proc.stderr.strip()}")
        _namespaces.append(ns)
    for ns in (ns_a, ns_b):
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # No IPv6 (router solicitations, DAD, MLD) on the test NICs: less noise in the counters.
        # Newly made links take "default". Optional: a kernel without IPv6 has no such files.
        _run(["ip", "netns", "exec", ns, "sh", "-c",
              "for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 "
              "/proc/sys/net/ipv6/conf/all/disable_ipv6; do [ -w $f ] && echo 1 > $f; done; true"],
             check=False)
    for n, nic in enumerate(NICS, start=1):
        # Made inside the namespaces: no name can clash with the host's own eth1..eth4.
        _run(["ip", "-n", ns_a, "link", "add", nic, "type", "veth", "peer", "name", nic,
              "netns", ns_b])
        _run(["ip", "-n", ns_a, "addr", "add", f"{subnet_ip(n, 1)}/24", "dev", nic])
        _run(["ip", "-n", ns_b, "addr", "add", f"{subnet_ip(n, 2)}/24", "dev", nic])
        _run(["ip", "-n", ns_a, "link", "set", nic, "up"])
        _run(["ip", "-n", ns_b, "link", "set", nic, "up"])
    return ns_a, ns_b


def ping_each_pair(ns_a):
    """Connectivity over each veth pair (ping -c1 -W1); returns error strings. Needs ping."""
    if not shutil.which("ping"):
        return []  # optional: the transfers show connectivity problems too
    errors = []
    for n, nic in enumerate(NICS, start=1):
        proc = _run(["ip", "netns", "exec", ns_a, "ping", "-c1", "-W1", "-I", nic,
                     subnet_ip(n, 2)], check=False)
        if proc.returncode != 0:
            errors.append(f"ping from {ns_a} over {nic} to {subnet_ip(n, 2)} failed: "
                          f"{(proc.stdout + proc.stderr).strip()}")
    return errors


def nic_counters(ns):
    """{nic: (tx_bytes, rx_bytes)} from the kernel, read inside the namespace."""
    files = [f"/sys/class/net/{nic}/statistics/{what}" for nic in NICS
             for what in ("tx_bytes", "rx_bytes")]
    values = [int(v) for v in _run(["ip", "netns", "exec", ns, "cat", *files]).stdout.split()]
    return {nic: (values[2 * i], values[2 * i + 1]) for i, nic in enumerate(NICS)}


# ---------------------------------------------------------------------------------------------
# One transfer

ADDRESS_RE = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}:\d+(?:\?\S+)?)")


def read_server_address(server, deadline_s):
    """Reads the server's stdout until its IP:PORT[?BDF] line; returns (address, text so far)."""
    fd = server.stdout.fileno()
    buf = b""
    end = time.monotonic() + deadline_s
    while True:
        for line in buf.decode(errors="replace").splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            m = re.search(r"--client\s+(\S+)", line) or ADDRESS_RE.search(line)
            if m:
                return m.group(1), buf.decode(errors="replace")
        left = end - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"the server printed no address within {deadline_s} s; "
                               f"stdout so far: {buf.decode(errors='replace')!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError(f"the server exited (rc {server.wait(timeout=10)}) before "
                               f"printing its address; stdout: {buf.decode(errors='replace')!r}")
        buf += chunk


def run_case(tool, ns_a, ns_b, devs, tmp, stats_supported):
    """Runs server (b) and client (a). Returns a dict with the kernel deltas, the engine's
    per-NIC counters (or None) and the processes' output; raises on a failed run."""
    env = dict(os.environ)
    env.update({
        "UCCL_SOCKET_IFNAME": ",".join(NICS),
        "UCCL_TCPX_DEV": devs,
        "UCCL_TCPX_NUM_CHANNELS": "4",
        "UCCL_P2P_TRANSPORT": "tcp",
        "UCCL_TCPX_TIMEOUT_MS": "20000",
    })
    tag = devs.replace(",", "")
    server_err_path = os.path.join(tmp, f"server-{tag}.err")
    stats_path = os.path.join(tmp, f"stats-{tag}.json")
    with open(server_err_path, "w+") as server_err:
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns_b, tool, "bench", "--server", "--host",
             "--timeout", str(ENGINE_TIMEOUT_S), "--accept-timeout", str(SERVER_ADDR_TIMEOUT_S)],
            stdout=subprocess.PIPE, stderr=server_err, env=env, preexec_fn=_set_pdeathsig)
        _children.append(server)
        try:
            try:
                address, server_out = read_server_address(server, SERVER_ADDR_TIMEOUT_S)
            except RuntimeError as e:
                server_err.seek(0)
                raise RuntimeError(f"{e}\n--- server stderr ---\n{server_err.read()}")
            ip = address.split(":")[0]
            before = nic_counters(ns_a)
            args = ["ip", "netns", "exec", ns_a, tool, "bench", "--client", address, "--host",
                    "--mode", "write", "--sizes", str(SIZE), "--iters", str(ITERS),
                    "--warmup", str(WARMUP), "--timeout", str(ENGINE_TIMEOUT_S)]
            if stats_supported:
                args += ["--stats-json", stats_path]
            try:
                client = _run(args, timeout=CLIENT_TIMEOUT_S, check=False, env=env)
            except subprocess.TimeoutExpired as e:
                raise RuntimeError(f"the client did not finish within {CLIENT_TIMEOUT_S} s "
                                   f"(stdout so far: {e.stdout!r})")
            try:
                rest, _ = server.communicate(timeout=ENGINE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.kill()
                rest, _ = server.communicate(timeout=10)
            after = nic_counters(ns_a)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=10)
            _children.remove(server)
        server_err.seek(0)
        server_log = server_out + rest.decode(errors="replace") + server_err.read()
    result = {
        "address": address, "ip": ip, "server_rc": server.returncode, "server_log": server_log,
        "client_rc": client.returncode, "client_out": client.stdout, "client_err": client.stderr,
        "tx": {nic: after[nic][0] - before[nic][0] for nic in NICS},
        "rx": {nic: after[nic][1] - before[nic][1] for nic in NICS},
        "engine": None, "engine_raw": None,
    }
    if stats_supported and client.returncode == 0:
        try:
            with open(stats_path) as f:
                result["engine_raw"] = json.load(f)
        except (OSError, ValueError) as e:
            result["engine_error"] = f"cannot read the client's --stats-json {stats_path}: {e}"
    return result


# ---------------------------------------------------------------------------------------------
# Checks

def engine_per_nic(raw):
    """{name: {"bytes_sent": N, "bytes_received": N, ...}} from the stats JSON."""
    nics = raw.get("nics") if isinstance(raw, dict) else None
    if not isinstance(nics, list):
        raise ValueError("the stats JSON has no \"nics\" list")
    out = {}
    for entry in nics:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise ValueError(f"a \"nics\" entry has no name: {entry}")
        for key in ("bytes_sent", "bytes_received", "requests", "errors"):
            if not isinstance(entry.get(key), int) or entry[key] < 0:
                raise ValueError(f"the \"nics\" entry of {name} has no count \"{key}\": {entry}")
        out[name] = entry
    return out


def fmt_bytes(n):
    return f"{n / (1 << 20):10.2f} MiB"


def check_case(label, devs, selected, res, failures, missing):
    tx, rx = res["tx"], res["rx"]
    total = sum(tx.values())
    payload = (ITERS + WARMUP) * SIZE
    engine = None
    if res["engine_raw"] is not None:
        try:
            engine = engine_per_nic(res["engine_raw"])
        except ValueError as e:
            failures.append(f"{label}: {e}: {json.dumps(res['engine_raw'])[:500]}")
    elif res.get("engine_error"):
        failures.append(f"{label}: {res['engine_error']}")

    print(f"\n{label}: UCCL_TCPX_DEV={devs}, 4 channels, server {res['address']}; client side "
          f"(namespace a), {ITERS + WARMUP} x {SIZE >> 20} MiB written = {fmt_bytes(payload)}")
    print(f"  {'nic':5} {'kernel tx':>14} {'share':>7} {'engine sent':>14} {'diff':>7}   "
          f"{'kernel rx':>14} {'engine recv':>14}")
    for nic in NICS:
        share = tx[nic] / total if total else 0.0
        e = engine.get(nic) if engine is not None else None
        sent = e.get("bytes_sent") if e else None
        recv = e.get("bytes_received") if e else None
        diff = (f"{(sent - tx[nic]) / tx[nic] * 100:+6.1f}%" if sent is not None and tx[nic]
                else "    n/a")
        print(f"  {nic:5} {fmt_bytes(tx[nic])} {share * 100:6.1f}% "
              f"{fmt_bytes(sent) if sent is not None else '           n/a'} {diff}   "
              f"{fmt_bytes(rx[nic])} {fmt_bytes(recv) if recv is not None else '           n/a'}")
    print(f"  {'total':5} {fmt_bytes(total)}")
    channels = res["engine_raw"].get("channels") if engine is not None else None
    if isinstance(channels, list):
        dev_names = {e.get("dev"): name for name, e in engine.items()}
        print("  engine channels: " + ", ".join(
            f"{c.get('channel')} on {dev_names.get(c.get('dev'), c.get('dev'))} "
            f"{int(c.get('bytes_sent', 0)) / (1 << 20):.1f} MiB"
            for c in channels if isinstance(c, dict)))

    if res["client_rc"] != 0 or res["server_rc"] != 0:
        text = res["client_err"] + res["client_out"] + res["server_log"]
        if "UCCL_TCPX_DEV" in text:
            missing.append(f"{label}: the engine rejected UCCL_TCPX_DEV={devs} (a device list)")
        failures.append(f"{label}: client exited {res['client_rc']}, server {res['server_rc']}\n"
                        f"--- client stdout ---\n{res['client_out']}\n"
                        f"--- client stderr ---\n{res['client_err']}\n"
                        f"--- server output ---\n{res['server_log']}")
        return
    meta_ip = subnet_ip(1, 2)
    if res["ip"] != meta_ip:
        failures.append(f"{label}: the server's address is {res['address']}; expected its first "
                        f"listed device's IP {meta_ip} (eth1)")

    if total < payload:
        failures.append(f"{label}: the four veth NICs sent {total} bytes, less than the "
                        f"{payload} bytes written: the data did not go over them")
    for nic in NICS:
        share = tx[nic] / total if total else 0.0
        if nic in selected and share < MIN_SHARE:
            failures.append(f"{label}: {nic} (selected) carried {share * 100:.1f}% of the bytes, "
                            f"less than {MIN_SHARE * 100:.0f}%")
        if nic not in selected and share >= MAX_IDLE_SHARE:
            failures.append(f"{label}: {nic} (not selected) carried {share * 100:.1f}% of the "
                            f"bytes, {MAX_IDLE_SHARE * 100:.0f}% or more")
    used = [nic for nic in NICS if total and tx[nic] / total >= MAX_IDLE_SHARE]
    if used == ["eth1"] and len(selected) > 1:
        missing.append(f"{label}: every byte went over eth1: the engine does not spread its "
                       f"channels over the UCCL_TCPX_DEV={devs} device list")

    if engine is None:
        return
    unknown = sorted(set(engine) - set(NICS))
    if unknown:
        failures.append(f"{label}: the engine reports NICs {unknown}; expected only {NICS} "
                        f"(UCCL_SOCKET_IFNAME={','.join(NICS)})")
    for nic in NICS:
        if nic in selected and nic not in engine:
            failures.append(f"{label}: the engine's stats have no entry for {nic}")
            continue
        sent = int(engine.get(nic, {}).get("bytes_sent", 0))
        errors = int(engine.get(nic, {}).get("errors", 0))
        if errors:
            failures.append(f"{label}: the engine counted {errors} errors on {nic}")
        if tx[nic] >= MAX_IDLE_SHARE * total:
            if abs(sent - tx[nic]) > AGREE * tx[nic]:
                failures.append(f"{label}: {nic}: the engine counted {sent} bytes sent, the kernel "
                                f"{tx[nic]} ({(sent - tx[nic]) / tx[nic] * 100:+.1f}%, more than "
                                f"{AGREE * 100:.0f}% apart)")
        elif sent >= MAX_IDLE_SHARE * total:
            failures.append(f"{label}: {nic}: the engine counted {sent} bytes sent where the "
                            f"kernel saw almost none ({tx[nic]})")
    # Channel i on devs[i % len] (the placement rule), where the stats list the channels.
    want = [int(d) for d in devs.split(",")]
    for ch in res["engine_raw"].get("channels") or []:
        if isinstance(ch, dict) and isinstance(ch.get("channel"), int) and "dev" in ch:
            expect_dev = want[ch["channel"] % len(want)]
            if ch["dev"] != expect_dev:
                failures.append(f"{label}: channel {ch['channel']} is on device {ch['dev']}, "
                                f"expected {expect_dev} (UCCL_TCPX_DEV={devs}, round robin)")
    engine_total = sum(int(engine.get(nic, {}).get("bytes_sent", 0)) for nic in NICS)
    if engine_total < payload:
        failures.append(f"{label}: the engine counted {engine_total} bytes sent in all, less than "
                        f"the {payload} bytes written")


# ---------------------------------------------------------------------------------------------

def skip_or_fail(detail):
    if os.environ.get("TCPXP_NETNS_REQUIRED") == "1":
        print(f"FAIL: TCPXP_NETNS_REQUIRED=1 but the namespace test cannot run: {detail}")
        sys.exit(1)
    print(SKIP_MESSAGE)
    print(f"  ({detail})")
    sys.exit(SKIP)


def check_prerequisites():
    if os.geteuid() != 0:
        skip_or_fail("not root")
    if not shutil.which("ip"):
        skip_or_fail("no `ip` command (iproute2)")
    try:
        proc = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                              timeout=CMD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        skip_or_fail(f"`ip netns list` failed: {e}")
    if proc.returncode != 0:
        skip_or_fail(f"`ip netns list` failed: {proc.stderr.strip()}")


def setup_check():
    """--setup-check: create, ping each pair, delete, verify nothing is left."""
    check_prerequisites()
    install_cleanup_handlers()
    names = []
    try:
        ns_a, ns_b = create_topology()
        names = [ns_a, ns_b]
        print(f"created {ns_a} and {ns_b} with {', '.join(NICS)}")
        errors = ping_each_pair(ns_a)
        for e in errors:
            print(f"FAIL: {e}")
        if not errors:
            print("ping over each veth pair: ok" if shutil.which("ping") else
                  "(no ping installed: connectivity not checked)")
    finally:
        cleanup()
    left = [ns for ns in list_namespaces() if ns in names]
    print(f"namespaces left: {left or 'none'}")
    return 1 if errors or left else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--setup-check":
        return setup_check()
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    tool = os.path.abspath(sys.argv[1])
    check_prerequisites()
    if not os.access(tool, os.X_OK):
        print(f"FAIL: {tool} is not an executable tcpx-p2p")
        return 1

    failures, missing = [], []
    help_text = _run([tool, "bench", "--help"], check=False)
    stats_supported = "--stats-json" in help_text.stdout
    if not stats_supported:
        missing.append("tcpx-p2p bench has no --stats-json FILE (the engine's per-NIC counters); "
                       "the kernel-side checks ran without the engine comparison")

    install_cleanup_handlers()
    delete_stale_namespaces()
    try:
        try:
            ns_a, ns_b = create_topology()
        except CannotCreate as e:
            cleanup()
            skip_or_fail(str(e))
        print(f"namespaces {ns_a} (client) and {ns_b} (server), veth "
              + ", ".join(f"{nic} {subnet_ip(n, 1)}<->{subnet_ip(n, 2)}"
                          for n, nic in enumerate(NICS, start=1)))
        errors = ping_each_pair(ns_a)
        if errors:
            failures.extend(errors)
        else:
            with tempfile.TemporaryDirectory(prefix="tcpxp-netns-") as tmp:
                for label, devs, selected in (("case A", "0,1,2,3", NICS),
                                              ("case B", "0,1", ["eth1", "eth2"])):
                    try:
                        res = run_case(tool, ns_a, ns_b, devs, tmp, stats_supported)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        failures.append(f"{label} (UCCL_TCPX_DEV={devs}): {e}")
                        continue
                    check_case(label, devs, selected, res, failures, missing)
    except Deadline as e:
        failures.append(str(e))
    finally:
        signal.alarm(0)
        cleanup()
    if not _cleaned_up:
        failures.append(f"namespaces not deleted: {_namespaces}")

    print()
    for m in missing:
        print(f"MISSING: {m}")
    for f in failures:
        print(f"FAIL: {f}")
    if failures or missing:
        return 1
    print("PASS: striped over eth1..eth4, restricted to eth1,eth2, engine and kernel agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
