// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cellc's hand-made nucleus query and cell_list decoder
 * (userspace/cellc/remote_list.c) against the generated nucleus.cell.h:
 * every constant, the query through the generated validator, lists made by
 * the generated builders decoded field for field, and one test per rule the
 * decoder enforces (each corruption the generated validator refuses too is
 * checked to be refused by both).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nucleus.cell.h"
#include "remote_list.h"
#include "kselftest_harness.h"

_Static_assert(REMOTE_NUCLEUS_FINGERPRINT == NUCLEUS_FINGERPRINT, "nucleus.cell changed: set "
								  "REMOTE_NUCLEUS_FINGERPRINT in "
								  "userspace/cellc/remote_list.h");
_Static_assert(REMOTE_METHOD_LIST == NUCLEUS_METHOD_LIST, "list's method id");
_Static_assert(REMOTE_QUERY_SIZE == NUCLEUS_QUERY_SIZE &&
		       offsetof(struct nucleus_query, name) == 0 &&
		       offsetof(struct nucleus_query, flags) == 8,
	       "query layout");
_Static_assert(REMOTE_CELL_LIST_SIZE == NUCLEUS_CELL_LIST_SIZE &&
		       offsetof(struct nucleus_cell_list, cells) == 0,
	       "cell_list layout");
_Static_assert(REMOTE_CELL_INFO_SIZE == NUCLEUS_CELL_INFO_SIZE &&
		       REMOTE_CELL_INFO_ALIGN == NUCLEUS_CELL_INFO_ALIGN &&
		       offsetof(struct nucleus_cell_info, name) == REMOTE_CELL_INFO_NAME &&
		       offsetof(struct nucleus_cell_info, fingerprint) == REMOTE_CELL_INFO_FP &&
		       offsetof(struct nucleus_cell_info, node) == REMOTE_CELL_INFO_NODE &&
		       offsetof(struct nucleus_cell_info, endpoints) == REMOTE_CELL_INFO_ENDPOINTS,
	       "cell_info layout");
_Static_assert(REMOTE_METHOD_DISCOVERY == NUCLEUS_METHOD_DISCOVERY &&
		       REMOTE_EMPTY_SIZE == NUCLEUS_EMPTY_SIZE &&
		       REMOTE_DISCOVERY_STATS_SIZE == NUCLEUS_DISCOVERY_STATS_SIZE &&
		       offsetof(struct nucleus_discovery_stats, node) == 0,
	       "discovery and discovery_stats layout");
_Static_assert(REMOTE_ENDPOINT_SIZE == NUCLEUS_ENDPOINT_SIZE &&
		       REMOTE_ENDPOINT_ALIGN == NUCLEUS_ENDPOINT_ALIGN,
	       "endpoint layout");

#define CAP   8192
#define NODE2 "2f9c0d5e8a7b6c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d"

static _Alignas(8) uint8_t buf[CAP];

struct sample_cell {
	const char *name, *node;
	uint64_t fp;
	const char *uri[3];
};

static const struct sample_cell cells3[] = {
	{ "demo", "", 0x1111, { "unix:/run/cell/demo.sock" } },
	{ "demo", NODE2, 0x2222, { "udp://10.77.0.2:7000", "quic://10.77.0.2:4433" } },
	{ "orders", "ab", 0x3333, { 0 } },
};

/* The list of @n cells built by the generated builders into buf. */
static uint32_t build(const struct sample_cell *c, uint32_t n)
{
	struct nucleus_cell_info *info;
	struct nucleus_endpoint *ep;
	struct nucleus_cell_list *l;
	struct cellc_builder b;
	uint32_t k;

	memset(buf, 0xee, sizeof(buf));
	cellc_builder_init(&b, buf, CAP);
	l = nucleus_cell_list_start(&b);
	info = nucleus_cell_list_alloc_cells(&b, l, n);
	l->total = n;
	for (uint32_t i = 0; info && i < n; i++) {
		info[i].fingerprint = c[i].fp;
		info[i].pid = 42;
		(void)nucleus_cell_info_set_name_str(&b, &info[i], c[i].name);
		(void)nucleus_cell_info_set_path_str(&b, &info[i], "/some/path");
		(void)nucleus_cell_info_set_node_str(&b, &info[i], c[i].node);
		for (k = 0; k < 3 && c[i].uri[k]; k++)
			;
		ep = nucleus_cell_info_alloc_endpoints(&b, &info[i], k);
		for (uint32_t j = 0; ep && j < k; j++)
			(void)nucleus_endpoint_set_uri_str(&b, &ep[j], c[i].uri[j]);
		(void)nucleus_cell_info_set_state_str(&b, &info[i], "ready");
	}
	return cellc_builder_finish(&b);
}

