"""scripts/bench_vs_peers.py (pytest): its options (flags, environment variables, bad values),
the parsers of its inputs (tcpx-p2p bench --json, tcp_bw and nccl_sendrecv.py lines), the CPU
cost over a bench run's table window, the goals, and --report on fake work folders (the logs
and JSON files a run leaves with --keep-work), checking the markdown table and the JSON: both
engine loops, raw TCP with 512 KiB and 16 MiB messages, the goals per loop, a pipelined pass cut
by the deadline, a run without a JSON. Last, one end-to-end run on host memory with tiny sizes
(the tool from TCPXP_CLI, which ctest sets, or build/tcpx-p2p; skipped without either).

usage: python3 bench_vs_peers_test.py [PYTEST ARGS]   exit 77 (ctest's skip) without pytest
"""

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "bench_vs_peers.py")
sys.path.insert(0, os.path.join(ROOT, "scripts"))

try:
    import pytest
except ImportError:  # ctest runs this file with its Python: no pytest there is a skip, not a failure
    print(f"SKIP: pytest is not installed for {sys.executable}")
    sys.exit(77)

import bench_vs_peers_cpu as cpu  # noqa: E402
import bench_vs_peers_options as options  # noqa: E402
import bench_vs_peers_report as report  # noqa: E402

TRANSPORT = "tcpx-p2p-socket on lo (device 0), 4 channels, chunk 512 KiB, 4 sockets/comm"
K, M = 1 << 10, 1 << 20


def run(args, env=None, timeout=120):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, SCRIPT] + args, capture_output=True, text=True, env=e,
                          timeout=timeout)


# ---- options ---------------------------------------------------------------------------------
def test_defaults_as_documented():
    o = options.parse_options([], "/repo", environ={})
    assert o.sizes == [256 * K, M, 4 * M, 16 * M, 64 * M, 256 * M]
    assert (o.iters, o.iters_large, o.engine_repeats, o.pipe_inflight) == (50, 16, 3, 8)
    assert (o.lat_iters, o.engine_timeout, o.deadline) == (2000, 150, 540)
    assert o.tcp_streams == [8, 16, 32] and o.tcp_msg == 512 * K and o.tcp_cold_msg == 16 * M
    assert len(o.nccl_configs) == 9 and o.nccl_configs[0] == "8x4/64M/4M"
    assert o.sweep and o.sweep_channels == [1, 2, 4, 8] and o.sweep_socks == [1, 2, 4]
    assert o.sweep_sizes == [4 * M, 64 * M, 256 * M]
    assert not (o.skip_build or o.skip_nccl or o.keep_work)
    assert o.cmake_args == "-DTCPXP_BUILD_TESTS=OFF" and o.build_target == "tcpx_p2p_cli"
    assert o.out == "/repo/out" and o.build_dir == "build" and o.report is None


def test_environment_then_flags():
    env = {"SIZES": "1M,64MiB", "SWEEP": "0", "TCP_COLD_MSG": "", "SKIP_NCCL": "1", "ITERS": "",
           "TCPXP_CMAKE_ARGS": "", "NCCL_CONFIGS": "8x4/64M/4M,4x4/16M/1M", "OUT": "/abs/out",
           "TCP_STREAMS": "4,8", "LAT_ITERS": "7", "KEEP_WORK": "1"}
    o = options.parse_options([], "/repo", environ=env)
    assert o.sizes == [M, 64 * M] and o.sizes_text == "1M,64MiB"
    assert not o.sweep and o.skip_nccl and o.keep_work
    assert o.tcp_cold_msg is None, "an empty TCP_COLD_MSG skips the cold runs"
    assert o.cmake_args == "", "an empty TCPXP_CMAKE_ARGS means no arguments"
    assert o.iters == 50, "an empty ITERS means the default"
    assert o.nccl_configs == ["8x4/64M/4M", "4x4/16M/1M"] and o.tcp_streams == [4, 8]
    assert o.out == "/abs/out"
    o = options.parse_options(["--lat-iters", "9", "--tcp-cold-msg", "1M", "--no-sweep"], "/r", environ=env)
    assert o.lat_iters == 9 and o.tcp_cold_msg == M and not o.sweep


