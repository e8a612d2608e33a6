// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The QUIC transport (cell/quic.h): ngtcp2 0.12 for QUIC, GnuTLS for TLS
 * 1.3, nothing hand-written below the stream layer.
 *
 * One struct qlink is one QUIC connection, client or server side: the
 * ngtcp2 connection, its TLS session and its streams.  Each call is one
 * client-initiated bidirectional stream carrying one cell frame (20-byte
 * header + payload, then FIN) each way; a one-way request gets an empty
 * FIN back so the stream closes.  Cancelling resets the stream.
 *
 * Locking: a client's qlink is guarded by qc->lock.  Whoever waits for a
 * response drives the connection (the "driver": reads datagrams, runs
 * timers, writes) with the lock dropped only around the sleep in ppoll();
 * other waiters sleep on qc->cond and are woken after every drive.  A
 * server's links are guarded by qs->lock and driven from
 * cell_server_dispatch() / cell_server_run() (its fds are one-shot in the
 * server's epoll, so one thread at a time); handlers run there too.  No
 * thread is started here.
 *
 * Memory: the connection window (max_data) is given back to the peer only
 * when a message's buffer is freed (server: after its handler; client: at
 * cell_call_end()), so what a peer can make us hold is bounded by it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cell/metrics.h>
#include "../rpc_internal.h"
#include "quic_internal.h"

#define ALPN		   "cell/1"
#define PRIORITY	   "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE"
#define SCID_LEN	   18
#define MAX_CIDS	   10
#define DEFAULT_MAX_DATA   (16ULL << 20)
#define DEFAULT_IDLE_MS	   10000U
#define DEFAULT_QUIC_CONNS 256U
#define MAX_BIDI	   128U
#define PKT_MAX		   1452
#define RX_MAX		   65536
/*
 * Datagrams handed to the kernel in one sendmsg() with UDP GSO: 44 x 1452
 * = 63,888 bytes, within the 64 KiB an IP packet (and so one GSO send) may
 * carry.
 */
#define GSO_SEGS 44
/* Payload bytes ahead of the header in a tx buffer: the payload lands 8-aligned. */
#define TX_PAD (CELL_FRAME_PAD + CELL_HDR_SIZE)

/* Application error codes of RESET_STREAM / STOP_SENDING / CONNECTION_CLOSE. */
enum {
	QERR_NONE = 0,
	QERR_CANCELLED = 1,
	QERR_BAD_MESSAGE = 2,
	QERR_GOING_AWAY = 3,
};

struct qlink;

struct qstream {
	struct qlink *l;
	int64_t id; /* -1 until opened */
	struct qstream *next;
	/* Sending: the frame in tx[CELL_FRAME_PAD .. tx_len). */
	uint8_t *tx;
	size_t tx_len, tx_off;
	bool tx_armed, fin_sent;
	unsigned int blocked_round;
	/* Receiving. */
	struct cell_qreader rd;
	uint64_t rx_bytes; /* connection credit to give back when the message goes */
	bool rx_done, reset, handled;
	/*
	 * Client: its call has ended but the stream still holds the request
	 * (ngtcp2 may retransmit it until acknowledged or reset): counted in
	 * qc->lingering, so that ended calls cannot pile up buffers.
	 */
	bool lingers;
	bool oneway; /* client: a one-way message; the server ends it with an empty FIN */
	struct cell_qcall *call; /* client: the call it carries, or NULL */
};

struct qlink {
	ngtcp2_crypto_conn_ref ref;
	ngtcp2_conn *conn;
	gnutls_session_t tls;
	struct cell_qauth *auth;
	int fd;
	bool server, connected_sock;
	bool gso;	/* the socket takes UDP_SEGMENT (cleared when a send refuses it) */
	uint8_t *batch; /* GSO_SEGS * PKT_MAX bytes for link_write(): its owner's (qc, qs) */
	struct sockaddr_storage local, remote;
	socklen_t llen, rlen;
	char addr[INET6_ADDRSTRLEN + 8];
	uint32_t max_payload;
	bool ready;   /* handshake completed (server) / confirmed (client) */
	bool dead;    /* closed: nothing more will come */
	bool refused; /* we refused the peer's key */
	enum cell_status death;
	char why[200];
	struct qstream *streams, *pending;
	unsigned int round;
	ngtcp2_cid cids[MAX_CIDS];
	unsigned int ncids;
	struct qlink *next; /* server: the list */
	struct cell_qs *qs; /* server: its owner */
};

/* ---- helpers ---------------------------------------------------------- */

static void rand_bytes(uint8_t *dest, size_t n, const ngtcp2_rand_ctx *ctx)
{
	(void)ctx;
	(void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, n);
}

static void describe(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		snprintf(out, cap, "?");
	}
}

/* "host:port" or "[v6]:port" into an address. */
static int resolve(const char *target, bool passive, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	char host[256];
	const char *port, *h = target;
	size_t hl;

	if (*target == '[') {
		const char *end = strchr(target, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		h = target + 1;
		hl = (size_t)(end - h);
		port = end + 2;
	} else {
		port = strrchr(target, ':');
		if (!port)
			return -EINVAL;
		hl = (size_t)(port - target);
		port++;
	}
	if (hl >= sizeof(host) || !*port)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	if (getaddrinfo(hl ? host : NULL, port, &hints, &res))
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * Socket buffers of 4 MiB (beyond rmem_max/wmem_max only with
 * CAP_NET_ADMIN): with the kernel's 208 KiB a burst of a few hundred
 * datagrams overflows while the other side is not scheduled, and each
 * loss costs a congestion window.  Best effort.
 */
static void grow_buffers(int fd)
{
	int sz = 4 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/*
 * Ask for UDP GRO (the kernel may then hand us several datagrams of one
 * sender in one read, split by rx_split()) and tell whether UDP GSO is
 * there (UDP_SEGMENT as a socket option: 0 sets no default size).  Over
 * veth or loopback a 64 KiB message then crosses as one buffer each way,
 * as TCP's does, instead of 45 sends and 45 receives.  Both best effort.
 */
static bool udp_offload(int fd)
{
	int on = 1, zero = 0;

	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
	return !setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero));
}

/*
 * One read with its GRO segment size: recvmsg() into @buf; *@seg is the
 * size of each datagram in it (the last may be shorter), or the whole
 * length when the kernel did not coalesce.  Returns recvmsg()'s result.
 */
static ssize_t rx_read(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from,
		       socklen_t *fromlen, size_t *seg)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { buf, cap };
	struct msghdr m = {
		.msg_name = from,
		.msg_namelen = from ? *fromlen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

	if (n < 0)
		return n;
	if (fromlen)
		*fromlen = m.msg_namelen;
	*seg = (size_t)n;
	if (m.msg_flags & MSG_TRUNC)
		return 0; /* cannot be: RX_MAX holds any datagram; dropped */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int g;

			memcpy(&g, CMSG_DATA(c), sizeof(g));
			if (g > 0 && (size_t)g < *seg)
				*seg = (size_t)g;
		}
	return n;
}

static ngtcp2_path link_path(struct qlink *l)
{
	ngtcp2_path p = {
		.local = { (ngtcp2_sockaddr *)&l->local, l->llen },
		.remote = { (ngtcp2_sockaddr *)&l->remote, l->rlen },
	};
	return p;
}

static void stream_free(struct qstream *s)
{
	cell_qreader_fini(&s->rd);
	free(s->tx);
	free(s);
}

static struct qstream *stream_new(struct qlink *l)
{
	struct qstream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->l = l;
	s->id = -1;
	cell_qreader_init(&s->rd, l->max_payload);
	return s;
}

/*
 * Streams are kept oldest first, and link_write() sends the first one that
 * can go: a stream is finished before younger ones start.  Newest first,
 * as before, starved older streams: with more bytes in flight than the
 * peer's connection window, every message was partly sent, none complete,
 * so no credit came back until deadlines reset streams (1 MiB x 16 in
 * flight with a 4 MiB window: a tenth of the calls missed a 3 s deadline).
 */
static void append_stream(struct qstream **head, struct qstream *s)
{
	struct qstream **pp = head;

	while (*pp)
		pp = &(*pp)->next;
	s->next = NULL;
	*pp = s;
}