static bool is(struct remote_text t, const char *s)
{
	return t.len == strlen(s) && !memcmp(t.p, s, t.len);
}

static struct nucleus_cell_list *list(void)
{
	return (struct nucleus_cell_list *)buf;
}

static struct nucleus_cell_info *info(uint32_t i)
{
	return (struct nucleus_cell_info *)(buf + list()->cells.off) + i;
}

/* The decoder refuses buf[0..len) naming @what; @both: the validator too. */
static bool refused(uint32_t len, const char *what, bool both)
{
	struct remote_row *rows = NULL;
	const char *why = NULL, *vwhy = NULL;
	uint32_t n = 99;
	int e = remote_list_decode(buf, len, &rows, &n, &why);

	if (e != -EBADMSG || rows || n || !why || !strstr(why, what)) {
		fprintf(stderr, "# decode %d, why '%s', wanted '%s'\n", e, why ? why : "-", what);
		return false;
	}
	if (both && !nucleus_cell_list_validate(buf, len, &vwhy)) {
		fprintf(stderr, "# the generated validator accepts what '%s' refuses\n", what);
		return false;
	}
	return true;
}

TEST(query_is_what_the_generated_validator_and_accessors_read)
{
	const struct nucleus_query *q = (const void *)buf;
	const char *why, *name;
	uint32_t n;
	size_t len = remote_query_encode(buf, CAP, "demo", REMOTE_QUERY_REMOTE);

	ASSERT_EQ(REMOTE_QUERY_SIZE + 4, len);
	ASSERT_EQ(0, nucleus_query_validate(buf, (uint32_t)len, &why));
	name = nucleus_query_name(q, &n);
	ASSERT_EQ(4, n);
	ASSERT_EQ(0, memcmp(name, "demo", 4));
	ASSERT_EQ(REMOTE_QUERY_REMOTE, q->flags);
	len = remote_query_encode(buf, CAP, "", REMOTE_QUERY_REMOTE);
	ASSERT_EQ(REMOTE_QUERY_SIZE, len);
	ASSERT_EQ(0, nucleus_query_validate(buf, (uint32_t)len, &why));
	nucleus_query_name(q, &n);
	ASSERT_EQ(0, n);
	ASSERT_EQ(0, remote_query_encode(buf, REMOTE_QUERY_SIZE + 3, "demo", 2));
	ASSERT_EQ(0, remote_query_encode(buf, CAP, "a-name-longer-than-thirty-two-bytes", 2));
}

TEST(builder_made_list_decodes_field_for_field)
{
	struct remote_row *rows;
	const char *why;
	uint32_t n, len = build(cells3, 3);

	ASSERT_NE(0, len);
	ASSERT_EQ(0, nucleus_cell_list_validate(buf, len, &why));
	ASSERT_EQ(0, remote_list_decode(buf, len, &rows, &n, &why));
	ASSERT_EQ(3, n);
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t k = 0;

		EXPECT_TRUE(is(rows[i].name, cells3[i].name));
		EXPECT_TRUE(is(rows[i].node, cells3[i].node));
		EXPECT_EQ(cells3[i].fp, rows[i].fingerprint);
		while (k < 3 && cells3[i].uri[k])
			k++;
		ASSERT_EQ(k, rows[i].nendpoints);
		for (uint32_t j = 0; j < k; j++)
			EXPECT_TRUE(is(rows[i].uri[j], cells3[i].uri[j]));
	}
	free(rows);
}

