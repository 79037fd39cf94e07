#!/usr/bin/env python3
"""bench_vs_peers.py --one-gpu (issue 23 item 5): the engine GPU0 -> GPU0 beside the transfer
engines a user without RDMA would pick instead, in ONE run on a machine with one GPU (ratios only
hold inside one run):

  1. build the project (cmake -G Ninja, Release, target tcpx_p2p_cli) unless --skip-build
  2. the engine: tcpx-p2p bench --local --gpu 0 --server-gpu 0 (two processes on GPU 0; --host
     with --memory host), one run per size and loop, write and read, --inflight 1 (serialized)
     and --inflight INFLIGHT, --verify (untimed: every received byte is checked after each size)
  3. the peers, through the shared reference scripts where they lie (PEERS_DIR/run_on_gpu.sh):
     NIXL 1.5.1 with UCX forced onto TCP (its evidence: UCX's own UCX_PROTO_INFO tables) and
     Mooncake TE 0.3.14 over TCP (MC_FORCE_TCP), same sizes, write and read, serialized and
     INFLIGHT in flight, each checksumming its last transfer; they get what is left of DEADLINE
  4. one markdown table (engine, NIXL, Mooncake, engine / best peer) and one JSON:
     OUT/bench_one_gpu.md, OUT/bench_one_gpu.json. Goal of issue 23: engine >= 5 x the best peer
     at every size from 256 KiB (reporting only).
A failing or absent peer drops only its own numbers and the report says why (in CI and on a
machine without the carried wheels the peers are skipped: "peers skipped: ..."). Only verified
points count. Exit status 0 when the report was written, 1 when the build failed or no report
could be written, 2 for a bad option.
"""

import argparse
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_RATIO = 5.0
OPS = ("write", "read")
PEERS = (  # (key, column, JSON files of run_on_gpu.sh, first found with results wins per point)
    ("nixl", "NIXL (UCX/TCP)", ("nixl_tcp.json", "nixl_tcp_retry.json")),
    ("mooncake", "Mooncake (TCP)", ("mooncake_tcp.json", "mooncake_tcp_pool.json")),
)

EPILOG = """\
The carried payload on the GPU machine (it reaches no registry; see the peers' README.md):
  .deps/peers/  a copy of ../shared/bench/peers (run_on_gpu.sh, nixl_tcp_bench.py, ...)
  .whl/         nixl-cu13 1.5.1 and mooncake-transfer-engine-cuda13 0.3.14, slimmed, cp312
  .peerlibs/lib Debian 12 libraries the peers NEED that the machine may lack
run_on_gpu.sh installs the wheels into the work folder and links only the missing libraries.

on the GPU machine (everything in one device command of <= 9 min, the build included):
  python3 scripts/bench_vs_peers.py --one-gpu --out $OUT
host memory, on a machine without a GPU (the peers with --device cpu):
  python3 scripts/bench_vs_peers.py --one-gpu --memory host --skip-build --sizes 256K,4M

Exit status: 0 when the report was written (whatever the goal says), 1 when the build failed or
no report could be written, 2 for a bad option."""


def size_bytes(text):
    units = {"": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20, "G": 30, "GB": 30, "GIB": 30}
    t = text.strip().upper()
    num = t.rstrip("KMGIB")
    if not num.isdigit() or t[len(num):] not in units:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size")
    return int(num) << units[t[len(num):]]


def size_label(s):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if s >= scale and s % scale == 0:
            return f"{s // scale} {unit}"
    return f"{s} B"