static void unlink_stream(struct qstream **head, struct qstream *s)
{
	for (struct qstream **pp = head; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

static void stream_release(struct qlink *l, struct qstream *s);

/* ---- the client's calls (declared early: callbacks complete them) ----- */

enum qcall_state {
	QC_BEGUN,
	QC_SUBMITTED,
	QC_DONE,
};

struct cell_qcall {
	struct cell_qc *qc;
	uint32_t id;
	uint16_t method;
	bool oneway;
	enum qcall_state state;
	enum cell_status status;
	uint64_t deadline, t0;
	uint8_t *buf; /* while begun: TX_PAD + len */
	uint32_t len;
	struct cell_hdr rhdr;
	void *resp; /* the response payload */
	uint64_t rx_bytes;
	struct qstream *s;
	struct cell_qcall *next; /* qc->calls */
};

struct cell_qc {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct qlink l;
	struct cell_qauth auth;
	struct cell_client_opts o;
	struct cell_quic_opts qo; /* windows, timeouts (for a reconnect) */
	uint64_t fingerprint;
	uint32_t max_inflight, inflight, next_id;
	uint32_t lingering; /* streams of ended calls not closed yet: they hold a slot */
	bool block, driving;
	struct cell_qcall *calls;
	char target[280];
	uint8_t batch[GSO_SEGS * PKT_MAX]; /* l.batch (under lock) */
};

/* A stream is gone: a lingering one gives its call slot back. */
static void stream_release(struct qlink *l, struct qstream *s)
{
	if (s->lingers && !l->server) {
		struct cell_qc *qc = (struct cell_qc *)((char *)l - offsetof(struct cell_qc, l));

		qc->lingering--;
	}
	stream_free(s);
}

static void call_complete(struct cell_qcall *call, enum cell_status st)
{
	if (call->state == QC_DONE)
		return;
	call->status = st;
	call->state = QC_DONE;
}

/* ---- ngtcp2 callbacks ------------------------------------------------- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct qlink *)ref->user_data)->conn;
}

static void client_got_response(struct qstream *s)
{
	struct cell_qcall *call = s->call;
	uint16_t status;
	const char *detail;
	uint32_t dlen;

	if (!call)
		return;
	call->rhdr = s->rd.hdr;
	call->resp = cell_qreader_take(&s->rd);
	call->rx_bytes = s->rx_bytes;
	s->rx_bytes = 0;
	if ((call->rhdr.flags & CELL_F_KIND_MASK) != CELL_F_RESPONSE) {
		call_complete(call, CELL_STATUS_BAD_MESSAGE);
	} else if (call->rhdr.flags & CELL_F_ERROR) {
		if (cell_error_decode(call->resp, call->rhdr.len, &status, &detail, &dlen) ||
		    status == CELL_STATUS_OK || status >= CELL_STATUS_MAX)
			status = CELL_STATUS_BAD_MESSAGE;
		call_complete(call, status);
	} else {
		call_complete(call, CELL_STATUS_OK);
	}
}

static int on_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t offset,
			  const uint8_t *data, size_t len, void *user, void *sud)
{
	struct qlink *l = user;
	struct qstream *s = sud;
	const char *why;
	int rc;

	(void)offset;
	ngtcp2_conn_extend_max_stream_offset(conn, id, len);
	if (!s) { /* not ours (refused stream): give the credit back */
		ngtcp2_conn_extend_max_offset(conn, len);
		return 0;
	}
	if (s->oneway && !len) { /* the server's empty FIN: the stream may close */
		s->rx_done = s->rx_done || (flags & NGTCP2_STREAM_DATA_FLAG_FIN);
		return 0;
	}
	s->rx_bytes += len;
	rc = cell_qreader_feed(&s->rd, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN, &why);
	if (rc < 0) {
		cell_log(CELL_LOG_WARNING, "quic: %s: stream %lld: %s", l->addr, (long long)id,
			 why ? why : strerror(-rc));
		ngtcp2_conn_extend_max_offset(conn, s->rx_bytes);
		s->rx_bytes = 0;
		s->reset = true;
		(void)ngtcp2_conn_shutdown_stream(conn, id, QERR_BAD_MESSAGE);
		if (s->call)
			call_complete(s->call, CELL_STATUS_BAD_MESSAGE);
		return 0;
	}
	if (rc == 1) {
		s->rx_done = true;
		if (!l->server)
			client_got_response(s);
	}
	return 0;
}

static int on_stream_open(ngtcp2_conn *conn, int64_t id, void *user)
{
	struct qlink *l = user;
	struct qstream *s;

	if (!l->server || !ngtcp2_is_bidi_stream(id)) {
		(void)ngtcp2_conn_shutdown_stream(conn, id, QERR_BAD_MESSAGE);
		return 0;
	}
	s = stream_new(l);
	if (!s)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	s->id = id;
	append_stream(&l->streams, s);
	return ngtcp2_conn_set_stream_user_data(conn, id, s) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t code, void *user,
			   void *sud)
{
	struct qlink *l = user;
	struct qstream *s = sud;

	(void)flags;
	if (getenv("CELL_QUIC_DEBUG"))
		cell_log(CELL_LOG_DEBUG, "quic: %s: stream %lld closed, code %llu", l->addr,
			 (long long)id, (unsigned long long)code);
	if (!s)
		return 0;
	if (s->call) {
		if (s->call->state != QC_DONE)
			call_complete(s->call, code == QERR_CANCELLED ? CELL_STATUS_CANCELLED
								      : CELL_STATUS_UNAVAILABLE);
		s->call->s = NULL;
	}
	if (s->rx_bytes)
		ngtcp2_conn_extend_max_offset(conn, s->rx_bytes);
	if (l->server) /* the peer may open one more (MAX_STREAMS): 128 at once */
		ngtcp2_conn_extend_max_streams_bidi(conn, 1);
	unlink_stream(&l->streams, s);
	stream_release(l, s);
	return 0;
}

static int on_stream_reset(ngtcp2_conn *conn, int64_t id, uint64_t final_size, uint64_t code,
			   void *user, void *sud)
{
	struct qstream *s = sud;

	(void)conn;
	(void)final_size;
	if (getenv("CELL_QUIC_DEBUG"))
		cell_log(CELL_LOG_DEBUG, "quic: %s: stream %lld reset, code %llu",
			 ((struct qlink *)user)->addr, (long long)id, (unsigned long long)code);
	if (!s)
		return 0;
	s->reset = true;
	if (s->call)
		call_complete(s->call, code == QERR_CANCELLED ? CELL_STATUS_CANCELLED
							      : CELL_STATUS_UNAVAILABLE);
	return 0;
}

static int on_stop_sending(ngtcp2_conn *conn, int64_t id, uint64_t code, void *user, void *sud)
{
	struct qstream *s = sud;

	(void)code;
	(void)user;
	if (s) {
		s->reset = true;
		(void)ngtcp2_conn_shutdown_stream(conn, id, QERR_CANCELLED);
	}
	return 0;
}

static int on_handshake_completed(ngtcp2_conn *conn, void *user)
{
	struct qlink *l = user;

	(void)conn;
	if (l->server)
		l->ready = true;
	return 0;
}

static int on_handshake_confirmed(ngtcp2_conn *conn, void *user)
{
	struct qlink *l = user;

	(void)conn;
	l->ready = true;
	return 0;
}

static int on_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *user)
{
	struct qlink *l = user;

	(void)conn;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) ||
	    gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	cid->datalen = cidlen;
	if (l->server && l->ncids < MAX_CIDS)
		l->cids[l->ncids++] = *cid;
	return 0;
}

static int on_remove_cid(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user)
{
	struct qlink *l = user;

	(void)conn;
	for (unsigned int i = 0; i < l->ncids; i++)
		if (ngtcp2_cid_eq(&l->cids[i], cid)) {
			l->cids[i] = l->cids[--l->ncids];
			break;
		}
	return 0;
}

