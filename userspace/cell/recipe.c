// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell.conf, a cell's recipe: KEY=VALUE lines as in capsid conf files
 * (userspace/celld/capsid_conf.c), '#' comments and blank lines skipped.
 *
 *   name=hello                     the cell's name (registry rules)
 *   schema=hello.cell              its schema, relative to the tree
 *   sources=*.c,Makefile           fnmatch patterns (FNM_PATHNAME), comma
 *                                  or space separated, relative to the tree
 *   build=make                     make, cmake, or a command for /bin/sh -c
 *   output=hello_server            the binary, relative to the tree
 *   cflags=-O2 -g                  optional
 *   deps=libc6-dev,gnutls          optional: packages (dpkg or pkg-config)
 *   source_date_epoch=0            optional (else $SOURCE_DATE_EPOCH, the
 *                                  newest git commit, or 0)
 *
 * The text comes from a cloned repository: every key is known, given once,
 * and every path stays inside the tree (relative, no ".." component).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ribosome.h"

struct parse {
	struct recipe *r;
	char *why;
	size_t cap;
	int line;
	bool bad;
	unsigned int seen; /* one bit per key */
};

__attribute__((format(printf, 2, 3))) static void complain(struct parse *p, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (p->bad)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line)
		snprintf(p->why, p->cap, "line %d: %s", p->line, msg);
	else
		snprintf(p->why, p->cap, "%s", msg);
	p->bad = true;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63 || !strcmp(s, "nucleus") || s[0] == '.' || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == n;
}

/* Relative, inside the tree: no leading '/', no empty, "." or ".." component. */
static bool valid_path(const char *s, bool pattern)
{
	const char *ok = pattern ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"
				   "_.+/*?[]!"
				 : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"
				   "_.+/";
	size_t n = strlen(s);

	if (!n || n >= RECIPE_PATH_BYTES || s[0] == '/' || strspn(s, ok) != n)
		return false;
	for (const char *c = s; *c;) {
		size_t len = strcspn(c, "/");

		if (!len || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
			return false;
		c += len + (c[len] == '/');
	}
	return s[n - 1] != '/';
}

static void set_path(struct parse *p, const char *key, const char *v, char *dst)
{
	if (!valid_path(v, false))
		complain(p, "%s=%s: a path inside the tree is needed (relative, no '..')", key, v);
	else
		snprintf(dst, RECIPE_PATH_BYTES, "%s", v);
}

static void set_sources(struct parse *p, char *v)
{
	char *save = NULL;

	for (char *t = strtok_r(v, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (!valid_path(t, true)) {
			complain(p, "sources: %s is not a pattern inside the tree", t);
			return;
		}
		if (p->r->npatterns == RECIPE_MAX_PATTERNS) {
			complain(p, "sources: more than %d patterns", RECIPE_MAX_PATTERNS);
			return;
		}
		snprintf(p->r->patterns[p->r->npatterns++], RECIPE_PATH_BYTES, "%s", t);
	}
	if (!p->r->npatterns)
		complain(p, "sources= names no file");
}

static void set_deps(struct parse *p, char *v)
{
	const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+:";
	char *save = NULL;

	for (char *t = strtok_r(v, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (strspn(t, ok) != strlen(t) || strlen(t) >= sizeof(p->r->deps[0]) ||
		    t[0] == '-') {
			complain(p, "deps: %s is not a package name", t);
			return;
		}
		if (p->r->ndeps == RECIPE_MAX_DEPS) {
			complain(p, "deps: more than %d packages", RECIPE_MAX_DEPS);
			return;
		}
		snprintf(p->r->deps[p->r->ndeps++], sizeof(p->r->deps[0]), "%s", t);
	}
}

static void set_text(struct parse *p, const char *key, const char *v, char *dst)
{
	if (strlen(v) >= RECIPE_TEXT_BYTES)
		complain(p, "%s= is longer than %d bytes", key, RECIPE_TEXT_BYTES - 1);
	else
		snprintf(dst, RECIPE_TEXT_BYTES, "%s", v);
}

static void set_build(struct parse *p, const char *v)
{
	if (!strcmp(v, "cmake"))
		p->r->build = RECIPE_CMAKE;
	else if (!strcmp(v, "make"))
		p->r->build = RECIPE_MAKE;
	else if (!v[0])
		complain(p, "build= is empty (cmake, make or a command)");
	else
		p->r->build = RECIPE_COMMAND;
	set_text(p, "build", v, p->r->command);
}

static void set_epoch(struct parse *p, const char *v)
{
	char *end;

	errno = 0;
	p->r->source_date_epoch = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || strlen(v) > 12)
		complain(p, "source_date_epoch=%s is not a number of seconds", v);
	p->r->have_epoch = true;
}

static const char *const keys[] = { "name",   "schema", "sources", "build",
				    "output", "cflags", "deps",	   "source_date_epoch" };

static void set_key(struct parse *p, const char *key, char *v)
{
	int k = -1;

	for (int i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++)
		if (!strcmp(key, keys[i]))
			k = i;
	if (k < 0)
		return complain(p, "unknown key %s (%s)", key,
				"name schema sources build output cflags deps source_date_epoch");
	if (p->seen & (1u << k))
		return complain(p, "%s= given twice", key);
	p->seen |= 1u << k;
	switch (k) {
	case 0:
		if (!valid_name(v))
			complain(p, "name=%s: lowercase letters, digits, - _ . (1-63)", v);
		else
			snprintf(p->r->name, sizeof(p->r->name), "%s", v);
		break;
	case 1:
		return set_path(p, key, v, p->r->schema);
	case 2:
		return set_sources(p, v);
	case 3:
		return set_build(p, v);
	case 4:
		return set_path(p, key, v, p->r->output);
	case 5:
		return set_text(p, key, v, p->r->cflags);
	case 6:
		return set_deps(p, v);
	default:
		return set_epoch(p, v);
	}
}

static void parse_line(struct parse *p, char *line)
{
	char *eq;

	if (!line[0] || line[0] == '#')
		return;
	eq = strchr(line, '=');
	if (!eq || eq == line)
		return complain(p, "not KEY=VALUE: %.60s", line);
	for (const char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return complain(p, "a control character (0x%02x)", (unsigned char)*c);
	*eq = '\0';
	set_key(p, line, eq + 1);
}

int recipe_parse(const char *text, size_t len, struct recipe *r, char *why, size_t cap)
{
	struct parse p = { .r = r, .why = why, .cap = cap, .line = 0 };
	char line[RECIPE_TEXT_BYTES + 32];

	memset(r, 0, sizeof(*r));
	if (memchr(text, '\0', len)) {
		snprintf(why, cap, "a NUL byte: not a text file");
		return -EINVAL;
	}
	for (size_t at = 0; at < len && !p.bad;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;

		p.line++;
		if (n >= sizeof(line)) {
			complain(&p, "longer than %zu bytes", sizeof(line) - 1);
			break;
		}
		memcpy(line, text + at, n);
		line[n] = '\0';
		parse_line(&p, line);
		at += n + 1;
	}
	p.line = 0;
	for (int i = 0; i < 5 && !p.bad; i++)
		if (!(p.seen & (1u << i)))
			complain(&p, "%s= is missing (name schema sources build output are needed)",
				 keys[i]);
	return p.bad ? -EINVAL : 0;
}