def parser(environ):
    def env(name, default):
        return environ.get(name) or default

    p = argparse.ArgumentParser(prog="bench_vs_peers.py --one-gpu", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--out", default=env("OUT", "out"), help="where the results go [OUT, out]")
    a("--build-dir", default=env("BUILD_DIR", "build"), help="build directory [BUILD_DIR, build]")
    a("--skip-build", action="store_true", default=environ.get("SKIP_BUILD") == "1",
      help="use the existing BUILD_DIR/tcpx-p2p [SKIP_BUILD=1]")
    a("--memory", choices=("auto", "gpu", "host"), default=env("MEMORY", "auto"),
      help="gpu: GPU 0 on both sides (peers --device cuda); host: host memory (peers --device cpu); "
           "auto: gpu when nvidia-smi lists a GPU [MEMORY, auto]")
    a("--sizes", default=env("SIZES", "256K,1M,4M,16M,64M,256M"),
      help="message sizes, K/M/G binary [SIZES, 256K,1M,4M,16M,64M,256M]")
    a("--inflight", type=int, default=int(env("INFLIGHT", "8")),
      help="transfers in flight of the pipelined loop, engine --inflight and peers --window, 2..64 "
           "[INFLIGHT, 8]")
    a("--engine-bytes", type=size_bytes, default=env("ENGINE_BYTES", "1G"),
      help="bytes per engine point: iterations = this / size, clamped to 16..1000 [ENGINE_BYTES, 1G]")
    a("--engine-timeout", type=int, default=int(env("ENGINE_TIMEOUT", "60")),
      help="seconds per engine run (one size, one loop) [ENGINE_TIMEOUT, 60]")
    a("--engine-budget", type=int, default=int(env("ENGINE_BUDGET", "150")),
      help="seconds for all engine runs: no run starts after it [ENGINE_BUDGET, 150]")
    a("--peers-dir", default=environ.get("TCPXP_PEERS_DIR"),
      help="the peers' scripts (run_on_gpu.sh, ...); searched: this, .deps/peers, ../shared/bench/peers "
           "[TCPXP_PEERS_DIR, unset]")
    a("--whl-dir", default=env("WHL_DIR", ".whl"), help="the peers' wheels [WHL_DIR, .whl]")
    a("--peerlibs-dir", default=env("PEERLIBS_DIR", ".peerlibs"),
      help="the carried libraries (DIR/lib) [PEERLIBS_DIR, .peerlibs]")
    a("--peers-python", default=env("PEERS_PYTHON", "python3"),
      help="Python that runs the peers (needs torch; its version must match the wheels') "
           "[PEERS_PYTHON, python3]")
    a("--peer-args", default=env("PEER_ARGS", "--point-seconds 2"),
      help="extra flags of both peer benches [PEER_ARGS, \"--point-seconds 2\"]")
    a("--skip-peers", action="store_true", default=environ.get("SKIP_PEERS") == "1",
      help="the engine only [SKIP_PEERS=1]")
    a("--deadline", type=int, default=int(env("DEADLINE", "530")),
      help="seconds after the start (the build included) by which everything has ended; the peers "
           "get what the build and the engine leave, less 20 s for the report [DEADLINE, 530]")
    a("--keep-work", action="store_true", default=environ.get("KEEP_WORK") == "1",
      help="keep the work folder with every log [KEEP_WORK=1]")
    a("--report", metavar="WORK_DIR", help="only rebuild the table and JSON from a kept work folder")
    return p


def parse_options(argv=None, environ=None):
    environ = os.environ if environ is None else environ
    p = parser(environ)
    o = p.parse_args(argv)
    try:
        o.size_list = [size_bytes(x) for x in o.sizes.split(",") if x.strip()]
    except argparse.ArgumentTypeError as e:
        p.error(f"--sizes (SIZES): {e}")
    if not o.size_list:
        p.error("--sizes (SIZES): no size")
    if not 2 <= o.inflight <= 64:
        p.error(f"--inflight (INFLIGHT): '{o.inflight}' is not 2..64")
    if o.report is not None and not os.path.isdir(o.report):
        p.error(f"--report: '{o.report}' is not a work folder")
    o.out = os.path.join(ROOT, o.out)
    return o


def engine_iters(o, size):
    return max(16, min(1000, o.engine_bytes // size))


class Run:
    def __init__(self, o, work):
        self.o, self.work, self.t0 = o, work, time.monotonic()

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def elapsed(self):
        return int(time.monotonic() - self.t0)

    def left(self):
        return self.o.deadline - self.elapsed()

    def say(self, text):
        print(f"== {text} [{self.elapsed()}s]", flush=True)

    def run_to_log(self, cmd, log, limit, env=None, cwd=ROOT):
        with open(self.path(log), "w") as f:
            return subprocess.run(["timeout", "-k", "10", str(int(limit))] + cmd, stdout=f,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd).returncode


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def last_lines(path, n=3):
    return " | ".join(line.strip() for line in read(path).splitlines()[-n:] if line.strip())


def gpu_count():
    if not shutil.which("nvidia-smi"):
        return 0
    p = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return sum(1 for line in p.stdout.splitlines() if line.startswith("GPU "))


def build(r):
    o = r.o
    if o.skip_build:
        r.say("1 build skipped (--skip-build)")
        return True
    r.say(f"1 build {o.build_dir} (Release, tcpx_p2p_cli)")
    rc = r.run_to_log(["cmake", "-S", ".", "-B", o.build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                       "-DTCPXP_BUILD_TESTS=OFF"], "configure.log", 200)
    if rc == 0:
        rc = r.run_to_log(["cmake", "--build", o.build_dir, "--target", "tcpx_p2p_cli"], "build.log",
                          max(10, min(400, r.left() - 200)))
    if rc:
        print(read(r.path("configure.log"))[-3000:] + read(r.path("build.log"))[-3000:])
        print(f"   build failed (exit {rc}): nothing to benchmark", flush=True)
    return rc == 0


def engine(r, tool, memory):
    """One tcpx-p2p bench run per (loop, size): a failure or timeout drops only that point."""
    o = r.o
    mem = ["--gpu", "0", "--server-gpu", "0"] if memory == "gpu" else ["--host"]
    r.say(f"2 engine {' '.join(mem)}: write,read, sizes {o.sizes}, --inflight 1 and {o.inflight}, --verify")
    start = time.monotonic()
    for inflight in (1, o.inflight):
        for size in o.size_list:
            name = f"engine_i{inflight}_{size}"
            limit = min(o.engine_timeout, o.engine_budget - (time.monotonic() - start))
            if limit < 5:
                with open(r.path(name + ".log"), "w") as f:
                    f.write(f"skipped: the engine budget of {o.engine_budget}s was spent\n")
                print(f"   {name}: skipped (engine budget spent)", flush=True)
                continue
            cmd = [tool, "bench", "--local"] + mem + [
                "--mode", "write,read", "--sizes", str(size), "--iters", str(engine_iters(o, size)),
                "--inflight", str(inflight), "--verify", "--timeout", "30", "--json", r.path(name + ".json")]
            rc = r.run_to_log(cmd, name + ".log", limit)
            got = load(r.path(name + ".json")) or {}
            rows = "; ".join(f"{x['mode']} {x['gbps']:.2f} GB/s" for x in got.get("results", []))
            print(f"   inflight {inflight} {size_label(size)}: exit {rc}: {rows or last_lines(r.path(name + '.log'))}",
                  flush=True)


def find_peers_dir(o):
    candidates = ([o.peers_dir] if o.peers_dir else []) + [
        os.path.join(ROOT, ".deps", "peers"), os.path.join(ROOT, "..", "shared", "bench", "peers")]
    return next((os.path.realpath(d) for d in candidates
                 if os.path.isfile(os.path.join(d, "run_on_gpu.sh"))), None)


def peers(r, memory):
    """run_on_gpu.sh of the shared peers: NIXL then Mooncake within what is left; its JSON files
    land in WORK/peers. Returns why the peers did not run, or None."""
    o = r.o
    if o.skip_peers:
        why = "--skip-peers"
    elif not (pdir := find_peers_dir(o)):
        why = ("the peers' scripts were not found (--peers-dir/TCPXP_PEERS_DIR, .deps/peers, "
               "../shared/bench/peers)")
    elif not glob.glob(os.path.join(ROOT, o.whl_dir, "*.whl")):
        why = f"no peer wheels in {o.whl_dir} (carry the slimmed nixl/mooncake wheels there)"
    elif r.left() - 20 < 60:
        why = f"only {r.left()}s left of DEADLINE={o.deadline}s"
    else:
        why = None
    if why:
        r.say(f"3 peers skipped: {why}")
        return why
    # One run_on_gpu.sh per peer (ONLY=...): run alone, it keeps 200 s for Mooncake out of NIXL's
    # time, more than this run has; so NIXL gets half of what is left, Mooncake the rest.
    r.say(f"3 peers from {pdir}: NIXL then Mooncake, {r.left() - 20}s in all")
    for n, (key, col, _) in enumerate(PEERS):
        budget = r.left() - 20 if n == len(PEERS) - 1 else (r.left() - 20) // 2
        if budget < 30:
            print(f"   {col}: skipped, only {budget}s left", flush=True)
            with open(r.path(f"peers_{key}.log"), "w") as f:
                f.write(f"=== {key}: skipped, only {budget}s of DEADLINE={o.deadline}s left\n")
            continue
        env = dict(os.environ, ONLY=key, DEVICE="cuda" if memory == "gpu" else "cpu", SIZES=o.sizes,
                   TOTAL_BUDGET=str(budget), BENCH_TIMEOUT=str(budget - 25), MC_POOL_PASS="0",
                   OUT=r.path("peers"), SITE=r.path("site"), ACTIVE=r.path("peerlibs_active"),
                   LOGROOT=r.path("peer_logs", key), PYTHON=o.peers_python,
                   WHL_DIR=os.path.join(ROOT, o.whl_dir), PEERLIBS_DIR=os.path.join(ROOT, o.peerlibs_dir),
                   EXTRA_ARGS=f"--window {o.inflight} {o.peer_args}".strip())
        rc = r.run_to_log(["bash", os.path.join(pdir, "run_on_gpu.sh")], f"peers_{key}.log", budget + 15,
                          env=env)
        for line in read(r.path(f"peers_{key}.log")).splitlines():
            if line.startswith(("===", "FATAL", "carried libs", "ldd ", "import ")) \
                    or "transport evidence" in line or " GB/s " in line or "ERROR" in line:
                print(f"   {line}", flush=True)
        print(f"   {col}: run_on_gpu.sh exit {rc}", flush=True)
    return None


# ---- report ---------------------------------------------------------------------------------------
def engine_points(work, sizes, inflights):
    """{(op, inflight, size): GB/s} of verified engine runs, the runs' facts, the errors."""
    points, runs, errors = {}, [], []
    for inflight in inflights:
        for size in sizes:
            name = f"engine_i{inflight}_{size}"
            j = load(os.path.join(work, name + ".json"))
            if not isinstance(j, dict) or not isinstance(j.get("results"), list):
                errors.append(f"engine {size_label(size)} inflight {inflight}: no result "
                              f"({last_lines(os.path.join(work, name + '.log'), 2) or 'no log'})")
                continue
            verified = (j.get("summary") or {}).get("verified") is True
            runs.append({"name": name, "inflight": inflight, "size": size, "verified": verified,
                         "transport": j.get("transport"), "client_memory": j.get("client_memory"),
                         "server_memory": j.get("server_memory"), "results": j["results"]})
            if not verified:
                errors.append(f"engine {size_label(size)} inflight {inflight}: data not verified: dropped")
                continue
            for x in j["results"]:
                if x.get("mode") in OPS and x.get("size") == size and x.get("gbps"):
                    points[(x["mode"], inflight, size)] = x["gbps"]
    return points, runs, errors


def peer_points(work, inflight):
    """Per peer: {(op, inflight, size): GB/s} of verified points, and what the run says of itself."""
    out = {}
    for key, _, files in PEERS:
        pts, facts = {}, {"runs": []}
        for fname in files:
            j = load(os.path.join(work, "peers", fname))
            if not isinstance(j, dict):
                continue
            summary = (j.get("evidence") or {}).get("summary") or []
            facts["runs"].append({"file": fname, "engine": j.get("engine"), "status": j.get("status"),
                                  "error": j.get("error"), "versions": j.get("versions"),
                                  "verdict": next((s[len("verdict: "):] for s in summary
                                                   if s.startswith("verdict: ")), None),
                                  "evidence": summary, "notes": j.get("notes"),
                                  "results": j.get("results")})
            for rec in j.get("results") or []:
                loop = {"serial": 1, "pipelined": rec.get("window")}.get(rec.get("loop"))
                k = (str(rec.get("op", "")).lower(), loop, rec.get("size"))
                if rec.get("verified") is True and rec.get("GBps") and loop in (1, inflight):
                    pts[k] = max(pts.get(k, 0), rec["GBps"])
        out[key] = (pts, facts)
    return out


def peer_status(work, key, facts, skipped):
    """One line on how a peer's run went."""
    if skipped:
        return f"skipped: {skipped}"
    if not facts["runs"]:
        log = read(os.path.join(work, f"peers_{key}.log"))
        hints = [line.strip() for line in log.splitlines()
                 if "FATAL" in line or "skipped" in line or "rc=" in line or "FAILED" in line]
        return "no result" + (f" ({'; '.join(hints[-3:])})" if hints else f" (no JSON; see peers_{key}.log)")
    parts = []
    for run in facts["runs"]:
        s = f"{run['file']}: {run['status']}"
        if run["error"]:
            s += f" ({run['error']})"
        if run["verdict"]:
            s += f"; transport: {run['verdict']}"
        parts.append(s)
    return "; ".join(parts)


def fmt(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def write_report(work, out):
    params = load(os.path.join(work, "params.json")) or {}
    sizes, inflight = params.get("sizes") or [], params.get("inflight") or 8
    eng, runs, errors = engine_points(work, sizes, (1, inflight))
    peer = peer_points(work, inflight)
    skipped = params.get("peers_skipped")
    rows, lines = [], []
    lines.append(f"# One GPU: the engine beside NIXL and Mooncake ({params.get('memory', '?')} memory)\n")
    lines.append(f"{params.get('date', '?')}, commit {params.get('commit', '?')}, {params.get('machine', '?')}. "
                 f"GB/s = 1e9 bytes/s; loop 1 = serialized (post, wait, next), {inflight} = {inflight} in "
                 f"flight. Only verified points count.\n")
    head = "| op | in flight | size | engine | " + " | ".join(col for _, col, _ in PEERS) + \
        f" | engine / best peer | >= {GOAL_RATIO:g}x |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for op in OPS:
        for loop in (1, inflight):
            for size in sizes:
                e = eng.get((op, loop, size))
                ps = {key: peer[key][0].get((op, loop, size)) for key, _, _ in PEERS}
                best = max((v for v in ps.values() if v), default=None)
                ratio = e / best if e and best else None
                ok = None if ratio is None else ratio >= GOAL_RATIO
                rows.append({"op": op, "inflight": loop, "size": size, "engine_gbps": e,
                             **{f"{k}_gbps": v for k, v in ps.items()}, "best_peer_gbps": best,
                             "ratio": ratio, "goal_met": ok})
                lines.append(f"| {op} | {loop} | {size_label(size)} | {fmt(e)} | " +
                             " | ".join(fmt(ps[k]) for k, _, _ in PEERS) +
                             f" | {fmt(ratio)} | {'-' if ok is None else ('yes' if ok else 'NO')} |")
    judged = [x for x in rows if x["goal_met"] is not None]
    missing = len(rows) - len(judged)
    if not judged:
        verdict = "NOT EVALUATED (no point with both the engine and a peer)"
    else:
        worst = min(judged, key=lambda x: x["ratio"])
        verdict = ("PASS" if all(x["goal_met"] for x in judged) and not missing else "FAIL") + \
            f" ({sum(x['goal_met'] for x in judged)} of {len(rows)} points at >= {GOAL_RATIO:g}x" + \
            (f", {missing} without a number" if missing else "") + \
            f"; lowest {worst['ratio']:.2f}x: {worst['op']} {size_label(worst['size'])} in flight {worst['inflight']})"
    lines.append(f"\nGoal (issue 23): engine >= {GOAL_RATIO:g} x the best peer at every size from 256 KiB: "
                 f"{verdict}\n")
    transport = next((x["transport"] for x in runs if x.get("transport")), None)
    iters = params.get("engine_iters") or {}
    lines.append(f"- engine: tcpx-p2p bench --local, {transport or 'no run'}; "
                 f"{next((x['client_memory'] for x in runs), '?')}; iterations per point " +
                 ", ".join(f"{size_label(int(k))}: {v}" for k, v in iters.items()) +
                 "; every received byte verified (--verify, untimed)")
    peers = {}
    for key, col, _ in PEERS:
        pts, facts = peer[key]
        status = peer_status(work, key, facts, skipped)
        versions = next((x["versions"] for x in facts["runs"] if x.get("versions")), None)
        peers[key] = {"status": status, "versions": versions, "runs": facts["runs"],
                      "points": len(pts)}
        lines.append(f"- {col}: {status}" + (f"; {json.dumps(versions)}" if versions else ""))
        for run in facts["runs"]:  # the transports named and, for NIXL, UCX's protocol choices
            for s in [x for x in run["evidence"] if "transports" in x or "remote memory" in x][:6]:
                lines.append(f"  - {run['file']}: {s[:220]}")
        if not pts and not skipped:
            errors.append(f"{col}: no verified point")
    lines.append("- problems: " + ("; ".join(errors) if errors else "none"))
    md = "\n".join(lines) + "\n"
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bench_one_gpu.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "bench_one_gpu.json"), "w") as f:
        json.dump({"params": params, "rows": rows, "goal": {"ratio": GOAL_RATIO, "verdict": verdict},
                   "engine": {"runs": runs}, "peers": peers, "errors": errors}, f, indent=1)
    print(md, end="", flush=True)
    print(f"   wrote {out}/bench_one_gpu.md and bench_one_gpu.json", flush=True)


def benchmark(o, r):
    memory = o.memory if o.memory != "auto" else ("gpu" if gpu_count() else "host")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip() or "?"
    params = {"sizes": o.size_list, "inflight": o.inflight, "memory": memory,
              "engine_iters": {str(s): engine_iters(o, s) for s in o.size_list},
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "commit": commit, "machine": f"{len(os.sched_getaffinity(0))} cores, {gpu_count()} GPUs",
              "deadline_s": o.deadline, "peer_args": o.peer_args}
    r.say(f"one GPU: memory {memory}, sizes {o.sizes}, in flight 1 and {o.inflight}, deadline {o.deadline}s")
    if not build(r):
        return 1
    tool = os.path.join(ROOT, o.build_dir, "tcpx-p2p")
    if not os.access(tool, os.X_OK):
        print(f"   {tool} missing (build, or leave out --skip-build)", flush=True)
        return 1
    with open(r.path("params.json"), "w") as f:
        json.dump(params, f, indent=1)
    engine(r, tool, memory)
    params["peers_skipped"] = peers(r, memory)
    with open(r.path("params.json"), "w") as f:
        json.dump(params, f, indent=1)
    r.say("4 report")
    try:
        write_report(r.work, o.out)
    except Exception as e:  # say why, exit 1
        print(f"   report failed: {type(e).__name__}: {e}", flush=True)
        return 1
    return 0


def main(argv=None):
    o = parse_options(argv)
    os.chdir(ROOT)
    # NVLink multicast stays off on shared hosts; loopback only.
    os.environ.update(NCCL_NVLS_ENABLE="0", TORCH_SYMM_MEM_DISABLE_MULTICAST="1", NVSHMEM_DISABLE_NVLS="1",
                      UCCL_SOCKET_IFNAME="lo")
    if o.report:
        try:
            write_report(os.path.abspath(o.report), o.out)
            return 0
        except Exception as e:
            print(f"report failed: {type(e).__name__}: {e}", flush=True)
            return 1
    work = tempfile.mkdtemp(prefix="bench_one_gpu.", dir="/tmp")
    try:
        return benchmark(o, Run(o, work))
    finally:
        if o.keep_work:
            print(f"   logs kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
