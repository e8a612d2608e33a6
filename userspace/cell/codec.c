// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* The schema-driven JSON codec of `cell call` (codec.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <linux/cell.h>

#include "codec.h"
#include "jsonout.h"

static uint32_t scalar_size(enum type_kind k)
{
	switch (k) {
	case TY_U16:
	case TY_I16:
		return 2;
	case TY_U32:
	case TY_I32:
		return 4;
	case TY_U64:
	case TY_I64:
		return 8;
	default:
		return 1;
	}
}

static uint32_t elem_size(const struct field *f)
{
	return f->kind == TY_STRUCT ? f->st->size : scalar_size(f->kind);
}

static uint32_t elem_align(const struct field *f)
{
	return f->kind == TY_STRUCT ? f->st->align : scalar_size(f->kind);
}

/* ---- encoding --------------------------------------------------------- */

struct enc {
	uint8_t *p;
	size_t len, cap;
	char *err;
	size_t errcap;
	char path[256]; /* "blob.items[2].name" of the value being encoded */
};

__attribute__((format(printf, 2, 3))) static int enc_fail(struct enc *e, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(e->err, e->errcap, "%s: ", e->path[0] ? e->path : "request");

	if (n >= 0 && (size_t)n < e->errcap) {
		va_start(ap, fmt);
		vsnprintf(e->err + n, e->errcap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Zeroed room for @size bytes at a multiple of @align; its offset or -1. */
static int64_t reserve(struct enc *e, uint64_t size, uint32_t align)
{
	uint64_t at = (e->len + align - 1) & ~(uint64_t)(align - 1);

	if (at + size > CELL_MAX_PAYLOAD)
		return -1;
	if (at + size > e->cap) {
		size_t cap = (size_t)(at + size) * 2 + 64;
		uint8_t *p = realloc(e->p, cap);

		if (!p)
			return -1;
		e->p = p;
		e->cap = cap;
	}
	memset(e->p + e->len, 0, (size_t)(at + size - e->len));
	e->len = (size_t)(at + size);
	return (int64_t)at;
}

static void put_le(struct enc *e, uint64_t off, uint64_t v, uint32_t size)
{
	for (uint32_t i = 0; i < size; i++)
		e->p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put_span(struct enc *e, uint64_t off, uint32_t at, uint32_t n)
{
	put_le(e, off, at, 4);
	put_le(e, off + 4, n, 4);
}

static int encode_struct(struct enc *e, const struct cstruct *st, uint64_t off,
			 const struct json *v);

static int encode_int(struct enc *e, enum type_kind k, uint64_t off, const struct json *v)
{
	static const int64_t min[] = {
		[TY_I8] = INT8_MIN, [TY_I16] = INT16_MIN, [TY_I32] = INT32_MIN, [TY_I64] = INT64_MIN
	};
	static const int64_t max[] = {
		[TY_I8] = INT8_MAX, [TY_I16] = INT16_MAX, [TY_I32] = INT32_MAX, [TY_I64] = INT64_MAX
	};
	uint32_t size = scalar_size(k);
	bool is_signed = k == TY_I8 || k == TY_I16 || k == TY_I32 || k == TY_I64;

	if (v->type != JSON_NUMBER)
		return enc_fail(e, "expected an integer (%s), found %s", type_name(k),
				json_type_name(v->type));
	if (!v->is_int)
		return enc_fail(e, "%s is not an integer of 64 bits at most", v->str);
	if (is_signed) {
		if ((!v->neg && v->u > (uint64_t)INT64_MAX) || v->i < min[k] || v->i > max[k])
			return enc_fail(e, "%s does not fit %s", v->str, type_name(k));
		put_le(e, off, (uint64_t)v->i, size);
		return 0;
	}
	if (v->neg || (size < 8 && v->u >> (8 * size)))
		return enc_fail(e, "%s does not fit %s", v->str, type_name(k));
	put_le(e, off, v->u, size);
	return 0;
}

static int encode_elem(struct enc *e, const struct field *f, uint64_t off, const struct json *v)
{
	if (f->kind == TY_STRUCT)
		return encode_struct(e, f->st, off, v);
	if (f->kind == TY_BOOL) {
		if (v->type != JSON_TRUE && v->type != JSON_FALSE)
			return enc_fail(e, "expected true or false, found %s",
					json_type_name(v->type));
		e->p[off] = v->type == JSON_TRUE;
		return 0;
	}
	return encode_int(e, f->kind, off, v);
}

static int encode_text(struct enc *e, const struct field *f, uint64_t off, const struct json *v)
{
	int64_t at;

	if (v->type == JSON_ARRAY && f->kind == TY_BYTES) {
		at = reserve(e, v->n, 1);
		if (at < 0)
			return enc_fail(e, "message too large");
		for (size_t i = 0; i < v->n; i++) {
			const struct json *b = v->items[i];

			if (b->type != JSON_NUMBER || !b->is_int || b->neg || b->u > 255)
				return enc_fail(e, "byte %zu is not an integer 0..255", i);
			e->p[at + (int64_t)i] = (uint8_t)b->u;
		}
		put_span(e, off, v->n ? (uint32_t)at : 0, (uint32_t)v->n);
		return 0;
	}
	if (v->type != JSON_STRING)
		return enc_fail(e, "expected a string%s, found %s",
				f->kind == TY_BYTES ? " or an array of bytes" : "",
				json_type_name(v->type));
	if (!v->len)
		return 0;
	at = reserve(e, v->len, 1);
	if (at < 0)
		return enc_fail(e, "message too large");
	memcpy(e->p + at, v->str, v->len);
	put_span(e, off, (uint32_t)at, (uint32_t)v->len);
	return 0;
}

/* Encodes items of array @v, element i at @base + i * size. */
static int encode_items(struct enc *e, const struct field *f, uint64_t base, const struct json *v)
{
	size_t plen = strlen(e->path);
	int rc = 0;

	for (size_t i = 0; !rc && i < v->n; i++) {
		snprintf(e->path + plen, sizeof(e->path) - plen, "[%zu]", i);
		rc = encode_elem(e, f, base + i * elem_size(f), v->items[i]);
	}
	e->path[plen] = '\0';
	return rc;
}

static int encode_field(struct enc *e, const struct field *f, uint64_t off, const struct json *v)
{
	int64_t at;

	if (f->kind == TY_STRING || f->kind == TY_BYTES)
		return encode_text(e, f, off, v);
	if (f->arr == ARR_NONE)
		return encode_elem(e, f, off, v);
	if (v->type != JSON_ARRAY)
		return enc_fail(e, "expected an array, found %s", json_type_name(v->type));
	if (f->arr == ARR_FIXED) {
		if (v->n > f->count)
			return enc_fail(e, "%zu items for an array of %llu", v->n,
					(unsigned long long)f->count);
		return encode_items(e, f, off, v);
	}
	if (!v->n)
		return 0;
	at = reserve(e, (uint64_t)v->n * elem_size(f), elem_align(f));
	if (at < 0 || v->n > UINT32_MAX)
		return enc_fail(e, "message too large");
	put_span(e, off, (uint32_t)at, (uint32_t)v->n);
	return encode_items(e, f, (uint64_t)at, v);
}

static const struct field *find_field(const struct cstruct *st, const char *name, size_t len)
{
	for (int i = 0; i < st->nfields; i++)
		if (strlen(st->fields[i].name) == len && !memcmp(st->fields[i].name, name, len))
			return &st->fields[i];
	return NULL;
}

static int encode_struct(struct enc *e, const struct cstruct *st, uint64_t off,
			 const struct json *v)
{
	size_t plen = strlen(e->path);
	int rc = 0;

	if (v->type != JSON_OBJECT)
		return enc_fail(e, "expected an object (struct %s), found %s", st->name,
				json_type_name(v->type));
	for (size_t i = 0; !rc && i < v->n; i++) {
		const struct field *f = find_field(st, v->keys[i], v->key_lens[i]);

		if (!f)
			return enc_fail(e, "struct %s has no field \"%.*s\"", st->name,
					(int)v->key_lens[i], v->keys[i]);
		snprintf(e->path + plen, sizeof(e->path) - plen, "%s%s", plen ? "." : "", f->name);
		rc = encode_field(e, f, off + f->offset, v->items[i]);
		e->path[plen] = '\0';
	}
	return rc;
}

int codec_encode(const struct cstruct *st, const struct json *v, uint8_t **out, uint32_t *len,
		 char *err, size_t cap)
{
	struct enc e = { .err = err, .errcap = cap };
	int rc;

	snprintf(e.path, sizeof(e.path), "%s", "");
	if (reserve(&e, st->size, 8) < 0) {
		free(e.p);
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	rc = encode_struct(&e, st, 0, v);
	if (rc) {
		free(e.p);
		return rc;
	}
	*out = e.p;
	*len = (uint32_t)e.len;
	return 0;
}

/* ---- decoding --------------------------------------------------------- */

struct dec {
	FILE *out;
	const uint8_t *msg;
	uint64_t len;
	uint32_t root_size;
	uint64_t budget; /* tail bytes the spans may still cover */
	bool pretty;
	char *err;
	size_t errcap;
};

__attribute__((format(printf, 2, 3))) static int dec_fail(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, d->errcap, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static uint64_t get_le(const struct dec *d, uint64_t off, uint32_t size)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v |= (uint64_t)d->msg[off + i] << (8 * i);
	return v;
}

static void newline(struct dec *d, int depth)
{
	if (!d->pretty)
		return;
	fputc('\n', d->out);
	for (int i = 0; i < depth; i++)
		fputs("  ", d->out);
}

/* Checks span @off..: n elements of @size at a multiple of @align in the tail. */
static int span_at(struct dec *d, const struct cstruct *st, const struct field *f, uint64_t off,
		   uint32_t size, uint32_t align, uint32_t *at, uint32_t *n)
{
	uint64_t bytes;

	*at = (uint32_t)get_le(d, off, 4);
	*n = (uint32_t)get_le(d, off + 4, 4);
	if (!*n) {
		if (*at)
			return dec_fail(d, "%s.%s: empty but with an offset", st->name, f->name);
		return 0;
	}
	bytes = (uint64_t)*n * size;
	if (*at < d->root_size || *at + bytes > d->len || *at % align)
		return dec_fail(d, "%s.%s: offset or length out of bounds", st->name, f->name);
	if (bytes > d->budget)
		return dec_fail(d, "%s.%s: spans cover more than the message", st->name, f->name);
	d->budget -= bytes;
	return 0;
}

static size_t utf8_ok(const uint8_t *s, uint32_t n, bool *text)
{
	uint32_t i = 0;

	*text = true;
	while (i < n) {
		uint8_t c = s[i];
		uint32_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
		uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1f : k == 3 ? c & 0x0f : c & 0x07;

		if ((c & 0xc0) == 0x80 || c > 0xf4 || i + k > n)
			return 0;
		for (uint32_t j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (cp < 0x20 && cp != '\n' && cp != '\t' && cp != '\r')
			*text = false;
		i += k;
	}
	return 1;
}

static int print_text(struct dec *d, const struct cstruct *st, const struct field *f, uint64_t off)
{
	uint32_t at, n;
	bool text;
	int rc = span_at(d, st, f, off, 1, 1, &at, &n);

	if (rc)
		return rc;
	if (!utf8_ok(d->msg + at, n, &text)) {
		if (f->kind == TY_STRING)
			return dec_fail(d, "%s.%s: string is not UTF-8", st->name, f->name);
		text = false;
	}
	if (f->kind == TY_STRING || text) {
		json_put_string(d->out, (const char *)d->msg + at, n);
		return 0;
	}
	fputc('[', d->out);
	for (uint32_t i = 0; i < n; i++)
		fprintf(d->out, "%s%u", i ? "," : "", d->msg[at + i]);
	fputc(']', d->out);
	return 0;
}

static int print_struct(struct dec *d, const struct cstruct *st, uint64_t off, int depth);

static int print_elem(struct dec *d, const struct cstruct *st, const struct field *f, uint64_t off,
		      int depth)
{
	uint64_t v;

	if (f->kind == TY_STRUCT)
		return print_struct(d, f->st, off, depth);
	v = get_le(d, off, scalar_size(f->kind));
	switch (f->kind) {
	case TY_BOOL:
		if (v > 1)
			return dec_fail(d, "%s.%s: bool is not 0 or 1", st->name, f->name);
		fputs(v ? "true" : "false", d->out);
		return 0;
	case TY_I8:
		fprintf(d->out, "%d", (int8_t)v);
		return 0;
	case TY_I16:
		fprintf(d->out, "%d", (int16_t)v);
		return 0;
	case TY_I32:
		fprintf(d->out, "%" PRId32, (int32_t)v);
		return 0;
	case TY_I64:
		fprintf(d->out, "%" PRId64, (int64_t)v);
		return 0;
	default:
		fprintf(d->out, "%" PRIu64, v);
		return 0;
	}
}

static int print_items(struct dec *d, const struct cstruct *st, const struct field *f,
		       uint64_t base, uint32_t n, int depth)
{
	int rc = 0;

	fputc('[', d->out);
	for (uint32_t i = 0; !rc && i < n; i++) {
		if (i)
			fputc(',', d->out);
		if (f->kind == TY_STRUCT)
			newline(d, depth + 1);
		rc = print_elem(d, st, f, base + (uint64_t)i * elem_size(f), depth + 1);
	}
	if (n && f->kind == TY_STRUCT)
		newline(d, depth);
	fputc(']', d->out);
	return rc;
}

static int print_field(struct dec *d, const struct cstruct *st, const struct field *f, uint64_t off,
		       int depth)
{
	uint32_t at, n;
	int rc;

	if (f->kind == TY_STRING || f->kind == TY_BYTES)
		return print_text(d, st, f, off);
	if (f->arr == ARR_NONE)
		return print_elem(d, st, f, off, depth);
	if (f->arr == ARR_FIXED)
		return print_items(d, st, f, off, (uint32_t)f->count, depth);
	rc = span_at(d, st, f, off, elem_size(f), elem_align(f), &at, &n);
	return rc ? rc : print_items(d, st, f, at, n, depth);
}

static int print_struct(struct dec *d, const struct cstruct *st, uint64_t off, int depth)
{
	int rc = 0;

	fputc('{', d->out);
	for (int i = 0; !rc && i < st->nfields; i++) {
		const struct field *f = &st->fields[i];

		if (i)
			fputc(',', d->out);
		newline(d, depth + 1);
		json_put_cstr(d->out, f->name);
		fputs(d->pretty ? ": " : ":", d->out);
		rc = print_field(d, st, f, off + f->offset, depth + 1);
	}
	newline(d, depth);
	fputc('}', d->out);
	return rc;
}

int codec_print(FILE *out, const struct cstruct *st, const void *msg, uint32_t len, bool pretty,
		char *err, size_t cap)
{
	struct dec d = { .msg = msg,
			 .len = len,
			 .root_size = st->size,
			 .pretty = pretty,
			 .err = err,
			 .errcap = cap };
	char *text = NULL;
	size_t tlen = 0;
	int rc;

	if (len < st->size)
		return dec_fail(&d, "%s: %u bytes, shorter than its fixed part (%u)", st->name, len,
				st->size);
	if ((uintptr_t)msg & 7)
		return dec_fail(&d, "%s: message not 8-byte aligned", st->name);
	d.budget = len - st->size;
	d.out = open_memstream(&text, &tlen);
	if (!d.out)
		return dec_fail(&d, "out of memory");
	rc = print_struct(&d, st, 0, 0);
	fclose(d.out);
	if (!rc) {
		fwrite(text, 1, tlen, out);
		fputc('\n', out);
	}
	free(text);
	return rc;
}
