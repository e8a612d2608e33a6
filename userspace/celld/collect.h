/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Collecting what cells record: their metrics (CELL_METHOD_METRICS), their
 * health (a PING) and their spans (CELL_METHOD_SPANS), straight from each
 * cell's socket.  celld's HTTP exposition (http.c) walks its registry with
 * it; `cell top` and `cell trace` walk celld's list of local cells.
 * Blocking, each step bounded by @timeout_ms.  No libuv here.
 */
#ifndef CELLD_COLLECT_H
#define CELLD_COLLECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cell/metrics.h>
#include <cell/rpc.h>
#include <cell/trace.h>

/* A local cell as celld lists it. */
struct collect_cell {
	char name[CELL_NAME_MAX];
	uint64_t fingerprint;
	pid_t pid;
};

/* What one cell answered. */
struct collect_result {
	int up;				    /* it answered the PING */
	uint32_t ping_us;		    /* PING round trip */
	struct cell_metrics_snapshot *snap; /* NULL if it keeps none or failed */
	enum cell_status metrics_status;    /* OK, NOT_FOUND, ... */
	char error[160];		    /* why it is down or its metrics failed */
};

/**
 * collect_list_local() - the local cells celld knows (nucleus "list",
 * LOCAL), in @dir (NULL: cell_runtime_dir()), celld itself excluded.
 * *@cells is malloc'd (free()).
 * Return: 0, or -1 with @err saying why (celld not running, ...).
 */
int collect_list_local(const char *dir, unsigned int timeout_ms, struct collect_cell **cells,
		       size_t *n, char *err, size_t cap);

/* collect_connect() - a client of cell @name (unix path, no spinning). */
struct cell_client *collect_connect(const char *dir, const char *name, uint64_t fingerprint,
				    unsigned int timeout_ms, char *err, size_t cap);

/**
 * collect_metrics() - PING cell @name and fetch its metrics into @r (free
 * r->snap with cell_metrics_snapshot_free()).  A cell that does not answer
 * has r->up = 0; one without metrics has r->metrics_status NOT_FOUND.
 */
void collect_metrics(const char *dir, const char *name, uint64_t fingerprint,
		     unsigned int timeout_ms, struct collect_result *r);

/**
 * collect_ping() - connect to cell @name and PING it once: 1 (answered,
 * *@rtt_us its round trip) or 0 (@err says why: no connection, timeout).
 */
int collect_ping(const char *dir, const char *name, uint64_t fingerprint, unsigned int timeout_ms,
		 uint32_t *rtt_us, char *err, size_t cap);

/**
 * collect_spans() - the spans cell @name recorded for @trace_id (NULL:
 * all) into *@spans (malloc'd, *@n of them).
 * Return: the call's status; @err says why when it is not OK.
 */
enum cell_status collect_spans(const char *dir, const char *name, uint64_t fingerprint,
			       const uint8_t *trace_id, unsigned int timeout_ms,
			       struct cell_span **spans, size_t *n, char *err, size_t cap);

/* A method id's name for displays: "PING", "METRICS", ... or its number. */
const char *collect_method_name(uint16_t method, char buf[8]);

#endif /* CELLD_COLLECT_H */