TEST(empty_list_is_no_rows)
{
	struct remote_row *rows = (void *)1;
	const char *why;
	uint32_t n = 7, len = build(cells3, 0);

	ASSERT_EQ(0, remote_list_decode(buf, len, &rows, &n, &why));
	ASSERT_EQ(0, n);
	ASSERT_NULL(rows);
}

TEST(shorter_than_the_fixed_part_is_refused)
{
	ASSERT_TRUE(refused(REMOTE_CELL_LIST_SIZE - 1, "shorter than its fixed part", true));
	ASSERT_TRUE(refused(0, "shorter than its fixed part", true));
}

TEST(cells_out_of_bounds_or_misaligned_are_refused)
{
	uint32_t len = build(cells3, 3);

	list()->cells.len = 0x40000000; /* 2^30 x 88 wraps 32 bits */
	ASSERT_TRUE(refused(len, "cell_list.cells", true));
	len = build(cells3, 3);
	list()->cells.off += 4;
	ASSERT_TRUE(refused(len, "cell_list.cells", true));
	len = build(cells3, 3);
	list()->cells.off = 8; /* inside the fixed part */
	ASSERT_TRUE(refused(len, "cell_list.cells", true));
	len = build(cells3, 0);
	list()->cells.off = 16; /* empty with an offset */
	ASSERT_TRUE(refused(len, "cell_list.cells", true));
}

TEST(name_out_of_bounds_or_too_long_is_refused)
{
	uint32_t len = build(cells3, 3);

	info(1)->name.off = len - 2;
	ASSERT_TRUE(refused(len, "cell_info.name", true));
	len = build(cells3, 3);
	info(0)->name.len = 33;
	ASSERT_TRUE(refused(len, "cell_info.name", false));
}

TEST(node_that_is_not_lower_case_hex_is_refused)
{
	struct sample_cell c = cells3[1];
	uint32_t len;

	c.node = "2F9C";
	len = build(&c, 1);
	ASSERT_TRUE(refused(len, "cell_info.node", false));
	c.node = "node2";
	len = build(&c, 1);
	ASSERT_TRUE(refused(len, "cell_info.node", false));
}

/*
 * One cell with @n endpoints, each pointing at the same uri of @urilen
 * bytes (@shared), or each with a copy of its own.
 */
static uint32_t build_uris(uint32_t n, uint32_t urilen, bool shared)
{
	struct nucleus_cell_info *info;
	struct nucleus_endpoint *ep;
	struct cellc_builder b;
	char uri[256];

	memset(uri, 'x', sizeof(uri));
	memcpy(uri, "quic://", 7);
	cellc_builder_init(&b, buf, CAP);
	info = nucleus_cell_list_alloc_cells(&b, nucleus_cell_list_start(&b), 1);
	if (!info)
		return 0;
	(void)nucleus_cell_info_set_name_str(&b, info, "demo");
	ep = nucleus_cell_info_alloc_endpoints(&b, info, n);
	if (!ep || nucleus_endpoint_set_uri(&b, &ep[0], uri, urilen))
		return 0;
	for (uint32_t i = 1; i < n; i++)
		if (shared)
			ep[i].uri = ep[0].uri;
		else
			(void)nucleus_endpoint_set_uri(&b, &ep[i], uri, urilen);
	return cellc_builder_finish(&b);
}

TEST(endpoints_out_of_bounds_or_misaligned_are_refused)
{
	uint32_t len = build(&cells3[1], 1);

	info(0)->endpoints.off += 2;
	ASSERT_TRUE(refused(len, "cell_info.endpoints", true));
	len = build(&cells3[1], 1);
	info(0)->endpoints.len = 17;
	ASSERT_TRUE(refused(len, "cell_info.endpoints", true));
}

TEST(more_than_16_endpoints_are_refused)
{
	struct remote_row *rows;
	const char *why;
	uint32_t n, len = build_uris(16, 20, false);

	ASSERT_NE(0, len);
	ASSERT_EQ(0, remote_list_decode(buf, len, &rows, &n, &why));
	ASSERT_EQ(16, rows[0].nendpoints);
	free(rows);
	len = build_uris(17, 20, false);
	ASSERT_NE(0, len);
	ASSERT_TRUE(refused(len, "more than 16", false));
}

