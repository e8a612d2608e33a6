// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the METRICS answer parser (cell_metrics_decode(),
 * lib/metrics.c): bytes as a foreign server would answer
 * CELL_METHOD_METRICS.  An accepted answer is queried like a local
 * snapshot (quantiles, buckets), has gauges exactly when it is version 2
 * (the 16 bytes after the header), and must re-encode to the same bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>

#include "le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cell_metrics_snapshot *snap;
	const char *why;
	uint64_t inflight, clients;
	uint8_t *again;
	int err = cell_metrics_decode(data, size, &snap, &why);
	bool v2;

	if (err) {
		if (err != -EBADMSG || !why || snap)
			abort();
		return 0;
	}
	for (size_t i = 0; i < cell_metrics_snapshot_count(snap); i++) {
		const struct cell_method_stats *st = cell_metrics_snapshot_method(snap, i);
		const struct cell_hist *h = cell_method_stats_latency(st);
		struct cell_hist_summary sum;

		cell_hist_summarize(h, &sum);
		if (cell_method_stats_errors(st) > cell_method_stats_calls(st))
			abort();
		if (sum.count && (sum.p50 > sum.p99 || sum.min > sum.max))
			abort();
	}
	v2 = data[4] == CELL_METRICS_WIRE_VERSION_GAUGES;
	if (cell_metrics_snapshot_gauge(snap, CELL_METRICS_INFLIGHT, &inflight) !=
		    (v2 ? 0 : -ENODATA) ||
	    cell_metrics_snapshot_gauge(snap, CELL_METRICS_CLIENTS, &clients) !=
		    (v2 ? 0 : -ENODATA))
		abort();
	if (v2 && (inflight != cell_get_le64(data + 24) || clients != cell_get_le64(data + 32)))
		abort();
	if (cell_metrics_snapshot_gauge(snap, CELL_METRICS_GAUGES, &inflight) != -EINVAL)
		abort();
	if (cell_metrics_wire_size(snap) != size)
		abort();
	again = malloc(size);
	if (!again || cell_metrics_encode(snap, again, size) != size || memcmp(again, data, size))
		abort();
	free(again);
	cell_metrics_snapshot_free(snap);
	return 0;
}
