#!/usr/bin/env bash
# Builds the project and runs, side by side on this machine, raw loopback TCP (shared/bench/tcp_bw.cc)
# and the transport (bench/transport_bw, one ncclNet v7 comm) at the same stream counts, then
# prints one table: streams | raw TCP GB/s | transport GB/s | ratio. Goal: transport >= 85% of
# raw TCP at the same stream count.
#
# usage: scripts/bench_transport.sh [STREAMS ...]          (default: 1 4 8 16)
# environment:
#   BUILD_DIR          build directory (default build-bench; Release, Ninja)
#   OUT                where results go (default ./out): bench_transport.txt, bench_transport.json,
#                      runs/ (one JSON per transport run)
#   TCPXP_SHARED       the shared/ folder (holding bench/tcp_bw.cc) or shared/bench itself;
#                      default: ../shared beside the repo, else ./shared
#   BENCH_SECONDS      seconds per run (default 3)
#   BENCH_MSG          bytes per message: tcp_bw's send size and transport_bw's --chunk (default 524288)
#   BENCH_REPEATS      runs per stream count, alternating tcp_bw and transport_bw; the table shows
#                      the median (default 3)
#   BENCH_TRANSPORT_ARGS  extra transport_bw flags, e.g. "--sleep-us 50" (see transport_bw --help)
#   TCPXP_CMAKE_ARGS   extra cmake arguments
#   SKIP_BUILD=1       use the existing build
# Every step has a timeout; the transport has at most 8 data sockets per comm, so stream counts
# above 8 run raw TCP only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build-bench}
OUT_DIR=${OUT:-$ROOT/out}
SECS=${BENCH_SECONDS:-3}
MSG=${BENCH_MSG:-524288}
REPEATS=${BENCH_REPEATS:-3}
STREAMS=("$@")
[[ ${#STREAMS[@]} -eq 0 ]] && STREAMS=(1 4 8 16)

die() { echo "bench_transport: $*" >&2; exit 1; }
note() { echo "bench_transport: $*" >&2; }
for s in "${STREAMS[@]}"; do
  [[ $s =~ ^[1-9][0-9]*$ ]] || die "stream count '$s' is not a positive integer"
done
[[ $REPEATS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEATS='$REPEATS' is not a positive integer"
[[ $MSG =~ ^[1-9][0-9]*$ ]] || die "BENCH_MSG='$MSG' is not a positive integer"
command -v timeout >/dev/null || die "the 'timeout' command (coreutils) is missing"
mkdir -p "$OUT_DIR/runs"
# Per-run deadline: the run itself, setup, and slack for a loaded machine.
RUN_LIMIT=$(awk -v s="$SECS" 'BEGIN { printf "%d", s * 3 + 60 }')

# ---- build --------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  CMAKE_ARGS=${TCPXP_CMAKE_ARGS-}
  command -v cmake >/dev/null || die "cmake not found"
  command -v ninja >/dev/null || die "ninja not found"
  note "configuring $BUILD_DIR (Release) ${CMAKE_ARGS:+with $CMAKE_ARGS}"
  # shellcheck disable=SC2086  # CMAKE_ARGS is a list of words
  timeout 300 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release $CMAKE_ARGS \
    >"$OUT_DIR/runs/cmake.log" 2>&1 || { tail -n 30 "$OUT_DIR/runs/cmake.log" >&2; die "cmake failed (log: $OUT_DIR/runs/cmake.log)"; }
  note "building transport_bw"
  timeout 900 ninja -C "$BUILD_DIR" transport_bw >"$OUT_DIR/runs/ninja.log" 2>&1 ||
    { grep -E "error|FAILED" -A5 "$OUT_DIR/runs/ninja.log" | head -n 40 >&2; die "build failed (log: $OUT_DIR/runs/ninja.log)"; }
fi
TBW=$ROOT/$BUILD_DIR/bench/transport_bw
[[ -x $TBW ]] || die "$TBW is missing (build first, or unset SKIP_BUILD)"

# ---- tcp_bw (peer baseline) ---------------------------------------------------------------
TCP_SRC=""
for d in "${TCPXP_SHARED:-}" "$ROOT/../shared" "$ROOT/shared"; do
  [[ -n $d ]] || continue
  if [[ -f $d/bench/tcp_bw.cc ]]; then TCP_SRC=$(cd "$d/bench" && pwd)/tcp_bw.cc; break; fi
  if [[ -f $d/tcp_bw.cc ]]; then TCP_SRC=$(cd "$d" && pwd)/tcp_bw.cc; break; fi
done
TCP_BW=""
if [[ -z $TCP_SRC ]]; then
  note "tcp_bw.cc not found (looked in \$TCPXP_SHARED, ../shared, ./shared): raw TCP column skipped"
else
  TCP_BW=$ROOT/$BUILD_DIR/tcp_bw
  CXX_BIN=${CXX:-g++}
  command -v "$CXX_BIN" >/dev/null || CXX_BIN=c++
  timeout 120 "$CXX_BIN" -O2 -pthread "$TCP_SRC" -o "$TCP_BW" ||
    { note "compiling $TCP_SRC failed: raw TCP column skipped"; TCP_BW=""; }
fi

# ---- runs ---------------------------------------------------------------------------------
# Prints the GB/s of one run, or "fail".
tcp_run() {
  local s=$1 out
  if out=$(timeout -k 5 "$RUN_LIMIT" "$TCP_BW" "$s" "$SECS" "$MSG" 2>&1); then
    sed -n 's/.*GB\/s=\([0-9.]*\).*/\1/p' <<<"$out" | tail -n 1
  else
    note "tcp_bw $s $SECS $MSG failed: $(tail -n 3 <<<"$out")"
    echo fail
  fi
}
transport_run() {
  local s=$1 r=$2 out json=$OUT_DIR/runs/transport_bw_s${1}_r${2}.json extra=()
  read -r -a extra <<<"${BENCH_TRANSPORT_ARGS:-}"
  if out=$(UCCL_SOCKET_NSOCKS=$s UCCL_SOCKET_IFNAME=${UCCL_SOCKET_IFNAME:-lo} \
           timeout -k 5 "$RUN_LIMIT" "$TBW" --seconds "$SECS" --chunk "$MSG" --json "$json" \
             "${extra[@]}" 2>&1); then
    sed -n 's/.*GB\/s=\([0-9.]*\).*/\1/p' <<<"$out" | tail -n 1
  else
    note "transport_bw (UCCL_SOCKET_NSOCKS=$s) failed: $(tail -n 5 <<<"$out")"
    echo fail
  fi
}
median() {  # median of numbers on stdin; "fail" if none
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "fail";
    else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

note "$(nproc) cores; $SECS s per run, $MSG-byte messages, $REPEATS run(s) per stream count; results in $OUT_DIR"
declare -A TCP_ALL TR_ALL
for s in "${STREAMS[@]}"; do
  for ((r = 1; r <= REPEATS; r++)); do
    if [[ -n $TCP_BW ]]; then
      v=$(tcp_run "$s"); TCP_ALL[$s]+="$v "
      note "streams $s run $r: raw TCP $v GB/s"
    fi
    if ((s <= 8)); then
      v=$(transport_run "$s" "$r"); TR_ALL[$s]+="$v "
      note "streams $s run $r: transport $v GB/s"
    fi
  done
done

# ---- table ----------------------------------------------------------------------------------
TXT=$OUT_DIR/bench_transport.txt
JSON=$OUT_DIR/bench_transport.json
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) cores; ${SECS} s runs, ${MSG}-byte messages, median of $REPEATS"
  printf "%-8s | %-14s | %-15s | %s\n" "streams" "raw TCP GB/s" "transport GB/s" "ratio"
  printf "%-8s-+-%-14s-+-%-15s-+-%s\n" "--------" "--------------" "---------------" "-----"
} >"$TXT"
rows=()
for s in "${STREAMS[@]}"; do
  tcp=n/a; trv=n/a; ratio=n/a
  if [[ -n $TCP_BW ]]; then
    tcp=$(tr ' ' '\n' <<<"${TCP_ALL[$s]:-}" | { grep -E '^[0-9.]+$' || true; } | median)
  fi
  if ((s <= 8)); then
    trv=$(tr ' ' '\n' <<<"${TR_ALL[$s]:-}" | { grep -E '^[0-9.]+$' || true; } | median)
  else
    trv="n/a (max 8)"
  fi
  if [[ $tcp =~ ^[0-9.]+$ && $trv =~ ^[0-9.]+$ ]]; then
    ratio=$(awk -v a="$trv" -v b="$tcp" 'BEGIN { if (b > 0) printf "%.0f%%%s", 100 * a / b, (a >= 0.85 * b ? "" : " (<85%)"); else print "n/a" }')
  fi
  printf "%-8s | %-14s | %-15s | %s\n" "$s" "$tcp" "$trv" "$ratio" >>"$TXT"
  jtcp=$tcp; [[ $jtcp =~ ^[0-9.]+$ ]] || jtcp=null
  jtr=$trv; [[ $jtr =~ ^[0-9.]+$ ]] || jtr=null
  tcp_runs=$(tr ' ' '\n' <<<"${TCP_ALL[$s]:-}" | { grep -E '^[0-9.]+$' || true; } | paste -sd, -)
  tr_runs=$(tr ' ' '\n' <<<"${TR_ALL[$s]:-}" | { grep -E '^[0-9.]+$' || true; } | paste -sd, -)
  rows+=("{\"streams\": $s, \"tcp_gbps\": $jtcp, \"transport_gbps\": $jtr, \"tcp_runs\": [${tcp_runs}], \"transport_runs\": [${tr_runs}]}")
done
if grep -q "n/a (max 8)" "$TXT"; then
  echo "note: the transport allows at most 8 data sockets per comm (UCCL_SOCKET_NSOCKS 1..8); wider rows are raw TCP only" >>"$TXT"
fi
{
  echo "{\"bench\": \"bench_transport\", \"host\": \"$(uname -n)\", \"cores\": $(nproc), \"seconds\": $SECS, \"msg_bytes\": $MSG, \"repeats\": $REPEATS, \"goal_ratio\": 0.85,"
  echo " \"tcp_bw_source\": \"${TCP_SRC:-}\", \"rows\": ["
  for i in "${!rows[@]}"; do echo "  ${rows[$i]}$([[ $i -lt $((${#rows[@]} - 1)) ]] && echo ,)"; done
  echo "]}"
} >"$JSON"
cat "$TXT"
note "wrote $TXT and $JSON"
