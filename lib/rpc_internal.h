/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Internal interfaces shared by the RPC sources (client.c, server.c,
 * handshake.c, transport_unix.c, attachment.c, runtime_dir.c,
 * last_error.c).  Nothing here is exported from libcell.so; the tests and
 * fuzz targets reach it through libcell_static.a.
 */
#ifndef CELL_RPC_INTERNAL_H
#define CELL_RPC_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cell/rpc.h>
#include <cell/wire.h>

/* ---- last error (last_error.c) ---------------------------------------- */

/* Record why the current call fails (thread-local); returns @status. */
enum cell_status cell_fail(enum cell_status status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Status for a negative errno from a local operation. */
enum cell_status cell_errno_status(int err);
/* Forget the last error (a call that succeeds leaves "" behind). */
void cell_clear_error(void);

/* ---- handshake (handshake.c) ------------------------------------------ */

/* Fds that may travel with one control message: the WELCOME's. */
#define CELL_HS_MAX_FDS 3
/* Bytes of a HELLO or WELCOME frame. */
#define CELL_HS_FRAME_SIZE (CELL_HDR_SIZE + 48)

/* Host-order view of struct cell_hello / struct cell_welcome. */
struct cell_hs {
	uint32_t features;
	uint32_t max_inflight;
	uint64_t request_ring;
	uint64_t response_ring;
	uint64_t fingerprint;
};

/* Encode a HELLO frame (REQUEST, method HELLO, correlation 1). */
void cell_hs_encode_hello(const struct cell_hs *hs, uint8_t out[CELL_HS_FRAME_SIZE]);
/* Encode a WELCOME frame (RESPONSE to HELLO). */
void cell_hs_encode_welcome(const struct cell_hs *hs, uint8_t out[CELL_HS_FRAME_SIZE]);

/*
 * Parse a HELLO frame of @n bytes from an untrusted peer.  Checks the
 * frame header, magic, ABI version, reserved fields, feature bits, ring
 * sizes (0 or a power of two within the ring limits), that the header's
 * fingerprint equals the payload's, and max_inflight > 0.
 * Return: CELL_STATUS_OK, or the status to refuse it with; *@why says why.
 */
enum cell_status cell_hs_parse_hello(const void *frame, size_t n, struct cell_hs *hs,
				     const char **why);

/*
 * Parse the server's answer to HELLO: a WELCOME, or an ERROR response
 * (then *@error_status, *@server_fp and the detail are filled and the
 * status is returned).
 */
enum cell_status cell_hs_parse_welcome(const void *frame, size_t n, struct cell_hs *hs,
				       const char **why, uint64_t *server_fp, const char **detail,
				       uint32_t *detail_len);

/*
 * Listener hand-over (struct cell_listener, <linux/cell.h>): the request a
 * key holder sends instead of a HELLO, and its answer.
 */
#define CELL_LISTENER_FRAME_SIZE (CELL_HDR_SIZE + 24)

struct cell_listener_req {
	uint16_t op; /* CELL_LISTENER_GIVE or _TAKE */
	uint8_t key[CELL_LISTENER_KEY_SIZE];
	uint64_t fingerprint; /* the header's */
};

void cell_listener_encode(const struct cell_listener_req *req,
			  uint8_t out[CELL_LISTENER_FRAME_SIZE]);
/* Whether a first frame is a hand-over request (its header's method): not a HELLO. */
bool cell_listener_frame(const void *frame, size_t n);
/*
 * Parse a hand-over request of @n bytes from an untrusted peer: frame
 * header, magic, reserved field, op.  The key and fingerprint are the
 * caller's to check.  Return: CELL_STATUS_OK or the status to refuse with.
 */
enum cell_status cell_listener_parse(const void *frame, size_t n, struct cell_listener_req *req,
				     const char **why);
/* Parse the answer: CELL_STATUS_OK, or the server's refusal (detail filled) or BAD_MESSAGE. */
enum cell_status cell_listener_parse_answer(const void *frame, size_t n, const char **why,
					    const char **detail, uint32_t *detail_len);

/* ---- Unix SOCK_SEQPACKET transport (transport_unix.c) ----------------- */

/* Bind a listening socket at @path, replacing a stale socket file. */
int cell_ux_listen(const char *path);
/* Connect to @path (blocking connect, non-blocking afterwards). */
int cell_ux_connect(const char *path);
/*
 * The same, waiting until @deadline at most for room in the listener's
 * backlog (a server that accepts nothing): then -ETIMEDOUT.
 */
int cell_ux_connect_by(const char *path, uint64_t deadline);
/*
 * Send one message of the iovecs with up to CELL_HS_MAX_FDS fds, waiting
 * while the socket buffer is full until @deadline.  Returns 0, -ETIMEDOUT,
 * -EPIPE (peer gone) or another negative errno.
 */
int cell_ux_send(int fd, const struct iovec *iov, int iovcnt, const int *fds, int nfds,
		 uint64_t deadline);
/*
 * Receive one message into @buf (@cap bytes) without waiting.  Fds that
 * came with it are stored in @fds (up to @max_fds, *@nfds set); extra or
 * unexpected ones are closed.  Returns the message length, -EAGAIN when
 * none is queued, -EPIPE at end of stream, -EMSGSIZE for a truncated
 * message, or another negative errno.
 */
ssize_t cell_ux_recv(int fd, void *buf, size_t cap, int *fds, int max_fds, int *nfds);
/* Wait until @fd is readable (or hung up) or @deadline; 1, 0 or -errno. */
int cell_ux_wait_readable(int fd, uint64_t deadline);
/* Credentials of the peer of a connected socket. */
int cell_ux_peercred(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/* A pidfd (close-on-exec) of the peer that connected (SO_PEERPIDFD), or -1 (kernel < 6.5). */
int cell_ux_peerpidfd(int fd);

/* ---- attachments (attachment.c) --------------------------------------- */

/* A sealed memfd payload: the sender's writable or the receiver's view. */
struct cell_att {
	int fd;
	void *map;
	size_t map_len;
	uint32_t len; /* payload bytes */
};

/* Create an attachment of @len bytes, mapped writable at att->map. */
int cell_att_create(struct cell_att *att, uint32_t len);
/*
 * Seal a created attachment after the payload was written, first shrinking
 * it to @len: unmaps, then seals SHRINK|GROW|WRITE|SEAL.  att->fd is then
 * ready to send.
 */
int cell_att_seal(struct cell_att *att, uint32_t len);
/*
 * Map an attachment fd received from a peer, read-only, after checking it
 * is a memfd sealed against writes, shrinking and growing, and at least
 * @len bytes long.  Takes ownership of @fd (closed on failure).
 */
int cell_att_open(struct cell_att *att, int fd, uint32_t len);
/* Unmap and close. */
void cell_att_close(struct cell_att *att);

/*
 * An attachment travels on the socket as a frame of method
 * CELL_METHOD_ATTACHMENT whose payload is the inner frame header (the real
 * method, flags, correlation and payload length); the payload is the fd.
 */
#define CELL_ATT_FRAME_SIZE (2 * CELL_HDR_SIZE)

/* ---- channels (channel.c) --------------------------------------------- */

#include <cell/ring.h>

/*
 * Frames in a ring record and in a socket message start 4 bytes in, so the
 * payload after the 20-byte header is 8-byte aligned:
 *   [u32 zero][struct cell_hdr][payload]
 */
#define CELL_FRAME_PAD	4
#define CELL_FRAME_HEAD (CELL_FRAME_PAD + CELL_HDR_SIZE)
/*
 * Attachment fds received ahead of their ring marker, at most: one per
 * call in flight, and this many more (cell_chan_set_inflight()).
 */
#define CELL_ATT_QUEUE 8

/*
 * One side of a connection: the socket, and when upgraded the ring it
 * produces into (tx) and the ring it consumes (rx).  Requests flow client
 * -> server, responses server -> client; CANCEL and GOODBYE always travel
 * on the socket, as do attachment fds (on the ring path a marker record in
 * the ring keeps their place in the order).
 */
struct cell_chan {
	int sock;
	bool shm;
	bool attachments; /* CELL_FEAT_ATTACHMENTS was agreed on */
	bool trace;	  /* CELL_FEAT_TRACE was agreed on: requests may carry a trailer */
	uint64_t fingerprint;
	struct cell_ring tx, rx;
	/* Control frames met on the socket (CANCEL, GOODBYE, PING). */
	void (*on_control)(void *ctx, const struct cell_hdr *hdr);
	void *control_ctx;
	/* Sending: what the open reservation is. */
	enum {
		TX_NONE,
		TX_RING,
		TX_ATT,
		TX_STAGE,
		TX_QUEUE
	} tx_kind;
	/*
	 * Queue mode (servers): a send never waits for room.  A frame that
	 * does not fit now (ring full, socket buffer full), and every frame
	 * after it, is queued in order; cell_chan_flush() moves them out.
	 */
	bool queue_mode;
	struct cell_qframe *q_head, **q_tail, *tx_q;
	struct cell_att tx_att;
	bool tx_more;	   /* ring commits leave the peer unwoken: cell_chan_kick() will */
	uint8_t *tx_rec;   /* the reserved ring record */
	uint8_t *tx_stage; /* unix path staging, CELL_FRAME_HEAD + SOCKET_FRAME_MAX */
	uint32_t tx_len;
	/* Receiving. */
	uint8_t *rx_buf; /* unix path, CELL_FRAME_HEAD + SOCKET_FRAME_MAX */
	int *att_fds;	 /* attachment fds queued, att_cap at most */
	unsigned int att_cap;
	unsigned int att_head, att_count;
	_Atomic bool dead; /* the peer is gone (set by any thread that sees it) */
};

/* A frame waiting for room: @n bytes from the pad on, for the ring or the socket. */
struct cell_qframe {
	struct cell_qframe *next;
	bool to_ring;
	int fd; /* attachment fd to send with it, or -1 */
	uint32_t n;
	_Alignas(8) uint8_t bytes[];
};

/* A received frame, viewed in place. */
struct cell_rx {
	struct cell_hdr hdr;
	const void *data; /* payload, 8-byte aligned */
	uint32_t len;
	uint64_t ring_end;   /* release point if the frame is in the rx ring, else 0 */
	struct cell_att att; /* fd >= 0 if the payload is an attachment */
	void *owned;	     /* malloc'd copy to free, or NULL */
	bool traced;	     /* the request carried @trace (stripped from @len) */
	struct cell_trace_ctx trace;
};

/* How long a send waits for room when its caller gives deadline 0. */
#define CELL_CHAN_WAIT_NS (5 * CELL_NSEC_PER_SEC)

int cell_chan_init(struct cell_chan *ch, int sock, uint64_t fingerprint);
/* Size the attachment queue for @inflight calls in flight (after the handshake). */
int cell_chan_set_inflight(struct cell_chan *ch, uint32_t inflight);
void cell_chan_fini(struct cell_chan *ch);
/*
 * Room for a @len-byte payload; NULL with errno (ETIMEDOUT, EPIPE, EBADMSG,
 * ENOMEM).  Deadline 0 here and in the calls below: CELL_CHAN_WAIT_NS from
 * the moment a wait starts (no clock read when nothing waits).
 */
void *cell_chan_tx_begin(struct cell_chan *ch, uint32_t len, uint64_t deadline,
			 bool (*alive)(void *ctx), void *ctx);
/* Send @hdr (its len set here) with the first @len bytes reserved. */
int cell_chan_tx_commit(struct cell_chan *ch, struct cell_hdr *hdr, uint32_t len, uint64_t deadline,
			bool (*alive)(void *ctx), void *ctx);
void cell_chan_tx_abort(struct cell_chan *ch);
/* Wake the peer for ring records committed while @tx_more was set. */
void cell_chan_kick(struct cell_chan *ch);
/* A whole frame with a small payload copied (errors, empty responses). */
int cell_chan_send(struct cell_chan *ch, struct cell_hdr *hdr, const void *data, uint32_t len,
		   uint64_t deadline, bool (*alive)(void *ctx), void *ctx);
/* A control frame on the socket (CANCEL, GOODBYE). */
int cell_chan_send_control(struct cell_chan *ch, uint8_t flags, uint16_t method,
			   uint32_t correlation);
/*
 * The next data frame, without waiting: from the rx ring on the ring path,
 * from the socket on the unix path (control frames go to on_control).
 * Return: 0, -EAGAIN, -EBADMSG (the peer broke the protocol), -EPIPE.
 */
int cell_chan_rx(struct cell_chan *ch, struct cell_rx *rx);
/*
 * Drain the socket on the ring path: control frames to on_control,
 * attachment fds queued.  Return: 0, -EPIPE (peer gone), -EBADMSG.
 */
int cell_chan_poll_socket(struct cell_chan *ch);
/* Give back what @rx holds (ring bytes in order, attachment, copy). */
void cell_chan_rx_done(struct cell_chan *ch, struct cell_rx *rx);
/*
 * Queue mode: send queued frames while there is room.  Return: 0 (queue
 * empty), -EAGAIN (still frames queued), or a negative errno.
 */
int cell_chan_flush(struct cell_chan *ch);

/* Whether the peer is still connected (poll of the socket, no waiting). */
bool cell_chan_alive(struct cell_chan *ch);

/* ---- tracing (trace.c) ------------------------------------------------ */

/*
 * The calling thread's trace context (cell_trace_set()).  While a server
 * handles a traced request, its span id is made only when something reads
 * the context (cell_trace_ctx_now()): @span_lazy says it is not made yet,
 * @span_out is where the span being timed wants it.
 */
struct cell_trace_tls {
	bool active;
	bool span_lazy;
	uint8_t *span_out;
	struct cell_trace_ctx ctx;
};
extern __thread struct cell_trace_tls cell_trace_tls __attribute__((tls_model("initial-exec")));

/* The thread's context with its span id made (active is checked by the caller). */
void cell_trace_make_span_id(void);
static inline const struct cell_trace_ctx *cell_trace_ctx_now(void)
{
	if (cell_trace_tls.span_lazy)
		cell_trace_make_span_id();
	return &cell_trace_tls.ctx;
}

/*
 * The span clock: raw ticks (TSC or CLOCK_MONOTONIC ns, trace.c says which),
 * inline where the TSC is the clock: it is read twice per sampled request.
 */
extern _Atomic int cell_span_clock_kind; /* 0 not chosen yet, 1 TSC, 2 monotonic */
uint64_t cell_span_clock_slow(void);
#if defined(__x86_64__)
#include <x86intrin.h>
static inline uint64_t cell_span_clock(void)
{
	if (atomic_load_explicit(&cell_span_clock_kind, memory_order_acquire) == 1)
		return __rdtsc();
	return cell_span_clock_slow();
}
#else
static inline uint64_t cell_span_clock(void)
{
	return cell_span_clock_slow();
}
#endif
/* cell_span_record() of a span whose start and duration are span clock ticks. */
struct cell_span;
void cell_span_record_raw(const struct cell_span *span);

/* ---- logging (log.c) -------------------------------------------------- */

#include <cell/log.h>
/* One line to the application's cell_log_set() callback, if any. */
void cell_log(enum cell_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- misc ------------------------------------------------------------- */

/* A remote instance of a cell, published by celld's axon module (remote.c). */
struct cell_remote {
	char target[128]; /* HOST:PORT, after "quic://" */
	uint64_t fingerprint;
	char node[65]; /* the node key in hex */
	uint32_t rtt_us;
};

/* Parse one line "quic://HOST:PORT FP NODE RTT_US\n" of @n bytes: 0 or -EINVAL. */
int cell_remote_parse(const char *buf, size_t n, struct cell_remote *out);
/* Read DIR/axon/NAME: 0, -ENOENT (no remote instance known) or -EINVAL. */
int cell_remote_lookup(const char *dir, const char *name, struct cell_remote *out);

/*
 * cell_client_connect() to instance @name itself: never another instance
 * of the name picked by fingerprint (tissue picks for itself).
 */
struct cell_client *cell_client_connect_exact(const char *name,
					      const struct cell_client_opts *opts);

/* mkdir the runtime directory; refuse a /tmp one that is not ours and 0700. */
int cell_runtime_dir_create(const char *dir);

/*
 * Read CELL_RING_BACKEND and resolve AUTO (the module if /dev/cell works,
 * else memfd); -ENODEV (or the open's errno) for "module" without it.
 */
int cell_backend_resolve(enum cell_ring_backend asked, enum cell_ring_backend *out);
/* Whether the module was asked for by name (then nothing else will do). */
bool cell_backend_module_by_name(enum cell_ring_backend asked);

/*
 * The next spin budget after a spin of @budget ns that @won (found work) or
 * not: doubles back towards @max on a win, halves on a loss, down to
 * CELL_SPIN_FLOOR_NS, so a side whose spins keep failing sleeps almost at
 * once and one whose spins win keeps spinning.
 */
#define CELL_SPIN_FLOOR_NS 500ULL
static inline uint64_t cell_spin_adapt(uint64_t budget, uint64_t max, bool won)
{
	if (won)
		return budget * 2 > max ? max : budget * 2;
	return budget / 2 < CELL_SPIN_FLOOR_NS ? CELL_SPIN_FLOOR_NS : budget / 2;
}

static inline uint32_t cell_align8(uint32_t n)
{
	return (n + 7U) & ~7U;
}

#endif /* CELL_RPC_INTERNAL_H */
