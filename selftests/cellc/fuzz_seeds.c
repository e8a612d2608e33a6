// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * fuzz_seeds DIR: writes the seed corpora of the cellc fuzz targets into
 * DIR/cellc_<type>/ (selftests/fuzz/corpus/ in the tree): messages built
 * with the generated builders.  Run by hand when all.cell changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "all_util.h"

static _Alignas(8) uint8_t buf[1 << 16];

static void put(const char *dir, const char *target, const char *name, uint32_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct cellc_builder b;
	struct all_named *named;
	struct all_inner *inner;
	struct all_scalars *s;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	memset(buf, 0, sizeof(buf));
	cellc_builder_init(&b, buf, sizeof(buf));
	s = all_scalars_start(&b);
	sample_scalars(s, 1);
	put(argv[1], "cellc_scalars", "sample", cellc_builder_finish(&b));
	memset(buf, 0, sizeof(buf));
	put(argv[1], "cellc_scalars", "zero", ALL_SCALARS_SIZE);

	cellc_builder_init(&b, buf, sizeof(buf));
	named = all_named_start(&b);
	all_named_set_name_str(&b, named, "réseau");
	all_named_set_data(&b, named, "\x00\x01\x02", 3);
	named->on = 1;
	put(argv[1], "cellc_named", "sample", cellc_builder_finish(&b));
	cellc_builder_init(&b, buf, sizeof(buf));
	all_named_start(&b);
	put(argv[1], "cellc_named", "empty", cellc_builder_finish(&b));

	cellc_builder_init(&b, buf, sizeof(buf));
	inner = all_inner_start(&b);
	inner->id = 7;
	all_named_set_name_str(&b, &inner->who, "x");
	all_named_set_data(&b, &inner->who, "yz", 2);
	put(argv[1], "cellc_inner", "sample", cellc_builder_finish(&b));

	cellc_builder_init(&b, buf, sizeof(buf));
	put(argv[1], "cellc_everything", "small", sample_everything(&b, 1, 1));
	cellc_builder_init(&b, buf, sizeof(buf));
	put(argv[1], "cellc_everything", "medium", sample_everything(&b, 4, 3));
	cellc_builder_init(&b, buf, sizeof(buf));
	put(argv[1], "cellc_everything", "no_items", sample_everything(&b, 0, 0));
	cellc_builder_init(&b, buf, sizeof(buf));
	all_everything_start(&b);
	put(argv[1], "cellc_everything", "empty", cellc_builder_finish(&b));
	return 0;
}
