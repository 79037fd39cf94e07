"""scripts/bench_vs_peers.sh without running a benchmark: --help, bad settings, and --report on
fake work folders (the logs and JSON files a run leaves with KEEP_WORK=1), checking the markdown
table and the JSON: both engine loops (serialized --inflight 1, pipelined --inflight N), raw TCP
with 512 KiB and with 16 MiB messages, the goals per loop, a pipelined pass cut by DEADLINE, and
a work folder of a run from before the pipelined pass existed.

usage: bench_vs_peers_test.py        exit status 0 when every check passed
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "bench_vs_peers.sh")
TRANSPORT = "tcpx-p2p-socket on lo (device 0), 4 channels, chunk 512 KiB, 4 sockets/comm"
K, M = 1 << 10, 1 << 20
failures = []


def expect(ok, what, *detail):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
        for d in detail:
            print("  | " + str(d)[-3000:].replace("\n", "\n  | "))


def run(args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(["bash", SCRIPT] + args, capture_output=True, text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def engine_run(work, name, inflight, rows, with_json=True, header=True):
    """A tcpx-p2p bench run: NAME.log (the client's stdout) and NAME.json; rows (mode, size, gbps)."""
    label = {256 * K: "256 KiB", 4 * M: "4 MiB", 64 * M: "64 MiB", 256 * M: "256 MiB"}
    out = ["tcpx-p2p bench: client host memory -> server host memory at 127.0.0.1:40000"]
    if header:
        out += [f"  transport: {TRANSPORT}", "  data path of the client's buffer: direct (host memory)",
                f"  5 timed transfers per size after 1 warm-up, {inflight} in flight; GB/s = bytes/s/1e9"]
    out += ["", "mode            size       GB/s avg latency (us)"]
    out += [f"{m:<8} {label[s]:>11} {g:10.3f} {100.0:16.2f}" for m, s, g in rows]
    write(os.path.join(work, name + ".log"), "\n".join(out) + "\n")
    if with_json:
        j = {"tool": "tcpx-p2p bench", "transport": TRANSPORT, "client_memory": "host memory",
             "server_memory": "host memory", "client_data_path": "direct (host memory)",
             "iters": 5, "warmup": 1, "inflight": inflight,
             "results": [{"mode": m, "size": s, "iters": 5, "warmup": 1, "inflight": inflight,
                          "seconds": 0.01, "gbps": g, "avg_latency_us": 100.0} for m, s, g in rows]}
        write(os.path.join(work, name + ".json"), json.dumps(j))


def skipped_run(work, name):
    write(os.path.join(work, name + ".log"), "no time left before DEADLINE=540s: skipped\n")


def base_work(work, params_extra, steps):
    params = {"sizes": [256 * K, 64 * M], "iters": 5, "iters_large": 3, "large_from": 64 * M,
              "engine_repeats": 1, "engine_memory": "host", "engine_args": "", "latency_iters": 100,
              "tcp_streams_table": [8, 16, 32], "tcp_seconds": "1", "tcp_msg": 512 * K,
              "nccl_configs": ["8x4/64M/4M"], "nccl_timeout_s": 90, "sweep": False,
              "sweep_channels": [], "sweep_sockets": [], "sweep_sizes": [], "sweep_iters": 20,
              "sweep_max_streams": 32, "build_dir": "build", "env": {}}
    params.update(params_extra)
    write(os.path.join(work, "params.json"), json.dumps(params))
    write(os.path.join(work, "steps.tsv"), "".join(f"{n}\t{rc}\t1\n" for n, rc in steps))
    write(os.path.join(work, "machine", "nproc.txt"), "16\n")
    for n, g in ((8, 50.0), (16, 60.0), (32, 55.0)):
        write(os.path.join(work, f"tcp_{n}.log"), f"tcp_loopback streams={n} msg=524288 GB/s={g:.2f}\n")
    # NCCL: 10 GB/s at 256 KiB, 40 at 64 MiB
    write(os.path.join(work, "nccl_8x4_64M_4M.log"),
          f"nccl_8x4_64M_4M size={256 * K} GB/s=10.00\nnccl_8x4_64M_4M size={64 * M} GB/s=40.00\n")
    write(os.path.join(work, "nccl_8x4_64M_4M.env"),
          "NCCL_SOCKET_NTHREADS=8\nNCCL_NSOCKS_PERTHREAD=4\nNCCL_BUFFSIZE=67108864\nNCCL_P2P_NET_CHUNKSIZE=4194304\n")
    write(os.path.join(work, "latency.json"), json.dumps(
        {"latency": {"size": 8, "iters": 100, "median_us": 20.0, "p99_us": 30.0, "min_us": 10.0, "max_us": 50.0}}))
    # The serialized loop: 256 KiB below NCCL x 1.5, 64 MiB at 50 GB/s (>= 45, >= 1.2 x 40).
    engine_run(work, "engine_small_1", 1, [("sendrecv", 256 * K, 12.0), ("write", 256 * K, 14.0),
                                           ("read", 256 * K, 13.0)])
    engine_run(work, "engine_large_1", 1, [("sendrecv", 64 * M, 50.0), ("write", 64 * M, 50.0),
                                           ("read", 64 * M, 50.0)])


def report(work):
    out = os.path.join(work, "out")
    rc, so, se = run(["--report", work], env={"OUT": out})
    md = open(os.path.join(out, "bench_vs_peers.md")).read() if rc == 0 else ""
    js = json.load(open(os.path.join(out, "bench_vs_peers.json"))) if rc == 0 else {}
    return rc, so, se, md, js


def row(md, label):
    """The cells of the table row whose label is exactly LABEL, or None."""
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells[1:]
    return None


def goal_results(goals):
    return {g["goal"]: g["result"] for g in goals}


def check_help_and_usage_errors():
    rc, so, se = run(["--help"])
    expect(rc == 0, "--help exits 0", se)
    for word in ("PIPE_INFLIGHT", "[8]", "TCP_COLD_MSG", "[16777216]", "serialized", "pipelined",
                 "--inflight 1", "last-level cache"):
        expect(word in so, f"--help mentions {word}", so)
    rc, _, _ = subprocess.run(["bash", "-n", SCRIPT], capture_output=True).returncode, "", ""
    expect(rc == 0, "bash -n accepts the script")
    rc, so, se = run(["--report", "/nonexistent/folder"])
    expect(rc == 2, f"--report of a missing folder exits 2 (got {rc})", so, se)
    with tempfile.TemporaryDirectory() as tmp:
        for var, value in (("PIPE_INFLIGHT", "abc"), ("PIPE_INFLIGHT", "65"), ("TCP_COLD_MSG", "lots")):
            # the settings are checked before the machine facts and the build: nothing runs
            rc, so, se = run([], env={"OUT": os.path.join(tmp, "o"), var: value, "SKIP_BUILD": "1"})
            expect(rc == 2 and var in so, f"{var}={value} exits 2 naming it (got {rc})", so, se)


def check_both_loops():
    with tempfile.TemporaryDirectory() as work:
        steps = [("engine_small_1", 0), ("engine_large_1", 0), ("engine_pipelined_small_1", 0),
                 ("engine_pipelined_large_1", 0), ("engine_pipelined_small_2", 0), ("latency", 0),
                 ("tcp 8", 0), ("tcp 16", 0), ("tcp 32", 0), ("tcp_cold 16", 0), ("nccl 8x4_64M_4M", 0)]
        base_work(work, {"pipe_inflight": 8, "tcp_cold_msg": 16 * M, "tcp_cold_streams": [16]}, steps)
        write(os.path.join(work, "tcp_cold_16.log"), "tcp_loopback streams=16 msg=16777216 GB/s=40.00\n")
        # The pipelined loop: 256 KiB at 1.5 x NCCL and more; write 64 MiB at 44 (G1 fails for it).
        engine_run(work, "engine_pipelined_small_1", 8, [("sendrecv", 256 * K, 15.0), ("write", 256 * K, 16.0),
                                                         ("read", 256 * K, 19.0)])
        engine_run(work, "engine_pipelined_large_1", 8, [("sendrecv", 64 * M, 52.0), ("write", 64 * M, 44.0),
                                                         ("read", 64 * M, 50.0)])
        # a second run without its JSON (cut by its timeout): its printed rows count, best kept
        engine_run(work, "engine_pipelined_small_2", 8, [("write", 256 * K, 20.0)], with_json=False)
        rc, so, se, md, js = report(work)
        expect(rc == 0, f"--report exits 0 (got {rc})", so, se)
        if rc:
            return
        expect(row(md, "**engine write**") == ["14.00", "50.00"], "serialized write row", md)
        expect(row(md, "**engine send/recv, 8 in flight**") == ["15.00", "52.00"], "pipelined send/recv row", md)
        expect(row(md, "**engine write, 8 in flight**") == ["20.00", "44.00"],
               "pipelined write row: best of both runs, the stdout-only one included", md)
        expect(row(md, "**engine read, 8 in flight**") == ["19.00", "50.00"], "pipelined read row", md)
        expect(row(md, "engine write, 8 in flight / best NCCL") == ["2.00x", "1.10x"],
               "pipelined write / best NCCL row", md)
        cold = "raw TCP 16 streams, 16 MiB per stream (working set beyond the CPU caches, the engine's count)"
        expect(row(md, cold) == ["40.00", "40.00"], "raw TCP beyond the caches row", md)
        expect(row(md, "raw TCP 16 streams (any size, the engine's count)") == ["60.00", "60.00"],
               "raw TCP 512 KiB row unchanged", md)
        expect(row(md, "engine write / raw TCP 16 streams, 16 MiB per stream") == ["0.35x", "1.25x"],
               "serialized write / cold raw TCP row", md)
        expect(row(md, "engine write, 8 in flight / raw TCP 16 streams, 16 MiB per stream") == ["0.50x", "1.10x"],
               "pipelined write / cold raw TCP row", md)
        expect(row(md, "engine write / raw TCP 16 streams") == ["0.23x", "0.83x"],
               "serialized write / raw TCP (512 KiB) row unchanged", md)
        expect("- serialized loop (UCCL's, --inflight 1):" in md and
               "- pipelined loop (NCCL's, --inflight 8):" in md, "goals in two labelled groups", md)
        expect(md.count("G6 latency") == 1 and md.count("G1 >= 64 MiB") == 2, "G1 per loop, G6 once", md)
        expect("no result" not in md, "nothing reported missing", md)
        # JSON: the old keys as they were, the new ones beside them
        expect(goal_results(js["goals"]) == {"G1": "PASS", "G2": "PASS", "G3": "FAIL", "G4": "PASS",
                                             "G5": "FAIL", "G6": "PASS"},
               "goals: the serialized loop's G1-G6", js.get("goals"))
        expect(goal_results(js["goals_pipelined"]) == {"G1": "FAIL", "G2": "FAIL", "G3": "PASS",
                                                       "G4": "PASS", "G5": "FAIL"},
               "goals_pipelined: G1-G5 of the pipelined loop", js.get("goals_pipelined"))
        expect(js["engine"]["best"]["write"] == {str(256 * K): 14.0, str(64 * M): 50.0},
               "engine.best: the serialized loop only", js["engine"]["best"])
        expect([r["run"] for r in js["engine"]["runs"]] == ["engine_large_1", "engine_small_1"],
               "engine.runs: the serialized runs only", js["engine"]["runs"])
        p = js.get("engine_pipelined", {})
        expect(p.get("inflight") == 8 and p.get("run") is True and not p.get("missing"),
               "engine_pipelined: 8 in flight, nothing missing", p)
        expect(p.get("best", {}).get("write") == {str(256 * K): 20.0, str(64 * M): 44.0},
               "engine_pipelined.best", p.get("best"))
        expect(len(p.get("runs", [])) == 3, "engine_pipelined.runs: all three", p.get("runs"))
        expect(js.get("raw_tcp_cold") == {"msg": 16 * M, "streams": {"16": {"gbps": 40.0, "msg": 16 * M}}},
               "raw_tcp_cold", js.get("raw_tcp_cold"))
        expect(js["raw_tcp"]["16"]["gbps"] == 60.0, "raw_tcp unchanged", js["raw_tcp"])
        r = js["ratios"]
        expect(set(r) >= {"engine_over_best_nccl", "engine_over_raw_tcp_same_streams",
                          "engine_pipelined_over_best_nccl", "engine_over_raw_tcp_cold",
                          "engine_pipelined_over_raw_tcp_cold"}, "ratio keys", list(r))
        expect(abs(r["engine_pipelined_over_best_nccl"]["write"][str(256 * K)] - 2.0) < 1e-9 and
               abs(r["engine_pipelined_over_raw_tcp_cold"]["write"][str(64 * M)] - 1.1) < 1e-9,
               "pipelined ratios", r)
        expect(not js["errors"], "no errors", js["errors"])


def check_pipelined_pass_cut():
    with tempfile.TemporaryDirectory() as work:
        steps = [("engine_small_1", 0), ("engine_large_1", 0), ("engine_pipelined_small_1", 0),
                 ("engine_pipelined_large_1", "skipped"), ("latency", 0), ("tcp 8", 0), ("tcp 16", 0),
                 ("tcp 32", 0), ("tcp_cold 16", "skipped")]
        base_work(work, {"pipe_inflight": 4, "tcp_cold_msg": 16 * M, "tcp_cold_streams": [16]}, steps)
        engine_run(work, "engine_pipelined_small_1", 4, [("sendrecv", 256 * K, 15.0), ("write", 256 * K, 16.0),
                                                         ("read", 256 * K, 15.5)])
        skipped_run(work, "engine_pipelined_large_1")
        write(os.path.join(work, "tcp_cold_16.log"), "no time left before DEADLINE=540s: skipped\n")
        rc, so, se, md, js = report(work)
        expect(rc == 0, f"--report of a cut pipelined pass exits 0 (got {rc})", so, se)
        if rc:
            return
        expect(row(md, "**engine write, 4 in flight**") == ["16.00", "-"], "cut pass: its sizes absent", md)
        expect("pipelined loop (4 in flight): no result for send/recv 64 MiB, write 64 MiB, read 64 MiB "
               "(skipped for time (DEADLINE): engine_pipelined_large_1)" in md, "the report says what is missing", md)
        cold = "raw TCP 16 streams, 16 MiB per stream (working set beyond the CPU caches, the engine's count)"
        expect(row(md, cold) == ["-", "-"], "cold raw TCP skipped: its row shows -", md)
        expect(goal_results(js["goals_pipelined"])["G1"] == "SKIP", "pipelined G1 without data: SKIP",
               js["goals_pipelined"])
        expect(js["engine_pipelined"]["missing"] == ["send/recv 64 MiB", "write 64 MiB", "read 64 MiB"],
               "engine_pipelined.missing", js["engine_pipelined"])
        expect(not js["errors"], "skipped runs are not errors", js["errors"])
        expect("skipped for time: engine_pipelined_large_1, tcp_cold 16" in md, "skipped runs listed", md)

    with tempfile.TemporaryDirectory() as work:  # all of it skipped
        steps = [("engine_small_1", 0), ("engine_large_1", 0), ("engine_pipelined_small_1", "skipped"),
                 ("engine_pipelined_large_1", "skipped")]
        base_work(work, {"pipe_inflight": 8, "tcp_cold_msg": 16 * M}, steps)
        skipped_run(work, "engine_pipelined_small_1")
        skipped_run(work, "engine_pipelined_large_1")
        rc, so, se, md, js = report(work)
        expect(rc == 0 and "pipelined loop (8 in flight): no results (skipped for time (DEADLINE): "
               "engine_pipelined_large_1, engine_pipelined_small_1)" in md and
               "- pipelined loop (NCCL's, --inflight 8): no results (runs cut or failed)" in md,
               "a fully cut pipelined pass: no results, said twice", so, se)
        expect(set(goal_results(js.get("goals_pipelined", [])).values()) == {"SKIP"},
               "its goals: all SKIP", js.get("goals_pipelined"))


def check_without_pipelined_pass():
    # PIPE_INFLIGHT=1 and TCP_COLD_MSG empty: no new rows; the goals say the pass did not run.
    with tempfile.TemporaryDirectory() as work:
        base_work(work, {"pipe_inflight": 1, "tcp_cold_msg": None}, [("engine_small_1", 0), ("engine_large_1", 0)])
        rc, so, se, md, js = report(work)
        expect(rc == 0, f"--report with PIPE_INFLIGHT=1 exits 0 (got {rc})", so, se)
        expect("in flight**" not in md and "per stream" not in md, "no pipelined or cold rows", md)
        expect("- pipelined loop: not run (PIPE_INFLIGHT=1)" in md, "goals: pipelined loop not run", md)
        expect(js.get("goals_pipelined") == [] and js["engine_pipelined"]["run"] is False,
               "JSON: no pipelined goals", js.get("engine_pipelined"))
    # A work folder from before the pipelined pass (no pipe_inflight, no tcp_cold_msg in params).
    with tempfile.TemporaryDirectory() as work:
        base_work(work, {}, [("engine_small_1", 0), ("engine_large_1", 0), ("latency", 0)])
        rc, so, se, md, js = report(work)
        expect(rc == 0, f"--report of an old work folder exits 0 (got {rc})", so, se)
        expect(row(md, "**engine write**") == ["14.00", "50.00"] and "in flight**" not in md,
               "old work folder: the serialized rows only", md)
        expect([g["goal"] for g in js["goals"]] == ["G1", "G2", "G3", "G4", "G5", "G6"],
               "old work folder: goals G1-G6 as before", js["goals"])
        expect(set(js["engine"]) >= {"transport", "memory", "channels", "sockets_per_comm", "streams",
                                     "best", "runs", "latency"}, "engine keys kept", list(js["engine"]))


check_help_and_usage_errors()
check_both_loops()
check_pipelined_pass_cut()
check_without_pipelined_pass()
print(f"\n{len(failures)} failure(s)" if failures else "\nall checks passed")
sys.exit(1 if failures else 0)
