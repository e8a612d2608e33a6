// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Unit test of the cells' log ring (logring.h): order and sequence
 * numbers, reading by cursor and "last N", the bound when it wraps (and
 * the dropped counters), splitting of over-long lines, lines fed in
 * arbitrary pieces, and sizes from the conf.  No I/O, no clock assertions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logring.h"
#include "kselftest_harness.h"

struct got {
	uint32_t n, cap;
	struct logring_record recs[4096];
	char lines[4096][LOGRING_LINE_MAX];
};

static bool collect(const struct logring_record *rec, void *ctx)
{
	struct got *g = ctx;

	if (g->n == g->cap)
		return false;
	g->recs[g->n] = *rec;
	memcpy(g->lines[g->n], rec->line, rec->len);
	g->recs[g->n].line = g->lines[g->n];
	g->n++;
	return true;
}

static struct got *read_all(struct logring *r, uint64_t after, uint32_t last)
{
	struct got *g = calloc(1, sizeof(*g));

	if (!g)
		abort();
	g->cap = 4096;
	logring_read(r, after, last, collect, g);
	return g;
}

static uint64_t add_line(struct logring *r, const char *s)
{
	struct logring_record rec = { .pid = 42, .instance = 1, .stream = LOGRING_STDOUT };

	return logring_add(r, &rec, s, strlen(s));
}

static bool line_is(const struct got *g, uint32_t i, const char *s)
{
	return g->recs[i].len == strlen(s) && !memcmp(g->lines[i], s, g->recs[i].len);
}

TEST(records_come_back_in_order_with_consecutive_seqs)
{
	struct logring *r = logring_new(0);
	struct logring_stats st;
	struct got *g;

	ASSERT_NE(NULL, r);
	EXPECT_EQ(1, add_line(r, "one"));
	EXPECT_EQ(2, add_line(r, "two"));
	EXPECT_EQ(3, add_line(r, ""));
	g = read_all(r, 0, 0);
	ASSERT_EQ(3, g->n);
	EXPECT_TRUE(line_is(g, 0, "one"));
	EXPECT_TRUE(line_is(g, 1, "two"));
	EXPECT_TRUE(line_is(g, 2, ""));
	for (uint32_t i = 0; i < 3; i++) {
		EXPECT_EQ(i + 1, g->recs[i].seq);
		EXPECT_EQ(42, g->recs[i].pid);
		EXPECT_EQ(LOGRING_STDOUT, g->recs[i].stream);
	}
	logring_stats(r, &st);
	EXPECT_EQ(1, st.first_seq);
	EXPECT_EQ(4, st.next_seq);
	EXPECT_EQ(0, st.dropped);
	EXPECT_EQ(LOGRING_DEFAULT_SIZE, st.size);
	free(g);
	logring_free(r);
}

TEST(cursor_and_last_n_select_the_newest)
{
	struct logring *r = logring_new(0);
	char buf[32];
	struct got *g;

	ASSERT_NE(NULL, r);
	for (int i = 1; i <= 100; i++) {
		snprintf(buf, sizeof(buf), "line %d", i);
		add_line(r, buf);
	}
	g = read_all(r, 0, 10);
	ASSERT_EQ(10, g->n);
	EXPECT_EQ(91, g->recs[0].seq);
	EXPECT_TRUE(line_is(g, 9, "line 100"));
	free(g);
	g = read_all(r, 95, 0);
	ASSERT_EQ(5, g->n);
	EXPECT_EQ(96, g->recs[0].seq);
	free(g);
	g = read_all(r, 95, 2); /* both: the newest 2 of those after 95 */
	ASSERT_EQ(2, g->n);
	EXPECT_EQ(99, g->recs[0].seq);
	free(g);
	g = read_all(r, 100, 0);
	EXPECT_EQ(0, g->n);
	free(g);
	g = read_all(r, 5000, 0); /* a cursor from the future: nothing, no crash */
	EXPECT_EQ(0, g->n);
	free(g);
	logring_free(r);
}

