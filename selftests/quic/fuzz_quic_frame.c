// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the QUIC stream frame reader (lib/quic/quic_frame.c).
 * Input: byte 0 picks the piece size (1..64, 0 = all at once) and byte 1
 * the payload limit; the rest is the stream as a peer sends it, fed in
 * pieces, FIN with the last.  Checked besides memory safety: a complete
 * frame is exactly header + hdr.len bytes of the input and re-decodes to
 * the same header; the reader accepts nothing after a verdict.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "quic_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t limits[] = { 0, 16, 4096, 1U << 20 };
	struct cell_qreader r;
	const char *why;
	size_t piece, off = 0;
	int rc = 0;

	if (size < 2)
		return 0;
	piece = data[0] % 65;
	cell_qreader_init(&r, limits[data[1] % 4]);
	data += 2;
	size -= 2;
	do {
		size_t k = piece && size - off > piece ? piece : size - off;
		bool fin = off + k == size;

		rc = cell_qreader_feed(&r, data + off, k, fin, &why);
		off += k;
		if (rc < 0 && (rc != -EBADMSG || !why) && rc != -ENOMEM)
			abort();
	} while (rc == 0 && off < size);
	if (rc == 1) {
		struct cell_hdr again;
		uint8_t *p;

		if (size != CELL_HDR_SIZE + (size_t)r.hdr.len ||
		    cell_hdr_decode(data, size, r.max_payload, &again) ||
		    memcmp(&again, &r.hdr, sizeof(again)) ||
		    memcmp(r.payload, data + CELL_HDR_SIZE, r.hdr.len))
			abort();
		if (cell_qreader_feed(&r, data, 1, true, &why) != -EBADMSG)
			abort();
		p = cell_qreader_take(&r);
		free(p);
	} else if (rc == 0) {
		abort(); /* FIN came with the last piece: a verdict is due */
	}
	cell_qreader_fini(&r);
	return 0;
}