@pytest.mark.parametrize("flag,env,value", [
    ("--pipe-inflight", "PIPE_INFLIGHT", "abc"), ("--pipe-inflight", "PIPE_INFLIGHT", "65"),
    ("--tcp-cold-msg", "TCP_COLD_MSG", "lots"), ("--tcp-cold-msg", "TCP_COLD_MSG", "0"),
    ("--sizes", "SIZES", "256K,x"), ("--sweep-sizes", "SWEEP_SIZES", "4Q"),
    ("--engine-memory", "ENGINE_MEMORY", "disk"), ("--iters", "ITERS", "many")])
def test_bad_values_exit_2_naming_them(flag, env, value, capsys):
    for argv, environ in (([], {env: value}), ([flag, value], {})):
        with pytest.raises(SystemExit) as e:
            options.parse_options(argv, "/r", environ=environ)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert flag in err and env in err and value in err


def test_to_bytes():
    assert [options.to_bytes(x) for x in ("256K", "1m", "2GiB", "4MB", "100", "3B")] == \
        [256 * K, M, 2 << 30, 4 * M, 100, 3]
    for bad in ("", "1.5M", "M", "-1K", "4T"):
        with pytest.raises(ValueError):
            options.to_bytes(bad)


def test_help_explains_every_option():
    p = run(["--help"])
    assert p.returncode == 0, p.stderr
    for flag, env, default, _, _ in options.OPTIONS:
        assert flag in p.stdout and env in p.stdout, flag
    for word in ("--report", "serialized", "pipelined", "--inflight 1", "last-level cache", "G6",
                 "Exit status", "table_window"):
        assert word in p.stdout, word
    launcher = subprocess.run(["bash", os.path.join(ROOT, "scripts", "bench_vs_peers.sh"), "--help"],
                              capture_output=True, text=True, timeout=60)
    assert launcher.returncode == 0 and launcher.stdout == p.stdout, "the .sh only launches the .py"


def test_usage_errors_exit_2(tmp_path):
    p = run(["--report", str(tmp_path / "missing")])
    assert p.returncode == 2 and "not a work folder" in p.stderr
    p = run(["--no-such-option"])
    assert p.returncode == 2
    # the options are checked before the machine facts and the build: nothing runs
    p = run([], env={"PIPE_INFLIGHT": "65", "OUT": str(tmp_path / "o")})
    assert p.returncode == 2 and "PIPE_INFLIGHT" in p.stderr and "== step" not in p.stdout


def test_missing_tool_exits_1(tmp_path):
    p = run(["--skip-build", "--build-dir", str(tmp_path / "nobuild"), "--out", str(tmp_path / "o")])
    assert p.returncode == 1 and "missing" in p.stdout, p.stdout + p.stderr


# ---- parsers ---------------------------------------------------------------------------------
def test_peer_lines():
    assert report.parse_tcp_bw("warming up\ntcp_loopback streams=8 msg=524288 GB/s=31.20\n") == \
        {"streams": 8, "msg": 524288, "gbps": 31.2}
    assert report.parse_tcp_bw("connect: refused\n") is None
    text = ("[rank1]: nccl_8x4 size=262144 GB/s=3.05\nnccl_8x4 size=1048576 GB/s=9.84\n"
            "NCCL INFO size=oops GB/s=1\n")
    assert report.parse_nccl(text) == {256 * K: 3.05, M: 9.84}
    assert report.nccl_order("4x4_16M_1M") < report.nccl_order("8x4_16M_1M") < report.nccl_order("8x4_64M_4M")


def test_bench_json(tmp_path):
    assert report.channels_sockets(TRANSPORT) == (4, 4)
    assert report.channels_sockets("tcpx on eth1") == (None, None)
    assert report.channels_sockets(None) == (None, None)
    prefix = str(tmp_path / "run")
    assert report.bench_json(prefix) == (None, [])
    (tmp_path / "run.json").write_text("{truncated")
    assert report.bench_json(prefix) == (None, [])
    (tmp_path / "run.json").write_text(json.dumps({"transport": TRANSPORT, "results": [{"mode": "write"}]}))
    j, results = report.bench_json(prefix)
    assert j["transport"] == TRANSPORT and results == [{"mode": "write"}]


# ---- CPU cost --------------------------------------------------------------------------------
def mon(samples, hz=100):
    return {"hz": hz, "samples": [dict(zip(("line", "mono", "busy", "proc"), s), t=s[1] - 100) for s in samples]}


