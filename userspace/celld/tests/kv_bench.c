// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Load for celld's Raft group through libcell's cell_kv_put (kv_bench.py
 * drives it against clusters in network namespaces), and the cost of one
 * state-machine snapshot in isolation.
 *
 *   celld_kv_bench load RUNDIR SECONDS THREADS VALUE_BYTES KEYS [PREFIX]
 *       THREADS handles (one per thread) put VALUE_BYTES values on KEYS
 *       keys through the nucleus of RUNDIR for SECONDS; one JSON line:
 *       committed writes/s, p50/p99/p999/max latency, failures.
 *   celld_kv_bench fill RUNDIR THREADS VALUE_BYTES KEYS [PREFIX]
 *       put every key once (no timing), e.g. to make the state large.
 *   celld_kv_bench snapshot KEYS VALUE_BYTES
 *       kv_state_snapshot() of a state of KEYS keys (what the raft loop
 *       runs with cluster.snapshot_async=0; with async snapshots it runs
 *       on libraft's threadpool) and kv_state_freeze() + kv_state_thaw()
 *       (all the loop does with async snapshots): ms, bytes.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cell/kv.h>
#include <cell/rpc.h>
#include <cell/time.h>

#include "kv.h"

struct worker {
	pthread_t t;
	const char *dir, *prefix;
	unsigned int id, nthreads, keys;
	size_t vlen;
	uint64_t until; /* 0: fill mode */
	uint64_t *lat;	/* ns */
	size_t n, cap;
	unsigned long fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct cell_kv *kv = cell_kv_open(w->dir);
	char *val = malloc(w->vlen + 1);
	char key[64];
	unsigned int k = w->id;

	if (!kv || !val)
		return NULL;
	memset(val, 'a' + (int)(w->id % 26), w->vlen);
	for (;;) {
		uint64_t t0 = cell_now_ns();
		enum cell_status st;

		if (w->until ? t0 >= w->until : k >= w->keys)
			break;
		snprintf(key, sizeof(key), "%s%u", w->prefix, k % w->keys);
		k += w->nthreads;
		st = cell_kv_put(kv, key, strlen(key), val, w->vlen, NULL, t0 + 5000000000ull);
		if (st != CELL_STATUS_OK) {
			w->fails++;
			continue;
		}
		if (w->until) {
			if (w->n == w->cap) {
				w->cap = w->cap ? w->cap * 2 : 4096;
				w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
				if (!w->lat)
					abort();
			}
			w->lat[w->n++] = cell_now_ns() - t0;
		}
	}
	free(val);
	cell_kv_close(kv);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int load(const char *dir, double seconds, unsigned int nthreads, size_t vlen,
		unsigned int keys, const char *prefix)
{
	struct worker *w = calloc(nthreads, sizeof(*w));
	uint64_t start = cell_now_ns(), *all;
	size_t total = 0, at = 0;
	unsigned long fails = 0;
	double el;

	if (!w)
		return 1;
	for (unsigned int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .dir = dir,
					.prefix = prefix,
					.id = i,
					.nthreads = nthreads,
					.keys = keys,
					.vlen = vlen,
					.until = seconds > 0 ? start + (uint64_t)(seconds * 1e9)
							     : 0 };
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	for (unsigned int i = 0; i < nthreads; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].n;
		fails += w[i].fails;
	}
	el = (double)(cell_now_ns() - start) / 1e9;
	if (seconds <= 0) {
		printf("{\"filled\":%u,\"seconds\":%.2f,\"failures\":%lu}\n", keys, el, fails);
		return fails ? 1 : 0;
	}
	all = malloc((total + 1) * sizeof(*all));
	for (unsigned int i = 0; i < nthreads; i++) {
		if (w[i].n)
			memcpy(all + at, w[i].lat, w[i].n * sizeof(*all));
		at += w[i].n;
		free(w[i].lat);
	}
	qsort(all, total, sizeof(*all), cmp_u64);
#define PCT(p) (total ? (double)all[(size_t)((double)(total - 1) * (p))] / 1e6 : 0.0)
	printf("{\"writes\":%zu,\"seconds\":%.2f,\"writes_per_s\":%.0f,\"p50_ms\":%.3f,"
	       "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"failures\":%lu,"
	       "\"threads\":%u,\"value_bytes\":%zu}\n",
	       total, el, (double)total / el, PCT(0.50), PCT(0.99), PCT(0.999), PCT(1.0), fails,
	       nthreads, vlen);
	free(all);
	free(w);
	return 0;
}

static int snapshot_cost(unsigned int keys, size_t vlen)
{
	struct kv_state *s = kv_state_new(&(struct kv_limits){
		.max_keys = keys + 1, .max_bytes = (uint64_t)keys * (vlen + 64) + 4096 });
	uint8_t *val = calloc(1, vlen + 1), *buf;
	char key[32];
	size_t len;
	uint64_t t0, best = UINT64_MAX, best_freeze = UINT64_MAX;
	struct kv_view *v;

	if (!s || !val)
		return 1;
	for (unsigned int i = 0; i < keys; i++) {
		struct kv_cmd c = { .op = KV_OP_PUT,
				    .table = KV_TABLE_KV,
				    .client = 1 + i % 64,
				    .request = 1 + i / 64,
				    .key = (const uint8_t *)key,
				    .value = val,
				    .value_len = (uint32_t)vlen };
		struct kv_result r;

		c.key_len = (uint16_t)snprintf(key, sizeof(key), "key%u", i);
		if (kv_state_apply(s, &c, i + 1, &r) || r.outcome != KV_DONE)
			return 1;
	}
	for (int rep = 0; rep < 5; rep++) {
		t0 = cell_now_ns();
		if (kv_state_snapshot(s, &buf, &len))
			return 1;
		t0 = cell_now_ns() - t0;
		best = t0 < best ? t0 : best;
		free(buf);
		/* What the loop pays with async snapshots: the freeze (and thaw). */
		t0 = cell_now_ns();
		v = kv_state_freeze(s);
		if (!v)
			return 1;
		kv_state_thaw(s, v);
		t0 = cell_now_ns() - t0;
		best_freeze = t0 < best_freeze ? t0 : best_freeze;
	}
	printf("{\"keys\":%u,\"value_bytes\":%zu,\"snapshot_bytes\":%zu,\"snapshot_ms\":%.2f,"
	       "\"freeze_thaw_ms\":%.3f}\n",
	       keys, vlen, len, (double)best / 1e6, (double)best_freeze / 1e6);
	kv_state_free(s);
	free(val);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 7 && !strcmp(argv[1], "load"))
		return load(argv[2], atof(argv[3]), (unsigned int)atoi(argv[4]),
			    (size_t)atol(argv[5]), (unsigned int)atoi(argv[6]),
			    argc > 7 ? argv[7] : "k");
	if (argc >= 6 && !strcmp(argv[1], "fill"))
		return load(argv[2], 0, (unsigned int)atoi(argv[3]), (size_t)atol(argv[4]),
			    (unsigned int)atoi(argv[5]), argc > 6 ? argv[6] : "fill");
	if (argc == 4 && !strcmp(argv[1], "snapshot"))
		return snapshot_cost((unsigned int)atoi(argv[2]), (size_t)atol(argv[3]));
	fprintf(stderr,
		"usage: %s load RUNDIR SECONDS THREADS VALUE_BYTES KEYS [PREFIX]\n"
		"       %s fill RUNDIR THREADS VALUE_BYTES KEYS [PREFIX]\n"
		"       %s snapshot KEYS VALUE_BYTES\n",
		argv[0], argv[0], argv[0]);
	return 2;
}
