#!/usr/bin/env bash
# The benchmark of issue 4: the engine GPU0 -> GPU1 against its peers, all in ONE run on ONE
# machine (ratios only hold inside one run: raw TCP and NCCL move by 10-20% between leases).
#
#   1. build the project (cmake -G Ninja, Release, into $BUILD_DIR) and ../shared/bench/tcp_bw.cc
#   2. the engine, default configuration: tcpx-p2p bench --local, send/recv, write and read over
#      $SIZES in two loops: UCCL's serialized loop (--inflight 1: each transfer waited for before
#      the next) and NCCL's pipelined one (--inflight $PIPE_INFLIGHT, as nccl_sendrecv.py queues
#      its sends on the stream without waiting); then the latency mode (8-byte write + wait,
#      median round trip); the bench header says how many TCP streams it uses (channels x
#      sockets per comm)
#   3. raw loopback TCP (tcp_bw, 512 KiB messages, 3 s) at 8, 16, 32 streams, the engine's
#      stream count, and the stream counts of the sweep of step 5; then again at the engine's
#      count and 16 with $TCP_COLD_MSG (16 MiB) messages, a working set beyond the CPU caches
#      (512 KiB x 16 streams stays in the last-level cache; the engine moves 256 MiB buffers)
#   4. NCCL over sockets (torchrun, nccl_sendrecv.py), swept over threads x sockets and
#      buffer / chunk sizes; the best configuration per size is the peer to beat
#   5. "channels x sockets": engine write bandwidth and CPU cost for UCCL_TCPX_NUM_CHANNELS x
#      UCCL_SOCKET_NSOCKS (SWEEP=1)
#   6. one markdown table + goals of issue 4 (PASS/FAIL, reporting only; G1-G5 for each loop) to
#      stdout and $OUT/bench_vs_peers.md; every number, configuration and machine fact to
#      $OUT/bench_vs_peers.json
# Every step has a timeout; a failing run drops only its own numbers. Exit status 0 when all
# steps ran (whatever the goals say), 1 when the build failed or no report could be written.
# Run with --help for the environment variables.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench_vs_peers.sh [--help | --report WORK_DIR]

The issue-4 benchmark: builds the project, then measures in one run, on this machine, over
loopback: raw TCP (tcp_bw), NCCL over sockets (best of a sweep), and the engine
(tcpx-p2p bench --local: send/recv, write, read, 8-byte write latency; GPU memory on both sides
when a GPU is present, host memory otherwise), plus a channels x sockets sweep of the engine with
its CPU cost. Prints one markdown table, the latency, issue 4's goals (PASS/FAIL, reporting
only) and the sweep table. Writes $OUT/bench_vs_peers.md and $OUT/bench_vs_peers.json.
Expected time on the 2 x H200 machine: about 7-8 minutes including the build (DEADLINE caps it).

The engine runs its size sweep in two loops, each reported and judged on its own:
  serialized  UCCL's benchmark loop: tcpx-p2p bench --inflight 1, every transfer is waited for
              before the next starts (rows "engine write", ...; JSON "engine")
  pipelined   NCCL's loop: nccl_sendrecv.py calls dist.send/recv without waiting, the sends queue
              on the CUDA stream and NCCL keeps several in flight; here tcpx-p2p bench
              --inflight $PIPE_INFLIGHT (rows "engine write, 8 in flight", ...; JSON
              "engine_pipelined"). Cut by DEADLINE or failed: its numbers are absent and the
              report says which are missing.
Raw TCP twice: tcp_bw resends one TCP_MSG buffer per stream, so with 512 KiB messages the whole
working set (16 streams x 512 KiB) stays in the CPU's last-level cache, while the engine moves
256 MiB buffers; the TCP_COLD_MSG row (16 MiB per stream, at the engine's stream count and 16)
is the raw TCP rate with a working set beyond the caches (on the GPU machine 16 streams gave
69.6 GB/s with 512 KiB messages, 50.4 GB/s with 16 MiB).

options:
  -h, --help         this text
  --report WORK_DIR  only rebuild the table and JSON from the logs of an earlier run kept with
                     KEEP_WORK=1 (also how the parsers are tested with fake logs)

environment (defaults in brackets):
  OUT               where the results go [./out]
  BUILD_DIR         build directory, Release, Ninja [build]
  SKIP_BUILD=1      use the existing $BUILD_DIR/tcpx-p2p (tcp_bw is still compiled)
  TCPXP_CMAKE_ARGS  cmake arguments; replaces the default -DTCPXP_BUILD_TESTS=OFF
                    (GoogleTest is not needed here)
  BUILD_TARGET      what to build [tcpx_p2p_cli, the tcpx-p2p tool]; "all" builds everything
  TCPXP_SHARED      the shared/ folder holding bench/tcp_bw.cc and bench/nccl_sendrecv.py
                    [$TCPXP_SHARED/bench, ../shared/bench, ./.deps/shared/bench,
                    ./shared/bench: the first found]
  SIZES             engine message sizes, K/M/G binary [256K,1M,4M,16M,64M,256M]
  ITERS             timed engine transfers per size below 64 MiB [50: as many as
                    nccl_sendrecv.py times there, so both sides average over as many]
  ITERS_LARGE       timed engine transfers per size from 64 MiB up [16: nccl_sendrecv.py's
                    count at 64 MiB; it times 5 at 256 MiB]
  ENGINE_REPEATS    runs of the engine's size sweep; the table shows the best per size, the
                    JSON every run [3]
  ENGINE_MEMORY     auto (GPU when nvidia-smi lists one, else --host) | gpu | host [auto]
  ENGINE_ARGS       extra flags for every tcpx-p2p bench run, e.g. "--warmup 2" []; an
                    --inflight in it is overridden by each loop's own
  PIPE_INFLIGHT     transfers in flight in the pipelined engine pass (2..64); 0 or 1 skips
                    that pass [8]
  LAT_ITERS         round trips of the latency mode [2000]
  ENGINE_TIMEOUT    seconds per tcpx-p2p bench run [150]
  TCP_STREAMS       raw TCP stream counts, besides the engine's and the sweep's [8 16 32]
  TCP_SECONDS       seconds per tcp_bw run [3]
  TCP_MSG           tcp_bw message bytes [524288]
  TCP_COLD_MSG      tcp_bw message bytes of the run beyond the CPU caches, at the engine's stream
                    count and 16 (K/M/G allowed); empty skips it [16777216]
  SKIP_NCCL=1       no NCCL runs (also skipped without torch or with fewer than 2 GPUs)
  NCCL_CONFIGS      NCCL configurations, THREADSxSOCKETS/BUFFSIZE/CHUNKSIZE, separated by spaces
                    or commas, e.g. "8x4/64M/4M 8x8/32M/2M" [all 9 of {4x4,8x4,8x8} x
                    {16M/1M,32M/2M,64M/4M}]; threads x sockets must stay <= 64 (NCCL's limit)
  NCCL_TIMEOUT      seconds per NCCL configuration; a failure or timeout drops that config [90]
  NCCL_BUDGET       seconds for the whole NCCL sweep: no configuration starts after it [240]
  SWEEP=0           skip the channels x sockets sweep [1]
  SWEEP_CHANNELS    UCCL_TCPX_NUM_CHANNELS values [1 2 4 8]
  SWEEP_SOCKS       UCCL_SOCKET_NSOCKS values [1 2 4]
  SWEEP_MAX_STREAMS combinations with more channels x sockets are skipped [32]
  SWEEP_SIZES       write sizes of the sweep [4M,64M,256M]
  SWEEP_ITERS       timed transfers per size in the sweep [20]
  SWEEP_BUDGET      seconds for the whole sweep: no combination starts after it [150]
  DEADLINE          seconds after the start by which every run has ended [540]: each run's
                    timeout is cut to fit, and NCCL configurations (keeping 100 s for the
                    sweep) and sweep combinations that no longer fit are skipped
  KEEP_WORK=1       keep the work folder with every log (its path is printed)

CPU cost (sweep table): whole-machine busy time from /proc/stat (user+nice+system+irq+softirq,
so the kernel's loopback TCP work counts too) between the bench client's table header and its
last result line, minus an idle baseline (2 s before and 2 s after the sweep), divided by the
window's wall time = cores busy; divided by (GB/s moved in that window / 10) = cores per 10 GB/s.
Bytes moved include the warm-up transfer of each size. The same figure from the bench
processes' own utime+stime (/proc/PID/stat of both sides) is given beside it. /proc counts in
clock ticks (10 ms), so short windows are coarse: the window's length is in the JSON.

Goals of issue 4 (reporting only; modes sendrecv, write and read each; G1-G5 evaluated for the
serialized and for the pipelined loop separately, G6 once):
  G1  every size >= 64 MiB: >= 45 GB/s
  G2  every size >= 64 MiB: >= 1.2 x best NCCL
  G3  256 KiB, 1 MiB, 4 MiB, 16 MiB: >= 1.5 x best NCCL
  G4  read >= 0.9 x write at every size
  G5  send/recv >= 0.9 x write at every size
  G6  latency: median 8-byte write round trip <= 25 us

on the GPU machine (the device tool: carry .deps/shared, a copy of ../shared):
  OUT=$OUT bash scripts/bench_vs_peers.sh
quick test without GPU or torch:
  SKIP_NCCL=1 SIZES=256K,4M ITERS=5 ITERS_LARGE=3 SWEEP_CHANNELS="1 2" SWEEP_SOCKS="1 2" \
    SWEEP_SIZES=4M BUILD_DIR=build-peers scripts/bench_vs_peers.sh
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPORT_ONLY=""
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --report)
    [[ -n ${2:-} && -d ${2:-} ]] || { echo "bench_vs_peers: --report needs a work folder" >&2; exit 2; }
    REPORT_ONLY=$(cd "$2" && pwd) ;;
  "") ;;
  *) echo "bench_vs_peers: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
