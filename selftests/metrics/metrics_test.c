// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Unit tests of lib/metrics.c: bucket layout, quantiles against exact
 * nearest-rank quantiles of known distributions within the documented
 * error bound, per-method and per-status counts, snapshots, reset and the
 * text and JSON dumps.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>

#include "kselftest_harness.h"

/* xorshift64*: a fixed, seedable generator so failures reproduce. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

static double random_unit(uint64_t *state)
{
	return (double)(next_random(state) >> 11) / (double)(1ULL << 53);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank quantile of sorted @v: the value at rank ceil(q n). */
static uint64_t exact_quantile(const uint64_t *v, size_t n, double q)
{
	double want = q * (double)n;
	size_t rank = (size_t)want;

	if ((double)rank < want)
		rank++;
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static const double quantiles[] = { 0.0, 0.001, 0.01, 0.1,   0.25,  0.5,    0.75,
				    0.9, 0.95,	0.99, 0.995, 0.999, 0.9999, 1.0 };

/* Largest relative error over quantiles[] of a histogram of @v. */
static double worst_error(uint64_t *v, size_t n)
{
	struct cell_hist *h = cell_hist_new();
	double worst = 0;

	for (size_t i = 0; i < n; i++)
		cell_hist_record(h, v[i]);
	qsort(v, n, sizeof(v[0]), compare_u64);
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
		uint64_t exact = exact_quantile(v, n, quantiles[i]);
		uint64_t got = cell_hist_quantile(h, quantiles[i]);
		double err = exact ? ((double)got - (double)exact) / (double)exact : (double)got;

		if (err < 0)
			err = -err;
		if (err > worst)
			worst = err;
	}
	cell_hist_free(h);
	return worst;
}

TEST(buckets_are_contiguous_and_hold_their_bounds)
{
	unsigned int n = cell_hist_bucket_count();
	uint64_t lo, hi, prev_hi = 0;

	ASSERT_EQ(545, n);
	for (unsigned int i = 0; i < n; i++) {
		struct cell_hist *h = cell_hist_new();

		ASSERT_NE(NULL, h);
		cell_hist_bucket(h, i, &lo, &hi);
		ASSERT_EQ(i ? prev_hi + 1 : 0, lo);
		ASSERT_LE(lo, hi);
		cell_hist_record(h, lo);
		cell_hist_record(h, hi);
		ASSERT_EQ(2, cell_hist_bucket(h, i, &lo, &hi))
		TH_LOG("bucket %u [%llu, %llu]", i, (unsigned long long)lo, (unsigned long long)hi);
		/* A bucket is never wider than 1/16 of its lower bound. */
		if (lo >= 16 && i + 1 < n) {
			ASSERT_LE(hi - lo + 1, lo / 16);
		}
		prev_hi = hi;
		cell_hist_free(h);
	}
	ASSERT_EQ(UINT64_MAX, hi);
	ASSERT_EQ(0, cell_hist_bucket(NULL, n, &lo, &hi));
	ASSERT_EQ(0, lo);
	ASSERT_EQ(0, hi);
}

TEST(small_values_are_exact)
{
	struct cell_hist *h = cell_hist_new();

	for (uint64_t v = 0; v < 32; v++)
		cell_hist_record(h, v);
	for (uint64_t v = 0; v < 32; v++)
		ASSERT_EQ(v, cell_hist_quantile(h, (double)(v + 1) / 32));
	cell_hist_free(h);
}

TEST(log_uniform_10ns_to_100s_within_bound)
{
	size_t n = 200000;
	uint64_t *v = malloc(n * sizeof(*v)), seed = 42;
	double worst;

	ASSERT_NE(NULL, v);
	/* log10(ns) uniform in [1, 11]: 10 ns .. 100 s. */
	for (size_t i = 0; i < n; i++) {
		v[i] = (uint64_t)pow(10, 1 + 10 * random_unit(&seed));
	}
	worst = worst_error(v, n);
	TH_LOG("worst relative error %.5f (bound %.5f)", worst, CELL_HIST_REL_ERROR);
	ASSERT_LE(worst, CELL_HIST_REL_ERROR);
	free(v);
}

