"""scripts/scale_bench.py end to end on host memory (issue 7): 2 concurrent pairs in both modes
(2P processes; one process per side with a thread per pair), tiny sizes, JSON checked; and a
failing child fails the whole run with a clear message."""

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "scale_bench.py")


def _run(tmp_path, *extra, env_extra=None, timeout=50):
    out = tmp_path / "scale.json"
    env = dict(os.environ, UCCL_SOCKET_IFNAME="lo", **(env_extra or {}))
    env.setdefault("UCCL_TCPX_TIMEOUT_MS", "10000")
    cmd = [sys.executable, SCRIPT, "--host", "--pairs", "2", "--sizes", "64K", "--iters", "3",
           "--timeout", "20", "--json", str(out), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    report = json.loads(out.read_text()) if out.exists() else None
    return proc, report


def test_two_pairs_both_modes(core, tmp_path):
    proc, report = _run(tmp_path, "--mode", "both")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report is not None and report["ok"] and report["error"] is None
    assert [r["mode"] for r in report["results"]] == ["multi", "single"]
    for r in report["results"]:
        assert r["pairs"] == 2 and r["size"] == 64 << 10 and r["iters"] == 3 and r["op"] == "write"
        assert len(r["pair_gbps"]) == 2 and len(r["pairs_detail"]) == 2
        assert all(g > 0 for g in r["pair_gbps"]), r["pair_gbps"]
        assert r["aggregate_gbps"] > 0 and r["mean_gbps"] > 0
        assert 0 < r["min_over_mean"] <= 1.0
        assert r["cpu_seconds"] >= 0 and r["cores_busy"] >= 0
        assert r["verified"] and all(p["verified"] and p["error"] is None for p in r["pairs_detail"])
        assert [(p["src_gpu"], p["dst_gpu"]) for p in r["pairs_detail"]] == [(-1, -1), (-1, -1)]
    assert "== multi" in proc.stdout and "== single" in proc.stdout


def test_sendrecv_single(core, tmp_path):
    proc, report = _run(tmp_path, "--mode", "single", "--op", "sendrecv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (r,) = report["results"]
    assert r["op"] == "sendrecv" and r["verified"] and len(r["pair_gbps"]) == 2


def test_failing_child_fails_the_run(core, tmp_path):
    proc, report = _run(tmp_path, "--mode", "multi", env_extra={"SCALE_BENCH_FAIL": "receiver1"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "receiver1 failed" in proc.stderr and "injected failure" in proc.stderr, proc.stderr
    assert report is not None and not report["ok"] and "receiver1" in report["error"]


def test_vanishing_child_fails_the_run(core, tmp_path):
    proc, report = _run(tmp_path, "--mode", "single",
                        env_extra={"SCALE_BENCH_FAIL": "senders:exit"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "senders died (exit code 3)" in proc.stderr, proc.stderr
    assert report is not None and not report["ok"]
