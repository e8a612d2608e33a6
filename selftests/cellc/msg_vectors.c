// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * msg_vectors: message vectors of all.cell for every binding.
 *
 *   msg_vectors emit            selftests/vectors/messages.tsv on stdout
 *   msg_vectors check           read "TYPE HEX" lines on stdin, answer each
 *                               with "ok HEX" (the message rebuilt by the C
 *                               builders, field order, depth first) or
 *                               "bad WHY" (the C validator's text)
 *
 * "emit" writes messages built with the generated builders and a fixed
 * set of corruptions of them (a xorshift sequence, so the file is the same
 * on every run), each with the verdict and rebuild of the C side.  The
 * Python and Go tests read the file and must agree byte for byte; "check"
 * lets them ask the C validator about inputs of their own (differential
 * tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "all_util.h"

#define MAX_MSG (1U << 16)

static _Alignas(8) uint8_t msg[MAX_MSG], out[MAX_MSG];

static const char *const types[] = { "scalars", "named", "inner", "everything" };

static int validate(int type, const uint8_t *p, uint32_t n, const char **why)
{
	switch (type) {
	case 0:
		return all_scalars_validate(p, n, why);
	case 1:
		return all_named_validate(p, n, why);
	case 2:
		return all_inner_validate(p, n, why);
	default:
		return all_everything_validate(p, n, why);
	}
}

/* The message rebuilt by the builders, or 0 when only everything is rebuilt. */
static uint32_t rebuild(int type, const uint8_t *p)
{
	struct cellc_builder b;

	if (type != 3)
		return 0;
	cellc_builder_init(&b, out, sizeof(out));
	return copy_everything(&b, p);
}

static void hex(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		printf("%s%02x", i ? " " : "", p[i]);
	if (!n)
		printf("-");
}

/* One line: name, type, bytes, expect (ok / the why text), rebuilt bytes. */
static void line(const char *name, int type, const uint8_t *p, uint32_t n)
{
	const char *why = NULL;
	uint32_t m;

	memcpy(msg, p, n);
	printf("%s\t%s\t", name, types[type]);
	hex(msg, n);
	if (validate(type, msg, n, &why)) {
		printf("\tbad\t%s\n", why);
		return;
	}
	printf("\tok\t");
	m = rebuild(type, msg);
	if (m)
		hex(out, m);
	else
		printf("=");
	printf("\n");
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void corruptions(const char *base, int type, const uint8_t *p, uint32_t n, int count)
{
	static _Alignas(8) uint8_t m[MAX_MSG];
	char name[64];

	for (int i = 0; i < count; i++) {
		uint32_t len = n;

		memcpy(m, p, n);
		switch (next() % 4) {
		case 0: /* truncated */
			len = (uint32_t)(next() % n);
			break;
		case 1: /* one byte anywhere */
			m[next() % n] = (uint8_t)next();
			break;
		case 2: /* a span word in the fixed part set to a nearby value */
			m[(next() % (n / 4)) * 4 & ~3U] += (uint8_t)(1 + next() % 8);
			break;
		default: /* a high byte: huge lengths and offsets */
			m[(next() % (n / 4)) * 4 + 3] = 0xff;
			break;
		}
		snprintf(name, sizeof(name), "%s_bad%d", base, i);
		line(name, type, m, len);
	}
}

static int emit(void)
{
	static _Alignas(8) uint8_t buf[MAX_MSG];
	struct cellc_builder b;
	struct all_named *named;
	struct all_inner *inner;
	uint32_t n;

	printf("# Message vectors of selftests/cellc/all.cell, written by msg_vectors emit\n"
	       "# (selftests/cellc/msg_vectors.c; do not edit).  Columns (tab-separated):\n"
	       "# name\ttype\tbytes (hex)\texpect (ok|bad)\tok: the message rebuilt in field "
	       "order (= for the same bytes); bad: the C validator's text\n");
	cellc_builder_init(&b, buf, sizeof(buf));
	sample_scalars(all_scalars_start(&b), 1);
	line("scalars_sample", 0, buf, cellc_builder_finish(&b));
	memset(buf, 0, ALL_SCALARS_SIZE);
	line("scalars_zero", 0, buf, ALL_SCALARS_SIZE);
	cellc_builder_init(&b, buf, sizeof(buf));
	named = all_named_start(&b);
	all_named_set_name_str(&b, named, "réseau");
	all_named_set_data(&b, named, "\x00\x01\x02", 3);
	named->on = 1;
	n = cellc_builder_finish(&b);
	line("named_sample", 1, buf, n);
	corruptions("named", 1, buf, n, 24);
	cellc_builder_init(&b, buf, sizeof(buf));
	inner = all_inner_start(&b);
	inner->id = 7;
	all_named_set_name_str(&b, &inner->who, "in");
	n = cellc_builder_finish(&b);
	line("inner_sample", 2, buf, n);
	corruptions("inner", 2, buf, n, 16);
	for (uint32_t items = 0; items < 4; items++) {
		char name[32];

		cellc_builder_init(&b, buf, sizeof(buf));
		n = sample_everything(&b, items, items * 2);
		snprintf(name, sizeof(name), "everything_%u", items);
		line(name, 3, buf, n);
	}
	corruptions("everything", 3, buf, n, 120);
	return 0;
}

static int unhex(const char *s, uint8_t *p, uint32_t *n)
{
	*n = 0;
	while (*s && *s != '\n') {
		unsigned int v;

		if (*s == ' ') {
			s++;
			continue;
		}
		if (*s == '-')
			break;
		if (sscanf(s, "%2x", &v) != 1 || *n >= MAX_MSG)
			return -1;
		p[(*n)++] = (uint8_t)v;
		s += 2;
	}
	return 0;
}

static int check(void)
{
	static char text[4 * MAX_MSG];

	while (fgets(text, sizeof(text), stdin)) {
		char *sp = strchr(text, ' ');
		int type = -1;
		uint32_t n;

		if (!sp)
			return 2;
		*sp = 0;
		for (int i = 0; i < 4; i++)
			if (!strcmp(text, types[i]))
				type = i;
		if (type < 0 || unhex(sp + 1, msg, &n))
			return 2;
		{
			const char *why = NULL;
			uint32_t m;

			if (validate(type, msg, n, &why)) {
				printf("bad %s\n", why);
			} else {
				printf("ok ");
				m = rebuild(type, msg);
				if (m)
					hex(out, m);
				else
					printf("=");
				printf("\n");
			}
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "emit"))
		return emit();
	if (argc == 2 && !strcmp(argv[1], "check"))
		return check();
	fprintf(stderr, "usage: msg_vectors emit | check\n");
	return 2;
}
