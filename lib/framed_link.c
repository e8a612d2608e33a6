// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The framed-link clients' shared core (framed_link.h): pipeline, call,
 * one-way send, receive, answer checking and the serve_as bridge, used by
 * uart.c and can.c alike.
 */
#include <errno.h>
#include <string.h>

#include <cell/time.h>

#include "crc32.h"
#include "framed_link.h"
#include "rpc_internal.h"

int cell_framed_poll_ms(uint64_t deadline)
{
	uint64_t now;

	if (deadline == CELL_DEADLINE_NONE)
		return -1;
	now = cell_now_ns();
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + CELL_NSEC_PER_MSEC - 1) / CELL_NSEC_PER_MSEC);
}

int cell_framed_decode(const uint8_t *f, size_t n, uint32_t max_payload, struct cell_hdr *hdr,
		       const uint8_t **payload)
{
	const void *p;

	if (n < CELL_HDR_SIZE + 4 ||
	    cell_crc32(f, n - 4) != ((uint32_t)f[n - 4] | (uint32_t)f[n - 3] << 8 |
				     (uint32_t)f[n - 2] << 16 | (uint32_t)f[n - 1] << 24) ||
	    cell_frame_decode(f, n - 4, max_payload, hdr, &p))
		return -1;
	*payload = p;
	return 0;
}

enum cell_status cell_framed_take_answer(const struct cell_hdr *hdr, const uint8_t *payload,
					 uint64_t fingerprint, const char *tag, const char *peer,
					 void *resp, uint32_t cap, uint32_t *resp_len)
{
	uint16_t status;
	const char *detail;
	uint32_t dlen;

	if (resp_len)
		*resp_len = 0;
	if (hdr->flags & CELL_F_ERROR) {
		if (cell_error_decode(payload, hdr->len, &status, &detail, &dlen))
			return cell_fail(CELL_STATUS_BAD_MESSAGE, "%s: malformed error payload",
					 tag);
		return cell_fail((enum cell_status)status, "%.*s", (int)dlen, detail);
	}
	if (cell_hdr_fingerprint(hdr) != fingerprint)
		return cell_fail(CELL_STATUS_FINGERPRINT_MISMATCH,
				 "fingerprint mismatch: client 0x%016llx, %s 0x%016llx",
				 (unsigned long long)fingerprint, peer,
				 (unsigned long long)cell_hdr_fingerprint(hdr));
	if (resp_len)
		*resp_len = hdr->len;
	if (hdr->len > cap)
		return cell_fail(CELL_STATUS_TOO_LARGE, "%s: response of %u bytes, room for %u",
				 tag, hdr->len, cap);
	if (hdr->len)
		memcpy(resp, payload, hdr->len);
	return CELL_STATUS_OK;
}

/* Status of an op still waiting for its answer (not a real status). */
#define PENDING CELL_STATUS_MAX

static void op_get(const void *ops, unsigned int i, struct cell_framed_op *op)
{
	memcpy(op, (const char *)ops + (size_t)i * sizeof(*op), sizeof(*op));
}

static void op_put(void *ops, unsigned int i, const struct cell_framed_op *op)
{
	memcpy((char *)ops + (size_t)i * sizeof(*op), op, sizeof(*op));
}

/* Ops [from, to) still PENDING get @st. */
static void fail_pending(void *ops, unsigned int from, unsigned int to, enum cell_status st)
{
	struct cell_framed_op op;

	for (unsigned int i = from; i < to; i++) {
		op_get(ops, i, &op);
		if (op.status == PENDING) {
			op.status = st;
			op_put(ops, i, &op);
		}
	}
}

