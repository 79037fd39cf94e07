/* Compiled as C (C99 and C11, -pedantic): proves uccl_engine.h is a valid C header, that every
 * function has the declared C signature, and that C sees the same struct layouts as C++. */
#include "uccl_engine.h"

#include <stddef.h>

int tcpxp_c_header_check(void);

/* Each API function assigned to a pointer of its documented type: a signature change in the
 * header breaks this file's build. */
static uccl_engine_t* (*const check_create)(int, bool) = uccl_engine_create;
static uccl_engine_t* (*const check_create_gpu)(int) = uccl_engine_create_gpu;
static void (*const check_destroy)(uccl_engine_t*) = uccl_engine_destroy;
static int (*const check_get_metadata)(uccl_engine_t*, char**) = uccl_engine_get_metadata;
static void (*const check_free_metadata)(char*) = uccl_engine_free_metadata;
static uccl_conn_t* (*const check_connect)(uccl_engine_t*, const char*, int,
                                           int) = uccl_engine_connect;
static uccl_conn_t* (*const check_connect_bdf)(uccl_engine_t*, const char*, const char*, int,
                                               bool) = uccl_engine_connect_bdf;
static bool (*const check_conn_is_local)(uccl_conn_t*) = uccl_engine_conn_is_local;
static uccl_conn_t* (*const check_accept)(uccl_engine_t*, char*, size_t, int*) = uccl_engine_accept;
static void (*const check_stop_accept)(uccl_engine_t*) = uccl_engine_stop_accept;
static int (*const check_start_listener)(uccl_conn_t*) = uccl_engine_start_listener;
static void (*const check_conn_destroy)(uccl_conn_t*) = uccl_engine_conn_destroy;
static int (*const check_reg)(uccl_engine_t*, uintptr_t, size_t, uccl_mr_t*) = uccl_engine_reg;
static void (*const check_mr_destroy)(uccl_engine_t*, uccl_mr_t) = uccl_engine_mr_destroy;
static int (*const check_prepare_fifo)(uccl_engine_t*, uccl_mr_t, const void*, size_t,
                                       char*) = uccl_engine_prepare_fifo;
static int (*const check_update_fifo)(FifoItem*, uint64_t, uint32_t) = uccl_engine_update_fifo;
static int (*const check_get_ipc_info)(uccl_engine_t*, uintptr_t, char*,
                                       bool*) = uccl_engine_get_ipc_info;
static int (*const check_update_ipc_info)(char*, uintptr_t, uintptr_t,
                                          size_t) = uccl_engine_update_ipc_info;
static int (*const check_read)(uccl_conn_t*, uccl_mr_t, const void*, size_t, FifoItem,
                               uint64_t*) = uccl_engine_read;
static int (*const check_write)(uccl_conn_t*, uccl_mr_t, const void*, size_t, FifoItem,
                                uint64_t*) = uccl_engine_write;
static int (*const check_read_vector)(uccl_conn_t*, const uccl_mr_t*, void* const*, const size_t*,
                                      const FifoItem*, int, uint64_t*) = uccl_engine_read_vector;
static int (*const check_write_vector)(uccl_conn_t*, const uccl_mr_t*, void* const*, const size_t*,
                                       const FifoItem*, int, uint64_t*) = uccl_engine_write_vector;
static int (*const check_read_vector_ipc)(uccl_conn_t*, const uccl_mr_t*, void* const*,
                                          const size_t*, const FifoItem*, int, uint64_t*,
                                          const char* const*) = uccl_engine_read_vector_ipc;
static int (*const check_write_vector_ipc)(uccl_conn_t*, const uccl_mr_t*, void* const*,
                                           const size_t*, const FifoItem*, int, uint64_t*,
                                           const char* const*) = uccl_engine_write_vector_ipc;
static int (*const check_send)(uccl_conn_t*, uccl_mr_t, const void*, size_t,
                               uint64_t*) = uccl_engine_send;
static int (*const check_send_vector)(uccl_conn_t*, const uccl_mr_t*, const void* const*,
                                      const size_t*, int, uint64_t*) = uccl_engine_send_vector;
