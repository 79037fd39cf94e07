// The one symbol of libnccl-net-tcpxp.so: the built-in socket transport's table, so that NCCL
// (NCCL_NET_PLUGIN=/path/libnccl-net-tcpxp.so) and tcpx-p2p load it exactly as they load TCPX.
#include "transport/abi/net_v7.h"
#include "transport/socket/socket_net.h"

extern "C" {
__attribute__((visibility("default"))) ncclNet_v7_t ncclNetPlugin_v7 =
    *tcpxp::transport::socket::socketNetTable();
}