cd "$ROOT" || exit 1

OUT=${OUT:-$ROOT/out}
BUILD_DIR=${BUILD_DIR:-build}
SIZES=${SIZES:-256K,1M,4M,16M,64M,256M}
ITERS=${ITERS:-50}
ITERS_LARGE=${ITERS_LARGE:-16}
ENGINE_REPEATS=${ENGINE_REPEATS:-3}
ENGINE_MEMORY=${ENGINE_MEMORY:-auto}
ENGINE_ARGS=${ENGINE_ARGS:-}
LAT_ITERS=${LAT_ITERS:-2000}
ENGINE_TIMEOUT=${ENGINE_TIMEOUT:-150}
TCP_STREAMS=${TCP_STREAMS:-8 16 32}
TCP_SECONDS=${TCP_SECONDS:-3}
TCP_MSG=${TCP_MSG:-524288}
TCP_COLD_MSG=${TCP_COLD_MSG-16777216}
PIPE_INFLIGHT=${PIPE_INFLIGHT:-8}
NCCL_TIMEOUT=${NCCL_TIMEOUT:-90}
NCCL_BUDGET=${NCCL_BUDGET:-240}
# Best-known configurations first (../shared/bench/README.md), so a cut budget keeps them.
NCCL_CONFIGS=${NCCL_CONFIGS:-"8x4/64M/4M 8x4/32M/2M 8x8/64M/4M 8x8/32M/2M 4x4/64M/4M 4x4/32M/2M 8x4/16M/1M 8x8/16M/1M 4x4/16M/1M"}
SWEEP=${SWEEP:-1}
SWEEP_CHANNELS=${SWEEP_CHANNELS:-1 2 4 8}
SWEEP_SOCKS=${SWEEP_SOCKS:-1 2 4}
SWEEP_MAX_STREAMS=${SWEEP_MAX_STREAMS:-32}
SWEEP_SIZES=${SWEEP_SIZES:-4M,64M,256M}
SWEEP_ITERS=${SWEEP_ITERS:-20}
SWEEP_BUDGET=${SWEEP_BUDGET:-150}
DEADLINE=${DEADLINE:-540}
LARGE=$((64 << 20))  # sizes from here up run ITERS_LARGE iterations

T0=$SECONDS
step() { printf '== step %s [%ds]\n' "$*" $((SECONDS - T0)); }
note() { printf '   %s\n' "$*"; }
# fit LIMIT RESERVE: LIMIT, cut so that a run started now ends RESERVE seconds before DEADLINE
# (0 when no time is left; callers skip a run below a few seconds, as "timeout 0" never fires).
fit() {
  local left=$((DEADLINE - (SECONDS - T0) - $2))
  ((left < 0)) && left=0
  echo $(($1 < left ? $1 : left))
}

if [[ -n $REPORT_ONLY ]]; then
  WORK=$REPORT_ONLY
else
  WORK=$(mktemp -d /tmp/bench_vs_peers.XXXXXX)
  # shellcheck disable=SC2064  # WORK is fixed now
  trap "[[ \${KEEP_WORK:-0} == 1 ]] || rm -rf '$WORK'" EXIT
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# steps.tsv: one line per run: name, exit status, seconds (the JSON lists them).
STEPS=$WORK/steps.tsv
[[ -n $REPORT_ONLY ]] || : >"$STEPS"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STEPS"; }

# NVLink multicast stays off on shared hosts (and our runs never want it); loopback only.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export UCCL_SOCKET_IFNAME=lo

# "256K" -> 262144 (K/M/G binary, also KiB/MiB/GiB; a plain number is bytes).
to_bytes() {
  local v=${1^^}
  [[ $v =~ ^([0-9]+)([KMG]?)(I?B)?$ ]] || return 1
  case ${BASH_REMATCH[2]} in
    K) echo $((BASH_REMATCH[1] << 10)) ;;
    M) echo $((BASH_REMATCH[1] << 20)) ;;
    G) echo $((BASH_REMATCH[1] << 30)) ;;
    *) echo "${BASH_REMATCH[1]}" ;;
  esac
}

# ---- the Python helpers (written into $WORK so that --report can find them) -----------------
# monitor.py runs a command, copies its output to a log, and samples CPU time at each line.
write_monitor() {
  cat >"$WORK/monitor.py" <<'PY'
"""Run a command, copy its output (stdout + stderr) to LOG, and at every output line record a CPU
sample: the time since start, the machine's busy and total clock ticks from /proc/stat, and the
utime + stime of every process descended from the command (/proc/PID/stat).

usage: monitor.py SAMPLES.json LOG -- CMD [ARG...]    exit status: the command's
       monitor.py --idle SECONDS SAMPLES.json         two samples SECONDS apart, nothing run
"""
import json, os, subprocess, sys, time


def machine_ticks():
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is in user)
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = v[:7]
    steal = v[7] if len(v) > 7 else 0
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal


def tree_ticks(root):
    """utime + stime (all threads) of root and its descendants, and how many there are."""
    parent, ticks = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue  # gone meanwhile
        rest = s[s.rindex(")") + 2:].split()  # fields from "state" on; comm may hold spaces
        parent[int(d)], ticks[int(d)] = int(rest[1]), int(rest[11]) + int(rest[12])
    tree, todo = set(), [root]
    while todo:
        p = todo.pop()
        if p in ticks and p not in tree:
            tree.add(p)
            todo += [c for c, pp in parent.items() if pp == p]
    return sum(ticks[p] for p in tree), len(tree)


def sample(t0, line_no, text, root=None):
    busy, total = machine_ticks()
    s = {"t": round(time.monotonic() - t0, 6), "line": line_no, "text": text[:160],
         "busy": busy, "total": total}
    if root is not None:
        s["proc"], s["nprocs"] = tree_ticks(root)
    return s


def main():
    meta = {"hz": os.sysconf("SC_CLK_TCK"), "ncpu": os.cpu_count()}
    if sys.argv[1] == "--idle":
        secs, out = float(sys.argv[2]), sys.argv[3]
        t0 = time.monotonic()
        first = sample(t0, -1, "idle start")
        time.sleep(secs)
        meta["samples"] = [first, sample(t0, -1, "idle end")]
        json.dump(meta, open(out, "w"), indent=1)
        return 0
    out, log, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    t0 = time.monotonic()
    samples = [sample(t0, -1, "start")]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with open(log, "w") as f:
        for n, raw in enumerate(p.stdout):
            line = raw.decode(errors="replace").rstrip("\n")
            samples.append(sample(t0, n, line, p.pid))
            f.write(line + "\n")
            f.flush()
    rc = p.wait()
    samples.append(sample(t0, -1, "end"))
    meta.update(cmd=cmd, rc=rc, samples=samples)
    json.dump(meta, open(out, "w"), indent=1)
    return rc


sys.exit(main())
PY
}

