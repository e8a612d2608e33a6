// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The CAN-FD segmentation and reassembler (mcu/src/can_seg.c, shared by
 * the MCU port and libcell): round trips at every length boundary, then
 * each way a segment is refused (counted per reason), interleaved
 * senders, out-of-order, duplicated and truncated messages, a flood from
 * another node, bounded slots; and the discovery announcement.
 */
#include <stdlib.h>
#include <string.h>

#include "cell_mcu_can.h"

#include "kselftest_harness.h"

#define NSEG 1200

/* Segments as a sender emits them. */
struct segs {
	uint8_t data[NSEG][64];
	uint8_t len[NSEG];
	unsigned int n;
};

static int collect(void *ctx, const uint8_t *seg, uint8_t len)
{
	struct segs *s = ctx;

	if (s->n >= NSEG)
		return -7;
	memcpy(s->data[s->n], seg, len);
	s->len[s->n++] = len;
	return 0;
}

static void make_msg(uint8_t *m, unsigned int n, unsigned int seed)
{
	for (unsigned int i = 0; i < n; i++)
		m[i] = (uint8_t)(i * 7 + seed);
}

static uint8_t bufs[4][70000];

FIXTURE(rx)
{
	struct cell_mcu_can_slot slot[4];
	struct cell_mcu_can_rx rx;
	struct segs *a, *b;
	uint8_t msg[70000];
};

FIXTURE_SETUP(rx)
{
	for (int i = 0; i < 4; i++) {
		self->slot[i].buf = bufs[i];
		self->slot[i].cap = 1000;
	}
	cell_mcu_can_rx_init(&self->rx, self->slot, 2);
	self->a = calloc(1, sizeof(*self->a));
	self->b = calloc(1, sizeof(*self->b));
	ASSERT_NE(NULL, self->a);
	ASSERT_NE(NULL, self->b);
}

FIXTURE_TEARDOWN(rx)
{
	free(self->a);
	free(self->b);
}

static int feed(struct cell_mcu_can_rx *rx, uint8_t src, const struct segs *s, unsigned int from,
		unsigned int to)
{
	int r = 0;

	for (unsigned int i = from; i < to; i++)
		r = cell_mcu_can_rx_segment(rx, src, s->data[i], s->len[i]);
	return r;
}

TEST(dlc_round_gives_the_smallest_canfd_length)
{
	static const uint8_t want[65] = {
		0,  1,	2,  3,	4,  5,	6,  7,	8,  12, 12, 12, 12, 16, 16, 16, 16,
		20, 20, 20, 20, 24, 24, 24, 24, 32, 32, 32, 32, 32, 32, 32, 32, 48,
		48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 64, 64,
		64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
	};

	for (unsigned int n = 0; n <= 64; n++)
		ASSERT_EQ(want[n], cell_mcu_can_dlc_round((uint8_t)n));
}

TEST_F(rx, every_length_round_trips_with_the_documented_segments)
{
	static const unsigned int lens[] = { 1,	  24,  61,  62,	 63,  64,  124, 125,
					     126, 187, 188, 189, 640, 664, 1000 };

	for (unsigned int t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
		unsigned int n = lens[t], want_segs;
		int r;

		make_msg(self->msg, n, t);
		self->a->n = 0;
		ASSERT_EQ(0, cell_mcu_can_segment(self->msg, n, collect, self->a));
		want_segs = n <= 62 ? 1 : 1 + (n - 61 + 62) / 63;
		ASSERT_EQ(want_segs, self->a->n);
		if (n <= 62) {
			ASSERT_EQ(0x00, self->a->data[0][0]);
			ASSERT_EQ(n, self->a->data[0][1]);
		} else {
			ASSERT_EQ(0x10, self->a->data[0][0]);
			ASSERT_EQ(n & 0xff, self->a->data[0][1]);
			ASSERT_EQ(n >> 8, self->a->data[0][2]);
			ASSERT_EQ(64, self->a->len[0]);
			for (unsigned int i = 1; i < self->a->n; i++)
				ASSERT_EQ(0x20 | (i & 0xf), self->a->data[i][0]);
		}
		r = feed(&self->rx, 5, self->a, 0, self->a->n);
		ASSERT_GT(r, 0);
		ASSERT_EQ(n, self->slot[r - 1].total);
		ASSERT_EQ(5, self->slot[r - 1].src);
		ASSERT_EQ(0, memcmp(self->slot[r - 1].buf, self->msg, n));
		cell_mcu_can_rx_release(&self->rx, (uint8_t)(r - 1));
	}
	for (int e = 1; e < CELL_MCU_CAN_E_MAX; e++)
		ASSERT_EQ(0, self->rx.errors[e]);
	ASSERT_EQ(0, cell_mcu_can_segment(self->msg, 0, collect, self->a) + 1);
}

