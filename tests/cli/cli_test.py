#!/usr/bin/env python3
"""End-to-end checks of the tcpx-p2p tool (python3 standard library only).

Usage: cli_test.py PATH/TO/tcpx-p2p {demo,bench,bench_gpus,info,usage,env,help}

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
    check_summary(out, report, modes=("sendrecv", "write", "read"), verified=False,
                  timed_bytes=3 * 3 * (4096 + (1 << 20)))

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


def check_summary(out, report, modes, verified, timed_bytes):
    """The summary after the table (stdout) and in the JSON."""
    expect("\nsummary" in out, "bench ends with a summary", out)
    tail = out[out.index("\nsummary"):]
    for mode in modes:
        row = re.search(rf"^  {mode} +best +([0-9.]+) GB/s at .+ worst +([0-9.]+) GB/s at .+"
                        r"90% of best from \S", tail, re.M)
        expect(row and float(row[1]) >= float(row[2]) > 0,
               f"the summary gives {mode}'s best, worst and 90% size", tail)
    expect(re.search(r"^  moved +[0-9.]+ MB in timed transfers, wall time [0-9.]+ s$", tail, re.M)
           and re.search(r"^  errors +0 \(transport counters\); "
                         + ("every received byte verified" if verified else "data not checked"),
                         tail, re.M),
           "the summary gives bytes, wall time, 0 transport errors and the verification", tail)
    summary = report.get("summary", {})
    expect(summary.get("timed_bytes") == timed_bytes and summary.get("transport_errors") == 0
           and summary.get("verified") is verified and summary.get("wall_s", 0) > 0
           and [m["mode"] for m in summary.get("modes", [])] == list(modes)
           and all(m["best_gbps"] >= m["worst_gbps"] > 0 and m["size_at_90pct_of_best"] > 0
                   for m in summary["modes"]),
           f"the JSON summary: {timed_bytes} timed bytes, 0 errors, verified={verified}",
           json.dumps(summary, indent=1))


def table_rows(out):
    """(mode, size, pair, GB/s) of every row of the per-pair table."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(sendrecv|write|read) +(\d+ \w+) +(all|\d+: \S+) +([0-9.]+) +([0-9.]+)$",
                     line)
        if m:
            rows.append((m[1], m[2], m[3], float(m[4])))
    return rows


