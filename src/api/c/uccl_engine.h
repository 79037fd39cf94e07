/*
 * tcpx-p2p C API: a drop-in for UCCL's p2p/uccl_engine.h (the API NIXL's UCCL backend calls),
 * implemented on tcpxp::engine::Endpoint. Link with libtcpx_p2p.so.
 *
 * C++ callers get every declaration of UCCL's header (HEAD and release 0.1.1) with the same
 * signatures, including the std::vector ones, with no define to set: NIXL's UCCL plugin compiles
 * against this file unchanged. C callers get a C subset: every call with C types, under the same
 * name where the signature is C already, else under a C name that the C++ form wraps
 * (uccl_engine_connect_bdf, uccl_engine_read_vector_ipc, uccl_engine_write_vector_ipc,
 * uccl_engine_send_notif_bytes, uccl_engine_get_notifs_sized). The C++ forms are inline, so the
 * library exports only the extern "C" uccl_engine_* symbols (no C++ ABI to match).
 *
 * Return conventions follow UCCL: int calls give 0 on success and -1 on error; calls returning a
 * handle give NULL on error; uccl_engine_xfer_status's bool is described at its declaration (a
 * failed transfer never reads as a success there).
 *
 * Extensions (not in UCCL): uccl_engine_create_gpu, uccl_engine_free_metadata,
 * uccl_engine_last_error, uccl_engine_xfer_poll, uccl_engine_recv_async and the C names above.
 * Kept from UCCL 0.1.1 although UCCL HEAD made them fail always: two-sided send/recv (they work
 * here). Kept from before 0.1.1: uccl_engine_connect with an integer GPU index.
 *
 * The same-host CUDA IPC path, as UCCL's NCCL build has it: a connection made with
 * uccl_engine_connect_bdf to this host's own address (not same_process, UCCL_P2P_DISABLE_IPC not
 * 1, a GPU engine of a CUDA build) is local (uccl_engine_conn_is_local); it still carries
 * control and notifications over TCP, and the vector calls given ipc_bufs (the peer's
 * uccl_engine_get_ipc_info blobs, narrowed with uccl_engine_update_ipc_info) copy by CUDA IPC.
 * Elsewhere ipc_bufs are ignored (as UCCL ignores them on a connection that is not local).
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
 *   - The only memory this library hands to the caller is the uccl_engine_get_metadata string
 *     (new[]: delete[] it from C++, as NIXL does, or uccl_engine_free_metadata from C).
 */
#ifndef TCPXP_API_C_UCCL_ENGINE_H_
#define TCPXP_API_C_UCCL_ENGINE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>
#endif

#if defined(__GNUC__)
#define UCCL_ENGINE_API __attribute__((visibility("default")))
#else
#define UCCL_ENGINE_API
#endif

#define UCCL_ENGINE_MSG_SIZE 256      /* notify_msg_t field size */
#define UCCL_ENGINE_FIFO_SIZE 64      /* serialized FifoItem size */
#define UCCL_ENGINE_IPC_INFO_SIZE 128 /* IPC info blob size */

/* UCCL's names for the same sizes (its header defines them unconditionally). */
#ifndef MSG_SIZE
#define MSG_SIZE UCCL_ENGINE_MSG_SIZE
#endif
#ifndef FIFO_SIZE
#define FIFO_SIZE UCCL_ENGINE_FIFO_SIZE
#endif
#ifndef IPC_INFO_SIZE
#define IPC_INFO_SIZE UCCL_ENGINE_IPC_INFO_SIZE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque handles: distinct struct types, so a connection cannot be passed as an engine. */
typedef struct uccl_engine uccl_engine_t;
typedef struct uccl_conn uccl_conn_t;

/* A memory registration id, as in UCCL (a value, not a pointer). 0 is never a valid id. */
typedef uint64_t uccl_mr_t;

/* A notification: name is a NUL-terminated string (at most 255 characters); msg is 256 bytes of
 * opaque data (NIXL puts binary serialized data there), all of which travel. */
typedef struct notify_msg {
  char name[UCCL_ENGINE_MSG_SIZE];
  char msg[UCCL_ENGINE_MSG_SIZE];
} notify_msg_t;