# report.py reads every log and JSON of $WORK and writes the table and the JSON.
write_report() {
  cat >"$WORK/report.py" <<'PY'
"""Build the issue-4 table and JSON from the logs of one bench_vs_peers.sh run.

usage: report.py WORK_DIR OUT_DIR
Inputs in WORK_DIR (all optional; missing ones become "-" in the table):
  params.json                        the run's settings (sizes, iterations, ...)
  machine/*.txt                      nproc, nvidia-smi -L, uname -r, git commit, ...
  steps.tsv                          name, exit status, seconds of every run
  tcp_<S>.log                        tcp_bw output: "tcp_loopback streams=S msg=M GB/s=X"
  tcp_cold_<S>.log                   the same with TCP_COLD_MSG messages (beyond the CPU caches)
  nccl_<NAME>.log / .env             nccl_sendrecv.py output: "LABEL size=N GB/s=X"; its KEY=VALUE env
  engine_<PART>_<REP>.json / .log    tcpx-p2p bench --json output and stdout (PART small|large),
                                     the serialized loop (--inflight 1)
  engine_pipelined_<PART>_<REP>.json / .log   the same, pipelined (--inflight PIPE_INFLIGHT)
  latency.json                       tcpx-p2p bench --mode latency --json output
  sweep_c<C>_s<S>.json / .log / .mon.json   sweep runs and their CPU samples (monitor.py)
  idle_before.mon.json, idle_after.mon.json   the idle CPU baseline, before and after the sweep
"""
import glob, json, os, re, sys

work, out = sys.argv[1], sys.argv[2]
MODES = ("sendrecv", "write", "read")
UNITS = {"B": 1, "kB": 1000, "KiB": 1 << 10, "MB": 10**6, "MiB": 1 << 20, "GB": 10**9, "GiB": 1 << 30}


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


def size_label(s):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if s >= scale and s % scale == 0:
            return f"{s // scale} {unit}"
    return f"{s} B"


def fmt(v, suffix=""):
    return "-" if v is None else f"{v:.2f}{suffix}"


def ratio(a, b):
    return a / b if a is not None and b else None


params = load(os.path.join(work, "params.json"), {})
sizes = params.get("sizes", [])
errors = []  # (what, log tail) of failed runs, for the JSON

steps = []
for line in read(os.path.join(work, "steps.tsv")).splitlines():
    name, rc, secs = (line.split("\t") + ["", ""])[:3]
    steps.append({"name": name, "rc": int(rc) if rc.lstrip("-").isdigit() else rc,
                  "seconds": int(secs) if secs.isdigit() else secs})
step_rc = {s["name"]: s["rc"] for s in steps}


def log_tail(path, n=15):
    return "\n".join(read(path).splitlines()[-n:])


# ---- machine ----------------------------------------------------------------------------
machine = {}
for f in sorted(glob.glob(os.path.join(work, "machine", "*.txt"))):
    machine[os.path.basename(f)[:-4]] = read(f).strip()

# ---- raw TCP: "tcp_loopback streams=8 msg=524288 GB/s=31.20" ------------------------------
def tcp_runs(pattern, step_prefix):
    """{streams: {"gbps", "msg"}} of the tcp_bw logs matching pattern; failures to errors."""
    got = {}
    for f in glob.glob(os.path.join(work, pattern)):
        m = re.search(r"streams=(\d+)\s+msg=(\d+)\s+GB/s=([\d.]+)", read(f))
        n = re.search(r"_(\d+)\.log$", f)
        if m:
            got[int(m.group(1))] = {"gbps": float(m.group(3)), "msg": int(m.group(2))}
        elif step_rc.get(f"{step_prefix} {n.group(1) if n else '?'}") != "skipped":
            errors.append({"run": os.path.basename(f), "log_tail": log_tail(f)})
    return got


raw_tcp = tcp_runs("tcp_[0-9]*.log", "tcp")
# The same with TCP_COLD_MSG (16 MiB) per stream: a working set beyond the CPU caches.
raw_tcp_cold = tcp_runs("tcp_cold_[0-9]*.log", "tcp_cold")
cold_msg = params.get("tcp_cold_msg") or next((v["msg"] for v in raw_tcp_cold.values()), None)

# ---- NCCL: lines "LABEL size=N GB/s=X" (torchrun may prefix them) ---------------------------
def nccl_order(f):  # 4x4 before 8x4 before 8x8, then by buffer size
    m = re.search(r"nccl_(\d+)x(\d+)_(\d+)([KMG]?)_", os.path.basename(f))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(4)]) if m else (999, 0, 0)


nccl = []
for f in sorted(glob.glob(os.path.join(work, "nccl_*.log")), key=nccl_order):
    name = os.path.basename(f)[len("nccl_"):-len(".log")]
    cfg = dict(l.split("=", 1) for l in read(f[:-4] + ".env").splitlines() if "=" in l)
    gbps = {}
    for m in re.finditer(r"\S+ size=(\d+) GB/s=([\d.]+)", read(f)):
        gbps[int(m.group(1))] = float(m.group(2))
    rc = step_rc.get(f"nccl {name}")
    if rc != "skipped" and (rc not in (0, None) or not gbps):
        errors.append({"run": f"nccl {name}", "rc": rc, "log_tail": log_tail(f)})
    nccl.append({"name": name, "rc": rc, "env": cfg, "gbps": gbps})
nccl_best = {}
for c in nccl:
    for s, v in c["gbps"].items():
        if s not in nccl_best or v > nccl_best[s]["gbps"]:
            nccl_best[s] = {"gbps": v, "config": c["name"]}
if not sizes:
    sizes = sorted(nccl_best)


# ---- engine ---------------------------------------------------------------------------------
ROW = re.compile(r"^(sendrecv|write|read)\s+([\d.]+) (B|kB|KiB|MB|MiB|GB|GiB)\s+([\d.]+)\s")


def engine_results(prefix):
    """Results of one tcpx-p2p bench run: its --json, else the rows its client printed (a run
    cut by its timeout prints the sizes it finished)."""
    j = load(prefix + ".json")
    if j and j.get("results") is not None:
        return j, j["results"]
    rows = []
    for line in read(prefix + ".log").splitlines():
        m = ROW.match(line)
        if m:
            rows.append({"mode": m.group(1), "size": int(float(m.group(2)) * UNITS[m.group(3)]),
                         "gbps": float(m.group(4)), "from": "stdout"})
    return None, rows


def header_of(text_or_json):
    """'tcp-socket on lo (device 0), 4 channels, chunk 512 KiB, 4 sockets/comm' -> (4, 4)."""
    ch = re.search(r"(\d+) channels", text_or_json)
    so = re.search(r"(\d+) sockets/comm", text_or_json)
    return (int(ch.group(1)) if ch else None, int(so.group(1)) if so else None)


# Two loops: engine_<PART>_<REP> serialized (--inflight 1, UCCL's), engine_pipelined_<PART>_<REP>
# with PIPE_INFLIGHT in flight (NCCL's). Each keeps the best result per mode and size.
engine_runs, engine_best, transport, memory = [], {m: {} for m in MODES}, None, None
pipe_runs, pipe_best, pipe_seen = [], {m: {} for m in MODES}, set()
for f in sorted(glob.glob(os.path.join(work, "engine_*.log"))):
    prefix = f[:-4]
    name = os.path.basename(prefix)
    pipelined = name.startswith("engine_pipelined_")
    j, rows = engine_results(prefix)
    if j:
        transport = transport or j.get("transport")
        memory = memory or f'{j.get("client_memory")} -> {j.get("server_memory")}, {j.get("client_data_path")}'
    else:
        m = re.search(r"transport: (.*)", read(f))
        transport = transport or (m.group(1) if m else None)
    rc = step_rc.get(name)
    if rc != "skipped" and (rc not in (0, None) or not rows):
        errors.append({"run": name, "rc": rc, "log_tail": log_tail(f)})
    (pipe_runs if pipelined else engine_runs).append(
        {"run": name, "rc": rc, "json": j, "results": rows, "prefix": prefix})
    if pipelined:  # the in-flight count it really ran with: its JSON, else its header
        m = re.search(r"(\d+) in flight", read(f))
        pipe_seen |= {r["inflight"] for r in rows if "inflight" in r} or ({int(m.group(1))} if m else set())
    for r in rows:
        best = (pipe_best if pipelined else engine_best).setdefault(r["mode"], {})
        if r["size"] not in best or r["gbps"] > best[r["size"]]:
            best[r["size"]] = r["gbps"]
# PIPE_INFLIGHT of the run (older work folders: what the pipelined runs report); <= 1: not run.
pipe_n = params.get("pipe_inflight")
if pipe_n is None:
    pipe_n = max(pipe_seen) if pipe_seen else 0