TEST(bad_uris_are_refused)
{
	struct sample_cell c = cells3[1];
	struct nucleus_endpoint *ep;
	uint32_t len;

	c.uri[0] = "quic://10.77.0.2:4433 x";
	len = build(&c, 1);
	ASSERT_TRUE(refused(len, "endpoint.uri", false));
	len = build(&cells3[1], 1);
	ep = (struct nucleus_endpoint *)(buf + info(0)->endpoints.off);
	ep[1].uri.len = 0;
	ASSERT_TRUE(refused(len, "endpoint.uri", true)); /* empty with an offset */
	ep[1].uri.off = 0;
	ASSERT_TRUE(refused(len, "endpoint.uri: empty", false));
	len = build_uris(1, 256, false);
	ASSERT_TRUE(refused(len, "endpoint.uri", false));
}

TEST(spans_rereading_bytes_beyond_the_tail_are_refused)
{
	/* 16 endpoints x the same 255-byte uri: 4 KiB read in a 0.5 KiB message. */
	uint32_t len = build_uris(16, 255, true);

	ASSERT_NE(0, len);
	ASSERT_LT(len, 600);
	ASSERT_TRUE(refused(len, "spans add up to more than the message", true));
}

/* A discovery_stats of node @node with one counter, built into buf. */
static uint32_t build_stats(const char *node)
{
	struct nucleus_discovery_stats *st;
	struct nucleus_stat_counter *c;
	struct cellc_builder b;

	memset(buf, 0xee, sizeof(buf));
	cellc_builder_init(&b, buf, CAP);
	st = nucleus_discovery_stats_start(&b);
	st->enabled = 1;
	(void)nucleus_discovery_stats_set_node_str(&b, st, node);
	c = nucleus_discovery_stats_alloc_counters(&b, st, 1);
	if (c)
		(void)nucleus_stat_counter_set_name_str(&b, c, "received");
	return cellc_builder_finish(&b);
}

TEST(own_node_id_is_read_from_discovery_stats)
{
	struct remote_text node;
	const char *why;
	uint32_t len = build_stats(NODE2);

	ASSERT_NE(0, len);
	ASSERT_EQ(0, nucleus_discovery_stats_validate(buf, len, &why));
	ASSERT_EQ(0, remote_stats_node(buf, len, &node, &why));
	ASSERT_TRUE(is(node, NODE2));
	len = build_stats("");
	ASSERT_EQ(0, remote_stats_node(buf, len, &node, &why));
	ASSERT_EQ(0, node.len);
}

TEST(bad_discovery_stats_are_refused)
{
	struct nucleus_discovery_stats *st = (void *)buf;
	struct remote_text node;
	const char *why = NULL, *vwhy;
	uint32_t len = build_stats(NODE2);

	ASSERT_EQ(-EBADMSG, remote_stats_node(buf, REMOTE_DISCOVERY_STATS_SIZE - 1, &node, &why));
	ASSERT_NE(NULL, strstr(why, "shorter than its fixed part"));
	st->node.len = len;
	ASSERT_EQ(-EBADMSG, remote_stats_node(buf, len, &node, &why));
	ASSERT_NE(NULL, strstr(why, "discovery_stats.node"));
	ASSERT_NE(0, nucleus_discovery_stats_validate(buf, len, &vwhy));
	len = build_stats(NODE2);
	st->node.off = 20; /* inside the fixed part */
	ASSERT_EQ(-EBADMSG, remote_stats_node(buf, len, &node, &why));
	ASSERT_NE(0, nucleus_discovery_stats_validate(buf, len, &vwhy));
	len = build_stats("Node-2");
	ASSERT_EQ(-EBADMSG, remote_stats_node(buf, len, &node, &why));
	ASSERT_NE(NULL, strstr(why, "not lower-case hex"));
}

TEST_HARNESS_MAIN
