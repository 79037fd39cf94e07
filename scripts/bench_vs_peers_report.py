"""The issue-4 table, goals and JSON from the work folder of one scripts/bench_vs_peers.py run.

Inputs in the work folder (all optional; missing ones become "-" in the table):
  params.json                        the run's settings (sizes, iterations, ...)
  machine/*.txt                      nproc, nvidia-smi -L, uname -r, git commit, ...
  steps.tsv                          name, exit status (or "skipped"), seconds of every run
  tcp_<S>.log                        tcp_bw output: "tcp_loopback streams=S msg=M GB/s=X"
  tcp_cold_<S>.log                   the same with TCP_COLD_MSG messages (beyond the CPU caches)
  nccl_<NAME>.log / .env             nccl_sendrecv.py output: "LABEL size=N GB/s=X"; its KEY=VALUE env
  engine_<PART>_<REP>.json / .log / .mon.json
                                     tcpx-p2p bench --json output, its stdout, its CPU samples
                                     (PART small|large): the serialized loop (--inflight 1)
  engine_pipelined_<PART>_<REP>.*    the same, pipelined (--inflight PIPE_INFLIGHT)
  latency.json / .log                tcpx-p2p bench --mode latency --json output
  sweep_c<C>_s<S>.json / .log / .mon.json   channels x sockets runs and their CPU samples
  idle_before.mon.json, idle_after.mon.json   the idle CPU baseline, before and after the sweep
Every engine number comes from a bench --json file; a run without one (cut by its timeout or
failed) has no numbers, and the report says what is missing and why.
"""

import glob
import json
import os
import re

import bench_vs_peers_cpu as cpu

MODES = ("sendrecv", "write", "read")
NAMES = {"sendrecv": "send/recv", "write": "write", "read": "read"}
LARGE = 64 << 20  # G1/G2 sizes from here up
SMALL_GOAL_SIZES = (256 << 10, 1 << 20, 4 << 20, 16 << 20)  # G3


# ---- small helpers ---------------------------------------------------------------------------
def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def log_tail(path, n=15):
    return "\n".join(read(path).splitlines()[-n:])


def size_label(s):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if s >= scale and s % scale == 0:
            return f"{s // scale} {unit}"
    return f"{s} B"


def fmt(v, suffix=""):
    return "-" if v is None else f"{v:.2f}{suffix}"


def ratio(a, b):
    return a / b if a is not None and b else None


def strkeys(d):
    return {str(k): v for k, v in d.items()}


def key_values(line):
    """'nccl_8x4 size=4194304 GB/s=12.50' -> {'size': '4194304', 'GB/s': '12.50'}."""
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


# ---- the peers' outputs (key=value lines; not the engine's) ----------------------------------
def parse_tcp_bw(text):
    """tcp_bw's result line -> {"streams", "msg", "gbps"}, or None when it has none."""
    for line in reversed(text.splitlines()):
        kv = key_values(line)
        try:
            return {"streams": int(kv["streams"]), "msg": int(kv["msg"]), "gbps": float(kv["GB/s"])}
        except (KeyError, ValueError):
            continue
    return None


def parse_nccl(text):
    """nccl_sendrecv.py's lines (torchrun may prefix them) -> {size: GB/s}."""
    got = {}
    for line in text.splitlines():
        kv = key_values(line)
        try:
            got[int(kv["size"])] = float(kv["GB/s"])
        except (KeyError, ValueError):
            continue
    return got


def nccl_order(name):
    """'8x4_64M_4M' -> (8, 4, 64 MiB): 4x4 before 8x4 before 8x8, then by buffer size."""
    m = re.match(r"(\d+)x(\d+)_(\d+)([KMG]?)_", name)
    if not m:
        return (999, 0, 0)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(4)])


