// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the frame decoder (lib/wire.c).  The input is a frame as
 * a peer would send it.  Besides "no crash, no out-of-bounds read", checks
 * what must hold for every accepted frame: it re-encodes to the same
 * header bytes, its payload lies exactly inside the input, and an ERROR
 * frame's payload decodes on its own.  A violated property aborts.
 */
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t limits[] = { 0, 1, 4096, 65536, CELL_MAX_PAYLOAD, UINT32_MAX };
	struct cell_hdr hdr, again;
	uint8_t encoded[CELL_HDR_SIZE];
	const void *payload;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		enum cell_wire_error hdr_err = cell_hdr_decode(data, size, limits[i], &hdr);
		enum cell_wire_error err = cell_frame_decode(data, size, limits[i], &hdr, &payload);

		if ((unsigned int)err >= CELL_WIRE_ERROR_MAX || !cell_wire_error_name(err))
			abort();
		/* The frame check only adds rules to the header check. */
		if (hdr_err && err != hdr_err)
			abort();
		if (err)
			continue;
		if (hdr.len > limits[i] || size != CELL_HDR_SIZE + (size_t)hdr.len ||
		    payload != data + CELL_HDR_SIZE)
			abort();
		cell_hdr_encode(&hdr, encoded);
		if (memcmp(encoded, data, CELL_HDR_SIZE))
			abort();
		if (cell_hdr_check(&hdr, limits[i]))
			abort();
		if (cell_hdr_decode(encoded, sizeof(encoded), limits[i], &again) ||
		    memcmp(&again, &hdr, sizeof(hdr)))
			abort();
		if (hdr.flags & CELL_F_ERROR) {
			uint16_t status;
			const char *detail;
			uint32_t detail_len;

			if (cell_error_decode(payload, hdr.len, &status, &detail, &detail_len) ||
			    status == CELL_STATUS_OK || status >= CELL_STATUS_MAX ||
			    detail + detail_len != (const char *)data + size)
				abort();
		}
	}
	return 0;
}
