#!/usr/bin/env bash
# Issue 23's runs on the one-GPU machine (1 x H200 or H100, 16 cores, no network, no pip), from the
# repo root, one part per call (each fits the device tool's 10-minute limit):
#
#   scripts/device_issue23.sh measure   build; GPU tests of the new paths; the copy kernels'
#                                       speed (gather_bw); the UNPACK emulation with the engine's
#                                       cost per request (item 4); the Wakeups test (item 2); the
#                                       gap to raw TCP with each thread's CPU (item 6); GPU
#                                       and host vectors of 4, 8 and 32 KiB pieces, the KV shape (item 1)
#   scripts/device_issue23.sh measure1  | measure2: the same in two calls (1: build, GPU tests,
#                                       gather_bw, UNPACK, Wakeups; 2: raw TCP and the engine with
#                                       CPU per thread, 8-byte latency, vectors, KV), for a 10-minute limit that
#                                       `measure` would pass; a warm machine keeps 1's build for 2
#   scripts/device_issue23.sh peers     the engine beside NIXL (UCX over TCP) and Mooncake TE on
#                                       GPU 0 (item 5: bench_vs_peers.py --one-gpu); carry .deps/peers,
#                                       .whl and .peerlibs (../shared/bench/peers/README.md)
#   scripts/device_issue23.sh diagnose6 | ab6 | ab6b: item 6 (raw TCP beside the engine under perf,
#                                       layouts, staging pool sizes; see each function)
#   scripts/device_issue23.sh unpack4   item 4: the UNPACK emulation by chunk and channel count
#   scripts/device_issue23.sh sizes6    item 6 by transfer size (16, 64, 256 MiB), GPU and host
#   scripts/device_issue23.sh bound6    item 6: both copy directions at once on the one GPU (the
#                                       bound of GPU0 -> GPU0) beside the engine; host memory
#   scripts/device_issue23.sh spread6   item 6: the memory walked (bench --spread) beside raw TCP
#                                       by message size
#   scripts/device_issue23.sh vectors1  item 1: GPU and host vectors against contiguous, ROUNDS
#                                       rounds (default 3), and the KV shape
#   scripts/device_issue23.sh small5    item 5's small sizes: latency_floor by size (the parts
#                                       of a serialized staged write), the engine's serialized
#                                       and 8-in-flight 256 KiB - 4 MiB by chunk size, inline
#                                       against the channels at 16-64 KiB, traces of 256 KiB
#   scripts/device_issue23.sh readahead5  reads without a Cts: GPU tests, then GPU and host
#                                       transfers against a baseline source tree BASE (built
#                                       here), ROUNDS (2) alternated
#   scripts/device_issue23.sh latency5  serialized 256 KiB - 1 MiB: latency_floor, the helpers'
#                                       spin, caller I/O and 256 KiB chunks against the default
#                                       (ROUNDS, 2), traces of 1 MiB reads
#   scripts/device_issue23.sh mps5      serialized GPU 256 KiB and 1 MiB with and without CUDA MPS
#                                       (both processes in one GPU context), host beside them
#   scripts/device_issue23.sh gpudirect5  UCCL_SOCKET_GPU_DIRECT: its GPU tests (and the staged
#                                       and UNPACK ones), then the engine's GPU transfers with it
#                                       (UCCL_SOCKET_GPU_DIRECT_MAX: GDMAX, default 0) against the staged
#                                       path, ROUNDS (2) alternated
#
# Results go to $OUT (default ./out), at most 8 files: summary.txt (every figure, in order),
# build.log, ctest.log, unpack.log (full UNPACK logs) for `measure`; one_gpu.log, work.tgz and the
# report for `peers`. Every step has a timeout and a failing step does not stop the next.
# environment: OUT, BUILD_DIR (default build), TCPXP_GTEST_SOURCE_DIR (googletest sources when
# the system has none; default ./.deps/googletest), TCPXP_SHARED (holding bench/tcp_bw.cc;
# default ../shared, else ./.deps/shared), JOBS (build jobs, default 15).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
PART=${1:-}
OUT=${OUT:-$ROOT/out}
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-15}
mkdir -p "$OUT"
S=$OUT/summary.txt
say() { echo "[$(date +%T)] $*" | tee -a "$S"; }
export UCCL_SOCKET_IFNAME=lo NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
: "${TCPXP_GTEST_SOURCE_DIR:=$ROOT/.deps/googletest}"
export TCPXP_GTEST_SOURCE_DIR
B=$BUILD_DIR/tcpx-p2p
CPU="python3 scripts/thread_cpu.py --delay 1.5 --window 1.5 --"

# show PATTERN CMD...: CMD's lines matching PATTERN into the summary; on failure its exit status
# and last lines too (a filtered failure would show nothing).
show() {
  local pattern=$1 log=/tmp/device_issue23_step.log
  shift
  "$@" >"$log" 2>&1
  local rc=$?
  grep -E "$pattern" "$log" | head -40 >>"$S"
  if ((rc != 0)); then
    echo "rc=$rc; last lines:" >>"$S"
    tail -n 4 "$log" >>"$S"
  fi
  return 0
}