/* UCCL's metadata wrapper around a notification (declared by UCCL's header; no call takes it). */
typedef struct md {
  notify_msg_t notify_data;
} md_t;

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
 * new[] (as UCCL does; NIXL's plugin frees it with delete[]) and owned by the caller: delete[] it
 * from C++, or pass it to uccl_engine_free_metadata. On error *metadata_str is left unchanged.
 * metadata_str: borrowed, must not be NULL. */
UCCL_ENGINE_API int uccl_engine_get_metadata(uccl_engine_t* engine, char** metadata_str);

/* Extension: releases a uccl_engine_get_metadata string (delete[]) for callers that cannot
 * delete[] (C). NULL is ignored. */
UCCL_ENGINE_API void uccl_engine_free_metadata(char* metadata_str);

/* ---- Connections -------------------------------------------------------------------------- */

/* Connects to a remote engine (blocking, bounded by UCCL_TCPX_TIMEOUT_MS); the integer form from
 * before UCCL 0.1.1. ip_addr: numeric IPv4/IPv6 text, borrowed for the call. remote_port: the
 * peer's control port from its metadata; <= 0 means UCCL_TCPX_BOOTSTRAP_PORT_BASE +
 * remote_gpu_idx. Returns a connection handle owned by the caller, or NULL on error. */
UCCL_ENGINE_API uccl_conn_t* uccl_engine_connect(uccl_engine_t* engine, const char* ip_addr,
                                                 int remote_gpu_idx, int remote_port);

/* UCCL's connect (C++: uccl_engine_connect(engine, ip, remote_gpu, port, same_process = false)).
 * remote_gpu: the peer's GPU as a PCI BDF ("0000:4a:00.0", the part after '?' in its metadata),
 * as a CUDA index ("0"), or NULL / "" (a host-only peer, whose metadata has no BDF). A BDF is
 * checked for shape only: the port names the peer, so remote_port must be > 0 with a BDF (an
 * index with remote_port <= 0 works as in uccl_engine_connect).
 * same_process: UCCL connects a process to itself through its IPC path; here it is an ordinary
 * connection (loopback), which the engine's accepting thread must accept as for any peer, and
 * not local. A connection to this host's own address (ip_addr is the engine's address or
 * UCCL's OOB address) is local: see uccl_engine_conn_is_local.
 * Returns a connection handle owned by the caller, or NULL on error. */
UCCL_ENGINE_API uccl_conn_t* uccl_engine_connect_bdf(uccl_engine_t* engine, const char* ip_addr,
                                                     const char* remote_gpu, int remote_port,
                                                     bool same_process);

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

/* Whether the connection is to a peer on this host whose transfers may take CUDA IPC (the vector
 * calls with ipc_bufs): true for uccl_engine_connect_bdf to this host's address from a GPU engine
 * of a CUDA build, unless same_process or UCCL_P2P_DISABLE_IPC=1. Accepted connections are not
 * local (UCCL's are not either). False, with uccl_engine_last_error set, for a NULL or unknown
 * handle. */
UCCL_ENGINE_API bool uccl_engine_conn_is_local(uccl_conn_t* conn);

/* ---- Memory ------------------------------------------------------------------------------- */

/* Registers [data, data + size) (host memory, or GPU memory where the transport moves it).
 * mr_id: borrowed, receives the registration id on success (left unchanged on error).
 * The memory stays owned by the caller and must outlive the registration. */
UCCL_ENGINE_API int uccl_engine_reg(uccl_engine_t* engine, uintptr_t data, size_t size,
                                    uccl_mr_t* mr_id);

/* Deregisters. Fails (recorded in uccl_engine_last_error) while transfers use it, or for an
 * unknown id; UCCL's signature returns nothing. Advertisements of it stop working: a peer's
 * later read or write of it is refused (and reported as failed, never as done). */
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

/* The IPC info blob (UCCL_ENGINE_IPC_INFO_SIZE bytes) of the registration that starts at addr:
 * 0 with *has_ipc = true and the blob for GPU memory that CUDA IPC can export; 0 with *has_ipc =
 * false and ipc_buf zero-filled for host memory, memory CUDA IPC cannot export (cuMemCreate,
 * managed), a host-only engine or UCCL_P2P_DISABLE_IPC=1 (NIXL's plugin then advertises "00").
 * -1 (and *has_ipc untouched) for a NULL argument, a dead engine, or an addr that is not the
 * start of a registration (as UCCL). The blob has tcpx-p2p's layout (datapath/cuda_ipc.h), not
 * UCCL's: only a tcpx-p2p peer reads it. */
UCCL_ENGINE_API int uccl_engine_get_ipc_info(uccl_engine_t* engine, uintptr_t addr, char* ipc_buf,
                                             bool* has_ipc);

/* Narrows an IPC info blob to [addr, addr + size) of the region registered at base_addr: adds
 * addr - base_addr to its offset and sets its size (UCCL's semantics). -1, ipc_buf unchanged,
 * for a NULL ipc_buf, a blob get_ipc_info did not make, addr < base_addr, or a range that is
 * not inside what the blob described. */
UCCL_ENGINE_API int uccl_engine_update_ipc_info(char* ipc_buf, uintptr_t addr, uintptr_t base_addr,
                                                size_t size);

/* ---- Transfers ---------------------------------------------------------------------------- */
/* Non-blocking unless stated otherwise: on success *transfer_id (borrowed, written only on
 * success) names the transfer; poll it with uccl_engine_xfer_status or uccl_engine_xfer_poll.
 * Data buffers are borrowed until the transfer is done and must lie inside their registration.
 * On error nothing was started. */

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
/* The same with UCCL's ipc_bufs (NULL, or num_iovs IPC info blobs): on a local connection (see
 * uccl_engine_conn_is_local) with ipc_bufs given, piece i is a CUDA IPC copy between the GPU
 * buffer src_v/dst_v[i] and the peer's buffer ipc_bufs[i] names (mr_ids and fifo_items are not
 * read); every blob is checked (a bad one fails the call, nothing started). Otherwise ipc_bufs
 * are not read and the FifoItems are used. */
UCCL_ENGINE_API int uccl_engine_read_vector_ipc(uccl_conn_t* conn, const uccl_mr_t* mr_ids,
                                                void* const* dst_v, const size_t* size_v,
                                                const FifoItem* fifo_items, int num_iovs,
                                                uint64_t* transfer_id, const char* const* ipc_bufs);
UCCL_ENGINE_API int uccl_engine_write_vector_ipc(uccl_conn_t* conn, const uccl_mr_t* mr_ids,
                                                 void* const* src_v, const size_t* size_v,
                                                 const FifoItem* fifo_items, int num_iovs,
                                                 uint64_t* transfer_id,
                                                 const char* const* ipc_bufs);

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

/* UCCL's completion check. false: still in flight. true: over, and will never be reported
 * again (the id is released). A bool cannot tell success from failure, so when the transfer
 * FAILED (refused by the peer, e.g. a deregistered or out-of-range target; connection lost),
 * or the id or conn is unknown (never issued, already reported, NULL), this returns true and
 * makes the failure impossible to miss for a caller that acts on "done":
 *   - the next uccl_engine_send_notif or uccl_engine_send_notif_bytes on the same conn from the
 *     same thread, if it is this thread's next uccl_engine_* call, fails (-1) without sending.
 *     NIXL's plugin sends its completion notification right after true and returns
 *     NIXL_ERR_BACKEND when that fails, so NIXL reports the transfer as failed (and the peer is
 *     not told it is done);
 *   - uccl_engine_last_error() says which transfer failed and why.
 * Any other uccl_engine_* call on this thread clears that pending refusal. Callers that need the
 * outcome directly use uccl_engine_xfer_poll. */
UCCL_ENGINE_API bool uccl_engine_xfer_status(uccl_conn_t* conn, uint64_t transfer_id);

/* Extension: the precise form of uccl_engine_xfer_status. Returns 0 with *done (borrowed) false
 * while in flight, or true once it finished successfully; *bytes (borrowed, may be NULL) then
 * receives the bytes moved (for a recv: the bytes received). Returns -1 when the transfer failed
 * (then it is released and *done is set to true), or for bad arguments / unknown ids (*done
 * untouched); uccl_engine_last_error says why. */
UCCL_ENGINE_API int uccl_engine_xfer_poll(uccl_conn_t* conn, uint64_t transfer_id, bool* done,
                                          size_t* bytes);

/* ---- Notifications ------------------------------------------------------------------------ */

/* Sends a notification to the peer: name (NUL-terminated within 256 bytes) and all 256 bytes of
 * msg, as UCCL does. notify_msg: borrowed for the call. Returns 0 on success, -1 on error (also
 * right after uccl_engine_xfer_status reported a failed transfer on conn: see there). */
UCCL_ENGINE_API int uccl_engine_send_notif(uccl_conn_t* conn, notify_msg_t* notify_msg);

/* The C form of UCCL's send_notif_v: name_len bytes of name (at most 255, no NUL among them)
 * and msg_len bytes of msg; either pointer may be NULL when its length is 0; both borrowed for
 * the call. The wire carries at most UCCL_ENGINE_MSG_SIZE (256) bytes of msg (UCCL: up to
 * 64 MiB); longer is an error. Otherwise as uccl_engine_send_notif. */
UCCL_ENGINE_API int uccl_engine_send_notif_bytes(uccl_conn_t* conn, const char* name,
                                                 size_t name_len, const void* msg, size_t msg_len);

/* Takes up to max_msgs received notifications, from every live engine of this process (UCCL's
 * call has no engine argument), oldest first, into msgs (borrowed, max_msgs entries): name
 * NUL-terminated, msg zero-filled past what was sent. *count (borrowed) receives how many were
 * written; the rest stay queued for the next call. msgs may be NULL only when max_msgs is 0. */
UCCL_ENGINE_API int uccl_engine_get_notifs(notify_msg_t* msgs, size_t max_msgs, size_t* count);

/* The same, also writing each message's length as sent into msg_lens (borrowed, max_msgs
 * entries; NULL: not wanted): what UCCL's get_notifs_v returns without truncation. */
UCCL_ENGINE_API int uccl_engine_get_notifs_sized(notify_msg_t* msgs, size_t* msg_lens,
                                                 size_t max_msgs, size_t* count);

/* ---- Errors ------------------------------------------------------------------------------- */

/* Extension: the message of the most recent failed call on this thread ("" if none). The
 * pointer is owned by the library and valid until the next failing call on this thread. */
UCCL_ENGINE_API const char* uccl_engine_last_error(void);

#ifdef __cplusplus
} /* extern "C" */

