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

/* ---- Unix SOCK_SEQPACKET transport (transport_unix.c) ----------------- */

/* Bind a listening socket at @path, replacing a stale socket file. */
int cell_ux_listen(const char *path);
/* Connect to @path (blocking connect, non-blocking afterwards). */
int cell_ux_connect(const char *path);
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

/* ---- misc ------------------------------------------------------------- */

/* mkdir the runtime directory; refuse a /tmp one that is not ours and 0700. */
int cell_runtime_dir_create(const char *dir);

/* Read CELL_RING_BACKEND (and resolve AUTO); -ENODEV for "module" today. */
int cell_backend_resolve(enum cell_ring_backend asked, enum cell_ring_backend *out);

static inline uint32_t cell_align8(uint32_t n)
{
	return (n + 7U) & ~7U;
}

#endif /* CELL_RPC_INTERNAL_H */