TEST_F(rx, malformed_segments_are_refused_and_counted)
{
	uint8_t seg[64];

	memset(seg, 0xcc, sizeof(seg));
	ASSERT_EQ(-CELL_MCU_CAN_E_DLC, cell_mcu_can_rx_segment(&self->rx, 1, seg, 0));
	seg[0] = 0x30; /* flow control: not used */
	ASSERT_EQ(-CELL_MCU_CAN_E_PCI, cell_mcu_can_rx_segment(&self->rx, 1, seg, 8));
	seg[0] = 0x01;
	ASSERT_EQ(-CELL_MCU_CAN_E_PCI, cell_mcu_can_rx_segment(&self->rx, 1, seg, 8));
	seg[0] = 0x00;
	seg[1] = 0; /* single of 0 bytes */
	ASSERT_EQ(-CELL_MCU_CAN_E_LENGTH, cell_mcu_can_rx_segment(&self->rx, 1, seg, 8));
	seg[1] = 63; /* single that cannot fit */
	ASSERT_EQ(-CELL_MCU_CAN_E_LENGTH, cell_mcu_can_rx_segment(&self->rx, 1, seg, 64));
	seg[1] = 10; /* needs 12 bytes */
	ASSERT_EQ(-CELL_MCU_CAN_E_DLC, cell_mcu_can_rx_segment(&self->rx, 1, seg, 16));
	ASSERT_EQ(-CELL_MCU_CAN_E_DLC, cell_mcu_can_rx_segment(&self->rx, 1, seg, 8));
	seg[0] = 0x10;
	seg[1] = 62; /* a first segment of what fits a single */
	seg[2] = 0;
	ASSERT_EQ(-CELL_MCU_CAN_E_LENGTH, cell_mcu_can_rx_segment(&self->rx, 1, seg, 64));
	seg[1] = 100;
	ASSERT_EQ(-CELL_MCU_CAN_E_DLC, cell_mcu_can_rx_segment(&self->rx, 1, seg, 48));
	ASSERT_EQ(-CELL_MCU_CAN_E_DLC, cell_mcu_can_rx_segment(&self->rx, 1, seg, 2));
	seg[1] = 0xe9; /* 1001 bytes: over the slot */
	seg[2] = 0x03;
	ASSERT_EQ(-CELL_MCU_CAN_E_TOO_LONG, cell_mcu_can_rx_segment(&self->rx, 1, seg, 64));
	seg[0] = 0x21; /* consecutive with nothing under way */
	ASSERT_EQ(-CELL_MCU_CAN_E_UNEXPECTED, cell_mcu_can_rx_segment(&self->rx, 1, seg, 64));
	ASSERT_EQ(5, self->rx.errors[CELL_MCU_CAN_E_DLC]);
	ASSERT_EQ(2, self->rx.errors[CELL_MCU_CAN_E_PCI]);
	ASSERT_EQ(3, self->rx.errors[CELL_MCU_CAN_E_LENGTH]);
	ASSERT_EQ(1, self->rx.errors[CELL_MCU_CAN_E_TOO_LONG]);
	ASSERT_EQ(1, self->rx.errors[CELL_MCU_CAN_E_UNEXPECTED]);
	ASSERT_EQ(0, self->rx.messages);
	ASSERT_EQ(-1, cell_mcu_can_rx_ready(&self->rx));
}

