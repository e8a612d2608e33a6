// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Collecting metrics, health and spans from running cells (collect.h).
 * Every answer is parsed by libcell's checked decoders
 * (cell_metrics_decode(), cell_spans_decode()); a cell that answers
 * garbage is reported with the decoder's reason, never trusted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "nucleus.cell.h"

static uint64_t deadline_of(unsigned int timeout_ms)
{
	return cell_deadline_in_ms(timeout_ms);
}

static int list_fail(char *err, size_t cap, const char *what, enum cell_status st,
		     const struct cell_response *raw)
{
	snprintf(err, cap, "%s: %s%s%.*s", what, cell_status_name(st),
		 raw && raw->detail_len ? ": " : "", raw ? (int)raw->detail_len : 0,
		 raw && raw->detail ? raw->detail : "");
	return -1;
}

static int copy_cells(const void *resp, struct collect_cell **cells, size_t *n)
{
	const struct nucleus_cell_info *ci;
	uint32_t count, len;

	ci = nucleus_cell_list_cells(resp, &count);
	*cells = calloc(count ? count : 1, sizeof(**cells));
	if (!*cells)
		return -ENOMEM;
	*n = 0;
	for (uint32_t i = 0; i < count; i++) {
		const char *s = nucleus_cell_info_name_at(resp, &ci[i], &len);
		struct collect_cell *c = &(*cells)[*n];

		if (!len || len >= CELL_NAME_MAX || (len == 7 && !memcmp(s, "nucleus", 7)))
			continue;
		memcpy(c->name, s, len);
		c->name[len] = '\0';
		c->fingerprint = ci[i].fingerprint;
		c->pid = ci[i].pid;
		(*n)++;
	}
	return 0;
}

int collect_list_local(const char *dir, unsigned int timeout_ms, struct collect_cell **cells,
		       size_t *n, char *err, size_t cap)
{
	struct cell_client_opts co = nucleus_client_opts();
	const struct nucleus_cell_list *resp;
	struct cell_response raw = { 0 };
	struct nucleus_query *req;
	struct cell_call *call = NULL;
	struct cellc_builder b;
	struct cell_client *c;
	enum cell_status st;
	int rc;

	*cells = NULL;
	*n = 0;
	co.runtime_dir = dir;
	co.backend = CELL_RING_BACKEND_NONE;
	co.spin_ns = CELL_SPIN_NONE;
	co.connect_deadline = deadline_of(timeout_ms);
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		snprintf(err, cap, "cannot reach celld: %s (is celld running?)",
			 cell_last_error(NULL));
		return -1;
	}
	st = nucleus_list_begin(c, NUCLEUS_QUERY_SIZE + 8, deadline_of(timeout_ms), &call, &b,
				&req);
	if (st == CELL_STATUS_OK) {
		req->flags = 1; /* local */
		st = nucleus_list_finish(call, &b, &resp, &raw);
	}
	if (st != CELL_STATUS_OK)
		rc = list_fail(err, cap, "celld list", st, &raw);
	else if (copy_cells(resp, cells, n))
		rc = list_fail(err, cap, "celld list", CELL_STATUS_RESOURCE_EXHAUSTED, NULL);
	else
		rc = 0;
	if (call)
		cell_call_end(call);
	cell_client_free(c);
	return rc;
}

struct cell_client *collect_connect(const char *dir, const char *name, uint64_t fingerprint,
				    unsigned int timeout_ms, char *err, size_t cap)
{
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = fingerprint,
		.runtime_dir = dir,
		.backend = CELL_RING_BACKEND_NONE, /* a few calls: no rings to set up */
		.connect_deadline = deadline_of(timeout_ms),
		.spin_ns = CELL_SPIN_NONE,
	};
	struct cell_client *c = cell_client_connect(name, &o);

	if (!c)
		snprintf(err, cap, "%s: %s", name, cell_last_error(NULL));
	return c;
}

void collect_metrics(const char *dir, const char *name, uint64_t fingerprint,
		     unsigned int timeout_ms, struct collect_result *r)
{
	struct cell_client *c;
	enum cell_status st;
	uint64_t t0;
	uint32_t len;
	void *resp;

	memset(r, 0, sizeof(*r));
	r->metrics_status = CELL_STATUS_UNAVAILABLE;
	c = collect_connect(dir, name, fingerprint, timeout_ms, r->error, sizeof(r->error));
	if (!c)
		return;
	t0 = cell_now_ns();
	st = cell_client_control(c, CELL_METHOD_PING, NULL, 0, &resp, &len,
				 deadline_of(timeout_ms));
	free(resp);
	if (st != CELL_STATUS_OK) {
		snprintf(r->error, sizeof(r->error), "%s: PING: %s", name, cell_status_name(st));
		cell_client_free(c);
		return;
	}
	r->up = 1;
	r->ping_us = (uint32_t)((cell_now_ns() - t0 + 999) / 1000);
	r->metrics_status = cell_client_metrics(c, &r->snap, deadline_of(timeout_ms));
	if (r->metrics_status != CELL_STATUS_OK)
		snprintf(r->error, sizeof(r->error), "%s: METRICS: %s: %s", name,
			 cell_status_name(r->metrics_status), cell_last_error(NULL));
	cell_client_free(c);
}

int collect_ping(const char *dir, const char *name, uint64_t fingerprint, unsigned int timeout_ms,
		 uint32_t *rtt_us, char *err, size_t cap)
{
	struct cell_client *c;
	enum cell_status st;
	uint64_t t0;
	uint32_t len;
	void *resp = NULL;

	*rtt_us = 0;
	c = collect_connect(dir, name, fingerprint, timeout_ms, err, cap);
	if (!c)
		return 0;
	t0 = cell_now_ns();
	st = cell_client_control(c, CELL_METHOD_PING, NULL, 0, &resp, &len,
				 deadline_of(timeout_ms));
	free(resp);
	if (st == CELL_STATUS_OK)
		*rtt_us = (uint32_t)((cell_now_ns() - t0 + 999) / 1000);
	else
		snprintf(err, cap, "%s: PING: %s", name, cell_status_name(st));
	cell_client_free(c);
	return st == CELL_STATUS_OK;
}

enum cell_status collect_spans(const char *dir, const char *name, uint64_t fingerprint,
			       const uint8_t *trace_id, unsigned int timeout_ms,
			       struct cell_span **spans, size_t *n, char *err, size_t cap)
{
	struct cell_client *c;
	enum cell_status st;

	*spans = NULL;
	*n = 0;
	c = collect_connect(dir, name, fingerprint, timeout_ms, err, cap);
	if (!c)
		return CELL_STATUS_UNAVAILABLE;
	st = cell_client_spans(c, trace_id, spans, n, deadline_of(timeout_ms));
	if (st != CELL_STATUS_OK)
		snprintf(err, cap, "%s: SPANS: %s: %s", name, cell_status_name(st),
			 cell_last_error(NULL));
	cell_client_free(c);
	return st;
}

const char *collect_method_name(uint16_t method, char buf[8])
{
	static const char *const control[] = { "CONTROL", "HELLO",	"PING",	   "GOODBYE",
					       "SCHEMA",  "ATTACHMENT", "METRICS", "SPANS" };

	if (method >= CELL_METHOD_CONTROL_BASE && method - CELL_METHOD_CONTROL_BASE < 8)
		return control[method - CELL_METHOD_CONTROL_BASE];
	snprintf(buf, 8, "%u", method);
	return buf;
}
