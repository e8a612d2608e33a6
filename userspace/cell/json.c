// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* The strict JSON parser of `cell call` (json.h): recursive descent, bounded depth. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonout.h"

struct parser {
	const char *s;
	size_t len, pos;
	char *err;
	size_t cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void fail(struct parser *p, const char *fmt, ...)
{
	size_t line = 1, col = 1;
	va_list ap;
	int n;

	if (p->failed)
		return;
	p->failed = true;
	for (size_t i = 0; i < p->pos && i < p->len; i++) {
		if (p->s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	n = snprintf(p->err, p->cap, "line %zu, column %zu: ", line, col);
	if (n < 0 || (size_t)n >= p->cap)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->cap - (size_t)n, fmt, ap);
	va_end(ap);
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static struct json *node(struct parser *p, enum json_type t)
{
	struct json *v = calloc(1, sizeof(*v));

	if (!v)
		fail(p, "out of memory");
	else
		v->type = t;
	return v;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return false;
	p->pos += n;
	return true;
}

/* ---- strings ---------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static bool sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *q = realloc(b->p, cap);

		if (!q)
			return false;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

static bool put_utf8(struct sbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sb_put(b, u, n);
}

static int hex4(struct parser *p, uint32_t *out)
{
	uint32_t v = 0;

	if (p->len - p->pos < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos + i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	p->pos += 4;
	*out = v;
	return 0;
}

static bool unicode_escape(struct parser *p, struct sbuf *b)
{
	uint32_t cp, lo;

	if (hex4(p, &cp)) {
		fail(p, "\\u must be followed by 4 hex digits");
		return false;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		fail(p, "lone low surrogate \\u%04x", cp);
		return false;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (!literal(p, "\\u") || hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff) {
			fail(p, "high surrogate \\u%04x without its low half", cp);
			return false;
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return put_utf8(b, cp);
}

static bool escape(struct parser *p, struct sbuf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *at;
	char c;

	if (p->pos >= p->len) {
		fail(p, "unterminated string");
		return false;
	}
	c = p->s[p->pos++];
	if (c == 'u')
		return unicode_escape(p, b);
	at = c ? strchr(from, c) : NULL;
	if (!at) {
		p->pos--;
		fail(p, "bad escape '\\%c'", c >= 0x20 && c < 0x7f ? c : '?');
		return false;
	}
	return sb_put(b, &to[at - from], 1);
}

/* A string at p->pos (after the quote) into @out; false after fail(). */
static bool string_body(struct parser *p, char **out, size_t *outlen)
{
	struct sbuf b = { 0 };

	if (!sb_put(&b, "", 0))
		goto oom;
	for (;;) {
		unsigned char c;
		size_t n;

		if (p->pos >= p->len) {
			fail(p, "unterminated string");
			goto out;
		}
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			*out = b.p;
			*outlen = b.len;
			return true;
		}
		if (c == '\\') {
			p->pos++;
			if (!escape(p, &b))
				goto out;
			continue;
		}
		if (c < 0x20) {
			fail(p, "control character 0x%02x in a string (escape it)", c);
			goto out;
		}
		n = json_utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
		if (!n) {
			fail(p, "invalid UTF-8 in a string");
			goto out;
		}
		if (!sb_put(&b, p->s + p->pos, n))
			goto oom;
		p->pos += n;
	}
oom:
	fail(p, "out of memory");
out:
	free(b.p);
	return false;
}

/* ---- numbers ---------------------------------------------------------- */

static size_t digits(struct parser *p)
{
	size_t n = 0;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		p->pos++;
		n++;
	}
	return n;
}

static void number_value(struct json *v)
{
	char *end;

	v->is_int = !strpbrk(v->str, ".eE");
	if (!v->is_int)
		return;
	errno = 0;
	v->neg = v->str[0] == '-';
	if (v->neg) {
		v->i = strtoll(v->str, &end, 10);
	} else {
		v->u = strtoull(v->str, &end, 10);
		v->i = (int64_t)v->u;
	}
	if (errno == ERANGE)
		v->is_int = false; /* an integer, but not one of 64 bits */
}

static struct json *number(struct parser *p)
{
	size_t start = p->pos;
	struct json *v;

	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (!digits(p))
		goto bad;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!digits(p))
			goto bad;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!digits(p))
			goto bad;
	}
	v = node(p, JSON_NUMBER);
	if (!v)
		return NULL;
	v->str = strndup(p->s + start, p->pos - start);
	if (!v->str) {
		free(v);
		fail(p, "out of memory");
		return NULL;
	}
	v->len = p->pos - start;
	number_value(v);
	return v;