build() {
  (cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DPython_EXECUTABLE="$(command -v python3)" -DTCPXP_BUILD_TESTS=ON >/dev/null &&
   ninja -k 0 -C "$BUILD_DIR" -j"$JOBS" "$@") >"$OUT/build.log" 2>&1
  local rc=$?
  say "build rc=$rc"
  grep -E "error:|FAILED" "$OUT/build.log" | head -10 | tee -a "$S"
  return $rc
}

# tcp_bw (raw loopback TCP) from ../shared/bench, or TCPXP_SHARED, or the carried copy.
build_tcp_bw() {
  local shared
  for shared in "${TCPXP_SHARED:-}" ../shared .deps/shared; do
    [[ -n $shared && -f $shared/bench/tcp_bw.cc ]] && break
  done
  g++ -O2 -pthread -o "$BUILD_DIR/tcp_bw" "$shared/bench/tcp_bw.cc" || say "tcp_bw: no build"
}

# Raw TCP at the engine's stream count (16) with cold 16 MiB messages: item 6's reference.
raw_tcp16() {
  say "raw TCP, 16 streams, 16 MiB messages"
  timeout 20 "$BUILD_DIR/tcp_bw" 16 3 16777216 >>"$S" 2>&1
}

# traced FILE BENCH_ARGS...: one `bench --local` run under UCCL_TCPX_TRACE, its result lines
# into the summary, trace_report.py of its sender and receiver files into $OUT/FILE.
traced() {
  local file=$1 snd rcv
  shift
  rm -rf /tmp/trace && mkdir -p /tmp/trace
  UCCL_TCPX_TRACE=/tmp/trace/t timeout 60 $B bench --local "$@" 2>&1 |
    grep -E "^(write|read) " >>"$S"
  snd=$(grep -l ",s," /tmp/trace/t.*.csv | head -1)
  rcv=$(grep -l ",r," /tmp/trace/t.*.csv | head -1)
  python3 scripts/trace_report.py "$snd" "$rcv" >"$OUT/$file" 2>&1
}

