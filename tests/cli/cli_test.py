#!/usr/bin/env python3
"""End-to-end checks of the tcpx-p2p tool (python3 standard library only).

Usage: cli_test.py PATH/TO/tcpx-p2p {demo,bench,info,usage,help}

Every run has a subprocess timeout; nothing sleeps. ctest sets UCCL_SOCKET_IFNAME=lo and a
short UCCL_TCPX_TIMEOUT_MS so that the local peers stay on loopback and fail fast.
"""
import json
import re
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_S = 60


def run(tool, *args, env=None, cwd=None):
    merged = dict(os.environ)
    merged.update(env or {})
    merged = {k: v for k, v in merged.items() if v is not None}  # None: unset it
    proc = subprocess.run([tool, *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=merged, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def expect(cond, what, out="", err=""):
    if not cond:
        sys.stderr.write(f"FAIL: {what}\n--- stdout ---\n{out}\n--- stderr ---\n{err}\n")
        sys.exit(1)
    print(f"ok: {what}")


def check_demo(tool):
    small = ["--layers", "2", "--blocks", "8", "--block-bytes", "4K", "--iters", "2", "--timeout", "20"]
    for label, env in [("direct", {}),
                       ("unpack emulation", {"UCCL_SOCKET_UNPACK": "1",
                                             "UCCL_TCPX_EMULATE_GPU_BUFFERS": "1"})]:
        rc, out, err = run(tool, "demo", "--host", *small, env=env)
        expect(rc == 0, f"demo --host ({label}) exits 0 (got {rc})", out, err)
        iters = [l for l in out.splitlines() if l.startswith("iter ")]
        expect(len(iters) == 2 and all("verified OK" in l for l in iters),
               f"demo ({label}) verifies every iteration", out, err)
        summary = [l for l in out.splitlines() if l.startswith("summary:")]
        expect(len(summary) == 1 and "verified OK" in summary[0] and "GB/s" in summary[0],
               f"demo ({label}) prints the verified summary", out, err)
        expect("host memory" in out, f"demo ({label}) says which memory it used", out, err)


def check_bench(tool):
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run(tool, "bench", "--local", "--host", "--sizes", "4K,1M", "--iters", "3",
                           "--mode", "all", "--json", "out.json", cwd=tmp)
        expect(rc == 0, f"bench --local exits 0 (got {rc})", out, err)
        expect("GB/s" in out and "channels" in out and "chunk" in out,
               "bench prints the header and the table", out, err)
        with open(os.path.join(tmp, "out.json")) as f:
            report = json.load(f)
    expect("chosen because: " in out and "    devices: " in out
           and "    chunk: the built-in transport's preferred chunk" in out,
           "bench prints the engine's reasons (transport, devices, chunk)", out, err)
    expect(set(report.get("decisions", {})) == {"transport", "devices", "chunk"}
           and report["decisions"]["chunk"] == "the built-in transport's preferred chunk",
           "the JSON carries the engine's reasons", json.dumps(report.get("decisions")))
    results = report["results"]
    expect(len(results) == 6, f"the JSON has 6 results (got {len(results)})", out, err)
    expect(all(r["gbps"] > 0 and r["avg_latency_us"] > 0 for r in results),
           "every result has GB/s > 0", json.dumps(results, indent=1))
    pairs = {(r["mode"], r["size"]) for r in results}
    want = {(m, s) for m in ("sendrecv", "write", "read") for s in (4096, 1 << 20)}
    expect(pairs == want, "the JSON covers every mode and size", str(pairs))

    # Mixed memory (GPU on one side when a GPU is present; host on both here otherwise).
    rc, out, err = run(tool, "bench", "--local", "--server-host", "--mode", "write", "--sizes",
                       "1M", "--iters", "2")
    expect(rc == 0 and "GB/s" in out, f"bench --local --server-host exits 0 (got {rc})", out, err)

    # UCCL_TCPX_TRACE: each side writes its pieces; trace_report.py pairs them per transfer.
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "t")
        rc, out, err = run(tool, "bench", "--local", "--host", "--mode", "write", "--sizes", "1M",
                           "--iters", "3", env={"UCCL_TCPX_TRACE": prefix,
                                                "UCCL_TCPX_CHUNK_BYTES": "512K"})
        expect(rc == 0, f"bench with UCCL_TCPX_TRACE exits 0 (got {rc})", out, err)
        files = sorted(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".csv"))
        expect(len(files) == 2, f"one trace file per side (got {files})", out, err)
        senders = [f for f in files if ",s," in open(f).read()]
        expect(len(senders) == 1, "exactly one side sent pieces", str(files))
        receiver = [f for f in files if f not in senders][0]
        report = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                              "trace_report.py")
        proc = subprocess.run([sys.executable, report, senders[0], receiver], capture_output=True,
                              text=True, timeout=TIMEOUT_S)
        # 1 warm-up + 3 timed writes of 1 MiB = 4 transfers of two 512 KiB pieces.
        expect(proc.returncode == 0 and "4 transfers, 8 pieces" in proc.stdout,
               "trace_report.py finds 4 transfers of 2 pieces", proc.stdout, proc.stderr)

    rc, out, err = run(tool, "bench", "--local", "--host", "--latency", "--latency-iters", "50")
    expect(rc == 0 and "median" in out and "p99" in out, "bench --latency reports median and p99",
           out, err)