static int (*const check_recv)(uccl_conn_t*, uccl_mr_t, void*, size_t) = uccl_engine_recv;
static int (*const check_recv_vector)(uccl_conn_t*, const uccl_mr_t*, void* const*, const size_t*,
                                      int) = uccl_engine_recv_vector;
static int (*const check_recv_async)(uccl_conn_t*, uccl_mr_t, void*, size_t,
                                     uint64_t*) = uccl_engine_recv_async;
static bool (*const check_xfer_status)(uccl_conn_t*, uint64_t) = uccl_engine_xfer_status;
static int (*const check_xfer_poll)(uccl_conn_t*, uint64_t, bool*, size_t*) = uccl_engine_xfer_poll;
static int (*const check_send_notif)(uccl_conn_t*, notify_msg_t*) = uccl_engine_send_notif;
static int (*const check_send_notif_bytes)(uccl_conn_t*, const char*, size_t, const void*,
                                           size_t) = uccl_engine_send_notif_bytes;
static int (*const check_get_notifs)(notify_msg_t*, size_t, size_t*) = uccl_engine_get_notifs;
static int (*const check_get_notifs_sized)(notify_msg_t*, size_t*, size_t,
                                           size_t*) = uccl_engine_get_notifs_sized;
static const char* (*const check_last_error)(void) = uccl_engine_last_error;

/* Returns 0 when C's view of the types matches the documented layout, else the failing check's
 * number. Called from the C++ test, which compares against C++'s view. */
int tcpxp_c_header_check(void) {
  const void* fns[] = {
      (const void*)&check_create,
      (const void*)&check_create_gpu,
      (const void*)&check_destroy,
      (const void*)&check_get_metadata,
      (const void*)&check_connect,
      (const void*)&check_accept,
      (const void*)&check_stop_accept,
      (const void*)&check_conn_destroy,
      (const void*)&check_reg,
      (const void*)&check_mr_destroy,
      (const void*)&check_prepare_fifo,
      (const void*)&check_update_fifo,
      (const void*)&check_read,
      (const void*)&check_write,
      (const void*)&check_read_vector,
      (const void*)&check_write_vector,
      (const void*)&check_send,
      (const void*)&check_send_vector,
      (const void*)&check_recv,
      (const void*)&check_recv_vector,
      (const void*)&check_recv_async,
      (const void*)&check_xfer_status,
      (const void*)&check_xfer_poll,
      (const void*)&check_send_notif,
      (const void*)&check_get_notifs,
      (const void*)&check_last_error,
      (const void*)&check_start_listener,
      (const void*)&check_free_metadata,
      (const void*)&check_connect_bdf,
      (const void*)&check_conn_is_local,
      (const void*)&check_get_ipc_info,
      (const void*)&check_update_ipc_info,
      (const void*)&check_read_vector_ipc,
      (const void*)&check_write_vector_ipc,
      (const void*)&check_send_notif_bytes,
      (const void*)&check_get_notifs_sized,
  };
  size_t i;
  for (i = 0; i < sizeof(fns) / sizeof(fns[0]); ++i) {
    if (fns[i] == NULL) return 1;
  }
  if (sizeof(FifoItem) != UCCL_ENGINE_FIFO_SIZE) return 2;
  if (offsetof(FifoItem, addr) != 0 || offsetof(FifoItem, size) != 8 ||
      offsetof(FifoItem, rkey) != 12 || offsetof(FifoItem, nmsgs) != 16 ||
      offsetof(FifoItem, rid) != 20 || offsetof(FifoItem, idx) != 24 ||
      offsetof(FifoItem, padding) != 32) {
    return 3;
  }
  if (sizeof(notify_msg_t) != 512 || offsetof(notify_msg_t, msg) != 256) return 4;
  if (sizeof(uccl_mr_t) != 8) return 5;
  /* UCCL's size macros and md_t, visible to C too. */
  if (MSG_SIZE != 256 || FIFO_SIZE != 64 || IPC_INFO_SIZE != 128) return 6;
  if (sizeof(md_t) != sizeof(notify_msg_t)) return 7;
  return 0;
}
