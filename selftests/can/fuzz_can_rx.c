// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the CAN-FD reassembler (mcu/src/can_seg.c) and the
 * announcement decoder.  Input: one byte m, a message of (m & 0x7f) * 10
 * + 1 bytes (or fewer if the input ends), then records [src][len][len
 * bytes] of CAN frames from other nodes.  The message is segmented and
 * sent by node 1, one segment after each record of foreign bytes.  With
 * bit 7 of m clear every foreign record comes from node 2, and whatever
 * node 2 sends, node 1's message must come out whole and unchanged (node
 * 2's finished messages are released at once: it holds at most one of
 * the two buffers).  With bit 7 set the records name their own senders
 * (evictions happen) and only memory safety is checked.  Always: every
 * finished message lies inside its slot, every refusal is a known
 * reason.  A violated property aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "cell_mcu_can.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct segs {
	uint8_t data[32][64];
	uint8_t len[32];
	unsigned int n;
};

static int collect(void *ctx, const uint8_t *seg, uint8_t len)
{
	struct segs *s = ctx;

	if (s->n >= 32)
		return -1;
	memcpy(s->data[s->n], seg, len);
	s->len[s->n++] = len;
	return 0;
}

static void check(struct cell_mcu_can_rx *rx, int r)
{
	if (r <= -(int)CELL_MCU_CAN_E_MAX || r > rx->n)
		abort();
	if (r > 0) {
		const struct cell_mcu_can_slot *s = &rx->slot[r - 1];

		if (s->state != CELL_MCU_CAN_DONE || s->len != s->total || s->total > s->cap ||
		    !s->total)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[2][1300];
	static struct segs segs;
	struct cell_mcu_can_slot slot[2] = { { .buf = buf[0], .cap = 1300 },
					     { .buf = buf[1], .cap = 1300 } };
	struct cell_mcu_can_rx rx;
	struct cell_mcu_can_announce a;
	const uint8_t *msg;
	size_t pos, mlen;
	unsigned int next = 0;
	int got = 0, strict, r;

	if (!size)
		return 0;
	strict = !(data[0] & 0x80);
	mlen = (size_t)(data[0] & 0x7f) * 10 + 1;
	if (mlen > size - 1)
		mlen = size - 1;
	msg = data + 1;
	pos = 1 + mlen;
	segs.n = 0;
	if (mlen && cell_mcu_can_segment(msg, (uint32_t)mlen, collect, &segs))
		abort();
	cell_mcu_can_rx_init(&rx, slot, 2);
	while (pos < size || next < segs.n) {
		if (pos + 2 <= size) {
			uint8_t src = data[pos], len = data[pos + 1];

			pos += 2;
			if (len > size - pos)
				len = (uint8_t)(size - pos);
			if (strict || src == 1)
				src = 2;
			(void)cell_mcu_can_announce_decode(data + pos, len, &a);
			r = cell_mcu_can_rx_segment(&rx, src, data + pos, len);
			check(&rx, r);
			if (r > 0)
				cell_mcu_can_rx_release(&rx, (uint8_t)(r - 1));
			pos += len;
		} else {
			pos = size;
		}
		if (next < segs.n) {
			r = cell_mcu_can_rx_segment(&rx, 1, segs.data[next], segs.len[next]);
			check(&rx, r);
			next++;
			if (strict && (next < segs.n ? r != 0 : r <= 0))
				abort(); /* node 1's segments are never refused */
			if (r > 0) {
				const struct cell_mcu_can_slot *s = &rx.slot[r - 1];

				if (s->src != 1 || s->total != mlen || memcmp(s->buf, msg, mlen) ||
				    next != segs.n)
					abort();
				got = 1;
			}
		}
	}
	if (strict && mlen && !got)
		abort();
	return 0;
}
