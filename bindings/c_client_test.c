// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * c_client_test NAME: a C client (libcell, demo.cell stubs) calls the
 * cell NAME (a Python or Go cell: py_demo_server.py, celltap server), in TAP:
 * echo of several sizes, the counter, the schema over SCHEMA (the round
 * trip: what the cell serves is the C header's canonical text), and a
 * wrong fingerprint refused by the server.
 */
#include <stdio.h>
#include <string.h>

#include <cell/rpc.h>

#include "demo.cell.h"

static int n, failed;

static void check(int ok, const char *what)
{
	n++;
	failed += !ok;
	printf("%sok %d %s\n", ok ? "" : "not ", n, what);
	if (!ok)
		printf("# last error: %s\n", cell_last_error(NULL));
}

static int echo(struct cell_client *c, uint32_t size)
{
	static _Alignas(8) uint8_t req[70000], resp[70000];
	struct demo_blob *b = (struct demo_blob *)req;
	uint32_t len = 0;

	memset(req, 0, sizeof(req));
	b->seq = size;
	b->data.off = size ? DEMO_BLOB_SIZE : 0;
	b->data.len = size;
	for (uint32_t i = 0; i < size; i++)
		req[DEMO_BLOB_SIZE + i] = (uint8_t)i;
	if (cell_client_call(c, DEMO_METHOD_ECHO, req, DEMO_BLOB_SIZE + size, resp, sizeof(resp),
			     &len, cell_deadline_in_ms(2000)) != CELL_STATUS_OK)
		return 0;
	return !demo_blob_validate(resp, len, NULL) && ((struct demo_blob *)resp)->seq == size &&
	       len == DEMO_BLOB_SIZE + size && !memcmp(resp + 16, req + 16, size);
}

int main(int argc, char **argv)
{
	struct cell_client_opts opts = demo_client_opts();
	struct cell_client *c;
	struct demo_count count;
	char schema[4096];
	uint32_t len = 0;

	if (argc != 2)
		return 2;
	c = cell_client_connect(argv[1], &opts);
	check(c != NULL, "connect to the cell");
	if (!c)
		goto out;
	check(!strcmp(cell_client_path(c), "unix"), "the cell grants no rings: unix path");
	check(echo(c, 0) && echo(c, 1) && echo(c, 100) && echo(c, 60000), "echo of 0..60000 bytes");
	check(demo_stats(c, &(struct demo_empty){ 0 }, &count, cell_deadline_in_ms(2000)) ==
			      CELL_STATUS_OK &&
		      count.calls == 4,
	      "stats counts four calls");
	check(cell_client_call(c, CELL_METHOD_SCHEMA, NULL, 0, schema, sizeof(schema) - 1, &len,
			       cell_deadline_in_ms(2000)) == CELL_STATUS_OK &&
		      len == strlen(DEMO_SCHEMA_TEXT) && !memcmp(schema, DEMO_SCHEMA_TEXT, len),
	      "SCHEMA from the cell is the C header's canonical text");
	cell_client_free(c);
	opts.fingerprint ^= 1;
	c = cell_client_connect(argv[1], &opts);
	check(c == NULL && strstr(cell_last_error(NULL), "fingerprint mismatch"), "a wrong "
										  "fingerprint is "
										  "refused by the "
										  "server");
	if (c)
		cell_client_free(c);
out:
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
