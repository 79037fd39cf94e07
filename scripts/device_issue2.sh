#!/usr/bin/env bash
# The one script to run on the GPU machine (2 x H200, CUDA, torch with NCCL, no network, no pip),
# from the repo root, in one call:
#   1. build the project from source (cmake -G Ninja, Release) into $BUILD_DIR (default build)
#   2. ctest (all tests), log saved
#   3. scripts/bench_transport.sh with streams 1 4 8 (raw TCP vs transport), plus one
#      transport_bw size sweep
#   4. the NCCL plugin check: torchrun, 2 processes, GPU0 -> GPU1 through libnccl-net-tcpxp.so
# and copies compact logs and JSON to $OUT (at most 8 files come back from there):
#   summary.txt  build.log  ctest.log  bench_transport.txt  bench_transport.json
#   transport_sweep.json  nccl_plugin.log
# A failing step does not stop later ones (unless the build failed); the exit status is 0 only
# if every step passed. Every step has a timeout.
#
# environment: OUT (default ./out), BUILD_DIR (default build), TCPXP_SHARED (shared/ with
# bench/tcp_bw.cc; default ../shared, else ./shared), TCPXP_GTEST_SOURCE_DIR (googletest source
# to build when the system has none; default ./.deps/googletest or /usr/src/googletest),
# TCPXP_CMAKE_ARGS (extra cmake arguments), CTEST_JOBS (default 8), RUN_UNPACK=1 (also run the
# NCCL check with UCCL_SOCKET_UNPACK=1, the TCPX-style GPU receive path; informational).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/out}
BUILD_DIR=${BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/device_issue2.XXXXXX)
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
# NVLink multicast stays off on shared hosts (and our runs never want it).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

say() { echo "== $*" | tee -a "$SUMMARY"; }
FAILED=()
record() {  # record NAME RC
  if [[ $2 -eq 0 ]]; then say "$1: PASS"; else say "$1: FAIL (exit $2)"; FAILED+=("$1"); fi
}
compact() {  # compact SRC DST LINES: head and tail of a long log
  local n
  n=$(wc -l <"$1")
  if ((n <= $3)); then cp "$1" "$2"; else
    { head -n $(($3 / 4)) "$1"; echo "... [$((n - $3)) lines cut; full log was $n lines] ..."; tail -n $(($3 * 3 / 4)) "$1"; } >"$2"
  fi
}

say "device_issue2 $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
{
  echo "kernel $(uname -r)"
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/gpu /' || echo "nvidia-smi failed"
  echo "cmake: $(cmake --version 2>&1 | head -n 1); ninja $(ninja --version 2>&1); c++: $(c++ --version 2>&1 | head -n 1)"
  echo "nvcc: $(nvcc --version 2>&1 | tail -n 1)"
  timeout 60 python3 -c 'import torch; print("torch", torch.__version__, "nccl", torch.cuda.nccl.version(), "gpus", torch.cuda.device_count())' 2>&1 | tail -n 1 || true
} | tee -a "$SUMMARY"

# ---- 1. build ---------------------------------------------------------------------------
# GoogleTest: the system's if installed, else built from source inside the project's build
# (TCPXP_GTEST_SOURCE_DIR, ./.deps/googletest or /usr/src/googletest).
GTEST_ARGS=(-DTCPXP_BUILD_TESTS=ON)
if [[ ! -f /usr/include/gtest/gtest.h && -z ${TCPXP_GTEST_SOURCE_DIR:-} ]]; then
  for d in "$ROOT/.deps/googletest" /usr/src/googletest; do
    if [[ -f $d/CMakeLists.txt ]]; then export TCPXP_GTEST_SOURCE_DIR=$d; break; fi
  done
fi
say "GoogleTest: ${TCPXP_GTEST_SOURCE_DIR:-system package}"
CMAKE_EXTRA=${TCPXP_CMAKE_ARGS-}
rc=0
{
  # shellcheck disable=SC2086  # CMAKE_EXTRA is a list of words
  timeout 300 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release $CMAKE_EXTRA "${GTEST_ARGS[@]}" &&
    timeout 1200 ninja -C "$BUILD_DIR"
} >"$WORK/build.log" 2>&1 || rc=$?
compact "$WORK/build.log" "$OUT/build.log" 300
record "build ($BUILD_DIR, Release)" "$rc"
if [[ $rc -ne 0 ]]; then
  { grep -E "error|FAILED|CMake Error" -A3 "$WORK/build.log" || true; } | head -n 30 | tee -a "$SUMMARY"
  say "build failed: later steps skipped"
  exit 1
fi
PLUGIN=$ROOT/$BUILD_DIR/src/libnccl-net-tcpxp.so
if [[ -f $PLUGIN ]]; then
  say "plugin $PLUGIN exports: $(nm -D --defined-only "$PLUGIN" 2>/dev/null | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')"
else
  say "plugin $PLUGIN was not built"
fi