# ---- the engine's outputs: tcpx-p2p bench --json ---------------------------------------------
def channels_sockets(transport):
    """The bench JSON's "transport", e.g. 'tcp-socket on lo (device 0), 4 channels, chunk 512 KiB,
    4 sockets/comm' -> (4, 4); None for what it does not say."""
    ch = re.search(r"(\d+) channels", transport or "")
    so = re.search(r"(\d+) sockets/comm", transport or "")
    return (int(ch.group(1)) if ch else None, int(so.group(1)) if so else None)


def bench_json(prefix):
    """A bench run's --json (None when absent or without results) and its results ([] then)."""
    j = load(prefix + ".json")
    if not isinstance(j, dict) or not isinstance(j.get("results"), list):
        return None, []
    return j, j["results"]


def engine_transport(work):
    """The first engine run's transport summary (what the raw TCP runs match), or None."""
    for f in sorted(glob.glob(os.path.join(work, "engine_*.json"))):
        j, _ = bench_json(f[:-5])
        if j and j.get("transport"):
            return j["transport"]
    return None


def best_of(runs):
    """{mode: {size: best GB/s}} over the runs' results."""
    best = {}
    for run in runs:
        for r in run["results"]:
            b = best.setdefault(r["mode"], {})
            if r["size"] not in b or r["gbps"] > b[r["size"]]:
                b[r["size"]] = r["gbps"]
    return best


