// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The framed-link clients' shared core (framed_link.h): answer checking
 * and the serve_as bridge, used by uart.c and can.c alike.
 */
#include <errno.h>
#include <string.h>

#include <cell/time.h>

#include "framed_link.h"
#include "rpc_internal.h"

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

/* How long a forwarded call may take on the link. */
#define FORWARD_NS (5 * CELL_NSEC_PER_SEC)

static enum cell_status forward(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	struct cell_framed_link *fl = ctx;
	uint64_t deadline = cell_deadline_in_ns(FORWARD_NS);
	enum cell_status st;
	uint32_t len = 0;
	void *buf;
	int r;

	if (!reply)
		return fl->send(fl->link, req->method, req->data, req->len, deadline);
	buf = cell_reply_reserve(reply, fl->max_payload);
	if (!buf)
		return cell_errno_status(errno);
	st = fl->call(fl->link, req->method, req->data, req->len, buf, fl->max_payload, &len,
		      deadline);
	if (st == CELL_STATUS_OK)
		r = cell_reply_commit(reply, len);
	else
		r = cell_reply_error(reply, st, cell_last_error(NULL));
	return r ? CELL_STATUS_UNAVAILABLE : st;
}

struct cell_server *cell_framed_serve_as(struct cell_framed_link *fl, const char *name,
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
		err = cell_server_handle(srv, methods[i], forward, fl);
		if (err) {
			cell_server_free(srv);
			errno = -err;
			return NULL;
		}
	}
	return srv;
}
