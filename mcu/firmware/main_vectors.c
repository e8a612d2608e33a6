// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The vector test on the Cortex-M3 itself: every frame of
 * selftests/vectors/frames.tsv through cell_mcu_frame_decode(), valid ones
 * re-encoded and sent through the UART framing and back, every
 * fingerprint of fingerprints.tsv.  TAP on the semihosting console; qemu
 * exits 1 if anything failed.
 */
#include <string.h>

#include "board.h"
#include "vectors.h"

static unsigned int tests, failed;

static void result(int ok, const char *what, const char *name)
{
	tests++;
	if (!ok)
		failed++;
	board_puts(ok ? "ok " : "not ok ");
	board_put_u32(tests);
	board_puts(" mcu ");
	board_puts(what);
	board_puts(" ");
	board_puts(name);
	board_puts("\n");
}

static int uart_round_trip(const uint8_t *bytes, size_t n)
{
	static uint8_t framed[256], enc[300], dec[256];
	struct cell_mcu_cobs_rx rx;
	struct cell_hdr hdr;
	uint32_t crc = cell_mcu_crc32(0, bytes, n);
	size_t len, i;
	int r = 0;

	if (n + 4 > sizeof(framed))
		return 0;
	memcpy(framed, bytes, n);
	for (i = 0; i < 4; i++)
		framed[n + i] = (uint8_t)(crc >> (8 * i));
	len = cell_mcu_cobs_encode(enc, sizeof(enc) - 1, framed, n + 4);
	if (!len)
		return 0;
	enc[len++] = 0;
	cell_mcu_cobs_rx_init(&rx, dec, sizeof(dec));
	for (i = 0; i < len; i++)
		r = cell_mcu_cobs_rx_byte(&rx, enc[i]);
	return r == (int)(n + 4) && !memcmp(dec, framed, n + 4) &&
	       cell_mcu_uart_frame_check(dec, n + 4, 65536, &hdr) == CELL_MCU_OK;
}

int main(void)
{
	unsigned int i;

	board_puts("TAP version 13\n");
	for (i = 0; i < n_frame_vecs; i++) {
		const struct frame_vec *v = &frame_vecs[i];
		struct cell_hdr hdr;
		uint8_t again[CELL_HDR_SIZE];
		enum cell_mcu_err err = cell_mcu_frame_decode(v->bytes, v->len, 65536, &hdr);
		int ok = !strcmp(cell_mcu_err_name(err), v->expect);

		if (ok && err == CELL_MCU_OK) {
			cell_mcu_hdr_encode(&hdr, again);
			ok = !memcmp(again, v->bytes, CELL_HDR_SIZE) &&
			     uart_round_trip(v->bytes, v->len);
		}
		result(ok, "frame", v->name);
	}
	for (i = 0; i < n_fp_vecs; i++)
		result(cell_mcu_fingerprint(fp_vecs[i].text, fp_vecs[i].len) == fp_vecs[i].fp,
		       "fingerprint", fp_vecs[i].name);
	result(cell_mcu_crc32(0, "123456789", 9) == 0xcbf43926U, "crc32", "check_value");
	board_puts("1..");
	board_put_u32(tests);
	board_puts("\n");
	return failed != 0;
}
