// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target: the shared pages of a 4 KiB ring written by a hostile peer.
 *
 * The input is a compact image (selftests/ring/ring_corpus_gen.c writes
 * the seeds), little endian:
 *
 *   0   u64 tail     producer position when the consumer attaches
 *   8   u64 head     consumer position when the consumer attaches
 *   16  u64 tail2    producer position written after the first read (0: none)
 *   24  u32 flags    FUZZ_GEOMETRY: XOR geometry word (flags >> 8) % 30 with
 *                    @geo_xor; FUZZ_PRODUCER: afterwards run a producer
 *                    against a consumer position of @head2; FUZZ_RELEASE_ALL:
 *                    release after every read (else every other one)
 *   28  u32 geo_xor
 *   32  u64 head2
 *   40  data area, 4096 bytes (missing bytes are zero)
 *   4136 scribbles: {u32 offset, u64 value} written into the data area, one
 *        after each read, as a producer racing the reader would
 *
 * The consumer reads until -EAGAIN or -EBADMSG: every view must lie inside
 * the data area and be touched byte by byte (ASan checks the image's
 * bounds: it is a heap buffer of exactly the ring's size); a bounded number
 * of reads must end it.  The producer may only hand out room inside the
 * data area, and must refuse an impossible consumer position.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cell/ring.h>

#define FUZZ_DATA	   4096u
#define FUZZ_IMAGE	   (CELL_RING_OFF_DATA + FUZZ_DATA)
#define FUZZ_HEAD	   40u
#define FUZZ_GEOMETRY	   0x1u
#define FUZZ_PRODUCER	   0x2u
#define FUZZ_RELEASE_ALL   0x4u
#define FUZZ_SCRIBBLE_SIZE 12u

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

static uint64_t get64(const uint8_t *in, size_t n, size_t at)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8 && at + i < n; i++)
		v |= (uint64_t)in[at + i] << (8 * i);
	return v;
}

static uint32_t get32(const uint8_t *in, size_t n, size_t at)
{
	return (uint32_t)get64(in, n, at); /* the low four bytes */
}

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static volatile uint8_t sink;

static void touch(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t x = 0;

	for (uint32_t i = 0; i < len; i++)
		x ^= b[i];
	sink = x;
}

static void consume(uint8_t *img, const uint8_t *in, size_t n, uint32_t flags)
{
	struct cell_ring_producer *prod = (void *)(img + CELL_RING_OFF_PRODUCER);
	struct cell_ring c;
	struct cell_ring_view v;
	size_t scribble = FUZZ_HEAD + FUZZ_DATA;
	uint64_t tail2 = get64(in, n, 16), last_end;
	unsigned int reads = 0;
	int rc;

	if (cell_ring_attach_mem(&c, img, FUZZ_IMAGE, CELL_ROLE_CONSUMER, 0))
		return;
	check(c.size == FUZZ_DATA);
	last_end = c.read_pos;
	/* Each read takes 8 bytes at least and the tail moves at most twice. */
	while ((rc = cell_ring_read(&c, &v)) == 0) {
		const uint8_t *d = v.data;

		check(++reads <= 2 * 2 * FUZZ_DATA / 8);
		check(!((uintptr_t)d & 7));
		check(d >= c.data + 8 && d <= c.data + c.size);
		check(v.len <= CELL_RING_RECORD_MAX(c.size));
		check((size_t)(c.data + c.size - d) >= v.len);
		check(v.end > last_end && v.end == c.read_pos && v.end - last_end <= c.size);
		last_end = v.end;
		touch(d, v.len);
		if ((flags & FUZZ_RELEASE_ALL) || reads % 2)
			cell_ring_release(&c, v.end);
		if (reads == 1 && tail2)
			__atomic_store_n(&prod->position, tail2, __ATOMIC_RELEASE);
		if (scribble + FUZZ_SCRIBBLE_SIZE <= n) {
			uint32_t off = get32(in, n, scribble) & (FUZZ_DATA - 8);
			uint64_t val = get64(in, n, scribble + 4);

			memcpy(c.data + off, &val, 8);
			scribble += FUZZ_SCRIBBLE_SIZE;
		}
	}
	check(rc == -EAGAIN || rc == -EBADMSG);
	check((rc == -EBADMSG) == c.broken);
	/* The other entry points on what is left: none may wait or crash. */
	(void)cell_ring_pending(&c);
	if (cell_ring_prepare_sleep(&c))
		cell_ring_end_sleep(&c);
	rc = cell_ring_read_wait(&c, &v, 0, NULL, NULL);
	check(rc == 0 || rc == -ETIMEDOUT || rc == -EBADMSG);
	cell_ring_release(&c, c.read_pos);
	cell_ring_detach(&c);
}

