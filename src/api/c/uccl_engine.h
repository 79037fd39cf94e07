/*
 * tcpx-p2p C API: a drop-in for UCCL's p2p/uccl_engine.h (the API NIXL's UCCL backend calls),
 * implemented on tcpxp::engine::Endpoint. Link with libtcpx_p2p.so.
 *
 * Names, argument order and return conventions follow UCCL (release 0.1.1 and the newer
 * signatures): functions returning int give 0 on success and -1 on error; functions returning a
 * handle give NULL on error. Where UCCL's C++ header takes a reference (uccl_engine_reg,
 * uccl_engine_update_fifo) this header takes a pointer and adds the reference overload for C++.
 * UCCL's std::vector signatures (the _vector calls, uccl_engine_get_notifs()) have C array forms
 * here; define UCCL_ENGINE_STL_COMPAT before including this header in C++ to also get inline
 * std::vector overloads with UCCL's exact parameter lists.
 *
 * Extensions (not in UCCL): uccl_engine_create_gpu, uccl_engine_last_error, uccl_engine_xfer_poll,
 * uccl_engine_recv_async. uccl_engine_start_listener is UCCL's, kept as a checked no-op.
 *
 * Errors: every failing call stores a message in a thread-local buffer, read with
 * uccl_engine_last_error(). Successful calls leave it unchanged. No call throws or aborts on bad
 * arguments: NULL pointers, handles that are not live (never created, or already destroyed) and
 * out-of-range sizes are reported as errors.
 *
 * Threading: every call is thread-safe. Blocking calls (connect, accept, recv, recv_vector)
 * return early with an error when the engine is destroyed from another thread.
 *
 * Ownership, in one place (each declaration repeats what applies to it):
 *   - uccl_engine_t* is owned by the caller from create until uccl_engine_destroy.
 *   - uccl_conn_t* is owned by the caller until uccl_engine_conn_destroy, or until its engine is
 *     destroyed, which releases every connection handle of that engine.
 *   - uccl_mr_t is a plain 64-bit id (0 is never valid), released with uccl_engine_mr_destroy.
 *   - Data buffers passed to transfers are borrowed: they must stay valid (and registered) until
 *     the transfer is reported done. All other pointer arguments are borrowed for the call only.
 *   - The only memory this library hands to the caller is the uccl_engine_get_metadata string.
 */
#ifndef TCPXP_API_C_UCCL_ENGINE_H_
#define TCPXP_API_C_UCCL_ENGINE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define UCCL_ENGINE_API __attribute__((visibility("default")))
#else
#define UCCL_ENGINE_API
#endif

#define UCCL_ENGINE_MSG_SIZE 256 /* notify_msg_t field size (UCCL MSG_SIZE) */
#define UCCL_ENGINE_FIFO_SIZE 64 /* serialized FifoItem size (UCCL FIFO_SIZE) */

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque handles: distinct struct types, so a connection cannot be passed as an engine. */
typedef struct uccl_engine uccl_engine_t;
typedef struct uccl_conn uccl_conn_t;

/* A memory registration id, as in UCCL (a value, not a pointer). 0 is never a valid id. */
typedef uint64_t uccl_mr_t;

/* A notification: name is a NUL-terminated string (at most 255 characters); msg is 256 bytes of
 * opaque data (NIXL puts binary serialized data there). The engine carries at most 255 bytes of
 * msg: trailing zero bytes are not sent and the receiver's copy is zero-filled, so a msg whose
 * last byte (msg[255]) is non-zero cannot be sent. */
typedef struct notify_msg {
  char name[UCCL_ENGINE_MSG_SIZE];
  char msg[UCCL_ENGINE_MSG_SIZE];
} notify_msg_t;

/* The 64-byte advertisement of a registered buffer (UCCL's FifoItem, same layout, little-endian).
 * Produced by uccl_engine_prepare_fifo on the passive side, shipped to the peer as 64 bytes, and
 * passed back to uccl_engine_read/write there. addr and size may be patched (directly, as UCCL
 * callers do, or with uccl_engine_update_fifo) to name a sub-range; the other fields are private
 * to tcpx-p2p and must be kept as produced. */
