// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * UART framing: each frame (header, payload, CRC-32 little-endian) is
 * COBS-encoded and followed by one 0x00 byte.  COBS (Cheshire and Baker,
 * 1999) removes every zero from the data at a cost of one byte per 254,
 * so 0x00 always marks a frame's end and a receiver that lost bytes
 * resynchronises at the next one.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cell_mcu.h"

uint32_t cell_mcu_crc32(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1U)));
	}
	return ~crc;
}

/*
 * Both encoders cut the input the same way, so they write the same bytes:
 * a block is up to 254 non-zero bytes; a block shorter than that stands
 * for its bytes and the zero after them; a full one (code 0xff) for its
 * bytes alone.  The implied zero after the last block is dropped, as in
 * the original paper: 254 non-zero bytes encode as ff + those bytes.
 */
static size_t block_end(const uint8_t *src, size_t n, size_t i)
{
	size_t j;

	for (j = i; j < n && src[j] && j - i < 254; j++)
		;
	return j;
}

size_t cell_mcu_cobs_encode(uint8_t *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t i = 0, j, o = 0;

	for (;;) {
		j = block_end(src, n, i);
		if (cap - o < 1 + (j - i))
			return 0;
		dst[o++] = (uint8_t)(j - i + 1);
		if (j > i)
			memcpy(dst + o, src + i, j - i);
		o += j - i;
		if (j >= n)
			return o;
		i = j - i == 254 ? j : j + 1;
	}
}

void cell_mcu_cobs_write(const uint8_t *src, size_t n, void (*putc)(void *hw, uint8_t b), void *hw)
{
	size_t i = 0, j, k;

	for (;;) {
		j = block_end(src, n, i);
		putc(hw, (uint8_t)(j - i + 1));
		for (k = i; k < j; k++)
			putc(hw, src[k]);
		if (j >= n)
			break;
		i = j - i == 254 ? j : j + 1;
	}
	putc(hw, 0);
}

void cell_mcu_cobs_rx_reset(struct cell_mcu_cobs_rx *rx)
{
	rx->len = 0;
	rx->left = 0;
	rx->zero = 0;
	rx->started = 0;
}

void cell_mcu_cobs_rx_init(struct cell_mcu_cobs_rx *rx, uint8_t *buf, uint16_t cap)
{
	rx->buf = buf;
	rx->cap = cap;
	rx->skip = 0;
	rx->frames = 0;
	rx->errors = 0;
	cell_mcu_cobs_rx_reset(rx);
}

static int refuse(struct cell_mcu_cobs_rx *rx, int skip, enum cell_mcu_err err)
{
	cell_mcu_cobs_rx_reset(rx);
	rx->skip = (uint8_t)skip;
	rx->errors++;
	return -(int)err;
}

int cell_mcu_cobs_rx_byte(struct cell_mcu_cobs_rx *rx, uint8_t b)
{
	int n;

	if (b == 0) {
		if (rx->skip || !rx->started) {
			rx->skip = 0;
			cell_mcu_cobs_rx_reset(rx);
			return 0; /* end of a dropped frame, or an empty one */
		}
		if (rx->left)
			return refuse(rx, 0, CELL_MCU_E_COBS);
		n = rx->len;
		cell_mcu_cobs_rx_reset(rx);
		if (n)
			rx->frames++;
		return n;
	}
	if (rx->skip)
		return 0;
	if (!rx->started || !rx->left) {
		/* A code byte: the previous block's implied zero is data now. */
		if (rx->zero) {
			if (rx->len >= rx->cap)
				return refuse(rx, 1, CELL_MCU_E_OVERFLOW);
			rx->buf[rx->len++] = 0;
		}
		rx->started = 1;
		rx->left = (uint8_t)(b - 1);
		rx->zero = b != 0xff;
		return 0;
	}
	if (rx->len >= rx->cap)
		return refuse(rx, 1, CELL_MCU_E_OVERFLOW);
	rx->buf[rx->len++] = b;
	rx->left--;
	return 0;
}

enum cell_mcu_err cell_mcu_uart_frame_check(const uint8_t *buf, size_t n, uint32_t max_payload,
					    struct cell_hdr *hdr)
{
	const uint8_t *c;
	uint32_t crc;

	if (n < CELL_HDR_SIZE + CELL_MCU_CRC_SIZE)
		return CELL_MCU_E_SHORT;
	n -= CELL_MCU_CRC_SIZE;
	c = buf + n;
	crc = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
	if (crc != cell_mcu_crc32(0, buf, n))
		return CELL_MCU_E_CRC;
	return cell_mcu_frame_decode(buf, n, max_payload, hdr);
}
