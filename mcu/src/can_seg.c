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

uint8_t cell_mcu_can_dlc_round(uint8_t n)
{
	if (n <= 8)
		return n;
	if (n <= 24)
		return (uint8_t)((n + 3) & ~3);
	return n <= 32 ? 32 : n <= 48 ? 48 : 64;
}

int cell_mcu_can_segment(const uint8_t *msg, uint32_t n, cell_mcu_can_emit emit, void *ctx)
{
	uint8_t seg[CELL_MCU_CAN_MTU], h, k, len, sn = 0;
	uint32_t off = 0;
	int r;

	if (n - 1 >= CELL_MCU_CAN_MSG_MAX)
		return -1;
	seg[0] = n > CELL_MCU_CAN_SF_MAX ? CELL_MCU_CAN_PCI_FF : CELL_MCU_CAN_PCI_SF;
	seg[1] = (uint8_t)n;
	seg[2] = (uint8_t)(n >> 8);
	h = (uint8_t)(2 + (seg[0] >> 4));
	k = n > CELL_MCU_CAN_SF_MAX ? CELL_MCU_CAN_FF_DATA : (uint8_t)n;
	for (;;) {
		len = cell_mcu_can_dlc_round((uint8_t)(h + k));
		memcpy(seg + h, msg + off, k);
		memset(seg + h + k, CELL_MCU_CAN_PAD_BYTE, (size_t)(len - h - k));
		off += k;
		r = emit(ctx, seg, len);
		if (r || off >= n)
			return r;
		sn = (uint8_t)((sn + 1) & 0xf);
		seg[0] = (uint8_t)(CELL_MCU_CAN_PCI_CF | sn);
		h = 1;
		k = n - off < CELL_MCU_CAN_CF_DATA ? (uint8_t)(n - off) : CELL_MCU_CAN_CF_DATA;
	}
}

void cell_mcu_can_rx_init(struct cell_mcu_can_rx *rx, struct cell_mcu_can_slot *slot, uint8_t n)
{
	uint8_t i;

	memset(rx, 0, sizeof(*rx));
	rx->slot = slot;
	rx->n = n;
	for (i = 0; i < n; i++)
		slot[i].state = CELL_MCU_CAN_FREE;
}

/* Age of a slot's last segment in rx->clock ticks (wraps after 65535). */
static unsigned int age(const struct cell_mcu_can_rx *rx, const struct cell_mcu_can_slot *s)
{
	return (uint16_t)(rx->clock - s->stamp);
}

/*
 * One pass over the slots finds the sender's unfinished message (own),
 * a free slot and the least recently active unfinished message of
 * another sender (lru).  A new message takes own (dropped: its sender
 * began anew), else the free slot, else lru (evicted), else nothing.
 * Every check comes before any state changes, except that a refused
 * consecutive segment drops its message (what follows cannot fit).  A
 * single segment is "00 LL", a first "10 NN NN": h, the bytes before the
 * data, is 2 + pci / 16 for both.
 */
int cell_mcu_can_rx_segment(struct cell_mcu_can_rx *rx, uint8_t src, const uint8_t *seg,
			    uint8_t len)
{
	struct cell_mcu_can_slot *s, *own = NULL, *fre = NULL, *lru = NULL, *drop = NULL;
	unsigned int i, h, k, pci, total;
	enum cell_mcu_can_err err;

	rx->clock++;
	for (i = 0; i < rx->n; i++) {
		s = &rx->slot[i];
		if (s->state == CELL_MCU_CAN_FREE && !fre)
			fre = s;
		if (s->state != CELL_MCU_CAN_BUSY)
			continue;
		if (s->src == src)
			own = s;
		else if (!lru || age(rx, s) > age(rx, lru))
			lru = s;
	}
	err = CELL_MCU_CAN_E_DLC;
	if (len < 2 || len > CELL_MCU_CAN_MTU)
		goto refuse;
	pci = seg[0];
	total = seg[1];
	err = CELL_MCU_CAN_E_LENGTH;
	if (pci == CELL_MCU_CAN_PCI_FF) {
		k = CELL_MCU_CAN_FF_DATA;
		if (len != CELL_MCU_CAN_MTU) {
			err = CELL_MCU_CAN_E_DLC;
			goto refuse;
		}
		total |= (unsigned int)seg[2] << 8;
		if (total <= CELL_MCU_CAN_SF_MAX)
			goto refuse;
	} else if (pci == CELL_MCU_CAN_PCI_SF) {
		k = total;
		if (total - 1 >= CELL_MCU_CAN_SF_MAX)
			goto refuse;
	} else {
		err = CELL_MCU_CAN_E_PCI;
		if ((pci & 0xf0) != CELL_MCU_CAN_PCI_CF)
			goto refuse;
		err = CELL_MCU_CAN_E_UNEXPECTED;
		if (!own)
			goto refuse;
		drop = own;
		err = CELL_MCU_CAN_E_SEQUENCE;
		if ((pci & 0xf) != own->sn)
			goto refuse;
		total = (unsigned int)own->total - own->len;
		k = total < CELL_MCU_CAN_CF_DATA ? total : CELL_MCU_CAN_CF_DATA;
	}
	h = pci & 0x20 ? 1 : 2 + (pci >> 4);
	err = CELL_MCU_CAN_E_DLC;
	if (len != cell_mcu_can_dlc_round((uint8_t)(h + k)))
		goto refuse;
	s = drop;
	if (!s) {
		s = own ? own : fre ? fre : lru;
		err = CELL_MCU_CAN_E_NO_SLOT;
		if (!s)
			goto refuse;
		if (own)
			rx->errors[CELL_MCU_CAN_E_INTERRUPTED]++;
		else if (!fre)
			rx->errors[CELL_MCU_CAN_E_EVICTED]++;
		drop = s;
		err = CELL_MCU_CAN_E_TOO_LONG;
		if (total > s->cap)
			goto refuse;
		s->src = src;
		s->sn = 0;
		s->total = (uint16_t)total;
		s->len = 0;
	}
	memcpy(s->buf + s->len, seg + h, k);
	s->sn = (uint8_t)((s->sn + 1) & 0xf);
	s->len = (uint16_t)(s->len + k);
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
	if (i < rx->n && rx->slot[i].state == CELL_MCU_CAN_DONE)
		rx->slot[i].state = CELL_MCU_CAN_FREE;
}

int cell_mcu_can_rx_ready(const struct cell_mcu_can_rx *rx)
{
	int best = -1;
	uint8_t i;

	for (i = 0; i < rx->n; i++)
		if (rx->slot[i].state == CELL_MCU_CAN_DONE &&
		    (best < 0 || age(rx, &rx->slot[i]) > age(rx, &rx->slot[best])))
			best = i;
	return best;
}