def check_bench_gpus(tool):
    """Single-process mode: several endpoints per process, every pair at once, every byte checked."""
    n = 3
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run(tool, "bench", "--local", "--gpus", f"hostx{n}", "--sizes", "4K,1M",
                           "--iters", "3", "--mode", "all", "--latency", "--latency-iters", "20",
                           "--verify", "--json", "out.json", cwd=tmp)
        expect(rc == 0, f"bench --local --gpus hostx{n} --verify exits 0 (got {rc})", out, err)
        with open(os.path.join(tmp, "out.json")) as f:
            report = json.load(f)
    expect(f"{n} pairs, client endpoint i -> server endpoint i" in out
           and all(f"  pair {i} (host->host): client host memory -> server host memory" in out
                   for i in range(n)),
           f"the header names the {n} pairs", out, err)
    rows = table_rows(out)
    labels = [f"{i}: host->host" for i in range(n)] + ["all"]
    for mode in ("sendrecv", "write", "read"):
        for size in ("4 KiB", "1 MiB"):
            got = [(r[2], r[3]) for r in rows if r[0] == mode and r[1] == size]
            expect([g[0] for g in got] == labels and all(g[1] > 0 for g in got),
                   f"{mode} {size}: a row per pair and an aggregate row, each > 0 GB/s", out, err)
    for i in range(n):
        expect(f"latency, pair {i} (host->host): 8 B write + wait, 20 round trips" in out,
               f"latency of pair {i}", out, err)
    expect(f"latency, all {n} pairs: 8 B write + wait, {20 * n} round trips" in out,
           "latency over all pairs", out, err)
    results, per_pair = report["results"], report.get("pair_results", [])
    expect(len(results) == 6 and all(r["pairs"] == n and r["gbps"] > 0 for r in results),
           f"the JSON's results are the 6 aggregate rows of {n} pairs, each > 0 GB/s",
           json.dumps(results, indent=1))
    expect(len(per_pair) == 6 * n and all(r["gbps"] > 0 for r in per_pair)
           and sorted({r["pair"] for r in per_pair}) == list(range(n)),
           f"the JSON has {6 * n} per-pair results, each > 0 GB/s", json.dumps(per_pair, indent=1))
    expect([p["label"] for p in report.get("pairs", [])] == ["host->host"] * n
           and len(report.get("pair_latency", [])) == n
           and report["latency"]["iters"] == 20 * n,
           "the JSON lists the pairs and their latencies", json.dumps(report.get("pairs")))
    check_summary(out, report, modes=("sendrecv", "write", "read"), verified=True,
                  timed_bytes=n * (3 * 3 * (4096 + (1 << 20)) + 8 * 20))
    expect("transfers done" not in out, "no progress lines on stdout", out, err)

    # Several endpoints on one GPU, where this machine has one (the explicit form 0x2).
    rc, out, err = run(tool, "bench", "--local", "--gpus", "0x2", "--sizes", "64K", "--iters", "2",
                       "--mode", "write,read", "--verify")
    if rc == 2 and "this machine has no GPU" in err:
        print("ok: (no GPU here: --gpus 0x2 refused as expected)")
    else:
        rows = table_rows(out)
        expect(rc == 0 and [r[2] for r in rows] == ["0: 0->0", "1: 0->0", "all"] * 2
               and all(r[3] > 0 for r in rows) and "every received byte verified" in out,
               f"bench --local --gpus 0x2 (GPU memory) exits 0 with verified rows (got {rc})",
               out, err)

    # Progress: a line on stderr per period while a size runs (a short period here); stdout's
    # table and the JSON stay as they are.
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run(tool, "bench", "--local", "--gpus", "hostx2", "--sizes", "1M",
                           "--iters", "300", "--mode", "write", "--progress-every", "0.01",
                           "--json", "out.json", cwd=tmp)
        with open(os.path.join(tmp, "out.json")) as f:
            report = json.load(f)
    progress = [l for l in err.splitlines() if "transfers done" in l]
    expect(rc == 0 and progress and all(
        re.fullmatch(r"tcpx-p2p bench: write 1 MiB: \d+ of 602 transfers done after [0-9.]+ s", l)
        for l in progress), f"progress lines on stderr ({len(progress)})", out, err)
    expect("transfers done" not in out and [r[2] for r in table_rows(out)] ==
           ["0: host->host", "1: host->host", "all"] and len(report["results"]) == 1,
           "stdout's table and the JSON are unchanged by progress", out, err)

    # Two processes started by hand (--server / --client): different endpoint counts fail on
    # both sides, saying so.
    server = subprocess.Popen([tool, "bench", "--server", "--gpus", "hostx2", "--accept-timeout",
                               "30", "--timeout", "10"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        address = None
        for line in server.stdout:  # ends when the server exits; it prints its address first
            m = re.search(r"--client (\S+) --gpus <2 entries>", line)
            if m:
                address = m[1]
                break
        expect(address, "bench --server --gpus hostx2 prints its address and the count")
        rc, out, err = run(tool, "bench", "--client", address, "--gpus", "hostx3", "--sizes",
                           "4K", "--iters", "1", "--timeout", "10")
        expect(rc == 1 and "the server has 2 endpoint(s), this client 3; give both sides the "
               "same number of --gpus entries" in err, "a client with 3 endpoints is told why",
               out, err)
        server_out, server_err = server.communicate(timeout=TIMEOUT_S)
        expect(server.returncode == 1 and "the client drives 3 endpoint(s), this server has 2"
               in server_err, "the server with 2 endpoints says why too", server_out, server_err)
    finally:
        server.kill()
        server.wait()

    # Bad lists: precise messages, exit 2, nothing started.
    cases = [
        (["--gpus", "0,0"], "--gpus: GPU 0 is listed twice ('0' and '0'); several endpoints on "
         "one GPU are written 0xK, e.g. 0x2"),
        (["--gpus", "host,host"], "--gpus: host memory is listed twice ('host' and 'host')"),
        (["--gpus", "0-3,2"], "--gpus: GPU 2 is listed twice ('0-3' and '2')"),
        (["--gpus", "1,,2"], "--gpus: empty entry in '1,,2'"),
        (["--gpus", "5-2"], "--gpus: '5-2': the range goes down (write 2-5)"),
        (["--gpus", "gpu0"], "--gpus: 'gpu0' is not N, A-B or host, each optionally xK"),
        (["--gpus", "hostx0"], "--gpus: 'hostx0': the count after x must be 1..64"),
        (["--gpus", "hostx40,hostx2x"], "--gpus: 'hostx2x' is not N, A-B or host"),
        (["--gpus", "1023"], "--gpus: GPU 1023 does not exist: this machine has"),
        (["--gpus", "hostx2", "--host"], "--gpus replaces --gpu, --host and --client-host"),
        (["--gpus", "hostx2", "--server-gpus", "host"],
         "--server-gpus lists 1 endpoint(s), --gpus 2: client endpoint i drives server endpoint i"),
        (["--server-gpus", "host"], "--server-gpus is for --local with --gpus"),
    ]
    for args, message in cases:
        rc, out, err = run(tool, "bench", "--local", *args)
        expect(rc == 2 and message in err and out == "",
               f"bench --local {' '.join(args)} exits 2 with '{message}'", out, err)


def check_bench_vectors(tool):
    """writev/readv rows beside write/read of the same size, --kv, every byte verified."""
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run(tool, "bench", "--local", "--host", "--mode", "write,read,writev,readv",
                           "--sizes", "64K,1M", "--pieces", "64", "--iters", "3", "--verify",
                           "--json", "out.json", cwd=tmp)
        expect(rc == 0, f"bench writev/readv --verify exits 0 (got {rc})", out, err)
        with open(os.path.join(tmp, "out.json")) as f:
            report = json.load(f)
    for mode in ("writev", "readv"):
        for size, piece in (("64 KiB", "1 KiB"), ("1 MiB", "16 KiB")):
            row = re.search(rf"^{mode} +{size} +([0-9.]+) +[0-9.]+\n +64 pieces of {piece}; per "
                            r"transfer p50 ([0-9.]+) us, p99 ([0-9.]+) us$", out, re.M)
            expect(row and float(row[1]) > 0 and 0 < float(row[2]) <= float(row[3]),
                   f"a {mode} row of {size} with its pieces, p50 and p99", out)
    vec = [r for r in report["results"] if r["mode"] in ("writev", "readv")]
    expect(len(vec) == 4 and all(r["pieces"] == 64 and 0 < r["p50_us"] <= r["p99_us"]
                                 for r in vec),
           "the JSON's vector rows carry pieces, p50_us and p99_us", json.dumps(vec, indent=1))
    expect(all("pieces" not in r for r in report["results"] if r["mode"] in ("write", "read")),
           "contiguous rows carry no pieces", json.dumps(report["results"], indent=1))
    rc, out, err = run(tool, "bench", "--local", "--host", "--kv", "4x8x4K", "--inflight", "2",
                       "--iters", "4", "--verify")
    expect(rc == 0 and "KV cache read (--kv 4x8x4K)" in out
           and re.search(r"^readv +128 KiB +[0-9.]+ +[0-9.]+\n +32 pieces of 4 KiB", out, re.M),
           "bench --kv 4x8x4K: one readv row of 32 pieces, verified", out, err)
    # --adjacent: the pieces back to back on both sides (the engine sends them as one piece).
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run(tool, "bench", "--local", "--host", "--mode", "writev,readv", "--sizes",
                           "1M", "--pieces", "64", "--adjacent", "--iters", "3", "--verify",
                           "--json", "adj.json", cwd=tmp)
        expect(rc == 0 and len(re.findall(r"^ +64 adjacent pieces of 16 KiB;", out, re.M)) == 2
               and "every received byte verified" in out,
               "bench --adjacent: writev and readv rows of 64 adjacent pieces, verified", out, err)
        with open(os.path.join(tmp, "adj.json")) as f:
            rows = json.load(f)["results"]
        expect(len(rows) == 2 and all(r.get("adjacent") is True for r in rows),
               "the JSON's --adjacent rows say adjacent", json.dumps(rows, indent=1))
    # --spread: transfer i on region i % inflight of both buffers; --verify then checks every
    # region (the 4 regions each hold the pattern only if both sides rotated alike), odd size too.
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run(tool, "bench", "--local", "--host", "--mode", "sendrecv,write,read",
                           "--sizes", "64K,1000003", "--inflight", "4", "--spread", "--iters",
                           "5", "--verify", "--json", "spread.json", cwd=tmp)
        expect(rc == 0 and "4 in flight, each on its own region of the buffers (--spread)" in out
               and "every received byte verified" in out
               and len(re.findall(r"^(sendrecv|write|read) ", out, re.M)) == 6,
               "bench --spread: 6 rows, every region verified", out, err)
        with open(os.path.join(tmp, "spread.json")) as f:
            expect(json.load(f).get("spread") is True, "the JSON says spread")
    for bad, says in ((["--sizes", "1000", "--mode", "readv", "--pieces", "3"], "equal pieces"),
                      (["--mode", "write", "--adjacent"], "--adjacent places the pieces"),
                      (["--mode", "writev", "--sizes", "1M", "--spread"], "--spread is for"),
                      (["--sizes", "2G", "--inflight", "4", "--spread"], "over 4 GiB"),
                      (["--kv", "4x8"], "LAYERSxBLOCKSxBYTES"),
                      (["--kv", "4x8x4K", "--sizes", "1M"], "--kv sets the size"),
                      (["--pieces", "4", "--piece-bytes", "4K"], "not both")):
        rc, out, err = run(tool, "bench", "--local", "--host", *bad)
        expect(rc == 2 and says in err, f"bench {' '.join(bad)}: exit 2 saying '{says}'", out, err)


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
                                            "NCCL_DYNAMIC_CHUNK_SIZE": "262144"})
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
        (["demo", "--layers", "x"], "--layers x: not a number"),
        (["demo", "--iters", "1M"], "--iters 1M: unknown unit 'M' (a plain number, no unit)"),
        (["demo", "--block-bytes", "64Q"], "--block-bytes 64Q: unknown unit 'Q' (accepted: K, M"),
        (["bench", "--local", "--sizes", "4K,2MB,1.5M"],
         "--sizes 4K,2MB,1.5M: item '1.5M': not a whole number"),
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


