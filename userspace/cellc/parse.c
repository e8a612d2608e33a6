// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Recursive-descent parser of the IDL:
 *
 *   file    = "schema" IDENT ";" { struct | service }
 *   struct  = "struct" IDENT "{" { field } "}" [ ";" ]
 *   field   = IDENT IDENT [ "[" [ NUMBER ] "]" ] ";"
 *   service = "service" IDENT "{" { method } "}" [ ";" ]
 *   method  = NUMBER ":" IDENT "(" IDENT ")" ( "->" IDENT | "oneway" ) ";"
 *
 * It stops at the first syntax error; names and types are checked later
 * (sema.c) so that every such error is reported, not only the first.
 */
#include <string.h>

#include "cellc.h"

struct parser {
	struct lexer lx;
	struct token tok;
	int failed;
};

static void next(struct parser *p)
{
	p->tok = lex_next(&p->lx);
	if (p->tok.kind == TOK_ERROR)
		p->failed = 1;
}

static int is_word(const struct parser *p, const char *word)
{
	return p->tok.kind == TOK_IDENT && p->tok.len == strlen(word) &&
	       !memcmp(p->tok.text, word, p->tok.len);
}

/* Reports "expected WHAT, found X" once (a lexical error was reported already). */
static int expected(struct parser *p, const char *what)
{
	char tmp[64];

	if (!p->failed)
		error_at(p->tok.at, "expected %s, found %s", what,
			 tok_describe(&p->tok, tmp, sizeof(tmp)));
	p->failed = 1;
	return -1;
}

static int expect(struct parser *p, enum tok_kind kind, const char *what)
{
	if (p->failed)
		return -1;
	if (p->tok.kind != kind)
		return expected(p, what);
	next(p);
	return p->failed ? -1 : 0;
}

static int ident(struct parser *p, const char *what, char **name, struct loc *at)
{
	if (p->failed)
		return -1;
	if (p->tok.kind != TOK_IDENT)
		return expected(p, what);
	if (p->tok.len > CELLC_MAX_IDENT) {
		error_at(p->tok.at, "identifier longer than %d bytes", CELLC_MAX_IDENT);
		p->failed = 1;
		return -1;
	}
	*name = xstrndup(p->tok.text, p->tok.len);
	*at = p->tok.at;
	next(p);
	return p->failed ? -1 : 0;
}

static int number(struct parser *p, const char *what, uint64_t *value, struct loc *at)
{
	if (p->failed)
		return -1;
	if (p->tok.kind != TOK_NUMBER)
		return expected(p, what);
	if (p->tok.overflow) {
		error_at(p->tok.at, "number '%.*s' does not fit 64 bits", (int)p->tok.len,
			 p->tok.text);
		p->failed = 1;
		return -1;
	}
	*value = p->tok.value;
	*at = p->tok.at;
	next(p);
	return p->failed ? -1 : 0;
}

/* Grows *arr (elements of @size) to hold one more; returns the new element. */
static void *push(void *arr_p, int *n, size_t size)
{
	void **arr = arr_p;
	char *grown = xalloc(size * (size_t)(*n + 1));

	if (*n)
		memcpy(grown, *arr, size * (size_t)*n);
	*arr = grown;
	return grown + size * (size_t)(*n)++;
}

static int parse_field(struct parser *p, struct cstruct *st)
{
	struct field f;

	memset(&f, 0, sizeof(f));
	if (ident(p, "a field type or '}'", &f.type_name, &f.type_at) ||
	    ident(p, "a field name", &f.name, &f.at))
		return -1;
	if (p->tok.kind == TOK_LBRACKET) {
		next(p);
		if (p->tok.kind == TOK_RBRACKET) {
			f.arr = ARR_VECTOR;
		} else {
			f.arr = ARR_FIXED;
			if (number(p, "an array size or ']'", &f.count, &f.count_at))
				return -1;
		}
		if (expect(p, TOK_RBRACKET, "']'"))
			return -1;
	}
	if (expect(p, TOK_SEMI, "';' after the field"))
		return -1;
	*(struct field *)push(&st->fields, &st->nfields, sizeof(f)) = f;
	return 0;
}

