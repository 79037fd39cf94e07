#!/usr/bin/env bash
# Starts one `tcpx-p2p bench --client SERVER:PORT` per GPU on this A3-high node against the
# servers of server.sh on SERVER_HOST: GPU i uses its PCIe-local NIC (UCCL_TCPX_DEV = i / 2) and
# connects to port UCCL_TCPX_BOOTSTRAP_PORT_BASE + i. Per-GPU logs and JSON go to LOG_DIR.
# Usage: scripts/gcp-a3/client.sh [--force] SERVER_HOST [-- EXTRA BENCH FLAGS]
#   SERVER_HOST  the server node's control (eth0) address or name
#   --force      start even when `tcpx-p2p doctor` reports a FAIL
# Environment: as server.sh (BENCH_MEMORY, TCPX_P2P, GPUS, LOG_DIR, env.sh's variables; the same
# UCCL_TCPX_BOOTSTRAP_PORT_BASE on both sides).
# Multi-process only: a single-process mode (all 8 GPUs in one process) is not available from
# the CLI yet.
set -euo pipefail
# shellcheck source=scripts/gcp-a3/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/gcp-a3/env.sh
source "${GCP_A3_DIR}/env.sh"

SERVER_HOST=""
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "client.sh: unknown argument '$1'" >&2; exit 2 ;;
    *)
      if [[ -n "${SERVER_HOST}" ]]; then echo "client.sh: one SERVER_HOST only" >&2; exit 2; fi
      SERVER_HOST="$1" ;;
  esac
  shift
done
if [[ -z "${SERVER_HOST}" ]]; then
  echo "usage: client.sh [--force] SERVER_HOST [-- EXTRA BENCH FLAGS]" >&2
  exit 2
fi

run_doctor
pids=()
for gpu in ${GPUS}; do
  port=$((UCCL_TCPX_BOOTSTRAP_PORT_BASE + gpu))
  mem_flags "${gpu}"
  log="${LOG_DIR}/client-gpu${gpu}.log"
  echo "GPU ${gpu}: UCCL_TCPX_DEV=$(nic_dev_of_gpu "${gpu}") -> ${SERVER_HOST}:${port}, log ${log}"
  # The client's own control port stays ephemeral (base 0): only the servers need fixed ports.
  UCCL_TCPX_DEV="$(nic_dev_of_gpu "${gpu}")" UCCL_TCPX_BOOTSTRAP_PORT_BASE=0 \
    "${TCPX_P2P}" bench --client "${SERVER_HOST}:${port}" "${MEM_FLAGS[@]}" \
    --json "${LOG_DIR}/client-gpu${gpu}.json" "${EXTRA[@]}" >"${log}" 2>&1 &
  pids+=("$!")
done
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM
failed=0
wait_all "${pids[@]}" || failed=$?
echo "clients done: ${failed} of ${#pids[@]} failed; logs and JSON in ${LOG_DIR}"
for gpu in ${GPUS}; do
  echo "--- GPU ${gpu} ---"
  grep -E "^(sendrecv|write|read|latency) " "${LOG_DIR}/client-gpu${gpu}.log" || true
done
[[ ${failed} -eq 0 ]]
