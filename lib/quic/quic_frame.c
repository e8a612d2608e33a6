// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The stream frame reader: one cell frame per QUIC stream direction.
 * Everything it reads comes from the network: the header is validated
 * before any payload memory is taken, the payload length is bounded, and a
 * stream must end (FIN) exactly where the frame does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quic_internal.h"

void cell_qreader_init(struct cell_qreader *r, uint32_t max_payload)
{
	memset(r, 0, sizeof(*r));
	r->max_payload = max_payload;
}

static int take_head(struct cell_qreader *r, const uint8_t **data, size_t *n, const char **why)
{
	size_t k = CELL_HDR_SIZE - r->have_head;
	enum cell_wire_error we;

	if (k > *n)
		k = *n;
	if (!k) /* a FIN with no data: *data may be NULL */
		return 0;
	memcpy(r->head + r->have_head, *data, k);
	r->have_head += (uint32_t)k;
	*data += k;
	*n -= k;
	if (r->have_head < CELL_HDR_SIZE)
		return 0;
	we = cell_hdr_decode(r->head, CELL_HDR_SIZE, r->max_payload, &r->hdr);
	if (we != CELL_WIRE_OK) {
		*why = cell_wire_strerror(we);
		return -EBADMSG;
	}
	r->payload = malloc(r->hdr.len ? r->hdr.len : 1);
	return r->payload ? 1 : -ENOMEM;
}

int cell_qreader_feed(struct cell_qreader *r, const uint8_t *data, size_t n, bool fin,
		      const char **why)
{
	int err;

	*why = NULL;
	if (r->complete) {
		*why = "data after the end of the stream";
		return -EBADMSG;
	}
	if (r->have_head < CELL_HDR_SIZE) {
		err = take_head(r, &data, &n, why);
		if (err < 0)
			return err;
	}
	if (r->have_head == CELL_HDR_SIZE && n) {
		if (n > r->hdr.len - r->got) {
			*why = "bytes past the end of the frame";
			return -EBADMSG;
		}
		memcpy(r->payload + r->got, data, n);
		r->got += (uint32_t)n;
	}
	if (!fin)
		return 0;
	if (r->have_head < CELL_HDR_SIZE || r->got < r->hdr.len) {
		*why = "stream ended inside the frame";
		return -EBADMSG;
	}
	r->complete = true;
	return 1;
}

void *cell_qreader_take(struct cell_qreader *r)
{
	void *p = r->payload;

	r->payload = NULL;
	return p;
}

void cell_qreader_fini(struct cell_qreader *r)
{
	free(r->payload);
	r->payload = NULL;
}