def test_cpu_cost_over_the_table_window():
    m = mon([(-1, 99.0, 0, 0), (0, 100.0, 1000, 0), (1, 100.5, 1100, 40), (2, 101.0, 1300, 100),
             (-1, 102.0, 9999, 0)])
    results = [{"mode": "write", "size": 250_000_000, "iters": 1, "warmup": 1}]
    # header printed at 100.2 (its line sampled at 100.5), last row at 100.9 (sampled at 101.0)
    c = cpu.cpu_cost(m, results, {"start_s": 100.2, "end_s": 100.9}, idle=1.0)
    assert c["window_s"] == 0.5 and c["bytes"] == 500_000_000 and c["gbps_in_window"] == 1.0
    assert c["cores_busy_machine"] == 3.0, "200 ticks / 100 Hz / 0.5 s - 1 idle core"
    assert c["cores_busy_processes"] == 1.2
    assert c["cores_per_10gbps_machine"] == pytest.approx(30.0)
    assert cpu.cpu_cost(m, results, None) is None, "no window: no figure"
    assert cpu.cpu_cost(m, results, {"start_s": 100.2, "end_s": 101.5}) is None, "no sample after the end"
    assert cpu.cpu_cost(m, [], {"start_s": 100.2, "end_s": 100.9}) is None
    assert cpu.cpu_cost(m, results, {"start_s": 100.6, "end_s": 100.7}) is None, "one sample: no window"
    each, mean = cpu.idle_cores([mon([(-1, 100.0, 0, 0), (-1, 102.0, 200, 0)]),
                                 mon([(-1, 100.0, 0, 0), (-1, 101.0, 300, 0)])])
    assert each == [1.0, 3.0] and mean == 2.0
    assert cpu.idle_cores([]) == ([], None)


def test_monitor_samples_every_line(tmp_path):
    log, mon_path = tmp_path / "x.log", tmp_path / "x.mon.json"
    rc = cpu.run_monitored(["sh", "-c", "echo one; echo two; exit 3"], str(log), str(mon_path))
    m = json.loads(mon_path.read_text())
    assert rc == 3 and m["rc"] == 3 and log.read_text() == "one\ntwo\n"
    lines = [s["line"] for s in m["samples"]]
    assert lines == [-1, 0, 1, -1]
    monos = [s["mono"] for s in m["samples"]]
    assert monos == sorted(monos) and all("busy" in s for s in m["samples"])


# ---- goals -----------------------------------------------------------------------------------
def test_goals():
    best = {"write": {256 * K: 14.0, 64 * M: 50.0}, "read": {256 * K: 13.0, 64 * M: 50.0},
            "sendrecv": {256 * K: 12.0, 64 * M: 44.0}}
    g = {x["goal"]: x for x in report.loop_goals(best, {256 * K: 10.0, 64 * M: 40.0}, [256 * K, 64 * M])}
    assert {k: v["result"] for k, v in g.items()} == {"G1": "FAIL", "G2": "FAIL", "G3": "FAIL",
                                                      "G4": "PASS", "G5": "FAIL"}
    assert g["G1"]["worst"] == "sendrecv 64 MiB GB/s: 44.00 vs 45.00"
    assert g["G3"]["worst"] == "sendrecv 256 KiB / NCCL: 1.20 vs 1.50"
    assert [c["ok"] for c in g["G2"]["checks"]] == [False, True, True]  # sendrecv, write, read
    g = report.loop_goals(best, {}, [256 * K, 64 * M])
    assert [x["result"] for x in g][1:3] == ["SKIP", "SKIP"], "no NCCL: G2, G3 skipped"
    assert report.latency_goal(None)["result"] == "SKIP"
    assert report.latency_goal({"median_us": 25.0})["result"] == "PASS"
    assert report.latency_goal({"median_us": 25.5})["result"] == "FAIL"


