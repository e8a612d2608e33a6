// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell trace [-j] TRACE_ID: the spans of one trace, as a tree across cells.
 *
 * Asks celld (nucleus method "spans": celld asks every local cell for
 * its spans, CELL_METHOD_SPANS, and answers from the store it keeps, so
 * spans of cells that exited are there too); a celld without that method
 * is bypassed: its list of local cells, then each cell directly
 * (collect.c).  The spans are linked by parent id.  A
 * span whose parent is not among them (the caller's own span, or one
 * already overwritten in its cell's ring) is a root.  Text: one line per
 * span, children indented under their parent, in start order:
 *
 *   CELL  METHOD  STATUS  START_US  DURATION_US  SPAN  PARENT
 *
 * -j prints {"trace_id", "count", "cells_asked", "cells_failed", "spans":
 * [...]} with the spans in the same order, each with span_id, parent_id,
 * depth, cell, method, status, start_ns, duration_ns.  Exit status: 0, 1
 * when no span of the trace was found or celld cannot be asked, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"
#include "collect.h"
#include "jsonout.h"
#include "nucleus.cell.h"

#define TRACE_TIMEOUT_MS 2000

struct node {
	struct cell_span s;
	int parent; /* index, or -1 for a root */
	bool printed;
};

static int trace_usage(FILE *out)
{
	fputs("usage: cell trace [-j] TRACE_ID\n"
	      "  TRACE_ID  32 hex digits   -j  JSON\n",
	      out);
	return out == stdout ? 0 : 2;
}

static int add_node(struct node **all, size_t *n, size_t *cap, const struct cell_span *s)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct node *p = realloc(*all, c * sizeof(*p));

		if (!p)
			return -1;
		*all = p;
		*cap = c;
	}
	(*all)[(*n)++] = (struct node){ .s = *s, .parent = -1 };
	return 0;
}

/* Spans of @id from every local cell directly (celld without "spans"). */
static int gather_direct(const uint8_t *id, struct node **all, size_t *n, size_t *asked,
			 size_t *failed)
{
	struct collect_cell *cells;
	size_t ncells, cap = 0;
	char err[256];

	if (collect_list_local(NULL, TRACE_TIMEOUT_MS, &cells, &ncells, err, sizeof(err))) {
		fprintf(stderr, "cell trace: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < ncells; i++) {
		struct cell_span *spans;
		size_t count;

		(*asked)++;
		if (collect_spans(NULL, cells[i].name, cells[i].fingerprint, id, TRACE_TIMEOUT_MS,
				  &spans, &count, err, sizeof(err)) != CELL_STATUS_OK) {
			fprintf(stderr, "cell trace: %s\n", err);
			(*failed)++;
			continue;
		}
		for (size_t k = 0; k < count; k++)
			if (add_node(all, n, &cap, &spans[k]))
				break;
		free(spans);
	}
	free(cells);
	return 0;
}

/* One span_info of celld's answer as a span; -1 if its fields are not ours to trust. */
static int from_info(const void *msg, const struct nucleus_span_info *si, struct cell_span *s)
{
	char buf[CELL_TRACE_ID_HEX + 1];
	const char *p;
	uint32_t len;

	memset(s, 0, sizeof(*s));
	s->start_ns = si->start_ns;
	s->duration_ns = si->duration_ns;
	s->method = si->method;
	s->status = si->status < CELL_STATUS_MAX ? si->status : CELL_STATUS_INTERNAL;
#define HEX_FIELD(field, dst, bytes)                       \
	p = nucleus_span_info_##field##_at(msg, si, &len); \
	if (len != 2 * (bytes))                            \
		return -1;                                 \
	memcpy(buf, p, len);                               \
	buf[len] = '\0';                                   \
	if (cell_trace_id_parse(buf, dst, bytes))          \
		return -1;
	HEX_FIELD(trace_id, s->trace_id, 16)
	HEX_FIELD(span_id, s->span_id, 8)
	HEX_FIELD(parent_id, s->parent_id, 8)
#undef HEX_FIELD
	p = nucleus_span_info_cell_at(msg, si, &len);
	if (len >= CELL_NAME_MAX)
		return -1;
	memcpy(s->cell, p, len);
	return 0;
}

/*
 * Spans of @id from celld into *@all.  Return: 0, -1 (failed, said),
 * or 1 when celld has no "spans" method (then ask the cells directly).
 */
static int gather_celld(const char *hex, struct node **all, size_t *n, size_t *asked,
			size_t *failed)
{
	struct cell_client_opts co = nucleus_client_opts();
	const struct nucleus_span_list *resp;
	const struct nucleus_span_info *si;
	struct cell_response raw = { 0 };
	struct nucleus_trace_query *req;
	struct cell_call *call = NULL;
	struct cellc_builder b;
	struct cell_client *c;
	enum cell_status st;
	size_t cap = 0;
	uint32_t count;
	int rc = 0;

	co.backend = CELL_RING_BACKEND_NONE;
	co.spin_ns = CELL_SPIN_NONE;
	co.connect_deadline = cell_deadline_in_ms(TRACE_TIMEOUT_MS);
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		fprintf(stderr, "cell trace: cannot reach celld: %s (is celld running?)\n",
			cell_last_error(NULL));
		return -1;
	}
	st = nucleus_spans_begin(c, NUCLEUS_TRACE_QUERY_SIZE + 40,
				 cell_deadline_in_ms(4 * TRACE_TIMEOUT_MS), &call, &b, &req);
	if (st == CELL_STATUS_OK) {
		(void)nucleus_trace_query_set_trace_id_str(&b, req, hex);
		st = nucleus_spans_finish(call, &b, &resp, &raw);
	}
	if (st == CELL_STATUS_UNKNOWN_METHOD) {
		rc = 1;
	} else if (st != CELL_STATUS_OK) {
		fprintf(stderr, "cell trace: celld: %s%s%.*s\n", cell_status_name(st),
			raw.detail_len ? ": " : "", (int)raw.detail_len,
			raw.detail ? raw.detail : "");
		rc = -1;
	} else {
		*asked = resp->cells_asked;
		*failed = resp->cells_failed;
		si = nucleus_span_list_spans(resp, &count);
		for (uint32_t i = 0; i < count; i++) {
			struct cell_span s;

			if (from_info(resp, &si[i], &s) || add_node(all, n, &cap, &s))
				continue;
		}
	}
	if (call)
		cell_call_end(call);
	cell_client_free(c);
	return rc;
}

