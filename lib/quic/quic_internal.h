/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Internals of the QUIC transport (lib/quic/): the stream frame reader
 * (quic_frame.c), identities and known peers (quic_auth.c), the engine
 * (quic.c), and the hooks client.c and server.c call.
 */
#ifndef CELL_QUIC_INTERNAL_H
#define CELL_QUIC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cell/quic.h>
#include <cell/rpc.h>
#include <cell/wire.h>

/* ---- stream frame reader (quic_frame.c) ------------------------------- */

/*
 * One message on one stream: a 20-byte header, then exactly hdr.len
 * payload bytes, then FIN.  Bytes come in the order of the stream (ngtcp2
 * reassembles), in pieces of any size.
 */
struct cell_qreader {
	uint32_t max_payload;
	uint8_t head[CELL_HDR_SIZE];
	uint32_t have_head;
	struct cell_hdr hdr;
	uint8_t *payload; /* hdr.len bytes, malloc'd (8-byte aligned) once the header is in */
	uint32_t got;
	bool complete; /* header, payload and FIN all in */
};

void cell_qreader_init(struct cell_qreader *r, uint32_t max_payload);
/*
 * Feed @n bytes (@fin: the stream ends after them).
 * Return: 1 when the message is complete, 0 when more is needed,
 * -EBADMSG (*@why says why: bad header, payload too long, bytes past the
 * frame, FIN inside it), -ENOMEM.
 */
int cell_qreader_feed(struct cell_qreader *r, const uint8_t *data, size_t n, bool fin,
		      const char **why);
/* Give the payload to the caller (free() it); the reader keeps nothing. */
void *cell_qreader_take(struct cell_qreader *r);
void cell_qreader_fini(struct cell_qreader *r);

/* ---- identities and trust (quic_auth.c) ------------------------------- */

struct cell_qauth {
	void *cred; /* gnutls_certificate_credentials_t with our certificate */
	uint8_t pk[CELL_QUIC_PUBKEY_BYTES];
	char hex[2 * CELL_QUIC_PUBKEY_BYTES + 1];
	pthread_mutex_t lock; /* the known keys */
	uint8_t (*known)[CELL_QUIC_PUBKEY_BYTES];
	size_t nknown, capknown;
	char *peers_path; /* NULL: no file */
	bool tofu;
};

/* Load the identity and known peers of @o and make the certificate. 0 or -errno. */
int cell_qauth_init(struct cell_qauth *a, const struct cell_quic_opts *o, bool server);
void cell_qauth_fini(struct cell_qauth *a);
/* Load only the identity's secret key (for cell_quic_public_key()). */
int cell_qauth_load_key(const struct cell_quic_opts *o, uint8_t sk[CELL_QUIC_SECKEY_BYTES],
			bool *ephemeral);
/*
 * Whether @pk may talk to us; TOFU learns it (and appends it to the file
 * with @addr).  Logs a refusal naming the key.
 */
bool cell_qauth_admit(struct cell_qauth *a, const uint8_t pk[CELL_QUIC_PUBKEY_BYTES],
		      const char *addr);
/*
 * Parse a known-peers text of @n bytes into @a's table (replacing it).
 * Return: 0, or -EINVAL with the 1-based line in *@line.
 */
int cell_qauth_parse_peers(struct cell_qauth *a, const char *text, size_t n, unsigned int *line);
void cell_hex(const uint8_t *b, size_t n, char *out);

/* ---- client hooks (quic.c, called from client.c) ---------------------- */

struct cell_qc;
struct cell_qcall;

/* @target is host:port after "quic://".  NULL with errno and cell_last_error(). */
struct cell_qc *cell_qc_connect(const char *target, const struct cell_client_opts *o);
void cell_qc_free(struct cell_qc *qc);
bool cell_qc_connected(struct cell_qc *qc);
uint32_t cell_qc_max_inflight(struct cell_qc *qc);
enum cell_status cell_qc_begin(struct cell_qc *qc, uint16_t method, uint32_t len,
			       unsigned int flags, uint64_t deadline, struct cell_qcall **call,
			       void **buf);
enum cell_status cell_qc_submit(struct cell_qcall *call, uint32_t len);
enum cell_status cell_qc_wait(struct cell_qcall *call, struct cell_response *resp);
void cell_qc_end(struct cell_qcall *call);
uint32_t cell_qc_call_id(const struct cell_qcall *call);
int cell_qc_cancel(struct cell_qc *qc, uint32_t id);

/* ---- server hooks (quic.c <-> server.c) ------------------------------- */

struct cell_qs;

struct cell_qs *cell_qs_new(struct cell_server *srv, const char *addr,
			    const struct cell_quic_opts *o, uint64_t fingerprint);
void cell_qs_free(struct cell_qs *qs);
/* The fds to watch (UDP socket, timer), EPOLLIN, one-shot re-armed by the caller. */
int cell_qs_fds(struct cell_qs *qs, int fds[2]);
/* Do what is ready; returns the number of requests handled. */
int cell_qs_service(struct cell_qs *qs);
unsigned int cell_qs_port(const struct cell_qs *qs);
unsigned int cell_qs_connections(struct cell_qs *qs);

/*
 * How a handler's reply reaches a remote peer: server.c keeps the reply's
 * state machine, the transport only stores the bytes.
 */
struct cell_reply_ops {
	void *(*reserve)(void *ctx, uint32_t len);
	/* The frame is @hdr (len set) and the first @len reserved bytes. */
	int (*commit)(void *ctx, const struct cell_hdr *hdr, uint32_t len);
	void (*abort)(void *ctx);
	int (*send)(void *ctx, const struct cell_hdr *hdr, const void *data, uint32_t len);
};

/*
 * server.c: run the handler (or control method) of @v for a remote peer
 * and answer through @ops (unless one-way).  Returns the handler's status.
 */
enum cell_status cell_server_serve_remote(struct cell_server *srv, const struct cell_vesicle *v,
					  const struct cell_reply_ops *ops, void *ctx);

#endif /* CELL_QUIC_INTERNAL_H */