class Work:
    """Everything read from one work folder; attributes as the table and the JSON name them."""

    def __init__(self, work):
        self.work = work
        self.params = load(self.path("params.json"), {}) or {}
        self.errors = []  # {"run", "rc", "log_tail"} of failed runs
        self.steps = []
        for line in read(self.path("steps.tsv")).splitlines():
            name, rc, secs = (line.split("\t") + ["", ""])[:3]
            self.steps.append({"name": name, "rc": int(rc) if rc.lstrip("-").isdigit() else rc,
                               "seconds": int(secs) if secs.isdigit() else secs})
        self.step_rc = {s["name"]: s["rc"] for s in self.steps}
        self.machine = {os.path.basename(f)[:-4]: read(f).strip()
                        for f in sorted(glob.glob(self.path("machine", "*.txt")))}
        self.raw_tcp = self.tcp_runs("tcp_[0-9]*.log", "tcp")
        self.raw_tcp_cold = self.tcp_runs("tcp_cold_[0-9]*.log", "tcp_cold")
        self.cold_msg = self.params.get("tcp_cold_msg") or next(
            (v["msg"] for v in self.raw_tcp_cold.values()), None)
        self.read_nccl()
        self.sizes = self.params.get("sizes") or sorted(self.nccl_best)
        self.idle_each, self.idle_cores = cpu.idle_cores(
            [load(f) for f in sorted(glob.glob(self.path("idle*.mon.json")))])
        self.read_engine()
        self.read_sweep()

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def failed(self, name, log, has_numbers):
        """Notes a run's failure (not a skip) in self.errors."""
        rc = self.step_rc.get(name)
        if rc != "skipped" and (rc not in (0, None) or not has_numbers):
            self.errors.append({"run": name, "rc": rc, "log_tail": log_tail(log)})
        return rc

    def tcp_runs(self, pattern, step_prefix):
        got = {}
        for f in sorted(glob.glob(self.path(pattern))):
            r = parse_tcp_bw(read(f))
            if r:
                got[r["streams"]] = {"gbps": r["gbps"], "msg": r["msg"]}
            else:
                streams = os.path.basename(f)[:-4].rsplit("_", 1)[-1]
                self.failed(f"{step_prefix} {streams}", f, False)
        return got

    def read_nccl(self):
        self.nccl = []
        logs = glob.glob(self.path("nccl_*.log"))
        for f in sorted(logs, key=lambda f: nccl_order(os.path.basename(f)[5:])):
            name = os.path.basename(f)[len("nccl_"):-len(".log")]
            env = dict(line.split("=", 1) for line in read(f[:-4] + ".env").splitlines() if "=" in line)
            gbps = parse_nccl(read(f))
            rc = self.failed(f"nccl {name}", f, bool(gbps))
            self.nccl.append({"name": name, "rc": rc, "env": env, "gbps": gbps})
        self.nccl_best = {}
        for c in self.nccl:
            for s, v in c["gbps"].items():
                if s not in self.nccl_best or v > self.nccl_best[s]["gbps"]:
                    self.nccl_best[s] = {"gbps": v, "config": c["name"]}
        self.best_nccl = {s: v["gbps"] for s, v in self.nccl_best.items()}

    def run_of(self, prefix):
        """One bench run: {"run", "rc", "json", "results", "cpu"}."""
        name = os.path.basename(prefix)
        j, results = bench_json(prefix)
        rc = self.failed(name, prefix + ".log", bool(results))
        cost = cpu.cpu_cost(load(prefix + ".mon.json"), results, (j or {}).get("table_window"),
                            (j or {}).get("warmup", 1), self.idle_cores)
        return {"run": name, "rc": rc, "json": j, "results": results, "cpu": cost}

    def read_engine(self):
        # Two loops: engine_<PART>_<REP> serialized (--inflight 1, UCCL's), engine_pipelined_*
        # with PIPE_INFLIGHT in flight (NCCL's). Each keeps the best result per mode and size.
        self.engine_runs, self.pipe_runs = [], []
        self.transport = self.memory = None
        for f in sorted(glob.glob(self.path("engine_*.log"))):
            run = self.run_of(f[:-4])
            j = run["json"]
            if j:
                self.transport = self.transport or j.get("transport")
                self.memory = self.memory or (f'{j.get("client_memory")} -> {j.get("server_memory")}, '
                                              f'{j.get("client_data_path")}')
            pipelined = run["run"].startswith("engine_pipelined_")
            (self.pipe_runs if pipelined else self.engine_runs).append(run)
        self.engine_best = {m: {} for m in MODES} | best_of(self.engine_runs)
        self.pipe_best = {m: {} for m in MODES} | best_of(self.pipe_runs)
        # PIPE_INFLIGHT of the run (else what the pipelined runs report); <= 1: not run.
        self.pipe_n = self.params.get("pipe_inflight")
        if self.pipe_n is None:
            seen = {r.get("inflight", 0) for run in self.pipe_runs for r in run["results"]}
            self.pipe_n = max(seen) if seen else 0
        self.pipe_on = self.pipe_n > 1 or bool(self.pipe_runs)
        self.pipe_label = f"{self.pipe_n} in flight"
        self.channels, self.socks = channels_sockets(self.transport)
        self.streams = self.channels * self.socks if self.channels and self.socks else None
        self.latency = (load(self.path("latency.json"), {}) or {}).get("latency")
        if os.path.exists(self.path("latency.log")) and not self.latency:
            self.failed("latency", self.path("latency.log"), False)

    def read_sweep(self):
        self.sweep = []
        for f in glob.glob(self.path("sweep_c*_s*.log")):
            m = re.search(r"sweep_c(\d+)_s(\d+)\.log$", f)
            if not m:
                continue
            c, s = int(m.group(1)), int(m.group(2))
            run = self.run_of(f[:-4])
            rows = [r for r in run["results"] if r["mode"] == "write"]
            j = run["json"] or {}
            self.sweep.append({
                "channels": c, "sockets": s, "streams": c * s, "rc": run["rc"],
                "header_channels_sockets": channels_sockets(j.get("transport")),
                "write_gbps": {r["size"]: r["gbps"] for r in rows},
                "table_window": j.get("table_window"),
                "cpu": cpu.cpu_cost(load(f[:-4] + ".mon.json"), rows, j.get("table_window"),
                                    j.get("warmup", 1), self.idle_cores)})
        self.sweep.sort(key=lambda r: (r["channels"], r["sockets"]))

    def missing(self, best, runs):
        """Modes and sizes without a result ("read 256 MiB") and why: runs skipped for time, runs
        that failed, or none at all; None when nothing is missing."""
        miss = [f"{NAMES[m]} {size_label(s)}" for m in MODES for s in self.sizes if s not in best.get(m, {})]
        if not miss:
            return None
        why = {}
        for r in runs:
            if r["rc"] not in (0, None):
                key = "skipped for time (DEADLINE)" if r["rc"] == "skipped" else f"exit {r['rc']}"
                why.setdefault(key, []).append(r["run"])
        return {"missing": miss, "why": [f"{k}: {', '.join(v)}" for k, v in why.items()] or ["no runs"],
                "all": len(miss) == len(MODES) * len(self.sizes)}