static void set_callbacks(ngtcp2_callbacks *cb, bool server)
{
	*cb = (ngtcp2_callbacks){
		.client_initial = server ? NULL : ngtcp2_crypto_client_initial_cb,
		.recv_client_initial = server ? ngtcp2_crypto_recv_client_initial_cb : NULL,
		.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
		.handshake_completed = on_handshake_completed,
		.encrypt = ngtcp2_crypto_encrypt_cb,
		.decrypt = ngtcp2_crypto_decrypt_cb,
		.hp_mask = ngtcp2_crypto_hp_mask_cb,
		.recv_stream_data = on_stream_data,
		.stream_open = on_stream_open,
		.stream_close = on_stream_close,
		.recv_retry = server ? NULL : ngtcp2_crypto_recv_retry_cb,
		.rand = rand_bytes,
		.get_new_connection_id = on_new_cid,
		.remove_connection_id = on_remove_cid,
		.update_key = ngtcp2_crypto_update_key_cb,
		.stream_reset = on_stream_reset,
		.handshake_confirmed = server ? NULL : on_handshake_confirmed,
		.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
		.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
		.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
		.stream_stop_sending = on_stop_sending,
		.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
	};
}

/* ---- TLS -------------------------------------------------------------- */

/*
 * The peer's certificate: only its Ed25519 key counts (TLS 1.3's
 * CertificateVerify proves the peer holds it); that key must be admitted.
 */
static int verify_peer(gnutls_session_t s)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	struct qlink *l = ref->user_data;
	const gnutls_datum_t *certs;
	gnutls_datum_t x = { 0 }, y = { 0 };
	gnutls_ecc_curve_t curve;
	gnutls_x509_crt_t crt;
	unsigned int n = 0;
	bool ok = false;

	certs = gnutls_certificate_get_peers(s, &n);
	if (!certs || !n || gnutls_x509_crt_init(&crt))
		goto out;
	if (!gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) &&
	    gnutls_x509_crt_get_pk_algorithm(crt, NULL) == GNUTLS_PK_EDDSA_ED25519 &&
	    !gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y) &&
	    x.size == CELL_QUIC_PUBKEY_BYTES)
		ok = cell_qauth_admit(l->auth, x.data, l->addr);
	else
		cell_log(CELL_LOG_WARNING, "quic: refused peer %s: no Ed25519 certificate",
			 l->addr);
	gnutls_free(x.data);
	gnutls_free(y.data);
	gnutls_x509_crt_deinit(crt);
out:
	if (!ok) {
		l->refused = true;
		snprintf(l->why, sizeof(l->why), "peer %s: key not admitted (see the log)",
			 l->addr);
	}
	return ok ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

static int tls_setup(struct qlink *l)
{
	gnutls_datum_t alpn = { (unsigned char *)ALPN, sizeof(ALPN) - 1 };
	unsigned int flags = (l->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
			     GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA;
	int rc;

	rc = gnutls_init(&l->tls, flags);
	if (rc)
		return -ENOMEM;
	rc = gnutls_priority_set_direct(l->tls, PRIORITY, NULL);
	if (!rc)
		rc = l->server ? ngtcp2_crypto_gnutls_configure_server_session(l->tls)
			       : ngtcp2_crypto_gnutls_configure_client_session(l->tls);
	if (!rc)
		rc = gnutls_credentials_set(l->tls, GNUTLS_CRD_CERTIFICATE, l->auth->cred);
	if (!rc)
		rc = gnutls_alpn_set_protocols(l->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
	if (rc) {
		cell_fail(CELL_STATUS_INTERNAL, "TLS setup: %s", gnutls_strerror(rc));
		return -EIO;
	}
	if (l->server)
		gnutls_certificate_server_set_request(l->tls, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_ptr(l->tls, &l->ref);
	ngtcp2_conn_set_tls_native_handle(l->conn, l->tls);
	return 0;
}

/* ---- connection setup ------------------------------------------------- */

struct qparams {
	uint64_t max_data, max_stream_data;
	uint64_t idle_ns;
};

static void qparams_of(const struct cell_quic_opts *o, struct qparams *p)
{
	p->max_data = o && o->max_data ? o->max_data : DEFAULT_MAX_DATA;
	p->max_stream_data = o && o->max_stream_data ? o->max_stream_data : p->max_data;
	p->idle_ns = (uint64_t)(o && o->idle_timeout_ms ? o->idle_timeout_ms : DEFAULT_IDLE_MS) *
		     NGTCP2_MILLISECONDS;
}

static void settings_of(const struct qparams *q, ngtcp2_settings *s, ngtcp2_transport_params *p)
{
	ngtcp2_settings_default(s);
	s->initial_ts = cell_now_ns();
	s->max_window = q->max_data;
	s->max_stream_window = q->max_stream_data;
	ngtcp2_transport_params_default(p);
	p->initial_max_streams_bidi = MAX_BIDI;
	p->initial_max_streams_uni = 0;
	p->initial_max_data = q->max_data;
	p->initial_max_stream_data_bidi_local = q->max_stream_data;
	p->initial_max_stream_data_bidi_remote = q->max_stream_data;
	p->initial_max_stream_data_uni = 0;
	p->max_idle_timeout = q->idle_ns;
	/*
	 * Acknowledge in the next packet we write: ngtcp2 0.12 otherwise holds
	 * an ACK for min(max_ack_delay, smoothed RTT / 8), a few microseconds
	 * here, which is just less than a handler takes, so the response left
	 * without the ACK of its request and the delay timer then sent the ACK
	 * in a datagram of its own (the client did the same after each
	 * response).  With ack_thresh 1 every ack-eliciting packet makes the ACK
	 * immediate (ngtcp2_acktr_immediate_ack()), so a server's response
	 * carries the ACK of its request.  When the client writes nothing else
	 * it does not write the ACK alone either: see qc_idle_locked().
	 */
	s->ack_thresh = 1;
}

static void link_init(struct qlink *l, struct cell_qauth *auth, const struct qparams *q)
{
	l->ref.get_conn = get_conn;
	l->ref.user_data = l;
	l->auth = auth;
	l->fd = -1;
	l->death = CELL_STATUS_UNAVAILABLE;
	l->max_payload = q->max_data - CELL_HDR_SIZE < CELL_MAX_PAYLOAD
				 ? (uint32_t)(q->max_data - CELL_HDR_SIZE)
				 : CELL_MAX_PAYLOAD;
}

static void link_fini(struct qlink *l)
{
	struct qstream *s;

	while ((s = l->streams)) {
		l->streams = s->next;
		if (s->call)
			s->call->s = NULL;
		stream_release(l, s);
	}
	while ((s = l->pending)) {
		l->pending = s->next;
		if (s->call)
			s->call->s = NULL;
		stream_release(l, s);
	}
	if (l->conn)
		ngtcp2_conn_del(l->conn);
	if (l->tls)
		gnutls_deinit(l->tls);
	l->conn = NULL;
	l->tls = NULL;
}

/* ---- I/O -------------------------------------------------------------- */

static void send_pkt(struct qlink *l, const ngtcp2_path *path, const uint8_t *buf, size_t n)
{
	if (l->connected_sock)
		(void)!send(l->fd, buf, n, MSG_DONTWAIT);
	else
		(void)!sendto(l->fd, buf, n, MSG_DONTWAIT,
			      (const struct sockaddr *)path->remote.addr, path->remote.addrlen);
}

/*
 * Send @n bytes of datagrams of @seg bytes each (the last may be shorter):
 * one sendmsg() with UDP_SEGMENT when the socket takes it, else one send
 * per datagram.  A send that fails is a lost datagram to QUIC, as before.
 */
static void send_batch(struct qlink *l, const ngtcp2_path *path, const uint8_t *buf, size_t n,
		       size_t seg)
{
	if (n > seg && l->gso) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(uint16_t))];
		} ctl = { 0 };
		struct iovec iov = { (void *)buf, n };
		struct msghdr m = {
			.msg_name = l->connected_sock ? NULL : path->remote.addr,
			.msg_namelen = l->connected_sock ? 0 : path->remote.addrlen,
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf),
		};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		uint16_t g = (uint16_t)seg;

		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(g));
		memcpy(CMSG_DATA(c), &g, sizeof(g));
		if (sendmsg(l->fd, &m, MSG_DONTWAIT) >= 0 || errno == EAGAIN || errno == ENOBUFS)
			return;
		/* The path cannot segment (EIO: no checksum offload, ...): one at a time. */
		l->gso = false;
	}
	for (size_t off = 0; off < n; off += seg)
		send_pkt(l, path, buf + off, n - off < seg ? n - off : seg);
}