typedef struct FifoItem {
  uint64_t addr;    /* @0  start of the advertised range */
  uint32_t size;    /* @8  its size (UINT32_MAX: see padding) */
  uint32_t rkey;    /* @12 private */
  uint32_t nmsgs;   /* @16 private */
  uint32_t rid;     /* @20 private */
  uint64_t idx;     /* @24 private */
  char padding[32]; /* @32 private (holds the 64-bit size of ranges of 4 GiB and more) */
} FifoItem;
typedef FifoItem uccl_fifo_item_t;

#if defined(__cplusplus)
static_assert(sizeof(FifoItem) == UCCL_ENGINE_FIFO_SIZE, "FifoItem must be 64 bytes");
static_assert(sizeof(notify_msg_t) == 2 * UCCL_ENGINE_MSG_SIZE, "notify_msg_t layout");
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(FifoItem) == UCCL_ENGINE_FIFO_SIZE, "FifoItem must be 64 bytes");
_Static_assert(sizeof(notify_msg_t) == 2 * UCCL_ENGINE_MSG_SIZE, "notify_msg_t layout");
#endif

/* ---- Engine ------------------------------------------------------------------------------- */

/* Creates an engine (one endpoint with its own driver thread and control port).
 * num_cpus: accepted for UCCL compatibility and ignored (the engine runs one driver thread).
 * in_python: ignored (no interpreter lock is held by this library).
 * The GPU comes from the environment variable UCCL_TCPX_GPU (an index; default -1, host memory
 * only). The transport and its knobs come from UCCL_P2P_TRANSPORT / UCCL_TCPX_* as usual.
 * Returns a handle the caller owns (release with uccl_engine_destroy), or NULL on error. */
UCCL_ENGINE_API uccl_engine_t* uccl_engine_create(int num_cpus, bool in_python);

/* Extension: creates an engine for GPU gpu_idx (-1: host memory only). Otherwise as above. */
UCCL_ENGINE_API uccl_engine_t* uccl_engine_create_gpu(int gpu_idx);

/* Destroys the engine: wakes blocked calls on other threads (they return errors), closes its
 * connections and releases every connection handle it produced (they must not be used or
 * destroyed afterwards). Registrations die with it. Notifications it had received but not yet
 * handed out stay available to uccl_engine_get_notifs. NULL or an unknown handle is ignored (and
 * recorded in uccl_engine_last_error). */
UCCL_ENGINE_API void uccl_engine_destroy(uccl_engine_t* engine);

/* Writes the engine's address as a NUL-terminated string "ip:port?BDF" ("[ip]:port?BDF" for
 * IPv6; the BDF is empty for a host-only engine) into *metadata_str. The string is allocated with
 * malloc and owned by the caller, who releases it with free(). On error *metadata_str is left
 * unchanged. metadata_str: borrowed, must not be NULL. */
UCCL_ENGINE_API int uccl_engine_get_metadata(uccl_engine_t* engine, char** metadata_str);

/* ---- Connections -------------------------------------------------------------------------- */

/* Connects to a remote engine (blocking, bounded by UCCL_TCPX_TIMEOUT_MS).
 * ip_addr: numeric IPv4/IPv6 text, borrowed for the call. remote_port: the peer's control port
 * from its metadata; <= 0 means UCCL_TCPX_BOOTSTRAP_PORT_BASE + remote_gpu_idx.
 * Returns a connection handle owned by the caller, or NULL on error. */
UCCL_ENGINE_API uccl_conn_t* uccl_engine_connect(uccl_engine_t* engine, const char* ip_addr,
                                                 int remote_gpu_idx, int remote_port);

/* Waits for the next incoming connection (blocking, no time limit; uccl_engine_stop_accept or
 * uccl_engine_destroy from another thread make it return NULL).
 * ip_addr_buf: receives the peer's IP as a NUL-terminated string, truncated to
 * ip_addr_buf_len - 1 characters (64 bytes always suffice); may be NULL when ip_addr_buf_len is 0.
 * remote_gpu_idx: receives the peer's GPU index (-1: host-only); may be NULL.
 * Both are borrowed and written only on success.
 * Returns a connection handle owned by the caller, or NULL on error. */
