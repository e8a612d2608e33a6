/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Helpers over the generated API of all.cell, shared by the unit tests and
 * the fuzz targets: a hash of a message's content read through the
 * accessors (it touches every byte a reader may touch), a deep copy that
 * rebuilds a message with the builders, and a sample message.
 */
#ifndef CELLC_ALL_UTIL_H
#define CELLC_ALL_UTIL_H

#include "all.cell.h"

static inline uint64_t mix(uint64_t h, const void *p, uint64_t n)
{
	const uint8_t *c = (const uint8_t *)p;

	for (uint64_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	h ^= n;
	h *= 0x100000001b3ULL;
	return h;
}

static inline uint64_t hash_scalars(uint64_t h, const struct all_scalars *m)
{
	h = mix(h, &m->a, 1);
	h = mix(h, &m->b, 2);
	h = mix(h, &m->c, 4);
	h = mix(h, &m->d, 8);
	h = mix(h, &m->e, 1);
	h = mix(h, &m->f, 2);
	h = mix(h, &m->g, 4);
	h = mix(h, &m->h, 8);
	return mix(h, &m->t, 1);
}

static inline uint64_t hash_named(uint64_t h, const void *msg, const struct all_named *m)
{
	uint32_t n;
	const char *s = all_named_name_at(msg, m, &n);

	h = mix(h, s, n);
	{
		const uint8_t *d = all_named_data_at(msg, m, &n);

		h = mix(h, d, n);
	}
	return mix(h, &m->on, 1);
}

static inline uint64_t hash_inner(uint64_t h, const void *msg, const struct all_inner *m)
{
	h = mix(h, &m->id, 2);
	return hash_named(h, msg, &m->who);
}

static inline uint64_t hash_everything(const void *msg)
{
	const struct all_everything *m = (const struct all_everything *)msg;
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t n;

	h = hash_scalars(h, &m->s);
	{
		const char *s = all_everything_text(m, &n);

		h = mix(h, s, n);
	}
	{
		const uint8_t *d = all_everything_blob(m, &n);

		h = mix(h, d, n);
	}
	h = mix(h, m->nums, sizeof(m->nums));
	h = mix(h, m->flags, sizeof(m->flags));
	for (int i = 0; i < 2; i++)
		h = hash_named(h, msg, &m->pair[i]);
	{
		const struct all_inner *v = all_everything_items(m, &n);

		h = mix(h, &n, 4);
		for (uint32_t i = 0; i < n; i++)
			h = hash_inner(h, msg, &v[i]);
	}
	{
		const uint64_t *v = all_everything_wide(m, &n);

		h = mix(h, v, (uint64_t)n * 8);
	}
	{
		const uint8_t *v = all_everything_votes(m, &n);

		h = mix(h, v, n);
	}
	{
		const int16_t *v = all_everything_small(m, &n);

		h = mix(h, v, (uint64_t)n * 2);
	}
	{
		const struct all_scalars *v = all_everything_plain(m, &n);

		h = mix(h, &n, 4);
		for (uint32_t i = 0; i < n; i++)
			h = hash_scalars(h, &v[i]);
	}
	return mix(h, &m->last, 1);
}

static inline void copy_named(struct cellc_builder *b, struct all_named *dst, const void *msg,
			      const struct all_named *src)
{
	uint32_t n;
	const char *s = all_named_name_at(msg, src, &n);

	all_named_set_name(b, dst, s, n);
	{
		const uint8_t *d = all_named_data_at(msg, src, &n);

		all_named_set_data(b, dst, d, n);
	}
	dst->on = src->on;
}

/* Copies the message @msg into @dst, started in @b.  Return: the length, 0 on error. */
static inline uint32_t copy_everything_into(struct cellc_builder *b, struct all_everything *dst,
					    const void *msg)
{
	const struct all_everything *src = (const struct all_everything *)msg;
	uint32_t n;

	if (!dst)
		return 0;
	dst->s = src->s;
	{
		const char *s = all_everything_text(src, &n);

		all_everything_set_text(b, dst, s, n);
	}
	{
		const uint8_t *d = all_everything_blob(src, &n);

		all_everything_set_blob(b, dst, d, n);
	}
	memcpy(dst->nums, src->nums, sizeof(dst->nums));
	memcpy(dst->flags, src->flags, sizeof(dst->flags));
	for (int i = 0; i < 2; i++)
		copy_named(b, &dst->pair[i], msg, &src->pair[i]);
	{
		const struct all_inner *v = all_everything_items(src, &n);
		struct all_inner *w = all_everything_alloc_items(b, dst, n);

		for (uint32_t i = 0; w && i < n; i++) {
			w[i].id = v[i].id;
			copy_named(b, &w[i].who, msg, &v[i].who);
		}
	}
	{
		const uint64_t *v = all_everything_wide(src, &n);

		all_everything_set_wide(b, dst, v, n);
	}
	{
		const uint8_t *v = all_everything_votes(src, &n);

		all_everything_set_votes(b, dst, v, n);
	}
	{
		const int16_t *v = all_everything_small(src, &n);

		all_everything_set_small(b, dst, v, n);
	}
	{
		const struct all_scalars *v = all_everything_plain(src, &n);
		struct all_scalars *w = all_everything_alloc_plain(b, dst, n);

		if (w && n)
			memcpy(w, v, (size_t)n * sizeof(*w));
	}
	dst->last = src->last;
	return cellc_builder_finish(b);
}

/* Rebuilds the message @msg with @b.  Return: its length, 0 on error. */
static inline uint32_t copy_everything(struct cellc_builder *b, const void *msg)
{
	return copy_everything_into(b, all_everything_start(b), msg);
}

static inline void sample_scalars(struct all_scalars *s, int k)
{
	s->a = (uint8_t)(0xa0 + k);
	s->b = (uint16_t)(0xb0b0 + k);
	s->c = 0xc0c0c0c0U + (uint32_t)k;
	s->d = 0xd0d0d0d0d0d0d0d0ULL + (uint64_t)k;
	s->e = (int8_t)(-5 - k);
	s->f = (int16_t)(-1234 - k);
	s->g = -123456789 - k;
	s->h = -1234567890123456789LL - k;
	s->t = (uint8_t)(k & 1);
}

/*
 * Fills @m (started in @b) with every field set; @nitems items, @nwide
 * wide values.  Return: the message's length, 0 on error.
 */
static inline uint32_t fill_everything(struct cellc_builder *b, struct all_everything *m,
				       uint32_t nitems, uint32_t nwide)
{
	static const char *const names[] = { "zero", "één", "二", "" };
	struct all_inner *items;
	struct all_scalars *plain;
	uint64_t *wide;
	const uint8_t votes[] = { 1, 0, 1 };
	const int16_t small[] = { -1, 2, -3, 4, -5 };
	const uint8_t blob[] = { 0, 1, 2, 0xff, 0xfe };

	if (!m)
		return 0;
	sample_scalars(&m->s, 1);
	all_everything_set_text_str(b, m, "hello, cell ✓");
	all_everything_set_blob(b, m, blob, sizeof(blob));
	m->nums[0] = 1;
	m->nums[1] = 22;
	m->nums[2] = 333;
	m->flags[0] = 1;
	m->flags[1] = 0;
	all_named_set_name_str(b, &m->pair[0], "left");
	all_named_set_data(b, &m->pair[0], "\x01\x02", 2);
	m->pair[0].on = 1;
	all_named_set_name_str(b, &m->pair[1], "right");
	items = all_everything_alloc_items(b, m, nitems);
	for (uint32_t i = 0; items && i < nitems; i++) {
		items[i].id = (uint16_t)(100 + i);
		all_named_set_name_str(b, &items[i].who, names[i % 4]);
		all_named_set_data(b, &items[i].who, &i, sizeof(i));
		items[i].who.on = (uint8_t)(i % 2);
	}
	wide = all_everything_alloc_wide(b, m, nwide);
	for (uint32_t i = 0; wide && i < nwide; i++)
		wide[i] = 0x0102030405060708ULL * (i + 1);
	all_everything_set_votes(b, m, votes, 3);
	all_everything_set_small(b, m, small, 5);
	plain = all_everything_alloc_plain(b, m, 2);
	if (plain) {
		sample_scalars(&plain[0], 2);
		sample_scalars(&plain[1], 3);
	}
	m->last = 0x77;
	return cellc_builder_finish(b);
}

static inline uint32_t sample_everything(struct cellc_builder *b, uint32_t nitems, uint32_t nwide)
{
	return fill_everything(b, all_everything_start(b), nitems, nwide);
}

#endif /* CELLC_ALL_UTIL_H */
