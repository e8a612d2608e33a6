// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell rings [-j] [--watch]: cell.ko's rings through its generic netlink
 * family "cell" (libnl-genl).
 *
 *   cell rings           one line per ring: id, size, owners, cursors, counters
 *   cell rings -j        the same as a JSON array
 *   cell rings --watch   create / destroy / peer-death events as they come
 *                        (one JSON object per line with -j)
 *
 * Rings of other users show only their id, size and age unless the caller
 * has CAP_SYS_ADMIN (the module decides).  Exit status: 0, 1 on a netlink
 * error, 2 when the family is not there (cell.ko not loaded).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/cell.h>

#include "cell.h"

struct ring_row {
	bool has[CELL_ATTR_MAX + 1];
	uint64_t v[CELL_ATTR_MAX + 1];
};

struct dump_ctx {
	bool json;
	int count;
};

static struct nla_policy policy[CELL_ATTR_MAX + 1] = {
	[CELL_ATTR_RING_ID] = { .type = NLA_U64 },
	[CELL_ATTR_DATA_SIZE] = { .type = NLA_U64 },
	[CELL_ATTR_PRODUCER_PID] = { .type = NLA_U32 },
	[CELL_ATTR_PRODUCER_UID] = { .type = NLA_U32 },
	[CELL_ATTR_CONSUMER_PID] = { .type = NLA_U32 },
	[CELL_ATTR_CONSUMER_UID] = { .type = NLA_U32 },
	[CELL_ATTR_HEAD] = { .type = NLA_U64 },
	[CELL_ATTR_TAIL] = { .type = NLA_U64 },
	[CELL_ATTR_WAITS] = { .type = NLA_U64 },
	[CELL_ATTR_WAKEUPS] = { .type = NLA_U64 },
	[CELL_ATTR_CREATED_NS] = { .type = NLA_U64 },
	[CELL_ATTR_PRODUCER_OPEN] = { .type = NLA_U32 },
	[CELL_ATTR_CONSUMER_OPEN] = { .type = NLA_U32 },
};

static const struct {
	int attr;
	const char *name;
} fields[] = {
	{ CELL_ATTR_RING_ID, "id" },
	{ CELL_ATTR_DATA_SIZE, "size" },
	{ CELL_ATTR_PRODUCER_PID, "producer_pid" },
	{ CELL_ATTR_PRODUCER_UID, "producer_uid" },
	{ CELL_ATTR_PRODUCER_OPEN, "producer_open" },
	{ CELL_ATTR_CONSUMER_PID, "consumer_pid" },
	{ CELL_ATTR_CONSUMER_UID, "consumer_uid" },
	{ CELL_ATTR_CONSUMER_OPEN, "consumer_open" },
	{ CELL_ATTR_HEAD, "head" },
	{ CELL_ATTR_TAIL, "tail" },
	{ CELL_ATTR_WAITS, "waits" },
	{ CELL_ATTR_WAKEUPS, "wakeups" },
	{ CELL_ATTR_CREATED_NS, "created_ns" },
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int parse_row(struct nl_msg *msg, struct ring_row *row, uint8_t *cmd)
{
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[CELL_ATTR_MAX + 1];
	int i, err;

	err = genlmsg_parse(nlmsg_hdr(msg), 0, tb, CELL_ATTR_MAX, policy);
	if (err < 0)
		return err;
	memset(row, 0, sizeof(*row));
	*cmd = gh->cmd;
	for (i = 1; i <= CELL_ATTR_MAX; i++) {
		if (!tb[i] || i == CELL_ATTR_PAD)
			continue;
		row->has[i] = true;
		row->v[i] = policy[i].type == NLA_U64 ? nla_get_u64(tb[i]) : nla_get_u32(tb[i]);
	}
	return 0;
}

static uint64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void print_json(const struct ring_row *row, const char *event)
{
	bool first = true;
	size_t i;

	putchar('{');
	if (event) {
		printf("\"event\":\"%s\"", event);
		first = false;
	}
	for (i = 0; i < NFIELDS; i++) {
		if (!row->has[fields[i].attr])
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",", fields[i].name,
		       row->v[fields[i].attr]);
		first = false;
	}
	putchar('}');
}

static void print_owner(const struct ring_row *row, int pid, int uid, int open)
{
	char who[48] = "-";

	if (row->has[pid])
		snprintf(who, sizeof(who), "%" PRIu64 "/%" PRIu64, row->v[pid], row->v[uid]);
	else if (!row->has[open])
		snprintf(who, sizeof(who), "?");
	if (row->has[open])
		printf(" %-14s %3" PRIu64, who, row->v[open]);
	else
		printf(" %-14s %3s", who, "?");
}

static void print_text(const struct ring_row *row)
{
	uint64_t age = 0;

	if (row->has[CELL_ATTR_CREATED_NS] && boottime_ns() > row->v[CELL_ATTR_CREATED_NS])
		age = (boottime_ns() - row->v[CELL_ATTR_CREATED_NS]) / 1000000000ULL;
	printf("%6" PRIu64 " %10" PRIu64, row->v[CELL_ATTR_RING_ID], row->v[CELL_ATTR_DATA_SIZE]);
	print_owner(row, CELL_ATTR_PRODUCER_PID, CELL_ATTR_PRODUCER_UID, CELL_ATTR_PRODUCER_OPEN);
	print_owner(row, CELL_ATTR_CONSUMER_PID, CELL_ATTR_CONSUMER_UID, CELL_ATTR_CONSUMER_OPEN);
	if (row->has[CELL_ATTR_TAIL])
		printf(" %12" PRIu64 " %12" PRIu64 " %8" PRIu64 " %8" PRIu64,
		       row->v[CELL_ATTR_HEAD], row->v[CELL_ATTR_TAIL], row->v[CELL_ATTR_WAITS],
		       row->v[CELL_ATTR_WAKEUPS]);
	else
		printf(" %12s %12s %8s %8s", "?", "?", "?", "?");
	printf(" %6" PRIu64 "s\n", age);
}