pipe_on = pipe_n > 1 or bool(pipe_runs)
pipe_label = f"{pipe_n} in flight"
channels, socks = header_of(transport or "")
streams = channels * socks if channels and socks else None

lat = load(os.path.join(work, "latency.json"), {}) or {}
latency = lat.get("latency")
if os.path.exists(os.path.join(work, "latency.log")) and not latency:
    errors.append({"run": "latency", "rc": step_rc.get("latency"),
                   "log_tail": log_tail(os.path.join(work, "latency.log"))})

# ---- CPU cost of a monitored run --------------------------------------------------------------
idle_runs = []  # cores busy while nothing of ours ran: before and after the sweep
for f in sorted(glob.glob(os.path.join(work, "idle*.mon.json"))):
    idle = load(f)
    if idle:
        a, b = idle["samples"]
        idle_runs.append((b["busy"] - a["busy"]) / idle["hz"] / (b["t"] - a["t"]))
idle_cores = sum(idle_runs) / len(idle_runs) if idle_runs else None


def cpu_cost(mon, results, warmup):
    """Cores busy between the client's table header and its last result row, and per 10 GB/s."""
    if not mon or not results:
        return None
    smp = [s for s in mon["samples"] if s["line"] >= 0]
    start = next((s for s in smp if re.match(r"\s*mode\s+size\s+GB/s", s["text"])), None)
    rows = [s for s in smp if ROW.match(s["text"])]
    if start is None or not rows:
        return None
    end = rows[-1]
    dt = end["t"] - start["t"]
    if dt <= 0:
        return None
    hz = mon["hz"]
    moved = sum(r["size"] * (r.get("iters", 0) + r.get("warmup", warmup)) for r in results)
    gbps = moved / dt / 1e9
    machine_cores = (end["busy"] - start["busy"]) / hz / dt - (idle_cores or 0)
    proc_cores = (end.get("proc", 0) - start.get("proc", 0)) / hz / dt
    per10 = lambda c: c / (gbps / 10) if gbps > 0 else None
    return {"window_s": round(dt, 4), "bytes": moved, "gbps_in_window": round(gbps, 3),
            "machine_busy_ticks": end["busy"] - start["busy"], "hz": hz,
            "idle_cores_subtracted": idle_cores,
            "cores_busy_machine": round(machine_cores, 3),
            "cores_busy_processes": round(proc_cores, 3),
            "cores_per_10gbps_machine": per10(machine_cores),
            "cores_per_10gbps_processes": per10(proc_cores)}


for run in engine_runs + pipe_runs:  # CPU over each run's timed window (all its modes), as in the sweep
    prefix = run.pop("prefix")
    run["cpu"] = cpu_cost(load(prefix + ".mon.json"), run["results"], (run["json"] or {}).get("warmup", 1))

# ---- channels x sockets sweep --------------------------------------------------------------------
sweep = []
for f in glob.glob(os.path.join(work, "sweep_c*_s*.log")):
    prefix = f[:-4]
    m = re.search(r"sweep_c(\d+)_s(\d+)$", prefix)
    c, s = int(m.group(1)), int(m.group(2))
    j, rows = engine_results(prefix)
    rc = step_rc.get(os.path.basename(prefix))
    if rc != "skipped" and (rc not in (0, None) or not rows):
        errors.append({"run": os.path.basename(prefix), "rc": rc, "log_tail": log_tail(f)})
    rows = [r for r in rows if r["mode"] == "write"]
    hdr = header_of(j.get("transport", "") if j else read(f))
    sweep.append({"channels": c, "sockets": s, "streams": c * s, "rc": rc,
                  "header_channels_sockets": hdr,
                  "write_gbps": {r["size"]: r["gbps"] for r in rows},
                  "cpu": cpu_cost(load(prefix + ".mon.json"), rows, (j or {}).get("warmup", 1))})
sweep.sort(key=lambda r: (r["channels"], r["sockets"]))

# ---- the table ----------------------------------------------------------------------------------
def cells(values, suffix=""):
    return " | ".join(fmt(values.get(s), suffix) for s in sizes)


def missing_of(best_of, runs):
    """Modes and sizes without a result ("read 256 MiB") and why: runs skipped for time, runs that
    failed, or none at all; None when nothing is missing."""
    miss = [f"{names[m]} {size_label(s)}" for m in MODES for s in sizes if s not in best_of.get(m, {})]
    if not miss:
        return None
    why = {}
    for r in runs:
        if r["rc"] not in (0, None):
            key = "skipped for time (DEADLINE)" if r["rc"] == "skipped" else f"exit {r['rc']}"
            why.setdefault(key, []).append(r["run"])
    return {"missing": miss, "why": [f"{k}: {', '.join(v)}" for k, v in why.items()] or ["no runs"],
            "all": len(miss) == len(MODES) * len(sizes)}


names = {"sendrecv": "send/recv", "write": "write", "read": "read"}
L = []
L.append(f"| GB/s (decimal) | " + " | ".join(size_label(s) for s in sizes) + " |")
L.append("|---|" + "---|" * len(sizes))
tcp_rows = sorted(set(params.get("tcp_streams_table", [8, 16, 32])) | ({streams} if streams else set()))
for n in tcp_rows:
    v = raw_tcp.get(n, {}).get("gbps")
    tag = ", the engine's count" if n == streams else ""
    L.append(f"| raw TCP {n} streams (any size{tag}) | " + cells({s: v for s in sizes}) + " |")
cold_rows = sorted(set(raw_tcp_cold) | ({streams} if streams and cold_msg else set()) |
                   (set(params.get("tcp_cold_streams", [16])) if cold_msg else set()))
for n in cold_rows:
    v = raw_tcp_cold.get(n, {}).get("gbps")
    tag = ", the engine's count" if n == streams else ""
    L.append(f"| raw TCP {n} streams, {size_label(cold_msg)} per stream (working set beyond the CPU "
             f"caches{tag}) | " + cells({s: v for s in sizes}) + " |")
for c in nccl:
    e = c["env"]
    label = (f'NCCL {e.get("NCCL_SOCKET_NTHREADS", "?")}x{e.get("NCCL_NSOCKS_PERTHREAD", "?")}, '
             f'{size_label(int(e.get("NCCL_BUFFSIZE", 0)))} buffer, '
             f'{size_label(int(e.get("NCCL_P2P_NET_CHUNKSIZE", 0)))} chunks')
    if not c["gbps"]:
        label += f' (failed, exit {c["rc"]})'
    elif c["rc"] not in (0, None):
        label += f' (exit {c["rc"]}: the sizes it finished)'
    L.append(f"| {label} | " + cells(c["gbps"]) + " |")
best = {s: v["gbps"] for s, v in nccl_best.items()}
L.append("| **best NCCL** | " + cells(best) + " |")
for m in MODES:
    L.append(f"| **engine {names[m]}** | " + cells(engine_best.get(m, {})) + " |")
if pipe_on:
    for m in MODES:
        L.append(f"| **engine {names[m]}, {pipe_label}** | " + cells(pipe_best.get(m, {})) + " |")
for m in MODES:
    r = {s: ratio(engine_best.get(m, {}).get(s), best.get(s)) for s in sizes}
    L.append(f"| engine {names[m]} / best NCCL | " + cells(r, "x") + " |")
if pipe_on:
    r = {s: ratio(pipe_best.get("write", {}).get(s), best.get(s)) for s in sizes}
    L.append(f"| engine write, {pipe_label} / best NCCL | " + cells(r, "x") + " |")
tcp_same = raw_tcp.get(streams, {}).get("gbps") if streams else None
for m in MODES:
    r = {s: ratio(engine_best.get(m, {}).get(s), tcp_same) for s in sizes}
    L.append(f"| engine {names[m]} / raw TCP {streams or '?'} streams | " + cells(r, "x") + " |")
# Against raw TCP beyond the caches at the engine's stream count (16 streams when it is unknown).
cold_n = streams if streams else 16
tcp_cold_same = raw_tcp_cold.get(cold_n, {}).get("gbps")
if cold_msg:
    cold_name = f"raw TCP {cold_n} streams, {size_label(cold_msg)} per stream"
    for m in MODES:
        r = {s: ratio(engine_best.get(m, {}).get(s), tcp_cold_same) for s in sizes}
        L.append(f"| engine {names[m]} / {cold_name} | " + cells(r, "x") + " |")
    if pipe_on:
        r = {s: ratio(pipe_best.get("write", {}).get(s), tcp_cold_same) for s in sizes}
        L.append(f"| engine write, {pipe_label} / {cold_name} | " + cells(r, "x") + " |")