UCCL_ENGINE_API uccl_conn_t* uccl_engine_accept(uccl_engine_t* engine, char* ip_addr_buf,
                                                size_t ip_addr_buf_len, int* remote_gpu_idx);

/* UCCL compatibility: UCCL starts a per-connection thread here to receive notifications. This
 * engine's driver thread already receives them, so this only checks that conn is live: 0 if it
 * is, -1 otherwise. */
UCCL_ENGINE_API int uccl_engine_start_listener(uccl_conn_t* conn);

/* Makes a blocked uccl_engine_accept (now or later) return NULL. Ignores NULL/unknown engines. */
UCCL_ENGINE_API void uccl_engine_stop_accept(uccl_engine_t* engine);

/* Closes the connection and releases the handle. NULL or an unknown handle is ignored (and
 * recorded in uccl_engine_last_error). Transfers still in flight on it fail. */
UCCL_ENGINE_API void uccl_engine_conn_destroy(uccl_conn_t* conn);

/* ---- Memory ------------------------------------------------------------------------------- */

/* Registers [data, data + size) (host memory, or GPU memory where the transport moves it).
 * mr_id: borrowed, receives the registration id on success (left unchanged on error).
 * The memory stays owned by the caller and must outlive the registration. */
UCCL_ENGINE_API int uccl_engine_reg(uccl_engine_t* engine, uintptr_t data, size_t size,
                                    uccl_mr_t* mr_id);

/* Deregisters. Fails (recorded in uccl_engine_last_error) while transfers use it, or for an
 * unknown id; UCCL's signature returns nothing. */
UCCL_ENGINE_API void uccl_engine_mr_destroy(uccl_engine_t* engine, uccl_mr_t mr);

/* Advertises [data, data + size), which must lie inside registration mr, to any connection of
 * this engine: writes the 64-byte serialized FifoItem into fifo_buf (borrowed, at least
 * UCCL_ENGINE_FIFO_SIZE bytes, written only on success). The peer passes it to read/write. */
UCCL_ENGINE_API int uccl_engine_prepare_fifo(uccl_engine_t* engine, uccl_mr_t mr, const void* data,
                                             size_t size, char* fifo_buf);

/* Points an advertisement at [remote_addr, remote_addr + size), which must lie inside what was
 * advertised (the passive side refuses transfers outside it). fifo_item: borrowed, updated in
 * place; an item that was not produced by prepare_fifo is refused and left unchanged. */
UCCL_ENGINE_API int uccl_engine_update_fifo(FifoItem* fifo_item, uint64_t remote_addr,
                                            uint32_t size);

/* ---- Transfers ---------------------------------------------------------------------------- */
/* Non-blocking unless stated otherwise: on success *transfer_id (borrowed, written only on
 * success) names the transfer; poll it with uccl_engine_xfer_status. Data buffers are borrowed
 * until the transfer is done and must lie inside their registration. On error nothing was
 * started. */

/* One-sided: copies size bytes from the peer's advertised range (fifo_item, from the peer's
 * prepare_fifo) into data (inside registration mr). size must not exceed fifo_item's size. */
UCCL_ENGINE_API int uccl_engine_read(uccl_conn_t* conn, uccl_mr_t mr, const void* data, size_t size,
                                     FifoItem fifo_item, uint64_t* transfer_id);

/* One-sided: copies size bytes from data (inside registration mr) into the peer's advertised
 * range. */
UCCL_ENGINE_API int uccl_engine_write(uccl_conn_t* conn, uccl_mr_t mr, const void* data,
                                      size_t size, FifoItem fifo_item, uint64_t* transfer_id);

/* Vector forms: num_iovs (> 0) pieces, one transfer id for all. Arrays are borrowed for the call
 * and hold num_iovs entries each; the buffers they point to are borrowed until done. */
UCCL_ENGINE_API int uccl_engine_read_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids,
                                            void* const* dst_v, const size_t* size_v,
                                            const FifoItem* fifo_items, int num_iovs,
                                            uint64_t* transfer_id);
UCCL_ENGINE_API int uccl_engine_write_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids,
                                             void* const* src_v, const size_t* size_v,
                                             const FifoItem* fifo_items, int num_iovs,
                                             uint64_t* transfer_id);

