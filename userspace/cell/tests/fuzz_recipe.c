// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for cell.conf (recipe.c), which comes from a cloned
 * repository: any bytes are taken or refused with a reason, never read out
 * of bounds; a taken recipe names a valid cell and keeps every path inside
 * the tree (relative, no ".." component), which `cell build` relies on.
 */
#include <stdlib.h>
#include <string.h>

#include "ribosome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *p)
{
	size_t n = strlen(p);

	if (p[0] == '/' || !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
	    (n >= 3 && !strcmp(p + n - 3, "/..")))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct recipe r;
	char why[400];

	why[0] = '\0';
	if (recipe_parse((const char *)data, size, &r, why, sizeof(why))) {
		if (!why[0])
			abort(); /* a refusal says why */
		return 0;
	}
	if (!r.name[0] ||
	    strspn(r.name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(r.name))
		abort();
	inside(r.schema);
	inside(r.output);
	for (int i = 0; i < r.npatterns; i++)
		inside(r.patterns[i]);
	return 0;
}