static void link_kill(struct qlink *l, enum cell_status st, const char *why)
{
	if (l->dead)
		return;
	l->dead = true;
	l->death = st;
	if (!l->why[0] || st != CELL_STATUS_PERMISSION_DENIED)
		snprintf(l->why, sizeof(l->why), "%.60s: %.130s", l->addr, why);
}

/* Send CONNECTION_CLOSE for a local error @rv (a liberr, 0 for a clean close). */
static void link_close(struct qlink *l, int rv, uint64_t app_code)
{
	ngtcp2_connection_close_error ccerr;
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	uint8_t buf[PKT_MAX];
	ngtcp2_ssize n;

	if (!l->conn || ngtcp2_conn_is_in_closing_period(l->conn) ||
	    ngtcp2_conn_is_in_draining_period(l->conn))
		return;
	ngtcp2_connection_close_error_default(&ccerr);
	if (rv == NGTCP2_ERR_CRYPTO)
		ngtcp2_connection_close_error_set_transport_error_tls_alert(
			&ccerr, ngtcp2_conn_get_tls_alert(l->conn), NULL, 0);
	else if (rv)
		ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, rv, NULL, 0);
	else
		ngtcp2_connection_close_error_set_application_error(&ccerr, app_code, NULL, 0);
	ngtcp2_path_storage_init(&ps, (ngtcp2_sockaddr *)&l->local, l->llen,
				 (ngtcp2_sockaddr *)&l->remote, l->rlen, NULL);
	n = ngtcp2_conn_write_connection_close(l->conn, &ps.path, &pi, buf, sizeof(buf), &ccerr,
					       cell_now_ns());
	if (n > 0)
		send_pkt(l, &ps.path, buf, (size_t)n);
}

/* Why the peer closed the connection, as a status. */
static enum cell_status peer_close_status(struct qlink *l, char *why, size_t cap)
{
	ngtcp2_connection_close_error ccerr;
	uint64_t alert;

	ngtcp2_conn_get_connection_close_error(l->conn, &ccerr);
	if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
	    (ccerr.error_code & ~0xffULL) == NGTCP2_CRYPTO_ERROR) {
		alert = ccerr.error_code & 0xff;
		snprintf(why, cap, "TLS alert %llu from the peer (%s)", (unsigned long long)alert,
			 gnutls_alert_get_strname((gnutls_alert_description_t)alert));
		if ((alert >= 42 && alert <= 46) || alert == 48 || alert == 49 || alert == 116)
			return CELL_STATUS_PERMISSION_DENIED;
		return CELL_STATUS_UNAVAILABLE;
	}
	snprintf(why, cap, "the peer closed the connection (code %llu)",
		 (unsigned long long)ccerr.error_code);
	return CELL_STATUS_UNAVAILABLE;
}

/* One datagram from @from into the link. */
static void link_read(struct qlink *l, const uint8_t *buf, size_t n, const struct sockaddr *from,
		      socklen_t fromlen)
{
	ngtcp2_pkt_info pi = { 0 };
	ngtcp2_path path;
	char why[160];
	int rv;

	if (l->dead)
		return;
	if (!l->connected_sock) {
		memcpy(&l->remote, from, fromlen);
		l->rlen = fromlen;
	}
	path = link_path(l);
	rv = ngtcp2_conn_read_pkt(l->conn, &path, &pi, buf, n, cell_now_ns());
	if (!rv)
		return;
	if (rv == NGTCP2_ERR_DRAINING) {
		enum cell_status st = peer_close_status(l, why, sizeof(why));

		link_kill(l, st, why);
		return;
	}
	if (rv == NGTCP2_ERR_DISCARD_PKT || rv == NGTCP2_ERR_RETRY)
		return;
	link_close(l, rv, 0);
	link_kill(l, l->refused ? CELL_STATUS_PERMISSION_DENIED : CELL_STATUS_UNAVAILABLE,
		  ngtcp2_strerror(rv));
}

static struct qstream *next_to_write(struct qlink *l)
{
	for (struct qstream *s = l->streams; s; s = s->next)
		if (s->tx_armed && !s->fin_sent && !s->reset && s->blocked_round != l->round)
			return s;
	return NULL;
}

/* Write every packet ngtcp2 has for us (stream data, ACKs, timers' probes). */
static void link_write(struct qlink *l)
{
	uint8_t *batch = l->batch;
	ngtcp2_path_storage ps, bps; /* bps: the batch's path */
	ngtcp2_pkt_info pi;
	uint64_t ts = cell_now_ns();
	size_t off = 0, seg = 0; /* batch[0 .. off): datagrams of seg bytes, the last maybe less */

	if (l->dead)
		return;
	l->round++;
	ngtcp2_path_storage_zero(&ps);
	ngtcp2_path_storage_zero(&bps);
	for (int guard = 0; guard < 4096; guard++) {
		struct qstream *s = next_to_write(l);
		ngtcp2_vec v = { 0 };
		ngtcp2_ssize n, nd = -1;
		uint32_t fl = 0;

		if (s) {
			v.base = s->tx + CELL_FRAME_PAD + s->tx_off;
			v.len = s->tx_len - CELL_FRAME_PAD - s->tx_off;
			fl = NGTCP2_WRITE_STREAM_FLAG_MORE | NGTCP2_WRITE_STREAM_FLAG_FIN;
		}
		n = ngtcp2_conn_writev_stream(l->conn, &ps.path, &pi, batch + off, PKT_MAX, &nd, fl,
					      s ? s->id : -1, s ? &v : NULL, s ? 1 : 0, ts);
		if (s && nd >= 0) {
			s->tx_off += (size_t)nd;
			if ((size_t)nd == v.len)
				s->fin_sent = true;
		}
		if (n == NGTCP2_ERR_WRITE_MORE)
			continue;
		if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
		    n == NGTCP2_ERR_STREAM_NOT_FOUND) {
			s->blocked_round = l->round;
			continue;
		}
		if (n < 0) {
			if (off)
				send_batch(l, &bps.path, batch, off, seg);
			link_close(l, (int)n, 0);
			link_kill(l, CELL_STATUS_UNAVAILABLE, ngtcp2_strerror((int)n));
			return;
		}
		if (n == 0)
			break;
		/*
		 * A datagram longer than the batch's (a path MTU probe) or for
		 * another path (a server validating a peer's new address) starts
		 * a batch of its own; a shorter one is the batch's last.
		 */
		if (off && ((size_t)n > seg || !ngtcp2_path_eq(&bps.path, &ps.path))) {
			send_batch(l, &bps.path, batch, off, seg);
			memmove(batch, batch + off, (size_t)n);
			off = 0;
		}
		if (!off) {
			seg = (size_t)n;
			ngtcp2_path_copy(&bps.path, &ps.path);
		}
		off += (size_t)n;
		if ((size_t)n < seg || off + PKT_MAX > GSO_SEGS * PKT_MAX || !l->gso) {
			send_batch(l, &bps.path, batch, off, seg);
			off = 0;
		}
	}
	if (off)
		send_batch(l, &bps.path, batch, off, seg);
}

/* Timers: loss recovery, keep-alive, idle timeout. */
static void link_expire(struct qlink *l)
{
	int rv;

	if (l->dead || ngtcp2_conn_get_expiry(l->conn) > cell_now_ns())
		return;
	rv = ngtcp2_conn_handle_expiry(l->conn, cell_now_ns());
	if (rv == NGTCP2_ERR_IDLE_CLOSE)
		link_kill(l, CELL_STATUS_UNAVAILABLE, "peer silent past the idle timeout");
	else if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT)
		link_kill(l, CELL_STATUS_UNAVAILABLE, "handshake timed out");
	else if (rv)
		link_kill(l, CELL_STATUS_UNAVAILABLE, ngtcp2_strerror(rv));
}

/* Streams waiting for a stream id (the peer's MAX_STREAMS). */
static void open_pending(struct qlink *l)
{
	struct qstream *s;

	while ((s = l->pending)) {
		if (ngtcp2_conn_open_bidi_stream(l->conn, &s->id, s))
			return;
		l->pending = s->next;
		append_stream(&l->streams, s);
	}
}

/* ======================================================================= */
/* Client                                                                  */
/* ======================================================================= */

static void qc_fail_all_locked(struct cell_qc *qc)
{
	for (struct cell_qcall *call = qc->calls; call; call = call->next)
		if (call->state == QC_SUBMITTED)
			call_complete(call, qc->l.death);
}

