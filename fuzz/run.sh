#!/usr/bin/env bash
# Runs each libFuzzer target of a fuzz build (`make fuzz`) for a bounded time and fails on any
# crash, sanitizer report, failed property, hang (-timeout) or memory blow-up (-rss_limit_mb).
#   fuzz/run.sh BUILD_DIR [TARGET...]      (default: every target)
#   FUZZ_SECONDS  seconds per target (default 60); FUZZ_ARGS  more libFuzzer flags
# New inputs go to BUILD_DIR/fuzz-work/TARGET/corpus (kept between runs; the committed seeds in
# fuzz/corpus/TARGET are only read), crashes to BUILD_DIR/fuzz-work/TARGET/artifacts.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:?usage: fuzz/run.sh BUILD_DIR [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(control_wire_fuzzer codecs_fuzzer connection_fuzzer)
seconds="${FUZZ_SECONDS:-60}"

stat() {  # libFuzzer's -print_final_stats value NAME from LOG
  sed -n "s/^stat::$1: *//p" "$2" | tail -1
}

failed=()
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/last.log"
  echo "fuzz: $t for ${seconds}s (log: $log)"
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$build/$t" -max_total_time="$seconds" -timeout=60 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" ${FUZZ_ARGS:-} "$work/corpus" "$root/fuzz/corpus/$t" \
    >"$log" 2>&1
  rc=$?
  cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed -n 's/.* cov: \([0-9]*\).*/\1/p' | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t: $(stat number_of_executed_units "$log") inputs," \
         "$(stat average_exec_per_sec "$log")/s, coverage ${cov:-?} edges," \
         "peak RSS $(stat peak_rss_mb "$log") MB, corpus $(ls "$work/corpus" | wc -l) new: no failure"
    grep -h '^connection_fuzzer: ' "$log" || true
  else
    echo "fuzz: $t FAILED (exit $rc); the end of its log:" >&2
    tail -60 "$log" >&2
    echo "fuzz: $t: reproduce with: $build/$t $(ls -t "$work"/artifacts/* 2>/dev/null | head -1)" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
