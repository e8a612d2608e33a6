// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The one options policy (lib/opts.c, libbpf's OPTS_VALID): older callers
 * keep defaults past their .sz, newer callers are accepted only with the
 * unknown tail zero, an unset .sz is refused; and the public entry points
 * follow it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cell/metrics.h>
#include <cell/rpc.h>

#include "opts.h"
#include "kselftest_harness.h"

/* No trailing padding: a newer field never sits in an older struct's padding. */
struct opts_v1 {
	size_t sz;
	uint64_t a;
};

struct opts_v2 {
	size_t sz;
	uint64_t a;
	uint64_t b;
	uint64_t c;
};

TEST(null_keeps_defaults)
{
	struct opts_v2 o = { .sz = sizeof(o), .a = 1, .b = 2, .c = 3 };

	ASSERT_EQ(0, cell_opts_copy(&o, sizeof(o), NULL, "opts_v2"));
	EXPECT_EQ(1, o.a);
	EXPECT_EQ(2, o.b);
	EXPECT_EQ(3, o.c);
}

TEST(older_caller_keeps_defaults_past_its_size)
{
	struct opts_v2 o = { .sz = sizeof(o), .b = 2, .c = 3 };
	struct opts_v1 in = { .sz = sizeof(in), .a = 9 };

	ASSERT_EQ(0, cell_opts_copy(&o, sizeof(o), &in, "opts_v2"));
	EXPECT_EQ(sizeof(o), o.sz);
	EXPECT_EQ(9, o.a);
	EXPECT_EQ(2, o.b);
	EXPECT_EQ(3, o.c);
}

TEST(newer_caller_with_zero_tail_is_accepted)
{
	struct opts_v1 o = { .sz = sizeof(o) };
	struct opts_v2 in = { .sz = sizeof(in), .a = 5 };

	ASSERT_EQ(0, cell_opts_copy(&o, sizeof(o), &in, "opts_v1"));
	EXPECT_EQ(sizeof(o), o.sz);
	EXPECT_EQ(5, o.a);
}

TEST(newer_caller_setting_an_unknown_field_is_refused)
{
	struct opts_v1 o = { .sz = sizeof(o), .a = 1 };
	struct opts_v2 in = { .sz = sizeof(in), .a = 5, .c = 1ull << 40 };

	ASSERT_EQ(-EINVAL, cell_opts_copy(&o, sizeof(o), &in, "opts_v1"));
	EXPECT_EQ(1, o.a); /* untouched */
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "opts_v1"));
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "does not know"));
}

TEST(unset_size_is_refused)
{
	struct opts_v2 o = { .sz = sizeof(o), .a = 1 };
	struct opts_v2 in = { .a = 5 };

	ASSERT_EQ(-EINVAL, cell_opts_copy(&o, sizeof(o), &in, "opts_v2"));
	EXPECT_EQ(1, o.a);
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), ".sz not set"));
}

/* The public entry points share the policy: a struct from a "newer" caller. */
struct client_opts_next {
	struct cell_client_opts o;
	uint64_t future;
};

TEST(client_refuses_a_set_unknown_field)
{
	struct client_opts_next in = { .o.sz = sizeof(in), .future = 1 };

	errno = 0;
	EXPECT_EQ(NULL, cell_client_connect("opts-test-nobody", &in.o));
	EXPECT_NE(NULL, strstr(cell_last_error(NULL), "cell_client_opts"));
}

TEST(client_with_zero_unknown_tail_gets_as_far_as_connecting)
{
	struct client_opts_next in = { .o.sz = sizeof(in), .o.runtime_dir = "/nonexistent-cell" };

	EXPECT_EQ(NULL, cell_client_connect("opts-test-nobody", &in.o));
	/* Refused for the absent server, not for the options. */
	EXPECT_EQ(NULL, strstr(cell_last_error(NULL), "cell_client_opts"));
}

struct metrics_dump_opts_next {
	struct cell_metrics_dump_opts o;
	uint64_t future;
};

TEST(metrics_dump_refuses_a_set_unknown_field)
{
	struct metrics_dump_opts_next in = { .o.sz = sizeof(in), .future = 7 };
	struct cell_metrics *m = cell_metrics_new(NULL);
	struct cell_metrics_snapshot *snap;
	char *text;

	ASSERT_NE(NULL, m);
	snap = cell_metrics_snapshot(m, 0);
	ASSERT_NE(NULL, snap);
	errno = 0;
	EXPECT_EQ(NULL, cell_metrics_dump(snap, &in.o));
	EXPECT_EQ(EINVAL, errno);
	in.future = 0;
	text = cell_metrics_dump(snap, &in.o);
	EXPECT_NE(NULL, text);
	free(text);
	cell_metrics_snapshot_free(snap);
	cell_metrics_free(m);
}

TEST_HARNESS_MAIN