TEST(uniform_and_spiky_distributions_within_bound)
{
	size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v)), seed = 7;

	ASSERT_NE(NULL, v);
	for (size_t i = 0; i < n; i++)
		v[i] = 1000 + next_random(&seed) % 1000000;
	ASSERT_LE(worst_error(v, n), CELL_HIST_REL_ERROR);
	/* Mostly fast calls, a few slow ones: the tail must still be right. */
	for (size_t i = 0; i < n; i++)
		v[i] = i % 1000 ? 600 + i % 50 : 20000000 + i;
	ASSERT_LE(worst_error(v, n), CELL_HIST_REL_ERROR);
	/* Values just past a power of two: the worst case of the bucket. */
	for (size_t i = 0; i < n; i++)
		v[i] = (1ULL << (5 + i % 31)) + (i % 3);
	ASSERT_LE(worst_error(v, n), CELL_HIST_REL_ERROR);
	free(v);
}

TEST(summary_min_max_mean)
{
	struct cell_hist *h = cell_hist_new();
	struct cell_hist_summary s;

	cell_hist_summarize(h, &s);
	ASSERT_EQ(0, s.count);
	ASSERT_EQ(0, s.min);
	ASSERT_EQ(0, s.max);
	ASSERT_EQ(0, s.p50);
	ASSERT_EQ(0, cell_hist_quantile(h, 0.5));
	for (uint64_t v = 1; v <= 1000; v++)
		cell_hist_record(h, v * 1000);
	cell_hist_summarize(h, &s);
	ASSERT_EQ(1000, s.count);
	ASSERT_EQ(1000, s.min);
	ASSERT_EQ(1000000, s.max);
	ASSERT_EQ(500500, s.mean);
	ASSERT_LE(s.p50 > 500000 ? s.p50 - 500000 : 500000 - s.p50, 500000 / 32);
	ASSERT_LE(s.p99 > 990000 ? s.p99 - 990000 : 990000 - s.p99, 990000 / 32);
	ASSERT_LE(s.p999 > 999000 ? s.p999 - 999000 : 999000 - s.p999, 999000 / 32);
	ASSERT_EQ(0, cell_hist_quantile(h, -0.1));
	ASSERT_EQ(0, cell_hist_quantile(h, 1.5));
	ASSERT_EQ(0, cell_hist_quantile(h, 0.0 / 0.0));
	cell_hist_reset(h);
	ASSERT_EQ(0, cell_hist_count(h));
	ASSERT_EQ(0, cell_hist_min(h));
	ASSERT_EQ(0, cell_hist_max(h));
	cell_hist_free(h);
}

TEST(overflow_reports_largest_value)
{
	struct cell_hist *h = cell_hist_new();

	cell_hist_record(h, 100);
	cell_hist_record(h, 500ULL * 1000000000);   /* 500 s */
	ASSERT_EQ(101, cell_hist_quantile(h, 0.5)); /* middle of [100, 103] */
	ASSERT_EQ(500ULL * 1000000000, cell_hist_quantile(h, 1.0));
	cell_hist_record(h, UINT64_MAX);
	ASSERT_EQ(UINT64_MAX, cell_hist_quantile(h, 1.0));
	cell_hist_free(h);
}

TEST(counts_by_method_and_status)
{
	struct cell_metrics *m = cell_metrics_new(NULL);
	struct cell_metrics_snapshot *snap;
	const struct cell_method_stats *st;

	ASSERT_NE(NULL, m);
	for (int i = 0; i < 100; i++)
		cell_metrics_record(m, 7, CELL_STATUS_OK, 1000 + i);
	for (int i = 0; i < 3; i++)
		cell_metrics_record(m, 7, CELL_STATUS_DEADLINE_EXCEEDED, 5000000);
	cell_metrics_record(m, 7, (enum cell_status)200, 10);
	cell_metrics_record(m, 65535, CELL_STATUS_UNAVAILABLE, 1);
	cell_metrics_record(m, 0, CELL_STATUS_OK, 2);
	cell_metrics_record(NULL, 1, CELL_STATUS_OK, 2); /* metrics off: no-op */

	snap = cell_metrics_snapshot(m, 0);
	ASSERT_NE(NULL, snap);
	ASSERT_EQ(3, cell_metrics_snapshot_count(snap));
	ASSERT_EQ(0, cell_method_stats_method(cell_metrics_snapshot_method(snap, 0)));
	ASSERT_EQ(7, cell_method_stats_method(cell_metrics_snapshot_method(snap, 1)));
	ASSERT_EQ(65535, cell_method_stats_method(cell_metrics_snapshot_method(snap, 2)));
	ASSERT_EQ(NULL, cell_metrics_snapshot_method(snap, 3));
	ASSERT_EQ(NULL, cell_metrics_snapshot_find(snap, 8));
	st = cell_metrics_snapshot_find(snap, 7);
	ASSERT_NE(NULL, st);
	ASSERT_EQ(104, cell_method_stats_calls(st));
	ASSERT_EQ(4, cell_method_stats_errors(st));
	ASSERT_EQ(100, cell_method_stats_status(st, CELL_STATUS_OK));
	ASSERT_EQ(3, cell_method_stats_status(st, CELL_STATUS_DEADLINE_EXCEEDED));
	ASSERT_EQ(1, cell_method_stats_status(st, CELL_STATUS_MAX));
	ASSERT_EQ(0, cell_method_stats_status(st, (enum cell_status)99));
	ASSERT_EQ(104, cell_hist_count(cell_method_stats_latency(st)));
	ASSERT_EQ(5000000, cell_hist_max(cell_method_stats_latency(st)));
	ASSERT_EQ(10, cell_hist_min(cell_method_stats_latency(st)));
	st = cell_metrics_snapshot_find(snap, 65535);
	ASSERT_EQ(1, cell_method_stats_errors(st));
	ASSERT_EQ(1, cell_method_stats_status(st, CELL_STATUS_UNAVAILABLE));
	ASSERT_EQ(0, cell_metrics_snapshot_dropped(snap));

	/* The snapshot is a copy: later calls do not change it. */
	cell_metrics_record(m, 7, CELL_STATUS_OK, 1);
	ASSERT_EQ(104, cell_method_stats_calls(cell_metrics_snapshot_find(snap, 7)));
	cell_metrics_snapshot_free(snap);
	cell_metrics_free(m);
}