/*
 * Whether the client has nothing of its own on the wire: handshake done, no
 * stream open or waiting for an id (every request fully acknowledged and its
 * response in, nothing cancelled or lingering), no call waiting.  Then what
 * ngtcp2 would write after reading is an ACK alone (or a window update), and
 * qc_drive_locked() leaves it for the next request to carry (ngtcp2 puts a
 * pending ACK into the next packet: ack_thresh 1), instead of one datagram
 * per call for it.  Nothing can need retransmitting then (no stream holds
 * unacknowledged data), so no loss recovery waits on it; an idle client
 * drives nothing anyway (no thread here), so the server's own timers cover
 * the last ACK of a burst as before: it probes once its PTO passes.
 */
static bool qc_idle_locked(struct cell_qc *qc)
{
	if (!qc->l.ready || qc->l.streams || qc->l.pending || qc->lingering)
		return false;
	for (struct cell_qcall *call = qc->calls; call; call = call->next)
		if (call->state != QC_DONE)
			return false;
	return true;
}

/* Read what is queued, run timers, write.  qc->lock held. */
static void qc_drive_locked(struct cell_qc *qc)
{
	struct qlink *l = &qc->l;
	uint8_t buf[RX_MAX];
	ssize_t n;

	for (int i = 0; i < 256 && !l->dead; i++) {
		size_t seg;

		n = rx_read(l->fd, buf, sizeof(buf), NULL, NULL, &seg);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
				link_kill(l, CELL_STATUS_UNAVAILABLE, strerror(errno));
			break;
		}
		for (size_t off = 0; off < (size_t)n && !l->dead; off += seg)
			link_read(l, buf + off, (size_t)n - off < seg ? (size_t)n - off : seg, NULL,
				  0);
	}
	link_expire(l);
	if (!l->dead && !qc_idle_locked(qc)) {
		open_pending(l);
		link_write(l);
	}
	if (l->dead)
		qc_fail_all_locked(qc);
	pthread_cond_broadcast(&qc->cond);
}

/*
 * Wait until @done(@arg) or @deadline, driving the connection or sleeping
 * while another thread drives it.  qc->lock held (dropped while asleep).
 */
static void qc_wait_locked(struct cell_qc *qc, bool (*done)(void *), void *arg, uint64_t deadline)
{
	while (!done(arg) && !qc->l.dead) {
		uint64_t now = cell_now_ns(), until = deadline, exp;
		struct pollfd pfd = { .events = POLLIN };
		struct timespec ts;

		if (now >= deadline)
			return;
		if (qc->driving) {
			struct timespec abs;

			clock_gettime(CLOCK_REALTIME, &abs);
			abs.tv_nsec += 20 * 1000 * 1000;
			if (abs.tv_nsec >= 1000000000L) {
				abs.tv_sec++;
				abs.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&qc->cond, &qc->lock, &abs);
			continue;
		}
		exp = ngtcp2_conn_get_expiry(qc->l.conn);
		if (exp < until)
			until = exp;
		until = until > now ? until - now : 0;
		ts.tv_sec = (time_t)(until / CELL_NSEC_PER_SEC);
		ts.tv_nsec = (long)(until % CELL_NSEC_PER_SEC);
		pfd.fd = qc->l.fd; /* read under the lock */
		qc->driving = true;
		pthread_mutex_unlock(&qc->lock);
		(void)ppoll(&pfd, 1, &ts, NULL);
		pthread_mutex_lock(&qc->lock);
		qc->driving = false;
		qc_drive_locked(qc);
	}
}

static bool link_ready(void *arg)
{
	return ((struct qlink *)arg)->ready;
}

static int qc_open(struct cell_qc *qc, const struct cell_quic_opts *qo, uint64_t deadline)
{
	struct qlink *l = &qc->l;
	ngtcp2_settings settings;
	ngtcp2_transport_params params;
	ngtcp2_callbacks cb;
	ngtcp2_cid dcid, scid;
	struct qparams q;
	ngtcp2_path path;
	int rv;

	qparams_of(qo, &q);
	link_init(l, &qc->auth, &q);
	if (resolve(qc->target, false, &l->remote, &l->rlen)) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "quic://%s: not host:port", qc->target);
		return -EINVAL;
	}
	describe((struct sockaddr *)&l->remote, l->addr, sizeof(l->addr));
	l->fd = socket(l->remote.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0 || connect(l->fd, (struct sockaddr *)&l->remote, l->rlen))
		return -errno;
	grow_buffers(l->fd);
	l->gso = udp_offload(l->fd);
	l->batch = qc->batch;
	l->connected_sock = true;
	l->llen = sizeof(l->local);
	if (getsockname(l->fd, (struct sockaddr *)&l->local, &l->llen))
		return -errno;
	dcid.datalen = SCID_LEN;
	scid.datalen = SCID_LEN;
	rand_bytes(dcid.data, SCID_LEN, NULL);
	rand_bytes(scid.data, SCID_LEN, NULL);
	settings_of(&q, &settings, &params);
	set_callbacks(&cb, false);
	path = link_path(l);
	rv = ngtcp2_conn_client_new(&l->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
				    &settings, &params, NULL, l);
	if (rv)
		return -ENOMEM;
	ngtcp2_conn_set_keep_alive_timeout(l->conn, q.idle_ns / 3);
	rv = tls_setup(l);
	if (rv)
		return rv;
	link_write(l);
	qc_wait_locked(qc, link_ready, l, deadline);
	if (l->ready && !l->dead)
		return 0;
	if (l->dead && l->death == CELL_STATUS_PERMISSION_DENIED) {
		cell_fail(CELL_STATUS_PERMISSION_DENIED, "quic://%s: %s", qc->target, l->why);
		return -EACCES;
	}
	if (l->dead) {
		cell_fail(CELL_STATUS_UNAVAILABLE, "quic://%s: %s", qc->target, l->why);
		return -ECONNREFUSED;
	}
	cell_fail(CELL_STATUS_DEADLINE_EXCEEDED, "quic://%s: no handshake before the deadline",
		  qc->target);
	return -ETIMEDOUT;
}

struct cell_qc *cell_qc_connect(const char *target, const struct cell_client_opts *o)
{
	const struct cell_quic_opts *qo = o->quic;
	struct cell_qc *qc;
	uint64_t deadline;
	int err;

	if (qo && (qo->sz < sizeof(size_t) || qo->sz > sizeof(struct cell_quic_opts))) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "bad cell_quic_opts size");
		return errno = EINVAL, NULL;
	}
	qc = calloc(1, sizeof(*qc));
	if (!qc)
		return errno = ENOMEM, NULL;
	pthread_mutex_init(&qc->lock, NULL);
	pthread_cond_init(&qc->cond, NULL);
	qc->l.fd = -1;
	qc->o = *o;
	qc->fingerprint = o->fingerprint;
	qc->max_inflight = o->max_inflight ? o->max_inflight : CELL_RPC_DEFAULT_INFLIGHT;
	if (qc->max_inflight > MAX_BIDI)
		qc->max_inflight = MAX_BIDI;
	qc->block = qo && qo->block_when_full;
	snprintf(qc->target, sizeof(qc->target), "%s", target);
	deadline = o->connect_deadline ? o->connect_deadline
				       : cell_deadline_in_ns(5 * CELL_NSEC_PER_SEC);
	qc->qo = qo ? *qo : (struct cell_quic_opts){ .sz = sizeof(*qo) };
	qc->qo.identity = NULL; /* not kept: the certificate holds the key */
	err = cell_qauth_init(&qc->auth, qo, false);
	if (!err)
		gnutls_certificate_set_verify_function(qc->auth.cred, verify_peer);
	if (!err) {
		pthread_mutex_lock(&qc->lock);
		err = qc_open(qc, &qc->qo, deadline);
		pthread_mutex_unlock(&qc->lock);
	}
	if (err) {
		cell_qc_free(qc);
		errno = -err;
		return NULL;
	}
	return qc;
}

