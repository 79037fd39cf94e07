#!/usr/bin/env bash
# Scale benchmark on the GPU machine, in one call: P concurrent pairs GPU i -> GPU i+P, for
# P = 1 .. G/2 (G = GPUs), the engine (scripts/scale_bench.py, multi- and single-process) side by
# side with NCCL over sockets (scripts/nccl_pairs.py, the best configuration of
# ../shared/bench/README.md), same P, same sizes, same run.
#
#   bash scripts/bench_scale.sh                 # build, then run; about 3-4 minutes on 4 x H200
#   SKIP_BUILD=1 BUILD_DIR=build bash scripts/bench_scale.sh
#
# Writes $OUT/scale.md (the combined table), $OUT/scale.json (everything) and the logs of every
# step under $OUT/scale_logs. Every step runs under `timeout`, bounded by a total budget
# (TOTAL_S, default 450 s) so the whole call ends within 8 minutes. Exit 0 only if every step
# ran and every pair's data verified.
#
# Knobs: OUT (./out), BUILD_DIR (build-scale), SKIP_BUILD=1, BUILD_TARGET (tcpxp_python: the
# engine and the Python module; `all` for everything), CUDA_ARCHS (90), PYTHON (python3),
# SIZES (4M,64M), ITERS (auto: about 2 GiB per pair), MAX_PAIRS (G/2), OP (write), SKIP_NCCL=1,
# SHARED_CHECK=0 (skip the cross-check with ../shared/bench/nccl_sendrecv.py at P=1),
# TCPXP_SHARED (the folder holding bench/nccl_sendrecv.py), GPUS (the GPU count, detected by
# default), HOST=1 (engine on host memory: a dry run of the whole script on a machine without GPUs,
# e.g. `HOST=1 GPUS=4 SKIP_NCCL=1 SKIP_BUILD=1 bash scripts/bench_scale.sh`).
set -uo pipefail
OUT=${OUT:-./out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOGS=$OUT/scale_logs
mkdir -p "$LOGS"
BUILD_DIR=${BUILD_DIR:-build-scale}
BUILD_TARGET=${BUILD_TARGET:-tcpxp_python}
PY=${PYTHON:-$(command -v python3)}
SIZES=${SIZES:-4M,64M}
OP=${OP:-write}
TOTAL_S=${TOTAL_S:-450}
T0=$SECONDS
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export UCCL_SOCKET_IFNAME=${UCCL_SOCKET_IFNAME:-lo}
export PYTHONPATH="$ROOT/$BUILD_DIR/python:$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
FAILED=()

say() { printf '[%4ds] %s\n' $((SECONDS - T0)) "$*"; }
# budget WANT: a step's timeout, WANT seconds or what is left of TOTAL_S (less a margin for the
# table); prints 0 when too little is left to start the step.
budget() {
  local left=$((TOTAL_S - (SECONDS - T0) - 15))
  local t=$(($1 < left ? $1 : left))
  ((t < 20)) && t=0
  echo $t
}
run_step() { # NAME LOG WANT_S CMD...: runs CMD under timeout, output to LOG; records failures
  local name=$1 log=$2 want=$3; shift 3
  local t; t=$(budget "$want")
  if ((t == 0)); then
    say "$name: SKIPPED (time budget of ${TOTAL_S}s spent)"; FAILED+=("$name (skipped)"); return 1
  fi
  say "$name: start (timeout ${t}s)"
  local s=$SECONDS
  timeout -k 10 "$t" "$@" >"$log" 2>&1
  local rc=$?
  say "$name: exit $rc after $((SECONDS - s))s (log: ${log#$OUT/})"
  ((rc == 124 || rc == 137)) && say "$name: TIMED OUT"
  ((rc != 0)) && FAILED+=("$name (exit $rc)")
  return $rc
}

SHARED_PY=""
for d in "${TCPXP_SHARED:-}/bench" "$ROOT/../shared/bench" "$ROOT/.deps/shared/bench"; do
  [[ -f $d/nccl_sendrecv.py ]] && { SHARED_PY=$d/nccl_sendrecv.py; break; }
done

say "tcpx-p2p scale benchmark: root $ROOT, out $OUT, python $PY, sizes $SIZES, op $OP"

# ---- build
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  if ! "$PY" -m nanobind --cmake_dir >/dev/null 2>&1; then
    say "FAIL: nanobind is not importable by $PY (the Python module cannot be built)"; exit 1
  fi
  run_step configure "$LOGS/configure.log" 120 cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DTCPXP_BUILD_TESTS=OFF -DPython_EXECUTABLE="$PY" \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" || { tail -n 30 "$LOGS/configure.log"; exit 1; }
  grep -E "tcpx-p2p:" "$LOGS/configure.log"
  run_step build "$LOGS/build.log" 240 cmake --build "$BUILD_DIR" --target "$BUILD_TARGET" \
    || { tail -n 40 "$LOGS/build.log"; exit 1; }
fi
if ! "$PY" -c "import tcpx_p2p; tcpx_p2p._load_core()" >"$LOGS/import.log" 2>&1; then
  say "FAIL: tcpx_p2p does not import from $BUILD_DIR/python:"; cat "$LOGS/import.log"; exit 1
fi

# ---- GPUs
G=${GPUS:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')}
if [[ -z $G || $G == 0 ]]; then
  G=$(timeout 60 "$PY" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
fi
MAXP=$((G / 2))
[[ -n ${MAX_PAIRS:-} && ${MAX_PAIRS} -lt $MAXP ]] && MAXP=$MAX_PAIRS
say "GPUs: $G -> pairs 1..$MAXP"
if ((MAXP < 1)); then say "FAIL: need at least 2 GPUs"; exit 1; fi
nvidia-smi -L >"$LOGS/gpus.txt" 2>&1

NCCL_ENV=(NCCL_NET=Socket NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo
  NCCL_NVLS_ENABLE=0 NCCL_SOCKET_NTHREADS=8 NCCL_NSOCKS_PERTHREAD=4 NCCL_BUFFSIZE=67108864
  NCCL_P2P_NET_CHUNKSIZE=4194304)
EXTRA=()  # flags for both benchmarks
[[ -n ${ITERS:-} ]] && EXTRA=(--iters "$ITERS")
HOST_FLAG=()
[[ ${HOST:-0} == 1 ]] && HOST_FLAG=(--host)

for ((P = 1; P <= MAXP; P++)); do
  run_step "engine P=$P" "$LOGS/engine_P$P.log" 150 "$PY" scripts/scale_bench.py --pairs "$P" \
    --mode both --op "$OP" --sizes "$SIZES" ${EXTRA[@]+"${EXTRA[@]}"} \
    ${HOST_FLAG[@]+"${HOST_FLAG[@]}"} --timeout 60 \
    --json "$LOGS/engine_P$P.json"
  grep -E "^ *[0-9]+ +[0-9]+[KMG]? |^==|FAIL" "$LOGS/engine_P$P.log"
  if [[ ${SKIP_NCCL:-0} != 1 ]]; then
    run_step "nccl P=$P" "$LOGS/nccl_P$P.log" 150 env "${NCCL_ENV[@]}" LABEL=nccl \
      "$PY" -m torch.distributed.run --nproc_per_node=$((2 * P)) \
      --master_port=$((29500 + RANDOM % 1000)) scripts/nccl_pairs.py --sizes "$SIZES" \
      ${EXTRA[@]+"${EXTRA[@]}"} --timeout 90
    grep -E "^nccl pairs=|^RESULT|Error|error" "$LOGS/nccl_P$P.log" | head -n 20
  fi
done

# Cross-check of the NCCL numbers with the shared baseline script (GPU0 -> GPU1, 6 sizes).
if [[ ${SKIP_NCCL:-0} != 1 && ${SHARED_CHECK:-1} == 1 && -n $SHARED_PY ]]; then
  if (($(budget 60) >= 45)); then
    run_step "shared nccl_sendrecv.py" "$LOGS/nccl_shared.log" 60 env "${NCCL_ENV[@]}" \
      LABEL=nccl_shared "$PY" -m torch.distributed.run --nproc_per_node=2 \
      --master_port=$((29500 + RANDOM % 1000)) "$SHARED_PY"
    grep -E "GB/s" "$LOGS/nccl_shared.log"
  else
    say "shared nccl_sendrecv.py: skipped (time budget)"
  fi
elif [[ -z $SHARED_PY ]]; then
  say "../shared/bench/nccl_sendrecv.py not found: no cross-check"
fi

# ---- the combined table
PROBLEMS=$(printf '%s\n' ${FAILED[@]+"${FAILED[@]}"})
"$PY" - "$LOGS" "$OUT" "$G" "$SIZES" "$OP" "$SHARED_PY" "$((SECONDS - T0))" "$PROBLEMS" <<'PY'
import glob, json, os, re, sys
logs, out, gpus, sizes, op, shared, elapsed, failed = sys.argv[1:9]
engine, nccl, shared_nccl = {}, {}, {}
for f in sorted(glob.glob(os.path.join(logs, "engine_P*.json"))):
    p = int(re.search(r"engine_P(\d+)\.json", f).group(1))
    try:
        engine[p] = json.load(open(f))
    except Exception as e:
        print(f"unreadable {f}: {e}")
for f in sorted(glob.glob(os.path.join(logs, "nccl_P*.log"))):
    for line in open(f, errors="replace"):
        m = re.match(r"nccl pairs=(\d+) size=(\d+) pair=(\d+) GB/s=([\d.]+)", line)
        if m:
            d = nccl.setdefault((int(m.group(1)), int(m.group(2))), {"pair_gbps": {}})
            d["pair_gbps"][int(m.group(3))] = float(m.group(4))
        m = re.match(r"nccl pairs=(\d+) size=(\d+) aggregate GB/s=([\d.]+)(.*)", line)
        if m:
            d = nccl.setdefault((int(m.group(1)), int(m.group(2))), {"pair_gbps": {}})
            d["aggregate_gbps"] = float(m.group(3))
            for k, v in re.findall(r"(\S+)=(\S+)", m.group(4)):
                d[k] = v
sf = os.path.join(logs, "nccl_shared.log")
if os.path.exists(sf):
    for line in open(sf, errors="replace"):
        m = re.match(r"\S+ size=(\d+) GB/s=([\d.]+)", line)
        if m:
            shared_nccl[int(m.group(1))] = float(m.group(2))

def lab(n):
    for u, s in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << s and n % (1 << s) == 0:
            return f"{n >> s}{u}"
    return str(n)

rows = []
hdr = ("| P | mode | size | engine aggregate GB/s | NCCL aggregate GB/s | engine / NCCL | "
       "engine per-pair GB/s | engine min/mean | NCCL min/mean | engine cores | "
       "engine cores per 10 GB/s | NCCL cores | verified |")
lines = [f"Scale benchmark: P pairs GPU i -> GPU i+P, {gpus} GPUs, op {op}, engine over the "
         "built-in TCP transport (loopback) vs NCCL over sockets (8 x 4 sockets, 64 MiB buffers, "
         "4 MiB chunks); GB/s = 1e9 B/s; min/mean goal >= 0.70", "", hdr,
         "|" + "---|" * hdr.count(" | ") + "---|"]
for p in sorted(engine):
    e = engine[p]
    if e.get("error"):
        lines.append(f"| {p} | - | - | FAILED: {e['error'].splitlines()[0][:120]} |")
    for r in e.get("results", []):
        n = nccl.get((p, r["size"]), {})
        na = n.get("aggregate_gbps")
        ratio = f"{r['aggregate_gbps'] / na:.2f}x" if na else "-"
        c10 = r.get("cores_per_10gbps")
        lines.append(
            f"| {p} | {r['mode']} | {r['size_label']} | {r['aggregate_gbps']:.2f} | "
            f"{na if na is not None else '-'} | {ratio} | "
            f"{' '.join(f'{g:.2f}' for g in r['pair_gbps'])} | {r['min_over_mean']:.2f}"
            f"{'' if r['fair'] else ' LOW'} | {n.get('min/mean', '-')} | {r['cores_busy']:.2f} | "
            f"{f'{c10:.2f}' if c10 is not None else '-'} | {n.get('cores', '-')} | "
            f"{'yes' if r['verified'] else 'NO'}{'' if n.get('verified', 'yes') == 'yes' else ' (NCCL NO)'} |")
        rows.append({"pairs": p, "mode": r["mode"], "size": r["size"],
                     "engine_aggregate_gbps": r["aggregate_gbps"], "nccl_aggregate_gbps": na,
                     "engine_over_nccl": r["aggregate_gbps"] / na if na else None,
                     "engine_pair_gbps": r["pair_gbps"], "engine_min_over_mean": r["min_over_mean"],
                     "nccl_pair_gbps": [n["pair_gbps"][i] for i in sorted(n.get("pair_gbps", {}))],
                     "nccl_min_over_mean": float(n["min/mean"]) if "min/mean" in n else None,
                     "engine_cores": r["cores_busy"], "engine_cores_per_10gbps": c10,
                     "nccl_cores": float(n["cores"]) if "cores" in n else None,
                     "engine_verified": r["verified"], "nccl_verified": n.get("verified") == "yes"})
if shared_nccl:
    lines += ["", "Cross-check, ../shared/bench/nccl_sendrecv.py GPU0 -> GPU1 (same NCCL config): "
              + ", ".join(f"{lab(s)} {g:.2f}" for s, g in sorted(shared_nccl.items())) + " GB/s"]
problems = [x for x in failed.splitlines() if x.strip()]
lines += ["", f"Total {elapsed} s." + (f" Problems: {'; '.join(problems)}" if problems else "")]
table = "\n".join(lines)
print(table)
open(os.path.join(out, "scale.md"), "w").write(table + "\n")
json.dump({"gpus": int(gpus), "sizes": sizes, "op": op, "elapsed_s": int(elapsed),
           "problems": problems, "rows": rows, "engine": engine,
           "nccl": {f"P{p} size={s}": v for (p, s), v in sorted(nccl.items())},
           "nccl_shared_sendrecv": shared_nccl, "shared_script": shared or None},
          open(os.path.join(out, "scale.json"), "w"), indent=1)
ok = not problems and rows and all(r["engine_verified"] for r in rows)
sys.exit(0 if ok else 1)
PY
rc=$?
say "done: $OUT/scale.md, $OUT/scale.json (exit $rc)"
exit $rc
