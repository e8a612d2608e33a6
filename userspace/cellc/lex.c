// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Tokens of the IDL: identifiers, numbers (decimal or 0x hex), the
 * punctuation ; : { } [ ] ( ) ->, and comments (// to the end of the line,
 * block comments).  Columns count bytes from 1; a tab counts as one.
 */
#include <string.h>

#include "cellc.h"

void lex_init(struct lexer *lx, const char *src, size_t len)
{
	lx->src = src;
	lx->len = len;
	lx->pos = 0;
	lx->line = 1;
	lx->col = 1;
}

static int peek(const struct lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static void advance(struct lexer *lx)
{
	if (lx->src[lx->pos] == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->pos++;
}

static int is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Skips blanks and comments.  Return: 0, or -1 after an unterminated comment. */
static int skip_space(struct lexer *lx)
{
	for (;;) {
		int c = peek(lx, 0);

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			advance(lx);
		} else if (c == '/' && peek(lx, 1) == '/') {
			while (peek(lx, 0) != -1 && peek(lx, 0) != '\n')
				advance(lx);
		} else if (c == '/' && peek(lx, 1) == '*') {
			struct loc at = { lx->line, lx->col };

			advance(lx);
			advance(lx);
			while (!(peek(lx, 0) == '*' && peek(lx, 1) == '/')) {
				if (peek(lx, 0) == -1) {
					error_at(at, "unterminated comment");
					return -1;
				}
				advance(lx);
			}
			advance(lx);
			advance(lx);
		} else {
			return 0;
		}
	}
}

struct token lex_next(struct lexer *lx)
{
	struct token t;
	int c;

	memset(&t, 0, sizeof(t));
	if (skip_space(lx)) {
		t.kind = TOK_ERROR;
		return t;
	}
	t.at.line = lx->line;
	t.at.col = lx->col;
	t.text = lx->src + lx->pos;
	c = peek(lx, 0);
	if (c == -1) {
		t.kind = TOK_EOF;
		return t;
	}
	if (is_ident_start(c)) {
		while (is_ident_start(peek(lx, 0)) || is_digit(peek(lx, 0)))
			advance(lx);
		t.kind = TOK_IDENT;
	} else if (is_digit(c)) {
		int base = 10;

		t.kind = TOK_NUMBER;
		if (c == '0' && (peek(lx, 1) == 'x' || peek(lx, 1) == 'X') &&
		    hex_value(peek(lx, 2)) >= 0) {
			base = 16;
			advance(lx);
			advance(lx);
		}
		while (hex_value(peek(lx, 0)) >= 0 && (base == 16 || is_digit(peek(lx, 0)))) {
			uint64_t d = (uint64_t)hex_value(peek(lx, 0));

			if (t.value > (UINT64_MAX - d) / (uint64_t)base)
				t.overflow = 1;
			t.value = t.value * (uint64_t)base + d;
			advance(lx);
		}
		if (is_ident_start(peek(lx, 0)) || is_digit(peek(lx, 0))) {
			while (is_ident_start(peek(lx, 0)) || is_digit(peek(lx, 0)))
				advance(lx);
			t.len = (size_t)(lx->src + lx->pos - t.text);
			error_at(t.at, "malformed number '%.*s'", (int)t.len, t.text);
			t.kind = TOK_ERROR;
			return t;
		}
	} else if (c == '-' && peek(lx, 1) == '>') {
		advance(lx);
		advance(lx);
		t.kind = TOK_ARROW;
	} else {
		static const char punct[] = ";:{}[]()";
		static const enum tok_kind kinds[] = { TOK_SEMI,   TOK_COLON,	 TOK_LBRACE,
						       TOK_RBRACE, TOK_LBRACKET, TOK_RBRACKET,
						       TOK_LPAREN, TOK_RPAREN };
		const char *p = c ? strchr(punct, c) : NULL;

		if (!p) {
			if (c >= 0x21 && c < 0x7f)
				error_at(t.at, "unexpected character '%c'", c);
			else
				error_at(t.at, "unexpected byte 0x%02x", (unsigned int)c);
			t.kind = TOK_ERROR;
			return t;
		}
		advance(lx);
		t.kind = kinds[p - punct];
	}
	t.len = (size_t)(lx->src + lx->pos - t.text);
	return t;
}

const char *tok_describe(const struct token *t, char *buf, size_t cap)
{
	switch (t->kind) {
	case TOK_EOF:
		return "end of file";
	case TOK_IDENT:
	case TOK_NUMBER:
	case TOK_SEMI:
	case TOK_COLON:
	case TOK_LBRACE:
	case TOK_RBRACE:
	case TOK_LBRACKET:
	case TOK_RBRACKET:
	case TOK_LPAREN:
	case TOK_RPAREN:
	case TOK_ARROW:
		snprintf(buf, cap, "'%.*s'", t->len > 40 ? 40 : (int)t->len, t->text);
		return buf;
	case TOK_ERROR:
		break;
	}
	return "an invalid token";
}