/* Two-sided: sends size bytes from data to the peer's next recv (matched in posting order). */
UCCL_ENGINE_API int uccl_engine_send(uccl_conn_t* conn, uccl_mr_t mr, const void* data, size_t size,
                                     uint64_t* transfer_id);
UCCL_ENGINE_API int uccl_engine_send_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids,
                                            const void* const* src_v, const size_t* size_v,
                                            int num_iovs, uint64_t* transfer_id);

/* Two-sided receive, BLOCKING (as in UCCL): waits until the peer's matching send has landed in
 * data (at most max_size bytes). 0 on success, -1 on error. */
UCCL_ENGINE_API int uccl_engine_recv(uccl_conn_t* conn, uccl_mr_t mr, void* data, size_t max_size);
/* Blocking vector receive: piece i lands in data_v[i] (at most size_v[i] bytes). */
UCCL_ENGINE_API int uccl_engine_recv_vector(uccl_conn_t* conn, const uccl_mr_t* mr_ids,
                                            void* const* data_v, const size_t* size_v,
                                            int num_iovs);
/* Extension: non-blocking uccl_engine_recv; the byte count comes from uccl_engine_xfer_poll. */
UCCL_ENGINE_API int uccl_engine_recv_async(uccl_conn_t* conn, uccl_mr_t mr, void* data,
                                           size_t max_size, uint64_t* transfer_id);

/* Returns false while the transfer is in flight, true once it will make no more progress:
 * finished successfully, FAILED, or unknown. The id is released the first time true is returned.
 * Error path: a bool cannot tell success from failure, so a failed transfer, an unknown or
 * already-reported id, and a NULL/unknown conn all return true (a polling loop must end) and
 * store the reason in uccl_engine_last_error. Callers that need the outcome use
 * uccl_engine_xfer_poll instead. */
UCCL_ENGINE_API bool uccl_engine_xfer_status(uccl_conn_t* conn, uint64_t transfer_id);

/* Extension: the precise form of uccl_engine_xfer_status. On return 0, *done (borrowed) says
 * whether it finished successfully, and when done, *bytes (borrowed, may be NULL) receives the
 * bytes moved (for a recv: the bytes received). Returns -1 when the transfer failed (then it is
 * released and *done is set to true), or for bad arguments / unknown ids (*done untouched). */
UCCL_ENGINE_API int uccl_engine_xfer_poll(uccl_conn_t* conn, uint64_t transfer_id, bool* done,
                                          size_t* bytes);

/* ---- Notifications ------------------------------------------------------------------------ */

/* Sends a notification to the peer (see notify_msg_t for the limits). notify_msg: borrowed for
 * the call. Returns 0 on success (UCCL returns a byte count; test for < 0), -1 on error. */
UCCL_ENGINE_API int uccl_engine_send_notif(uccl_conn_t* conn, notify_msg_t* notify_msg);

/* Takes up to max_msgs received notifications, from every live engine of this process (UCCL's
 * call has no engine argument), oldest first, into msgs (borrowed, max_msgs entries). *count
 * (borrowed) receives how many were written; the rest stay queued for the next call.
 * msgs may be NULL only when max_msgs is 0. */
UCCL_ENGINE_API int uccl_engine_get_notifs(notify_msg_t* msgs, size_t max_msgs, size_t* count);

/* ---- Errors ------------------------------------------------------------------------------- */

/* Extension: the message of the most recent failed call on this thread ("" if none). The
 * pointer is owned by the library and valid until the next failing call on this thread. */
UCCL_ENGINE_API const char* uccl_engine_last_error(void);

#ifdef __cplusplus
} /* extern "C" */

/* UCCL's C++ signatures that take references. */
inline int uccl_engine_reg(uccl_engine_t* engine, uintptr_t data, size_t size, uccl_mr_t& mr_id) {
  return uccl_engine_reg(engine, data, size, &mr_id);
}
inline int uccl_engine_update_fifo(FifoItem& fifo_item, uint64_t remote_addr, uint32_t size) {
  return uccl_engine_update_fifo(&fifo_item, remote_addr, size);
}