TEST(snapshot_reset_counts_each_call_once)
{
	struct cell_metrics *m = cell_metrics_new(NULL);
	struct cell_metrics_snapshot *a, *b, *c;

	cell_metrics_record(m, 1, CELL_STATUS_OK, 100);
	cell_metrics_record(m, 1, CELL_STATUS_INTERNAL, 200);
	a = cell_metrics_snapshot(m, CELL_METRICS_SNAPSHOT_RESET);
	cell_metrics_record(m, 1, CELL_STATUS_OK, 300);
	b = cell_metrics_snapshot(m, CELL_METRICS_SNAPSHOT_RESET);
	ASSERT_EQ(2, cell_method_stats_calls(cell_metrics_snapshot_find(a, 1)));
	ASSERT_EQ(1, cell_method_stats_calls(cell_metrics_snapshot_find(b, 1)));
	ASSERT_EQ(0, cell_method_stats_errors(cell_metrics_snapshot_find(b, 1)));
	ASSERT_EQ(300, cell_hist_min(cell_method_stats_latency(cell_metrics_snapshot_find(b, 1))));
	ASSERT_EQ(300, cell_hist_max(cell_method_stats_latency(cell_metrics_snapshot_find(b, 1))));

	cell_metrics_record(m, 2, CELL_STATUS_OK, 300);
	cell_metrics_reset(m);
	c = cell_metrics_snapshot(m, 0);
	ASSERT_EQ(2, cell_metrics_snapshot_count(c)); /* still listed, at zero */
	ASSERT_EQ(0, cell_method_stats_calls(cell_metrics_snapshot_find(c, 1)));
	ASSERT_EQ(0, cell_method_stats_calls(cell_metrics_snapshot_find(c, 2)));
	ASSERT_EQ(0, cell_hist_count(cell_method_stats_latency(cell_metrics_snapshot_find(c, 2))));
	ASSERT_EQ(NULL, cell_metrics_snapshot(m, 0x80));
	ASSERT_EQ(EINVAL, errno);
	cell_metrics_snapshot_free(a);
	cell_metrics_snapshot_free(b);
	cell_metrics_snapshot_free(c);
	cell_metrics_free(m);
}

/* ---- a small strict JSON checker for the dump ------------------------- */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *json_list(const char *p, char close, int depth, int object)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			p = json_string(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = json_ws(p);
	if (*p == '{')
		return json_list(p, '}', depth, 1);
	if (*p == '[')
		return json_list(p, ']', depth, 0);
	if (*p == '"')
		return json_string(p);
	if (*p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		return p;
	}
	return NULL;
}

static int json_valid(const char *text)
{
	const char *end = json_value(text, 0);

	return end && *json_ws(end) == '\0';
}

static const char *awkward_name(uint16_t method, void *ctx)
{
	(void)ctx;
	return method == 1 ? "say \"hi\"\\\n\x01 caf\xc3\xa9 \xff" : NULL;
}

