// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * demo_client: the client cell of `make demo`.  Connects to the server
 * cell (default "demo"), says which path the connection took (shm-memfd,
 * shm-module or unix), then for each payload size makes echo calls for a
 * while, checking every answer, and prints the round-trip time (p50, p99)
 * and the calls per second.  At the end it asks the server how many calls
 * answered meanwhile: the two counts must agree.
 *
 *   demo_client [-n name] [-t seconds per size]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>
#include <cell/rpc.h>
#include <cell/wire.h>

#include "demo.cell.h"

static const uint32_t sizes[] = { 32, 1024, 16384, 262144, 4194304 };

/* One echo call, zero-copy both ways; 0 if the answer is right. */
static int echo_once(struct cell_client *c, uint64_t seq, uint32_t len)
{
	const struct demo_blob *resp;
	struct cell_response raw;
	struct cellc_builder b;
	struct demo_blob *req;
	struct cell_call *call;
	const uint8_t *back;
	enum cell_status st;
	uint32_t back_len;
	uint8_t *data;
	int bad = 1;

	st = demo_echo_begin(c, (uint64_t)len + 32, cell_deadline_in_ms(5000), &call, &b, &req);
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "client: echo: %s\n", cell_last_error(NULL));
		return -1;
	}
	req->seq = seq;
	data = demo_blob_alloc_data(&b, req, len);
	if (data) {
		memset(data, (int)(seq & 0xff), len);
		data[0] = (uint8_t)(seq >> 8);
	}
	st = demo_echo_finish(call, &b, &resp, &raw);
	if (st == CELL_STATUS_OK) {
		back = demo_blob_data(resp, &back_len);
		bad = resp->seq != seq || back_len != len ||
		      (len && (back[0] != (uint8_t)(seq >> 8) ||
			       back[len - 1] != (uint8_t)(len > 1 ? seq & 0xff : seq >> 8)));
	} else {
		fprintf(stderr, "client: echo: %s: %s\n", cell_status_name(st),
			cell_last_error(NULL));
	}
	cell_call_end(call);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct cell_client_opts opts = demo_client_opts();
	const char *name = "demo";
	double seconds = 1.0;
	uint64_t seq = 0, total = 0;
	struct cell_client *c;
	struct demo_empty e = { 0 };
	struct demo_count before = { 0 }, count;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		if (opt == 'n')
			name = optarg;
		else if (opt == 't')
			seconds = atof(optarg);
		else
			return fprintf(stderr, "usage: demo_client [-n name] [-t seconds]\n"), 2;
	}
	c = cell_client_connect(name, &opts);
	if (!c) {
		fprintf(stderr, "client: %s\n", cell_last_error(NULL));
		return 1;
	}
	printf("client: connected to \"%s\", path: %s\n", name, cell_client_path(c));
	if (demo_stats(c, &e, &before, cell_deadline_in_ms(5000)) != CELL_STATUS_OK) {
		fprintf(stderr, "client: stats: %s\n", cell_last_error(NULL));
		return 1;
	}
	printf("%10s %10s %12s %12s %12s\n", "bytes", "calls", "p50 RTT", "p99 RTT", "calls/s");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct cell_hist *h = cell_hist_new();
		struct cell_hist_summary s;
		uint64_t start, end, t0, n = 0;

		if (!h)
			return 1;
		for (int w = 0; w < 100; w++) /* warm up */
			if (echo_once(c, ++seq, sizes[i]))
				rc = 1;
		total += 100;
		start = cell_now_ns();
		end = start + (uint64_t)(seconds * 1e9);
		do {
			t0 = cell_now_ns();
			if (echo_once(c, ++seq, sizes[i]))
				rc = 1;
			cell_hist_record(h, cell_now_ns() - t0);
			n++;
		} while (t0 < end && !rc);
		total += n;
		cell_hist_summarize(h, &s);
		printf("%10u %10llu %9.2f us %9.2f us %12.0f\n", sizes[i], (unsigned long long)n,
		       (double)s.p50 / 1e3, (double)s.p99 / 1e3,
		       (double)n * 1e9 / (double)(cell_now_ns() - start));
		cell_hist_free(h);
		if (rc)
			break;
	}
	if (demo_stats(c, &e, &count, cell_deadline_in_ms(5000)) != CELL_STATUS_OK) {
		fprintf(stderr, "client: stats: %s\n", cell_last_error(NULL));
		rc = 1;
	} else {
		count.calls -= before.calls;
		printf("client: %llu echo calls made, server answered %llu: %s\n",
		       (unsigned long long)total, (unsigned long long)count.calls,
		       count.calls == total ? "every call exactly once" : "MISMATCH");
		if (count.calls != total)
			rc = 1;
	}
	cell_client_free(c);
	return rc;
}