/* Random line lengths into a small ring: the kept records are the newest, intact. */
TEST(wrapping_keeps_the_newest_within_the_size_and_counts_the_dropped)
{
	struct logring *r = logring_new(LOGRING_MIN_SIZE);
	uint64_t total = 0, seq = 0, lost_bytes = 0;
	uint32_t lens[20000];
	struct logring_stats st;
	char line[LOGRING_LINE_MAX];
	struct got *g;

	ASSERT_NE(NULL, r);
	srand(7);
	for (int i = 0; i < 20000; i++) {
		struct logring_record rec = { .pid = 1, .instance = 1, .stream = 1 + (i & 1) };
		uint32_t len = (uint32_t)(rand() % 300);

		lens[i] = len;
		memset(line, 'a' + i % 26, len);
		if (len >= 8)
			snprintf(line, 8, "%07d", i % 10000000);
		seq = logring_add(r, &rec, line, len);
		total++;
		logring_stats(r, &st);
		ASSERT_LE(st.used, st.size);
	}
	EXPECT_EQ(total, seq);
	logring_stats(r, &st);
	EXPECT_EQ(LOGRING_MIN_SIZE, st.size);
	EXPECT_EQ(total, st.dropped + st.records);
	EXPECT_EQ(st.dropped + 1, st.first_seq);
	EXPECT_EQ(total + 1, st.next_seq);
	for (uint64_t i = 0; i < st.dropped; i++)
		lost_bytes += lens[i];
	EXPECT_EQ(lost_bytes, st.dropped_bytes);
	/* Not over-eager: what is kept fills most of the ring. */
	EXPECT_GT(st.used, st.size - 2 * (300 + 40));
	g = read_all(r, 0, 0);
	ASSERT_EQ(st.records, g->n);
	for (uint32_t i = 0; i < g->n; i++) {
		uint64_t k = g->recs[i].seq - 1;

		ASSERT_EQ(st.first_seq + i, g->recs[i].seq);
		ASSERT_EQ(lens[k], g->recs[i].len);
		ASSERT_EQ(1 + (k & 1), g->recs[i].stream);
		if (lens[k] >= 8) {
			char want[8];

			snprintf(want, sizeof(want), "%07d", (int)(k % 10000000));
			ASSERT_EQ(0, memcmp(g->lines[i], want, 7));
		}
	}
	free(g);
	/* A cursor the ring has passed: reading starts at the oldest kept. */
	g = read_all(r, 3, 0);
	ASSERT_GT(g->n, 0);
	EXPECT_EQ(st.first_seq, g->recs[0].seq);
	free(g);
	logring_free(r);
}

/* The hint a read leaves must not outlive the record it points at. */
TEST(follower_reads_across_wraps_see_every_kept_record_once)
{
	struct logring *r = logring_new(LOGRING_MIN_SIZE);
	uint64_t cursor = 0, seen = 0, missed = 0;
	struct logring_stats st;
	char line[200];

	ASSERT_NE(NULL, r);
	memset(line, 'x', sizeof(line));
	for (int round = 0; round < 500; round++) {
		struct got *g;

		for (int i = 0; i < round % 397; i++)
			add_line(r, round & 1 ? "short" : "a somewhat longer line of text here");
		logring_add(r, &(struct logring_record){ .stream = 2 }, line, sizeof(line));
		logring_stats(r, &st);
		if (st.first_seq > cursor + 1)
			missed += st.first_seq - cursor - 1;
		g = read_all(r, cursor, 0);
		for (uint32_t i = 0; i < g->n; i++) {
			uint64_t from = st.first_seq > cursor + 1 ? st.first_seq : cursor + 1;

			ASSERT_EQ(from + i, g->recs[i].seq);
		}
		seen += g->n;
		if (g->n)
			cursor = g->recs[g->n - 1].seq;
		free(g);
	}
	logring_stats(r, &st);
	EXPECT_EQ(st.next_seq - 1, seen + missed);
	EXPECT_GT(missed, 0); /* some rounds add more than the ring holds */
	logring_free(r);
}

TEST(a_long_line_is_split_into_marked_records)
{
	struct logring *r = logring_new(LOGRING_MIN_SIZE); /* line limit: 16k / 8 = 2048 */
	struct logring_stream_state *s = malloc(sizeof(*s));
	struct logring_stats st;
	static char big[10001];
	struct got *g;
	size_t at = 0;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, s);
	for (size_t i = 0; i < 10000; i++)
		big[i] = (char)('0' + i % 10);
	big[10000] = '\n';
	logring_stream_init(s, r, LOGRING_STDERR, 7, 3);
	EXPECT_EQ(5, logring_stream_feed(s, big, sizeof(big)));
	logring_stats(r, &st);
	EXPECT_EQ(2048, st.line_max);
	EXPECT_EQ(4, st.split);
	g = read_all(r, 0, 0);
	ASSERT_EQ(5, g->n);
	for (uint32_t i = 0; i < 5; i++) {
		EXPECT_EQ(i < 4 ? 2048 : 10000 - 4 * 2048, g->recs[i].len);
		EXPECT_EQ(i < 4 ? LOGRING_F_SPLIT : 0, g->recs[i].flags);
		EXPECT_EQ(LOGRING_STDERR, g->recs[i].stream);
		EXPECT_EQ(7, g->recs[i].pid);
		EXPECT_EQ(3, g->recs[i].instance);
		EXPECT_EQ(0, memcmp(g->lines[i], big + at, g->recs[i].len));
		at += g->recs[i].len;
	}
	free(g);
	free(s);
	logring_free(r);
}

