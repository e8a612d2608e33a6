/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* JSON output helpers of the `cell` command (-j). */
#ifndef CELL_JSONOUT_H
#define CELL_JSONOUT_H

#include <stddef.h>
#include <stdio.h>

/*
 * Length of the valid UTF-8 sequence at @s (1-4; @left bytes readable), or 0:
 * no overlong form, surrogate or code point above U+10FFFF.  The parser and
 * the writer share it.
 */
size_t json_utf8_len(const unsigned char *s, size_t left);

/* Writes @len bytes of @s as a JSON string (quoted, escaped; bad UTF-8 as U+FFFD). */
void json_put_string(FILE *out, const char *s, size_t len);

/* The same for a NUL-terminated string (NULL: null). */
void json_put_cstr(FILE *out, const char *s);

#endif /* CELL_JSONOUT_H */