TEST(gauges_are_levels_that_snapshots_and_resets_keep)
{
	struct cell_metrics *m = cell_metrics_new(NULL);
	struct cell_metrics_snapshot *snap;
	uint64_t v = 99;

	ASSERT_NE(NULL, m);
	cell_metrics_gauge_add(m, CELL_METRICS_INFLIGHT, 5);
	cell_metrics_gauge_add(m, CELL_METRICS_INFLIGHT, -2);
	cell_metrics_gauge_add(m, CELL_METRICS_CLIENTS, 4);
	cell_metrics_gauge_add(m, CELL_METRICS_GAUGES, 7); /* unknown: ignored */
	cell_metrics_gauge_add(NULL, CELL_METRICS_CLIENTS, 1);
	cell_metrics_record(m, 1, CELL_STATUS_OK, 10);
	cell_metrics_reset(m); /* counters only */
	snap = cell_metrics_snapshot(m, CELL_METRICS_SNAPSHOT_RESET);
	ASSERT_NE(NULL, snap);
	ASSERT_EQ(0, cell_metrics_snapshot_gauge(snap, CELL_METRICS_INFLIGHT, &v));
	EXPECT_EQ(3, v);
	ASSERT_EQ(0, cell_metrics_snapshot_gauge(snap, CELL_METRICS_CLIENTS, &v));
	EXPECT_EQ(4, v);
	EXPECT_EQ(-EINVAL, cell_metrics_snapshot_gauge(snap, CELL_METRICS_GAUGES, &v));
	cell_metrics_snapshot_free(snap);
	snap = cell_metrics_snapshot(m, CELL_METRICS_SNAPSHOT_NO_GAUGES);
	ASSERT_NE(NULL, snap);
	EXPECT_EQ(-ENODATA, cell_metrics_snapshot_gauge(snap, CELL_METRICS_INFLIGHT, &v));
	EXPECT_EQ(0, v);
	cell_metrics_snapshot_free(snap);
	/* A level below zero (more taken away than added) reads as 0. */
	cell_metrics_gauge_add(m, CELL_METRICS_CLIENTS, -10);
	snap = cell_metrics_snapshot(m, 0);
	ASSERT_EQ(0, cell_metrics_snapshot_gauge(snap, CELL_METRICS_CLIENTS, &v));
	EXPECT_EQ(0, v);
	cell_metrics_snapshot_free(snap);
	cell_metrics_free(m);
}

/* Bytes of @snap's METRICS answer (malloc'd), its length in *@len. */
static uint8_t *encoded(const struct cell_metrics_snapshot *snap, size_t *len)
{
	uint8_t *buf;

	*len = cell_metrics_wire_size(snap);
	buf = malloc(*len);
	if (buf && cell_metrics_encode(snap, buf, *len) != *len) {
		free(buf);
		return NULL;
	}
	return buf;
}

TEST(answer_is_version_1_without_gauges_and_2_with_them)
{
	struct cell_metrics *m = cell_metrics_new(NULL);
	struct cell_metrics_snapshot *v1, *v2, *back;
	uint8_t *b1, *b2;
	size_t l1, l2;
	uint64_t v;

	ASSERT_NE(NULL, m);
	cell_metrics_record(m, 3, CELL_STATUS_OK, 1500);
	cell_metrics_gauge_add(m, CELL_METRICS_INFLIGHT, 7);
	cell_metrics_gauge_add(m, CELL_METRICS_CLIENTS, 2);
	v1 = cell_metrics_snapshot(m, CELL_METRICS_SNAPSHOT_NO_GAUGES);
	v2 = cell_metrics_snapshot(m, 0);
	ASSERT_NE(NULL, v1);
	ASSERT_NE(NULL, v2);
	b1 = encoded(v1, &l1);
	b2 = encoded(v2, &l2);
	ASSERT_NE(NULL, b1);
	ASSERT_NE(NULL, b2);
	/* Version 2 is version 1 with the 16 gauge bytes after the header. */
	ASSERT_EQ(l1 + sizeof(struct cell_metrics_wire_gauges), l2);
	EXPECT_EQ(1, b1[4]);
	EXPECT_EQ(2, b2[4]);
	EXPECT_EQ(0, memcmp(b1 + 6, b2 + 6, sizeof(struct cell_metrics_wire) - 6));
	EXPECT_EQ(7, b2[24]);
	EXPECT_EQ(2, b2[32]);
	EXPECT_EQ(0, memcmp(b1 + 24, b2 + 40, l1 - 24));
	ASSERT_EQ(0, cell_metrics_decode(b2, l2, &back, NULL));
	ASSERT_EQ(0, cell_metrics_snapshot_gauge(back, CELL_METRICS_INFLIGHT, &v));
	EXPECT_EQ(7, v);
	ASSERT_EQ(0, cell_metrics_snapshot_gauge(back, CELL_METRICS_CLIENTS, &v));
	EXPECT_EQ(2, v);
	EXPECT_EQ(1, cell_method_stats_calls(cell_metrics_snapshot_find(back, 3)));
	cell_metrics_snapshot_free(back);
	ASSERT_EQ(0, cell_metrics_decode(b1, l1, &back, NULL));
	EXPECT_EQ(-ENODATA, cell_metrics_snapshot_gauge(back, CELL_METRICS_INFLIGHT, &v));
	cell_metrics_snapshot_free(back);
	/* Truncated in the gauges, and a version 1 header over version 2 bytes. */
	EXPECT_EQ(-EBADMSG, cell_metrics_decode(b2, 32, &back, NULL));
	b2[4] = 1;
	EXPECT_EQ(-EBADMSG, cell_metrics_decode(b2, l2, &back, NULL));
	free(b1);
	free(b2);
	cell_metrics_snapshot_free(v1);
	cell_metrics_snapshot_free(v2);
	cell_metrics_free(m);
}