enum cell_status cell_framed_pipeline(const struct cell_framed_io *io, const char *tag, void *ops,
				      unsigned int n, uint64_t deadline)
{
	unsigned int sent = 0, done = 0, i;
	struct cell_framed_op op;
	enum cell_status st;
	uint32_t first;

	if (!io || (n && !ops))
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "%s: no connection or ops", tag);
	cell_clear_error();
	pthread_mutex_lock(io->lock);
	/* Ids first .. first + n - 1: never 0, never wrapping. */
	if (*io->next_id >= UINT32_MAX - n)
		*io->next_id = 0;
	first = *io->next_id + 1;
	*io->next_id += n;
	for (i = 0; i < n; i++) {
		op_get(ops, i, &op);
		op.status = PENDING;
		op.resp_len = 0;
		op_put(ops, i, &op);
	}
	while (done < n) {
		struct cell_hdr hdr;
		const uint8_t *payload = NULL;

		while (sent < n && sent - done < io->window) {
			op_get(ops, sent, &op);
			st = io->send(io->t, CELL_F_REQUEST, op.method, first + sent, op.req,
				      op.req_len, deadline);
			if (st != CELL_STATUS_OK) {
				fail_pending(ops, sent, n, st);
				done += n - sent;
				sent = n;
				break;
			}
			sent++;
		}
		if (done >= n)
			break;
		st = io->recv(io->t, &hdr, &payload, deadline);
		if (st != CELL_STATUS_OK) {
			fail_pending(ops, 0, n, st);
			break;
		}
		i = hdr.correlation - first;
		if (!(hdr.flags & CELL_F_RESPONSE) || hdr.correlation < first || i >= sent) {
			(*io->stray)++;
			continue;
		}
		op_get(ops, i, &op);
		if (op.status != PENDING) {
			(*io->stray)++;
			continue;
		}
		op.status = cell_framed_take_answer(&hdr, payload, io->fingerprint, io->tag,
						    io->peer, op.resp, op.cap, &op.resp_len);
		op_put(ops, i, &op);
		done++;
	}
	pthread_mutex_unlock(io->lock);
	for (i = 0; i < n; i++) {
		op_get(ops, i, &op);
		if (op.status != CELL_STATUS_OK)
			return op.status;
	}
	return CELL_STATUS_OK;
}

enum cell_status cell_framed_call(const struct cell_framed_io *io, const char *tag, uint16_t method,
				  const void *req, uint32_t req_len, void *resp, uint32_t cap,
				  uint32_t *resp_len, uint64_t deadline)
{
	struct cell_framed_op op = {
		.method = method, .req = req, .req_len = req_len, .resp = resp, .cap = cap
	};
	enum cell_status st = cell_framed_pipeline(io, tag, &op, 1, deadline);

	if (resp_len)
		*resp_len = op.resp_len;
	return st;
}

enum cell_status cell_framed_send(const struct cell_framed_io *io, const char *tag, uint16_t method,
				  const void *req, uint32_t req_len, uint64_t deadline)
{
	enum cell_status st;

	if (!io)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "%s: no connection", tag);
	cell_clear_error();
	pthread_mutex_lock(io->lock);
	st = io->send(io->t, CELL_F_REQUEST | CELL_F_ONEWAY, method, 0, req, req_len, deadline);
	pthread_mutex_unlock(io->lock);
	return st;
}

enum cell_status cell_framed_recv(const struct cell_framed_io *io, const char *tag,
				  struct cell_hdr *hdr, void *payload, uint32_t cap,
				  uint64_t deadline)
{
	const uint8_t *p = NULL;
	enum cell_status st;

	if (!io || !hdr || (cap && !payload))
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "%s: bad arguments", tag);
	cell_clear_error();
	pthread_mutex_lock(io->lock);
	st = io->recv(io->t, hdr, &p, deadline);
	if (st == CELL_STATUS_OK) {
		if (cap && hdr->len)
			memcpy(payload, p, hdr->len < cap ? hdr->len : cap);
		if (hdr->len > cap)
			st = cell_fail(CELL_STATUS_TOO_LARGE, "%s: frame of %u bytes, room for %u",
				       tag, hdr->len, cap);
	}
	pthread_mutex_unlock(io->lock);
	return st;
}

/* How long a forwarded call may take on the link. */
#define FORWARD_NS (5 * CELL_NSEC_PER_SEC)

static enum cell_status forward(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	const struct cell_framed_io *io = ctx;
	uint64_t deadline = cell_deadline_in_ns(FORWARD_NS);
	enum cell_status st;
	uint32_t len = 0;
	void *buf;
	int r;

	if (!reply)
		return cell_framed_send(io, io->tag, req->method, req->data, req->len, deadline);
	buf = cell_reply_reserve(reply, io->max_payload);
	if (!buf)
		return cell_errno_status(errno);
	st = cell_framed_call(io, io->tag, req->method, req->data, req->len, buf, io->max_payload,
			      &len, deadline);
	if (st == CELL_STATUS_OK)
		r = cell_reply_commit(reply, len);
	else
		r = cell_reply_error(reply, st, cell_last_error(NULL));
	return r ? CELL_STATUS_UNAVAILABLE : st;
}

struct cell_server *cell_framed_serve_as(const struct cell_framed_io *io, const char *name,
					 const uint16_t *methods, unsigned int n,
					 const struct cell_server_opts *opts)
{
	struct cell_server *srv;
	int err;

	if (n && !methods) {
		errno = EINVAL;
		return NULL;
	}
	srv = cell_server_new(name, opts);
	if (!srv)
		return NULL;
	for (unsigned int i = 0; i < n; i++) {
		err = cell_server_handle(srv, methods[i], forward, (void *)io);
		if (err) {
			cell_server_free(srv);
			errno = -err;
			return NULL;
		}
	}
	return srv;
}
