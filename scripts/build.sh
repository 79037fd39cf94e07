#!/usr/bin/env bash
# `make build` and `make test-sanitize`: configure BUILD_DIR with CMake, then build it, saying what
# each step does and how long it took. CMake's configure output goes to BUILD_DIR/configure.log
# and is printed in full when configure fails; the build shows Ninja's progress.
# Usage: scripts/build.sh BUILD_DIR [cmake -D... flags]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="$1"
shift

mkdir -p "$build"
log="$build/configure.log"
what="configuring $build"
[ -f "$build/CMakeCache.txt" ] || what+=" (first time: finds the compilers, CUDA, Python, GoogleTest)"
echo "tcpx-p2p: $what ..."
start=$SECONDS
if ! cmake -S . -B "$build" -G Ninja "$@" >"$log" 2>&1; then
  cat "$log" >&2
  echo "tcpx-p2p: configuring $build failed after $((SECONDS - start)) s" \
       "(CMake's output above, also in $log)" >&2
  exit 1
fi
# The project's own summary lines ("-- tcpx-p2p: CUDA ON, sanitizers OFF", a skipped module).
summary="$(sed -n 's/^-- tcpx-p2p: //p' "$log" | paste -sd ';' | sed 's/;/; /g')"
echo "tcpx-p2p: configured $build in $((SECONDS - start)) s${summary:+ ($summary)}"

echo "tcpx-p2p: building $build (cmake --build) ..."
start=$SECONDS
if ! cmake --build "$build"; then
  echo "tcpx-p2p: building $build failed after $((SECONDS - start)) s" >&2
  exit 1
fi
echo "tcpx-p2p: built $build in $((SECONDS - start)) s"
