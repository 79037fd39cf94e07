// A working ncclNet v7 plugin that crashes in one entry point, for the conformance runner's
// crash-isolation test (tests/transport/crash_isolation_test.py). Every member forwards to the
// built-in transport's standalone library (dlopen'd at init, path TCPXP_SOCKET_PLUGIN_PATH),
// except irecv with n != 1 (TCPX's rule, only TcpxRules.IrecvAndIrecvConsumedTakeExactlyOneBuffer
// breaks it on purpose), which crashes the process the way a plugin does: abort()
// (FAKE_CRASH_ABORT, like TCPX's glibc double free), SIGSEGV (FAKE_CRASH_SEGV) or
// exit(1) (FAKE_CRASH_EXIT, like TCPX's fatal paths).
#include <dlfcn.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "transport/abi/net_v7.h"

namespace {

const ncclNet_v7_t* g_inner = nullptr;

[[noreturn]] void crash() {
  std::fprintf(stderr, "fake-crashing plugin: irecv with n != 1, crashing on purpose\n");
  std::fflush(stderr);
#if defined(FAKE_CRASH_ABORT)
  std::abort();
#elif defined(FAKE_CRASH_SEGV)
  std::raise(SIGSEGV);  // what a stray pointer does, without undefined behaviour here
  std::abort();
#elif defined(FAKE_CRASH_EXIT)
  std::exit(1);
#else
#error "define FAKE_CRASH_ABORT, FAKE_CRASH_SEGV or FAKE_CRASH_EXIT"
#endif
}

ncclResult_t fakeInit(ncclDebugLogger_t log) {
  void* dl = ::dlopen(TCPXP_SOCKET_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) {
    std::fprintf(stderr, "fake-crashing plugin: %s\n", ::dlerror());
    return ncclSystemError;
  }
  g_inner = static_cast<const ncclNet_v7_t*>(::dlsym(dl, "ncclNetPlugin_v7"));
  if (g_inner == nullptr) return ncclSystemError;
  return g_inner->init(log);
}
ncclResult_t fakeDevices(int* n) { return g_inner->devices(n); }
ncclResult_t fakeGetProperties(int dev, ncclNetProperties_v7_t* props) {
  return g_inner->getProperties(dev, props);
}
ncclResult_t fakeListen(int dev, void* handle, void** listen_comm) {
  return g_inner->listen(dev, handle, listen_comm);
}
ncclResult_t fakeConnect(int dev, void* handle, void** send_comm,
                         ncclNetDeviceHandle_v7_t** send_dev) {
  return g_inner->connect(dev, handle, send_comm, send_dev);
}
ncclResult_t fakeAccept(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_v7_t** recv_dev) {
  return g_inner->accept(listen_comm, recv_comm, recv_dev);
}
ncclResult_t fakeRegMr(void* comm, void* data, int size, int type, void** mhandle) {
  return g_inner->regMr(comm, data, size, type, mhandle);
}
ncclResult_t fakeDeregMr(void* comm, void* mhandle) { return g_inner->deregMr(comm, mhandle); }
ncclResult_t fakeIsend(void* send_comm, void* data, int size, int tag, void* mhandle,
                       void** request) {
  return g_inner->isend(send_comm, data, size, tag, mhandle, request);
}
ncclResult_t fakeIrecv(void* recv_comm, int n, void** data, int* sizes, int* tags, void** mhandles,
                       void** request) {
  if (n != 1) crash();
  return g_inner->irecv(recv_comm, n, data, sizes, tags, mhandles, request);
}
ncclResult_t fakeTest(void* request, int* done, int* sizes) {
  return g_inner->test(request, done, sizes);
}
ncclResult_t fakeCloseSend(void* comm) { return g_inner->closeSend(comm); }
ncclResult_t fakeCloseRecv(void* comm) { return g_inner->closeRecv(comm); }
ncclResult_t fakeCloseListen(void* comm) { return g_inner->closeListen(comm); }
ncclResult_t fakeIrecvConsumed(void* recv_comm, int n, void* request) {
  return g_inner->irecvConsumed(recv_comm, n, request);
}

}  // namespace

extern "C" {
__attribute__((visibility("default"))) ncclNet_v7_t ncclNetPlugin_v7 = {
    .name = "fake-crashing",
    .init = fakeInit,
    .devices = fakeDevices,
    .getProperties = fakeGetProperties,
    .listen = fakeListen,
    .connect = fakeConnect,
    .accept = fakeAccept,
    .regMr = fakeRegMr,
    .regMrDmaBuf = nullptr,
    .deregMr = fakeDeregMr,
    .isend = fakeIsend,
    .irecv = fakeIrecv,
    .iflush = nullptr,
    .test = fakeTest,
    .closeSend = fakeCloseSend,
    .closeRecv = fakeCloseRecv,
    .closeListen = fakeCloseListen,
    .getDeviceMr = nullptr,
    .irecvConsumed = fakeIrecvConsumed,
};
}