TEST_F(rx, out_of_order_duplicated_and_short_consecutives_drop_the_message)
{
	make_msg(self->msg, 300, 1);
	ASSERT_EQ(0, cell_mcu_can_segment(self->msg, 300, collect, self->a));
	ASSERT_EQ(5, self->a->n);
	/* Reordered: 0, 2 */
	ASSERT_EQ(0, feed(&self->rx, 9, self->a, 0, 1));
	ASSERT_EQ(-CELL_MCU_CAN_E_SEQUENCE, feed(&self->rx, 9, self->a, 2, 3));
	ASSERT_EQ(-CELL_MCU_CAN_E_UNEXPECTED, feed(&self->rx, 9, self->a, 3, 4));
	/* Duplicated: 0, 1, 1 */
	ASSERT_EQ(0, feed(&self->rx, 9, self->a, 0, 2));
	ASSERT_EQ(-CELL_MCU_CAN_E_SEQUENCE, feed(&self->rx, 9, self->a, 1, 2));
	/* Short: the last consecutive cut to 8 bytes */
	ASSERT_EQ(0, feed(&self->rx, 9, self->a, 0, 4));
	ASSERT_EQ(-CELL_MCU_CAN_E_DLC, cell_mcu_can_rx_segment(&self->rx, 9, self->a->data[4], 8));
	/* Truncated (the sender stopped), then its next message: counted, served. */
	ASSERT_EQ(0, feed(&self->rx, 9, self->a, 0, 3));
	ASSERT_EQ(1, feed(&self->rx, 9, self->a, 0, 5));
	ASSERT_EQ(1, self->rx.errors[CELL_MCU_CAN_E_INTERRUPTED]);
	ASSERT_EQ(0, memcmp(self->slot[0].buf, self->msg, 300));
	ASSERT_EQ(1, self->rx.messages);
	ASSERT_EQ(0, self->rx.errors[CELL_MCU_CAN_E_EVICTED]);
}

TEST_F(rx, interleaved_senders_each_get_their_message)
{
	uint8_t other[700];

	make_msg(self->msg, 600, 3);
	make_msg(other, 700, 4);
	ASSERT_EQ(0, cell_mcu_can_segment(self->msg, 600, collect, self->a));
	ASSERT_EQ(0, cell_mcu_can_segment(other, 700, collect, self->b));
	for (unsigned int i = 0; i < self->b->n; i++) {
		if (i < self->a->n)
			feed(&self->rx, 1, self->a, i, i + 1);
		feed(&self->rx, 2, self->b, i, i + 1);
	}
	ASSERT_EQ(2, self->rx.messages);
	ASSERT_EQ(0, cell_mcu_can_rx_ready(&self->rx)); /* the first to finish */
	ASSERT_EQ(1, self->slot[0].src);
	ASSERT_EQ(0, memcmp(self->slot[0].buf, self->msg, 600));
	ASSERT_EQ(2, self->slot[1].src);
	ASSERT_EQ(0, memcmp(self->slot[1].buf, other, 700));
	/* Both buffers full: a third message has no room until one is served. */
	ASSERT_EQ(-CELL_MCU_CAN_E_NO_SLOT, feed(&self->rx, 3, self->a, 0, 1));
	cell_mcu_can_rx_release(&self->rx, 0);
	ASSERT_EQ(1, cell_mcu_can_rx_ready(&self->rx));
	ASSERT_EQ(0, feed(&self->rx, 3, self->a, 0, 1));
}