# ---- --report on fake work folders -----------------------------------------------------------
def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def engine_run(work, name, inflight, rows, with_json=True):
    """A tcpx-p2p bench run: NAME.log and NAME.json (rows: mode, size, gbps) and NAME.mon.json."""
    write(os.path.join(work, name + ".log"), "tcpx-p2p bench: client host memory -> ...\n")
    samples = [{"t": t, "mono": 1000 + t, "line": n, "busy": 100 * n, "total": 0, "proc": 10 * n}
               for n, t in enumerate((0.0, 1.0, 2.0, 3.0))]
    write(os.path.join(work, name + ".mon.json"), json.dumps({"hz": 100, "samples": samples}))
    if with_json:
        j = {"tool": "tcpx-p2p bench", "transport": TRANSPORT, "client_memory": "host memory",
             "server_memory": "host memory", "client_data_path": "direct (host memory)",
             "iters": 5, "warmup": 1, "inflight": inflight,
             "results": [{"mode": m, "size": s, "iters": 5, "warmup": 1, "inflight": inflight,
                          "seconds": 0.01, "gbps": g, "avg_latency_us": 100.0} for m, s, g in rows],
             "table_window": {"clock": "CLOCK_MONOTONIC", "start_s": 1000.5, "end_s": 1002.5}}
        write(os.path.join(work, name + ".json"), json.dumps(j))


def skipped_run(work, name):
    write(os.path.join(work, name + ".log"), "no time left before DEADLINE=540s: skipped\n")


def base_work(work, params_extra, steps):
    params = {"sizes": [256 * K, 64 * M], "iters": 5, "iters_large": 3, "large_from": 64 * M,
              "engine_repeats": 1, "engine_memory": "host", "engine_args": "", "latency_iters": 100,
              "tcp_streams_table": [8, 16, 32], "tcp_seconds": 1, "tcp_msg": 512 * K,
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
          "NCCL_SOCKET_NTHREADS=8\nNCCL_NSOCKS_PERTHREAD=4\nNCCL_BUFFSIZE=67108864\n"
          "NCCL_P2P_NET_CHUNKSIZE=4194304\n")
    write(os.path.join(work, "latency.json"), json.dumps(
        {"latency": {"size": 8, "iters": 100, "median_us": 20.0, "p99_us": 30.0, "min_us": 10.0,
                     "max_us": 50.0}}))
    # The serialized loop: 256 KiB below NCCL x 1.5, 64 MiB at 50 GB/s (>= 45, >= 1.2 x 40).
    engine_run(work, "engine_small_1", 1, [("sendrecv", 256 * K, 12.0), ("write", 256 * K, 14.0),
                                           ("read", 256 * K, 13.0)])
    engine_run(work, "engine_large_1", 1, [("sendrecv", 64 * M, 50.0), ("write", 64 * M, 50.0),
                                           ("read", 64 * M, 50.0)])


def do_report(work):
    out = os.path.join(work, "out")
    p = run(["--report", work, "--out", out])
    assert p.returncode == 0, p.stdout + p.stderr
    md = open(os.path.join(out, "bench_vs_peers.md")).read()
    assert md in p.stdout, "the table is printed too"
    return md, json.load(open(os.path.join(out, "bench_vs_peers.json")))


def row(md, label):
    """The cells of the table row whose label is exactly LABEL, or None."""
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells[1:]
    return None


def goal_results(goals):
    return {g["goal"]: g["result"] for g in goals}