/* ---- UCCL's C++ signatures, as inline wrappers of the C calls above ----------------------- */

/* UCCL's variable-length notification. name: at most 255 characters, no NUL inside; msg: at most
 * UCCL_ENGINE_MSG_SIZE bytes here (the wire's limit). */
typedef struct notify_msg_v {
  std::string name;
  std::string msg;
} notify_msg_v_t;

/* UCCL's FifoItem (de)serialization (its common.h; NIXL's plugin decodes advertisements with
 * deserialize_fifo_item). The 64 bytes are the struct's bytes. */
inline void serialize_fifo_item(FifoItem const& item, char* buf) {
  std::memcpy(buf, &item, sizeof(FifoItem));
}
inline void deserialize_fifo_item(char const* buf, FifoItem* item) {
  std::memcpy(item, buf, sizeof(FifoItem));
}

inline int uccl_engine_reg(uccl_engine_t* engine, uintptr_t data, size_t size, uccl_mr_t& mr_id) {
  return uccl_engine_reg(engine, data, size, &mr_id);
}
inline int uccl_engine_update_fifo(FifoItem& fifo_item, uint64_t remote_addr, uint32_t size) {
  return uccl_engine_update_fifo(&fifo_item, remote_addr, size);
}

/* UCCL's BDF connect (see uccl_engine_connect_bdf). An integer third argument selects the
 * integer form above instead. */