# ---- goals of issue 4 ----------------------------------------------------------------------------
def goal(gid, text, checks):
    """checks: (label, value, limit, ok); no checks = SKIP (no data)."""
    if not checks:
        return {"goal": gid, "text": text, "result": "SKIP", "checks": []}
    ok = all(c[3] for c in checks)
    worst = min(checks, key=lambda c: (c[1] / c[2]) if c[2] else 0)
    return {"goal": gid, "text": text, "result": "PASS" if ok else "FAIL",
            "worst": f"{worst[0]}: {worst[1]:.2f} vs {worst[2]:.2f}",
            "checks": [{"what": c[0], "value": c[1], "limit": c[2], "ok": c[3]} for c in checks]}


def loop_goals(best, best_nccl, sizes):
    """G1..G5 for one loop; best: {mode: {size: GB/s}}, best_nccl: {size: GB/s}."""
    def e(m, s):
        return best.get(m, {}).get(s)

    big = [s for s in sizes if s >= LARGE]
    small = [s for s in sizes if s in SMALL_GOAL_SIZES]
    g = [(f"{m} {size_label(s)} GB/s", e(m, s), 45.0, e(m, s) >= 45.0)
         for m in MODES for s in big if e(m, s) is not None]
    out = [goal("G1", ">= 64 MiB: >= 45 GB/s", g)]
    for gid, text, group, factor in (("G2", ">= 64 MiB: >= 1.2x best NCCL", big, 1.2),
                                     ("G3", "256K/1M/4M/16M: >= 1.5x best NCCL", small, 1.5)):
        g = []
        for m in MODES:
            for s in group:
                if e(m, s) is not None and best_nccl.get(s):
                    r = e(m, s) / best_nccl[s]
                    g.append((f"{m} {size_label(s)} / NCCL", r, factor, r >= factor))
        out.append(goal(gid, text, g))
    for gid, text, mode in (("G4", "read >= 0.9x write", "read"), ("G5", "send/recv >= 0.9x write", "sendrecv")):
        g = []
        for s in sizes:
            if e(mode, s) is not None and e("write", s):
                r = e(mode, s) / e("write", s)
                g.append((f"{mode}/write {size_label(s)}", r, 0.9, r >= 0.9))
        out.append(goal(gid, text, g))
    return out


def latency_goal(latency):
    if not latency:
        return goal("G6", "latency median <= 25 us", [])
    return goal("G6", "latency median <= 25 us",
                [("median us", latency["median_us"], 25.0, latency["median_us"] <= 25.0)])


def goal_line(x, indent=""):
    return (f"{indent}- {x['goal']} {x['text']}: **{x['result']}**" +
            (f" (worst: {x['worst']})" if x.get("worst") else ""))