void cell_qc_free(struct cell_qc *qc)
{
	if (!qc)
		return;
	if (qc->l.conn && !qc->l.dead)
		link_close(&qc->l, 0, QERR_GOING_AWAY);
	while (qc->calls)
		cell_qc_end(qc->calls);
	link_fini(&qc->l);
	if (qc->l.fd >= 0)
		close(qc->l.fd);
	cell_qauth_fini(&qc->auth);
	pthread_cond_destroy(&qc->cond);
	pthread_mutex_destroy(&qc->lock);
	free(qc);
}

bool cell_qc_connected(struct cell_qc *qc)
{
	bool up;

	pthread_mutex_lock(&qc->lock);
	if (!qc->driving)
		qc_drive_locked(qc);
	up = !qc->l.dead;
	pthread_mutex_unlock(&qc->lock);
	return up;
}

uint32_t cell_qc_max_inflight(struct cell_qc *qc)
{
	return qc->max_inflight;
}

/*
 * A connection that died with no call in flight (most often: idle past the
 * timeout while nobody drove it, so no keep-alive went out) is made again
 * by the next call: nothing can be delivered twice, as nothing was pending.
 */
static void qc_reconnect_locked(struct cell_qc *qc, uint64_t deadline)
{
	int fd = qc->l.fd;

	cell_log(CELL_LOG_INFO, "quic://%s: connecting again (%s)", qc->target, qc->l.why);
	link_fini(&qc->l);
	if (fd >= 0)
		close(fd);
	memset(&qc->l, 0, sizeof(qc->l));
	qc->l.fd = -1;
	if (qc_open(qc, &qc->qo, deadline)) {
		qc->l.dead = true;
		if (!qc->l.why[0])
			snprintf(qc->l.why, sizeof(qc->l.why), "%s", cell_last_error(NULL));
	}
}

static bool slot_free(void *arg)
{
	struct cell_qc *qc = arg;

	return qc->inflight < qc->max_inflight;
}

/*
 * Ended calls' unclosed streams have a budget of their own, as large as
 * max_inflight.  It is the transport's backpressure, not the caller's
 * count: a call always waits for it (until its deadline), even without
 * block_when_full, so a caller with max_inflight 1 is not refused because
 * its previous call's last bytes are not acknowledged yet.
 */
static bool linger_free(void *arg)
{
	struct cell_qc *qc = arg;

	return qc->lingering < qc->max_inflight;
}

enum cell_status cell_qc_begin(struct cell_qc *qc, uint16_t method, uint32_t len,
			       unsigned int flags, uint64_t deadline, struct cell_qcall **callp,
			       void **buf)
{
	struct cell_qcall *call;
	enum cell_status st = CELL_STATUS_OK;

	*callp = NULL;
	*buf = NULL;
	if (len > qc->l.max_payload)
		return cell_fail(CELL_STATUS_TOO_LARGE,
				 "payload of %u bytes above the QUIC window's %u", len,
				 qc->l.max_payload);
	call = calloc(1, sizeof(*call));
	if (call)
		call->buf = malloc(TX_PAD + (size_t)len);
	if (!call || !call->buf) {
		if (call)
			free(call);
		return cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	}
	pthread_mutex_lock(&qc->lock);
	/* Nobody drove an idle connection: its timers may have killed it by now. */
	if (!qc->inflight && !qc->driving)
		link_expire(&qc->l);
	if (qc->l.dead && !qc->inflight)
		qc_reconnect_locked(qc, deadline);
	if (qc->block && !slot_free(qc))
		qc_wait_locked(qc, slot_free, qc, deadline);
	if (slot_free(qc) && !linger_free(qc))
		qc_wait_locked(qc, linger_free, qc, deadline);
	if (qc->l.dead)
		st = cell_fail(qc->l.death, "quic://%s: %s", qc->target, qc->l.why);
	else if (!slot_free(qc))
		st = qc->block ? cell_fail(CELL_STATUS_DEADLINE_EXCEEDED, "no call slot free "
									  "before the deadline")
			       : cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED,
					   "%u calls in flight already", qc->max_inflight);
	else if (!linger_free(qc))
		st = cell_fail(CELL_STATUS_DEADLINE_EXCEEDED,
			       "%u ended calls' streams not closed before the deadline",
			       qc->lingering);
	if (st) {
		pthread_mutex_unlock(&qc->lock);
		free(call->buf);
		free(call);
		return st;
	}
	qc->inflight++;
	call->qc = qc;
	call->method = method;
	call->oneway = flags & CELL_CALL_ONEWAY;
	call->id = call->oneway ? 0 : (++qc->next_id ? qc->next_id : ++qc->next_id);
	call->deadline = deadline;
	call->len = len;
	call->t0 = cell_now_ns();
	call->state = QC_BEGUN;
	call->next = qc->calls;
	qc->calls = call;
	pthread_mutex_unlock(&qc->lock);
	*callp = call;
	*buf = call->buf + TX_PAD;
	return CELL_STATUS_OK;
}

enum cell_status cell_qc_submit(struct cell_qcall *call, uint32_t len)
{
	struct cell_qc *qc = call->qc;
	struct cell_hdr hdr = { .flags = CELL_F_REQUEST, .method = call->method, .len = len };
	struct qstream *s;

	if (call->state != QC_BEGUN || len > call->len)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "call not begun, or too long");
	if (call->oneway)
		hdr.flags |= CELL_F_ONEWAY;
	hdr.version = CELL_WIRE_VERSION;
	hdr.correlation = call->id;
	cell_hdr_set_fingerprint(&hdr, qc->fingerprint);
	cell_hdr_encode(&hdr, call->buf + CELL_FRAME_PAD);
	pthread_mutex_lock(&qc->lock);
	if (qc->l.dead) {
		call_complete(call, qc->l.death);
		pthread_mutex_unlock(&qc->lock);
		return cell_fail(call->status, "quic://%s: %s", qc->target, qc->l.why);
	}
	s = stream_new(&qc->l);
	if (!s) {
		call_complete(call, CELL_STATUS_RESOURCE_EXHAUSTED);
		pthread_mutex_unlock(&qc->lock);
		return cell_fail(call->status, "out of memory");
	}
	s->tx = call->buf;
	s->tx_len = TX_PAD + (size_t)len;
	s->tx_armed = true;
	call->buf = NULL;
	s->call = call->oneway ? NULL : call;
	call->s = call->oneway ? NULL : s;
	if (call->oneway) { /* done at once, but its bytes stay until the stream closes */
		s->oneway = true;
		s->lingers = true;
		qc->lingering++;
	}
	append_stream(&qc->l.pending, s);
	call->state = QC_SUBMITTED;
	if (call->oneway)
		call_complete(call, CELL_STATUS_OK);
	if (!qc->driving)
		qc_drive_locked(qc);
	pthread_mutex_unlock(&qc->lock);
	return CELL_STATUS_OK;
}

static bool call_is_done(void *arg)
{
	return ((struct cell_qcall *)arg)->state == QC_DONE;
}

static void cancel_stream_locked(struct cell_qcall *call)
{
	struct qstream *s = call->s;

	if (!s)
		return;
	s->call = NULL;
	call->s = NULL;
	if (s->id < 0) { /* never opened: nobody saw it */
		unlink_stream(&call->qc->l.pending, s);
		stream_free(s);
		return;
	}
	s->reset = true;
	s->lingers = true;
	call->qc->lingering++;
	if (!call->qc->l.dead)
		(void)ngtcp2_conn_shutdown_stream(call->qc->l.conn, s->id, QERR_CANCELLED);
}

enum cell_status cell_qc_wait(struct cell_qcall *call, struct cell_response *resp)
{
	struct cell_qc *qc = call->qc;

	if (call->state == QC_BEGUN)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "call not submitted");
	pthread_mutex_lock(&qc->lock);
	qc_wait_locked(qc, call_is_done, call, call->deadline);
	if (call->state != QC_DONE) {
		call_complete(call, qc->l.dead ? qc->l.death : CELL_STATUS_DEADLINE_EXCEEDED);
		cancel_stream_locked(call);
		if (!qc->driving)
			qc_drive_locked(qc);
	}
	pthread_mutex_unlock(&qc->lock);
	if (resp) {
		memset(resp, 0, sizeof(*resp));
		resp->status = call->status;
		if (call->resp && call->status == CELL_STATUS_OK) {
			resp->data = call->resp;
			resp->len = call->rhdr.len;
		} else if (call->resp) {
			uint16_t status;

			if (cell_error_decode(call->resp, call->rhdr.len, &status, &resp->detail,
					      &resp->detail_len))
				resp->detail = NULL, resp->detail_len = 0;
		}
	}
	if (call->status && qc->l.dead && !call->resp)
		cell_fail(call->status, "quic://%s: %s", qc->target, qc->l.why);
	else if (call->status)
		cell_fail(call->status, "%s", cell_status_name(call->status));
	return call->status;
}

