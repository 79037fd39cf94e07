"""scripts/bench_vs_peers.py --one-gpu (pytest): its options (environment, flags, bad values), the
report from fake work folders (engine runs and the peers' JSON files as run_on_gpu.sh writes
them: ratios, the 5x goal, unverified or failed points dropped with a reason), and one run on
host memory with tiny sizes where the peers are absent, as in CI: they are skipped and the report
says so (the tool from TCPXP_CLI, which ctest sets, or build/tcpx-p2p; skipped without either).

usage: python3 bench_vs_peers_one_gpu_test.py [PYTEST ARGS]   exit 77 (ctest's skip) without pytest
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

import bench_vs_peers_one_gpu as one  # noqa: E402

K, M = 1 << 10, 1 << 20
TRANSPORT = "tcpx-p2p-socket on lo (device 0), 4 channels, chunk 1 MiB, 4 sockets/comm"


def run(args, env=None, timeout=120):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, SCRIPT, "--one-gpu"] + args, capture_output=True, text=True,
                          env=e, timeout=timeout)


# ---- options ---------------------------------------------------------------------------------
def test_defaults_environment_and_flags():
    o = one.parse_options([], environ={})
    assert o.size_list == [256 * K, M, 4 * M, 16 * M, 64 * M, 256 * M]
    assert (o.inflight, o.deadline, o.memory, o.engine_bytes) == (8, 530, "auto", 1 << 30)
    assert (o.whl_dir, o.peerlibs_dir, o.peers_dir) == (".whl", ".peerlibs", None)
    assert not (o.skip_build or o.skip_peers or o.keep_work)
    o = one.parse_options([], environ={"SIZES": "1M,64MiB", "INFLIGHT": "4", "SKIP_PEERS": "1",
                                       "TCPXP_PEERS_DIR": "/p", "MEMORY": "host"})
    assert o.size_list == [M, 64 * M] and o.inflight == 4 and o.skip_peers
    assert o.peers_dir == "/p" and o.memory == "host"
    o = one.parse_options(["--sizes", "4K", "--inflight", "16"], environ={"SIZES": "1M", "INFLIGHT": "4"})
    assert o.size_list == [4 * K] and o.inflight == 16  # the flag wins
    assert [one.engine_iters(o, s) for s in (256 * K, 16 * M, 256 * M)] == [1000, 64, 16]


@pytest.mark.parametrize("args,says", [(["--inflight", "1"], "INFLIGHT"), (["--sizes", "4Q"], "SIZES"),
                                       (["--memory", "tpu"], "--memory"), (["--report", "/nonexistent"],
                                                                           "not a work folder")])
def test_bad_values_exit_2_naming_them(args, says):
    p = run(args)
    assert p.returncode == 2 and says in p.stderr, p.stderr
    assert "==" not in p.stdout  # nothing ran


def test_help_through_bench_vs_peers():
    p = run(["--help"])
    assert p.returncode == 0, p.stderr
    for word in ("NIXL", "Mooncake", "--peers-dir", "TCPXP_PEERS_DIR", ".deps/peers", ".peerlibs", "5 x",
                 "Exit status", "--skip-peers"):
        assert word in p.stdout, word
    main_help = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True, timeout=60)
    assert main_help.returncode == 0 and "--one-gpu" in main_help.stdout


# ---- report ----------------------------------------------------------------------------------
def engine_json(path, size, inflight, write, read, verified=True):
    res = [{"mode": m, "size": size, "inflight": inflight, "gbps": g} for m, g in (("write", write), ("read", read))]
    path.write_text(json.dumps({"transport": TRANSPORT, "client_memory": "GPU 0", "server_memory": "GPU 0",
                                "results": res, "summary": {"verified": verified}}))


def peer_json(path, label, points, status="ok", verdict="TCP-only"):
    """points: (op, loop, size, GB/s, verified)"""
    recs = [{"engine": label, "op": op, "loop": loop, "window": 8 if loop == "pipelined" else 1, "size": size,
             "GBps": g, "verified": v} for op, loop, size, g, v in points]
    path.write_text(json.dumps({"engine": label, "status": status, "error": None if status == "ok" else "boom",
                                "versions": {label: "1"}, "results": recs,
                                "evidence": {"summary": ["UCX transports named in logs: tcp/lo(x4)",
                                                         f"verdict: {verdict}"]}}))


def fake_work(tmp_path, skipped=None):
    work = tmp_path / "work"
    (work / "peers").mkdir(parents=True)
    (work / "params.json").write_text(json.dumps({"sizes": [256 * K, 4 * M], "inflight": 8, "memory": "gpu",
                                                  "engine_iters": {str(256 * K): 1000, str(4 * M): 256},
                                                  "peers_skipped": skipped}))
    for inflight in (1, 8):
        engine_json(work / f"engine_i{inflight}_{256 * K}.json", 256 * K, inflight, 10.0, 6.0)
    engine_json(work / f"engine_i1_{4 * M}.json", 4 * M, 1, 20.0, 18.0)
    engine_json(work / f"engine_i8_{4 * M}.json", 4 * M, 8, 30.0, 30.0, verified=False)
    return work


def row(js, op, inflight, size):
    return next(x for x in js["rows"] if (x["op"], x["inflight"], x["size"]) == (op, inflight, size))


def test_report_ratios_goal_and_dropped_points(tmp_path):
    work = fake_work(tmp_path)
    peer_json(work / "peers" / "nixl_tcp.json", "nixl-ucx-tcp", [
        ("WRITE", "serial", 256 * K, 1.0, True), ("READ", "serial", 256 * K, 2.0, True),
        ("WRITE", "pipelined", 256 * K, 1.5, True), ("WRITE", "serial", 4 * M, 9.0, False)])
    peer_json(work / "peers" / "mooncake_tcp.json", "mooncake-tcp", [
        ("WRITE", "serial", 256 * K, 0.5, True), ("WRITE", "serial", 4 * M, 2.0, True)],
        verdict="TCP-only (MC_FORCE_TCP)")
    out = tmp_path / "out"
    p = run(["--report", str(work), "--out", str(out)])
    assert p.returncode == 0, p.stdout + p.stderr
    js = json.loads((out / "bench_one_gpu.json").read_text())
    md = (out / "bench_one_gpu.md").read_text()
    r = row(js, "write", 1, 256 * K)
    assert (r["engine_gbps"], r["nixl_gbps"], r["mooncake_gbps"], r["best_peer_gbps"]) == (10.0, 1.0, 0.5, 1.0)
    assert r["ratio"] == 10.0 and r["goal_met"] is True
    r = row(js, "read", 1, 256 * K)
    assert r["ratio"] == 3.0 and r["goal_met"] is False
    # NIXL's unverified 4 MiB point does not count: Mooncake is the best peer there
    r = row(js, "write", 1, 4 * M)
    assert r["nixl_gbps"] is None and r["best_peer_gbps"] == 2.0 and r["ratio"] == 10.0
    # the engine's unverified run does not count either
    assert row(js, "write", 8, 4 * M)["engine_gbps"] is None
    assert any("4 MiB inflight 8: data not verified" in e for e in js["errors"])
    assert js["goal"]["verdict"].startswith("FAIL") and "lowest 3.00x: read 256 KiB in flight 1" in js["goal"]["verdict"]
    assert "| write | 1 | 256 KiB | 10.00 | 1.00 | 0.50 | 10.00 | yes |" in md
    assert "| read | 1 | 256 KiB | 6.00 | 2.00 | - | 3.00 | NO |" in md
    assert "transport: TCP-only (MC_FORCE_TCP)" in md and "tcp/lo" in md
    assert js["peers"]["nixl"]["status"] == "nixl_tcp.json: ok; transport: TCP-only"


def test_report_pass_and_a_failed_peer(tmp_path):
    work = fake_work(tmp_path)
    (work / f"engine_i8_{4 * M}.json").unlink()
    (work / f"engine_i8_{4 * M}.log").write_text("bench: timed out waiting for the server\n")
    peer_json(work / "peers" / "nixl_tcp.json", "nixl-ucx-tcp",
              [(op, loop, s, 0.5, True) for op in ("WRITE", "READ") for loop in ("serial", "pipelined")
               for s in (256 * K, 4 * M)])
    (work / "peers_mooncake.log").write_text("=== mooncake: rc=1 after 3s\n")
    out = tmp_path / "out"
    assert run(["--report", str(work), "--out", str(out)]).returncode == 0
    js = json.loads((out / "bench_one_gpu.json").read_text())
    assert js["peers"]["mooncake"]["status"] == "no result (=== mooncake: rc=1 after 3s)"
    assert any("Mooncake (TCP): no verified point" in e for e in js["errors"])
    assert any("timed out waiting for the server" in e for e in js["errors"])
    # every point with both numbers is >= 5x, but that run left two points without an engine number: not a PASS
    assert js["goal"]["verdict"].startswith("FAIL (6 of 8 points at >= 5x, 2 without a number")
    (work / f"engine_i8_{4 * M}.log").unlink()
    engine_json(work / f"engine_i8_{4 * M}.json", 4 * M, 8, 30.0, 30.0)
    assert run(["--report", str(work), "--out", str(out)]).returncode == 0
    js = json.loads((out / "bench_one_gpu.json").read_text())
    assert js["goal"]["verdict"].startswith("PASS (8 of 8 points"), js["goal"]


def test_report_peers_skipped(tmp_path):
    work = fake_work(tmp_path, skipped="no peer wheels in .whl")
    out = tmp_path / "out"
    assert run(["--report", str(work), "--out", str(out)]).returncode == 0
    js = json.loads((out / "bench_one_gpu.json").read_text())
    md = (out / "bench_one_gpu.md").read_text()
    assert js["goal"]["verdict"].startswith("NOT EVALUATED")
    assert "- NIXL (UCX/TCP): skipped: no peer wheels in .whl" in md
    assert not any("no verified point" in e for e in js["errors"])  # a skip is said once, not an error


# ---- end to end, without the peers (as in CI) ----------------------------------------------------
def test_end_to_end_host_memory_without_peers(tmp_path):
    tool = os.environ.get("TCPXP_CLI") or os.path.join(ROOT, "build", "tcpx-p2p")
    if not os.access(tool, os.X_OK):
        pytest.skip(f"no tcpx-p2p at {tool} (set TCPXP_CLI)")
    (tmp_path / "nowheels").mkdir()
    out = tmp_path / "out"
    p = run(["--skip-build", "--build-dir", os.path.dirname(os.path.abspath(tool)), "--out", str(out),
             "--memory", "host", "--sizes", "64K,1M", "--inflight", "2", "--engine-bytes", "1M",
             "--whl-dir", str(tmp_path / "nowheels"), "--deadline", "200"],
            env={"UCCL_TCPX_TIMEOUT_MS": "20000"}, timeout=280)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert "3 peers skipped: " in p.stdout  # no wheels, or no scripts where ../shared is absent
    js = json.loads((out / "bench_one_gpu.json").read_text())
    engine_rows = [x for x in js["rows"] if x["engine_gbps"]]
    assert len(engine_rows) == 8 and all(x["best_peer_gbps"] is None for x in js["rows"])
    assert all(r["verified"] for r in js["engine"]["runs"]) and not js["errors"], js["errors"]
    assert js["params"]["engine_iters"] == {str(64 * K): 16, str(M): 16}
    assert js["peers"]["mooncake"]["status"].startswith("skipped: ")


if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-rs", "-p", "no:cacheprovider", __file__] + sys.argv[1:]))