/* Spans of @id into *@all; counts cells asked and failed. */
static int gather(const uint8_t *id, const char *hex, struct node **all, size_t *n, size_t *asked,
		  size_t *failed)
{
	int rc;

	*all = NULL;
	*n = *asked = *failed = 0;
	rc = gather_celld(hex, all, n, asked, failed);
	if (rc <= 0)
		return rc;
	return gather_direct(id, all, n, asked, failed);
}

static int by_start(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	return x->s.start_ns < y->s.start_ns ? -1 : x->s.start_ns > y->s.start_ns;
}

static void link_parents(struct node *all, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (i != j && !memcmp(all[i].s.parent_id, all[j].s.span_id, 8)) {
				all[i].parent = (int)j;
				break;
			}
}

static void print_span(const struct node *nd, int depth, uint64_t t0, bool json, bool first)
{
	char span[CELL_SPAN_ID_HEX + 1], parent[CELL_SPAN_ID_HEX + 1], mbuf[8];
	const char *st = cell_status_name((enum cell_status)nd->s.status);

	cell_trace_id_format(nd->s.span_id, 8, span);
	cell_trace_id_format(nd->s.parent_id, 8, parent);
	if (json) {
		printf("%s{\"span_id\":\"%s\",\"parent_id\":\"%s\",\"depth\":%d,\"cell\":",
		       first ? "" : ",", span, parent, depth);
		json_put_cstr(stdout, nd->s.cell);
		printf(",\"method\":%u,\"status\":\"%s\",\"start_ns\":%" PRIu64 ",\"duration_ns\":"
		       "%" PRIu64 "}",
		       nd->s.method, st, nd->s.start_ns, nd->s.duration_ns);
		return;
	}
	printf("%*s%-*s %-8s %-14s %10.1f %12.1f  %s  %s\n", 2 * depth, "", 24 - 2 * depth,
	       nd->s.cell, collect_method_name(nd->s.method, mbuf), st,
	       (double)(nd->s.start_ns - t0) / 1e3, (double)nd->s.duration_ns / 1e3, span, parent);
}

/* Depth-first from @root, children in start order (all[] is sorted by start). */
static void print_tree(struct node *all, size_t n, size_t root, int depth, uint64_t t0, bool json,
		       bool first)
{
	print_span(&all[root], depth, t0, json, first);
	all[root].printed = true;
	for (size_t i = 0; i < n; i++)
		if (all[i].parent == (int)root && !all[i].printed)
			print_tree(all, n, i, depth + 1, t0, json, false);
}

int cell_cmd_trace(int argc, char **argv)
{
	char hex[CELL_TRACE_ID_HEX + 1];
	size_t n, asked, failed;
	struct node *all;
	uint8_t id[16];
	bool json = false, first = true;
	uint64_t t0;
	int opt;

	optind = 1;
	while ((opt = getopt(argc, argv, "jh")) != -1) {
		if (opt == 'j')
			json = true;
		else
			return trace_usage(opt == 'h' ? stdout : stderr);
	}
	if (optind != argc - 1)
		return trace_usage(stderr);
	if (cell_trace_id_parse(argv[optind], id, sizeof(id))) {
		fprintf(stderr, "cell trace: \"%s\" is not a trace id (32 hex digits, not all 0)\n",
			argv[optind]);
		return 2;
	}
	cell_trace_id_format(id, sizeof(id), hex);
	if (gather(id, hex, &all, &n, &asked, &failed))
		return 1;
	if (n)
		qsort(all, n, sizeof(*all), by_start);
	link_parents(all, n);
	t0 = n ? all[0].s.start_ns : 0;
	if (json)
		printf("{\"trace_id\":\"%s\",\"count\":%zu,\"cells_asked\":%zu,\"cells_failed\":%"
		       "zu,"
		       "\"spans\":[",
		       hex, n, asked, failed);
	else if (n)
		printf("trace %s: %zu spans from %zu cells\n%-24s %-8s %-14s %10s %12s  %-16s  "
		       "%s\n",
		       hex, n, asked, "CELL", "METHOD", "STATUS", "START_US", "DURATION_US", "SPAN",
		       "PARENT");
	for (size_t i = 0; i < n; i++)
		if (all[i].parent < 0) {
			print_tree(all, n, i, 0, t0, json, first);
			first = false;
		}
	/* Parent cycles (forged ids) have no root: print what is left flat. */
	for (size_t i = 0; i < n; i++)
		if (!all[i].printed) {
			print_span(&all[i], 0, t0, json, first);
			first = false;
		}
	if (json)
		puts("]}");
	free(all);
	if (!n) {
		fprintf(stderr, "cell trace: no span of trace %s in %zu cells\n", hex, asked);
		return 1;
	}
	return 0;
}