# ---- the markdown table ------------------------------------------------------------------------
def render(w, goals, goals_pipelined, g6):
    """The whole markdown report of Work w, as lines."""
    sizes = w.sizes

    def cells(values, suffix=""):
        return " | ".join(fmt(values.get(s), suffix) for s in sizes)

    def ratio_row(label, best, mode, peer):
        """peer: {size: GB/s} or one GB/s for every size."""
        r = {s: ratio(best.get(mode, {}).get(s), peer.get(s) if isinstance(peer, dict) else peer)
             for s in sizes}
        return f"| {label} | " + cells(r, "x") + " |"

    L = [f"| GB/s (decimal) | " + " | ".join(size_label(s) for s in sizes) + " |",
         "|---|" + "---|" * len(sizes)]
    for n in sorted(set(w.params.get("tcp_streams_table", [8, 16, 32])) | ({w.streams} if w.streams else set())):
        v = w.raw_tcp.get(n, {}).get("gbps")
        tag = ", the engine's count" if n == w.streams else ""
        L.append(f"| raw TCP {n} streams (any size{tag}) | " + cells({s: v for s in sizes}) + " |")
    cold_rows = set(w.raw_tcp_cold)
    if w.cold_msg:
        cold_rows |= ({w.streams} if w.streams else set()) | set(w.params.get("tcp_cold_streams", [16]))
    for n in sorted(cold_rows):
        v = w.raw_tcp_cold.get(n, {}).get("gbps")
        tag = ", the engine's count" if n == w.streams else ""
        L.append(f"| raw TCP {n} streams, {size_label(w.cold_msg)} per stream (working set beyond the CPU "
                 f"caches{tag}) | " + cells({s: v for s in sizes}) + " |")
    for c in w.nccl:
        e = c["env"]
        label = (f'NCCL {e.get("NCCL_SOCKET_NTHREADS", "?")}x{e.get("NCCL_NSOCKS_PERTHREAD", "?")}, '
                 f'{size_label(int(e.get("NCCL_BUFFSIZE", 0)))} buffer, '
                 f'{size_label(int(e.get("NCCL_P2P_NET_CHUNKSIZE", 0)))} chunks')
        if not c["gbps"]:
            label += f' (failed, exit {c["rc"]})'
        elif c["rc"] not in (0, None):
            label += f' (exit {c["rc"]}: the sizes it finished)'
        L.append(f"| {label} | " + cells(c["gbps"]) + " |")
    L.append("| **best NCCL** | " + cells(w.best_nccl) + " |")
    for m in MODES:
        L.append(f"| **engine {NAMES[m]}** | " + cells(w.engine_best.get(m, {})) + " |")
    if w.pipe_on:
        for m in MODES:
            L.append(f"| **engine {NAMES[m]}, {w.pipe_label}** | " + cells(w.pipe_best.get(m, {})) + " |")
    for m in MODES:
        L.append(ratio_row(f"engine {NAMES[m]} / best NCCL", w.engine_best, m, w.best_nccl))
    if w.pipe_on:
        L.append(ratio_row(f"engine write, {w.pipe_label} / best NCCL", w.pipe_best, "write", w.best_nccl))
    for m in MODES:
        L.append(ratio_row(f"engine {NAMES[m]} / raw TCP {w.streams or '?'} streams", w.engine_best, m,
                           w.tcp_same))
    if w.cold_msg:  # against raw TCP beyond the caches at the engine's stream count (else 16)
        cold_name = f"raw TCP {w.cold_n} streams, {size_label(w.cold_msg)} per stream"
        for m in MODES:
            L.append(ratio_row(f"engine {NAMES[m]} / {cold_name}", w.engine_best, m, w.tcp_cold_same))
        if w.pipe_on:
            L.append(ratio_row(f"engine write, {w.pipe_label} / {cold_name}", w.pipe_best, "write",
                               w.tcp_cold_same))
    L.append("")
    L.append(f"engine: {w.transport or 'unknown transport'}; memory {w.memory or '?'}; "
             f"{w.params.get('iters')} iterations below 64 MiB, {w.params.get('iters_large')} from 64 MiB, "
             f"best of {w.params.get('engine_repeats')} run(s) per loop; best NCCL per size over "
             f"{sum(1 for c in w.nccl if c['gbps'])} configurations")
    L.append("loops: \"engine write\" is UCCL's serialized loop (--inflight 1: each transfer waited for "
             "before the next); " +
             (f"\"engine write, {w.pipe_label}\" is NCCL's pipelined loop (--inflight {w.pipe_n}; "
              "nccl_sendrecv.py queues its sends without waiting)" if w.pipe_on
              else f"the pipelined loop was not run (PIPE_INFLIGHT={w.pipe_n})"))
    for what, miss in (("serialized loop", w.engine_missing),
                       (f"pipelined loop ({w.pipe_label})", w.pipe_missing)):
        if miss:
            said = "no results" if miss["all"] else f"no result for {', '.join(miss['missing'])}"
            L.append(f"{what}: {said} ({'; '.join(miss['why'])})")
    if w.cold_msg:
        L.append(f"raw TCP: tcp_bw resends one buffer per stream: {size_label(w.params.get('tcp_msg', 524288))} "
                 f"messages stay in the CPU's last-level cache, {size_label(w.cold_msg)} ones do not "
                 f"(the engine moves buffers of up to {size_label(max(sizes)) if sizes else '?'})")
    lat = w.latency
    if lat:
        L.append(f"latency: {lat['size']}-byte write + wait, {lat['iters']} round trips: "
                 f"median {lat['median_us']:.2f} us, p99 {lat['p99_us']:.2f} us "
                 f"(min {lat['min_us']:.2f}, max {lat['max_us']:.2f})")
    else:
        L.append("latency: no result")

    L += ["", "goals of issue 4 (reporting only):", "- serialized loop (UCCL's, --inflight 1):"]
    L += [goal_line(x, "  ") for x in goals]
    if w.pipe_on:
        L.append(f"- pipelined loop (NCCL's, --inflight {w.pipe_n})" +
                 (": no results (runs cut or failed)" if not any(w.pipe_best.values()) else ":"))
        L += [goal_line(x, "  ") for x in goals_pipelined]
    else:
        L.append(f"- pipelined loop: not run (PIPE_INFLIGHT={w.pipe_n})")
    L.append(goal_line(g6))
    L += sweep_table(w)

    bad = [s["name"] for s in w.steps if s["rc"] not in (0, "skipped")]
    skipped = [s["name"] for s in w.steps if s["rc"] == "skipped"]
    L.append("")
    L.append("runs that failed: " + (", ".join(bad) if bad else "none") +
             ("; skipped for time: " + ", ".join(skipped) if skipped else ""))
    return L


