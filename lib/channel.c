// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Channels: how one side of a connection sends and receives frames, the
 * same way on the ring path and on the unix path.
 *
 * A frame is [u32 zero][struct cell_hdr][payload], 4 bytes of padding
 * first so the payload is 8-byte aligned both in a ring record and in a
 * socket buffer.  A payload that does not fit (a ring record, or a socket
 * message of CELL_RPC_SOCKET_FRAME_MAX) travels as a sealed memfd: on the
 * socket as an ATTACHMENT frame carrying the fd, whose payload is the
 * inner header; on the ring path the same ATTACHMENT frame is also
 * committed to the ring after the fd was sent, so the attachment keeps its
 * place among the ring's frames and the receiver finds the fd already
 * queued on the socket when it reads the marker.
 *
 * Everything read from the peer is checked before use: frame headers by
 * cell_frame_decode(), the fingerprint against the agreed one, attachments
 * by their seals and size.  A violation is -EBADMSG and the caller drops
 * the connection.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_internal.h"

#define STAGE_BYTES (CELL_FRAME_HEAD + CELL_RPC_SOCKET_FRAME_MAX)

int cell_chan_init(struct cell_chan *ch, int sock, uint64_t fingerprint)
{
	memset(ch, 0, sizeof(*ch));
	ch->sock = sock;
	ch->fingerprint = fingerprint;
	ch->tx.fd = -1;
	ch->rx.fd = -1;
	ch->tx.wake_fd = -1;
	ch->rx.wake_fd = -1;
	ch->tx_att.fd = -1;
	ch->q_tail = &ch->q_head;
	ch->tx_stage = aligned_alloc(8, STAGE_BYTES);
	ch->rx_buf = aligned_alloc(8, STAGE_BYTES);
	if (!ch->tx_stage || !ch->rx_buf || cell_chan_set_inflight(ch, 0)) {
		free(ch->tx_stage);
		free(ch->rx_buf);
		ch->tx_stage = NULL;
		ch->rx_buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

int cell_chan_set_inflight(struct cell_chan *ch, uint32_t inflight)
{
	unsigned int cap = inflight + CELL_ATT_QUEUE, n = ch->att_count;
	int *fds = malloc(cap * sizeof(*fds));

	if (!fds)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		fds[i] = ch->att_fds[(ch->att_head + i) % ch->att_cap];
	free(ch->att_fds);
	ch->att_fds = fds;
	ch->att_cap = cap;
	ch->att_head = 0;
	return 0;
}

void cell_chan_fini(struct cell_chan *ch)
{
	cell_chan_tx_abort(ch);
	while (ch->q_head) {
		struct cell_qframe *q = ch->q_head;

		ch->q_head = q->next;
		if (q->fd >= 0)
			close(q->fd);
		free(q);
	}
	ch->q_tail = &ch->q_head;
	while (ch->att_count) {
		close(ch->att_fds[ch->att_head]);
		ch->att_head = (ch->att_head + 1) % ch->att_cap;
		ch->att_count--;
	}
	free(ch->att_fds);
	ch->att_fds = NULL;
	cell_ring_detach(&ch->tx);
	cell_ring_detach(&ch->rx);
	if (ch->sock >= 0)
		close(ch->sock);
	ch->sock = -1;
	free(ch->tx_stage);
	free(ch->rx_buf);
	ch->tx_stage = NULL;
	ch->rx_buf = NULL;
}

bool cell_chan_alive(struct cell_chan *ch)
{
	struct pollfd pfd = { .fd = ch->sock, .events = POLLRDHUP };

	if (ch->dead)
		return false;
	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)))
		ch->dead = true;
	return !ch->dead;
}

/* A deadline of 0 means CELL_CHAN_WAIT_NS from now, read off the clock only when needed. */
static uint64_t lazy_deadline(uint64_t deadline)
{
	return deadline ? deadline : cell_deadline_in_ns(CELL_CHAN_WAIT_NS);
}

