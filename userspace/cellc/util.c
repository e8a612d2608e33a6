// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Arena allocation, diagnostics and growing strings.  Out of memory ends
 * the program: cellc is a build tool with nothing to recover.
 */
#include <stdlib.h>
#include <string.h>

#include "cellc.h"

struct diag diag;

struct block {
	struct block *next;
	max_align_t data[];
};

static struct block *arena;

static void *must(void *p)
{
	if (!p) {
		fputs("cellc: out of memory\n", stderr);
		exit(2);
	}
	return p;
}

void *xalloc(size_t n)
{
	struct block *b = must(calloc(1, sizeof(*b) + n));

	b->next = arena;
	arena = b;
	return b->data;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xalloc(n + 1);

	memcpy(p, s, n);
	return p;
}

void arena_free(void)
{
	while (arena) {
		struct block *next = arena->next;

		free(arena);
		arena = next;
	}
}

void error_at(struct loc at, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d:%d: error: ", diag.file, at.line, at.col);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	diag.errors++;
}

static void buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;

	if (b->len + more + 1 <= b->cap)
		return;
	while (cap < b->len + more + 1)
		cap *= 2;
	b->p = must(realloc(b->p, cap));
	b->cap = cap;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_puts(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

void buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