def sweep_table(w):
    if not w.sweep:
        return []
    ssizes = sorted({s for r in w.sweep for s in r["write_gbps"]} | set(w.params.get("sweep_sizes", [])))
    L = ["", f"channels x sockets (engine write, GB/s; CPU over each run's timed window, idle "
         f"baseline {fmt(w.idle_cores)} cores subtracted):", "",
         "| channels | sockets | streams | " + " | ".join(f"write {size_label(s)}" for s in ssizes) +
         " | raw TCP same streams | largest / raw TCP | cores busy | cores per 10 GB/s | "
         "cores per 10 GB/s (bench processes) |",
         "|---|---|---|" + "---|" * len(ssizes) + "---|---|---|---|---|"]
    for r in w.sweep:
        t = w.raw_tcp.get(r["streams"], {}).get("gbps")
        last = r["write_gbps"].get(ssizes[-1]) if ssizes else None
        c = r["cpu"] or {}
        L.append(f"| {r['channels']} | {r['sockets']} | {r['streams']} | " +
                 " | ".join(fmt(r["write_gbps"].get(s)) for s in ssizes) +
                 f" | {fmt(t)} | {fmt(ratio(last, t), 'x')} | {fmt(c.get('cores_busy_machine'))} | "
                 f"{fmt(c.get('cores_per_10gbps_machine'))} | {fmt(c.get('cores_per_10gbps_processes'))} |")
    return L