def test_report_both_loops(tmp_path):
    work = str(tmp_path)
    steps = [("engine_small_1", 0), ("engine_large_1", 0), ("engine_pipelined_small_1", 0),
             ("engine_pipelined_large_1", 0), ("engine_pipelined_small_2", 124), ("latency", 0),
             ("tcp 8", 0), ("tcp 16", 0), ("tcp 32", 0), ("tcp_cold 16", 0), ("nccl 8x4_64M_4M", 0)]
    base_work(work, {"pipe_inflight": 8, "tcp_cold_msg": 16 * M, "tcp_cold_streams": [16]}, steps)
    write(os.path.join(work, "tcp_cold_16.log"), "tcp_loopback streams=16 msg=16777216 GB/s=40.00\n")
    # The pipelined loop: 256 KiB at 1.5 x NCCL and more; write 64 MiB at 44 (G1 fails for it).
    engine_run(work, "engine_pipelined_small_1", 8, [("sendrecv", 256 * K, 15.0), ("write", 256 * K, 16.0),
                                                     ("read", 256 * K, 19.0)])
    engine_run(work, "engine_pipelined_large_1", 8, [("sendrecv", 64 * M, 52.0), ("write", 64 * M, 44.0),
                                                     ("read", 64 * M, 50.0)])
    # a second run cut by its timeout: no JSON, so none of its numbers (its stdout is not read)
    engine_run(work, "engine_pipelined_small_2", 8, [("write", 256 * K, 99.0)], with_json=False)
    md, js = do_report(work)
    assert row(md, "**engine write**") == ["14.00", "50.00"]
    assert row(md, "**engine send/recv, 8 in flight**") == ["15.00", "52.00"]
    assert row(md, "**engine write, 8 in flight**") == ["16.00", "44.00"], "the cut run counts for nothing"
    assert row(md, "**engine read, 8 in flight**") == ["19.00", "50.00"]
    assert row(md, "engine write, 8 in flight / best NCCL") == ["1.60x", "1.10x"]
    assert row(md, "**best NCCL**") == ["10.00", "40.00"]
    assert row(md, "NCCL 8x4, 64 MiB buffer, 4 MiB chunks") == ["10.00", "40.00"]
    cold = "raw TCP 16 streams, 16 MiB per stream (working set beyond the CPU caches, the engine's count)"
    assert row(md, cold) == ["40.00", "40.00"]
    assert row(md, "raw TCP 16 streams (any size, the engine's count)") == ["60.00", "60.00"]
    assert row(md, "raw TCP 8 streams (any size)") == ["50.00", "50.00"]
    assert row(md, "engine write / raw TCP 16 streams, 16 MiB per stream") == ["0.35x", "1.25x"]
    assert row(md, "engine write, 8 in flight / raw TCP 16 streams, 16 MiB per stream") == ["0.40x", "1.10x"]
    assert row(md, "engine write / raw TCP 16 streams") == ["0.23x", "0.83x"]
    assert "- serialized loop (UCCL's, --inflight 1):" in md and "- pipelined loop (NCCL's, --inflight 8):" in md
    assert md.count("G6 latency") == 1 and md.count("G1 >= 64 MiB") == 2
    assert "no result" not in md
    assert "runs that failed: engine_pipelined_small_2" in md
    assert "latency: 8-byte write + wait, 100 round trips: median 20.00 us, p99 30.00 us" in md
    assert goal_results(js["goals"]) == {"G1": "PASS", "G2": "PASS", "G3": "FAIL", "G4": "PASS",
                                         "G5": "FAIL", "G6": "PASS"}
    assert goal_results(js["goals_pipelined"]) == {"G1": "FAIL", "G2": "FAIL", "G3": "PASS",
                                                   "G4": "PASS", "G5": "PASS"}
    e = js["engine"]
    assert e["best"]["write"] == {str(256 * K): 14.0, str(64 * M): 50.0}
    assert (e["channels"], e["sockets_per_comm"], e["streams"], e["transport"]) == (4, 4, 16, TRANSPORT)
    assert e["memory"] == "host memory -> host memory, direct (host memory)"
    assert [r["run"] for r in e["runs"]] == ["engine_large_1", "engine_small_1"]
    # CPU over the table window: samples at t=1 and t=3 (monotonic 1001, 1003), 200 ticks at 100 Hz
    c = e["runs"][0]["cpu"]
    assert c["window_s"] == 2.0 and c["cores_busy_machine"] == 1.0 and c["cores_busy_processes"] == 0.1
    assert c["bytes"] == 3 * 64 * M * 6
    p = js["engine_pipelined"]
    assert p["inflight"] == 8 and p["run"] is True and not p["missing"]
    assert p["best"]["write"] == {str(256 * K): 16.0, str(64 * M): 44.0}
    assert [(r["run"], r["rc"], r["results"]) for r in p["runs"]][2] == ("engine_pipelined_small_2", 124, [])
    assert js["raw_tcp_cold"] == {"msg": 16 * M, "streams": {"16": {"gbps": 40.0, "msg": 16 * M}}}
    assert js["raw_tcp"]["16"]["gbps"] == 60.0
    r = js["ratios"]
    assert r["engine_pipelined_over_best_nccl"]["write"][str(256 * K)] == pytest.approx(1.6)
    assert r["engine_pipelined_over_raw_tcp_cold"]["write"][str(64 * M)] == pytest.approx(1.1)
    assert r["raw_tcp_cold_streams"] == 16
    assert [x["run"] for x in js["errors"]] == ["engine_pipelined_small_2"]
    assert js["tool"] == "scripts/bench_vs_peers.py" and js["table_markdown"] == md


