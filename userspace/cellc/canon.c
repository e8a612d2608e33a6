// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The canonical text of a schema: what the fingerprint is computed over,
 * and what a server answers to CELL_METHOD_SCHEMA.  Comments and layout
 * are dropped, numbers written in decimal, one declaration per line:
 *
 *   schema math;
 *   struct pair { i32 a; i32 b; }
 *   service math { 1: add(pair) -> sum; 2: log(note) oneway; }
 *
 * Every line ends with "\n"; tokens are separated by one space as above.
 */
#include "cellc.h"

static const char *const names[] = {
	[TY_U8] = "u8",	    [TY_U16] = "u16",	    [TY_U32] = "u32",	  [TY_U64] = "u64",
	[TY_I8] = "i8",	    [TY_I16] = "i16",	    [TY_I32] = "i32",	  [TY_I64] = "i64",
	[TY_BOOL] = "bool", [TY_STRING] = "string", [TY_BYTES] = "bytes", [TY_STRUCT] = "struct",
};

const char *type_name(enum type_kind k)
{
	return names[k];
}

void canonical_text(const struct schema *s, struct buf *out)
{
	buf_printf(out, "schema %s;\n", s->name);
	for (int i = 0; i < s->nstructs; i++) {
		const struct cstruct *st = s->structs[i];

		buf_printf(out, "struct %s {", st->name);
		for (int j = 0; j < st->nfields; j++) {
			const struct field *f = &st->fields[j];

			buf_printf(out, " %s %s", f->type_name, f->name);
			if (f->arr == ARR_FIXED)
				buf_printf(out, "[%llu]", (unsigned long long)f->count);
			else if (f->arr == ARR_VECTOR)
				buf_puts(out, "[]");
			buf_puts(out, ";");
		}
		buf_puts(out, " }\n");
	}
	if (!s->service)
		return;
	buf_printf(out, "service %s {", s->service);
	for (int i = 0; i < s->nmethods; i++) {
		const struct method *m = &s->methods[i];

		buf_printf(out, " %llu: %s(%s)", (unsigned long long)m->id, m->name, m->req_name);
		if (m->resp_name)
			buf_printf(out, " -> %s;", m->resp_name);
		else
			buf_puts(out, " oneway;");
	}
	buf_puts(out, " }\n");
}

/* FNV-1a 64, as cell_fingerprint() (lib/wire.c); selftests/cellc checks they agree. */
uint64_t fnv1a64(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
