/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * RPC: clients and servers of a named cell on one machine.
 *
 * A server binds a SOCK_SEQPACKET socket at <runtime dir>/<name>.sock (see
 * cell_runtime_dir()).  A client connects and says HELLO (ABI version,
 * schema fingerprint, features, ring sizes); the server checks the
 * fingerprint and the peer's credentials and answers WELCOME.  When both
 * sides can, the server then hands over two shared-memory rings (request,
 * response) and every call crosses them without a system call or a copy;
 * otherwise calls travel on the socket itself (the "unix" path) with the
 * same semantics.  The socket stays open as the control channel: peer
 * death is seen there, and payloads larger than a ring travel there as
 * sealed memfd attachments (still without a copy for the receiver).
 *
 * Conventions (as everywhere in libcell):
 *  - Functions returning a pointer return NULL and set errno on failure.
 *  - Call functions return an enum cell_status: 0 (CELL_STATUS_OK) or a
 *    positive status, never a negative value.  Local failures map to
 *    statuses too (ENOMEM -> RESOURCE_EXHAUSTED, misuse -> INVALID_ARGUMENT).
 *  - The detail text of the last failure in the calling thread is kept by
 *    cell_last_error() (like dlerror()): e.g. a fingerprint mismatch names
 *    both fingerprints there.
 *  - Deadlines are absolute CLOCK_MONOTONIC nanoseconds (cell/time.h);
 *    CELL_DEADLINE_NONE waits forever (peer death still ends the wait).
 *  - Options structs begin with their own size (set .sz = sizeof(...)):
 *    fields past .sz keep their defaults, so the structs can grow; a .sz
 *    larger than this libcell knows is accepted only if the fields it does
 *    not know are zero (libbpf's rule), else INVALID_ARGUMENT.
 *  - The library starts no threads of its own and never prints.
 *
 * Threads: a struct cell_client may be shared by any number of threads;
 * calls from several threads are pipelined on the one connection.  A
 * struct cell_call belongs to the thread that began it (any thread may
 * cancel it by id with cell_client_cancel()).  A struct cell_server is
 * driven either by cell_server_run() or by cell_server_dispatch() from one
 * event loop, not both.
 */
#ifndef CELL_RPC_H
#define CELL_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/cell.h>
#include <cell/api.h>
#include <cell/time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cell_metrics;	     /* cell/metrics.h */
struct cell_resilience_opts; /* cell/resilience.h */
struct cell_quic_opts;	     /* cell/quic.h */

struct cell_client;
struct cell_server;
struct cell_call;  /* one call in flight, client side */
struct cell_reply; /* the response a handler is building, server side */

/* ---- common ----------------------------------------------------------- */

/* How a connection carries its calls (cell_client_path()). */
enum cell_path {
	CELL_PATH_UNIX = 0,	  /* frames on the SOCK_SEQPACKET socket */
	CELL_PATH_SHM_MEMFD = 1,  /* rings in sealed memfds */
	CELL_PATH_SHM_MODULE = 2, /* rings from /dev/cell (cell.ko) */
	CELL_PATH_QUIC = 3,	  /* streams of a QUIC connection (cell/quic.h) */
};

/* Which ring backend a server offers or a client accepts. */
enum cell_ring_backend {
	/*
	 * The CELL_RING_BACKEND environment variable decides: "memfd",
	 * "module" or "unix" (no rings: socket only); unset means the best
	 * available (module if /dev/cell works, else memfd).  An explicit
	 * "module" without a usable /dev/cell is an error ("module backend
	 * not available"), never a silent fallback.
	 */
	CELL_RING_BACKEND_AUTO = 0,
	CELL_RING_BACKEND_MEMFD = 1,
	CELL_RING_BACKEND_MODULE = 2,
	CELL_RING_BACKEND_NONE = 3, /* unix path only */
};

/* Default data bytes of each ring, and calls in flight per connection. */
#define CELL_RPC_DEFAULT_RING	  (256U << 10)
#define CELL_RPC_DEFAULT_INFLIGHT 64U
/* Payloads above this many bytes always travel as memfd attachments. */
#define CELL_RPC_SOCKET_FRAME_MAX (64U << 10)

/* Stable name of a path: "unix", "shm-memfd", "shm-module", "quic". */
LIBCELL_API const char *cell_path_name(enum cell_path path);

/**
 * cell_last_error() - why the last failing libcell call of this thread
 * failed, in English (e.g. "fingerprint mismatch: client 0x0123456789abcdef,
 * server 0xfedcba9876543210").  Valid until the thread's next libcell call.
 * @status: if not NULL, receives the status of that failure.
 * Return: the text, "" if nothing failed yet.  Never NULL.
 */
LIBCELL_API const char *cell_last_error(enum cell_status *status);

/**
 * cell_runtime_dir() - the directory holding the sockets of local cells:
 * $CELL_RUNTIME_DIR if set, else $XDG_RUNTIME_DIR/cell, else /run/cell
 * when running as root, else /tmp/cell-<uid> (which must then be a
 * directory owned by the caller with mode 0700).  Does not create it.
 * @buf: receives the NUL-terminated path, @cap bytes at most.
 * Return: 0, -ENAMETOOLONG if it does not fit, -EINVAL for a relative or
 * empty variable.
 */
LIBCELL_API CELL_MUST_CHECK int cell_runtime_dir(char *buf, size_t cap);

/**
 * cell_socket_path() - <runtime dir>/<name>.sock for a cell @name: 1 to
 * CELL_NAME_MAX - 1 bytes of [a-z0-9_.@-], not starting with '.'.
 * @dir: the runtime directory, or NULL for cell_runtime_dir().
 * Return: 0, -EINVAL for a bad name, -ENAMETOOLONG.
 */
LIBCELL_API CELL_MUST_CHECK int cell_socket_path(const char *dir, const char *name, char *buf,
						 size_t cap);

/* ---- server ----------------------------------------------------------- */

/* A validated request, viewed in place (in the ring, or the attachment). */
struct cell_vesicle {
	uint16_t method;
	uint8_t flags;	      /* CELL_F_* of the request (ONEWAY...) */
	uint32_t correlation; /* 0 for one-way calls */
	const void *data;     /* the payload: valid until the handler returns */
	uint32_t len;	      /* payload bytes; data is 8-byte aligned */
	pid_t peer_pid;	      /* the client's credentials (SO_PEERCRED) */
	uid_t peer_uid;
	gid_t peer_gid;
	/*
	 * The connection the call came on: its number on this server (from
	 * 1, never reused, so a cache keyed on it cannot mistake a new peer
	 * for an old one), 0 if the call did not come over a local
	 * connection; and a pidfd of the process that connected
	 * (SO_PEERPIDFD, Linux 6.5), -1 if there is none.  pidfd_send_signal(
	 * peer_pidfd, 0) fails once that process is gone, which tells a
	 * recycled peer_pid from the peer.  Owned by the server: valid until
	 * the handler returns, not to be closed.  Callers of
	 * cell_server_serve_remote() set 0 and -1.
	 */
	uint64_t peer_conn;
	int peer_pidfd;
};

/**
 * typedef cell_handler_fn - a method's handler.
 * @req: the request, already checked as a frame; its payload must still be
 *	 validated against the schema (generated validators do that).
 * @reply: where the response is built (cell_reply_reserve() ...); NULL for
 *	 a one-way request.
 * @ctx: the pointer given to cell_server_handle().
 *
 * Return: CELL_STATUS_OK, or a status.  If the handler committed nothing,
 * OK sends an empty response and any other status an error response with
 * that status (and no detail); once something was committed or an error
 * set, the return value only counts in the metrics.  Handlers run on the
 * server's threads and may block, but one slow handler delays the other
 * calls of its connection.
 */
typedef enum cell_status (*cell_handler_fn)(const struct cell_vesicle *req,
					    struct cell_reply *reply, void *ctx);

/* Decides whether a peer may connect (after the fingerprint matched). */
typedef int (*cell_authorize_fn)(pid_t pid, uid_t uid, gid_t gid, void *ctx);

/**
 * typedef cell_admit_fn - decides whether a call may be served, before its
 * handler (and before the server's own control methods: PING, SCHEMA, ...).
 * @req: the call, its payload not validated yet (an admission check that
 *	 reads it validates it itself; the handler validates it again).
 * @why: a detail for the refusal, NUL-terminated, at most @cap bytes.
 *
 * Return: CELL_STATUS_OK to serve it, else the status it is answered with
 * (PERMISSION_DENIED, RESOURCE_EXHAUSTED, ...) and @why as the detail.
 */
typedef enum cell_status (*cell_admit_fn)(const struct cell_vesicle *req, char *why, size_t cap,
					  void *ctx);

struct cell_server_opts {
	size_t sz; /* sizeof(struct cell_server_opts) */
	/* Schema fingerprint: HELLOs with another one are refused. */
	uint64_t fingerprint;
	/* Where to bind; NULL: cell_runtime_dir() (created 0700 if missing). */
	const char *runtime_dir;
	/* Ring data bytes granted at most (power of two); 0: default. */
	uint64_t max_ring;
	/* Calls a client may keep in flight (told in WELCOME); 0: default. */
	uint32_t max_inflight;
	/* Connections at once; more are refused with RESOURCE_EXHAUSTED. 0: 1024 */
	uint32_t max_connections;
	/* Ring backend (AUTO reads CELL_RING_BACKEND). */
	enum cell_ring_backend backend;
	/*
	 * Who may connect.  NULL: the server's own uid and root.  Return
	 * non-zero to accept.
	 */
	cell_authorize_fn authorize;
	void *authorize_ctx;
	/* If not NULL, every handled call is recorded (method, status, ns). */
	struct cell_metrics *metrics;
	/* Canonical schema text answered to CELL_METHOD_SCHEMA; may be NULL. */
	const char *schema;
	/* Busy-wait budget of an idle server thread before it sleeps, ns; 0: default. */
	uint64_t spin_ns;
	/*
	 * Non-zero: do not register with celld.  By default cell_server_new()
	 * tells the nucleus of the runtime directory (celld, if it runs) about
	 * the new cell, best effort and bounded (a few hundred ms at worst);
	 * CELL_NO_REGISTER=1 in the environment opts out too.
	 */
	int no_register;
	/*
	 * > 0: serve on this socket instead of binding one (socket activation,
	 * e.g. an fd of sd_listen_fds()): a listening AF_UNIX SOCK_SEQPACKET
	 * socket already bound at <runtime dir>/<name>.sock, else EINVAL.  On
	 * success the server owns it (closed by cell_server_free(), which leaves
	 * the socket file to whoever made it); on failure it stays the caller's.
	 */
	int listen_fd;
	/*
	 * If not NULL, asked about every call before it is served (per call,
	 * unlike @authorize, which is asked once per connection): access
	 * control and rate limits by caller.  On the thread serving the call.
	 */
	cell_admit_fn admit;
	void *admit_ctx;
};

/**
 * cell_server_new() - create the server of cell @name and bind its socket.
 * A stale socket file (nobody accepting) is replaced; a live one is not.
 * @opts: may be NULL (fingerprint 0, defaults).
 * Return: the server (free with cell_server_free()), or NULL with errno:
 * EINVAL (bad name or opts), EADDRINUSE (a live server has the name),
 * ENODEV (CELL_RING_BACKEND=module and no usable /dev/cell), ENOMEM, or
 * that of the socket calls.  cell_last_error() says more.
 */
LIBCELL_API struct cell_server *cell_server_new(const char *name,
						const struct cell_server_opts *opts);

/**
 * cell_server_handle() - route @method (below CELL_METHOD_CONTROL_BASE) to
 * @fn.  Calls of methods without a handler get UNKNOWN_METHOD.  Register
 * before cell_server_run() / the first cell_server_dispatch().
 * Return: 0, -EINVAL (bad method, NULL @fn), -EBUSY (server running),
 * -ENOMEM.
 */
LIBCELL_API CELL_MUST_CHECK int cell_server_handle(struct cell_server *srv, uint16_t method,
						   cell_handler_fn fn, void *ctx);

/**
 * cell_server_run() - serve on @nthreads threads (the caller's plus
 * @nthreads - 1 started here and joined before returning) until
 * cell_server_stop().  A connection is served by one thread at a time;
 * different connections in parallel.
 * Return: 0 after a stop, or a negative errno.
 */
LIBCELL_API CELL_MUST_CHECK int cell_server_run(struct cell_server *srv, unsigned int nthreads);

/**
 * cell_server_stop() - make cell_server_run() return (and a sleeping
 * dispatch loop wake up: cell_server_fd() turns readable).  Safe from any
 * thread and from a signal handler.
 */
LIBCELL_API void cell_server_stop(struct cell_server *srv);

/**
 * cell_server_drain() - stop taking clients and let the connected ones
 * leave without losing a call (a hot swap: Documentation/capsid.rst).  The
 * server accepts what is queued on its socket once more, then no more;
 * tells every client GOODBYE (a libcell client with .reconnect finishes
 * the calls it made on this connection and makes new ones on a new
 * connection, to whoever serves the socket's path by then); serves each
 * connection until its client closes it; and stops (as cell_server_stop())
 * when the last one has gone or @timeout_ms (0: 5000) has passed, whichever
 * comes first.  The socket file is left in place (it is the successor's).
 * QUIC links are not drained: they end at the stop.  Safe from any thread
 * and from a signal handler.
 */
LIBCELL_API void cell_server_drain(struct cell_server *srv, unsigned int timeout_ms);

/**
 * cell_server_stopped() - whether cell_server_stop() was called (for event
 * loops that want to leave when it was).
 */
LIBCELL_API int cell_server_stopped(const struct cell_server *srv);

/**
 * cell_server_fd() - an fd for the caller's event loop: readable when
 * cell_server_dispatch() has work (new connection, request, peer death).
 * Owned by the server.  Level-triggered: poll it, then dispatch.
 */
LIBCELL_API int cell_server_fd(const struct cell_server *srv);

/**
 * cell_server_dispatch() - do the work that is ready (accept, handshake,
 * handle requests, drop dead or misbehaving peers) without waiting for
 * more, then arm the wakeups so cell_server_fd() turns readable when new
 * work arrives.  From one thread at a time.
 * Return: the number of requests handled (>= 0), or a negative errno.
 */
LIBCELL_API CELL_MUST_CHECK int cell_server_dispatch(struct cell_server *srv);

/* cell_server_path() - the socket's path, valid as long as the server. */
LIBCELL_API const char *cell_server_path(const struct cell_server *srv);

/* cell_server_connections() - clients connected now. */
LIBCELL_API unsigned int cell_server_connections(const struct cell_server *srv);

/**
 * cell_server_free() - close every connection (their rings are unmapped
 * and freed), unlink the socket and free @srv.  Not while cell_server_run()
 * or cell_server_dispatch() runs.  NULL is a no-op.
 */
LIBCELL_API void cell_server_free(struct cell_server *srv);

/*
 * Hand-over of a server's listening socket (a hot swap without a lost
 * connection; <linux/cell.h> struct cell_listener).  A server started with
 * CELL_LISTENER_KEY_FD=N in its environment (N: an fd whose first
 * CELL_LISTENER_KEY_SIZE bytes are its key) gives its listening socket to,
 * or takes one from, whoever sends that key.  celld's `cell swap` asks the
 * old program for its socket and gives it to the new one; the old then
 * drains (cell_server_drain()).
 */

/**
 * cell_listener_request() - the listening socket of the server whose
 * socket file is @path, asked with its @key and @fingerprint.  The server
 * keeps accepting on it until it drains; a drained server then accepts
 * no more and leaves the socket file alone.
 * Return: 0 with *@fd set (close-on-exec), or a negative errno with
 * cell_last_error() saying why (the server's refusal: PERMISSION_DENIED
 * for a wrong key or none, BAD_MESSAGE for a server that knows no
 * hand-over).  Waits @timeout_ms at most.
 */
LIBCELL_API CELL_MUST_CHECK int cell_listener_request(const char *path, uint64_t fingerprint,
						      const uint8_t key[CELL_LISTENER_KEY_SIZE],
						      unsigned int timeout_ms, int *fd);

/**
 * cell_listener_send() - give the listening socket @fd (AF_UNIX
 * SOCK_SEQPACKET) to the server whose socket file is @path: it accepts on
 * @fd from then on instead of its own socket.  @fd stays the caller's
 * (the server has its own copy).  Return and wait as cell_listener_request().
 */
LIBCELL_API CELL_MUST_CHECK int cell_listener_send(const char *path, uint64_t fingerprint,
						   const uint8_t key[CELL_LISTENER_KEY_SIZE],
						   int fd, unsigned int timeout_ms);

/* ---- replies (inside a handler) --------------------------------------- */

/**
 * cell_reply_reserve() - space for a response payload of up to @len bytes,
 * in place: in the response ring, or in an attachment when @len does not
 * fit a ring record.  Write the payload there, then cell_reply_commit().
 * Only one reservation per reply.
 * Return: a pointer (8-byte aligned), or NULL with errno (EBUSY: already
 * reserved or committed; EMSGSIZE: @len > CELL_MAX_PAYLOAD; ENOMEM;
 * ETIMEDOUT: the client did not free ring space in time; EPIPE: the
 * client is gone).
 */
LIBCELL_API void *cell_reply_reserve(struct cell_reply *reply, uint32_t len);

/**
 * cell_reply_commit() - send the first @len bytes (at most the reserved
 * length) of the reserved space as the OK response.
 * Return: 0 or a negative errno (-EINVAL: @len too long or nothing
 * reserved; -EPIPE: the client is gone).
 */
LIBCELL_API CELL_MUST_CHECK int cell_reply_commit(struct cell_reply *reply, uint32_t len);

/**
 * cell_reply_send() - copy @len bytes from @data as the OK response
 * (reserve + memcpy + commit).
 */
LIBCELL_API CELL_MUST_CHECK int cell_reply_send(struct cell_reply *reply, const void *data,
						uint32_t len);

/**
 * cell_reply_error() - answer with @status (not OK) and an optional
 * UTF-8 @detail (NULL for none; truncated to 1 KiB).  Drops an uncommitted
 * reservation.
 * Return: 0 or a negative errno (-EINVAL for OK or an unknown status,
 * -EBUSY if a response was already committed).
 */
LIBCELL_API CELL_MUST_CHECK int cell_reply_error(struct cell_reply *reply, enum cell_status status,
						 const char *detail);

/* ---- client ----------------------------------------------------------- */

struct cell_client_opts {
	size_t sz; /* sizeof(struct cell_client_opts) */
	/* Schema fingerprint; the server must have the same. */
	uint64_t fingerprint;
	/* Where the server's socket is; NULL: cell_runtime_dir(). */
	const char *runtime_dir;
	/* Ring data bytes wanted (power of two); 0: the server's default. */
	uint64_t request_ring;
	uint64_t response_ring;
	/*
	 * Calls kept in flight at most; one more fails fast with
	 * RESOURCE_EXHAUSTED.  0: CELL_RPC_DEFAULT_INFLIGHT.  The server's
	 * limit (WELCOME) lowers it.
	 */
	uint32_t max_inflight;
	/* Ring backend accepted (AUTO reads CELL_RING_BACKEND). */
	enum cell_ring_backend backend;
	/* Deadline of cell_client_connect(); 0: 5 s from the call. */
	uint64_t connect_deadline;
	/*
	 * Non-zero: after the connection is lost (server restarted), the next
	 * call connects again (within that call's deadline) instead of
	 * failing with UNAVAILABLE.  Calls in flight when it was lost still
	 * fail with UNAVAILABLE: a call is never silently sent twice.
	 */
	int reconnect;
	/* If not NULL, every finished call is recorded (method, status, RTT). */
	struct cell_metrics *metrics;
	/* Busy-wait budget before sleeping, ns; 0: adaptive default. */
	uint64_t spin_ns;
	/*
	 * If not NULL: reconnect with backoff, a circuit breaker, and retries
	 * of cell_client_call() that never deliver a call twice (copied at
	 * connect; implies .reconnect).  See cell/resilience.h.
	 */
	const struct cell_resilience_opts *resilience;
	/* A quic://host:port target: identity, trust, windows (NULL: defaults). */
	const struct cell_quic_opts *quic;
};

/* spin_ns value that means: never busy-wait, sleep at once. */
#define CELL_SPIN_NONE UINT64_MAX

/**
 * cell_client_connect() - connect to cell @name and do the handshake.
 * @name may also be "quic://host:port": a remote server (cell/quic.h),
 * reached without celld; EACCES then also means a refused identity key.
 * @opts: may be NULL (fingerprint 0, defaults).
 * Return: the client (free with cell_client_free()), or NULL with errno:
 * ENOENT/ECONNREFUSED (no server), EPROTO (fingerprint mismatch or bad
 * handshake: cell_last_error() names both fingerprints), EACCES (refused
 * by the server), EAGAIN (server full), ETIMEDOUT, ENODEV (backend
 * "module" requested but not available), EINVAL, ENOMEM.
 */
LIBCELL_API struct cell_client *cell_client_connect(const char *name,
						    const struct cell_client_opts *opts);

/**
 * cell_client_free() - close the connection and free @c.  Calls still in
 * flight in other threads must have ended.  NULL is a no-op.
 */
LIBCELL_API void cell_client_free(struct cell_client *c);

/* cell_client_path() - "shm-memfd", "shm-module", "unix" or "quic" (see enum cell_path). */
LIBCELL_API const char *cell_client_path(const struct cell_client *c);

/* The connection's path as an enum. */
LIBCELL_API enum cell_path cell_client_path_kind(const struct cell_client *c);

/* The server's fingerprint (from WELCOME). */
LIBCELL_API uint64_t cell_client_server_fingerprint(const struct cell_client *c);

/* Calls in flight at most on this connection (after the server's limit). */
LIBCELL_API uint32_t cell_client_max_inflight(const struct cell_client *c);

/* Whether the connection is up (0 after peer death, until reconnected). */
LIBCELL_API int cell_client_connected(const struct cell_client *c);

/* The response of a finished call: a view valid until cell_call_end(). */
struct cell_response {
	enum cell_status status;
	const void *data; /* OK: the payload (8-byte aligned); else NULL */
	uint32_t len;
	const char *detail; /* error detail, not NUL-terminated; may be NULL */
	uint32_t detail_len;
};

/* Flags of cell_call_begin(). */
#define CELL_CALL_ONEWAY 0x1 /* no response: cell_call_finish() returns at commit */
/*
 * Batching: the submit does not publish the request (on the ring path: no
 * tail store, no fence, no look at the server's flag); more calls follow.  The next submit
 * without it, cell_client_flush(), a cell_call_wait() of any call, a
 * wait for room in the request ring, or cell_client_free() publishes them
 * all at once.  Nothing else does (there is no timer): until then the
 * server does not see them, whatever their deadline, so a thread that
 * submits with CELL_CALL_MORE must end its batch with one of those.  A
 * thread with a call begun (not yet submitted) may flush and wait too:
 * the batch is published up to the begun request, which goes at its own
 * submit.  When another thread has a call begun, a wait (not a flush,
 * which waits for the lock) asks that thread to publish the batch when it
 * submits or ends its call; until then the server does not see it.  On
 * the unix and QUIC paths it has no effect.
 */
#define CELL_CALL_MORE 0x2

/**
 * cell_call_begin() - start a call of @method (a schema's, below
 * CELL_METHOD_CONTROL_BASE, or CELL_METHOD_PING / CELL_METHOD_SCHEMA /
 * CELL_METHOD_METRICS / CELL_METHOD_SPANS: SCHEMA answers the server's
 * canonical schema text, NOT_FOUND if it has none; see cell/trace.h for
 * the others) with a request payload of up
 * to @len bytes, built in place.  *@buf points to @len writable bytes (in
 * the request ring, an attachment for a large payload, or a staging
 * buffer on the unix path); write the request there, then
 * cell_call_finish() or cell_call_submit().
 *
 * Waits while the request ring is full (backpressure) until @deadline.
 * Fails fast with RESOURCE_EXHAUSTED when max_inflight calls are already
 * in flight.  While a call is begun and not yet submitted, other threads'
 * calls wait for the request ring: fill it promptly.
 *
 * Return: OK with *@call and *@buf set, or a status (UNAVAILABLE,
 * RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, TOO_LARGE, INVALID_ARGUMENT) with
 * *@call = NULL.
 */
LIBCELL_API CELL_MUST_CHECK enum cell_status cell_call_begin(struct cell_client *c, uint16_t method,
							     uint32_t len, unsigned int flags,
							     uint64_t deadline,
							     struct cell_call **call, void **buf);

/**
 * cell_call_submit() - send the first @len bytes (at most the length
 * begun) of the request, without waiting for the response.  Pipelining:
 * submit several calls, then cell_call_wait() each.  A one-way call is
 * finished by its submit: end it with cell_call_end().
 * Return: OK or a status (UNAVAILABLE, INVALID_ARGUMENT).
 */
LIBCELL_API CELL_MUST_CHECK enum cell_status cell_call_submit(struct cell_call *call, uint32_t len);

/**
 * cell_call_wait() - wait for the response of a submitted call until its
 * deadline.  @resp (may be NULL) receives a view of the response, valid
 * until cell_call_end().
 * Return: the call's status: the server's, or CANCELLED,
 * DEADLINE_EXCEEDED, UNAVAILABLE (connection lost) decided locally.
 */
LIBCELL_API enum cell_status cell_call_wait(struct cell_call *call, struct cell_response *resp);

/**
 * cell_call_finish() - cell_call_submit() then cell_call_wait() (for a
 * one-way call: only the submit).
 */
LIBCELL_API enum cell_status cell_call_finish(struct cell_call *call, uint32_t len,
					      struct cell_response *resp);

/**
 * cell_call_end() - release the call: its response's memory and its
 * in-flight slot.  Ending a call that was submitted but not answered
 * cancels it.  Every begun call must be ended exactly once.
 */
LIBCELL_API void cell_call_end(struct cell_call *call);

/* cell_call_id() - the call's id (its correlation id; 0 for one-way). */
LIBCELL_API uint32_t cell_call_id(const struct cell_call *call);

/**
 * cell_client_cancel() - cancel call @id from any thread: its waiter
 * returns CANCELLED at once, and the server is told (a CANCEL frame) so
 * that it skips the call if it has not started it.  A late response is
 * dropped.
 * Return: 0, or -ENOENT if no such call is in flight.
 */
LIBCELL_API CELL_MUST_CHECK int cell_client_cancel(struct cell_client *c, uint32_t id);

/**
 * cell_client_call() - a whole call with copies: send @req_len bytes of
 * @req, wait until @deadline, copy the response payload to @resp (@cap
 * bytes).
 * @resp_len: if not NULL, receives the response's length (also when it
 *	      did not fit: the status is then TOO_LARGE).
 * Return: the call's status.  The error detail is in cell_last_error().
 */
LIBCELL_API enum cell_status cell_client_call(struct cell_client *c, uint16_t method,
					      const void *req, uint32_t req_len, void *resp,
					      uint32_t cap, uint32_t *resp_len, uint64_t deadline);

/**
 * cell_client_send() - a one-way call: no response, no correlation id.
 * Return: OK once the request was committed, or a status.
 */
LIBCELL_API enum cell_status cell_client_send(struct cell_client *c, uint16_t method,
					      const void *req, uint32_t len, uint64_t deadline);

/**
 * cell_client_flush() - wake the server for requests submitted with
 * CELL_CALL_MORE (a no-op if there are none, or on the unix and QUIC
 * paths, which send each frame at once).  Any thread, also one with a
 * call begun (that request stays unpublished until its submit); while
 * another thread has a call begun, it waits until that one is submitted
 * or ended.
 */
LIBCELL_API void cell_client_flush(struct cell_client *c);

/* One message of a batch. */
struct cell_msg {
	const void *data;
	uint32_t len;
};

/**
 * cell_client_send_batch() - @n one-way calls of @method, in order, with
 * the server woken once for the batch (and whenever the request ring
 * fills: the batch may be larger than the ring).  The messages are copied
 * into the ring under one send lock; other threads' calls wait meanwhile.
 * With a reconnect policy, tracing or QUIC it sends them one by one with
 * cell_client_send().
 * @sent: if not NULL, receives how many messages were committed (all @n
 *	  on OK; on failure the first *@sent went out, the rest did not:
 *	  the server gets exactly those, and sending msgs + *@sent again
 *	  continues the sequence with nothing lost or twice).  A ring full
 *	  until @deadline ends the batch with DEADLINE_EXCEEDED at the
 *	  first message that found no room (backpressure); a message sent
 *	  as an attachment either goes whole or not at all.
 * Return: OK, or the status of the first message that failed (TOO_LARGE
 * before anything is sent if one is above CELL_MAX_PAYLOAD).
 */
LIBCELL_API enum cell_status cell_client_send_batch(struct cell_client *c, uint16_t method,
						    const struct cell_msg *msgs, unsigned int n,
						    unsigned int *sent, uint64_t deadline);

/**
 * cell_client_control() - call one of the control methods every libcell
 * server answers itself: CELL_METHOD_PING (empty), CELL_METHOD_SCHEMA (the
 * canonical schema text), CELL_METHOD_METRICS and CELL_METHOD_SPANS (see
 * cell_client_metrics(), cell_client_spans()).  Never traced.
 * @resp: receives a malloc'd copy of the response payload (free() it), or
 *	  NULL when it is empty; @resp_len its length.
 * Return: the call's status (INVALID_ARGUMENT for another method).
 */
LIBCELL_API enum cell_status cell_client_control(struct cell_client *c, uint16_t method,
						 const void *req, uint32_t req_len, void **resp,
						 uint32_t *resp_len, uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif /* CELL_RPC_H */