L.append("")
L.append(f"engine: {transport or 'unknown transport'}; memory {memory or '?'}; "
         f"{params.get('iters')} iterations below 64 MiB, {params.get('iters_large')} from 64 MiB, "
         f"best of {params.get('engine_repeats')} run(s) per loop; best NCCL per size over "
         f"{sum(1 for c in nccl if c['gbps'])} configurations")
L.append("loops: \"engine write\" is UCCL's serialized loop (--inflight 1: each transfer waited for "
         "before the next); " + (f"\"engine write, {pipe_label}\" is NCCL's pipelined loop (--inflight "
                                 f"{pipe_n}; nccl_sendrecv.py queues its sends without waiting)"
                                 if pipe_on else f"the pipelined loop was not run (PIPE_INFLIGHT={pipe_n})"))
engine_missing = missing_of(engine_best, engine_runs)
pipe_missing = missing_of(pipe_best, pipe_runs) if pipe_on else None
for what, miss in (("serialized loop", engine_missing), (f"pipelined loop ({pipe_label})", pipe_missing)):
    if miss:
        L.append(f"{what}: " + ("no results" if miss["all"] else f"no result for {', '.join(miss['missing'])}") +
                 f" ({'; '.join(miss['why'])})")
if cold_msg:
    L.append(f"raw TCP: tcp_bw resends one buffer per stream: {size_label(params.get('tcp_msg', 524288))} "
             f"messages stay in the CPU's last-level cache, {size_label(cold_msg)} ones do not "
             f"(the engine moves buffers of up to {size_label(max(sizes)) if sizes else '?'})")
if latency:
    L.append(f"latency: {latency['size']}-byte write + wait, {latency['iters']} round trips: "
             f"median {latency['median_us']:.2f} us, p99 {latency['p99_us']:.2f} us "
             f"(min {latency['min_us']:.2f}, max {latency['max_us']:.2f})")
else:
    L.append("latency: no result")

# ---- goals of issue 4 -------------------------------------------------------------------------
def goal(gid, text, checks):
    """checks: (label, value, limit, ok); no checks = SKIP (no data)."""
    if not checks:
        return {"goal": gid, "text": text, "result": "SKIP", "checks": []}
    ok = all(c[3] for c in checks)
    worst = min(checks, key=lambda c: (c[1] / c[2]) if c[2] else 0)
    return {"goal": gid, "text": text, "result": "PASS" if ok else "FAIL",
            "worst": f"{worst[0]}: {worst[1]:.2f} vs {worst[2]:.2f}",
            "checks": [{"what": c[0], "value": c[1], "limit": c[2], "ok": c[3]} for c in checks]}


def eng(m, s):
    return engine_best.get(m, {}).get(s)


def pipe(m, s):
    return pipe_best.get(m, {}).get(s)


big = [s for s in sizes if s >= 64 << 20]
small = [s for s in sizes if s in (256 << 10, 1 << 20, 4 << 20, 16 << 20)]


def loop_goals(e):
    """G1..G5 for one loop; e(mode, size) -> its best GB/s or None."""
    out = []
    g = []
    for m in MODES:
        for s in big:
            if e(m, s) is not None:
                g.append((f"{m} {size_label(s)} GB/s", e(m, s), 45.0, e(m, s) >= 45.0))
    out.append(goal("G1", ">= 64 MiB: >= 45 GB/s", g))
    for gid, text, group, factor in (("G2", ">= 64 MiB: >= 1.2x best NCCL", big, 1.2),
                                     ("G3", "256K/1M/4M/16M: >= 1.5x best NCCL", small, 1.5)):
        g = []
        for m in MODES:
            for s in group:
                if e(m, s) is not None and best.get(s):
                    r = e(m, s) / best[s]
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


# "goals": the serialized loop's G1..G5 and G6 (as before the pipelined loop existed);
# "goals_pipelined": G1..G5 of the pipelined loop.
goals = loop_goals(eng)
goals_pipelined = loop_goals(pipe) if pipe_on else []
if latency:
    g6 = goal("G6", "latency median <= 25 us",
              [("median us", latency["median_us"], 25.0, latency["median_us"] <= 25.0)])
else:
    g6 = goal("G6", "latency median <= 25 us", [])
goals.append(g6)


def goal_line(x, indent=""):
    return (f"{indent}- {x['goal']} {x['text']}: **{x['result']}**" +
            (f" (worst: {x['worst']})" if x.get("worst") else ""))


L.append("")
L.append("goals of issue 4 (reporting only):")
L.append("- serialized loop (UCCL's, --inflight 1):")
L += [goal_line(x, "  ") for x in goals if x["goal"] != "G6"]
if pipe_on:
    L.append(f"- pipelined loop (NCCL's, --inflight {pipe_n})" +
             (": no results (runs cut or failed)" if not any(pipe_best.values()) else ":"))
    L += [goal_line(x, "  ") for x in goals_pipelined]
else:
    L.append(f"- pipelined loop: not run (PIPE_INFLIGHT={pipe_n})")
L.append(goal_line(g6))

# ---- sweep table --------------------------------------------------------------------------------
if sweep:
    ssizes = sorted({s for r in sweep for s in r["write_gbps"]} | set(params.get("sweep_sizes", [])))
    L.append("")
    L.append(f"channels x sockets (engine write, GB/s; CPU over each run's timed window, idle "
             f"baseline {fmt(idle_cores)} cores subtracted):")
    L.append("")
    L.append("| channels | sockets | streams | " + " | ".join(f"write {size_label(s)}" for s in ssizes) +
             " | raw TCP same streams | largest / raw TCP | cores busy | cores per 10 GB/s | "
             "cores per 10 GB/s (bench processes) |")
    L.append("|---|---|---|" + "---|" * len(ssizes) + "---|---|---|---|---|")
    for r in sweep:
        t = raw_tcp.get(r["streams"], {}).get("gbps")
        last = r["write_gbps"].get(ssizes[-1]) if ssizes else None
        cpu = r["cpu"] or {}
        L.append(f"| {r['channels']} | {r['sockets']} | {r['streams']} | " +
                 " | ".join(fmt(r["write_gbps"].get(s)) for s in ssizes) +
                 f" | {fmt(t)} | {fmt(ratio(last, t), 'x')} | {fmt(cpu.get('cores_busy_machine'))} | "
                 f"{fmt(cpu.get('cores_per_10gbps_machine'))} | {fmt(cpu.get('cores_per_10gbps_processes'))} |")

bad = [s["name"] for s in steps if s["rc"] not in (0, "skipped")]
skipped = [s["name"] for s in steps if s["rc"] == "skipped"]
L.append("")
L.append("runs that failed: " + (", ".join(bad) if bad else "none") +
         ("; skipped for time: " + ", ".join(skipped) if skipped else ""))
table = "\n".join(L) + "\n"
print(table, end="")
with open(os.path.join(out, "bench_vs_peers.md"), "w") as f:
    f.write(table)

strkeys = lambda d: {str(k): v for k, v in d.items()}
result = {
    "tool": "scripts/bench_vs_peers.sh",
    "units": {"gbps": "1e9 bytes/s", "latency": "microseconds", "sizes": "bytes"},
    "machine": machine,
    "params": params,
    "steps": steps,
    "raw_tcp": strkeys(raw_tcp),
    "nccl": {"configs": [dict(c, gbps=strkeys(c["gbps"])) for c in nccl], "best": strkeys(nccl_best)},
    "engine": {"transport": transport, "memory": memory, "channels": channels, "sockets_per_comm": socks,
               "streams": streams, "best": {m: strkeys(v) for m, v in engine_best.items()},
               "runs": engine_runs, "latency": latency, "loop": "serialized", "inflight": 1},
    # NCCL's loop: PIPE_INFLIGHT transfers in flight; "missing": modes and sizes without a result
    "engine_pipelined": {"run": pipe_on, "inflight": pipe_n, "loop": "pipelined",
                         "best": {m: strkeys(v) for m, v in pipe_best.items()}, "runs": pipe_runs,
                         "missing": pipe_missing["missing"] if pipe_missing else [],
                         "missing_why": pipe_missing["why"] if pipe_missing else []},
    # tcp_bw with TCP_COLD_MSG per stream: a working set beyond the CPU caches
    "raw_tcp_cold": {"msg": cold_msg, "streams": strkeys(raw_tcp_cold)},
    "ratios": {
        "engine_over_best_nccl": {m: strkeys({s: ratio(eng(m, s), best.get(s)) for s in sizes}) for m in MODES},
        "engine_over_raw_tcp_same_streams": {m: strkeys({s: ratio(eng(m, s), tcp_same) for s in sizes}) for m in MODES},
        "engine_pipelined_over_best_nccl": {m: strkeys({s: ratio(pipe(m, s), best.get(s)) for s in sizes}) for m in MODES},
        "engine_pipelined_over_raw_tcp_same_streams": {
            m: strkeys({s: ratio(pipe(m, s), tcp_same) for s in sizes}) for m in MODES},
        "engine_over_raw_tcp_cold": {m: strkeys({s: ratio(eng(m, s), tcp_cold_same) for s in sizes}) for m in MODES},
        "engine_pipelined_over_raw_tcp_cold": {
            m: strkeys({s: ratio(pipe(m, s), tcp_cold_same) for s in sizes}) for m in MODES},
        "raw_tcp_cold_streams": cold_n,
    },
    "goals": goals,
    "goals_pipelined": goals_pipelined,
    "sweep": {"idle_cores": idle_cores, "idle_cores_each": idle_runs,
              "rows": [dict(r, write_gbps=strkeys(r["write_gbps"])) for r in sweep]},
    "errors": errors,
    "table_markdown": table,
}
with open(os.path.join(out, "bench_vs_peers.json"), "w") as f:
    json.dump(result, f, indent=1)
