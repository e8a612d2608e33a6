// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The MCU port (compiled for the host) against selftests/vectors/ and
 * against libcell, one TAP line per check:
 *
 *   vectors_mcu_test VECTORS_DIR
 *
 * Every frame of frames.tsv: cell_mcu_frame_decode() refuses it with the
 * listed error, or accepts it with the fields libcell reads and
 * re-encodes it to the same bytes (header and error payload); libcell
 * gives the same verdict.  Valid frames then go through the UART framing
 * (CRC-32, both COBS encoders, the byte-by-byte decoder) and come out
 * whole.  Every schema of fingerprints.tsv hashes to its listed value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/wire.h>
#include "cell_mcu.h"
#include "../vectors/tsv.h"

#define MAX_FRAME 4096

static int test_number, failures;

static void result(int ok, const char *what, const char *name, const char *why)
{
	test_number++;
	printf("%s %d %s %s%s%s\n", ok ? "ok" : "not ok", test_number, what, name,
	       why && !ok ? ": " : "", why && !ok ? why : "");
	if (!ok)
		failures++;
}

static const char *check_ok(const uint8_t *bytes, size_t n)
{
	static char why[160];
	struct cell_hdr m, l;
	const void *payload;
	uint8_t again[CELL_HDR_SIZE], err_again[256];
	enum cell_mcu_err err = cell_mcu_frame_decode(bytes, n, 65536, &m);

	if (err) {
		snprintf(why, sizeof(why), "refused as %s", cell_mcu_err_name(err));
		return why;
	}
	if (cell_frame_decode(bytes, n, 65536, &l, &payload))
		return "libcell refuses it";
	if (memcmp(&m, &l, sizeof(m)))
		return "fields differ from libcell's";
	cell_mcu_hdr_encode(&m, again);
	if (memcmp(again, bytes, CELL_HDR_SIZE))
		return "re-encoded header differs from the vector";
	if (m.flags & CELL_F_ERROR) {
		uint16_t status;
		const char *detail;
		uint32_t dlen;
		size_t len;

		if (cell_error_decode(payload, m.len, &status, &detail, &dlen))
			return "libcell refuses the error payload";
		len = cell_mcu_error_encode(err_again, sizeof(err_again), status, detail, dlen);
		if (len != m.len || memcmp(err_again, payload, len))
			return "re-encoded error payload differs";
	}
	return NULL;
}

static int sink_len;
static uint8_t sink[2 * MAX_FRAME];

static void sink_putc(void *hw, uint8_t b)
{
	(void)hw;
	if (sink_len < (int)sizeof(sink))
		sink[sink_len++] = b;
}

/* Frame + CRC, COBS both ways, decoded byte by byte. */
static const char *check_uart(const uint8_t *bytes, size_t n)
{
	static uint8_t framed[MAX_FRAME + 4], enc[2 * MAX_FRAME], dec[MAX_FRAME + 4];
	struct cell_mcu_cobs_rx rx;
	struct cell_hdr hdr;
	uint32_t crc = cell_mcu_crc32(0, bytes, n);
	size_t len, i;
	int got = 0;

	memcpy(framed, bytes, n);
	for (i = 0; i < 4; i++)
		framed[n + i] = (uint8_t)(crc >> (8 * i));
	len = cell_mcu_cobs_encode(enc, sizeof(enc), framed, n + 4);
	if (!len || len > CELL_MCU_COBS_MAX(n + 4))
		return "COBS encoding longer than the bound";
	if (memchr(enc, 0, len))
		return "COBS encoding holds a zero";
	sink_len = 0;
	cell_mcu_cobs_write(framed, n + 4, sink_putc, NULL);
	if ((size_t)sink_len != len + 1 || memcmp(sink, enc, len) || sink[len])
		return "streaming and buffer encoders differ";
	if (cell_mcu_cobs_encode(enc, len - 1, framed, n + 4))
		return "encoder wrote past a too small buffer";
	cell_mcu_cobs_rx_init(&rx, dec, sizeof(dec));
	/* Garbage and a cut frame first: the decoder must resynchronise. */
	cell_mcu_cobs_rx_byte(&rx, 0x05);
	cell_mcu_cobs_rx_byte(&rx, 0x11);
	if (cell_mcu_cobs_rx_byte(&rx, 0) != -CELL_MCU_E_COBS)
		return "cut block not refused";
	for (i = 0; i < (size_t)sink_len; i++) {
		int r = cell_mcu_cobs_rx_byte(&rx, sink[i]);

		if (r && i != (size_t)sink_len - 1)
			return "decoder ended the frame early";
		got = r;
	}
	if (got != (int)(n + 4) || memcmp(dec, framed, n + 4))
		return "decoded frame differs";
	if (cell_mcu_uart_frame_check(dec, n + 4, 65536, &hdr))
		return "UART frame check refuses it";
	dec[n / 2] ^= 0x40;
	if (cell_mcu_uart_frame_check(dec, n + 4, 65536, &hdr) != CELL_MCU_E_CRC)
		return "a flipped bit passes the CRC";
	return NULL;
}

static void run_frames(const char *dir)
{
	char path[4096], line[4 * MAX_FRAME];
	FILE *f;

	snprintf(path, sizeof(path), "%s/frames.tsv", dir);
	f = fopen(path, "r");
	if (!f) {
		result(0, "open", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *cols[5], why[160];
		uint8_t bytes[MAX_FRAME];
		struct cell_hdr hdr;
		const void *payload;
		enum cell_mcu_err err;
		enum cell_wire_error lerr;
		size_t n;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (split_tabs(line, cols, 5) != 5 ||
		    parse_hex(cols[2], bytes, sizeof(bytes), &n)) {
			result(0, "frame", cols[0], "malformed vector line");
			continue;
		}
		err = cell_mcu_frame_decode(bytes, n, 65536, &hdr);
		lerr = cell_frame_decode(bytes, n, 65536, &hdr, &payload);
		if (!strcmp(cols[1], "ok")) {
			result(!check_ok(bytes, n), "frame", cols[0], check_ok(bytes, n));
			result(!check_uart(bytes, n), "uart", cols[0], check_uart(bytes, n));
			continue;
		}
		snprintf(why, sizeof(why), "mcu says %s, libcell %s, want %s",
			 cell_mcu_err_name(err), cell_wire_error_name(lerr), cols[1]);
		result(!strcmp(cell_mcu_err_name(err), cols[1]) && (int)err == (int)lerr, "frame",
		       cols[0], why);
	}
	fclose(f);
}

static void run_fingerprints(const char *dir)
{
	char path[4096], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/fingerprints.tsv", dir);
	f = fopen(path, "r");
	if (!f) {
		result(0, "open", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *cols[3], text[4096], why[128];
		size_t len = 0;
		uint64_t want, got;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (split_tabs(line, cols, 3) != 3) {
			result(0, "fingerprint", line, "malformed vector line");
			continue;
		}
		for (const char *p = cols[1]; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				text[len++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			} else {
				text[len++] = *p;
			}
		}
		want = strtoull(cols[2], NULL, 16);
		got = cell_mcu_fingerprint(text, len);
		snprintf(why, sizeof(why), "got 0x%016" PRIx64 ", want 0x%016" PRIx64, got, want);
		result(got == want && got == cell_fingerprint(text, len), "fingerprint", cols[0],
		       why);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
		return 2;
	}
	printf("TAP version 13\n");
	run_frames(argv[1]);
	run_fingerprints(argv[1]);
	printf("1..%d\n", test_number);
	printf("# %d checks, %d failed\n", test_number, failures);
	return failures ? 1 : 0;
}