inline uccl_conn_t* uccl_engine_connect(uccl_engine_t* engine, char const* ip_addr,
                                        char const* remote_gpu, int remote_port,
                                        bool same_process = false) {
  return uccl_engine_connect_bdf(engine, ip_addr, remote_gpu, remote_port, same_process);
}

/* Vector lengths shorter than num_iovs are an error (reported by the C call, which then gets
 * num_iovs -1), never an out-of-bounds read. A list that may be empty (ipc_bufs) is checked only
 * when it is not. */
inline int uccl_engine_checked_count(int num_iovs, std::initializer_list<size_t> lengths) {
  if (num_iovs < 0) return -1;
  for (size_t len : lengths) {
    if (len < static_cast<size_t>(num_iovs)) return -1;
  }
  return num_iovs;
}

inline int uccl_engine_read_vector(uccl_conn_t* conn, std::vector<uccl_mr_t> mr_ids,
                                   std::vector<void*> dst_v, std::vector<size_t> size_v,
                                   std::vector<FifoItem> fifo_items, int num_iovs,
                                   uint64_t* transfer_id, std::vector<char*> ipc_bufs = {}) {
  num_iovs = uccl_engine_checked_count(
      num_iovs, {mr_ids.size(), dst_v.size(), size_v.size(), fifo_items.size(),
                 ipc_bufs.empty() ? SIZE_MAX : ipc_bufs.size()});
  return uccl_engine_read_vector_ipc(conn, mr_ids.data(), dst_v.data(), size_v.data(),
                                     fifo_items.data(), num_iovs, transfer_id,
                                     ipc_bufs.empty() ? nullptr : ipc_bufs.data());
}
inline int uccl_engine_write_vector(uccl_conn_t* conn, std::vector<uccl_mr_t> mr_ids,
                                    std::vector<void*> src_v, std::vector<size_t> size_v,
                                    std::vector<FifoItem> fifo_items, int num_iovs,
                                    uint64_t* transfer_id, std::vector<char*> ipc_bufs = {}) {
  num_iovs = uccl_engine_checked_count(
      num_iovs, {mr_ids.size(), src_v.size(), size_v.size(), fifo_items.size(),
                 ipc_bufs.empty() ? SIZE_MAX : ipc_bufs.size()});
  return uccl_engine_write_vector_ipc(conn, mr_ids.data(), src_v.data(), size_v.data(),
                                      fifo_items.data(), num_iovs, transfer_id,
                                      ipc_bufs.empty() ? nullptr : ipc_bufs.data());
}
inline int uccl_engine_send_vector(uccl_conn_t* conn, std::vector<uccl_mr_t> mr_ids,
                                   std::vector<void const*> src_v, std::vector<size_t> size_v,
                                   int num_iovs, uint64_t* transfer_id) {
  num_iovs = uccl_engine_checked_count(num_iovs, {mr_ids.size(), src_v.size(), size_v.size()});
  return uccl_engine_send_vector(conn, mr_ids.data(), src_v.data(), size_v.data(), num_iovs,
                                 transfer_id);
}
/* UCCL 0.1.1's form (HEAD has no recv_vector). */
inline int uccl_engine_recv_vector(uccl_conn_t* conn, std::vector<uint64_t> mr_ids,
                                   std::vector<void*> data_v, std::vector<size_t> size_v,
                                   int num_iovs) {
  num_iovs = uccl_engine_checked_count(num_iovs, {mr_ids.size(), data_v.size(), size_v.size()});
  return uccl_engine_recv_vector(conn, mr_ids.data(), data_v.data(), size_v.data(), num_iovs);
}

/* UCCL's form: every queued notification of every live engine (name and 256 bytes of msg). */
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
/* UCCL's form without truncation: msg as sent. */
inline std::vector<notify_msg_v_t> uccl_engine_get_notifs_v() {
  std::vector<notify_msg_v_t> out;
  for (;;) {
    notify_msg_t batch[16];
    size_t lens[16];
    size_t n = 0;
    if (uccl_engine_get_notifs_sized(batch, lens, 16, &n) != 0) break;
    for (size_t i = 0; i < n; ++i) {
      out.push_back({std::string(batch[i].name), std::string(batch[i].msg, lens[i])});
    }
    if (n < 16) break;
  }
  return out;
}
inline int uccl_engine_send_notif_v(uccl_conn_t* conn, notify_msg_v_t const* notify_msg) {
  if (notify_msg == nullptr) return uccl_engine_send_notif(conn, nullptr);  // reports it
  return uccl_engine_send_notif_bytes(conn, notify_msg->name.data(), notify_msg->name.size(),
                                      notify_msg->msg.data(), notify_msg->msg.size());
}
#endif /* __cplusplus */

#endif /* TCPXP_API_C_UCCL_ENGINE_H_ */
