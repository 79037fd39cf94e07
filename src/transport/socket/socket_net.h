// The built-in socket transport's ncclNet v7 table (the same one plugin_export.cc exports).
#pragma once

#include "transport/abi/net_v7.h"

namespace tcpxp::transport::socket {

const ncclNet_v7_t* socketNetTable();

}  // namespace tcpxp::transport::socket
