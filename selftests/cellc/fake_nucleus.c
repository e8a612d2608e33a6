// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * fake_nucleus MODE [self=NODE] [ROW...]: a cell "nucleus" (celld's
 * fingerprint) whose list method answers what it is told, for cellc
 * --from-running NAME@node in from_running_test.sh.  ROW:
 * NAME/NODE/0xFP[/URI[,URI...]], a cell of another node.  self=NODE: the
 * discovery method answers NODE as this node's id (without it, discovery
 * is an unknown method).  MODE: ok (the rows whose name the query names,
 * all of them for an empty name, as celld does), garbage (a cell_list
 * whose cells span points past the end), badstats (a discovery_stats whose
 * node span does).  Serves on one thread until SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/rpc.h>

#include "nucleus.cell.h"

#define MAX_ROWS 16

struct row {
	char name[64], node[96], uris[256];
	uint64_t fp;
};

static struct cell_server *server;
static struct row rows[MAX_ROWS];
static unsigned nrows;
static int garbage, badstats;
static const char *self;

static void on_signal(int sig)
{
	(void)sig;
	cell_server_stop(server);
}

static int parse_row(const char *arg, struct row *r)
{
	char fp[32] = "";

	if (sscanf(arg, "%63[^/]/%95[^/]/%31[^/]/%255s", r->name, r->node, fp, r->uris) < 3)
		return -1;
	r->fp = strtoull(fp, NULL, 16);
	return 0;
}

static void put_row(struct cellc_builder *b, struct nucleus_cell_info *info, const struct row *r)
{
	struct nucleus_endpoint *ep;
	char uris[256], *save = NULL;
	uint32_t n = 0, i = 0;

	for (const char *p = r->uris; *p; p++)
		n += *p == ',';
	n += r->uris[0] != 0;
	info->fingerprint = r->fp;
	info->origin = 3;
	(void)nucleus_cell_info_set_name_str(b, info, r->name);
	(void)nucleus_cell_info_set_node_str(b, info, r->node);
	ep = nucleus_cell_info_alloc_endpoints(b, info, n);
	snprintf(uris, sizeof(uris), "%s", r->uris);
	for (char *u = strtok_r(uris, ",", &save); ep && u; u = strtok_r(NULL, ",", &save))
		(void)nucleus_endpoint_set_uri_str(b, &ep[i++], u);
}

static enum cell_status on_list(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	const struct nucleus_query *q = v->data;
	struct nucleus_cell_info *cells;
	struct nucleus_cell_list *l;
	struct cellc_builder b;
	const char *why, *name;
	unsigned pick[MAX_ROWS], n = 0;
	uint32_t len;

	(void)ctx;
	if (!reply || nucleus_query_validate(v->data, v->len, &why))
		return CELL_STATUS_BAD_MESSAGE;
	name = nucleus_query_name(q, &len);
	for (unsigned i = 0; i < nrows; i++)
		if (!len || (strlen(rows[i].name) == len && !memcmp(rows[i].name, name, len)))
			pick[n++] = i;
	l = nucleus_cell_list_reply_begin(reply, 16384, &b);
	if (!l)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	l->total = nrows;
	cells = nucleus_cell_list_alloc_cells(&b, l, n);
	for (unsigned i = 0; cells && i < n; i++)
		put_row(&b, &cells[i], &rows[pick[i]]);
	if (garbage)
		l->cells.len = 1000; /* 1000 x 88 bytes: far past the end */
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status on_discovery(const struct cell_vesicle *v, struct cell_reply *reply,
				     void *ctx)
{
	struct nucleus_discovery_stats *st;
	struct cellc_builder b;

	(void)v;
	(void)ctx;
	if (!reply)
		return CELL_STATUS_BAD_MESSAGE;
	st = nucleus_discovery_stats_reply_begin(reply, 4096, &b);
	if (!st)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	st->enabled = 1;
	(void)nucleus_discovery_stats_set_node_str(&b, st, self);
	if (badstats)
		st->node.len = 1000;
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

int main(int argc, char **argv)
{
	struct cell_server_opts o = { .sz = sizeof(o), .fingerprint = NUCLEUS_FINGERPRINT };
	struct sigaction sa = { .sa_handler = on_signal };
	int rc;

	if (argc < 2 || argc - 2 > MAX_ROWS ||
	    (strcmp(argv[1], "ok") && strcmp(argv[1], "garbage") && strcmp(argv[1], "badstats"))) {
		fputs("usage: fake_nucleus ok|garbage|badstats [self=NODE] "
		      "[NAME/NODE/0xFP[/URI,...]]...\n",
		      stderr);
		return 2;
	}
	garbage = !strcmp(argv[1], "garbage");
	badstats = !strcmp(argv[1], "badstats");
	for (int i = 2; i < argc; i++)
		if (!strncmp(argv[i], "self=", 5))
			self = argv[i] + 5;
		else if (parse_row(argv[i], &rows[nrows++])) {
			fprintf(stderr, "fake_nucleus: bad row '%s'\n", argv[i]);
			return 2;
		}
	o.no_register = 1;
	server = cell_server_new("nucleus", &o);
	if (!server || cell_server_handle(server, NUCLEUS_METHOD_LIST, on_list, NULL) ||
	    (self && cell_server_handle(server, NUCLEUS_METHOD_DISCOVERY, on_discovery, NULL))) {
		fprintf(stderr, "fake_nucleus: %s\n", cell_last_error(NULL));
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	rc = cell_server_run(server, 1);
	sigprocmask(SIG_BLOCK, &sa.sa_mask, NULL);
	cell_server_free(server);
	return rc ? 1 : 0;
}