TEST(lines_fed_in_pieces_come_out_whole)
{
	struct logring *r = logring_new(0);
	struct logring_stream_state *s = malloc(sizeof(*s));
	struct got *g;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, s);
	logring_stream_init(s, r, LOGRING_STDOUT, 1, 1);
	EXPECT_EQ(0, logring_stream_feed(s, "ab", 2));
	EXPECT_EQ(1, logring_stream_feed(s, "c\nde", 4));
	EXPECT_EQ(2, logring_stream_feed(s, "f\r\n\n", 4));
	EXPECT_EQ(1, logring_stream_feed(s, "n\0ul\nrest", 9));
	EXPECT_EQ(1, logring_stream_end(s));
	EXPECT_EQ(0, logring_stream_end(s));
	g = read_all(r, 0, 0);
	ASSERT_EQ(5, g->n);
	EXPECT_TRUE(line_is(g, 0, "abc"));
	EXPECT_TRUE(line_is(g, 1, "def\r")); /* a CR is the cell's own byte */
	EXPECT_TRUE(line_is(g, 2, ""));
	EXPECT_EQ(4, g->recs[3].len);
	EXPECT_EQ(0, memcmp(g->lines[3], "n\0ul", 4)); /* NUL kept */
	EXPECT_TRUE(line_is(g, 4, "rest"));
	EXPECT_EQ(LOGRING_F_NOEOL, g->recs[4].flags);
	EXPECT_EQ(0, g->recs[0].flags);
	free(g);
	free(s);
	logring_free(r);
}

TEST(a_line_of_exactly_the_limit_is_not_split)
{
	struct logring *r = logring_new(LOGRING_MIN_SIZE);
	struct logring_stream_state *s = malloc(sizeof(*s));
	static char line[2048];
	struct got *g;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, s);
	memset(line, 'q', sizeof(line));
	logring_stream_init(s, r, LOGRING_STDOUT, 1, 1);
	EXPECT_EQ(0, logring_stream_feed(s, line, sizeof(line)));
	EXPECT_EQ(1, logring_stream_feed(s, "\n", 1));
	EXPECT_EQ(0, logring_stream_feed(s, line, sizeof(line)));
	EXPECT_EQ(2, logring_stream_feed(s, "z\n", 2)); /* the limit, then more: split */
	EXPECT_EQ(0, logring_stream_end(s));
	g = read_all(r, 0, 0);
	ASSERT_EQ(3, g->n);
	EXPECT_EQ(2048, g->recs[0].len);
	EXPECT_EQ(0, g->recs[0].flags);
	EXPECT_EQ(2048, g->recs[1].len);
	EXPECT_EQ(LOGRING_F_SPLIT, g->recs[1].flags);
	EXPECT_TRUE(line_is(g, 2, "z"));
	EXPECT_EQ(0, g->recs[2].flags);
	free(g);
	free(s);
	logring_free(r);
}

TEST(add_cuts_a_record_longer_than_the_limit)
{
	struct logring *r = logring_new(LOGRING_MIN_SIZE);
	static char line[5000];
	struct got *g;

	ASSERT_NE(NULL, r);
	memset(line, 'w', sizeof(line));
	logring_add(r, &(struct logring_record){ .stream = 1 }, line, sizeof(line));
	g = read_all(r, 0, 0);
	ASSERT_EQ(1, g->n);
	EXPECT_EQ(2048, g->recs[0].len);
	free(g);
	logring_free(r);
}

TEST(sizes_from_the_conf)
{
	uint32_t v = 0;

	EXPECT_EQ(0, logring_parse_size("64k", &v));
	EXPECT_EQ(65536, v);
	EXPECT_EQ(0, logring_parse_size("4M", &v));
	EXPECT_EQ(4U << 20, v);
	EXPECT_EQ(0, logring_parse_size("16384", &v));
	EXPECT_EQ(16384, v);
	EXPECT_EQ(0, logring_parse_size("64M", &v));
	EXPECT_EQ(-ERANGE, logring_parse_size("65M", &v));
	EXPECT_EQ(-ERANGE, logring_parse_size("1k", &v));
	EXPECT_EQ(-ERANGE, logring_parse_size("99999999999999999999999", &v));
	EXPECT_EQ(-ERANGE, logring_parse_size("18446744073709551615k", &v));
	EXPECT_EQ(-EINVAL, logring_parse_size("", &v));
	EXPECT_EQ(-EINVAL, logring_parse_size("-64k", &v));
	EXPECT_EQ(-EINVAL, logring_parse_size("64kb", &v));
	EXPECT_EQ(-EINVAL, logring_parse_size("k", &v));
	EXPECT_EQ(-EINVAL, logring_parse_size(" 64k", &v));
}

TEST_HARNESS_MAIN
