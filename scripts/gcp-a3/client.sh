#!/usr/bin/env bash
# Starts the bench clients of this A3-high node against server.sh's servers on SERVER_HOST: one
# `tcpx-p2p bench --client SERVER_HOST:PORT` per GPU, GPU i on its PCIe-local NIC
# (UCCL_TCPX_DEV = i / 2) driving the server of GPU i (port UCCL_TCPX_BOOTSTRAP_PORT_BASE + i);
# or, with --single-process, one `tcpx-p2p bench --client ... --gpus 0,...,7` driving every
# GPU's pair at once (rows per pair and an aggregate row "all"). Per-GPU (or the one process's)
# logs and JSON go to LOG_DIR.
# Usage: scripts/gcp-a3/client.sh [--force] [--single-process] SERVER_HOST[:PORT] [-- EXTRA BENCH FLAGS]
#   SERVER_HOST       the server node's control (eth0) address or name
#   :PORT             --single-process only: the port of the server's first endpoint (default
#                     UCCL_TCPX_BOOTSTRAP_PORT_BASE + the first of GPUS; needed for BENCH_MEMORY=host)
#   --force           start even when `tcpx-p2p doctor` reports a FAIL
#   --single-process  one process for all GPUs (also SINGLE_PROCESS=1); the server must run so too
# Environment: as server.sh (BENCH_MEMORY, TCPX_P2P, GPUS, LOG_DIR, SINGLE_PROCESS, env.sh's
# variables; the same UCCL_TCPX_BOOTSTRAP_PORT_BASE and the same number of GPUS on both sides).
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
    --single-process) SINGLE_PROCESS=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "client.sh: unknown argument '$1'" >&2; exit 2 ;;
    *)
      if [[ -n "${SERVER_HOST}" ]]; then echo "client.sh: one SERVER_HOST only" >&2; exit 2; fi
      SERVER_HOST="$1" ;;
  esac
  shift
done
if [[ -z "${SERVER_HOST}" ]]; then
  echo "usage: client.sh [--force] [--single-process] SERVER_HOST[:PORT] [-- EXTRA BENCH FLAGS]" >&2
  exit 2
fi
SERVER_PORT=""
if [[ "${SERVER_HOST}" =~ ^(.+):([0-9]+)$ ]]; then
  SERVER_HOST="${BASH_REMATCH[1]}"
  SERVER_PORT="${BASH_REMATCH[2]}"
  if [[ ${SINGLE_PROCESS} -ne 1 ]]; then
    echo "client.sh: SERVER_HOST:PORT is for --single-process (each GPU's port is base + GPU)" >&2
    exit 2
  fi
fi

run_doctor
pids=()
if [[ ${SINGLE_PROCESS} -eq 1 ]]; then
  gpus_flag
  warn_single_process_dev
  if [[ -z "${SERVER_PORT}" ]]; then
    if [[ "${BENCH_MEMORY}" == host ]]; then
      echo "client.sh: BENCH_MEMORY=host with --single-process needs SERVER_HOST:PORT" \
        "(the server's endpoints take ephemeral ports; see the --client line of its log)" >&2
      exit 2
    fi
    SERVER_PORT=$((UCCL_TCPX_BOOTSTRAP_PORT_BASE + FIRST_GPU))
  fi
  logs=("${LOG_DIR}/client-all.log")
  echo "GPUs ${GPUS}: one process (--gpus ${GPUS_FLAG}) -> ${SERVER_HOST}:${SERVER_PORT}, log ${logs[0]}"
  # Pair 0 connects to that port; the server's answer names the ports of its other endpoints.
  UCCL_TCPX_BOOTSTRAP_PORT_BASE=0 \
    "${TCPX_P2P}" bench --client "${SERVER_HOST}:${SERVER_PORT}" --gpus "${GPUS_FLAG}" \
    --json "${LOG_DIR}/client-all.json" "${EXTRA[@]}" >"${logs[0]}" 2>&1 &
  pids+=("$!")
else
  logs=()
  for gpu in ${GPUS}; do
    port=$((UCCL_TCPX_BOOTSTRAP_PORT_BASE + gpu))
    mem_flags "${gpu}"
    log="${LOG_DIR}/client-gpu${gpu}.log"
    logs+=("${log}")
    echo "GPU ${gpu}: UCCL_TCPX_DEV=$(nic_dev_of_gpu "${gpu}") -> ${SERVER_HOST}:${port}, log ${log}"
    # The client's own control port stays ephemeral (base 0): only the servers need fixed ports.
    UCCL_TCPX_DEV="$(nic_dev_of_gpu "${gpu}")" UCCL_TCPX_BOOTSTRAP_PORT_BASE=0 \
      "${TCPX_P2P}" bench --client "${SERVER_HOST}:${port}" "${MEM_FLAGS[@]}" \
      --json "${LOG_DIR}/client-gpu${gpu}.json" "${EXTRA[@]}" >"${log}" 2>&1 &
    pids+=("$!")
  done
fi
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM
failed=0
wait_all "${pids[@]}" || failed=$?
echo "clients done: ${failed} of ${#pids[@]} failed; logs and JSON in ${LOG_DIR}"
for log in "${logs[@]}"; do
  echo "--- $(basename "${log}" .log) ---"
  grep -E "^(sendrecv|write|read|latency)[ ,:]" "${log}" || true
  sed -n '/^summary/,/^  errors/p' "${log}"
done
[[ ${failed} -eq 0 ]]
