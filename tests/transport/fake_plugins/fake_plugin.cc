// Deliberately broken ncclNet v7 plugins for the loader tests, one per FAKE_* macro.
#include <cstdio>

#include "transport/abi/net_v7.h"

namespace {
#ifndef FAKE_NO_SYMBOL
int g_init_calls = 0;
ncclResult_t fakeInit(ncclDebugLogger_t log) {
  ++g_init_calls;
  if (log) log(NCCL_LOG_WARN, 0, __FILE__, __LINE__, "fake plugin init call %d", g_init_calls);
#ifdef FAKE_INIT_FAILS
  return ncclSystemError;
#else
  return g_init_calls == 1 ? ncclSuccess : ncclInternalError;  // once per process, like TCPX
#endif
}
ncclResult_t fakeDevices(int* n) {
  *n = g_init_calls;  // lets the test see how often init ran
  return ncclSuccess;
}
#endif
ncclResult_t fakeAny() { return ncclInternalError; }
template <typename F>
F stub() {
  // Through void (*)(): the generic function pointer type (never called with other arguments:
  // the loader tests only check that the members are set).
  return reinterpret_cast<F>(reinterpret_cast<void (*)()>(&fakeAny));
}
}  // namespace

#ifndef FAKE_NO_SYMBOL
extern "C" {
__attribute__((visibility("default"))) ncclNet_v7_t ncclNetPlugin_v7 = {
#ifdef FAKE_GOOGLE_NAME
    .name = "GPUDirectTCPX_v7",  // named as Google's TCPX: the engine then requires rxdm
#else
    .name = "fake",
#endif
    .init = fakeInit,
    .devices = fakeDevices,
    .getProperties = stub<decltype(ncclNet_v7_t::getProperties)>(),
    .listen = stub<decltype(ncclNet_v7_t::listen)>(),
    .connect = stub<decltype(ncclNet_v7_t::connect)>(),
    .accept = stub<decltype(ncclNet_v7_t::accept)>(),
    .regMr = stub<decltype(ncclNet_v7_t::regMr)>(),
    .regMrDmaBuf = nullptr,
    .deregMr = stub<decltype(ncclNet_v7_t::deregMr)>(),
#ifdef FAKE_INCOMPLETE
    .isend = nullptr,
#else
    .isend = stub<decltype(ncclNet_v7_t::isend)>(),
#endif
    .irecv = stub<decltype(ncclNet_v7_t::irecv)>(),
    .iflush = nullptr,
#ifdef FAKE_INCOMPLETE
    .test = nullptr,
#else
    .test = stub<decltype(ncclNet_v7_t::test)>(),
#endif
    .closeSend = stub<decltype(ncclNet_v7_t::closeSend)>(),
    .closeRecv = stub<decltype(ncclNet_v7_t::closeRecv)>(),
    .closeListen = stub<decltype(ncclNet_v7_t::closeListen)>(),
    .getDeviceMr = nullptr,
    .irecvConsumed = nullptr,
};
}
#else
extern "C" {
__attribute__((visibility("default"))) int notAPlugin = 1;
}
#endif