def check_env(tool):
    """Malformed variables: one precise warning per process, the default used instead, doctor
    flags them with the same words; an unknown transport fails endpoint creation."""
    chunk_cases = [
        ("4M", "UCCL_TCPX_CHUNK_BYTES=4M: out of range [4096, 4194303] (4M = 4194304)"),
        ("abc", "UCCL_TCPX_CHUNK_BYTES=abc: not a number"),
        ("1", "UCCL_TCPX_CHUNK_BYTES=1: out of range [4096, 4194303]"),
        ("64X", "UCCL_TCPX_CHUNK_BYTES=64X: unknown unit 'X' (accepted: K, M, G, KB, MB, GB, "
                "KiB, MiB, GiB, B)"),
    ]
    for value, problem in chunk_cases:
        env = {"UCCL_P2P_TRANSPORT": "tcp", "UCCL_TCPX_CHUNK_BYTES": value}
        rc, out, err = run(tool, "info", env=env)
        warning = problem + "; using the transport's default"
        expect(rc == 0 and err.count(warning) == 1 and err.count("UCCL_TCPX_CHUNK_BYTES=") == 1,
               f"info, UCCL_TCPX_CHUNK_BYTES={value}: one warning '{warning}'", out, err)
        expect("chunk                 1 MiB (the built-in transport's preferred chunk)" in out,
               f"info, UCCL_TCPX_CHUNK_BYTES={value}: the default chunk is used", out, err)
        rc, out, err = run(tool, "doctor", env=env)
        flagged = [l for l in out.splitlines() if l.strip().startswith("[WARN]") and problem in l]
        expect(len(flagged) == 1 and "the engine uses its default" in flagged[0],
               f"doctor, UCCL_TCPX_CHUNK_BYTES={value}: WARN '{problem}'", out, err)
    # Decimal units mean what they say, in the environment as on the command line.
    rc, out, err = run(tool, "info", env={"UCCL_P2P_TRANSPORT": "tcp",
                                          "UCCL_TCPX_CHUNK_BYTES": "2MB"})
    expect(rc == 0 and "chunk                 2 MB (UCCL_TCPX_CHUNK_BYTES=2000000)" in out
           and "WARN" not in err, "info, UCCL_TCPX_CHUNK_BYTES=2MB: 2000000 bytes, no warning",
           out, err)
    rc, out, err = run(tool, "doctor", env={"UCCL_TCPX_CHUNK_BYTES": "2MB"})
    expect(any(l.strip().startswith("[OK]") and "UCCL_TCPX_CHUNK_BYTES=2MB" in l
               for l in out.splitlines()), "doctor, UCCL_TCPX_CHUNK_BYTES=2MB: OK", out, err)

    # A boolean that is none: it passed silently as auto before.
    maybe = ("UCCL_TCPX_PIN_THREADS=maybe: unknown value 'maybe' (accepted: auto, 1, 0, true, "
             "false, yes, no, on, off)")
    rc, out, err = run(tool, "bench", "--local", "--host", "--sizes", "4K", "--iters", "1",
                       env={"UCCL_TCPX_PIN_THREADS": "maybe"})
    pids = set(re.findall(r"tcpx-p2p (\d+) WARN .*UCCL_TCPX_PIN_THREADS=maybe", err))
    expect(rc == 0 and err.count(maybe + "; using auto") == 2 and len(pids) == 2,
           "bench --local, UCCL_TCPX_PIN_THREADS=maybe: one warning in each of its two processes",
           out, err)
    rc, out, err = run(tool, "doctor", env={"UCCL_TCPX_PIN_THREADS": "maybe"})
    expect(any(l.strip().startswith("[WARN]") and maybe in l for l in out.splitlines()),
           "doctor, UCCL_TCPX_PIN_THREADS=maybe: WARN", out, err)

    # An unknown transport is an error, not "auto".
    bad = "UCCL_P2P_TRANSPORT=foo: unknown value 'foo' (accepted: tcpx, tcp, auto)"
    rc, out, err = run(tool, "bench", "--local", "--host", "--sizes", "4K", "--iters", "1",
                       env={"UCCL_P2P_TRANSPORT": "foo"})
    expect(rc == 1 and "cannot create the endpoint" in err and bad in err,
           "bench, UCCL_P2P_TRANSPORT=foo: exits 1 naming the variable and the accepted values",
           out, err)
    rc, out, err = run(tool, "doctor", env={"UCCL_P2P_TRANSPORT": "foo"})
    expect(rc == 1 and any(l.strip().startswith("[FAIL]") and bad in l for l in out.splitlines()),
           "doctor, UCCL_P2P_TRANSPORT=foo: FAIL", out, err)


# A --help page fits a screen.
HELP_MAX_LINES = {"": 40, "demo": 40, "bench": 40, "info": 40, "doctor": 40}
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
    checks = {"demo": check_demo, "bench": check_bench, "bench_gpus": check_bench_gpus,
              "bench_vectors": check_bench_vectors,
              "info": check_info, "usage": check_usage, "env": check_env, "help": check_help}
    if check not in checks:
        sys.exit(f"unknown check {check}; one of {sorted(checks)}")
    checks[check](tool)


if __name__ == "__main__":
    main()
