/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Reader of pheromone_vectors.tsv (see pheromone_vectors.py). */
#ifndef CELL_PHEROMONE_VECTORS_H
#define CELL_PHEROMONE_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cell/pheromone.h>

#define VEC_MAX 128

struct vec {
	char name[64];
	int expect; /* enum cell_pheromone_verdict */
	unsigned char data[512];
	size_t len;
};

static int verdict_by_name(const char *s)
{
	int v;

	for (v = 0; v < CELL_PHEROMONE_NR_VERDICTS; v++)
		if (!strcmp(cell_pheromone_verdict_name(v), s))
			return v;
	return -1;
}

/* Returns the number of vectors read, or -1 with a message. */
static int vec_load(const char *path, struct vec *v, int max)
{
	char line[2048], *name, *expect, *hex, *save;
	FILE *f = fopen(path, "r");
	int n = 0;
	size_t i;

	if (!f) {
		printf("# %s: cannot open\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		name = strtok_r(line, "\t", &save);
		expect = strtok_r(NULL, "\t", &save);
		hex = strtok_r(NULL, "\t", &save);
		if (!name || !expect || !hex || n == max || strlen(name) >= sizeof(v->name))
			goto bad;
		if (!strcmp(hex, "-"))
			hex[0] = '\0';
		if (strlen(hex) % 2 || strlen(hex) / 2 > sizeof(v->data))
			goto bad;
		snprintf(v[n].name, sizeof(v[n].name), "%s", name);
		v[n].expect = verdict_by_name(expect);
		if (v[n].expect < 0)
			goto bad;
		v[n].len = strlen(hex) / 2;
		for (i = 0; i < v[n].len; i++) {
			unsigned int b;

			if (sscanf(hex + 2 * i, "%2x", &b) != 1)
				goto bad;
			v[n].data[i] = (unsigned char)b;
		}
		n++;
	}
	fclose(f);
	return n;
bad:
	printf("# %s: bad line after vector %d\n", path, n);
	fclose(f);
	return -1;
}

#endif /* CELL_PHEROMONE_VECTORS_H */
