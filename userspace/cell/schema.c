// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell schema [-j] NAME: the canonical schema text cell NAME serves
 * (method 0, CELL_METHOD_SCHEMA), asked of the running cell itself (no
 * celld needed).  -j prints {"name", "fingerprint", "pid", "schema"}.
 * Exit status: 0, 1 (no such cell, it serves no schema, refused), 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cell.h"
#include "jsonout.h"
#include "probe.h"

#define SCHEMA_TIMEOUT_MS 2000

static int schema_usage(FILE *out)
{
	fputs("usage: cell schema [-j] NAME\n", out);
	return out == stdout ? 0 : 2;
}

int cell_cmd_schema(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	struct cell_probe p;
	bool json = false;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else
			return schema_usage(opt == 'h' ? stdout : stderr);
	}
	if (argc - optind != 1)
		return schema_usage(stderr);
	rc = cell_probe_run(NULL, argv[optind], SCHEMA_TIMEOUT_MS, &p);
	if (rc) {
		fprintf(stderr, "cell schema: %s\n", p.error);
		return 1;
	}
	if (!p.schema) {
		fprintf(stderr, "cell schema: %s serves no schema text (NOT_FOUND)\n",
			argv[optind]);
		cell_probe_release(&p);
		return 1;
	}
	if (json) {
		fputs("{\"name\":", stdout);
		json_put_cstr(stdout, argv[optind]);
		printf(",\"fingerprint\":\"0x%016" PRIx64 "\",\"pid\":%d,\"schema\":",
		       p.fingerprint, (int)p.pid);
		json_put_cstr(stdout, p.schema);
		puts("}");
	} else {
		fputs(p.schema, stdout);
	}
	cell_probe_release(&p);
	return 0;
}