def check_info(tool):
    rc, out, err = run(tool, "info")
    expect(rc == 0, f"info exits 0 (got {rc})", out, err)
    for section in ("GPUs:", "NICs:", "GPU -> NIC", "Transport", "would use", "Data paths on",
                    "UCCL_TCPX_NUM_CHANNELS", "UCCL_SOCKET_IFNAME"):
        expect(section in out, f"info shows '{section}'", out, err)
    expect("lo" in out, "info lists the loopback interface", out, err)
    # How the socket transport moves bytes follows UCCL_SOCKET_HELPERS (auto below 8 threads).
    for value, shown in (("1", "a helper thread per data socket"),
                         ("0", "in the driver's own isend/test calls, no helper threads")):
        rc, forced, err = run(tool, "info", env={"UCCL_SOCKET_HELPERS": value})
        expect(rc == 0 and f"socket I/O            {shown} (UCCL_SOCKET_HELPERS)" in forced,
               f"info with UCCL_SOCKET_HELPERS={value} shows '{shown}'", forced, err)
    # The engine's own answers: chunk size, data paths, devices, each with its reason.
    rc, tcp, err = run(tool, "info", env={"UCCL_P2P_TRANSPORT": "tcp"})
    expect(rc == 0 and "would use             built-in socket" in tcp
           and "because               UCCL_P2P_TRANSPORT=tcp" in tcp,
           "info with UCCL_P2P_TRANSPORT=tcp: built-in, and why", tcp, err)
    expect("chunk                 1 MiB (the built-in transport's preferred chunk)" in tcp,
           "info: the built-in transport's chunk and its reason", tcp, err)
    paths = tcp[tcp.index("Data paths on built-in socket"):]
    expect(re.search(r"host memory +send: direct", paths)
           and re.search(r"GPU memory +send: staged", paths)
           and re.search(r"\n +receive: staged", paths),
           "info: host buffers direct, GPU buffers staged on the built-in transport", tcp, err)
    expect("devices: the built-in transport's interfaces (UCCL_SOCKET_IFNAME=lo): 0=lo" in tcp,
           "info: the mapping is over the built-in transport's devices", tcp, err)
    rc, chunk, err = run(tool, "info", env={"UCCL_P2P_TRANSPORT": "tcp",
                                             "UCCL_TCPX_CHUNK_BYTES": "256K"})
    expect("chunk                 256 KiB (UCCL_TCPX_CHUNK_BYTES=262144)" in chunk,
           "info: UCCL_TCPX_CHUNK_BYTES overrides the chunk, and says so", chunk, err)
    rc, tcpx, err = run(tool, "info", env={"UCCL_P2P_TRANSPORT": "tcpx",
                                            "NCCL_DYNAMIC_CHUNK_SIZE": "256K"})
    expect(rc == 0 and "would use             tcpx" in tcpx
           and "chunk                 256 KiB (TCPX's chunk (NCCL_DYNAMIC_CHUNK_SIZE=262144))"
           in tcpx and re.search(r"GPU memory +send: direct", tcpx)
           and "receive: unpack" in tcpx and "socket I/O" not in tcpx,
           "info with UCCL_P2P_TRANSPORT=tcpx: TCPX's chunk, unpack on GPU receive", tcpx, err)
    rc, bad, err = run(tool, "info", env={"UCCL_P2P_TRANSPORT": "tcp", "UCCL_TCPX_DEV": "eth9"})
    gpu_lines = [l for l in bad.splitlines() if l.startswith("  GPU ") and "->" in l]
    expect(rc == 0 and all("UCCL_TCPX_DEV='eth9': no device 'eth9'" in l for l in gpu_lines),
           "info: a bad UCCL_TCPX_DEV shows the engine's error on every GPU line", bad, err)
    # info ends with the same environment table as --help-env.
    rc, env_only, err = run(tool, "info", "--env")
    expect(rc == 0 and out.endswith(env_only), "info ends with the table of info --env", out, err)