static void produce(uint8_t *img, const uint8_t *in, size_t n)
{
	struct cell_ring_consumer *cons = (void *)(img + CELL_RING_OFF_CONSUMER);
	struct cell_ring p;

	if (cell_ring_attach_mem(&p, img, FUZZ_IMAGE, CELL_ROLE_PRODUCER, 0))
		return;
	__atomic_store_n(&cons->position, get64(in, n, 32), __ATOMIC_RELEASE);
	/* Enough records to fill the ring, so the producer must read the head. */
	for (int i = 0; i < 64; i++) {
		uint32_t len = 256 + (uint32_t)(get64(in, n, FUZZ_HEAD + (size_t)i * 2) & 0x7ff);
		uint8_t *d = cell_ring_reserve(&p, len);

		if (!d) {
			check(errno == EAGAIN || errno == EBADMSG || errno == EMSGSIZE);
			if (errno != EMSGSIZE)
				break;
			continue;
		}
		check(!((uintptr_t)d & 7) && d >= p.data + 8 &&
		      (size_t)(p.data + p.size - d) >= len);
		memset(d, 0xa5, len);
		check(cell_ring_commit(&p, len) == 0);
	}
	cell_ring_detach(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	struct cell_ring_geometry g = {
		.magic = CELL_RING_MAGIC,
		.abi_version = CELL_ABI_VERSION,
		.geometry_size = sizeof(g),
		.page_size = CELL_RING_PAGE,
		.data_size = FUZZ_DATA,
		.producer_offset = CELL_RING_OFF_PRODUCER,
		.consumer_offset = CELL_RING_OFF_CONSUMER,
		.data_offset = CELL_RING_OFF_DATA,
	};
	uint32_t flags = get32(in, n, 24);
	uint8_t *img = aligned_alloc(CELL_RING_PAGE, FUZZ_IMAGE);
	uint64_t pos;

	if (!img)
		return 0;
	memset(img, 0, FUZZ_IMAGE);
	if (flags & FUZZ_GEOMETRY) {
		uint32_t w;
		size_t at = ((flags >> 8) % (sizeof(g) / 4)) * 4;

		memcpy(&w, (uint8_t *)&g + at, 4);
		w ^= get32(in, n, 28);
		memcpy((uint8_t *)&g + at, &w, 4);
	}
	memcpy(img, &g, sizeof(g));
	pos = get64(in, n, 0);
	memcpy(img + CELL_RING_OFF_PRODUCER, &pos, 8);
	pos = get64(in, n, 8);
	memcpy(img + CELL_RING_OFF_CONSUMER, &pos, 8);
	if (n > FUZZ_HEAD)
		memcpy(img + CELL_RING_OFF_DATA, in + FUZZ_HEAD,
		       n - FUZZ_HEAD < FUZZ_DATA ? n - FUZZ_HEAD : FUZZ_DATA);
	consume(img, in, n, flags);
	if (flags & FUZZ_PRODUCER)
		produce(img, in, n);
	free(img);
	return 0;
}
