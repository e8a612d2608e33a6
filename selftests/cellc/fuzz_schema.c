// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target of cellc's front end (lexer, parser, checker, canonical
 * text) on arbitrary bytes: `cellc --from-running` feeds it another
 * process's method-0 answer, so it must reject anything with an error and
 * never crash, hang or read past the text.  Copied NUL-terminated, as
 * main.c and from_running.c hand it over.  Diagnostics go to /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cellc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct schema s;
	struct buf text = { 0 };
	char *src;

	if (!quiet)
		quiet = freopen("/dev/null", "w", stderr) ? 1 : -1;
	diag.file = "fuzz";
	diag.errors = 0;
	src = xalloc(size + 1);
	memcpy(src, data, size);
	if (!parse_schema(src, size, &s) && !check_schema(&s)) {
		canonical_text(&s, &text);
		(void)fnv1a64(text.p, text.len);
		buf_release(&text);
	}
	arena_free();
	return 0;
}
