#!/usr/bin/env bash
# Kept for older command lines (BENCHMARKS.md): the benchmark is scripts/bench_vs_peers.py, which
# takes the same environment variables (and flags for each; see --help).
exec python3 "$(dirname "${BASH_SOURCE[0]}")/bench_vs_peers.py" "$@"
