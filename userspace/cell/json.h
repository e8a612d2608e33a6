/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * A small strict JSON parser (RFC 8259) for `cell call`: the whole text
 * becomes a tree; anything else is refused with the line, column and
 * what was expected.  Limits: JSON_MAX_DEPTH nesting levels, inputs the
 * caller bounds.  Strings are decoded (escapes, surrogate pairs) to UTF-8
 * and may hold NUL bytes (their length is kept); numbers keep their text
 * and whether they are integers that fit 64 bits.
 */
#ifndef CELL_JSON_H
#define CELL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

struct json {
	enum json_type type;
	/* JSON_STRING: the decoded bytes (NUL-terminated too); JSON_NUMBER: its text. */
	char *str;
	size_t len;
	/* JSON_NUMBER: integer value when is_int (then neg says which of i/u holds it). */
	bool is_int, neg;
	int64_t i;
	uint64_t u;
	/* JSON_ARRAY / JSON_OBJECT: n items (keys[k] names item k of an object). */
	struct json **items;
	char **keys;
	size_t *key_lens;
	size_t n;
};

/**
 * json_parse() - parse @len bytes of @text as one JSON value.
 * @err: receives "line L, column C: what" on failure (@cap bytes).
 * Return: the tree (json_free() it), or NULL.
 */
struct json *json_parse(const char *text, size_t len, char *err, size_t cap);

void json_free(struct json *v);

/* json_get() - the member @key of object @obj, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);

/* json_type_name() - "null", "boolean", "number", "string", "array", "object". */
const char *json_type_name(enum json_type t);

#endif /* CELL_JSON_H */