void cell_qc_end(struct cell_qcall *call)
{
	struct cell_qc *qc = call->qc;

	pthread_mutex_lock(&qc->lock);
	if (call->state == QC_SUBMITTED) {
		call_complete(call, CELL_STATUS_CANCELLED);
		cancel_stream_locked(call);
	} else if (call->s) {
		call->s->call = NULL;
		call->s->lingers = true;
		qc->lingering++;
		call->s = NULL;
	}
	if (qc->o.metrics && !call->oneway && call->state == QC_DONE)
		cell_metrics_record(qc->o.metrics, call->method, call->status,
				    cell_now_ns() - call->t0);
	if (call->rx_bytes && !qc->l.dead)
		ngtcp2_conn_extend_max_offset(qc->l.conn, call->rx_bytes);
	for (struct cell_qcall **pp = &qc->calls; *pp; pp = &(*pp)->next)
		if (*pp == call) {
			*pp = call->next;
			break;
		}
	qc->inflight--;
	if (!qc->driving && !qc->l.dead && !qc_idle_locked(qc))
		qc_drive_locked(qc); /* window updates, resets */
	pthread_cond_broadcast(&qc->cond);
	pthread_mutex_unlock(&qc->lock);
	free(call->buf);
	free(call->resp);
	free(call);
}

uint32_t cell_qc_call_id(const struct cell_qcall *call)
{
	return call->id;
}

int cell_qc_cancel(struct cell_qc *qc, uint32_t id)
{
	int err = -ENOENT;

	pthread_mutex_lock(&qc->lock);
	for (struct cell_qcall *call = qc->calls; call; call = call->next)
		if (call->id == id && call->state == QC_SUBMITTED) {
			call_complete(call, CELL_STATUS_CANCELLED);
			cancel_stream_locked(call);
			if (!qc->driving)
				qc_drive_locked(qc);
			err = 0;
			break;
		}
	pthread_cond_broadcast(&qc->cond);
	pthread_mutex_unlock(&qc->lock);
	return err;
}

/* ======================================================================= */
/* Server                                                                  */
/* ======================================================================= */

struct cell_qs {
	struct cell_server *srv;
	pthread_mutex_t lock;
	int fd, timerfd;
	bool gso; /* udp_offload() */
	struct sockaddr_storage local;
	socklen_t llen;
	struct cell_qauth auth;
	struct qparams q;
	uint64_t fingerprint;
	uint32_t max_conns;
	unsigned int nlinks;
	struct qlink *links;
	uint64_t timer_due;		   /* what timerfd is armed for (0: nothing) */
	uint8_t batch[GSO_SEGS * PKT_MAX]; /* every link's batch (under lock) */
};

static struct qlink *qs_find(struct cell_qs *qs, const uint8_t *dcid, size_t len)
{
	for (struct qlink *l = qs->links; l; l = l->next)
		for (unsigned int i = 0; i < l->ncids; i++)
			if (l->cids[i].datalen == len && !memcmp(l->cids[i].data, dcid, len))
				return l;
	return NULL;
}