# Part 1: the GPU paths (tests, copy kernels, UNPACK emulation) and the Wakeups test.
measure_gpu() {
  build tcpx-p2p gather_bw gpu_kernel_tests gpu_engine_tests engine_tests common_tests || true
  # GPU tests of this issue's paths, beside the kernel speed runs.
  (cd "$BUILD_DIR" && timeout 240 ctest --output-on-failure --timeout 150 -j8 \
     -R "gpu\.kernels|gpu\.unpack\.|gpu\.unpack_pinned\.|GpuEndToEnd\.Vectors|common\.DeviceCopy" >"$OUT/ctest.log" 2>&1
   echo "ctest rc=$?" >>"$OUT/ctest.log") &
  local ct=$!
  say "gather_bw, jittered fragments"; timeout 60 "$BUILD_DIR/bench/gather_bw" --jitter >>"$S" 2>&1
  say "gather_bw, 4 KiB fragments"; timeout 60 "$BUILD_DIR/bench/gather_bw" >>"$S" 2>&1
  wait $ct
  grep -E "tests passed|\*\*\*Failed|\(Failed\)|ctest rc" "$OUT/ctest.log" | tail -n 25 >>"$S"
  # Item 4: the emulation's GB/s, and the receiving driver's time per request (turns x avg /
  # requests) with its CUDA starts and completion polls.
  # Bounce pages in GPU memory (gpu1: the emulation's helpers copy each piece to the GPU) and in
  # pinned host memory (gpu0: no CUDA call in the helpers, the engine's own cost alone).
  local cfg
  for cfg in 524288:1 default:1 524288:0; do
    local chunk=${cfg%:*} gpu=${cfg#*:}
    local env=(UCCL_SOCKET_UNPACK=1 UCCL_SOCKET_UNPACK_GPU=$gpu UCCL_TCPX_DEBUG=INFO)
    [[ $chunk != default ]] && env+=("UCCL_TCPX_CHUNK_BYTES=$chunk")
    say "UNPACK emulation, chunk $chunk, UCCL_SOCKET_UNPACK_GPU=$gpu, 8 in flight"
    env "${env[@]}" timeout 120 $B bench --local --inflight 8 --mode write,read \
      --sizes 1M,16M,256M --iters 30 --verify >/tmp/unpack_$chunk.log 2>&1
    say "rc=$?"
    grep -E "^(write|read) |driver:|data paths|channel 0:" /tmp/unpack_$chunk.log | head -30 >>"$S"
    cat /tmp/unpack_$chunk.log >>"$OUT/unpack.log"
  done
  # The default path (no emulation) in the same call: what this lease's GPU copies allow.
  say "default path (no UNPACK), 8 in flight"
  show "^(write|read) " timeout 90 $B bench --local --inflight 8 --mode write,read \
    --sizes 1M,16M,256M --iters 30 --verify
  say "UNPACK, one process, 4 endpoint pairs"
  show "^(write|read)|all pairs|errors" env UCCL_SOCKET_UNPACK=1 timeout 90 $B bench --local \
    --gpus 0x4 --mode write,read --sizes 16M,64M --iters 20 --verify
  # Item 2 on this machine.
  for helpers in 1 0; do
    say "Wakeups, UCCL_SOCKET_HELPERS=$helpers"
    UCCL_TCPX_TIMEOUT_MS=10000 UCCL_SOCKET_HELPERS=$helpers timeout 120 \
      "$BUILD_DIR/tests/engine_tests" --gtest_filter='Wakeups.*' 2>&1 |
      grep -E "p50|OK \]|FAILED" | head -20 >>"$S"
  done
  say "part 1 done"
}

# Part 2: the gap to raw TCP with each thread's CPU, vectors and the KV shape (a warm machine
# keeps part 1's build: ninja has nothing left to do).
measure_tcp() {
  build tcpx-p2p latency_floor || true
  build_tcp_bw
  # Item 6: raw TCP (cache-resident 512 KiB messages and 16 MiB ones), then the engine, each
  # with its threads' CPU over 1.5 s of its run.
  for st in 8 16; do
    for msg in 524288 16777216; do
      say "raw TCP, $st streams, $msg-byte messages"
      $CPU "$BUILD_DIR/tcp_bw" $st 4 $msg 2>&1 | grep -E "GB/s|cpu:" | head -8 >>"$S"
    done
  done
  local run=("$B" bench --local --inflight 8 --mode write --sizes 256M --iters 400)
  say "engine, GPU memory, defaults (4 channels x 4 sockets)"
  $CPU "${run[@]}" 2>&1 | grep -E "^write |cpu:" | head -16 >>"$S"
  say "engine, host memory, defaults"
  $CPU "${run[@]}" --host 2>&1 | grep -E "^write |cpu:" | head -16 >>"$S"
  say "engine, GPU memory, 4 channels x 2 sockets (8 streams)"
  UCCL_SOCKET_NSOCKS=2 $CPU "${run[@]}" 2>&1 | grep -E "^write |cpu:" | head -16 >>"$S"
  say "engine, GPU memory, 2 channels x 8 sockets"
  UCCL_TCPX_NUM_CHANNELS=2 UCCL_SOCKET_NSOCKS=8 $CPU "${run[@]}" 2>&1 |
    grep -E "^write |cpu:" | head -16 >>"$S"
  say "engine, write and read, 64 and 256 MiB, 8 in flight"
  timeout 90 $B bench --local --inflight 8 --mode write,read --sizes 64M,256M --iters 40 2>&1 |
    grep -E "^(write|read) " >>"$S"
  # Small transfers: the 8-byte round trip (GPU and host memory) beside its floor (a raw TCP
  # ping-pong, the GPU copy waits); section 15 saw 25 us on the 2 x H200 machine.
  say "latency: engine 8-byte write + wait (GPU, host), then latency_floor"
  show "^latency" timeout 60 $B bench --local --mode latency --sizes 8 --latency-iters 5000
  show "^latency" timeout 60 $B bench --local --host --mode latency --sizes 8 --latency-iters 5000
  show "." timeout 60 "$BUILD_DIR/bench/latency_floor" --iters 20000
  # Item 1 on the GPU: pieces against one contiguous transfer, same connection, same run.
  local vec=(--local --gpu 0 --server-gpu 0 --sizes 32M --iters 20 --verify --mode "write,read,writev,readv")
  for pb in 4K 8K 32K; do
    say "GPU vectors of $pb pieces"
    show "^(write|read)|p50" timeout 90 $B bench "${vec[@]}" --piece-bytes $pb
  done
  for pb in 4K 8K 32K; do
    say "host vectors of $pb pieces (vectored requests)"
    show "^(write|read)|p50" timeout 90 $B bench --local --host --sizes 32M --iters 20 --verify \
      --mode "write,read,writev,readv" --piece-bytes $pb
  done
  say "KV shape, GPU"
  show "^read|p50" timeout 90 $B bench --local --gpu 0 --server-gpu 0 --kv 32x16x16K \
    --mode read,readv --inflight 4 --iters 50 --verify
  say "done"
}

# perf from .perf/ (carried: the perf binary and its libraries; the image has none), if there.
PERF=()
[[ -x $ROOT/.perf/perf ]] && PERF=(env "LD_LIBRARY_PATH=$ROOT/.perf/lib" "$ROOT/.perf/perf")

# profile NAME CMD...: runs CMD; 1.5 s in, samples every CPU for 2 s (cpu-clock, call graphs);
# the hottest symbols and the threads' shares go to $OUT/perf_NAME.txt.
profile() {
  local name=$1
  shift
  "$@" >/tmp/profile_$name.log 2>&1 &
  local pid=$!
  if ((${#PERF[@]})); then
    sleep 1.5
    "${PERF[@]}" record -q -e cpu-clock -F 499 -a -g -o /tmp/$name.data -- sleep 2 >/dev/null 2>&1
  fi
  wait $pid
  say "$name: rc=$?"
  grep -E "GB/s|^(write|read) |helpers," /tmp/profile_$name.log | head -20 >>"$S"
  ((${#PERF[@]})) || return 0
  {
    echo "== $name: threads"
    "${PERF[@]}" report -i /tmp/$name.data --no-children --sort comm --stdio 2>/dev/null |
      grep -E "^ +[0-9]" | head -20
    echo "== $name: symbols"
    "${PERF[@]}" report -i /tmp/$name.data --no-children --sort dso,sym --stdio -g none \
      2>/dev/null | grep -E "^ +[0-9]" | head -45
    echo "== $name: callers of the copies and of the scheduler"
    "${PERF[@]}" report -i /tmp/$name.data --children --sort sym --stdio -g caller,0.5,callee \
      --percent-limit 4 2>/dev/null | grep -vE "^$|^#" | head -120
  } >"$OUT/perf_$name.txt"
}

# Item 6: channels x sockets per comm (a comm's sockets share one FIFO window of 16 requests:
# a socket that falls behind parks the others), alternated over 3 rounds; recv helpers' parked
# share beside each figure. Then serialized small writes, where one socket per comm loses the
# idle split of a request over sockets.
ab6() {
  local cfg rep
  for rep in 1 2 3; do
    for cfg in 4x4x1M 16x1x1M 8x1x1M 8x2x1M 4x4x3M; do
      IFS=x read -r ch ns chunk <<<"$cfg"
      echo -n "$cfg: " >>"$S"
      UCCL_TCPX_NUM_CHANNELS=$ch UCCL_SOCKET_NSOCKS=$ns UCCL_TCPX_CHUNK_BYTES=$chunk \
        UCCL_TCPX_DEBUG=INFO timeout 40 $B bench --local --inflight 8 --mode write \
        --sizes 256M --iters 120 2>&1 | grep -E "^write |recv comm from.*helpers" |
        sed -E 's/.*(parked [0-9]+%).*/\1/' | tr -s ' ' | tr '\n' ' ' >>"$S"
      echo >>"$S"
    done
  done
  for cfg in 4x4x1M 4x4x3M 16x1x1M 8x1x1M 8x2x1M; do
    IFS=x read -r ch ns chunk <<<"$cfg"
    say "$cfg, serialized"
    UCCL_TCPX_NUM_CHANNELS=$ch UCCL_SOCKET_NSOCKS=$ns UCCL_TCPX_CHUNK_BYTES=$chunk timeout 60 \
      $B bench --local --mode write,read --sizes 256K,1M,4M --iters 200 2>&1 |
      grep -E "^(write|read) " >>"$S"
  done
}

# Item 6, second step: a GPU receive is posted only with a free staging slot (half of
# UCCL_TCPX_STAGING_BYTES: 32 x 1 MiB, 8 per channel, not the comm's 16), alternated over 3
# rounds with host memory (no staging); then item 4: the UNPACK emulation at TCPX's 512 KiB
# chunks, bounce pages in GPU memory and in pinned host memory.
ab6b() {
  build tcpx-p2p gpu_engine_tests || true
  build_tcp_bw
  raw_tcp16
  local cfg rep
  for rep in $(seq "${ROUNDS:-3}"); do
    # memory:staging (the pool both directions share; a one-way stream gets all but the other
    # direction's reserve of 2 slots per channel)
    for cfg in gpu:16M gpu:32M gpu:64M gpu:128M gpu:256M host:64M; do
      IFS=: read -r mem staging <<<"$cfg"
      echo -n "$cfg: " >>"$S"
      local flags=()
      [[ $mem == host ]] && flags=(--host)
      UCCL_TCPX_STAGING_BYTES=$staging UCCL_TCPX_DEBUG=INFO timeout 40 $B bench --local \
        --inflight 8 --mode write --sizes 256M --iters 120 "${flags[@]}" 2>&1 |
        grep -E "^write |recv comm from.*helpers" | sed -E 's/.*(parked [0-9]+%).*/\1/' |
        tr -s ' ' | tr '\n' ' ' >>"$S"
      echo >>"$S"
    done
  done
  raw_tcp16
  say "GPU tests: the staging pool shared both ways (default and 4 slots for 8 channels)"
  (cd "$BUILD_DIR" && timeout 200 ctest --output-on-failure --timeout 150 -j4 \
     -R "gpu\.(staged|small_pool|callerio)\." >"$OUT/ctest.log" 2>&1
   echo "ctest rc=$?" >>"$OUT/ctest.log")
  grep -E "tests passed|\*\*\*Failed|\(Failed\)|Timeout|ctest rc" "$OUT/ctest.log" | tail -n 25 >>"$S"
  say "done"
}

# Item 4: the UNPACK emulation by chunk and channel count (a comm's window is 16 receives, so
# 4 channels of 512 KiB hold 32 MiB in flight), bounce pages in GPU memory (1) and in pinned
# host memory (0); the receiver's per-request lines (transport calls, gather launches, polls).
unpack4() {
  build tcpx-p2p || true
  local chunk ch gpu
  for chunk in ${CHUNKS:-512K 1M}; do
    for ch in ${CHANNELS:-4 8 16}; do
      for gpu in 1 0; do
        say "UNPACK, chunk $chunk, $ch channels, UCCL_SOCKET_UNPACK_GPU=$gpu, write 64 MiB, 8 in flight"
        show "^write |data paths|channel 0: 0 sends|driver:" env UCCL_SOCKET_UNPACK=1 \
          UCCL_SOCKET_UNPACK_GPU=$gpu UCCL_TCPX_CHUNK_BYTES=$chunk UCCL_TCPX_NUM_CHANNELS=$ch \
          UCCL_TCPX_DEBUG=INFO timeout 60 $B bench --local --inflight 8 --mode write --sizes 64M \
          --iters 60 --verify
      done
    done
  done
  say "done"
}

# Item 6 by size: the bench's one buffer per side is as large as its transfers (8 in flight
# share it), so 16 / 64 / 256 MiB transfers walk 16 / 64 / 256 MiB of memory per side; raw TCP
# with 16 MiB messages walks 256 MiB. GPU and host memory, write and read, ROUNDS rounds.
sizes6() {
  build tcpx-p2p || true
  build_tcp_bw
  local cfg rep
  for rep in $(seq "${ROUNDS:-3}"); do
    raw_tcp16
    for cfg in ${CONFIGS:-gpu:16M:4000 gpu:64M:1000 gpu:256M:250 host:64M:1000 host:256M:250}; do
      IFS=: read -r mem size iters <<<"$cfg"
      local flags=()
      [[ $mem == host ]] && flags=(--host)
      echo "$mem:" >>"$S"
      timeout 60 $B bench --local --inflight 8 --mode write,read --sizes "$size" \
        --iters "$iters" "${flags[@]}" 2>&1 | grep -E "^(write|read) " >>"$S"
    done
  done
  say "done"
}

# Item 6's bound on one GPU: GPU0 -> GPU0 over TCP copies every byte out of the GPU (the
# sender's staging) and back in (the receiver's) at the same time, so the engine can move at
# most what both copy directions move at once. The copies alone and at once, then the engine
# beside them; raw TCP by message size and the engine in host memory by transfers in flight.
bound6() {
  build tcpx-p2p staging_copy_bw || true
  build_tcp_bw
  local rep n
  for rep in 1 2; do
    "$BUILD_DIR/bench/staging_copy_bw" --both --bytes 268435456 --iters 20 >>"$S" 2>&1
  done
  for dir in d2h h2d; do
    "$BUILD_DIR/bench/staging_copy_bw" --bytes 268435456 --iters 20 --piece 1048576 \
      --streams 4 --dir $dir 2>&1 | tail -1 >>"$S"
  done
  say "engine, GPU memory, write, 8 in flight"
  timeout 60 $B bench --local --inflight 8 --mode write --sizes 64M,256M --iters 400 2>&1 |
    grep -E "^write " >>"$S"
  for msg in 16777216 134217728; do
    say "raw TCP, 16 streams, $msg-byte messages"
    timeout 20 "$BUILD_DIR/tcp_bw" 16 3 $msg >>"$S" 2>&1
  done
  for n in 1 2 4 8; do
    say "engine, host memory, write 256 MiB, $n in flight"
    timeout 60 $B bench --local --host --inflight $n --mode write --sizes 256M --iters 200 2>&1 |
      grep -E "^write " >>"$S"
  done
  say "done"
}

# Item 6, the memory walked: raw TCP by message size (16 streams: 16 x MSG per side) beside the
# engine with one shared buffer and with `bench --spread` (each of the 8 transfers in flight on
# its own region: 8 x size per side), host and GPU memory, ROUNDS rounds (BENCHMARKS.md 28).
spread6() {
  build tcpx-p2p || true
  build_tcp_bw
  local rep cfg msg
  for rep in $(seq "${ROUNDS:-2}"); do
    for msg in 1048576 4194304 16777216; do
      echo -n "raw TCP, 16 x $msg: " >>"$S"
      timeout 20 "$BUILD_DIR/tcp_bw" 16 3 $msg >>"$S" 2>&1
    done
    for cfg in ${CONFIGS:-host:16M:4000: host:16M:4000:--spread host:64M:1000: \
                 host:64M:1000:--spread host:256M:250: gpu:64M:1000: gpu:64M:1000:--spread}; do
      IFS=: read -r mem size iters flag <<<"$cfg"
      local flags=()
      [[ $mem == host ]] && flags+=(--host)
      [[ -n $flag ]] && flags+=("$flag")
      echo -n "$mem ${flag:-shared}: " >>"$S"
      timeout 60 $B bench --local --inflight 8 --mode write --sizes "$size" --iters "$iters" \
        "${flags[@]}" 2>&1 | grep -E "^write " >>"$S"
    done
  done
  say "done"
}

# Item 6's diagnosis: where the engine's time goes next to raw TCP on the same 16 streams.
diagnose6() {
  # Most decisive first; a step starts only while time is left (DEADLINE seconds from the
  # script's start, default 430: the call's limit less the machine's start and the transfers).
  left() { ((SECONDS < ${DEADLINE:-430})) || { say "skipped (time): $*"; return 1; }; }
  build tcpx-p2p gpu_engine_tests || true
  build_tcp_bw
  raw_tcp16
  left ab6 && ab6
  say "perf: ${PERF[*]:-none}"
  local run=("$B" bench --local --inflight 8 --mode write --sizes 256M --iters 300)
  left engine profile && profile engine_gpu env UCCL_TCPX_DEBUG=INFO "${run[@]}"
  local gpu
  for gpu in ${UNPACK_GPU_MODES:-1 0}; do
    left "UNPACK $gpu" || continue
    say "UNPACK emulation, UCCL_SOCKET_UNPACK_GPU=$gpu, write 64 MiB, 8 in flight"
    show "^(write|read) |helpers,|driver:|data paths" env UCCL_SOCKET_UNPACK=1 \
      UCCL_SOCKET_UNPACK_GPU=$gpu UCCL_TCPX_DEBUG=INFO timeout 60 $B bench --local --inflight 8 \
      --mode write --sizes 64M --iters 60 --verify
  done
  if left "GPU tests"; then
    say "GPU tests of UNPACK, bounce pages in GPU memory and in pinned host memory"
    (cd "$BUILD_DIR" && timeout 150 ctest --output-on-failure --timeout 120 -j8 \
       -R "gpu\.unpack\.|gpu\.unpack_pinned\." >"$OUT/ctest.log" 2>&1
     echo "ctest rc=$?" >>"$OUT/ctest.log")
    grep -E "tests passed|\*\*\*Failed|\(Failed\)|ctest rc" "$OUT/ctest.log" | tail -n 25 >>"$S"
  fi
  if left "window trace"; then
    say "trace: GPU write 256 MiB, 8 in flight"
    traced trace_report.txt --inflight 8 --mode write --sizes 256M --iters 40
    sed -n '/^windows/,/^$/p' "$OUT/trace_report.txt" >>"$S"
  fi
  if left "256 KiB trace"; then
    say "trace: serialized GPU writes of 256 KiB (item 5's smallest size)"
    traced trace256k.txt --mode write --sizes 256K --iters 300
  fi
  left "raw profile" && profile raw16 "$BUILD_DIR/tcp_bw" 16 4 16777216
  say "done"
}

# Item 1 on this machine, ROUNDS rounds (single runs move by +-20% here): GPU and host vectors
# of 4, 8 and 32 KiB pieces against one contiguous transfer of the same 32 MiB, same
# connection, same run; then the KV shape.
vectors1() {
  build tcpx-p2p || true
  local rep pb mem
  for rep in $(seq "${ROUNDS:-3}"); do
    for mem in gpu host; do
      local flags=(--gpu 0 --server-gpu 0)
      [[ $mem == host ]] && flags=(--host)
      for pb in 4K 8K 32K; do
        echo "round $rep, $mem, $pb pieces:" >>"$S"
        timeout 90 $B bench --local "${flags[@]}" --sizes 32M --iters 20 --verify \
          --mode write,read,writev,readv --piece-bytes $pb 2>&1 | grep -E "^(write|read)" >>"$S"
      done
    done
    echo "round $rep, KV shape, GPU:" >>"$S"
    timeout 90 $B bench --local --gpu 0 --server-gpu 0 --kv 32x16x16K --mode read,readv \
      --inflight 4 --iters 50 --verify 2>&1 | grep -E "^read" >>"$S"
  done
  say "done"
}

small5() {
  build tcpx-p2p latency_floor || true
  say "latency_floor by size"
  timeout 120 "$BUILD_DIR/bench/latency_floor" --iters 2000 --bytes 8,64K,256K,1M,4M >>"$S" 2>&1
  local rep chunk gpu=(--gpu 0 --server-gpu 0)
  for rep in $(seq "${ROUNDS:-2}"); do
    for chunk in default 64K 128K 256K; do
      local env=()
      [[ $chunk != default ]] && env=(UCCL_TCPX_CHUNK_BYTES=$chunk)
      echo "round $rep, GPU, chunk $chunk, serialized / 8 in flight:" >>"$S"
      env "${env[@]}" timeout 90 $B bench --local "${gpu[@]}" --mode write,read \
        --sizes 256K,1M,4M --iters 300 --warmup 30 --verify 2>&1 | grep -E "^(write|read) " >>"$S"
      env "${env[@]}" timeout 90 $B bench --local "${gpu[@]}" --mode write,read \
        --sizes 256K,1M --inflight 8 --iters 300 --warmup 30 2>&1 | grep -E "^(write|read) " >>"$S"
    done
    echo "round $rep, host memory, serialized:" >>"$S"
    timeout 90 $B bench --local --host --mode write,read --sizes 256K,1M,4M --iters 300 \
      --warmup 30 2>&1 | grep -E "^(write|read) " >>"$S"
    echo "round $rep, GPU, 16-64 KiB through the channels (UCCL_TCPX_INLINE_BYTES=0), inline:" >>"$S"
    UCCL_TCPX_INLINE_BYTES=0 timeout 60 $B bench --local "${gpu[@]}" --mode write,read \
      --sizes 16K,64K --iters 500 --warmup 30 2>&1 | grep -E "^(write|read) " >>"$S"
    timeout 60 $B bench --local "${gpu[@]}" --mode write,read --sizes 16K,64K --iters 500 \
      --warmup 30 2>&1 | grep -E "^(write|read) " >>"$S"
  done
  say "traced: GPU write 256 KiB, default chunk, then 64 KiB chunks"
  traced trace_256k.txt "${gpu[@]}" --mode write --sizes 256K --iters 300 --warmup 30
  UCCL_TCPX_CHUNK_BYTES=64K traced trace_256k_64k.txt "${gpu[@]}" --mode write --sizes 256K \
    --iters 300 --warmup 30
  say "done"
}

gpudirect5() {
  build tcpx-p2p gpu_engine_tests engine_tests builtin_guard_rails_tests conformance_tests || true
  say "GPU tests: gpu.gpudirect, gpu.staged, gpu.unpack; the GPU direct and UNPACK groups"
  local tests="gpu\.(gpudirect|gpudirect_mixed|staged|unpack)\.|^(gpudirect|unpack|guardrails\.(gpudirect|unpack))\."
  (cd "$BUILD_DIR" && timeout 400 ctest -j4 -R "$tests" --output-on-failure) >"$OUT/ctest.log" 2>&1
  grep -E "tests passed|tests failed|Failed|\*\*\*|Timeout" "$OUT/ctest.log" | head -20 >>"$S"
  local rep mode gpu=(--gpu 0 --server-gpu 0)
  for rep in $(seq "${ROUNDS:-2}"); do
    for mode in staged gpudirect; do
      local env=()
      [[ $mode == gpudirect ]] && env=(UCCL_SOCKET_GPU_DIRECT=1 UCCL_SOCKET_GPU_DIRECT_MAX=${GDMAX:-0})
      echo "round $rep, $mode, serialized (verified), then 8 in flight:" >>"$S"
      env "${env[@]}" timeout 90 $B bench --local "${gpu[@]}" --mode write,read \
        --sizes 256K,1M,4M,16M --iters 200 --warmup 20 --verify 2>&1 |
        grep -E "^(write|read) |data path" >>"$S"
      env "${env[@]}" timeout 90 $B bench --local "${gpu[@]}" --mode write,read --inflight 8 \
        --sizes 256K,1M,64M,256M --iters 40 --warmup 5 2>&1 | grep -E "^(write|read) " >>"$S"
    done
  done
  say "done"
}

# Reads answered without a Cts (protocol 5) against a baseline tree BASE (a source copy of the
# commit before, built here into BASE/build): GPU tests of every mode; then serialized and
# 8-in-flight GPU transfers and serialized host ones, baseline and this tree alternated, ROUNDS.
readahead5() {
  build || true
  local base=${BASE:-}
  if [[ -n $base ]]; then
    (cmake -S "$base" -B "$base/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DTCPXP_BUILD_TESTS=OFF >/dev/null && ninja -C "$base/build" -j"$JOBS" tcpx-p2p) \
      >>"$OUT/build.log" 2>&1
    say "baseline build rc=$?"
  fi
  say "GPU tests (every mode), the engine's read tests"
  (cd "$BUILD_DIR" && timeout 300 ctest -j6 -R "^gpu\.|Refused|Queued|NamingItsChannel" \
     --output-on-failure) >"$OUT/ctest.log" 2>&1
  grep -E "tests passed|tests failed|Failed|\*\*\*|Timeout" "$OUT/ctest.log" | head -20 >>"$S"
  local rep tree bin gpu=(--gpu 0 --server-gpu 0)
  for rep in $(seq "${ROUNDS:-2}"); do
    for tree in base new; do
      bin=$B
      [[ $tree == base ]] && bin=$base/build/tcpx-p2p
      [[ -x $bin ]] || continue
      echo "round $rep, $tree: GPU serialized (verified), GPU 8 in flight, host serialized" >>"$S"
      timeout 90 "$bin" bench --local "${gpu[@]}" --mode write,read --sizes 256K,1M,4M,16M \
        --iters 200 --warmup 20 --verify 2>&1 | grep -E "^(write|read) " >>"$S"
      timeout 90 "$bin" bench --local "${gpu[@]}" --mode write,read --inflight 8 \
        --sizes 256K,1M,64M --iters 40 --warmup 5 2>&1 | grep -E "^(write|read) " >>"$S"
      timeout 60 "$bin" bench --local --host --mode write,read --sizes 256K,1M,4M --iters 300 \
        --warmup 30 2>&1 | grep -E "^(write|read) " >>"$S"
    done
  done
  say "done"
}

# Item 5's serialized 256 KiB - 1 MiB: where the engine's own time goes beside the loopback
# floor. latency_floor by size, then the engine (GPU and host memory, serialized, and 8 in flight
# as the cost side) with the helpers' spin, caller I/O and 256 KiB chunks, ROUNDS (2) alternated;
# traces of a serialized 1 MiB host read and GPU read.
latency5() {
  build tcpx-p2p latency_floor || true
  show "us|size|bytes" timeout 60 "$BUILD_DIR/bench/latency_floor" --iters 2000 --bytes 256K,1M
  local rep v gpu=(--gpu 0 --server-gpu 0)
  local variants=(default UCCL_SOCKET_SPIN_US=500 UCCL_SOCKET_HELPERS=0
    "UCCL_SOCKET_SPIN_US=500 UCCL_TCPX_CHUNK_BYTES=256K")
  for rep in $(seq "${ROUNDS:-2}"); do
    for v in "${variants[@]}"; do
      local env=()
      [[ $v != default ]] && read -ra env <<<"$v"
      echo "round $rep, $v: GPU serialized, host serialized, GPU 8 in flight" >>"$S"
      env "${env[@]}" timeout 60 $B bench --local "${gpu[@]}" --mode write,read \
        --sizes 256K,1M --iters 500 --warmup 50 2>&1 | grep -E "^(write|read) " >>"$S"
      env "${env[@]}" timeout 60 $B bench --local --host --mode write,read --sizes 256K,1M \
        --iters 500 --warmup 50 2>&1 | grep -E "^(write|read) " >>"$S"
      env "${env[@]}" timeout 60 $B bench --local "${gpu[@]}" --mode write,read --inflight 8 \
        --sizes 1M,64M --iters 40 --warmup 5 2>&1 | grep -E "^(write|read) " >>"$S"
    done
  done
  say "traced: host read 1 MiB, GPU read 1 MiB"
  traced trace_host_read_1m.txt --host --mode read --sizes 1M --iters 300 --warmup 30
  traced trace_gpu_read_1m.txt "${gpu[@]}" --mode read --sizes 1M --iters 300 --warmup 30
  say "done"
}

# Both processes on one GPU: does sharing it (two CUDA contexts time-slicing) lengthen a small
# transfer's copies? Serialized GPU 256 KiB and 1 MiB without and with CUDA MPS (one context for
# both), host memory beside them, ROUNDS (2) alternated; a trace of a 1 MiB GPU read under each.
mps_on() {
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  nvidia-cuda-mps-control -d
}
mps_off() {
  echo quit | nvidia-cuda-mps-control
  local i
  for i in $(seq 50); do pgrep -x nvidia-cuda-mps >/dev/null || break; sleep 0.1; done
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
}
mps5() {
  build tcpx-p2p || true
  command -v nvidia-cuda-mps-control >/dev/null || { say "no nvidia-cuda-mps-control"; return; }
  local rep m gpu=(--gpu 0 --server-gpu 0)
  for rep in $(seq "${ROUNDS:-2}"); do
    for m in plain mps; do
      [[ $m == mps ]] && mps_on
      echo "round $rep, $m: GPU serialized, host serialized" >>"$S"
      timeout 60 $B bench --local "${gpu[@]}" --mode write,read --sizes 256K,1M --iters 500 \
        --warmup 50 2>&1 | grep -E "^(write|read) |rror" >>"$S"
      timeout 60 $B bench --local --host --mode write,read --sizes 256K,1M --iters 500 \
        --warmup 50 2>&1 | grep -E "^(write|read) " >>"$S"
      if ((rep == 1)); then
        traced "trace_gpu_read_1m_$m.txt" "${gpu[@]}" --mode read --sizes 1M --iters 300 --warmup 30
      fi
      [[ $m == mps ]] && mps_off
    done
  done
  say "done"
}

peers() {
  say "bench_vs_peers --one-gpu"
  python3 scripts/bench_vs_peers.py --one-gpu --out "$OUT/one_gpu" --keep-work --deadline 545 \
    >"$OUT/one_gpu.log" 2>&1
  say "rc=$?"
  local work
  work=$(grep -oE "logs kept in [^ ]+" "$OUT/one_gpu.log" | tail -1 | awk '{print $NF}')
  if [[ -n $work && -d $work ]]; then
    (cd "$work" && find . -maxdepth 3 -size -5M \( -name "*.log" -o -name "*.json" -o -name "*.md" \
       -o -name "*.txt" \) | tar czf "$OUT/work.tgz" -T -)
  fi
  tail -n 40 "$OUT/one_gpu.log" >>"$S"
}

case $PART in
  measure) measure_gpu; measure_tcp ;;
  measure1) measure_gpu ;;
  measure2) measure_tcp ;;
  diagnose6) diagnose6 ;;
  ab6) ab6 ;;
  ab6b) ab6b ;;
  unpack4) unpack4 ;;
  sizes6) sizes6 ;;
  bound6) bound6 ;;
  spread6) spread6 ;;
  vectors1) vectors1 ;;
  small5) small5 ;;
  gpudirect5) gpudirect5 ;;
  readahead5) readahead5 ;;
  latency5) latency5 ;;
  mps5) mps5 ;;
  peers) peers ;;
  *) echo "usage: scripts/device_issue23.sh measure|measure1|measure2|vectors1|small5|gpudirect5|readahead5|latency5|mps5|peers|diagnose6|ab6|ab6b|unpack4|sizes6|bound6|spread6   (see the top)" >&2
     exit 2 ;;
esac