def test_report_pipelined_pass_cut(tmp_path):
    work = str(tmp_path)
    steps = [("engine_small_1", 0), ("engine_large_1", 0), ("engine_pipelined_small_1", 0),
             ("engine_pipelined_large_1", "skipped"), ("latency", 0), ("tcp 8", 0), ("tcp 16", 0),
             ("tcp 32", 0), ("tcp_cold 16", "skipped")]
    base_work(work, {"pipe_inflight": 4, "tcp_cold_msg": 16 * M, "tcp_cold_streams": [16]}, steps)
    engine_run(work, "engine_pipelined_small_1", 4, [("sendrecv", 256 * K, 15.0), ("write", 256 * K, 16.0),
                                                     ("read", 256 * K, 15.5)])
    skipped_run(work, "engine_pipelined_large_1")
    write(os.path.join(work, "tcp_cold_16.log"), "no time left before DEADLINE=540s: skipped\n")
    md, js = do_report(work)
    assert row(md, "**engine write, 4 in flight**") == ["16.00", "-"]
    assert ("pipelined loop (4 in flight): no result for send/recv 64 MiB, write 64 MiB, read 64 MiB "
            "(skipped for time (DEADLINE): engine_pipelined_large_1)") in md
    cold = "raw TCP 16 streams, 16 MiB per stream (working set beyond the CPU caches, the engine's count)"
    assert row(md, cold) == ["-", "-"]
    assert goal_results(js["goals_pipelined"])["G1"] == "SKIP"
    assert js["engine_pipelined"]["missing"] == ["send/recv 64 MiB", "write 64 MiB", "read 64 MiB"]
    assert not js["errors"], "skipped runs are not errors"
    assert "skipped for time: engine_pipelined_large_1, tcp_cold 16" in md


def test_report_pipelined_pass_all_skipped(tmp_path):
    work = str(tmp_path)
    steps = [("engine_small_1", 0), ("engine_large_1", 0), ("engine_pipelined_small_1", "skipped"),
             ("engine_pipelined_large_1", "skipped")]
    base_work(work, {"pipe_inflight": 8, "tcp_cold_msg": 16 * M}, steps)
    skipped_run(work, "engine_pipelined_small_1")
    skipped_run(work, "engine_pipelined_large_1")
    md, js = do_report(work)
    assert ("pipelined loop (8 in flight): no results (skipped for time (DEADLINE): "
            "engine_pipelined_large_1, engine_pipelined_small_1)") in md
    assert "- pipelined loop (NCCL's, --inflight 8): no results (runs cut or failed)" in md
    assert set(goal_results(js["goals_pipelined"]).values()) == {"SKIP"}


def test_report_without_pipelined_pass(tmp_path):
    # PIPE_INFLIGHT=1 and TCP_COLD_MSG empty: no such rows; the goals say the pass did not run.
    work = str(tmp_path)
    base_work(work, {"pipe_inflight": 1, "tcp_cold_msg": None}, [("engine_small_1", 0), ("engine_large_1", 0)])
    md, js = do_report(work)
    assert "in flight**" not in md and "per stream" not in md
    assert "- pipelined loop: not run (PIPE_INFLIGHT=1)" in md
    assert js["goals_pipelined"] == [] and js["engine_pipelined"]["run"] is False
    assert [g["goal"] for g in js["goals"]] == ["G1", "G2", "G3", "G4", "G5", "G6"]


