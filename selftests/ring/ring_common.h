/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Helpers shared by the ring tests: message patterns a reader can check
 * from the message alone, and a pseudo-random sequence.
 */
#ifndef RING_COMMON_H
#define RING_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* splitmix64: a fixed sequence from any seed. */
static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

/*
 * A message: index, checksum of the payload, then the payload, whose
 * bytes follow from the index.  Lengths are at least sizeof(struct
 * msg_head).
 */
struct msg_head {
	uint64_t index;
	uint64_t sum;
};

static inline uint64_t msg_sum_step(uint64_t sum, uint64_t word)
{
	return (sum ^ word) * 0x100000001b3ULL;
}

/* Fill @len bytes at @p (8-byte aligned) as message @index; returns the sum. */
static inline uint64_t msg_fill(void *p, uint32_t len, uint64_t index)
{
	struct msg_head h = { .index = index, .sum = 0xcbf29ce484222325ULL };
	uint8_t *b = (uint8_t *)p + sizeof(h);
	uint32_t n = len - (uint32_t)sizeof(h), i = 0;
	uint64_t w = index;

	for (; i + 8 <= n; i += 8) {
		w = mix64(w);
		memcpy(b + i, &w, 8);
		h.sum = msg_sum_step(h.sum, w);
	}
	if (i < n) {
		w = mix64(w);
		memcpy(b + i, &w, n - i);
		h.sum = msg_sum_step(h.sum, w & ((1ULL << ((n - i) * 8)) - 1));
	}
	memcpy(p, &h, sizeof(h));
	return h.sum;
}

/* Whether @len bytes at @p are message @index, intact. */
static inline bool msg_check(const void *p, uint32_t len, uint64_t index)
{
	struct msg_head h;
	const uint8_t *b = (const uint8_t *)p + sizeof(h);
	uint32_t n, i = 0;
	uint64_t w = index, sum = 0xcbf29ce484222325ULL;

	if (len < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	if (h.index != index)
		return false;
	n = len - (uint32_t)sizeof(h);
	for (; i + 8 <= n; i += 8) {
		uint64_t got;

		w = mix64(w);
		memcpy(&got, b + i, 8);
		if (got != w)
			return false;
		sum = msg_sum_step(sum, got);
	}
	if (i < n) {
		uint64_t got = 0;

		w = mix64(w);
		memcpy(&got, b + i, n - i);
		if (got != (w & ((1ULL << ((n - i) * 8)) - 1)))
			return false;
		sum = msg_sum_step(sum, got);
	}
	return sum == h.sum;
}

#endif /* RING_COMMON_H */
