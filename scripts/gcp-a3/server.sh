#!/usr/bin/env bash
# Starts one `tcpx-p2p bench --server` per GPU on this A3-high node. GPU i uses its PCIe-local
# NIC (UCCL_TCPX_DEV = i / 2) and listens on UCCL_TCPX_BOOTSTRAP_PORT_BASE + i.
# Usage: scripts/gcp-a3/server.sh [--force] [-- EXTRA BENCH FLAGS]
#   --force  start even when `tcpx-p2p doctor` reports a FAIL
# Environment: BENCH_MEMORY (gpu, or host for a smoke test), TCPX_P2P (the tool, default build/tcpx-p2p), GPUS ("0 1 ... 7"), LOG_DIR
# (default ./tcpx-p2p-logs), and everything env.sh sets (each overridable).
# Multi-process only: a single-process mode (all 8 GPUs in one process) is not available from
# the CLI yet.
set -euo pipefail
# shellcheck source=scripts/gcp-a3/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/gcp-a3/env.sh
source "${GCP_A3_DIR}/env.sh"

EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "server.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

run_doctor
pids=()
for gpu in ${GPUS}; do
  mem_flags "${gpu}"
  log="${LOG_DIR}/server-gpu${gpu}.log"
  echo "GPU ${gpu}: UCCL_TCPX_DEV=$(nic_dev_of_gpu "${gpu}") port $((UCCL_TCPX_BOOTSTRAP_PORT_BASE + gpu)) -> ${log}"
  UCCL_TCPX_DEV="$(nic_dev_of_gpu "${gpu}")" UCCL_TCPX_BOOTSTRAP_PORT_BASE="${SERVER_PORT_BASE}" \
    "${TCPX_P2P}" bench --server "${MEM_FLAGS[@]}" "${EXTRA[@]}" >"${log}" 2>&1 &
  pids+=("$!")
done
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM
failed=0
wait_all "${pids[@]}" || failed=$?
echo "servers done: ${failed} of ${#pids[@]} failed; logs in ${LOG_DIR}"
[[ ${failed} -eq 0 ]]