bad:
	fail(p, "malformed number");
	return NULL;
}

/* ---- values ----------------------------------------------------------- */

static struct json *value(struct parser *p, int depth);

static bool append(struct parser *p, struct json *c, struct json *item, char *key, size_t klen)
{
	struct json **items = realloc(c->items, (c->n + 1) * sizeof(*items));
	char **keys;
	size_t *lens;

	if (items)
		c->items = items;
	keys = c->type == JSON_OBJECT ? realloc(c->keys, (c->n + 1) * sizeof(*keys)) : NULL;
	if (keys)
		c->keys = keys;
	lens = c->type == JSON_OBJECT ? realloc(c->key_lens, (c->n + 1) * sizeof(*lens)) : NULL;
	if (lens)
		c->key_lens = lens;
	if (!items || (c->type == JSON_OBJECT && (!keys || !lens))) {
		fail(p, "out of memory");
		return false;
	}
	c->items[c->n] = item;
	if (c->type == JSON_OBJECT) {
		c->keys[c->n] = key;
		c->key_lens[c->n] = klen;
	}
	c->n++;
	return true;
}

static bool member(struct parser *p, struct json *obj, int depth)
{
	struct json *item;
	char *key = NULL;
	size_t klen = 0;

	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != '"') {
		fail(p, "expected a member name (a string)");
		return false;
	}
	p->pos++;
	if (!string_body(p, &key, &klen))
		return false;
	for (size_t i = 0; i < obj->n; i++)
		if (obj->key_lens[i] == klen && !memcmp(obj->keys[i], key, klen)) {
			fail(p, "duplicate member \"%s\"", key);
			free(key);
			return false;
		}
	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != ':') {
		fail(p, "expected ':' after the member name");
		free(key);
		return false;
	}
	p->pos++;
	item = value(p, depth + 1);
	if (!item || !append(p, obj, item, key, klen)) {
		json_free(item);
		free(key);
		return false;
	}
	return true;
}

static struct json *container(struct parser *p, int depth, enum json_type t)
{
	char close = t == JSON_ARRAY ? ']' : '}';
	struct json *c = node(p, t);

	if (!c)
		return NULL;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return c;
	}
	for (;;) {
		if (t == JSON_OBJECT) {
			if (!member(p, c, depth))
				break;
		} else {
			struct json *item = value(p, depth + 1);

			if (!item || !append(p, c, item, NULL, 0)) {
				json_free(item);
				break;
			}
		}
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return c;
		}
		fail(p, "expected ',' or '%c'", close);
		break;
	}
	json_free(c);
	return NULL;
}

static struct json *value(struct parser *p, int depth)
{
	struct json *v;
	char c;

	if (depth > JSON_MAX_DEPTH) {
		fail(p, "nested deeper than %d levels", JSON_MAX_DEPTH);
		return NULL;
	}
	skip_ws(p);
	if (p->pos >= p->len) {
		fail(p, "expected a value, found the end of the text");
		return NULL;
	}
	c = p->s[p->pos];
	if (c == '{')
		return container(p, depth, JSON_OBJECT);
	if (c == '[')
		return container(p, depth, JSON_ARRAY);
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(p);
	if (c == '"') {
		v = node(p, JSON_STRING);
		p->pos++;
		if (v && !string_body(p, &v->str, &v->len)) {
			free(v);
			return NULL;
		}
		return v;
	}
	if (literal(p, "true"))
		return node(p, JSON_TRUE);
	if (literal(p, "false"))
		return node(p, JSON_FALSE);
	if (literal(p, "null"))
		return node(p, JSON_NULL);
	fail(p, "expected a value");
	return NULL;
}

struct json *json_parse(const char *text, size_t len, char *err, size_t cap)
{
	struct parser p = { .s = text, .len = len, .err = err, .cap = cap };
	struct json *v;

	if (cap)
		err[0] = '\0';
	v = value(&p, 0);
	if (!v)
		return NULL;
	skip_ws(&p);
	if (p.pos != p.len) {
		fail(&p, "unexpected text after the value");
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(struct json *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->key_lens);
	free(v->str);
	free(v);
}

const struct json *json_get(const struct json *obj, const char *key)
{
	size_t n = strlen(key);

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (obj->key_lens[i] == n && !memcmp(obj->keys[i], key, n))
			return obj->items[i];
	return NULL;
}

const char *json_type_name(enum json_type t)
{
	static const char *const names[] = { "null",   "boolean", "boolean", "number",
					     "string", "array",	  "object" };

	return (unsigned int)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}