print(f"\nwritten: {os.path.join(out, 'bench_vs_peers.md')}, {os.path.join(out, 'bench_vs_peers.json')}")
PY
}

make_report() {
  step "report"
  python3 "$WORK/report.py" "$WORK" "$OUT"
}

if [[ -n $REPORT_ONLY ]]; then
  write_report
  make_report
  exit $?
fi
write_monitor
write_report

# ---- sizes, checked before anything runs ----------------------------------------------
SMALL_SIZES="" LARGE_SIZES="" SIZE_BYTES=""
IFS=, read -r -a size_list <<<"$SIZES"
for s in "${size_list[@]}"; do
  b=$(to_bytes "$s") || { note "SIZES: '$s' is not a size"; exit 2; }
  SIZE_BYTES+="${SIZE_BYTES:+,}$b"
  if ((b >= LARGE)); then LARGE_SIZES+="${LARGE_SIZES:+,}$b"; else SMALL_SIZES+="${SMALL_SIZES:+,}$b"; fi
done
SWEEP_BYTES=""
IFS=, read -r -a size_list <<<"$SWEEP_SIZES"
for s in "${size_list[@]}"; do
  b=$(to_bytes "$s") || { note "SWEEP_SIZES: '$s' is not a size"; exit 2; }
  SWEEP_BYTES+="${SWEEP_BYTES:+,}$b"
done
if [[ ! $PIPE_INFLIGHT =~ ^[0-9]+$ ]] || ((10#$PIPE_INFLIGHT > 64)); then
  note "PIPE_INFLIGHT: '$PIPE_INFLIGHT' is not 0..64"; exit 2
fi
PIPE_INFLIGHT=$((10#$PIPE_INFLIGHT))
TCP_COLD_BYTES=""
if [[ -n $TCP_COLD_MSG ]]; then
  if ! TCP_COLD_BYTES=$(to_bytes "$TCP_COLD_MSG") || ((TCP_COLD_BYTES == 0)); then
    note "TCP_COLD_MSG: '$TCP_COLD_MSG' is not a size"; exit 2
  fi
fi

# ---- machine facts ------------------------------------------------------------------------
step "machine info"
mkdir -p "$WORK/machine"
GPUS=0
{
  nproc >"$WORK/machine/nproc.txt"
  uname -r >"$WORK/machine/kernel.txt"
  uname -n >"$WORK/machine/host.txt"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$WORK/machine/date.txt"
  grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //' >"$WORK/machine/cpu.txt"
  (lscpu 2>/dev/null | grep -E "^NUMA node\(s\)" || echo "NUMA: ?") >"$WORK/machine/numa.txt"
  git rev-parse HEAD >"$WORK/machine/git_commit.txt" 2>/dev/null || echo "?" >"$WORK/machine/git_commit.txt"
  (git status --porcelain 2>/dev/null | wc -l | sed 's/$/ changed files/') >"$WORK/machine/git_dirty.txt"
  if command -v nvidia-smi >/dev/null; then
    timeout 30 nvidia-smi -L >"$WORK/machine/nvidia_smi_L.txt" 2>&1
    timeout 30 nvidia-smi --query-gpu=driver_version --format=csv,noheader | sort -u >"$WORK/machine/driver.txt"
  else
    echo "no nvidia-smi" >"$WORK/machine/nvidia_smi_L.txt"
  fi
  (cmake --version 2>&1 | head -n 1; c++ --version 2>&1 | head -n 1; nvcc --version 2>&1 | tail -n 1) >"$WORK/machine/toolchain.txt"
} 2>/dev/null
GPUS=$(grep -c "^GPU " "$WORK/machine/nvidia_smi_L.txt" 2>/dev/null) || GPUS=0
sed 's/^/   /' "$WORK/machine/nvidia_smi_L.txt"
note "$(cat "$WORK/machine/nproc.txt") cores, kernel $(cat "$WORK/machine/kernel.txt"), commit $(cut -c1-12 "$WORK/machine/git_commit.txt"), $(cat "$WORK/machine/git_dirty.txt")"

# ---- 1. build -----------------------------------------------------------------------------
# Only the tcpx-p2p tool by default (all the benchmark needs); "all" if that target is unknown.
BUILD_TARGET=${BUILD_TARGET:-tcpx_p2p_cli}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  step "1 build $BUILD_DIR (Release, target $BUILD_TARGET)"
  t=$SECONDS
  CMAKE_EXTRA=${TCPXP_CMAKE_ARGS--DTCPXP_BUILD_TESTS=OFF}
  rc=0
  {
    # shellcheck disable=SC2086  # CMAKE_EXTRA is a list of words
    timeout 300 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release $CMAKE_EXTRA &&
      timeout "$(fit 900 60)" cmake --build "$BUILD_DIR" --target "$BUILD_TARGET"
  } >"$WORK/build.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 && $BUILD_TARGET != all ]] && grep -q "unknown target" "$WORK/build.log"; then
    note "target $BUILD_TARGET unknown: building all"
    rc=0; timeout "$(fit 900 60)" cmake --build "$BUILD_DIR" >>"$WORK/build.log" 2>&1 || rc=$?
  fi
  record build "$rc" $((SECONDS - t))
  if [[ $rc -ne 0 ]]; then
    { grep -E "error|FAILED|CMake Error" -A3 "$WORK/build.log" || tail -n 30 "$WORK/build.log"; } | head -n 40
    note "build failed (exit $rc): nothing to benchmark"
    exit 1
  fi
  note "built in $((SECONDS - t)) s"
else
  step "1 build skipped (SKIP_BUILD=1)"
fi
TOOL=$ROOT/$BUILD_DIR/tcpx-p2p
[[ -x $TOOL ]] || { note "$TOOL missing (build, or unset SKIP_BUILD)"; exit 1; }
timeout 30 "$TOOL" bench --help >"$WORK/bench_help.txt" 2>&1 || true

BENCH_DIR=""
# ../shared does not travel to the GPU machine: there, carry .deps/shared (a copy of it).
for d in ${TCPXP_SHARED:+"$TCPXP_SHARED/bench" "$TCPXP_SHARED"} "$ROOT/../shared/bench" \
  "$ROOT/.deps/shared/bench" "$ROOT/shared/bench"; do
  if [[ -f $d/tcp_bw.cc ]]; then BENCH_DIR=$(cd "$d" && pwd); break; fi
done
TCP_BW=""
if [[ -z $BENCH_DIR ]]; then
  note "shared/bench not found (\$TCPXP_SHARED, ../shared/bench, .deps/shared/bench, shared/bench): raw TCP and NCCL skipped"
else
  note "peers from $BENCH_DIR"
  if timeout 120 "${CXX:-g++}" -O2 -pthread "$BENCH_DIR/tcp_bw.cc" -o "$WORK/tcp_bw" >"$WORK/tcp_bw.build.txt" 2>&1; then
    TCP_BW=$WORK/tcp_bw
  else
    note "compiling tcp_bw.cc failed: raw TCP skipped"; cat "$WORK/tcp_bw.build.txt"
  fi
fi

MEM_FLAG=()
case $ENGINE_MEMORY in
  host) MEM_FLAG=(--host) ;;
  gpu) ;;
  auto) ((GPUS > 0)) || MEM_FLAG=(--host) ;;
  *) note "ENGINE_MEMORY must be auto, gpu or host"; exit 2 ;;
