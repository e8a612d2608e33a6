// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the SPANS answer parser (cell_spans_decode(), lib/trace.c):
 * bytes as a foreign server would answer CELL_METHOD_SPANS.  An accepted
 * answer must re-encode to the same bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cell/trace.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cell_span *spans;
	const char *why;
	uint32_t dropped;
	uint8_t *again;
	size_t n;
	int err = cell_spans_decode(data, size, &spans, &n, &dropped, &why);

	if (err) {
		if (err != -EBADMSG || !why || spans || n)
			abort();
		return 0;
	}
	if (cell_spans_wire_size(n) != size)
		abort();
	again = malloc(size);
	if (!again || cell_spans_encode(spans, n, dropped, again, size) != size ||
	    memcmp(again, data, size))
		abort();
	free(again);
	free(spans);
	return 0;
}
