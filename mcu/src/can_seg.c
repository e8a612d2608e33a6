// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * CAN-FD segmentation and reassembly (cell_mcu_can.h), shared by the MCU
 * port and libcell.  Every segment is foreign bytes: its length must be
 * exactly what its type and the message need, sequence numbers must
 * follow, and a message never outgrows its slot.  Memory is the caller's
 * slots; no loop depends on the input beyond one segment's 64 bytes and
 * the slot count.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cell_mcu_can.h"

/* Above 8: a multiple of 4 up to 24, then of 16 (32, 48, 64). */
unsigned int cell_mcu_can_dlc_round(unsigned int n)
{
	unsigned int m = n > 24 ? 15 : 3;

	return n <= 8 ? n : (n + m) & ~m;
}

/*
 * Every segment is h header bytes (single 2, first 3, consecutive 1) and
 * k = min(64 - h, bytes left) of the message, then padding up to the
 * smallest CAN-FD length; the receiver checks the same rule.
 */
int cell_mcu_can_segment(const uint8_t *msg, uint32_t n, cell_mcu_can_emit emit, void *ctx)
{
	uint8_t seg[CELL_MCU_CAN_MTU];
	unsigned int pci, h, k, len, i;
	int r;

	if (n - 1 >= CELL_MCU_CAN_MSG_MAX)
		return -1;
	pci = n > CELL_MCU_CAN_SF_MAX ? CELL_MCU_CAN_PCI_FF : CELL_MCU_CAN_PCI_SF;
	seg[1] = (uint8_t)n;
	seg[2] = (uint8_t)(n >> 8);
	for (;;) {
		seg[0] = (uint8_t)pci;
		h = pci & CELL_MCU_CAN_PCI_CF ? 1 : 2 + (pci >> 4);
		k = CELL_MCU_CAN_MTU - h;
		if (k > n)
			k = n;
		len = cell_mcu_can_dlc_round(h + k);
		for (i = h; i < len; i++)
			seg[i] = i < h + k ? *msg++ : CELL_MCU_CAN_PAD_BYTE;
		r = emit(ctx, seg, (uint8_t)len);
		n -= k;
		if (r || !n)
			return r;
		pci = CELL_MCU_CAN_PCI_CF | ((pci + 1) & 0xf);
	}
}

void cell_mcu_can_rx_init(struct cell_mcu_can_rx *rx, struct cell_mcu_can_slot *slot, uint8_t n)
{
	memset(rx, 0, sizeof(*rx));
	rx->slot = slot;
	rx->n = n;
	while (n)
		slot[--n].state = CELL_MCU_CAN_FREE;
}

/*
 * One pass over the slots, last to first, finds the sender's unfinished
 * message (own) and the slot a new message of this sender would take
 * (take): a free one (the lowest), else the least recently active
 * unfinished message of another sender (rx->clock ticks since its last
 * segment; a free slot counts as older than any).  A new message takes
 * own (dropped: its sender began anew), else take (evicted if busy),
 * else nothing.  A consecutive segment must carry the number of
 * segments its message had so far (mod 16): after the first's 61 bytes
 * and j consecutive of 63, (len + 2) / 63 = j + 1; no slot stores it.
 * Every check comes before any state changes, except that
 * a refused consecutive segment drops its message (what follows cannot
 * fit).  A single segment is "00 LL", a first "10 NN NN": h, the bytes
 * before the data, is 2 + pci / 16 for both.
 */
int cell_mcu_can_rx_segment(struct cell_mcu_can_rx *rx, uint8_t src, const uint8_t *seg,
			    uint8_t len)
{
	struct cell_mcu_can_slot *s, *own = NULL, *take = NULL, *drop = NULL;
	unsigned int i, h, k, pci, total, age, oldest = 0;
	enum cell_mcu_can_err err;

	rx->clock++;
	for (i = rx->n; i--;) {
		s = &rx->slot[i];
		if (s->state == CELL_MCU_CAN_DONE)
			continue;
		age = s->state == CELL_MCU_CAN_FREE ? 0x10000 : (uint16_t)(rx->clock - s->stamp);
		if (age < 0x10000 && s->src == src)
			own = s;
		else if (age >= oldest) {
			oldest = age;
			take = s;
		}
	}
	err = CELL_MCU_CAN_E_DLC;
	if (len < 2) /* longer than 64: the length check below */
		goto refuse;
	pci = seg[0];
	total = seg[1];
	h = 1;
	if (pci == CELL_MCU_CAN_PCI_FF) {
		if (len != CELL_MCU_CAN_MTU)
			goto refuse; /* E_DLC; and seg[2] is not there */
		total |= (unsigned int)seg[2] << 8;
		err = CELL_MCU_CAN_E_LENGTH;
		if (total <= CELL_MCU_CAN_SF_MAX)
			goto refuse;
		h = 3;
	} else if (pci == CELL_MCU_CAN_PCI_SF) {
		err = CELL_MCU_CAN_E_LENGTH;
		if (total - 1 >= CELL_MCU_CAN_SF_MAX)
			goto refuse;
		h = 2;
	} else {
		err = CELL_MCU_CAN_E_PCI;
		if ((pci & 0xf0) != CELL_MCU_CAN_PCI_CF)
			goto refuse;
		err = CELL_MCU_CAN_E_UNEXPECTED;
		if (!own)
			goto refuse;
		drop = own;
		err = CELL_MCU_CAN_E_SEQUENCE;
		if ((pci & 0xf) != ((own->len + 2u) / CELL_MCU_CAN_CF_DATA & 0xf))
			goto refuse;
		total = (unsigned int)own->total - own->len; /* what is left */
	}
	k = CELL_MCU_CAN_MTU - h;
	if (k > total)
		k = total;
	err = CELL_MCU_CAN_E_DLC;
	if (len != cell_mcu_can_dlc_round(h + k))
		goto refuse;
	s = drop;
	if (!s) {
		s = own ? own : take;
		err = CELL_MCU_CAN_E_NO_SLOT;
		if (!s)
			goto refuse;
		/* s->state is 1 (BUSY) or 0: INTERRUPTED if own, else EVICTED if busy */
		rx->errors[CELL_MCU_CAN_E_EVICTED - !!own] += s->state;
		drop = s;
		err = CELL_MCU_CAN_E_TOO_LONG;
		if (total > s->cap)
			goto refuse;
		s->src = src;
		s->total = (uint16_t)total;
		s->len = 0;
	}
	for (seg += h; k--;)
		s->buf[s->len++] = *seg++;
	s->stamp = rx->clock;
	s->state = CELL_MCU_CAN_BUSY;
	if (s->len < s->total)
		return 0;
	s->state = CELL_MCU_CAN_DONE;
	rx->messages++;
	return (int)(s - rx->slot) + 1;
refuse:
	if (drop)
		drop->state = CELL_MCU_CAN_FREE;
	rx->errors[err]++;
	return -(int)err;
}

void cell_mcu_can_rx_release(struct cell_mcu_can_rx *rx, uint8_t i)
{
	/* DONE (2) becomes FREE (0); FREE and BUSY (1) stay as they are */
	if (i < rx->n)
		rx->slot[i].state &= (uint8_t)~CELL_MCU_CAN_DONE;
}
