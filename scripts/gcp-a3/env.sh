#!/usr/bin/env bash
# The recommended GPUDirect-TCPX environment for a GCP A3-high node (8 x H100, data NICs
# eth1..eth4, control NIC eth0, rxdm sockets under /run/tcpx). Source it:
#   source scripts/gcp-a3/env.sh
# Every value can be overridden by setting it before sourcing (VAR=... source env.sh).
# See /work/shared/docs/TCPX.md ("Environment traps") for why each value matters.

# The plugin, and the transport that uses it.
export UCCL_P2P_TRANSPORT="${UCCL_P2P_TRANSPORT:-tcpx}"
export TCPX_LIB_DIR="${TCPX_LIB_DIR:-/usr/local/tcpx/lib64}"
export UCCL_TCPX_PLUGIN_PATH="${UCCL_TCPX_PLUGIN_PATH:-${TCPX_LIB_DIR}/libnccl-net.so}"
case ":${LD_LIBRARY_PATH:-}:" in
  *":${TCPX_LIB_DIR}:"*) ;;
  *) export LD_LIBRARY_PATH="${TCPX_LIB_DIR}${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}" ;;
esac

# NICs: data NICs (devices are these sorted by name: eth1..eth4 = 0..3), control NIC.
export NCCL_GPUDIRECTTCPX_SOCKET_IFNAME="${NCCL_GPUDIRECTTCPX_SOCKET_IFNAME:-eth1,eth2,eth3,eth4}"
export NCCL_GPUDIRECTTCPX_CTRL_DEV="${NCCL_GPUDIRECTTCPX_CTRL_DEV:-eth0}"
# rxdm (the tcpgpudmarxd container) puts its unix sockets here.
export NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX="${NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX:-/run/tcpx}"

# Traps: 0 hangs every transfer (set on both sides); 5 s of sleep per accept by default;
# at most 8 data sockets per comm.
export NCCL_DYNAMIC_CHUNK_SIZE="${NCCL_DYNAMIC_CHUNK_SIZE:-524288}"
export NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS="${NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS:-50000}"
export NCCL_SOCKET_NTHREADS="${NCCL_SOCKET_NTHREADS:-1}"
export NCCL_NSOCKS_PERTHREAD="${NCCL_NSOCKS_PERTHREAD:-4}"

# The launchers: GPU i's server listens on UCCL_TCPX_BOOTSTRAP_PORT_BASE + i.
export UCCL_TCPX_BOOTSTRAP_PORT_BASE="${UCCL_TCPX_BOOTSTRAP_PORT_BASE:-47000}"