TEST_F(rx, a_flood_from_another_node_cannot_take_both_buffers)
{
	uint8_t junk[64];

	make_msg(self->msg, 900, 5);
	ASSERT_EQ(0, cell_mcu_can_segment(self->msg, 900, collect, self->a));
	memset(junk, 0x55, sizeof(junk));
	for (unsigned int i = 0; i < self->a->n; i++) {
		int r = feed(&self->rx, 1, self->a, i, i + 1);

		/* Node 0x66 floods: first segments, junk, consecutive out of turn. */
		for (int k = 0; k < 50; k++) {
			junk[0] = (uint8_t)(k % 3 == 0 ? 0x10 : k % 3 == 1 ? 0x21 : 0x5a);
			junk[1] = 0xff;
			junk[2] = 0x02;
			(void)cell_mcu_can_rx_segment(&self->rx, 0x66, junk, 64);
		}
		if (i + 1 == self->a->n)
			ASSERT_GT(r, 0);
	}
	ASSERT_EQ(1, self->rx.messages);
	ASSERT_EQ(0, self->rx.errors[CELL_MCU_CAN_E_EVICTED]);
	ASSERT_GT(self->rx.errors[CELL_MCU_CAN_E_INTERRUPTED], 100);
	ASSERT_GT(self->rx.errors[CELL_MCU_CAN_E_PCI], 100);
	ASSERT_EQ(0, memcmp(self->slot[cell_mcu_can_rx_ready(&self->rx)].buf, self->msg, 900));
}

TEST_F(rx, a_dead_senders_message_is_evicted_for_a_live_one)
{
	make_msg(self->msg, 300, 6);
	ASSERT_EQ(0, cell_mcu_can_segment(self->msg, 300, collect, self->a));
	ASSERT_EQ(0, feed(&self->rx, 1, self->a, 0, 2)); /* node 1 dies */
	ASSERT_EQ(0, feed(&self->rx, 2, self->a, 0, 2)); /* node 2 dies */
	ASSERT_GT(feed(&self->rx, 3, self->a, 0, self->a->n), 0);
	ASSERT_EQ(1, self->rx.errors[CELL_MCU_CAN_E_EVICTED]);
	ASSERT_EQ(3, self->slot[0].src); /* node 1's, the older, went */
}

TEST(announce_round_trips_and_refuses_bad_ones)
{
	struct cell_mcu_can_announce a = {
		.fingerprint = 0x0123456789abcdefULL,
		.max_payload = 640,
		.slots = 2,
		.name_len = 6,
		.name = "sensor",
	},
				     b;
	uint8_t f[64];
	uint8_t len = cell_mcu_can_announce_encode(&a, f);

	ASSERT_EQ(24, len);
	ASSERT_EQ(0xce, f[0]);
	ASSERT_EQ(0xef, f[4]);
	ASSERT_EQ(0x01, f[11]);
	ASSERT_EQ(CELL_MCU_CAN_OK, cell_mcu_can_announce_decode(f, len, &b));
	ASSERT_EQ(a.fingerprint, b.fingerprint);
	ASSERT_EQ(640, b.max_payload);
	ASSERT_EQ(2, b.slots);
	ASSERT_STREQ("sensor", b.name);
	ASSERT_EQ(CELL_MCU_CAN_E_ANNOUNCE, cell_mcu_can_announce_decode(f, 32, &b));
	ASSERT_EQ(CELL_MCU_CAN_E_ANNOUNCE, cell_mcu_can_announce_decode(f, 16, &b));
	f[16] = '/';
	ASSERT_EQ(CELL_MCU_CAN_E_ANNOUNCE, cell_mcu_can_announce_decode(f, len, &b));
	f[16] = 's';
	f[14] = 1;
	ASSERT_EQ(CELL_MCU_CAN_E_ANNOUNCE, cell_mcu_can_announce_decode(f, len, &b));
	f[14] = 0;
	f[3] = 40;
	ASSERT_EQ(CELL_MCU_CAN_E_ANNOUNCE, cell_mcu_can_announce_decode(f, 64, &b));
	a.name_len = 0;
	ASSERT_EQ(0, cell_mcu_can_announce_encode(&a, f));
}

TEST_HARNESS_MAIN
