// The ncclNet v7 plugin ABI, stated from the published facts (docs/TCPX.md): member order,
// signatures and struct layouts of the table that GPUDirect-TCPX's libnccl-net.so exports as
// `ncclNetPlugin_v7`. Frozen: a newer ABI gets its own header. Only transport/ includes this.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

// ncclResult_t values as the plugin returns them.
typedef enum {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
} ncclResult_t;

// Logger levels passed to ncclDebugLogger_t.
typedef enum {
  NCCL_LOG_NONE = 0,
  NCCL_LOG_VERSION = 1,
  NCCL_LOG_WARN = 2,
  NCCL_LOG_INFO = 3,
  NCCL_LOG_ABORT = 4,
  NCCL_LOG_TRACE = 5,
} ncclDebugLogLevel;

typedef void (*ncclDebugLogger_t)(int level, unsigned long flags, const char* file, int line,
                                  const char* fmt, ...);

#define NCCL_NET_HANDLE_MAXSIZE 128
#define NCCL_PTR_HOST 0x1
#define NCCL_PTR_CUDA 0x2
#define NCCL_PTR_DMABUF 0x4

#define NCCL_NET_DEVICE_HOST 0
#define NCCL_NET_DEVICE_UNPACK 1
#define NCCL_NET_DEVICE_UNPACK_VERSION 0x7
// Receive slots of the UNPACK device path: the k-th irecv of a comm uses slot k % 16.
#define NCCL_NET_DEVICE_UNPACK_MAX_QUEUE_DEPTH 16
#define NCCL_NET_UNPACK_MAX_SLICE_PAGES 2048
#define NCCL_NET_UNPACK_PAGE_SIZE 4096

typedef struct {
  char* name;            // Used mostly for logging.
  char* pciPath;         // Path to the PCI device in /sys; NULL on virtual interfaces.
  uint64_t guid;         // Unique identifier for the NIC chip.
  int ptrSupport;        // NCCL_PTR_HOST | NCCL_PTR_CUDA | NCCL_PTR_DMABUF
  int speed;             // Port speed in Mbps.
  int port;              // Port number.
  float latency;         // Network latency in microseconds.
  int maxComms;          // Maximum number of comms we can create.
  int maxRecvs;          // Maximum number of grouped receives (TCPX: 1).
  int netDeviceType;     // NCCL_NET_DEVICE_HOST or NCCL_NET_DEVICE_UNPACK
  int netDeviceVersion;  // NCCL_NET_DEVICE_UNPACK_VERSION for UNPACK
} ncclNetProperties_v7_t;

// Filled by accept() for device-side receive paths. For TCPX `handle` is a DEVICE pointer to a
// unpackNetDeviceHandle; the caller owns this struct and must pass it 16-byte aligned.
typedef struct {
  int netDeviceType;
  int netDeviceVersion;
  void* handle;
  size_t size;
  int needsProxyProgress;
} ncclNetDeviceHandle_v7_t;

// One gather instruction of the UNPACK path: copy `len` bytes from bounce_buf + src_off to
// the irecv buffer + dst_off.
union alignas(16) loadMeta {
  uint64_t r64[2];
  struct {
    uint32_t src_off;
    uint32_t len;
    uint64_t dst_off;
  };
};

// Scatter lists of all 16 receive slots; cnt[q] is valid once slot q's receive tested done.
struct netUnpackMeta {
  loadMeta mem[NCCL_NET_DEVICE_UNPACK_MAX_QUEUE_DEPTH][NCCL_NET_UNPACK_MAX_SLICE_PAGES];
  uint64_t cnt[NCCL_NET_DEVICE_UNPACK_MAX_QUEUE_DEPTH];
};

// What ncclNetDeviceHandle_v7_t::handle points to (in device memory for TCPX).
struct unpackNetDeviceHandle {
  netUnpackMeta* meta;
  void* bounce_buf;
  uint64_t head;
};

