// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * stats_client [NAME]: calls stats() of the demo cell NAME (default
 * "demo") through a header generated at build time from the running cell
 * itself (cellc --from-running, see Makefile and CMakeLists.txt here), and
 * prints "calls N bytes N".  Exit status 0 on OK, 1 otherwise.
 */
#include <stdio.h>

#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#include "demo.cell.h"

int main(int argc, char **argv)
{
	struct cell_client_opts opts = demo_client_opts();
	struct demo_empty e = { 0 };
	struct demo_count count;
	struct cell_client *c;
	enum cell_status st;

	c = cell_client_connect(argc > 1 ? argv[1] : "demo", &opts);
	if (!c) {
		fprintf(stderr, "stats_client: %s\n", cell_last_error(NULL));
		return 1;
	}
	st = demo_stats(c, &e, &count, cell_deadline_in_ms(5000));
	cell_client_free(c);
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "stats_client: stats: %s\n", cell_status_name(st));
		return 1;
	}
	printf("calls %llu bytes %llu\n", (unsigned long long)count.calls,
	       (unsigned long long)count.bytes);
	return 0;
}
