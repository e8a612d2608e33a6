/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * cellc: the Cell schema compiler.  Reads one .cell file (IDL described in
 * Documentation/cellc.rst), checks it, and writes <schema>.cell.h: C types
 * whose layout is the wire layout, accessors, builders, validators, client
 * stubs and server dispatch.
 *
 * Pipeline: lex.c (tokens) -> parse.c (syntax tree) -> sema.c (names,
 * types, layout, limits) -> canon.c (canonical text, fingerprint) ->
 * emit.c (the header).  Memory comes from one arena freed at exit.
 */
#ifndef CELLC_H
#define CELLC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Limits (documented in Documentation/cellc.rst). */
#define CELLC_MAX_DEPTH	      32	 /* struct nesting levels */
#define CELLC_MAX_FIXED	      (1U << 24) /* bytes of a struct's fixed part */
#define CELLC_MAX_ARRAY	      (1U << 24) /* elements of a fixed array */
#define CELLC_MAX_IDENT	      64	 /* bytes of an identifier */
#define CELLC_METHOD_RESERVED 0xff00	 /* ids from here belong to Cell */

struct loc {
	int line;
	int col;
};

/* ---- arena and diagnostics (util.c) ---- */

void *xalloc(size_t n); /* zeroed, freed by arena_free() */
char *xstrndup(const char *s, size_t n);
void arena_free(void);

struct diag {
	const char *file;
	int errors;
};

extern struct diag diag;

__attribute__((format(printf, 2, 3))) void error_at(struct loc at, const char *fmt, ...);

/* A growing string. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};

__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...);
void buf_puts(struct buf *b, const char *s);
void buf_release(struct buf *b);

/* ---- tokens (lex.c) ---- */

enum tok_kind {
	TOK_EOF,
	TOK_IDENT,
	TOK_NUMBER,
	TOK_SEMI,
	TOK_COLON,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_ARROW,
	TOK_ERROR, /* lexical error, already reported */
};

struct token {
	enum tok_kind kind;
	struct loc at;
	const char *text; /* start in the source */
	size_t len;
	uint64_t value; /* TOK_NUMBER */
	int overflow;	/* TOK_NUMBER did not fit 64 bits */
};

struct lexer {
	const char *src;
	size_t len;
	size_t pos;
	int line;
	int col;
};

void lex_init(struct lexer *lx, const char *src, size_t len);
struct token lex_next(struct lexer *lx);
const char *tok_describe(const struct token *t, char *buf, size_t cap);

/* ---- syntax tree ---- */

enum type_kind {
	TY_U8,
	TY_U16,
	TY_U32,
	TY_U64,
	TY_I8,
	TY_I16,
	TY_I32,
	TY_I64,
	TY_BOOL,
	TY_STRING,
	TY_BYTES,
	TY_STRUCT,
};

enum array_kind {
	ARR_NONE,
	ARR_FIXED,  /* T name[N] */
	ARR_VECTOR, /* T name[] */
};

struct cstruct;

struct field {
	char *name;
	struct loc at;
	char *type_name;
	struct loc type_at;
	enum type_kind kind;
	struct cstruct *st; /* TY_STRUCT */
	enum array_kind arr;
	uint64_t count; /* ARR_FIXED */
	struct loc count_at;
	/* Layout (sema). */
	uint32_t offset;
	uint32_t size;	/* bytes in the fixed part */
	uint32_t align; /* alignment in the fixed part */
};

struct cstruct {
	char *name;
	struct loc at;
	struct field *fields;
	int nfields;
	/* sema */
	uint32_t size;
	uint32_t align;
	int depth;    /* 1 + deepest nested struct */
	int has_var;  /* a string, bytes or vector somewhere inside */
	int laid_out; /* 0 new, 1 in progress, 2 done */
};

struct method {
	uint64_t id;
	struct loc id_at;
	char *name;
	struct loc at;
	char *req_name;
	struct loc req_at;
	struct cstruct *req;
	char *resp_name; /* NULL: oneway */
	struct loc resp_at;
	struct cstruct *resp;
};

struct schema {
	char *name;
	struct loc at;
	struct cstruct **structs; /* source order */
	int nstructs;
	struct cstruct **sorted; /* dependencies first */
	char *service;		 /* NULL: no service */
	struct loc service_at;
	struct method *methods;
	int nmethods;
};

/* parse.c: 0 or -1 (errors reported). */
int parse_schema(const char *src, size_t len, struct schema *s);

/* sema.c: 0 or -1 (errors reported). */
int check_schema(struct schema *s);

/* canon.c */
const char *type_name(enum type_kind k);
void canonical_text(const struct schema *s, struct buf *out);
uint64_t fnv1a64(const void *p, size_t n);

/* emit.c */
void emit_header(const struct schema *s, const char *src_name, FILE *out);
/* cellc --mcu: the freestanding flavour for mcu/ (Documentation/mcu.rst). */
void emit_mcu_header(const struct schema *s, const char *src_name, FILE *out);
/* cellc --lang=python: a module for bindings/python (Documentation/bindings.rst). */
void emit_python(const struct schema *s, const char *src_name, FILE *out);
/* cellc --lang=go: a package for bindings/go (Documentation/bindings.rst). */
void emit_go(const struct schema *s, const char *src_name, FILE *out);

/*
 * from_running.c: parse and check the schema cell @spec (NAME or NAME@node)
 * serves over method 0, after checking its fingerprint against WELCOME's and
 * @pin ("0x..." or NULL).  *@src_name: "<schema>.cell", for the emitters.
 * Return: 0, or -1 with the reason on stderr.
 */
int from_running(const char *spec, const char *pin, struct schema *s, const char **src_name);

#endif /* CELLC_H */