# ---- the whole report ----------------------------------------------------------------------------
def build(work):
    """(markdown table, JSON dict) of one work folder."""
    w = Work(work)
    w.tcp_same = w.raw_tcp.get(w.streams, {}).get("gbps") if w.streams else None
    w.cold_n = w.streams or 16
    w.tcp_cold_same = w.raw_tcp_cold.get(w.cold_n, {}).get("gbps")
    w.engine_missing = w.missing(w.engine_best, w.engine_runs)
    w.pipe_missing = w.missing(w.pipe_best, w.pipe_runs) if w.pipe_on else None
    # "goals": the serialized loop's G1..G5 and G6; "goals_pipelined": G1..G5 of the pipelined loop.
    goals = loop_goals(w.engine_best, w.best_nccl, w.sizes)
    goals_pipelined = loop_goals(w.pipe_best, w.best_nccl, w.sizes) if w.pipe_on else []
    g6 = latency_goal(w.latency)
    table = "\n".join(render(w, goals, goals_pipelined, g6)) + "\n"

    def ratios(best, peer):
        return {m: strkeys({s: ratio(best.get(m, {}).get(s), peer.get(s) if isinstance(peer, dict) else peer)
                            for s in w.sizes}) for m in MODES}

    pm = w.pipe_missing or {}
    result = {
        "tool": "scripts/bench_vs_peers.py",
        "units": {"gbps": "1e9 bytes/s", "latency": "microseconds", "sizes": "bytes"},
        "machine": w.machine,
        "params": w.params,
        "steps": w.steps,
        "raw_tcp": strkeys(w.raw_tcp),
        "nccl": {"configs": [dict(c, gbps=strkeys(c["gbps"])) for c in w.nccl], "best": strkeys(w.nccl_best)},
        "engine": {"transport": w.transport, "memory": w.memory, "channels": w.channels,
                   "sockets_per_comm": w.socks, "streams": w.streams,
                   "best": {m: strkeys(v) for m, v in w.engine_best.items()},
                   "runs": w.engine_runs, "latency": w.latency, "loop": "serialized", "inflight": 1},
        # NCCL's loop: PIPE_INFLIGHT transfers in flight; "missing": modes and sizes without a result
        "engine_pipelined": {"run": w.pipe_on, "inflight": w.pipe_n, "loop": "pipelined",
                             "best": {m: strkeys(v) for m, v in w.pipe_best.items()}, "runs": w.pipe_runs,
                             "missing": pm.get("missing", []), "missing_why": pm.get("why", [])},
        # tcp_bw with TCP_COLD_MSG per stream: a working set beyond the CPU caches
        "raw_tcp_cold": {"msg": w.cold_msg, "streams": strkeys(w.raw_tcp_cold)},
        "ratios": {
            "engine_over_best_nccl": ratios(w.engine_best, w.best_nccl),
            "engine_over_raw_tcp_same_streams": ratios(w.engine_best, w.tcp_same),
            "engine_pipelined_over_best_nccl": ratios(w.pipe_best, w.best_nccl),
            "engine_pipelined_over_raw_tcp_same_streams": ratios(w.pipe_best, w.tcp_same),
            "engine_over_raw_tcp_cold": ratios(w.engine_best, w.tcp_cold_same),
            "engine_pipelined_over_raw_tcp_cold": ratios(w.pipe_best, w.tcp_cold_same),
            "raw_tcp_cold_streams": w.cold_n,
        },
        "goals": goals + [g6],
        "goals_pipelined": goals_pipelined,
        "sweep": {"idle_cores": w.idle_cores, "idle_cores_each": w.idle_each,
                  "rows": [dict(r, write_gbps=strkeys(r["write_gbps"])) for r in w.sweep]},
        "errors": w.errors,
        "table_markdown": table,
    }
    return table, result


def write(work, out):
    """Prints the table and writes OUT/bench_vs_peers.md and .json."""
    table, result = build(work)
    print(table, end="")
    os.makedirs(out, exist_ok=True)
    md, js = os.path.join(out, "bench_vs_peers.md"), os.path.join(out, "bench_vs_peers.json")
    with open(md, "w") as f:
        f.write(table)
    with open(js, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwritten: {md}, {js}")