esac
read -r -a EXTRA <<<"$ENGINE_ARGS"

# One tcpx-p2p bench run under monitor.py: bench_run NAME TIMEOUT [ENV=VALUE ...] -- FLAGS...
# Writes $WORK/NAME.log, NAME.json (--json) and NAME.mon.json (CPU samples).
bench_run() {
  local name=$1 limit=$2 t=$SECONDS rc=0
  shift 2
  local envs=()
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  if ((limit < 5)); then
    echo "no time left before DEADLINE=${DEADLINE}s: skipped" >"$WORK/$name.log"
    record "$name" skipped 0
    return 1
  fi
  env "${envs[@]}" python3 "$WORK/monitor.py" "$WORK/$name.mon.json" "$WORK/$name.log" -- \
    timeout -k 10 "$limit" "$TOOL" bench --local "${MEM_FLAG[@]}" --timeout 30 "${EXTRA[@]}" \
    --json "$WORK/$name.json" "$@" || rc=$?
  record "$name" "$rc" $((SECONDS - t))
  return "$rc"
}
# The client's result rows, compact: "write 4 MiB 12.345 | ..."
rows_of() { grep -E "^(sendrecv|write|read) " "$1" | awk '{printf "%s %s %s %s GB/s; ", $1, $2, $3, $4}'; }

# The settings, for the report and the JSON (read from the environment: no quoting trouble).
SIZE_BYTES=$SIZE_BYTES SWEEP_BYTES=$SWEEP_BYTES ITERS=$ITERS ITERS_LARGE=$ITERS_LARGE \
  ENGINE_REPEATS=$ENGINE_REPEATS ENGINE_MEMORY=$ENGINE_MEMORY ENGINE_ARGS=$ENGINE_ARGS \
  LAT_ITERS=$LAT_ITERS TCP_STREAMS=$TCP_STREAMS TCP_SECONDS=$TCP_SECONDS TCP_MSG=$TCP_MSG \
  TCP_COLD_BYTES=$TCP_COLD_BYTES PIPE_INFLIGHT=$PIPE_INFLIGHT \
  NCCL_CONFIGS=$NCCL_CONFIGS NCCL_TIMEOUT=$NCCL_TIMEOUT SWEEP=$SWEEP SWEEP_CHANNELS=$SWEEP_CHANNELS \
  SWEEP_SOCKS=$SWEEP_SOCKS SWEEP_ITERS=$SWEEP_ITERS SWEEP_MAX_STREAMS=$SWEEP_MAX_STREAMS \
  BUILD_DIR=$BUILD_DIR python3 - "$WORK/params.json" <<'PY'
import json, os, sys
e = os.environ
ints = lambda v, sep=None: [int(x) for x in v.replace(",", " ").split(sep)]
json.dump({
    "sizes": ints(e["SIZE_BYTES"]), "iters": int(e["ITERS"]), "iters_large": int(e["ITERS_LARGE"]),
    "large_from": 64 << 20, "engine_repeats": int(e["ENGINE_REPEATS"]),
    "engine_memory": e["ENGINE_MEMORY"], "engine_args": e["ENGINE_ARGS"],
    "latency_iters": int(e["LAT_ITERS"]),
    "tcp_streams_table": ints(e["TCP_STREAMS"]), "tcp_seconds": e["TCP_SECONDS"], "tcp_msg": int(e["TCP_MSG"]),
    # beyond the CPU caches: at the engine's stream count and these; null = not run
    "tcp_cold_msg": int(e["TCP_COLD_BYTES"]) if e["TCP_COLD_BYTES"] else None, "tcp_cold_streams": [16],
    "pipe_inflight": int(e["PIPE_INFLIGHT"]),  # the pipelined engine pass; 0 or 1: not run
    "nccl_configs": e["NCCL_CONFIGS"].replace(",", " ").split(), "nccl_timeout_s": int(e["NCCL_TIMEOUT"]),
    "sweep": e["SWEEP"] == "1", "sweep_channels": ints(e["SWEEP_CHANNELS"]), "sweep_sockets": ints(e["SWEEP_SOCKS"]),
    "sweep_sizes": ints(e["SWEEP_BYTES"]), "sweep_iters": int(e["SWEEP_ITERS"]),
    "sweep_max_streams": int(e["SWEEP_MAX_STREAMS"]), "build_dir": e["BUILD_DIR"],
    "env": {k: e[k] for k in ("UCCL_SOCKET_IFNAME", "NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST",
                              "NVSHMEM_DISABLE_NVLS")},
}, open(sys.argv[1], "w"), indent=1)
PY

# ---- 2. the engine, default configuration -----------------------------------------------------
# engine_pass NAME INFLIGHT: ENGINE_REPEATS runs of send/recv, write and read over SIZES with
# INFLIGHT transfers in flight (after ENGINE_ARGS, so it wins): NAME_small_R (ITERS), NAME_large_R
# (ITERS_LARGE, sizes from 64 MiB). A run without time left is recorded as skipped.
engine_pass() {
  local name=$1 inflight=$2 r
  for ((r = 1; r <= ENGINE_REPEATS; r++)); do
    if [[ -n $SMALL_SIZES ]]; then
      bench_run "${name}_small_$r" "$(fit "$ENGINE_TIMEOUT" 10)" -- --mode sendrecv,write,read \
        --sizes "$SMALL_SIZES" --iters "$ITERS" --inflight "$inflight"
      note "run $r < 64 MiB: exit $? [$((SECONDS - T0))s]: $(rows_of "$WORK/${name}_small_$r.log")"
    fi
    if [[ -n $LARGE_SIZES ]]; then
      bench_run "${name}_large_$r" "$(fit "$ENGINE_TIMEOUT" 10)" -- --mode sendrecv,write,read \
        --sizes "$LARGE_SIZES" --iters "$ITERS_LARGE" --inflight "$inflight"
      note "run $r >= 64 MiB: exit $? [$((SECONDS - T0))s]: $(rows_of "$WORK/${name}_large_$r.log")"
    fi
  done
}
step "2 engine (default configuration), serialized loop (UCCL's, --inflight 1): sizes $SIZES, $ENGINE_REPEATS runs, memory ${MEM_FLAG[*]:-auto (GPU if present)}"
engine_pass engine 1
if ((PIPE_INFLIGHT > 1)); then
  step "2b engine, pipelined loop (NCCL's, --inflight $PIPE_INFLIGHT): sizes $SIZES, $ENGINE_REPEATS runs"
  engine_pass engine_pipelined "$PIPE_INFLIGHT"
else
  step "2b engine, pipelined loop skipped (PIPE_INFLIGHT=$PIPE_INFLIGHT)"
fi
HEADER=$(grep -h -m1 "transport:" "$WORK"/engine_*.log 2>/dev/null | head -n 1)
note "${HEADER#"${HEADER%%[! ]*}"}"  # without its indent
CHANNELS=$(sed -n 's/.* \([0-9][0-9]*\) channels.*/\1/p' <<<"$HEADER")
SOCKS=$(sed -n 's/.* \([0-9][0-9]*\) sockets\/comm.*/\1/p' <<<"$HEADER")
ENGINE_STREAMS=""
if [[ -n $CHANNELS && -n $SOCKS ]]; then
  ENGINE_STREAMS=$((CHANNELS * SOCKS))
  note "engine streams: $CHANNELS channels x $SOCKS sockets/comm = $ENGINE_STREAMS"
else
  note "could not read channels x sockets from the bench header: no raw TCP at the engine's stream count"
fi

step "2c engine latency: 8-byte write + wait, $LAT_ITERS round trips"
bench_run latency "$(fit "$ENGINE_TIMEOUT" 10)" -- --mode latency --latency-iters "$LAT_ITERS"
note "exit $?: $(grep -h "^latency:" "$WORK/latency.log")"

# ---- 3. raw TCP ------------------------------------------------------------------------------
# The table's stream counts, the engine's, and those of the sweep (for its "same streams" column).
declare -A want=()
for s in $TCP_STREAMS $ENGINE_STREAMS; do want[$s]=1; done
if [[ $SWEEP == 1 ]]; then
  for c in $SWEEP_CHANNELS; do for k in $SWEEP_SOCKS; do
    ((c * k <= SWEEP_MAX_STREAMS)) && want[$((c * k))]=1
  done; done
