// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target of one generated validator of all.cell, chosen at build time
 * by FUZZ_SCALARS, FUZZ_NAMED, FUZZ_INNER or FUZZ_EVERYTHING (one target
 * each: cellc_scalars ...).  The input is a message as a peer would send
 * it.  Besides "no crash, no read outside the input" (every accepted
 * message is read whole through the accessors), checks what must hold:
 * a refusal is -EBADMSG with a reason; an accepted message rebuilt with
 * the builders is accepted again, reads the same, and rebuilding that
 * gives the very same bytes.  A violated property aborts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "all_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(FUZZ_SCALARS)
#define VALIDATE all_scalars_validate
#elif defined(FUZZ_NAMED)
#define VALIDATE all_named_validate
#elif defined(FUZZ_INNER)
#define VALIDATE all_inner_validate
#elif defined(FUZZ_EVERYTHING)
#define VALIDATE all_everything_validate
#else
#error "define FUZZ_SCALARS, FUZZ_NAMED, FUZZ_INNER or FUZZ_EVERYTHING"
#endif

/* Reads the message through the accessors. */
static uint64_t read_all(const void *msg)
{
#if defined(FUZZ_SCALARS)
	const struct all_scalars *m = (const struct all_scalars *)msg;

	if (m->t > 1)
		abort();
	return hash_scalars(0, m);
#elif defined(FUZZ_NAMED)
	return hash_named(0, msg, (const struct all_named *)msg);
#elif defined(FUZZ_INNER)
	return hash_inner(0, msg, (const struct all_inner *)msg);
#else
	return hash_everything(msg);
#endif
}

/* Rebuilds @msg into @out (@cap bytes).  Return: the length. */
static uint32_t rebuild(const void *msg, void *out, uint32_t cap)
{
	struct cellc_builder b;

	cellc_builder_init(&b, out, cap);
#if defined(FUZZ_SCALARS)
	{
		struct all_scalars *m = all_scalars_start(&b);

		if (m)
			*m = *(const struct all_scalars *)msg;
	}
	return cellc_builder_finish(&b);
#elif defined(FUZZ_NAMED)
	{
		struct all_named *m = all_named_start(&b);

		if (m)
			copy_named(&b, m, msg, (const struct all_named *)msg);
	}
	return cellc_builder_finish(&b);
#elif defined(FUZZ_INNER)
	{
		const struct all_inner *src = (const struct all_inner *)msg;
		struct all_inner *m = all_inner_start(&b);

		if (m) {
			m->id = src->id;
			copy_named(&b, &m->who, msg, &src->who);
		}
	}
	return cellc_builder_finish(&b);
#else
	return copy_everything(&b, msg);
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t len = size > 1U << 20 ? 1U << 20 : (uint32_t)size;
	const char *why = NULL;
	uint32_t cap, n1, n2;
	uint64_t h;
	uint8_t *a, *b;
	int e = VALIDATE(data, len, &why);

	if (e) {
		if (e != -EBADMSG || !why || !*why)
			abort();
		return 0;
	}
	h = read_all(data);
	/* A rebuilt message is compact: at most 7 bytes of padding per span. */
	cap = 8 * len + 64;
	a = aligned_alloc(8, cap);
	b = aligned_alloc(8, cap);
	if (!a || !b)
		abort();
	n1 = rebuild(data, a, cap);
	if (!n1 || VALIDATE(a, n1, NULL) || read_all(a) != h)
		abort();
	n2 = rebuild(a, b, cap);
	if (n2 != n1 || memcmp(a, b, n1))
		abort();
	free(a);
	free(b);
	return 0;
}
