// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libFuzzer target, differential: the MCU port's frame and header
 * decoders against libcell's on the same bytes.  Both must give the same
 * verdict and, when they accept, the same fields; an accepted header
 * re-encodes to the same bytes.  The first byte picks the payload limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>
#include "cell_mcu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t limits[4] = { 0, 16, 65536, 0xffffffffU };
	struct cell_hdr m, l;
	const void *payload;
	uint8_t again[CELL_HDR_SIZE];
	uint32_t max;
	int em, el;

	if (!size)
		return 0;
	max = limits[data[0] & 3];
	data++;
	size--;
	em = cell_mcu_frame_decode(data, size, max, &m);
	el = cell_frame_decode(data, size, max, &l, &payload);
	if (em != el)
		abort();
	if (!em) {
		if (memcmp(&m, &l, sizeof(m)))
			abort();
		cell_mcu_hdr_encode(&m, again);
		if (memcmp(again, data, CELL_HDR_SIZE))
			abort();
	}
	em = cell_mcu_hdr_decode(data, size, max, &m);
	el = cell_hdr_decode(data, size, max, &l);
	if (em != el || (!em && memcmp(&m, &l, sizeof(m))))
		abort();
	(void)cell_mcu_uart_frame_check(data, size, max, &m);
	return 0;
}
