#!/usr/bin/env bash
# Shared by server.sh and client.sh (sourced, not run).
#
# Two ways to run the GPUs of a node (GCP A3-high: GPUs {0,1} -> eth1 (device 0), {2,3} -> eth2
# (1), {4,5} -> eth3 (2), {6,7} -> eth4 (3); TCPX devices are the NCCL_GPUDIRECTTCPX_SOCKET_IFNAME
# interfaces sorted by name, so eth1..eth4 are 0..3):
#   one process per GPU (default)  one `tcpx-p2p bench` per GPU, each pinned to its PCIe-local NIC
#                                  with UCCL_TCPX_DEV = GPU / 2
#   --single-process               one `tcpx-p2p bench --gpus 0,...,7` per node: one endpoint per
#                                  GPU, each on the NIC the engine picks for it (PCIe locality, the
#                                  same mapping; `tcpx-p2p doctor` prints it), all pairs at once
# Either way the endpoint of GPU i listens on UCCL_TCPX_BOOTSTRAP_PORT_BASE + i and client GPU i
# drives server GPU i.

GCP_A3_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${GCP_A3_DIR}/../.." && pwd)"
TCPX_P2P="${TCPX_P2P:-${REPO_ROOT}/build/tcpx-p2p}"
GPUS="${GPUS:-0 1 2 3 4 5 6 7}"
LOG_DIR="${LOG_DIR:-${PWD}/tcpx-p2p-logs}"
FORCE=0
# 1: one process for all GPUS (also --single-process).
SINGLE_PROCESS="${SINGLE_PROCESS:-0}"
# gpu (default): bench --gpu i; host: bench --host (a smoke test of the launchers without GPUs).
BENCH_MEMORY="${BENCH_MEMORY:-gpu}"

# The leading comment block of the calling script (its help).
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# The bench memory flags of GPU $1's process, into the array MEM_FLAGS, and the port base of
# its server (the engine adds the GPU index; host memory has none, so the base moves instead).
# shellcheck disable=SC2034
mem_flags() {
  SERVER_PORT_BASE="${UCCL_TCPX_BOOTSTRAP_PORT_BASE}"
  if [[ "${BENCH_MEMORY}" == host ]]; then SERVER_PORT_BASE=$((UCCL_TCPX_BOOTSTRAP_PORT_BASE + $1)); fi
  if [[ "${BENCH_MEMORY}" == host ]]; then MEM_FLAGS=(--host); else MEM_FLAGS=(--gpu "$1"); fi
}

# Single-process mode: the --gpus list of the one process, into GPUS_FLAG ("0,1,...,7"; host
# memory: "hostxN", N endpoints in host memory), and the first GPU of GPUS into FIRST_GPU.
# shellcheck disable=SC2034
gpus_flag() {
  local gpus
  read -r -a gpus <<<"${GPUS}"
  if [[ ${#gpus[@]} -eq 0 ]]; then echo "GPUS is empty" >&2; exit 2; fi
  FIRST_GPU="${gpus[0]}"
  if [[ "${BENCH_MEMORY}" == host ]]; then
    GPUS_FLAG="hostx${#gpus[@]}"
  else
    GPUS_FLAG="$(IFS=,; echo "${gpus[*]}")"
  fi
}

# Single-process mode sets no UCCL_TCPX_DEV: one value would put every GPU on the same NICs.
warn_single_process_dev() {
  if [[ -n "${UCCL_TCPX_DEV:-}" ]]; then
    echo "WARNING: UCCL_TCPX_DEV=${UCCL_TCPX_DEV} applies to every GPU of the single process;" \
      "unset it to let each GPU use its PCIe-local NIC" >&2
  fi
}

# TCPX device index of the NIC under GPU $1's PCIe root.
nic_dev_of_gpu() {
  echo $(($1 / 2))
}

# Runs `tcpx-p2p doctor --require tcpx`; refuses to go on unless TCPX is the transport an
# endpoint will use and it is ready (no FAIL), or --force was given.
run_doctor() {
  mkdir -p "${LOG_DIR}"
  local rc=0
  "${TCPX_P2P}" doctor --require tcpx >"${LOG_DIR}/doctor.txt" 2>&1 || rc=$?
  cat "${LOG_DIR}/doctor.txt"
  if [[ ${rc} -ne 0 ]]; then
    if [[ ${FORCE} -eq 1 ]]; then
      echo "WARNING: tcpx-p2p doctor exited ${rc}; continuing because of --force" >&2
    else
      echo "tcpx-p2p doctor exited ${rc}: fix the [FAIL] lines above, or pass --force" >&2
      exit 1
    fi
  fi
}

# Waits for every pid in "$@"; returns the number of processes that failed.
wait_all() {
  local failed=0 pid
  for pid in "$@"; do
    wait "${pid}" || failed=$((failed + 1))
  done
  return "${failed}"
}