#if defined(UCCL_ENGINE_STL_COMPAT)
/* Opt-in: UCCL's std::vector signatures, as thin inline wrappers of the C forms above. */
#include <vector>

#ifndef MSG_SIZE
#define MSG_SIZE UCCL_ENGINE_MSG_SIZE
#endif
#ifndef FIFO_SIZE
#define FIFO_SIZE UCCL_ENGINE_FIFO_SIZE
#endif

inline bool uccl_engine_stl_sizes_ok(size_t a, size_t b, size_t c, int n) {
  return n >= 0 && a >= static_cast<size_t>(n) && b >= static_cast<size_t>(n) &&
         c >= static_cast<size_t>(n);
}
inline int uccl_engine_read_vector(uccl_conn_t* conn, std::vector<uccl_mr_t> mr_ids,
                                   std::vector<void*> dst_v, std::vector<size_t> size_v,
                                   std::vector<FifoItem> fifo_items, int num_iovs,
                                   uint64_t* transfer_id) {
  if (!uccl_engine_stl_sizes_ok(mr_ids.size(), dst_v.size(), size_v.size(), num_iovs) ||
      fifo_items.size() < static_cast<size_t>(num_iovs)) {
    return uccl_engine_read_vector(conn, nullptr, nullptr, nullptr, nullptr, -1, transfer_id);
  }
  return uccl_engine_read_vector(conn, mr_ids.data(), dst_v.data(), size_v.data(),
                                 fifo_items.data(), num_iovs, transfer_id);
}
inline int uccl_engine_write_vector(uccl_conn_t* conn, std::vector<uccl_mr_t> mr_ids,
                                    std::vector<void*> src_v, std::vector<size_t> size_v,
                                    std::vector<FifoItem> fifo_items, int num_iovs,
                                    uint64_t* transfer_id) {
  if (!uccl_engine_stl_sizes_ok(mr_ids.size(), src_v.size(), size_v.size(), num_iovs) ||
      fifo_items.size() < static_cast<size_t>(num_iovs)) {
    return uccl_engine_write_vector(conn, nullptr, nullptr, nullptr, nullptr, -1, transfer_id);
  }
  return uccl_engine_write_vector(conn, mr_ids.data(), src_v.data(), size_v.data(),
                                  fifo_items.data(), num_iovs, transfer_id);
}
inline int uccl_engine_send_vector(uccl_conn_t* conn, std::vector<uccl_mr_t> mr_ids,
                                   std::vector<const void*> src_v, std::vector<size_t> size_v,
                                   int num_iovs, uint64_t* transfer_id) {
  if (!uccl_engine_stl_sizes_ok(mr_ids.size(), src_v.size(), size_v.size(), num_iovs)) {
    return uccl_engine_send_vector(conn, nullptr, nullptr, nullptr, -1, transfer_id);
  }
  return uccl_engine_send_vector(conn, mr_ids.data(), src_v.data(), size_v.data(), num_iovs,
                                 transfer_id);
}
inline int uccl_engine_recv_vector(uccl_conn_t* conn, std::vector<uint64_t> mr_ids,
                                   std::vector<void*> data_v, std::vector<size_t> size_v,
                                   int num_iovs) {
  if (!uccl_engine_stl_sizes_ok(mr_ids.size(), data_v.size(), size_v.size(), num_iovs)) {
    return uccl_engine_recv_vector(conn, nullptr, nullptr, nullptr, -1);
  }
  return uccl_engine_recv_vector(conn, mr_ids.data(), data_v.data(), size_v.data(), num_iovs);
}
/* UCCL's form: every queued notification of every live engine. */
inline std::vector<notify_msg_t> uccl_engine_get_notifs() {
  std::vector<notify_msg_t> out;
  for (;;) {
    notify_msg_t batch[16];
    size_t n = 0;
    if (uccl_engine_get_notifs(batch, 16, &n) != 0) break;
    out.insert(out.end(), batch, batch + n);
    if (n < 16) break;
  }
  return out;
}
#endif /* UCCL_ENGINE_STL_COMPAT */
#endif /* __cplusplus */

#endif /* TCPXP_API_C_UCCL_ENGINE_H_ */
