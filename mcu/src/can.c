// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Method dispatch over CAN-FD: server.c's dispatch with the reassembler
 * of can_seg.c in front and its segmenter behind.  The server's two frame
 * buffers are the reassembler's two slots; an answer goes to the node
 * whose message it answers.  The request's slot is given back as soon as
 * the handler has written its answer, before the answer's segments go
 * out, so that the sender's next message finds a free buffer.
 */
#include <stddef.h>
#include <string.h>

#include "cell_mcu.h"

typedef char cell_mcu_can_assert_frame_fits[CELL_MCU_MAX_FRAME <= CELL_MCU_CAN_MSG_MAX ? 1 : -1];

/*
 * The server's serve order (cell_mcu_can.h): the finished slot that
 * completed first.  Not part of the framing (can_seg.c): libcell's
 * transport has one slot and no use for it.
 */
int cell_mcu_can_rx_ready(const struct cell_mcu_can_rx *rx)
{
	unsigned int i, age, oldest = 0;
	int best = -1;

	for (i = rx->n; i--;) {
		age = (uint16_t)(rx->clock - rx->slot[i].stamp);
		if (rx->slot[i].state == CELL_MCU_CAN_DONE && age >= oldest) {
			oldest = age;
			best = (int)i;
		}
	}
	return best;
}

static int emit(void *ctx, const uint8_t *seg, uint8_t len)
{
	struct cell_mcu_can_server *cs = ctx;

	return cs->can->send(cs->can->hw,
			     CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, CELL_MCU_CAN_KIND_SEGMENT,
					     cs->peer, cs->addr),
			     seg, len);
}

static void release(struct cell_mcu_can_server *cs)
{
	if (cs->serving >= 0)
		cell_mcu_can_rx_release(&cs->rx, (uint8_t)cs->serving);
	cs->serving = -1;
}

static void tx_frame(struct cell_mcu_server *srv, const uint8_t *frame, size_t n)
{
	struct cell_mcu_can_server *cs = (struct cell_mcu_can_server *)srv;

	release(cs);
	if (cell_mcu_can_segment(frame, (uint32_t)n, emit, cs))
		cs->tx_errors++;
}

void cell_mcu_can_server_init(struct cell_mcu_can_server *cs, const struct cell_mcu_can *can,
			      uint8_t addr, uint64_t fingerprint,
			      const struct cell_mcu_method *methods, uint16_t n, void *ctx)
{
	uint8_t i;

	cell_mcu_server_init(&cs->srv, NULL, fingerprint, methods, n, ctx);
	cs->srv.tx_frame = tx_frame;
	cs->can = can;
	cs->addr = addr;
	cs->peer = 0;
	cs->serving = -1;
	cs->foreign = 0;
	cs->tx_errors = 0;
	for (i = 0; i < CELL_MCU_CAN_SLOTS; i++) {
		cs->slot[i].buf = cs->srv.buf[i] + CELL_MCU_FRAME_PAD;
		cs->slot[i].cap = CELL_MCU_MAX_FRAME;
	}
	cell_mcu_can_rx_init(&cs->rx, cs->slot, CELL_MCU_CAN_SLOTS);
}

void cell_mcu_can_server_rx(struct cell_mcu_can_server *cs, uint32_t id, const uint8_t *data,
			    uint8_t len)
{
	uint8_t src = CELL_MCU_CAN_ID_SRC(id);

	if ((id & ~0xffU) !=
		    CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, CELL_MCU_CAN_KIND_SEGMENT, cs->addr, 0) ||
	    !src || src == CELL_MCU_CAN_BROADCAST) {
		cs->foreign++;
		return;
	}
	(void)cell_mcu_can_rx_segment(&cs->rx, src, data, len);
}

int cell_mcu_can_server_serve(struct cell_mcu_can_server *cs)
{
	int i = cell_mcu_can_rx_ready(&cs->rx);

	if (i < 0)
		return 0;
	__asm__ __volatile__("" ::: "memory"); /* the slot's bytes after its state */
	cs->serving = (int8_t)i;
	cs->peer = cs->slot[i].src;
	cell_mcu_server_frame(&cs->srv, cs->slot[i].buf, cs->slot[i].total);
	release(cs);
	return 1;
}

enum cell_mcu_err cell_mcu_can_server_send(struct cell_mcu_can_server *cs, uint8_t dst,
					   struct cell_hdr *hdr, const void *payload, uint32_t len)
{
	uint8_t peer = cs->peer;
	int8_t serving = cs->serving;
	enum cell_mcu_err err;

	cs->peer = dst;
	cs->serving = -1; /* the slot being served, if any, stays taken */
	err = cell_mcu_server_send(&cs->srv, hdr, payload, len);
	cs->peer = peer;
	cs->serving = serving;
	return err;
}

int cell_mcu_can_server_announce(struct cell_mcu_can_server *cs, const char *name, uint8_t name_len)
{
	struct cell_mcu_can_announce a;
	uint8_t buf[CELL_MCU_CAN_MTU], len;

	if (name_len > CELL_MCU_CAN_NAME_MAX)
		return -1;
	a.fingerprint = cs->srv.fingerprint;
	a.max_payload = CELL_MCU_MAX_PAYLOAD;
	a.slots = CELL_MCU_CAN_SLOTS;
	a.name_len = name_len;
	memcpy(a.name, name, name_len);
	len = cell_mcu_can_announce_encode(&a, buf);
	if (!len)
		return -1;
	return cs->can->send(cs->can->hw,
			     CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, CELL_MCU_CAN_KIND_ANNOUNCE,
					     CELL_MCU_CAN_BROADCAST, cs->addr),
			     buf, len);
}
