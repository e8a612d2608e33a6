// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Writes the seed corpus of fuzz_ring (format in selftests/fuzz/fuzz_ring.c)
 * from rings filled by the real producer, plus forged variants:
 *
 *   ring_corpus_gen selftests/fuzz/corpus/ring
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/ring.h>

#define DATA  4096u
#define IMAGE (CELL_RING_OFF_DATA + DATA)

struct seed {
	uint64_t tail, head, tail2, head2;
	uint32_t flags, geo_xor;
	uint8_t data[DATA];
	uint8_t scribbles[12 * 16];
	size_t nscribbles;
};

static uint8_t *img;
static struct cell_ring p, c;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* A fresh ring image with both sides attached to it. */
static void fresh(void)
{
	struct cell_ring_geometry g = {
		.magic = CELL_RING_MAGIC,
		.abi_version = CELL_ABI_VERSION,
		.geometry_size = sizeof(g),
		.page_size = CELL_RING_PAGE,
		.data_size = DATA,
		.producer_offset = CELL_RING_OFF_PRODUCER,
		.consumer_offset = CELL_RING_OFF_CONSUMER,
		.data_offset = CELL_RING_OFF_DATA,
	};

	memset(img, 0, IMAGE);
	memcpy(img, &g, sizeof(g));
	if (cell_ring_attach_mem(&p, img, IMAGE, CELL_ROLE_PRODUCER, DATA) ||
	    cell_ring_attach_mem(&c, img, IMAGE, CELL_ROLE_CONSUMER, DATA))
		die("attach");
}

static void put(uint32_t len, uint8_t fill)
{
	void *d = cell_ring_reserve(&p, len);

	if (!d)
		die("reserve");
	memset(d, fill, len);
	if (cell_ring_commit(&p, len))
		die("commit");
}

static void drain(int n)
{
	struct cell_ring_view v;

	while (n-- > 0) {
		if (cell_ring_read(&c, &v))
			die("read");
		cell_ring_release(&c, v.end);
	}
}

static void snap(struct seed *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(&s->tail, img + CELL_RING_OFF_PRODUCER, 8);
	memcpy(&s->head, img + CELL_RING_OFF_CONSUMER, 8);
	memcpy(s->data, img + CELL_RING_OFF_DATA, DATA);
}

static void scribble(struct seed *s, uint32_t off, uint64_t val)
{
	memcpy(s->scribbles + 12 * s->nscribbles, &off, 4);
	memcpy(s->scribbles + 12 * s->nscribbles + 4, &val, 8);
	s->nscribbles++;
}

static void emit(const char *dir, const char *name, const struct seed *s, size_t data_len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		die(path);
	fwrite(&s->tail, 8, 1, f);
	fwrite(&s->head, 8, 1, f);
	fwrite(&s->tail2, 8, 1, f);
	fwrite(&s->flags, 4, 1, f);
	fwrite(&s->geo_xor, 4, 1, f);
	fwrite(&s->head2, 8, 1, f);
	if (s->nscribbles)
		data_len = DATA;
	fwrite(s->data, 1, data_len, f);
	fwrite(s->scribbles, 12, s->nscribbles, f);
	if (fclose(f))
		die(path);
}

int main(int argc, char **argv)
{
	static struct seed s;
	const char *dir;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	img = aligned_alloc(CELL_RING_PAGE, IMAGE);
	if (!img)
		die("aligned_alloc");

	fresh();
	snap(&s);
	emit(dir, "empty", &s, 0);

	fresh();
	for (uint32_t i = 0; i < 6; i++)
		put(16 + i * 37, (uint8_t)i);
	snap(&s);
	emit(dir, "few_records", &s, 512);
	s.flags = 0x4; /* release all */
	emit(dir, "few_records_release_all", &s, 512);

	/* Several laps in, a WRAP and records after it, some read already. */
	fresh();
	for (int i = 0; i < 40; i++) {
		put(200 + (uint32_t)i * 8, (uint8_t)i);
		drain(1);
	}
	put(1500, 0x11);
	put(900, 0x22);
	put(1200, 0x33); /* wraps */
	drain(1);
	snap(&s);
	emit(dir, "wrapped_mid_life", &s, DATA);

	/* Full ring. */
	fresh();
	while (cell_ring_reserve(&p, 100)) {
		if (cell_ring_commit(&p, 100))
			die("commit");
	}
	snap(&s);
	emit(dir, "full", &s, DATA);

	/* The same, forged: a stale seq, a torn tail, a tail that goes back. */
	s.data[4] ^= 0x10; /* first record's seq */
	emit(dir, "stale_seq", &s, DATA);
	s.data[4] ^= 0x10;
	s.tail += 8;
	emit(dir, "torn_tail", &s, DATA);
	s.tail -= 8;
	s.tail2 = s.tail - 112;
	emit(dir, "tail_goes_back", &s, DATA);
	s.tail2 = s.tail + DATA;
	emit(dir, "tail_jumps_a_lap", &s, DATA);
	s.tail2 = 0;

	/* A racing producer rewriting headers under the reader. */
	scribble(&s, 112, ((uint64_t)112 << 32) | 0xffffffffu); /* WRAP mid-ring */
	scribble(&s, 224, ((uint64_t)224 << 32) | 4000);	/* too long */
	scribble(&s, 336, 0);
	emit(dir, "scribbled_headers", &s, DATA);

	/* Bad geometry words: magic, data size, data offset. */
	fresh();
	put(64, 1);
	snap(&s);
	s.flags = 0x1 | (0u << 8);
	s.geo_xor = 1;
	emit(dir, "geometry_magic", &s, 128);
	s.flags = 0x1 | (4u << 8); /* data_size, low word */
	s.geo_xor = 0x1000;
	emit(dir, "geometry_size", &s, 128);
	s.flags = 0x1 | (10u << 8); /* data_offset, low word */
	s.geo_xor = 0x1000;
	emit(dir, "geometry_offset", &s, 128);

	/* A producer against a consumer that lies about its position. */
	fresh();
	for (int i = 0; i < 10; i++)
		put(300, (uint8_t)i);
	drain(3);
	snap(&s);
	s.flags = 0x2;
	s.head2 = s.head; /* stale by then: the consumer phase released more */
	emit(dir, "producer_stale_head", &s, DATA);
	s.head2 = s.tail + 8;
	emit(dir, "producer_head_ahead", &s, DATA);
	s.head2 = s.head - 8;
	emit(dir, "producer_head_back", &s, DATA);
	s.head2 = s.tail - DATA - 8;
	emit(dir, "producer_head_a_lap_behind", &s, DATA);

	/* Positions the consumer must refuse at attach. */
	memset(&s, 0, sizeof(s));
	s.tail = 8;
	s.head = 16;
	emit(dir, "attach_head_ahead", &s, 0);
	s.tail = 3;
	s.head = 0;
	emit(dir, "attach_misaligned", &s, 0);
	free(img);
	return 0;
}
