// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for traced frames (cell_frame_decode_traced(), the trailer
 * parser of lib/wire.c).  The input is a frame as a peer would send it on
 * a connection that granted CELL_FEAT_TRACE.  Properties checked for every
 * accepted frame: the plain decoder agrees on everything but bit 7; the
 * payload and trailer lie inside the input; the trailer re-encodes to the
 * same 32 bytes.  A violated property aborts.
 */
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t limits[] = { 0, 31, 32, 4096, 65536, CELL_MAX_PAYLOAD };
	struct cell_trace_ctx trace, again;
	uint8_t encoded[CELL_TRACE_TRAILER_SIZE];
	struct cell_hdr hdr;
	const void *payload;
	uint32_t payload_len;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		enum cell_wire_error err = cell_frame_decode_traced(data, size, limits[i], &hdr,
								    &payload, &payload_len, &trace);
		enum cell_wire_error plain =
			cell_frame_decode(data, size, limits[i], &hdr, &payload);

		if ((unsigned int)err >= CELL_WIRE_ERROR_MAX || !cell_wire_error_name(err))
			abort();
		/* Without bit 7 both decoders are the same decoder. */
		if (size >= 2 && !(data[1] & CELL_F_TRACE) && err != plain)
			abort();
		if (err)
			continue;
		if (cell_frame_decode_traced(data, size, limits[i], &hdr, &payload, &payload_len,
					     &trace))
			abort(); /* not the same answer twice */
		if (!(hdr.flags & CELL_F_TRACE)) {
			if (payload_len != hdr.len)
				abort();
			continue;
		}
		if ((hdr.flags & CELL_F_KIND_MASK) != CELL_F_REQUEST ||
		    payload_len + CELL_TRACE_TRAILER_SIZE != hdr.len ||
		    (const uint8_t *)payload + hdr.len != data + size)
			abort();
		cell_trace_trailer_encode(&trace, encoded);
		if (memcmp(encoded, (const uint8_t *)payload + payload_len, sizeof(encoded)))
			abort();
		if (cell_trace_trailer_decode(encoded, sizeof(encoded), &again, NULL) ||
		    memcmp(&again, &trace, sizeof(trace)))
			abort();
	}
	return 0;
}