fi
TCP_LIST=$(printf '%s\n' "${!want[@]}" | sort -n | tr '\n' ' ')
# tcp_run LOG STEP STREAMS MSG: one tcp_bw run into $WORK/LOG.log, recorded as STEP in steps.tsv
# ("skipped" when DEADLINE leaves too little time).
tcp_run() {
  local log=$1 name=$2 s=$3 msg=$4 t=$SECONDS rc=0 limit
  limit=$(fit $((TCP_SECONDS * 3 + 30)) 10)
  if ((limit < TCP_SECONDS + 5)); then
    echo "no time left before DEADLINE=${DEADLINE}s: skipped" >"$WORK/$log.log"
    record "$name" skipped 0
    note "$s streams: no time left: skipped"
    return 1
  fi
  timeout -k 5 "$limit" "$TCP_BW" "$s" "$TCP_SECONDS" "$msg" >"$WORK/$log.log" 2>&1 || rc=$?
  record "$name" "$rc" $((SECONDS - t))
  note "$s streams: exit $rc: $(tail -n 1 "$WORK/$log.log")"
}
if [[ -n $TCP_BW ]]; then
  step "3 raw TCP: tcp_bw STREAMS $TCP_SECONDS $TCP_MSG for streams $TCP_LIST"
  for s in $TCP_LIST; do
    tcp_run "tcp_$s" "tcp $s" "$s" "$TCP_MSG"
  done
  # 16 MiB per stream: beyond the CPU caches, like the engine's buffers (512 KiB x 16 streams of
  # the runs above stay in the last-level cache).
  if [[ -n $TCP_COLD_BYTES ]]; then
    COLD_LIST=$(printf '%s\n' $ENGINE_STREAMS 16 | sort -nu | tr '\n' ' ')
    step "3b raw TCP beyond the CPU caches: tcp_bw STREAMS $TCP_SECONDS $TCP_COLD_BYTES for streams $COLD_LIST"
    for s in $COLD_LIST; do
      tcp_run "tcp_cold_$s" "tcp_cold $s" "$s" "$TCP_COLD_BYTES"
    done
  else
    step "3b raw TCP beyond the CPU caches skipped (TCP_COLD_MSG empty)"
  fi
else
  step "3 raw TCP skipped (no tcp_bw)"
fi

# ---- 4. NCCL over sockets -----------------------------------------------------------------------
# Each configuration is one torchrun (2 processes, GPU0 sends, GPU1 receives, nccl_sendrecv.py
# sweeps 256 KiB .. 256 MiB itself). The report keeps the best configuration per size.
NCCL_PY=${BENCH_DIR:+$BENCH_DIR/nccl_sendrecv.py}
TORCHRUN=()
if command -v torchrun >/dev/null 2>&1; then TORCHRUN=(torchrun); else TORCHRUN=(python3 -m torch.distributed.run); fi
nccl_skip=""
if [[ ${SKIP_NCCL:-0} == 1 ]]; then nccl_skip="SKIP_NCCL=1"
elif [[ -z $NCCL_PY || ! -f $NCCL_PY ]]; then nccl_skip="nccl_sendrecv.py not found"
elif ((GPUS < 2)); then nccl_skip="fewer than 2 GPUs"
elif ! timeout 90 python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
    "nccl", torch.cuda.nccl.version(), "gpus", torch.cuda.device_count())' >"$WORK/machine/torch.txt" 2>&1; then
  nccl_skip="python3 cannot import torch: $(tail -n 1 "$WORK/machine/torch.txt")"
fi
if [[ -n $nccl_skip ]]; then
  step "4 NCCL skipped ($nccl_skip)"
else
  step "4 NCCL over sockets: $NCCL_CONFIGS (each <= ${NCCL_TIMEOUT}s, all <= ${NCCL_BUDGET}s)"
  note "$(cat "$WORK/machine/torch.txt")"
  nccl_start=$SECONDS
  nccl_reserve=15
  [[ $SWEEP == 1 ]] && nccl_reserve=100  # keep time for the channels x sockets sweep
  port=29611
  for cfg in ${NCCL_CONFIGS//,/ }; do
    if [[ ! $cfg =~ ^([0-9]+)x([0-9]+)/([0-9]+[KMG]?)/([0-9]+[KMG]?)$ ]]; then
      note "NCCL config '$cfg' is not THREADSxSOCKETS/BUFF/CHUNK: skipped"; continue
    fi
    th=${BASH_REMATCH[1]} so=${BASH_REMATCH[2]}
    buf=$(to_bytes "${BASH_REMATCH[3]}") chunk=$(to_bytes "${BASH_REMATCH[4]}")
    name="${th}x${so}_${BASH_REMATCH[3]}_${BASH_REMATCH[4]}"
    if ((th * so > 64)); then note "$cfg: threads x sockets > 64 (NCCL refuses it): skipped"; continue; fi
    if ((SECONDS - nccl_start > NCCL_BUDGET)); then
      note "$cfg: NCCL budget of ${NCCL_BUDGET}s spent: skipped"; record "nccl $name" skipped 0; continue
    fi
    limit=$(fit "$NCCL_TIMEOUT" "$nccl_reserve")
    if ((limit < NCCL_TIMEOUT && limit < 30)); then  # cut by DEADLINE to under 30 s
      note "$cfg: too close to DEADLINE=${DEADLINE}s: skipped"; record "nccl $name" skipped 0; continue
    fi
    envs=(NCCL_NET=Socket NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo
      NCCL_SOCKET_NTHREADS="$th" NCCL_NSOCKS_PERTHREAD="$so" NCCL_BUFFSIZE="$buf"
      NCCL_P2P_NET_CHUNKSIZE="$chunk" NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1
      NVSHMEM_DISABLE_NVLS=1)
    printf '%s\n' "${envs[@]}" >"$WORK/nccl_$name.env"  # KEY=VALUE lines, for the report
    t=$SECONDS rc=0
    env "${envs[@]}" LABEL="nccl_$name" OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 \
      timeout -k 10 "$limit" "${TORCHRUN[@]}" --nproc_per_node=2 --master_addr=127.0.0.1 \
      --master_port=$port "$NCCL_PY" >"$WORK/nccl_$name.log" 2>&1 || rc=$?
    port=$((port + 1))
    record "nccl $name" "$rc" $((SECONDS - t))
    note "$cfg: exit $rc in $((SECONDS - t))s: $(grep -oE "size=[0-9]+ GB/s=[0-9.]+" "$WORK/nccl_$name.log" | tr '\n' ' ')"
  done
fi

# ---- 5. channels x sockets ------------------------------------------------------------------------
if [[ $SWEEP == 1 ]]; then
  step "5 channels x sockets: channels {$SWEEP_CHANNELS} x sockets {$SWEEP_SOCKS}, write $SWEEP_SIZES, $SWEEP_ITERS iterations"
  # Idle baseline for the CPU figures: nothing of ours runs for these 2 s (again after the sweep).
  python3 "$WORK/monitor.py" --idle 2 "$WORK/idle_before.mon.json"
  sweep_start=$SECONDS
  for c in $SWEEP_CHANNELS; do
    for k in $SWEEP_SOCKS; do
      ((c * k <= SWEEP_MAX_STREAMS)) || { note "$c x $k > $SWEEP_MAX_STREAMS streams: skipped"; continue; }
      if ((SECONDS - sweep_start > SWEEP_BUDGET)); then
        note "$c x $k: sweep budget of ${SWEEP_BUDGET}s spent: skipped"; record "sweep_c${c}_s$k" skipped 0; continue
      fi
      bench_run "sweep_c${c}_s$k" "$(fit "$ENGINE_TIMEOUT" 10)" UCCL_TCPX_NUM_CHANNELS="$c" UCCL_SOCKET_NSOCKS="$k" -- \
        --mode write --sizes "$SWEEP_BYTES" --iters "$SWEEP_ITERS"
      note "$c x $k: exit $? [$((SECONDS - T0))s]: $(rows_of "$WORK/sweep_c${c}_s$k.log")"
    done
  done
  python3 "$WORK/monitor.py" --idle 2 "$WORK/idle_after.mon.json"
else
  step "5 channels x sockets skipped (SWEEP=0)"
fi

# ---- 6. report ------------------------------------------------------------------------------------
rc=0
make_report || rc=$?
step "done"
[[ ${KEEP_WORK:-0} == 1 ]] && note "logs kept in $WORK"  # else the EXIT trap removes them
[[ $rc -eq 0 ]] || { note "report failed (exit $rc)"; exit 1; }
exit 0