# ---- 2. ctest ---------------------------------------------------------------------------
if [[ ${GTEST_ARGS[0]} != -DTCPXP_BUILD_TESTS=OFF ]]; then
  rc=0
  UCCL_SOCKET_IFNAME=lo timeout 900 ctest --test-dir "$BUILD_DIR" --output-on-failure \
    -j "${CTEST_JOBS:-8}" --timeout 180 >"$WORK/ctest.log" 2>&1 || rc=$?
  compact "$WORK/ctest.log" "$OUT/ctest.log" 1500
  { grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|\(SEGFAULT\)|Not Run|\*\*\*Exception" "$WORK/ctest.log" || true; } |
    head -n 40 | tee -a "$SUMMARY"
  record "ctest" "$rc"
else
  say "ctest: skipped (no GoogleTest)"
fi

# ---- 3. transport bench -------------------------------------------------------------------
rc=0
OUT="$WORK/bench" BUILD_DIR="$BUILD_DIR" SKIP_BUILD=1 timeout 600 \
  "$ROOT/scripts/bench_transport.sh" 1 4 8 >"$WORK/bench.log" 2>&1 || rc=$?
if [[ -f $WORK/bench/bench_transport.txt ]]; then
  { cat "$WORK/bench/bench_transport.txt"; echo; echo "# run log"; grep -E "^(bench_transport|note):" "$WORK/bench.log" || true; } >"$OUT/bench_transport.txt"
  cat "$WORK/bench/bench_transport.txt" >>"$SUMMARY"
else
  compact "$WORK/bench.log" "$OUT/bench_transport.txt" 200
fi
if [[ -f $WORK/bench/bench_transport.json ]]; then cp "$WORK/bench/bench_transport.json" "$OUT/"; fi
record "bench_transport.sh 1 4 8" "$rc"

rc=0
UCCL_SOCKET_NSOCKS=8 UCCL_SOCKET_IFNAME=lo timeout 300 "$ROOT/$BUILD_DIR/bench/transport_bw" \
  --json "$OUT/transport_sweep.json" >"$WORK/sweep.log" 2>&1 || rc=$?
{ echo "# transport_bw size sweep, UCCL_SOCKET_NSOCKS=8"; tail -n 20 "$WORK/sweep.log"; } | tee -a "$SUMMARY"
UCCL_SOCKET_IFNAME=lo timeout 120 "$ROOT/$BUILD_DIR/bench/transport_bw" --demo >"$WORK/demo.log" 2>&1 || rc=$?
tail -n 3 "$WORK/demo.log" | tee -a "$SUMMARY"
record "transport_bw sweep + demo" "$rc"

# ---- 4. NCCL loads the plugin and moves correct data ----------------------------------------
nccl_check() {  # nccl_check LABEL [ENV=VALUE ...]
  local label=$1 log=$WORK/nccl_$1.log rc=0
  shift
  if [[ ! -f $PLUGIN ]]; then say "nccl $label: plugin missing"; return 1; fi
  env "$@" NCCL_NET_PLUGIN="$PLUGIN" NCCL_NET=tcpx-p2p-socket NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 \
    NCCL_NVLS_ENABLE=0 NCCL_SOCKET_IFNAME=lo UCCL_SOCKET_IFNAME=lo NCCL_DEBUG=INFO \
    NCCL_DEBUG_SUBSYS=INIT,NET,ENV PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 \
    timeout -k 15 300 python3 -m torch.distributed.run --nproc_per_node=2 --master_port=29533 \
    "$ROOT/scripts/nccl_plugin_sendrecv.py" --plugin "$PLUGIN" >"$log" 2>&1 || rc=$?
  {
    echo "######## nccl $label (exit $rc) ########"
    echo "# plugin evidence:"
    grep -E "Loaded net plugin|NET/Plugin|Using network|tcpx-p2p-socket|NCCL_NET" "$log" | sort | uniq -c | head -n 20
    echo "# warnings and errors:"
    grep -E "WARN|[Ee]rror|Traceback|exception|FAIL" "$log" | sort | uniq -c | sort -rn | head -n 30
    echo "# results:"
    grep -E "^plugin |size=|RESULT" "$log"
    echo "# log tail:"
    tail -n 40 "$log"
  } >>"$OUT/nccl_plugin.log"
  grep -E "size=|RESULT" "$log" | sed "s/^/nccl $label: /" | tee -a "$SUMMARY"
  if ! grep -q "Loaded net plugin tcpx-p2p-socket" "$log"; then
    say "nccl $label: NCCL did not log 'Loaded net plugin tcpx-p2p-socket'"
    [[ $rc -eq 0 ]] && rc=3
  fi
  grep -q "RESULT PASS" "$log" || { [[ $rc -eq 0 ]] && rc=4; }
  return "$rc"
}
: >"$OUT/nccl_plugin.log"
rc=0; nccl_check host || rc=$?
record "NCCL send/recv through libnccl-net-tcpxp.so (host buffers)" "$rc"
if [[ ${RUN_UNPACK:-0} == 1 ]]; then
  rc=0; nccl_check unpack UCCL_SOCKET_UNPACK=1 || rc=$?
  say "NCCL with UCCL_SOCKET_UNPACK=1 (informational): exit $rc"
fi

# ---- done -----------------------------------------------------------------------------------
rm -rf "$WORK"
if [[ ${#FAILED[@]} -eq 0 ]]; then say "ALL PASS"; exit 0; fi
say "FAILED: ${FAILED[*]}"
exit 1