TEST(dump_text_and_json)
{
	struct cell_metrics *m = cell_metrics_new(NULL);
	struct cell_metrics_dump_opts opts = {
		.sz = sizeof(opts),
		.format = CELL_METRICS_JSON,
		.method_name = awkward_name,
		.buckets = 1,
	};
	struct cell_metrics_snapshot *snap;
	char *text;

	snap = cell_metrics_snapshot(m, 0);
	text = cell_metrics_dump(snap, NULL);
	ASSERT_STREQ("", text);
	free(text);
	text = cell_metrics_dump(snap, &opts);
	ASSERT_STREQ("{\"dropped\":0,\"methods\":[]}\n", text);
	free(text);
	cell_metrics_snapshot_free(snap);

	for (int i = 0; i < 50; i++)
		cell_metrics_record(m, 1, CELL_STATUS_OK, 1000);
	cell_metrics_record(m, 1, CELL_STATUS_NOT_FOUND, 2000);
	cell_metrics_record(m, 300, CELL_STATUS_OK, 3000);
	snap = cell_metrics_snapshot(m, 0);

	text = cell_metrics_dump(snap, &opts);
	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	ASSERT_TRUE(json_valid(text));
	ASSERT_NE(NULL, strstr(text, "\"name\":\"say \\\"hi\\\"\\\\\\u000a\\u0001 caf\xc3\xa9 "
				     "\\ufffd\""));
	ASSERT_NE(NULL, strstr(text, "\"calls\":51,\"errors\":1"));
	ASSERT_NE(NULL, strstr(text, "\"status\":{\"OK\":50,\"NOT_FOUND\":1}"));
	ASSERT_NE(NULL, strstr(text, "\"buckets\":[[992,1023,50],[1984,2047,1]]"));
	ASSERT_NE(NULL, strstr(text, "{\"method\":300,\"calls\":1"));
	free(text);

	opts.format = CELL_METRICS_TEXT;
	text = cell_metrics_dump(snap, &opts);
	ASSERT_NE(NULL, text);
	TH_LOG("%s", text);
	ASSERT_NE(NULL, strstr(text, "say\\x20\"hi\"\\x5c\\x0a\\x01\\x20caf\\xc3\\xa9\\x20\\xff "
				     "calls=51 errors=1 p50=1007 "));
	ASSERT_NE(NULL, strstr(text, " NOT_FOUND=1\n300 calls=1 errors=0 p50=3000 "));
	free(text);

	opts.format = (enum cell_metrics_format)9;
	ASSERT_EQ(NULL, cell_metrics_dump(snap, &opts));
	ASSERT_EQ(EINVAL, errno);
	cell_metrics_snapshot_free(snap);
	cell_metrics_free(m);
}

TEST(json_checker_rejects_bad_json)
{
	ASSERT_TRUE(json_valid("{\"a\":[1,2,{\"b\":\"\\u00e9\"}]}"));
	ASSERT_FALSE(json_valid("{\"a\":[1,2,}"));
	ASSERT_FALSE(json_valid("{\"a\":\"\x01\"}"));
	ASSERT_FALSE(json_valid("{\"a\":\"\\x\"}"));
	ASSERT_FALSE(json_valid("{\"a\":1} x"));
}

TEST_HARNESS_MAIN
