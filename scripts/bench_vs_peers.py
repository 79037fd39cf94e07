#!/usr/bin/env python3
"""The benchmark of issue 4: the engine GPU0 -> GPU1 against its peers, all in ONE run on ONE
machine (ratios only hold inside one run: raw TCP and NCCL move by 10-20% between leases).

  1. build the project (cmake -G Ninja, Release, into --build-dir) and shared/bench/tcp_bw.cc
  2. the engine, default configuration: tcpx-p2p bench --local, send/recv, write and read over
     --sizes in two loops: UCCL's serialized loop (--inflight 1: each transfer waited for before
     the next) and NCCL's pipelined one (--inflight PIPE_INFLIGHT, as nccl_sendrecv.py queues its
     sends on the stream without waiting); then the latency mode (8-byte write + wait, median
     round trip). Every number is read from the bench --json file of the run.
  3. raw loopback TCP (tcp_bw, 512 KiB messages, 3 s) at 8, 16, 32 streams, the engine's stream
     count (channels x sockets of the bench JSON's transport) and the sweep's; then again at the
     engine's count and 16 with TCP_COLD_MSG (16 MiB) messages, beyond the CPU caches
  4. NCCL over sockets (torchrun, nccl_sendrecv.py), swept over threads x sockets and buffer /
     chunk sizes; the best configuration per size is the peer to beat
  5. "channels x sockets": engine write bandwidth and CPU cost for UCCL_TCPX_NUM_CHANNELS x
     UCCL_SOCKET_NSOCKS
  6. one markdown table + goals of issue 4 (bench_vs_peers_report.py) to stdout and
     OUT/bench_vs_peers.md; every number, configuration and machine fact to OUT/bench_vs_peers.json
Every step has a timeout; a failing run drops only its own numbers. With --one-gpu, issue 23's
run instead: the engine GPU0 -> GPU0 beside NIXL and Mooncake (bench_vs_peers_one_gpu.py). Exit status 0 when all steps
ran (whatever the goals say), 1 when the build failed or no report could be written, 2 for a bad
option. Run with --help for the options.
"""

import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import bench_vs_peers_cpu as cpu
import bench_vs_peers_report as report
from bench_vs_peers_options import parse_options, to_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LARGE = 64 << 20  # sizes from here up run ITERS_LARGE iterations
NCCL_CONFIG = re.compile(r"^(\d+)x(\d+)/(\d+[KMG]?)/(\d+[KMG]?)$")


class Run:
    """One benchmark run's state: options, work folder, clock and the runs' record (steps.tsv)."""

    def __init__(self, opt, work):
        self.o, self.work, self.t0 = opt, work, time.monotonic()
        self.tool = self.tcp_bw = self.bench_dir = None
        self.gpus, self.mem_flag, self.engine_streams = 0, [], None

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def elapsed(self):
        return int(time.monotonic() - self.t0)

    def step(self, text):
        print(f"== step {text} [{self.elapsed()}s]", flush=True)

    def fit(self, limit, reserve):
        """limit, cut so that a run started now ends `reserve` seconds before DEADLINE (0 when no
        time is left; callers skip a run below a few seconds)."""
        return max(0, min(limit, self.o.deadline - self.elapsed() - reserve))

    def record(self, name, rc, seconds):
        with open(self.path("steps.tsv"), "a") as f:
            f.write(f"{name}\t{rc}\t{int(seconds)}\n")

    def skipped(self, name, log):
        with open(self.path(log), "w") as f:
            f.write(f"no time left before DEADLINE={self.o.deadline}s: skipped\n")
        self.record(name, "skipped", 0)

    def run_to_log(self, cmd, log, limit, env=None, kill_after=10):
        """cmd under `timeout`, its output to the work folder's `log`; its exit status."""
        full = ["timeout", "-k", str(kill_after), str(limit)] + cmd
        with open(self.path(log), "w") as f:
            return subprocess.run(full, stdout=f, stderr=subprocess.STDOUT, env=env).returncode