static uint32_t ring_payload_max(const struct cell_chan *ch)
{
	return CELL_RING_RECORD_MAX(ch->tx.size) - CELL_FRAME_HEAD;
}

static struct cell_qframe *qframe_new(bool to_ring, uint32_t n, int fd)
{
	struct cell_qframe *q = aligned_alloc(8, cell_align8((uint32_t)sizeof(*q) + n));

	if (!q)
		return NULL;
	q->next = NULL;
	q->to_ring = to_ring;
	q->fd = fd;
	q->n = n;
	return q;
}

static void enqueue(struct cell_chan *ch, struct cell_qframe *q)
{
	*ch->q_tail = q;
	ch->q_tail = &q->next;
}

/* Queue a copy of @n frame bytes (from the pad on); takes @fd. */
static int enqueue_copy(struct cell_chan *ch, bool to_ring, const void *frame, uint32_t n, int fd)
{
	struct cell_qframe *q = qframe_new(to_ring, n, fd);

	if (!q) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	memcpy(q->bytes, frame, n);
	enqueue(ch, q);
	return 0;
}

/* Send @n frame bytes (from the pad on) on the socket without waiting. */
static int sock_send_now(struct cell_chan *ch, const uint8_t *frame, uint32_t n, int fd)
{
	struct iovec iov = { (void *)(frame + CELL_FRAME_PAD), n - CELL_FRAME_PAD };
	/* A deadline already past: one try, -ETIMEDOUT if the buffer is full. */
	int err = cell_ux_send(ch->sock, &iov, 1, fd >= 0 ? &fd : NULL, fd >= 0, 1);

	return err == -ETIMEDOUT ? -EAGAIN : err;
}

int cell_chan_flush(struct cell_chan *ch)
{
	while (ch->q_head) {
		struct cell_qframe *q = ch->q_head;
		int err = 0;

		if (q->to_ring) {
			uint8_t *rec = cell_ring_reserve(&ch->tx, q->n);

			if (!rec)
				return -errno;
			memcpy(rec, q->bytes, q->n);
			err = cell_ring_commit(&ch->tx, q->n);
		} else {
			err = sock_send_now(ch, q->bytes, q->n, q->fd);
		}
		if (err)
			return err;
		ch->q_head = q->next;
		if (!ch->q_head)
			ch->q_tail = &ch->q_head;
		if (q->fd >= 0)
			close(q->fd);
		free(q);
	}
	return 0;
}

