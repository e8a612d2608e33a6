// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * swap_load: the load of the hot swap test (swap_test.sh).  THREADS
 * threads share CLIENTS clients of cell NAME (demo schema, echo), each
 * thread submitting DEPTH calls before it waits for their answers
 * (pipelined), every call with a sequence number of its own and a payload
 * made of it, checked in the answer.  Clients reconnect (.reconnect) and
 * calls have generous deadlines; nothing is retried, so a call the server
 * loses is a failed call.  Runs until the file STOP exists, then prints
 *
 *   swap_load: calls N ok N failed N wrong N
 *
 * and exits 0 only if every call was answered, rightly, and there was at
 * least one.  It says "swap_load: running" once every thread had an answer.
 *
 *   swap_load NAME STOP [THREADS [CLIENTS [DEPTH [tissue]]]]   (default 4 2 4)
 *
 * With "tissue" each thread calls through a tissue of its own (cell/tissue.h:
 * round-robin over NAME, NAME@1, ... in $CELL_RUNTIME_DIR, one call at a
 * time), as `cell rollout`'s test does to reach a canary; answers that are
 * errors count as failed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/tissue.h>
#include <cell/wire.h>

#include "demo.cell.h"

#define MAX_DEPTH   16
#define PAYLOAD	    64
#define DEADLINE_MS 20000
#define SHOW_MAX    5

struct load {
	const char *name, *stop;
	bool tissue;
	struct cell_client *clients[16];
	unsigned int nclients, depth;
	atomic_uint_least64_t calls, ok, failed, wrong;
	atomic_uint started, shown;
	atomic_bool done;
};

struct worker {
	struct load *l;
	unsigned int id;
};

static void complain(struct load *l, const char *what, enum cell_status st)
{
	if (atomic_fetch_add(&l->shown, 1) < SHOW_MAX)
		fprintf(stderr, "swap_load: %s: %s: %s\n", what, cell_status_name(st),
			cell_last_error(NULL));
}

/* The payload of call @seq: its bytes, from its number. */
static uint8_t byte_of(uint64_t seq, uint32_t i)
{
	return (uint8_t)((seq * 131 + i) ^ (seq >> 17));
}

static int answer_ok(const struct demo_blob *resp, uint64_t seq)
{
	uint32_t len;
	const uint8_t *d = demo_blob_data(resp, &len);

	if (resp->seq != seq || len != PAYLOAD)
		return 0;
	for (uint32_t i = 0; i < len; i++)
		if (d[i] != byte_of(seq, i))
			return 0;
	return 1;
}

/* Submit one call; 0, or -1 (counted as failed). */
static int submit(struct load *l, struct cell_client *c, uint64_t seq, struct cell_call **call)
{
	struct cellc_builder b;
	struct demo_blob *req;
	enum cell_status st;
	uint8_t *data;

	atomic_fetch_add(&l->calls, 1);
	st = demo_echo_begin(c, PAYLOAD + 64, cell_deadline_in_ms(DEADLINE_MS), call, &b, &req);
	if (st == CELL_STATUS_OK) {
		req->seq = seq;
		data = demo_blob_alloc_data(&b, req, PAYLOAD);
		for (uint32_t i = 0; data && i < PAYLOAD; i++)
			data[i] = byte_of(seq, i);
		st = data ? cell_call_submit(*call, cellc_builder_finish(&b))
			  : CELL_STATUS_INTERNAL;
		if (st != CELL_STATUS_OK) {
			cell_call_end(*call);
			*call = NULL;
		}
	}
	if (st == CELL_STATUS_OK)
		return 0;
	atomic_fetch_add(&l->failed, 1);
	complain(l, "submit", st);
	return -1;
}

static void collect(struct load *l, struct cell_call *call, uint64_t seq)
{
	struct cell_response r;
	enum cell_status st = cell_call_wait(call, &r);

	if (st != CELL_STATUS_OK) {
		atomic_fetch_add(&l->failed, 1);
		complain(l, "answer", st);
	} else if (demo_blob_validate(r.data, r.len, NULL) ||
		   !answer_ok((const struct demo_blob *)r.data, seq)) {
		atomic_fetch_add(&l->wrong, 1);
		if (atomic_fetch_add(&l->shown, 1) < SHOW_MAX)
			fprintf(stderr, "swap_load: call %llu: a wrong answer\n",
				(unsigned long long)seq);
	} else {
		atomic_fetch_add(&l->ok, 1);
	}
	cell_call_end(call);
}