typedef struct {
  const char* name;
  ncclResult_t (*init)(ncclDebugLogger_t logFunction);
  ncclResult_t (*devices)(int* ndev);
  ncclResult_t (*getProperties)(int dev, ncclNetProperties_v7_t* props);
  ncclResult_t (*listen)(int dev, void* handle, void** listenComm);
  ncclResult_t (*connect)(int dev, void* handle, void** sendComm,
                          ncclNetDeviceHandle_v7_t** sendDevComm);
  ncclResult_t (*accept)(void* listenComm, void** recvComm, ncclNetDeviceHandle_v7_t** recvDevComm);
  ncclResult_t (*regMr)(void* comm, void* data, int size, int type, void** mhandle);
  ncclResult_t (*regMrDmaBuf)(void* comm, void* data, size_t size, int type, uint64_t offset,
                              int fd, void** mhandle);
  ncclResult_t (*deregMr)(void* comm, void* mhandle);
  ncclResult_t (*isend)(void* sendComm, void* data, int size, int tag, void* mhandle,
                        void** request);
  ncclResult_t (*irecv)(void* recvComm, int n, void** data, int* sizes, int* tags, void** mhandles,
                        void** request);
  ncclResult_t (*iflush)(void* recvComm, int n, void** data, int* sizes, void** mhandles,
                         void** request);
  ncclResult_t (*test)(void* request, int* done, int* sizes);
  ncclResult_t (*closeSend)(void* sendComm);
  ncclResult_t (*closeRecv)(void* recvComm);
  ncclResult_t (*closeListen)(void* listenComm);
  ncclResult_t (*getDeviceMr)(void* comm, void* mhandle, void** dptr_mhandle);
  ncclResult_t (*irecvConsumed)(void* recvComm, int n, void* request);
} ncclNet_v7_t;

}  // extern "C"

// The layout is the contract with a binary we do not build: pin every size and offset.
static_assert(sizeof(ncclResult_t) == sizeof(int));
static_assert(sizeof(ncclNetProperties_v7_t) == 56);
static_assert(offsetof(ncclNetProperties_v7_t, name) == 0);
static_assert(offsetof(ncclNetProperties_v7_t, pciPath) == 8);
static_assert(offsetof(ncclNetProperties_v7_t, guid) == 16);
static_assert(offsetof(ncclNetProperties_v7_t, ptrSupport) == 24);
static_assert(offsetof(ncclNetProperties_v7_t, speed) == 28);
static_assert(offsetof(ncclNetProperties_v7_t, port) == 32);
static_assert(offsetof(ncclNetProperties_v7_t, latency) == 36);
static_assert(offsetof(ncclNetProperties_v7_t, maxComms) == 40);
static_assert(offsetof(ncclNetProperties_v7_t, maxRecvs) == 44);
static_assert(offsetof(ncclNetProperties_v7_t, netDeviceType) == 48);
static_assert(offsetof(ncclNetProperties_v7_t, netDeviceVersion) == 52);
static_assert(sizeof(ncclNetDeviceHandle_v7_t) == 32);
static_assert(offsetof(ncclNetDeviceHandle_v7_t, handle) == 8);
static_assert(offsetof(ncclNetDeviceHandle_v7_t, size) == 16);
static_assert(offsetof(ncclNetDeviceHandle_v7_t, needsProxyProgress) == 24);
static_assert(sizeof(loadMeta) == 16 && alignof(loadMeta) == 16);
static_assert(offsetof(loadMeta, len) == 4 && offsetof(loadMeta, dst_off) == 8);
static_assert(offsetof(netUnpackMeta, cnt) == 16 * 2048 * 16);
static_assert(sizeof(netUnpackMeta) == 16 * 2048 * 16 + 16 * 8);
static_assert(sizeof(unpackNetDeviceHandle) == 24);
static_assert(sizeof(ncclNet_v7_t) == 19 * sizeof(void*));
static_assert(offsetof(ncclNet_v7_t, init) == 1 * sizeof(void*));
static_assert(offsetof(ncclNet_v7_t, listen) == 4 * sizeof(void*));
static_assert(offsetof(ncclNet_v7_t, regMrDmaBuf) == 8 * sizeof(void*));
static_assert(offsetof(ncclNet_v7_t, isend) == 10 * sizeof(void*));
static_assert(offsetof(ncclNet_v7_t, test) == 13 * sizeof(void*));
static_assert(offsetof(ncclNet_v7_t, closeListen) == 16 * sizeof(void*));
static_assert(offsetof(ncclNet_v7_t, irecvConsumed) == 18 * sizeof(void*));