def test_report_of_failed_engine_and_sweep(tmp_path):
    # The serialized large run failed (no JSON), the latency too; a sweep of two combinations.
    work = str(tmp_path)
    base_work(work, {"pipe_inflight": 1, "sweep": True, "sweep_sizes": [4 * M]},
              [("engine_small_1", 0), ("engine_large_1", 1), ("latency", 1), ("sweep_c1_s1", 0),
               ("sweep_c2_s8", "skipped")])
    os.remove(os.path.join(work, "engine_large_1.json"))
    os.remove(os.path.join(work, "latency.json"))
    write(os.path.join(work, "latency.log"), "tcpx-p2p bench client: timed out\n")
    engine_run(work, "sweep_c1_s1", 1, [("write", 4 * M, 8.0)])
    skipped_run(work, "sweep_c2_s8")
    for name, busy in (("idle_before", 100), ("idle_after", 300)):  # 1 and 3 cores: 2 subtracted
        write(os.path.join(work, name + ".mon.json"), json.dumps(
            {"hz": 100, "samples": [{"t": 0, "line": -1, "busy": 0}, {"t": 1.0, "line": -1, "busy": busy}]}))
    md, js = do_report(work)
    assert row(md, "**engine write**") == ["14.00", "-"]
    assert ("serialized loop: no result for send/recv 64 MiB, write 64 MiB, read 64 MiB "
            "(exit 1: engine_large_1)") in md
    assert "latency: no result" in md and goal_results(js["goals"])["G6"] == "SKIP"
    assert {x["run"] for x in js["errors"]} == {"engine_large_1", "latency"}
    assert "idle baseline 2.00 cores subtracted" in md
    # 1 x 1: 8 GB/s, raw TCP 1 stream unknown; CPU: 200 ticks over 2 s = 1 core, minus 2 idle
    # per 10 GB/s: 6 x 4 MiB in 2 s = 0.0126 GB/s
    assert row(md, "1") == ["1", "1", "8.00", "-", "-", "-1.00", "-794.73", "79.47"]
    assert row(md, "2") == ["8", "16", "-", "60.00", "-", "-", "-", "-"]
    rows = js["sweep"]["rows"]
    assert [(r["channels"], r["sockets"], r["rc"]) for r in rows] == [(1, 1, 0), (2, 8, "skipped")]
    assert rows[0]["header_channels_sockets"] == [4, 4] and rows[0]["write_gbps"] == {str(4 * M): 8.0}
    assert js["sweep"]["idle_cores_each"] == [3.0, 1.0] and js["sweep"]["idle_cores"] == 2.0


# ---- end to end ------------------------------------------------------------------------------
def test_end_to_end_host_memory(tmp_path):
    tool = os.environ.get("TCPXP_CLI") or os.path.join(ROOT, "build", "tcpx-p2p")
    if not os.access(tool, os.X_OK):
        pytest.skip(f"no tcpx-p2p at {tool} (set TCPXP_CLI)")
    out = tmp_path / "out"
    args = ["--skip-build", "--build-dir", os.path.dirname(os.path.abspath(tool)), "--out", str(out),
            "--engine-memory", "host", "--skip-nccl", "--sizes", "64K,1M", "--iters", "3",
            "--engine-repeats", "1", "--pipe-inflight", "2", "--lat-iters", "50", "--tcp-seconds", "1",
            "--tcp-streams", "2", "--tcp-cold-msg", "", "--sweep-channels", "1", "--sweep-socks", "1 2",
            "--sweep-sizes", "1M", "--sweep-iters", "3", "--deadline", "200"]
    p = run(args, env={"UCCL_TCPX_TIMEOUT_MS": "20000"}, timeout=280)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    js = json.loads((out / "bench_vs_peers.json").read_text())
    md = (out / "bench_vs_peers.md").read_text()
    for loop in ("engine", "engine_pipelined"):
        for m in report.MODES:
            got = js[loop]["best"][m]
            assert set(got) == {str(64 * K), str(M)} and all(v > 0 for v in got.values()), (loop, m, got)
    assert all(run_["json"]["inflight"] == 2 for run_ in js["engine_pipelined"]["runs"])
    assert js["engine"]["streams"] and js["engine"]["latency"]["iters"] == 50
    assert goal_results(js["goals"])["G6"] != "SKIP"
    assert [(r["channels"], r["sockets"]) for r in js["sweep"]["rows"]] == [(1, 1), (1, 2)]
    rows = js["sweep"]["rows"] + js["engine"]["runs"]
    for r in rows:
        assert (r.get("table_window") or r["json"]["table_window"])["end_s"] > 0, r
        # A window the output samples cannot resolve has no figure (cpu_cost's own test): on a
        # loaded machine a short run's table can reach the monitor in one read.
        assert r["cpu"] is None or r["cpu"]["window_s"] > 0, r
    assert any(r["cpu"] for r in rows), "no run's CPU cost came through"
    assert not js["errors"] and "runs that failed: none" in md
    assert "no result" not in md


if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-rs", "-p", "no:cacheprovider", __file__] + sys.argv[1:]))
