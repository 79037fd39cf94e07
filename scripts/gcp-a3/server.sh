#!/usr/bin/env bash
# Starts the bench servers of this A3-high node: one `tcpx-p2p bench --server` per GPU, GPU i on
# its PCIe-local NIC (UCCL_TCPX_DEV = i / 2) listening on UCCL_TCPX_BOOTSTRAP_PORT_BASE + i; or,
# with --single-process, one `tcpx-p2p bench --server --gpus 0,...,7` holding an endpoint per GPU
# (each on the NIC the engine picks for it, the same PCIe-local mapping; GPU i's endpoint still on
# port base + i). Run client.sh on the other node the same way (both with --single-process or
# neither).
# Usage: scripts/gcp-a3/server.sh [--force] [--single-process] [-- EXTRA BENCH FLAGS]
#   --force           start even when `tcpx-p2p doctor` reports a FAIL
#   --single-process  one process for all GPUs (also SINGLE_PROCESS=1)
# Environment: BENCH_MEMORY (gpu, or host for a smoke test; with --single-process host endpoints
# take ephemeral ports: give client.sh the HOST:PORT of the server log's "--client" line),
# TCPX_P2P (the tool, default build/tcpx-p2p), GPUS ("0 1 ... 7"), LOG_DIR (default
# ./tcpx-p2p-logs), and everything env.sh sets (each overridable).
set -euo pipefail
# shellcheck source=scripts/gcp-a3/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/gcp-a3/env.sh
source "${GCP_A3_DIR}/env.sh"

EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1 ;;
    --single-process) SINGLE_PROCESS=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "server.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

run_doctor
pids=()
if [[ ${SINGLE_PROCESS} -eq 1 ]]; then
  gpus_flag
  warn_single_process_dev
  base="${UCCL_TCPX_BOOTSTRAP_PORT_BASE}"
  if [[ "${BENCH_MEMORY}" == host ]]; then base=0; fi
  log="${LOG_DIR}/server-all.log"
  echo "GPUs ${GPUS}: one process (--gpus ${GPUS_FLAG}), port base ${base}, log ${log}"
  UCCL_TCPX_BOOTSTRAP_PORT_BASE="${base}" \
    "${TCPX_P2P}" bench --server --gpus "${GPUS_FLAG}" "${EXTRA[@]}" >"${log}" 2>&1 &
  pids+=("$!")
else
  for gpu in ${GPUS}; do
    mem_flags "${gpu}"
    log="${LOG_DIR}/server-gpu${gpu}.log"
    echo "GPU ${gpu}: UCCL_TCPX_DEV=$(nic_dev_of_gpu "${gpu}") port $((UCCL_TCPX_BOOTSTRAP_PORT_BASE + gpu)) -> ${log}"
    UCCL_TCPX_DEV="$(nic_dev_of_gpu "${gpu}")" UCCL_TCPX_BOOTSTRAP_PORT_BASE="${SERVER_PORT_BASE}" \
      "${TCPX_P2P}" bench --server "${MEM_FLAGS[@]}" "${EXTRA[@]}" >"${log}" 2>&1 &
    pids+=("$!")
  done
fi
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM
failed=0
wait_all "${pids[@]}" || failed=$?
echo "servers done: ${failed} of ${#pids[@]} failed; logs in ${LOG_DIR}"
[[ ${failed} -eq 0 ]]