static void qs_drop(struct cell_qs *qs, struct qlink *l)
{
	for (struct qlink **pp = &qs->links; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	qs->nlinks--;
	link_fini(l);
	free(l);
}

static struct qlink *qs_accept(struct cell_qs *qs, const uint8_t *buf, size_t n,
			       const struct sockaddr *from, socklen_t fromlen)
{
	ngtcp2_settings settings;
	ngtcp2_transport_params params;
	ngtcp2_callbacks cb;
	ngtcp2_pkt_hd hd;
	ngtcp2_cid scid;
	ngtcp2_path path;
	struct qlink *l;

	if (ngtcp2_accept(&hd, buf, n))
		return NULL;
	if (qs->nlinks >= qs->max_conns) {
		char who[64];

		describe(from, who, sizeof(who));
		cell_log(CELL_LOG_WARNING, "quic: refused %s: %u connections already", who,
			 qs->nlinks);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	link_init(l, &qs->auth, &qs->q);
	l->server = true;
	l->qs = qs;
	l->fd = qs->fd;
	l->gso = qs->gso;
	l->batch = qs->batch;
	memcpy(&l->local, &qs->local, qs->llen);
	l->llen = qs->llen;
	memcpy(&l->remote, from, fromlen);
	l->rlen = fromlen;
	describe(from, l->addr, sizeof(l->addr));
	scid.datalen = SCID_LEN;
	rand_bytes(scid.data, SCID_LEN, NULL);
	l->cids[l->ncids++] = scid;
	l->cids[l->ncids++] = hd.dcid;
	settings_of(&qs->q, &settings, &params);
	params.original_dcid = hd.dcid;
	set_callbacks(&cb, true);
	path = link_path(l);
	if (ngtcp2_conn_server_new(&l->conn, &hd.scid, &scid, &path, hd.version, &cb, &settings,
				   &params, NULL, l) ||
	    tls_setup(l)) {
		link_fini(l);
		free(l);
		return NULL;
	}
	ngtcp2_conn_set_keep_alive_timeout(l->conn, qs->q.idle_ns / 3);
	l->next = qs->links;
	qs->links = l;
	qs->nlinks++;
	return l;
}

static void qs_read(struct cell_qs *qs)
{
	static _Thread_local uint8_t buf[RX_MAX];
	struct sockaddr_storage from;
	ngtcp2_version_cid vc;
	struct qlink *l;

	for (int i = 0; i < 1024; i++) {
		socklen_t fl = sizeof(from);
		size_t seg;
		ssize_t n = rx_read(qs->fd, buf, sizeof(buf), &from, &fl, &seg);

		if (n < 0)
			return;
		/* One read may hold several datagrams of one sender (GRO). */
		for (size_t off = 0; off < (size_t)n; off += seg) {
			const uint8_t *d = buf + off;
			size_t dn = (size_t)n - off < seg ? (size_t)n - off : seg;

			if (ngtcp2_pkt_decode_version_cid(&vc, d, dn, SCID_LEN))
				continue; /* not QUIC, or a version we do not speak: dropped */
			l = qs_find(qs, vc.dcid, vc.dcidlen);
			if (!l)
				l = qs_accept(qs, d, dn, (struct sockaddr *)&from, fl);
			if (l)
				link_read(l, d, dn, (struct sockaddr *)&from, fl);
		}
	}
}

/* ---- replies to remote peers ------------------------------------------ */

static void *op_reserve(void *ctx, uint32_t len)
{
	struct qstream *s = ctx;

	if (len > s->l->max_payload) {
		errno = EMSGSIZE;
		return NULL;
	}
	free(s->tx);
	s->tx = malloc(TX_PAD + (size_t)len);
	if (!s->tx) {
		errno = ENOMEM;
		return NULL;
	}
	return s->tx + TX_PAD;
}

static int op_commit(void *ctx, const struct cell_hdr *hdr, uint32_t len)
{
	struct qstream *s = ctx;
	struct cell_hdr h = *hdr;

	h.version = CELL_WIRE_VERSION;
	h.len = len;
	cell_hdr_set_fingerprint(&h, s->l->qs->fingerprint);
	cell_hdr_encode(&h, s->tx + CELL_FRAME_PAD);
	s->tx_len = TX_PAD + (size_t)len;
	s->tx_armed = true;
	return 0;
}

static void op_abort(void *ctx)
{
	struct qstream *s = ctx;

	free(s->tx);
	s->tx = NULL;
}

static int op_send(void *ctx, const struct cell_hdr *hdr, const void *data, uint32_t len)
{
	void *p = op_reserve(ctx, len);

	if (!p)
		return -errno;
	if (len)
		memcpy(p, data, len);
	return op_commit(ctx, hdr, len);
}

static const struct cell_reply_ops reply_ops = {
	.reserve = op_reserve,
	.commit = op_commit,
	.abort = op_abort,
	.send = op_send,
};

static void refuse_request(struct qstream *s, enum cell_status st, const char *detail)
{
	struct cell_hdr hdr = {
		.flags = CELL_F_RESPONSE | CELL_F_ERROR,
		.method = s->rd.hdr.method,
		.correlation = s->rd.hdr.correlation,
	};
	uint8_t buf[256];
	size_t n =
		cell_error_encode(buf, sizeof(buf), (uint16_t)st, detail, (uint32_t)strlen(detail));

	cell_hdr_set_fingerprint(&hdr, s->l->qs->fingerprint);
	(void)op_send(s, &hdr, buf, (uint32_t)n);
}

static void serve_stream(struct cell_qs *qs, struct qstream *s)
{
	const struct cell_hdr *h = &s->rd.hdr;
	bool oneway = h->flags & CELL_F_ONEWAY;
	struct cell_vesicle v = {
		.method = h->method,
		.flags = h->flags,
		.correlation = h->correlation,
		.data = s->rd.payload,
		.len = h->len,
		.peer_pid = 0,
		.peer_uid = (uid_t)-1,
		.peer_gid = (gid_t)-1,
		.peer_conn = 0,
		.peer_pidfd = -1,
	};
	char detail[96];

	s->handled = true;
	if ((h->flags & CELL_F_KIND_MASK) != CELL_F_REQUEST) {
		s->reset = true;
		(void)ngtcp2_conn_shutdown_stream(s->l->conn, s->id, QERR_BAD_MESSAGE);
		return;
	}
	if (cell_hdr_fingerprint(h) != qs->fingerprint) {
		snprintf(detail, sizeof(detail),
			 "fingerprint mismatch: client 0x%016llx, server 0x%016llx",
			 (unsigned long long)cell_hdr_fingerprint(h),
			 (unsigned long long)qs->fingerprint);
		if (!oneway)
			refuse_request(s, CELL_STATUS_FINGERPRINT_MISMATCH, detail);
	} else {
		(void)cell_server_serve_remote(qs->srv, &v, oneway ? NULL : &reply_ops, s);
	}
	if (oneway || !s->tx_armed) { /* one-way: an empty FIN closes the stream */
		free(s->tx);
		s->tx = calloc(1, TX_PAD);
		s->tx_len = CELL_FRAME_PAD;
		s->tx_armed = s->tx != NULL;
	}
	cell_qreader_fini(&s->rd);
	ngtcp2_conn_extend_max_offset(s->l->conn, s->rx_bytes);
	s->rx_bytes = 0;
}

static int serve_link(struct cell_qs *qs, struct qlink *l)
{
	int handled = 0;

	for (bool again = true; again && !l->dead;) {
		again = false;
		for (struct qstream *s = l->streams; s; s = s->next)
			if (s->rx_done && !s->handled && !s->reset) {
				serve_stream(qs, s);
				handled++;
				again = true; /* a handler may not change the list, but be safe */
				break;
			}
	}
	return handled;
}

/*
 * Arm the timer for the links' next expiry.  A timer armed for earlier and
 * not yet run out is left as it is (it fires early, cell_qs_service() finds
 * nothing due and arms it again): that spares a timerfd_settime() per
 * request, the loss-detection deadline moving later with every packet.
 */
static void qs_arm_timer(struct cell_qs *qs)
{
	uint64_t due = UINT64_MAX;
	struct itimerspec its = { 0 };

	for (struct qlink *l = qs->links; l; l = l->next) {
		uint64_t e = ngtcp2_conn_get_expiry(l->conn);

		if (e < due)
			due = e;
	}
	due = due ? due : 1;
	if (qs->timer_due && qs->timer_due <= due && qs->timer_due > cell_now_ns())
		return;
	if (due != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(due / CELL_NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(due % CELL_NSEC_PER_SEC);
	}
	(void)timerfd_settime(qs->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
	qs->timer_due = due != UINT64_MAX ? due : 0;
}

int cell_qs_service(struct cell_qs *qs)
{
	uint64_t ticks;
	int handled = 0;

	pthread_mutex_lock(&qs->lock);
	/* Only a timer that has run out can be readable (and must be read: epoll). */
	if (qs->timer_due && cell_now_ns() >= qs->timer_due)
		(void)!read(qs->timerfd, &ticks, sizeof(ticks));
	qs_read(qs);
	for (struct qlink *l = qs->links, *next; l; l = next) {
		next = l->next;
		if (l->ready)
			handled += serve_link(qs, l);
		link_expire(l);
		link_write(l);
		if (l->dead) {
			cell_log(CELL_LOG_INFO, "quic: connection from %s closed: %s", l->addr,
				 l->why);
			qs_drop(qs, l);
		}
	}
	qs_arm_timer(qs);
	pthread_mutex_unlock(&qs->lock);
	return handled;
}

struct cell_qs *cell_qs_new(struct cell_server *srv, const char *addr,
			    const struct cell_quic_opts *o, uint64_t fingerprint)
{
	struct cell_qs *qs;
	int err;

	if (o && (o->sz < sizeof(size_t) || o->sz > sizeof(struct cell_quic_opts))) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "bad cell_quic_opts size");
		return errno = EINVAL, NULL;
	}
	qs = calloc(1, sizeof(*qs));
	if (!qs)
		return errno = ENOMEM, NULL;
	pthread_mutex_init(&qs->lock, NULL);
	qs->srv = srv;
	qs->fd = qs->timerfd = -1;
	qs->fingerprint = fingerprint;
	qs->max_conns = o && o->max_connections ? o->max_connections : DEFAULT_QUIC_CONNS;
	qparams_of(o, &qs->q);
	err = cell_qauth_init(&qs->auth, o, true);
	if (err)
		goto fail;
	gnutls_certificate_set_verify_function(qs->auth.cred, verify_peer);
	err = -EINVAL;
	if (resolve(addr, true, &qs->local, &qs->llen)) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "QUIC listen address \"%s\": not host:port",
			  addr);
		goto fail;
	}
	/*
	 * No SO_REUSEADDR: UDP has no TIME_WAIT to skip, and on Linux it would
	 * let a second server bind the same port and silently take its packets.
	 */
	qs->fd = socket(qs->local.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (qs->fd < 0 || bind(qs->fd, (struct sockaddr *)&qs->local, qs->llen))
		goto fail_errno;
	grow_buffers(qs->fd);
	qs->gso = udp_offload(qs->fd);
	qs->llen = sizeof(qs->local);
	if (getsockname(qs->fd, (struct sockaddr *)&qs->local, &qs->llen))
		goto fail_errno;
	qs->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (qs->timerfd < 0)
		goto fail_errno;
	return qs;
fail_errno:
	err = -errno;
	cell_fail(cell_errno_status(err), "QUIC socket %s: %s", addr, strerror(-err));
fail:
	cell_qs_free(qs);
	errno = -err;
	return NULL;
}

void cell_qs_free(struct cell_qs *qs)
{
	if (!qs)
		return;
	while (qs->links) {
		link_close(qs->links, 0, QERR_GOING_AWAY);
		qs_drop(qs, qs->links);
	}
	if (qs->fd >= 0)
		close(qs->fd);
	if (qs->timerfd >= 0)
		close(qs->timerfd);
	cell_qauth_fini(&qs->auth);
	pthread_mutex_destroy(&qs->lock);
	free(qs);
}

int cell_qs_fds(struct cell_qs *qs, int fds[2])
{
	fds[0] = qs->fd;
	fds[1] = qs->timerfd;
	return 2;
}

unsigned int cell_qs_port(const struct cell_qs *qs)
{
	const struct sockaddr *sa = (const void *)&qs->local;

	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

unsigned int cell_qs_connections(struct cell_qs *qs)
{
	unsigned int n;

	pthread_mutex_lock(&qs->lock);
	n = qs->nlinks;
	pthread_mutex_unlock(&qs->lock);
	return n;
}

int cell_quic_public_key(const struct cell_quic_opts *opts,
			 char hex[2 * CELL_QUIC_PUBKEY_BYTES + 1])
{
	uint8_t sk[CELL_QUIC_SECKEY_BYTES];
	bool ephemeral;
	int err = cell_qauth_load_key(opts, sk, &ephemeral);

	if (!err)
		cell_hex(sk + 32, CELL_QUIC_PUBKEY_BYTES, hex);
	memset(sk, 0, sizeof(sk));
	return err;
}
