#!/usr/bin/env bash
# Engine GPU0 -> GPU1 benchmark on the GPU machine, side by side with NCCL over sockets in the
# same run (docs: ../shared/bench/README.md). Expects a built tree ($BUILD_DIR, default build).
# Writes $OUT/engine_bench.md (the table) and $OUT/engine_bench.json (everything).
#   TCPXP_SHARED: the folder holding bench/nccl_sendrecv.py (default ../shared, else .deps/shared-bench/..)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/out}
BUILD_DIR=${BUILD_DIR:-build}
SIZES=${SIZES:-256K,1M,4M,16M,64M,256M}
ITERS=${ITERS:-10}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/engine_bench.XXXXXX)
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export UCCL_SOCKET_IFNAME=lo
NCCL_PY=""
for d in "${TCPXP_SHARED:-}/bench" "$ROOT/../shared/bench" "$ROOT/.deps/shared/bench"; do
  [[ -f $d/nccl_sendrecv.py ]] && { NCCL_PY=$d/nccl_sendrecv.py; break; }
done

# CONFIGS: which engine configurations to run (all by default).
CONFIGS=${CONFIGS:-"gpu_default gpu_inflight4 host_default gpu_8ch gpu_8socks gpu_chunk1m"}
# name | env | extra flags
run_engine() {
  local name=$1 envs=$2 flags=$3
  [[ " $CONFIGS " == *" $name "* ]] || return 0
  echo "== engine $name: $envs tcpx-p2p bench $flags"
  env $envs timeout 240 "$BUILD_DIR/tcpx-p2p" bench --local --mode all --sizes "$SIZES" --iters "$ITERS" \
    --json "$WORK/engine_$name.json" $flags >"$WORK/engine_$name.log" 2>&1
  echo "   exit $?"; tail -n 22 "$WORK/engine_$name.log"
}
run_engine gpu_default "" ""
run_engine gpu_inflight4 "" "--inflight 4"
run_engine host_default "" "--host"
run_engine gpu_8ch "UCCL_TCPX_NUM_CHANNELS=8" ""
run_engine gpu_8socks "UCCL_SOCKET_NSOCKS=8" ""
run_engine gpu_chunk1m "UCCL_TCPX_CHUNK_BYTES=1M" ""

# NCCL over sockets: the best configuration of ../shared/bench/README.md and one more.
run_nccl() {
  local name=$1; shift
  echo "== nccl $name: $*"
  env NCCL_NET=Socket NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_SOCKET_IFNAME=lo LABEL=$name "$@" \
    timeout 180 torchrun --nproc_per_node=2 --master_port=$((29500 + RANDOM % 1000)) "$NCCL_PY" \
    >"$WORK/nccl_$name.log" 2>&1
  echo "   exit $?"; grep "GB/s" "$WORK/nccl_$name.log"
}
if [[ -n $NCCL_PY && ${SKIP_NCCL:-0} != 1 ]]; then
  run_nccl nccl_8x4_64M_4M NCCL_SOCKET_NTHREADS=8 NCCL_NSOCKS_PERTHREAD=4 NCCL_BUFFSIZE=67108864 NCCL_P2P_NET_CHUNKSIZE=4194304
  run_nccl nccl_8x4_32M_2M NCCL_SOCKET_NTHREADS=8 NCCL_NSOCKS_PERTHREAD=4 NCCL_BUFFSIZE=33554432 NCCL_P2P_NET_CHUNKSIZE=2097152
else
  echo "nccl_sendrecv.py not found: NCCL comparison skipped"
fi

python3 - "$WORK" "$OUT" <<'PY'
import glob, json, os, re, sys
work, out = sys.argv[1], sys.argv[2]
engine = {}
for f in sorted(glob.glob(os.path.join(work, "engine_*.json"))):
    name = os.path.basename(f)[len("engine_"):-5]
    try:
        engine[name] = json.load(open(f))
    except Exception as e:
        print("unreadable", f, e)
nccl = {}
for f in sorted(glob.glob(os.path.join(work, "nccl_*.log"))):
    for line in open(f):
        m = re.match(r"(\S+) size=(\d+) GB/s=([\d.]+)", line)
        if m:
            nccl.setdefault(m.group(1), {})[int(m.group(2))] = float(m.group(3))
sizes = sorted({r["size"] for e in engine.values() for r in e["results"]})
best = {s: max((v.get(s, 0) for v in nccl.values()), default=0) for s in sizes}
lines = ["| config | mode | " + " | ".join(f"{s >> 20} MiB" if s >= 1 << 20 else f"{s >> 10} KiB" for s in sizes) + " |",
         "|---|---|" + "---|" * len(sizes)]
for name, e in engine.items():
    for mode in ("sendrecv", "write", "read"):
        row = {r["size"]: r["gbps"] for r in e["results"] if r["mode"] == mode}
        if row:
            lines.append(f"| {name} | {mode} | " + " | ".join(f"{row.get(s, 0):.2f}" for s in sizes) + " |")
for name, v in nccl.items():
    lines.append(f"| {name} | send/recv | " + " | ".join(f"{v.get(s, 0):.2f}" for s in sizes) + " |")
lines.append("| best NCCL | | " + " | ".join(f"{best[s]:.2f}" for s in sizes) + " |")
if "gpu_default" in engine:
    for mode in ("sendrecv", "write", "read"):
        row = {r["size"]: r["gbps"] for r in engine["gpu_default"]["results"] if r["mode"] == mode}
        lines.append(f"| gpu_default {mode} / best NCCL | | " + " | ".join(
            (f"{row.get(s, 0) / best[s]:.2f}x" if best[s] else "-") for s in sizes) + " |")
table = "\n".join(lines)
print(table)
open(os.path.join(out, "engine_bench.md"), "w").write(table + "\n")
json.dump({"engine": engine, "nccl": nccl}, open(os.path.join(out, "engine_bench.json"), "w"), indent=1)
PY