/* Tissue mode: one call at a time through @t, built in @buf. */
static void tissue_call(struct load *l, struct cell_tissue *t, uint64_t seq)
{
	uint8_t buf[PAYLOAD + 64] __attribute__((aligned(8)));
	struct cell_tissue_reply r;
	struct cellc_builder b;
	struct demo_blob *req;
	enum cell_status st;
	uint8_t *data;
	uint32_t n;

	atomic_fetch_add(&l->calls, 1);
	cellc_builder_init(&b, buf, sizeof(buf));
	req = demo_blob_start(&b);
	data = req ? demo_blob_alloc_data(&b, req, PAYLOAD) : NULL;
	for (uint32_t i = 0; data && i < PAYLOAD; i++)
		data[i] = byte_of(seq, i);
	if (req)
		req->seq = seq;
	n = cellc_builder_finish(&b);
	st = n ? cell_tissue_call(t, DEMO_METHOD_ECHO, buf, n, cell_deadline_in_ms(DEADLINE_MS), &r)
	       : CELL_STATUS_INTERNAL;
	if (st != CELL_STATUS_OK) {
		atomic_fetch_add(&l->failed, 1);
		complain(l, "tissue call", st);
	} else if (demo_blob_validate(r.data, r.len, NULL) ||
		   !answer_ok((const struct demo_blob *)r.data, seq)) {
		atomic_fetch_add(&l->wrong, 1);
	} else {
		atomic_fetch_add(&l->ok, 1);
	}
}

static void run_tissue(struct worker *w)
{
	struct load *l = w->l;
	struct cell_client_opts co = demo_client_opts();
	struct cell_tissue_opts to = { .sz = sizeof(to), .client = &co };
	struct cell_tissue *t = cell_tissue_open(l->name, &to);
	uint64_t seq = (uint64_t)(w->id + 1) << 40;

	if (!t) {
		fprintf(stderr, "swap_load: cell_tissue_open %s failed\n", l->name);
		atomic_fetch_add(&l->failed, 1);
		atomic_fetch_add(&l->started, 1);
		return;
	}
	tissue_call(l, t, ++seq);
	atomic_fetch_add(&l->started, 1);
	while (!atomic_load(&l->done))
		tissue_call(l, t, ++seq);
	cell_tissue_close(t);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct load *l = w->l;
	struct cell_client *c = l->clients[w->id % l->nclients];
	uint64_t seq = (uint64_t)(w->id + 1) << 40;
	bool counted = false;

	if (l->tissue) {
		run_tissue(w);
		return NULL;
	}
	while (!atomic_load(&l->done)) {
		struct cell_call *calls[MAX_DEPTH];
		uint64_t seqs[MAX_DEPTH];

		for (unsigned int i = 0; i < l->depth; i++) {
			seqs[i] = ++seq;
			if (submit(l, c, seqs[i], &calls[i]))
				calls[i] = NULL;
		}
		for (unsigned int i = 0; i < l->depth; i++)
			if (calls[i])
				collect(l, calls[i], seqs[i]);
		if (!counted) {
			counted = true;
			atomic_fetch_add(&l->started, 1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct cell_client_opts o = demo_client_opts();
	static struct load l;
	unsigned int nthreads = argc > 3 ? (unsigned int)atoi(argv[3]) : 4;
	struct worker w[64];
	pthread_t tids[64];
	int rc;

	l.nclients = argc > 4 ? (unsigned int)atoi(argv[4]) : 2;
	l.depth = argc > 5 ? (unsigned int)atoi(argv[5]) : 4;
	if (argc < 3 || !nthreads || nthreads > 64 || !l.nclients || l.nclients > 16 || !l.depth ||
	    l.depth > MAX_DEPTH) {
		fprintf(stderr,
			"usage: swap_load NAME STOP [THREADS<=64 [CLIENTS<=16 [DEPTH<=%d]]]\n",
			MAX_DEPTH);
		return 2;
	}
	l.name = argv[1];
	l.stop = argv[2];
	l.tissue = argc > 6 && !strcmp(argv[6], "tissue");
	o.reconnect = 1;
	o.max_inflight = 64;
	for (unsigned int i = 0; !l.tissue && i < l.nclients; i++) {
		l.clients[i] = cell_client_connect(argv[1], &o);
		if (!l.clients[i]) {
			fprintf(stderr, "swap_load: connect %s: %s\n", argv[1],
				cell_last_error(NULL));
			return 1;
		}
	}
	for (unsigned int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .l = &l, .id = i };
		if (pthread_create(&tids[i], NULL, run, &w[i])) {
			fprintf(stderr, "swap_load: pthread_create failed\n");
			return 1;
		}
	}
	while (atomic_load(&l.started) < nthreads && access(l.stop, F_OK))
		usleep(1000);
	printf("swap_load: running (%u threads, %u clients, depth %u)\n", nthreads, l.nclients,
	       l.depth);
	fflush(stdout);
	while (access(l.stop, F_OK))
		usleep(5000);
	atomic_store(&l.done, true);
	for (unsigned int i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	printf("swap_load: calls %llu ok %llu failed %llu wrong %llu\n",
	       (unsigned long long)l.calls, (unsigned long long)l.ok, (unsigned long long)l.failed,
	       (unsigned long long)l.wrong);
	rc = l.failed || l.wrong || !l.ok || l.ok != l.calls;
	for (unsigned int i = 0; !l.tissue && i < l.nclients; i++)
		cell_client_free(l.clients[i]);
	return rc;
}