void *cell_chan_tx_begin(struct cell_chan *ch, uint32_t len, uint64_t deadline,
			 bool (*alive)(void *ctx), void *ctx)
{
	uint8_t *rec;
	int err;

	if (ch->tx_kind != TX_NONE) {
		errno = EBUSY;
		return NULL;
	}
	if (len > CELL_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (ch->shm && len <= ring_payload_max(ch)) {
		rec = ch->q_head ? NULL : cell_ring_reserve(&ch->tx, CELL_FRAME_HEAD + len);
		if (ch->queue_mode && !rec && (ch->q_head || errno == EAGAIN)) {
			/* No waiting: built on the heap, queued at commit. */
			ch->tx_q = qframe_new(true, CELL_FRAME_HEAD + len, -1);
			if (!ch->tx_q) {
				errno = ENOMEM;
				return NULL;
			}
			ch->tx_kind = TX_QUEUE;
			ch->tx_len = len;
			return ch->tx_q->bytes + CELL_FRAME_HEAD;
		}
		if (!rec && errno == EAGAIN)
			rec = cell_ring_reserve_wait(&ch->tx, CELL_FRAME_HEAD + len,
						     lazy_deadline(deadline), alive, ctx);
		if (!rec)
			return NULL;
		ch->tx_kind = TX_RING;
		ch->tx_len = len;
		ch->tx_rec = rec;
		return rec + CELL_FRAME_HEAD;
	}
	if (!ch->shm && len <= CELL_RPC_SOCKET_FRAME_MAX) {
		ch->tx_kind = TX_STAGE;
		ch->tx_len = len;
		return ch->tx_stage + CELL_FRAME_HEAD;
	}
	if (!ch->attachments) {
		errno = EMSGSIZE;
		return NULL;
	}
	err = cell_att_create(&ch->tx_att, len);
	if (err) {
		errno = -err;
		return NULL;
	}
	ch->tx_kind = TX_ATT;
	ch->tx_len = len;
	return ch->tx_att.map;
}

void cell_chan_tx_abort(struct cell_chan *ch)
{
	if (ch->tx_kind == TX_QUEUE)
		free(ch->tx_q);
	ch->tx_q = NULL;
	if (ch->tx_kind == TX_RING)
		cell_ring_abort(&ch->tx);
	else if (ch->tx_kind == TX_ATT)
		cell_att_close(&ch->tx_att);
	ch->tx_kind = TX_NONE;
}

void cell_chan_kick(struct cell_chan *ch)
{
	if (ch->shm)
		cell_ring_kick(&ch->tx);
}

static void put_frame_head(uint8_t *at, struct cell_hdr *hdr, uint64_t fingerprint)
{
	memset(at, 0, CELL_FRAME_PAD);
	hdr->version = CELL_WIRE_VERSION;
	cell_hdr_set_fingerprint(hdr, fingerprint);
	cell_hdr_encode(hdr, at + CELL_FRAME_PAD);
}

static int send_attachment(struct cell_chan *ch, struct cell_hdr *inner, uint32_t len,
			   uint64_t deadline, bool (*alive)(void *ctx), void *ctx)
{
	uint8_t frame[CELL_FRAME_HEAD + CELL_HDR_SIZE];
	/* The trailer is the inner frame's: the marker itself carries none. */
	struct cell_hdr outer = {
		.flags = inner->flags & ~CELL_F_TRACE,
		.method = CELL_METHOD_ATTACHMENT,
		.correlation = inner->correlation,
		.len = CELL_HDR_SIZE,
	};
	struct iovec iov = { frame + CELL_FRAME_PAD, sizeof(frame) - CELL_FRAME_PAD };
	uint8_t *rec;
	int err;

	inner->len = len;
	err = cell_att_seal(&ch->tx_att, len);
	if (err)
		goto out;
	put_frame_head(frame, &outer, ch->fingerprint);
	inner->version = CELL_WIRE_VERSION;
	cell_hdr_set_fingerprint(inner, ch->fingerprint);
	cell_hdr_encode(inner, frame + CELL_FRAME_HEAD);
	if (ch->queue_mode) {
		err = ch->q_head ? -EAGAIN : sock_send_now(ch, frame, sizeof(frame), ch->tx_att.fd);
		if (err == -EAGAIN) {
			int fd = dup(ch->tx_att.fd);

			err = fd < 0 ? -errno : enqueue_copy(ch, false, frame, sizeof(frame), fd);
		}
		if (err || !ch->shm)
			goto out;
		rec = ch->q_head ? NULL : cell_ring_reserve(&ch->tx, sizeof(frame));
		if (rec) {
			memcpy(rec, frame, sizeof(frame));
			err = cell_ring_commit(&ch->tx, sizeof(frame));
		} else {
			err = ch->q_head || errno == EAGAIN
				      ? enqueue_copy(ch, true, frame, sizeof(frame), -1)
				      : -errno;
		}
		goto out;
	}
	deadline = lazy_deadline(deadline);
	/*
	 * The marker keeps the attachment's place in the ring's order.  Its
	 * room is taken before the fd goes: an fd sent without its marker
	 * would be paired with the next attachment's marker by the peer.
	 */
	rec = ch->shm ? cell_ring_reserve_wait(&ch->tx, sizeof(frame), deadline, alive, ctx) : NULL;
	if (ch->shm && !rec) {
		err = -errno;
		goto out;
	}
	if (rec)
		cell_ring_kick(&ch->tx); /* a batch before it: the peer reads it first */
	err = cell_ux_send(ch->sock, &iov, 1, &ch->tx_att.fd, 1, deadline);
	if (err && rec)
		cell_ring_abort(&ch->tx);
	if (err || !rec)
		goto out;
	memcpy(rec, frame, sizeof(frame));
	err = cell_ring_commit(&ch->tx, sizeof(frame));
out:
	cell_att_close(&ch->tx_att);
	ch->tx_kind = TX_NONE;
	return err;
}

int cell_chan_tx_commit(struct cell_chan *ch, struct cell_hdr *hdr, uint32_t len, uint64_t deadline,
			bool (*alive)(void *ctx), void *ctx)
{
	struct iovec iov;
	int err;

	if (ch->tx_kind == TX_NONE || len > ch->tx_len)
		return -EINVAL;
	hdr->len = len;
	switch (ch->tx_kind) {
	case TX_RING:
		put_frame_head(ch->tx_rec, hdr, ch->fingerprint);
		ch->tx_kind = TX_NONE;
		if (ch->tx_more)
			return cell_ring_commit_more(&ch->tx, CELL_FRAME_HEAD + len);
		return cell_ring_commit(&ch->tx, CELL_FRAME_HEAD + len);
	case TX_QUEUE:
		put_frame_head(ch->tx_q->bytes, hdr, ch->fingerprint);
		ch->tx_q->n = CELL_FRAME_HEAD + len;
		enqueue(ch, ch->tx_q);
		ch->tx_q = NULL;
		ch->tx_kind = TX_NONE;
		return 0;
	case TX_STAGE:
		if (ch->queue_mode) {
			put_frame_head(ch->tx_stage, hdr, ch->fingerprint);
			ch->tx_kind = TX_NONE;
			err = ch->q_head
				      ? -EAGAIN
				      : sock_send_now(ch, ch->tx_stage, CELL_FRAME_HEAD + len, -1);
			if (err == -EAGAIN)
				err = enqueue_copy(ch, false, ch->tx_stage, CELL_FRAME_HEAD + len,
						   -1);
			if (err == -EPIPE)
				ch->dead = true;
			return err;
		}
		put_frame_head(ch->tx_stage, hdr, ch->fingerprint);
		iov.iov_base = ch->tx_stage + CELL_FRAME_PAD;
		iov.iov_len = CELL_HDR_SIZE + len;
		ch->tx_kind = TX_NONE;
		err = cell_ux_send(ch->sock, &iov, 1, NULL, 0, lazy_deadline(deadline));
		if (err == -EPIPE)
			ch->dead = true;
		return err;
	default:
		return send_attachment(ch, hdr, len, deadline, alive, ctx);
	}
}

int cell_chan_send(struct cell_chan *ch, struct cell_hdr *hdr, const void *data, uint32_t len,
		   uint64_t deadline, bool (*alive)(void *ctx), void *ctx)
{
	void *buf = cell_chan_tx_begin(ch, len, deadline, alive, ctx);

	if (!buf)
		return -errno;
	if (len)
		memcpy(buf, data, len);
	return cell_chan_tx_commit(ch, hdr, len, deadline, alive, ctx);
}

int cell_chan_send_control(struct cell_chan *ch, uint8_t flags, uint16_t method,
			   uint32_t correlation)
{
	uint8_t frame[CELL_FRAME_HEAD];
	struct cell_hdr hdr = { .flags = flags, .method = method, .correlation = correlation };
	struct iovec iov = { frame + CELL_FRAME_PAD, CELL_HDR_SIZE };

	put_frame_head(frame, &hdr, ch->fingerprint);
	return cell_ux_send(ch->sock, &iov, 1, NULL, 0, cell_deadline_in_ms(100));
}

/* Methods a data frame may have: the schema's, PING and SCHEMA. */
static bool data_method(uint16_t method)
{
	return method < CELL_METHOD_CONTROL_BASE || method == CELL_METHOD_PING ||
	       method == CELL_METHOD_SCHEMA || method == CELL_METHOD_METRICS ||
	       method == CELL_METHOD_SPANS;
}

/* Check a frame's header: decodable, our fingerprint, not a handshake. */
static int check_frame(struct cell_chan *ch, const uint8_t *p, size_t n, struct cell_hdr *hdr,
		       const void **payload)
{
	if (cell_frame_decode_opts(p, n, CELL_MAX_PAYLOAD, ch->trace ? CELL_WIRE_ACCEPT_TRACE : 0,
				   hdr, payload) != CELL_WIRE_OK)
		return -EBADMSG;
	if (CELL_HDR_SIZE + (size_t)hdr->len != n)
		return -EBADMSG;
	if (cell_hdr_fingerprint(hdr) != ch->fingerprint || hdr->method == CELL_METHOD_HELLO)
		return -EBADMSG;
	return 0;
}

static int queue_fd(struct cell_chan *ch, int fd, uint32_t len)
{
	unsigned int i;

	if (ch->att_count == ch->att_cap) {
		close(fd);
		return -EBADMSG;
	}
	(void)len;
	i = (ch->att_head + ch->att_count) % ch->att_cap;
	ch->att_fds[i] = fd;
	ch->att_count++;
	return 0;
}

/*
 * Open an attachment announced by ATTACHMENT frame @outer with inner
 * header bytes @inner_bytes: fills @rx from the inner header and the fd.
 */
static int open_attachment(struct cell_chan *ch, const void *inner_bytes, uint32_t inner_len,
			   int fd, struct cell_rx *rx)
{
	int err;

	if (inner_len != CELL_HDR_SIZE ||
	    cell_hdr_decode_opts(inner_bytes, CELL_HDR_SIZE, CELL_MAX_PAYLOAD,
				 ch->trace ? CELL_WIRE_ACCEPT_TRACE : 0,
				 &rx->hdr) != CELL_WIRE_OK ||
	    cell_hdr_fingerprint(&rx->hdr) != ch->fingerprint ||
	    rx->hdr.method >= CELL_METHOD_CONTROL_BASE) {
		close(fd);
		return -EBADMSG;
	}
	err = cell_att_open(&rx->att, fd, rx->hdr.len);
	if (err)
		return -EBADMSG;
	rx->data = rx->att.map;
	rx->len = rx->hdr.len;
	return 0;
}

/* One socket message into rx_buf; fds (at most 1) into *@fd. */
static ssize_t recv_one(struct cell_chan *ch, int *fd)
{
	int nfds = 0;
	ssize_t n;

	*fd = -1;
	n = cell_ux_recv(ch->sock, ch->rx_buf + CELL_FRAME_PAD, STAGE_BYTES - CELL_FRAME_PAD, fd, 1,
			 &nfds);
	if (n == -EPIPE || n == -ECONNRESET)
		ch->dead = true;
	if (n == -EMSGSIZE)
		return -EBADMSG;
	if (n >= 0 && !nfds)
		*fd = -1;
	return n;
}

/* Handle one socket message that is not a data frame; 1 if it was one. */
static int socket_frame(struct cell_chan *ch, const struct cell_hdr *hdr, const void *payload,
			int fd, struct cell_rx *rx)
{
	int rc;

	if (hdr->method == CELL_METHOD_ATTACHMENT) {
		if (fd < 0 || !ch->attachments) {
			if (fd >= 0)
				close(fd);
			return -EBADMSG;
		}
		if (ch->shm)
			return queue_fd(ch, fd, hdr->len);
		memset(rx, 0, sizeof(*rx));
		rx->att.fd = -1;
		rc = open_attachment(ch, payload, hdr->len, fd, rx);
		return rc ? rc : 1;
	}
	if (fd >= 0) {
		close(fd);
		return -EBADMSG;
	}
	if ((hdr->flags & CELL_F_CANCEL) || hdr->method == CELL_METHOD_GOODBYE) {
		if (ch->on_control)
			ch->on_control(ch->control_ctx, hdr);
		return 0;
	}
	if (!data_method(hdr->method) || ch->shm)
		return -EBADMSG; /* data frames belong in the ring */
	memset(rx, 0, sizeof(*rx));
	rx->att.fd = -1;
	rx->hdr = *hdr;
	rx->data = payload;
	rx->len = hdr->len;
	return 1;
}

static int rx_socket(struct cell_chan *ch, struct cell_rx *rx)
{
	for (;;) {
		struct cell_hdr hdr;
		const void *payload;
		ssize_t n;
		int fd, rc;

		n = recv_one(ch, &fd);
		if (n < 0)
			return (int)n;
		if (check_frame(ch, ch->rx_buf + CELL_FRAME_PAD, (size_t)n, &hdr, &payload)) {
			if (fd >= 0)
				close(fd);
			return -EBADMSG;
		}
		rc = socket_frame(ch, &hdr, payload, fd, rx);
		if (rc)
			return rc < 0 ? rc : 0;
	}
}

int cell_chan_poll_socket(struct cell_chan *ch)
{
	struct cell_rx unused;
	int rc = rx_socket(ch, &unused);

	if (rc == -EAGAIN)
		return 0;
	if (rc == 0)
		return -EBADMSG; /* a data frame on the socket of a ring connection */
	return rc;
}

static int rx_ring(struct cell_chan *ch, struct cell_rx *rx)
{
	struct cell_ring_view v;
	const void *payload;
	int rc, fd;

	rc = cell_ring_read(&ch->rx, &v);
	if (rc)
		return rc;
	memset(rx, 0, sizeof(*rx));
	rx->att.fd = -1;
	rx->ring_end = v.end;
	if (v.len < CELL_FRAME_HEAD || check_frame(ch, (const uint8_t *)v.data + CELL_FRAME_PAD,
						   v.len - CELL_FRAME_PAD, &rx->hdr, &payload))
		return -EBADMSG;
	if (rx->hdr.method != CELL_METHOD_ATTACHMENT) {
		if (!data_method(rx->hdr.method) || (rx->hdr.flags & CELL_F_CANCEL))
			return -EBADMSG;
		rx->data = payload;
		rx->len = rx->hdr.len;
		return 0;
	}
	/* The fd was sent before the marker was committed: it is queued. */
	if (!ch->att_count) {
		rc = cell_chan_poll_socket(ch);
		if (rc)
			return rc;
		if (!ch->att_count)
			return -EBADMSG;
	}
	fd = ch->att_fds[ch->att_head];
	ch->att_head = (ch->att_head + 1) % ch->att_cap;
	ch->att_count--;
	return open_attachment(ch, payload, rx->hdr.len, fd, rx);
}

/*
 * A traced request: take the trailer off the end of the payload (the
 * header check made sure len holds it).  -EBADMSG if it is malformed.
 */
static int strip_trailer(struct cell_rx *rx)
{
	const uint8_t *at;

	rx->len -= CELL_TRACE_TRAILER_SIZE;
	at = (const uint8_t *)rx->data + rx->len;
	if (cell_trace_trailer_decode(at, CELL_TRACE_TRAILER_SIZE, &rx->trace, NULL)) {
		if (rx->att.fd >= 0)
			cell_att_close(&rx->att);
		return -EBADMSG;
	}
	rx->traced = true;
	return 0;
}

int cell_chan_rx(struct cell_chan *ch, struct cell_rx *rx)
{
	int rc;

	/* A gone peer's ring still holds what it committed: read it out. */
	if (ch->dead && !ch->shm)
		return -EPIPE;
	rc = ch->shm ? rx_ring(ch, rx) : rx_socket(ch, rx);
	if (!rc && (rx->hdr.flags & CELL_F_TRACE))
		rc = strip_trailer(rx);
	return rc;
}

void cell_chan_rx_done(struct cell_chan *ch, struct cell_rx *rx)
{
	if (rx->att.fd >= 0)
		cell_att_close(&rx->att);
	if (rx->ring_end)
		cell_ring_release(&ch->rx, rx->ring_end);
	free(rx->owned);
	rx->owned = NULL;
	rx->ring_end = 0;
}