def check_usage(tool):
    cases = [
        (["bench", "--bogus"], "unknown flag '--bogus'"),
        (["bench"], "exactly one of --local"),
        (["bench", "--local", "--sizes", "4Q"], "--sizes"),
        (["bench", "--client", "not-an-address"], "--client"),
        (["bench", "--local", "--iters"], "needs a value"),
        (["bench", "--server", "--server-host"], "are for --local"),
        (["bench", "--local", "--server-host", "--server-gpu", "0"], "excludes --server-gpu"),
        (["bench", "--local", "--client-host", "--gpu", "0"], "excludes --gpu"),
        (["demo", "--iters", "0"], "--iters"),
        (["demo", "--layers", "x"], "not a whole number"),
        (["demo", "--host", "--gpu", "0"], "--host"),
        (["info", "extra"], "unexpected argument"),
        (["frobnicate"], "unknown command"),
    ]
    for args, message in cases:
        rc, out, err = run(tool, *args)
        expect(rc == 2 and message in err, f"{' '.join(args)} exits 2 with '{message}'", out, err)
    # A failure (nobody listens) is exit 1 with a reason, within the deadline.
    rc, out, err = run(tool, "bench", "--client", "127.0.0.1:1", "--host", "--timeout", "5")
    expect(rc == 1 and "cannot connect" in err, "bench --client to a closed port exits 1", out, err)


# A --help page fits a screen; bench's flags and text live in bench.cc, trimmed separately.
HELP_MAX_LINES = {"": 40, "demo": 40, "bench": 52, "info": 40, "doctor": 40}
HELP_ENV_LINE = "Environment variables (value here, default, meaning): tcpx-p2p --help-env"


def env_table_names(text):
    """The variable names of a printed environment table (its rows start with two spaces)."""
    return [line.split()[0] for line in text.splitlines()
            if re.match(r"  [A-Z][A-Z0-9_]{3,} ", line) and line.split()[0] != "VARIABLE"]


def check_help(tool):
    repo = Path(__file__).resolve().parents[2]
    # --version / -V: one line, the version of pyproject.toml (the project's only one), the build.
    want = re.search(r'^version = "([^"]+)"$', (repo / "pyproject.toml").read_text(), re.M)[1]
    for flag in ("--version", "-V"):
        rc, out, err = run(tool, flag)
        expect(rc == 0 and re.fullmatch(
            rf"tcpx-p2p {re.escape(want)} \(commit ([0-9a-f]{{7,}}(-dirty)?|unknown), "
            r"CUDA (on \([0-9.]+\)|off)(, ASan\+UBSan)?, \w+, \S+ [0-9.]+\)\n", out),
            f"{flag}: one line, version {want}, commit, CUDA, build type, compiler", out, err)

    # Every --help fits a screen and ends with the line that points at --help-env.
    for command, limit in HELP_MAX_LINES.items():
        args = [command, "--help"] if command else ["--help"]
        rc, out, err = run(tool, *args)
        lines = out.splitlines()
        expect(rc == 0 and lines and lines[0].startswith(f"Usage: tcpx-p2p {command}".rstrip()),
               f"{' '.join(args)} exits 0 with the usage", out, err)
        expect(len(lines) <= limit, f"{' '.join(args)}: {len(lines)} lines <= {limit}", out, err)
        expect("--help-env" in out and "UCCL_TCPX_TIMEOUT_MS  " not in out,
               f"{' '.join(args)} points at --help-env instead of listing the variables", out, err)
        if command:
            expect(lines[-1] == HELP_ENV_LINE, f"{command} --help ends with the --help-env line",
                   out, err)

    # --help-env = info --env: every variable once, with its value here and its default.
    env = {"UCCL_TCPX_NUM_CHANNELS": "7", "UCCL_TCPX_STAGING_BYTES": None}
    rc, table, err = run(tool, "--help-env", env=env)
    expect(rc == 0 and table.splitlines()[0].split() == ["VARIABLE", "VALUE", "DEFAULT", "MEANING"],
           "--help-env prints the table with its header", table, err)
    rc, info_env, err = run(tool, "info", "--env", env=env)
    expect(rc == 0 and info_env == table, "info --env prints the same table", info_env, err)
    names = env_table_names(table)
    expect(len(names) >= 20, f"--help-env lists the variables (found {names})", table, err)
    twice = sorted({n for n in names if names.count(n) > 1})
    expect(not twice, f"--help-env lists each variable once (twice: {twice})", table, err)
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:] if line.strip()}
    expect(rows["UCCL_TCPX_NUM_CHANNELS"][1:3] == ["7", "4"],
           "a set variable shows its value, then its default", table, err)
    expect(rows["UCCL_TCPX_STAGING_BYTES"][1:3] == ["(unset)", "64M"],
           "an unset variable shows (unset), then its default", table, err)
    # Every variable the layers read (their knob tables) has a row in the README.
    readme = (repo / "README.md").read_text()
    missing = [n for n in names if f"| `{n}`" not in readme]
    expect(not missing, f"README documents every variable --help-env lists (missing: {missing})",
           table, err)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tool, check = sys.argv[1], sys.argv[2]
    checks = {"demo": check_demo, "bench": check_bench, "info": check_info, "usage": check_usage,
              "help": check_help}
    if check not in checks:
        sys.exit(f"unknown check {check}; one of {sorted(checks)}")
    checks[check](tool)


if __name__ == "__main__":
    main()