def note(text):
    print(f"   {text}", flush=True)


def sh(cmd, timeout=30):
    """A fact about the machine: the command's stripped output, '' when it fails."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        return p.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_facts(r):
    """machine/*.txt of the work folder (the report lists them); the number of GPUs."""
    os.makedirs(r.path("machine"), exist_ok=True)
    smi = "no nvidia-smi"
    if shutil.which("nvidia-smi"):
        smi = sh(["nvidia-smi", "-L"])
    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                      if line.startswith("model name")), "?")
    numa = next((line for line in sh(["lscpu"]).splitlines() if line.startswith("NUMA node(s)")), "NUMA: ?")
    facts = {
        "nproc": str(len(os.sched_getaffinity(0))), "kernel": os.uname().release, "host": os.uname().nodename,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model, "numa": numa, "git_commit": sh(["git", "rev-parse", "HEAD"]) or "?",
        "git_dirty": f"{len(sh(['git', 'status', '--porcelain']).splitlines())} changed files",
        "nvidia_smi_L": smi,
        "toolchain": "\n".join(x for x in (sh(["cmake", "--version"]).split("\n")[0],
                                           sh(["c++", "--version"]).split("\n")[0],
                                           sh(["nvcc", "--version"]).split("\n")[-1]) if x),
    }
    if smi != "no nvidia-smi":
        facts["driver"] = "\n".join(sorted(set(sh(["nvidia-smi", "--query-gpu=driver_version",
                                                   "--format=csv,noheader"]).splitlines())))
    for k, v in facts.items():
        with open(r.path("machine", k + ".txt"), "w") as f:
            f.write(v + "\n")
    r.gpus = sum(1 for line in smi.splitlines() if line.startswith("GPU "))
    for line in smi.splitlines():
        note(line)
    note(f"{facts['nproc']} cores, kernel {facts['kernel']}, commit {facts['git_commit'][:12]}, "
         f"{facts['git_dirty']}")


def build(r):
    """Step 1; False when the build failed."""
    o = r.o
    if o.skip_build:
        r.step("1 build skipped (SKIP_BUILD=1)")
        return True
    r.step(f"1 build {o.build_dir} (Release, target {o.build_target})")
    t = time.monotonic()
    configure = ["cmake", "-S", ".", "-B", o.build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"]
    with open(r.path("build.log"), "w") as log:
        def run(cmd, limit):
            return subprocess.run(["timeout", str(limit)] + cmd, stdout=log, stderr=subprocess.STDOUT,
                                  cwd=ROOT).returncode
        rc = run(configure + o.cmake_args.split(), 300)
        if rc == 0:
            rc = run(["cmake", "--build", o.build_dir, "--target", o.build_target], r.fit(900, 60))
    if rc and o.build_target != "all" and "unknown target" in report.read(r.path("build.log")):
        note(f"target {o.build_target} unknown: building all")
        with open(r.path("build.log"), "a") as log:
            rc = subprocess.run(["timeout", str(r.fit(900, 60)), "cmake", "--build", o.build_dir],
                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    r.record("build", rc, time.monotonic() - t)
    if rc:
        lines = report.read(r.path("build.log")).splitlines()
        hits = [i for i, line in enumerate(lines) if re.search("error|FAILED|CMake Error", line)]
        shown = [line for i in hits for line in lines[i:i + 4]] or lines[-30:]
        print("\n".join(shown[:40]))
        note(f"build failed (exit {rc}): nothing to benchmark")
        return False
    note(f"built in {int(time.monotonic() - t)} s")
    return True


def find_peers(r):
    """shared/bench (tcp_bw.cc, nccl_sendrecv.py) and a compiled tcp_bw, where found."""
    # ../shared does not travel to the GPU machine: there, carry .deps/shared (a copy of it).
    shared = r.o.shared
    candidates = ([os.path.join(shared, "bench"), shared] if shared else []) + [
        os.path.join(ROOT, "..", "shared", "bench"), os.path.join(ROOT, ".deps", "shared", "bench"),
        os.path.join(ROOT, "shared", "bench")]
    r.bench_dir = next((os.path.realpath(d) for d in candidates if os.path.isfile(os.path.join(d, "tcp_bw.cc"))),
                       None)
    if not r.bench_dir:
        note("shared/bench not found (--shared/TCPXP_SHARED, ../shared/bench, .deps/shared/bench, "
             "shared/bench): raw TCP and NCCL skipped")
        return
    note(f"peers from {r.bench_dir}")
    cmd = [os.environ.get("CXX", "g++"), "-O2", "-pthread", os.path.join(r.bench_dir, "tcp_bw.cc"),
           "-o", r.path("tcp_bw")]
    if r.run_to_log(cmd, "tcp_bw.build.txt", 120, kill_after=5) == 0:
        r.tcp_bw = r.path("tcp_bw")
    else:
        note("compiling tcp_bw.cc failed: raw TCP skipped")
        print(report.read(r.path("tcp_bw.build.txt")), end="")


def bench_run(r, name, limit, args, env_extra=None):
    """One tcpx-p2p bench run: NAME.log, NAME.json (--json) and NAME.mon.json (CPU samples).
    Its exit status as the notes show it: "exit N", or "skipped" when no time was left."""
    if limit < 5:
        r.skipped(name, name + ".log")
        return "skipped"
    t = time.monotonic()
    cmd = (["timeout", "-k", "10", str(limit), r.tool, "bench", "--local"] + r.mem_flag +
           ["--timeout", "30"] + r.o.engine_args.split() + ["--json", r.path(name + ".json")] + args)
    env = dict(os.environ, **(env_extra or {}))
    rc = cpu.run_monitored(cmd, r.path(name + ".log"), r.path(name + ".mon.json"), env)
    r.record(name, rc, time.monotonic() - t)
    return f"exit {rc}"


def rows_of(r, name):
    """The run's results, compact: 'write 4 MiB 12.345 GB/s; ...' (from its JSON)."""
    _, results = report.bench_json(r.path(name))
    return "".join(f"{x['mode']} {report.size_label(x['size'])} {x['gbps']:.3f} GB/s; " for x in results)


def engine_pass(r, name, inflight):
    """ENGINE_REPEATS runs of send/recv, write and read over SIZES with `inflight` in flight
    (after ENGINE_ARGS, so it wins): NAME_small_R (ITERS), NAME_large_R (ITERS_LARGE, sizes from
    64 MiB)."""
    o = r.o
    small = [s for s in o.sizes if s < LARGE]
    large = [s for s in o.sizes if s >= LARGE]
    for rep in range(1, o.engine_repeats + 1):
        for part, sizes, iters, what in (("small", small, o.iters, "< 64 MiB"),
                                         ("large", large, o.iters_large, ">= 64 MiB")):
            if not sizes:
                continue
            run = f"{name}_{part}_{rep}"
            how = bench_run(r, run, r.fit(o.engine_timeout, 10),
                            ["--mode", "sendrecv,write,read", "--sizes", ",".join(map(str, sizes)),
                             "--iters", str(iters), "--inflight", str(inflight)])
            note(f"run {rep} {what}: {how} [{r.elapsed()}s]: {rows_of(r, run)}")


def engine(r):
    """Steps 2, 2b, 2c: both loops and the latency; the engine's stream count."""
    o = r.o
    r.step(f"2 engine (default configuration), serialized loop (UCCL's, --inflight 1): sizes "
           f"{o.sizes_text}, {o.engine_repeats} runs, memory {' '.join(r.mem_flag) or 'auto (GPU if present)'}")
    engine_pass(r, "engine", 1)
    if o.pipe_inflight > 1:
        r.step(f"2b engine, pipelined loop (NCCL's, --inflight {o.pipe_inflight}): sizes {o.sizes_text}, "
               f"{o.engine_repeats} runs")
        engine_pass(r, "engine_pipelined", o.pipe_inflight)
    else:
        r.step(f"2b engine, pipelined loop skipped (PIPE_INFLIGHT={o.pipe_inflight})")
    transport = report.engine_transport(r.work)
    note(f"transport: {transport or '? (no bench JSON)'}")
    channels, socks = report.channels_sockets(transport)
    if channels and socks:
        r.engine_streams = channels * socks
        note(f"engine streams: {channels} channels x {socks} sockets/comm = {r.engine_streams}")
    else:
        note("could not read channels x sockets from the bench JSON: no raw TCP at the engine's stream count")

    r.step(f"2c engine latency: 8-byte write + wait, {o.lat_iters} round trips")
    how = bench_run(r, "latency", r.fit(o.engine_timeout, 10),
                    ["--mode", "latency", "--latency-iters", str(o.lat_iters)])
    lat = (report.load(r.path("latency.json"), {}) or {}).get("latency")
    note(f"{how}: " + (f"median {lat['median_us']:.2f} us, p99 {lat['p99_us']:.2f} us" if lat else "no result"))


def sweep_pairs(o):
    """(channels, sockets) of the sweep within SWEEP_MAX_STREAMS."""
    return [(c, k) for c in o.sweep_channels for k in o.sweep_socks if c * k <= o.sweep_max_streams]


def tcp_run(r, log, name, streams, msg):
    o = r.o
    limit = r.fit(int(o.tcp_seconds * 3 + 30), 10)
    if limit < o.tcp_seconds + 5:
        r.skipped(name, log + ".log")
        note(f"{streams} streams: no time left: skipped")
        return
    t = time.monotonic()
    rc = r.run_to_log([r.tcp_bw, str(streams), f"{o.tcp_seconds:g}", str(msg)], log + ".log", limit,
                      kill_after=5)
    r.record(name, rc, time.monotonic() - t)
    last = (report.read(r.path(log + ".log")).splitlines() or [""])[-1]
    note(f"{streams} streams: exit {rc}: {last}")


def raw_tcp(r):
    """Step 3: the table's stream counts, the engine's and the sweep's (its "same streams" column);
    3b: 16 MiB per stream, beyond the CPU caches like the engine's buffers."""
    o = r.o
    if not r.tcp_bw:
        r.step("3 raw TCP skipped (no tcp_bw)")
        return
    want = set(o.tcp_streams) | ({r.engine_streams} if r.engine_streams else set())
    if o.sweep:
        want |= {c * k for c, k in sweep_pairs(o)}
    r.step(f"3 raw TCP: tcp_bw STREAMS {o.tcp_seconds:g} {o.tcp_msg} for streams "
           f"{' '.join(map(str, sorted(want)))}")
    for s in sorted(want):
        tcp_run(r, f"tcp_{s}", f"tcp {s}", s, o.tcp_msg)
    if o.tcp_cold_msg:
        cold = sorted({16} | ({r.engine_streams} if r.engine_streams else set()))
        r.step(f"3b raw TCP beyond the CPU caches: tcp_bw STREAMS {o.tcp_seconds:g} {o.tcp_cold_msg} "
               f"for streams {' '.join(map(str, cold))}")
        for s in cold:
            tcp_run(r, f"tcp_cold_{s}", f"tcp_cold {s}", s, o.tcp_cold_msg)
    else:
        r.step("3b raw TCP beyond the CPU caches skipped (TCP_COLD_MSG empty)")


def nccl_skip_reason(r):
    nccl_py = os.path.join(r.bench_dir, "nccl_sendrecv.py") if r.bench_dir else None
    if r.o.skip_nccl:
        return "SKIP_NCCL=1"
    if not nccl_py or not os.path.isfile(nccl_py):
        return "nccl_sendrecv.py not found"
    if r.gpus < 2:
        return "fewer than 2 GPUs"
    probe = ('import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, '
             '"nccl", torch.cuda.nccl.version(), "gpus", torch.cuda.device_count())')
    if r.run_to_log(["python3", "-c", probe], os.path.join("machine", "torch.txt"), 90) != 0:
        tail = (report.read(r.path("machine", "torch.txt")).splitlines() or [""])[-1]
        return f"python3 cannot import torch: {tail}"
    return None


def nccl(r):
    """Step 4: each configuration is one torchrun (2 processes, GPU0 sends, GPU1 receives,
    nccl_sendrecv.py sweeps 256 KiB .. 256 MiB itself). The report keeps the best per size."""
    o = r.o
    why = nccl_skip_reason(r)
    if why:
        r.step(f"4 NCCL skipped ({why})")
        return
    r.step(f"4 NCCL over sockets: {' '.join(o.nccl_configs)} (each <= {o.nccl_timeout}s, "
           f"all <= {o.nccl_budget}s)")
    note(report.read(r.path("machine", "torch.txt")).strip())
    torchrun = ["torchrun"] if shutil.which("torchrun") else ["python3", "-m", "torch.distributed.run"]
    start, reserve, port = time.monotonic(), (100 if o.sweep else 15), 29611  # 100 s: keep the sweep's time
    for cfg in o.nccl_configs:
        m = NCCL_CONFIG.match(cfg)
        if not m:
            note(f"NCCL config '{cfg}' is not THREADSxSOCKETS/BUFF/CHUNK: skipped")
            continue
        th, so = int(m.group(1)), int(m.group(2))
        name = f"{th}x{so}_{m.group(3)}_{m.group(4)}"
        if th * so > 64:
            note(f"{cfg}: threads x sockets > 64 (NCCL refuses it): skipped")
            continue
        if time.monotonic() - start > o.nccl_budget:
            note(f"{cfg}: NCCL budget of {o.nccl_budget}s spent: skipped")
            r.record(f"nccl {name}", "skipped", 0)
            continue
        limit = r.fit(o.nccl_timeout, reserve)
        if limit < o.nccl_timeout and limit < 30:  # cut by DEADLINE to under 30 s
            note(f"{cfg}: too close to DEADLINE={o.deadline}s: skipped")
            r.record(f"nccl {name}", "skipped", 0)
            continue
        envs = {"NCCL_NET": "Socket", "NCCL_P2P_DISABLE": "1", "NCCL_SHM_DISABLE": "1",
                "NCCL_SOCKET_IFNAME": "lo", "NCCL_SOCKET_NTHREADS": str(th), "NCCL_NSOCKS_PERTHREAD": str(so),
                "NCCL_BUFFSIZE": str(to_bytes(m.group(3))),
                "NCCL_P2P_NET_CHUNKSIZE": str(to_bytes(m.group(4))), "NCCL_NVLS_ENABLE": "0",
                "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
        with open(r.path(f"nccl_{name}.env"), "w") as f:  # KEY=VALUE lines, for the report
            f.write("".join(f"{k}={v}\n" for k, v in envs.items()))
        env = dict(os.environ, **envs, LABEL=f"nccl_{name}", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        t = time.monotonic()
        rc = r.run_to_log(torchrun + ["--nproc_per_node=2", "--master_addr=127.0.0.1", f"--master_port={port}",
                                      os.path.join(r.bench_dir, "nccl_sendrecv.py")],
                          f"nccl_{name}.log", limit, env=env)
        port += 1
        r.record(f"nccl {name}", rc, time.monotonic() - t)
        got = report.parse_nccl(report.read(r.path(f"nccl_{name}.log")))
        note(f"{cfg}: exit {rc} in {int(time.monotonic() - t)}s: " +
             " ".join(f"size={s} GB/s={g:.2f}" for s, g in got.items()))


def sweep(r):
    """Step 5: engine write for channels x sockets, between two idle CPU baselines."""
    o = r.o
    if not o.sweep:
        r.step("5 channels x sockets skipped (SWEEP=0)")
        return
    r.step(f"5 channels x sockets: channels {{{' '.join(map(str, o.sweep_channels))}}} x sockets "
           f"{{{' '.join(map(str, o.sweep_socks))}}}, write {o.sweep_sizes_text}, {o.sweep_iters} iterations")
    cpu.idle(2, r.path("idle_before.mon.json"))  # nothing of ours runs for these 2 s (again after)
    start = time.monotonic()
    for c in o.sweep_channels:
        for k in o.sweep_socks:
            name = f"sweep_c{c}_s{k}"
            if c * k > o.sweep_max_streams:
                note(f"{c} x {k} > {o.sweep_max_streams} streams: skipped")
                continue
            if time.monotonic() - start > o.sweep_budget:
                note(f"{c} x {k}: sweep budget of {o.sweep_budget}s spent: skipped")
                r.record(name, "skipped", 0)
                continue
            how = bench_run(r, name, r.fit(o.engine_timeout, 10),
                            ["--mode", "write", "--sizes", ",".join(map(str, o.sweep_sizes)),
                             "--iters", str(o.sweep_iters)],
                            {"UCCL_TCPX_NUM_CHANNELS": str(c), "UCCL_SOCKET_NSOCKS": str(k)})
            note(f"{c} x {k}: {how} [{r.elapsed()}s]: {rows_of(r, name)}")
    cpu.idle(2, r.path("idle_after.mon.json"))


def make_report(r, out):
    r.step("report")
    try:
        report.write(r.work, out)
        return True
    except Exception as e:  # a report that cannot be built: say why (and where), exit 1
        traceback.print_exc()
        note(f"report failed: {type(e).__name__}: {e}")
        return False


def benchmark(o, r):
    """Steps 1-6 in the work folder; the exit status."""
    r.step("machine info")
    machine_facts(r)
    if not build(r):
        return 1
    r.tool = os.path.join(ROOT, o.build_dir, "tcpx-p2p")
    if not os.access(r.tool, os.X_OK):
        note(f"{r.tool} missing (build, or leave out --skip-build)")
        return 1
    r.run_to_log([r.tool, "bench", "--help"], "bench_help.txt", 30)
    find_peers(r)
    if o.engine_memory == "host" or (o.engine_memory == "auto" and r.gpus == 0):
        r.mem_flag = ["--host"]
    o.write_params(r.path("params.json"))
    engine(r)
    raw_tcp(r)
    nccl(r)
    sweep(r)
    ok = make_report(r, o.out)
    r.step("done")
    if o.keep_work:
        note(f"logs kept in {r.work}")
    if not ok:
        note("report failed")
        return 1
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--one-gpu" in argv:  # issue 23's run on one GPU beside NIXL and Mooncake: its own options
        import bench_vs_peers_one_gpu
        return bench_vs_peers_one_gpu.main([a for a in argv if a != "--one-gpu"])
    o = parse_options(argv, ROOT)
    os.chdir(ROOT)
    # NVLink multicast stays off on shared hosts (and our runs never want it); loopback only.
    os.environ.update(NCCL_NVLS_ENABLE="0", TORCH_SYMM_MEM_DISABLE_MULTICAST="1", NVSHMEM_DISABLE_NVLS="1",
                      UCCL_SOCKET_IFNAME="lo")
    if o.report:
        r = Run(o, o.report)
        return 0 if make_report(r, o.out) else 1
    work = tempfile.mkdtemp(prefix="bench_vs_peers.", dir="/tmp")
    try:
        return benchmark(o, Run(o, work))
    finally:
        if not o.keep_work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