static int on_ring(struct nl_msg *msg, void *arg)
{
	struct dump_ctx *ctx = arg;
	struct ring_row row;
	uint8_t cmd;

	if (parse_row(msg, &row, &cmd) < 0 || cmd != CELL_CMD_RING_GET)
		return NL_SKIP;
	if (ctx->json) {
		printf("%s\n  ", ctx->count ? "," : "");
		print_json(&row, NULL);
	} else {
		print_text(&row);
	}
	ctx->count++;
	return NL_OK;
}

static const char *event_name(uint8_t cmd)
{
	switch (cmd) {
	case CELL_CMD_RING_CREATED:
		return "created";
	case CELL_CMD_RING_DESTROYED:
		return "destroyed";
	case CELL_CMD_RING_PEER_DEAD:
		return "peer-dead";
	default:
		return NULL;
	}
}

static int on_event(struct nl_msg *msg, void *arg)
{
	const bool *json = arg;
	struct ring_row row;
	const char *name;
	uint8_t cmd;

	if (parse_row(msg, &row, &cmd) < 0 || !(name = event_name(cmd)))
		return NL_SKIP;
	if (*json) {
		print_json(&row, name);
		putchar('\n');
	} else {
		printf("%-9s ring %" PRIu64 " size %" PRIu64, name, row.v[CELL_ATTR_RING_ID],
		       row.v[CELL_ATTR_DATA_SIZE]);
		if (cmd == CELL_CMD_RING_PEER_DEAD)
			printf(" (%s side closed)",
			       row.v[CELL_ATTR_PRODUCER_OPEN] ? "consumer" : "producer");
		putchar('\n');
	}
	fflush(stdout);
	return NL_OK;
}

static int usage(FILE *out)
{
	fputs("usage: cell rings [-j] [--watch]\n"
	      "  list cell.ko's rings (generic netlink family \"" CELL_GENL_NAME "\")\n"
	      "  -j, --json   JSON output\n"
	      "  -w, --watch  print create, destroy and peer-death events as they come\n",
	      out);
	return out == stdout ? 0 : 2;
}

int cell_cmd_rings(int argc, char **argv)
{
	bool json = false, watch = false;
	struct nl_sock *sk;
	int family, err, i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-w") || !strcmp(argv[i], "--watch"))
			watch = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout);
		else
			return usage(stderr);
	}

	sk = nl_socket_alloc();
	if (!sk) {
		fprintf(stderr, "cell rings: out of memory\n");
		return 1;
	}
	err = genl_connect(sk);
	if (err < 0) {
		fprintf(stderr, "cell rings: generic netlink: %s\n", nl_geterror(err));
		goto out;
	}
	family = genl_ctrl_resolve(sk, CELL_GENL_NAME);
	if (family < 0) {
		fprintf(stderr,
			"cell rings: no generic netlink family \"%s\" (is cell.ko loaded? "
			"modprobe cell)\n",
			CELL_GENL_NAME);
		rc = 2;
		goto out;
	}

	if (watch) {
		int grp = genl_ctrl_resolve_grp(sk, CELL_GENL_NAME, CELL_GENL_MCGRP_EVENTS);

		if (grp < 0 || (err = nl_socket_add_membership(sk, grp)) < 0) {
			fprintf(stderr, "cell rings: cannot join \"%s\": %s\n",
				CELL_GENL_MCGRP_EVENTS, nl_geterror(grp < 0 ? grp : err));
			goto out;
		}
		nl_socket_disable_seq_check(sk);
		nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_event, &json);
		for (;;) {
			err = nl_recvmsgs_default(sk);
			if (err < 0 && err != -NLE_INTR) {
				fprintf(stderr, "cell rings: %s\n", nl_geterror(err));
				goto out;
			}
		}
	} else {
		struct dump_ctx ctx = { .json = json };

		nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_ring, &ctx);
		err = genl_send_simple(sk, family, CELL_CMD_RING_GET, CELL_GENL_VERSION,
				       NLM_F_DUMP);
		if (err < 0) {
			fprintf(stderr, "cell rings: %s\n", nl_geterror(err));
			goto out;
		}
		if (json)
			fputs("[", stdout);
		else
			printf("%6s %10s %-14s %3s %-14s %3s %12s %12s %8s %8s %7s\n", "ID", "SIZE",
			       "PRODUCER", "FDS", "CONSUMER", "FDS", "HEAD", "TAIL", "WAITS",
			       "WAKEUPS", "AGE");
		err = nl_recvmsgs_default(sk);
		if (err < 0) {
			fprintf(stderr, "cell rings: %s\n", nl_geterror(err));
			goto out;
		}
		if (json)
			printf("%s]\n", ctx.count ? "\n" : "");
		rc = 0;
	}
out:
	nl_socket_free(sk);
	return rc;
}