static int parse_struct(struct parser *p, struct schema *s)
{
	struct cstruct *st = xalloc(sizeof(*st));

	next(p);
	if (ident(p, "a struct name", &st->name, &st->at) ||
	    expect(p, TOK_LBRACE, "'{' after the struct name"))
		return -1;
	while (!p->failed && p->tok.kind != TOK_RBRACE) {
		if (p->tok.kind == TOK_EOF)
			return expected(p, "'}' closing the struct");
		if (parse_field(p, st))
			return -1;
	}
	if (expect(p, TOK_RBRACE, "'}'"))
		return -1;
	if (p->tok.kind == TOK_SEMI)
		next(p);
	*(struct cstruct **)push(&s->structs, &s->nstructs, sizeof(st)) = st;
	return p->failed ? -1 : 0;
}

static int parse_method(struct parser *p, struct method *m)
{
	if (number(p, "a method id or '}'", &m->id, &m->id_at) ||
	    expect(p, TOK_COLON, "':' after the method id") ||
	    ident(p, "a method name", &m->name, &m->at) ||
	    expect(p, TOK_LPAREN, "'(' after the method name") ||
	    ident(p, "the request type", &m->req_name, &m->req_at) ||
	    expect(p, TOK_RPAREN, "')' after the request type"))
		return -1;
	if (p->tok.kind == TOK_ARROW) {
		next(p);
		if (ident(p, "the response type", &m->resp_name, &m->resp_at))
			return -1;
	} else if (is_word(p, "oneway")) {
		next(p);
	} else {
		return expected(p, "'->' or 'oneway'");
	}
	return expect(p, TOK_SEMI, "';' after the method");
}

static int parse_service(struct parser *p, struct schema *s)
{
	struct schema other;
	struct schema *into = s;
	struct loc at = p->tok.at;

	next(p);
	if (s->service) {
		error_at(at, "a schema has one service ('%s' came first)", s->service);
		memset(&other, 0, sizeof(other));
		into = &other;
	}
	if (ident(p, "a service name", &into->service, &into->service_at) ||
	    expect(p, TOK_LBRACE, "'{' after the service name"))
		return -1;
	while (!p->failed && p->tok.kind != TOK_RBRACE) {
		struct method m;

		memset(&m, 0, sizeof(m));
		if (parse_method(p, &m))
			return -1;
		*(struct method *)push(&into->methods, &into->nmethods, sizeof(m)) = m;
	}
	if (expect(p, TOK_RBRACE, "'}'"))
		return -1;
	if (p->tok.kind == TOK_SEMI)
		next(p);
	return p->failed ? -1 : 0;
}

int parse_schema(const char *src, size_t len, struct schema *s)
{
	struct parser p;

	memset(&p, 0, sizeof(p));
	memset(s, 0, sizeof(*s));
	lex_init(&p.lx, src, len);
	next(&p);
	if (!is_word(&p, "schema"))
		return expected(&p, "'schema <name>;' first");
	next(&p);
	if (ident(&p, "the schema name", &s->name, &s->at) ||
	    expect(&p, TOK_SEMI, "';' after the schema name"))
		return -1;
	while (!p.failed && p.tok.kind != TOK_EOF) {
		if (is_word(&p, "struct")) {
			if (parse_struct(&p, s))
				return -1;
		} else if (is_word(&p, "service")) {
			if (parse_service(&p, s))
				return -1;
		} else if (is_word(&p, "schema")) {
			error_at(p.tok.at, "a file has one 'schema' line");
			return -1;
		} else {
			return expected(&p, "'struct' or 'service'");
		}
	}
	return p.failed || diag.errors ? -1 : 0;
}
