// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell kv [-j] get KEY | put KEY VALUE | del KEY | cas KEY OLD NEW |
 * cas -a KEY NEW, and cell cluster [-j] [status | add ID HOST:PORT
 * [ENDPOINT] | promote ID | demote ID | remove ID | transfer [ID]]: the
 * cluster's replicated key-value store, this node's view of its Raft group
 * and its membership, through the local celld's nucleus (methods kv,
 * cluster and cluster_change, Documentation/raft.rst).
 *
 * A node that does not lead answers NOT_LEADER with the leader's nucleus
 * endpoint; `cell kv` follows it (unix: endpoints; others need a transport
 * between machines) and sends the same request again, with the same
 * client id and request number so that a write is applied once.
 *
 * Exit status: 0 done (get: found), 1 failure, 3 cas mismatch or key
 * absent, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cell/rpc.h>
#include <cell/wire.h>

#include "cell.h"
#include "jsonout.h"
#include "nucleus.cell.h"

#define KV_TIMEOUT_MS 8000
#define KV_HOPS	      4

static int kv_usage(FILE *out)
{
	fputs("usage: cell kv [-j] get KEY\n"
	      "       cell kv [-j] put KEY VALUE\n"
	      "       cell kv [-j] del KEY\n"
	      "       cell kv [-j] cas KEY OLD NEW     (set NEW if KEY holds OLD)\n"
	      "       cell kv [-j] cas -a KEY NEW      (set NEW if KEY does not exist)\n"
	      "  -j  JSON: {\"outcome\", \"found\", \"revision\", \"value\"}\n",
	      out);
	return out == stdout ? 0 : 2;
}

static const char *outcome_name(uint8_t o)
{
	static const char *const names[] = { "done", "cas_mismatch", "absent",
					     "full", "stale",	     "invalid" };

	return o < sizeof(names) / sizeof(names[0]) ? names[o] : "unknown";
}

static struct cell_client *connect_nucleus(const char *dir)
{
	struct cell_client_opts co = nucleus_client_opts();

	co.backend = CELL_RING_BACKEND_NONE;
	co.spin_ns = CELL_SPIN_NONE;
	co.runtime_dir = dir;
	co.connect_deadline = cell_deadline_in_ms(2000);
	return cell_client_connect("nucleus", &co);
}

/* "leader ID ADDR unix:/dir/nucleus.sock" -> "/dir" in @dir; false if none. */
static bool leader_dir(const char *detail, uint32_t len, char *dir, size_t cap)
{
	char buf[512], *p;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, detail, len);
	buf[len] = '\0';
	p = strstr(buf, " unix:");
	if (!p)
		return false;
	p += 6;
	if (strlen(p) >= cap)
		return false;
	strcpy(dir, dirname(p));
	return true;
}

struct kv_args {
	uint8_t op, expect_absent;
	const char *key, *expect, *value;
};

int cell_cmd_kv(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	struct kv_args a = { 0 };
	char dirbuf[2][256];
	const char *dir = NULL;
	uint64_t client = 0;
	bool json = false;
	int opt, nargs;
	const char *verb;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+jh", longopts, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'h')
			return kv_usage(stdout);
		else
			return kv_usage(stderr);
	}
	if (optind >= argc)
		return kv_usage(stderr);
	verb = argv[optind++];
	if (!strcmp(verb, "cas") && optind < argc && !strcmp(argv[optind], "-a")) {
		a.expect_absent = 1;
		optind++;
	}
	nargs = argc - optind;
	if (!strcmp(verb, "get") && nargs == 1) {
		a.op = 0;
	} else if (!strcmp(verb, "put") && nargs == 2) {
		a.op = 1;
		a.value = argv[optind + 1];
	} else if (!strcmp(verb, "del") && nargs == 1) {
		a.op = 2;
	} else if (!strcmp(verb, "cas") && a.expect_absent && nargs == 2) {
		a.op = 3;
		a.value = argv[optind + 1];
	} else if (!strcmp(verb, "cas") && !a.expect_absent && nargs == 3) {
		a.op = 3;
		a.expect = argv[optind + 1];
		a.value = argv[optind + 2];
	} else {
		return kv_usage(stderr);
	}
	a.key = argv[optind];
	if (a.op && getrandom(&client, sizeof(client), 0) != sizeof(client)) {
		perror("cell kv: getrandom");
		return 1;
	}
	client |= 1; /* nonzero */
	for (int hop = 0; hop < KV_HOPS; hop++) {
		const struct nucleus_kv_answer *resp;
		struct cell_response raw = { 0 };
		struct nucleus_kv_request *req;
		struct cell_call *call = NULL;
		struct cellc_builder b;
		struct cell_client *c = connect_nucleus(dir);
		size_t klen = strlen(a.key), elen = a.expect ? strlen(a.expect) : 0,
		       vlen = a.value ? strlen(a.value) : 0;
		enum cell_status st;

		if (!c) {
			fprintf(stderr, "cell kv: cannot reach celld%s%s: %s\n", dir ? " in " : "",
				dir ? dir : "", cell_last_error(NULL));
			return 1;
		}
		st = nucleus_kv_begin(c, NUCLEUS_KV_REQUEST_SIZE + klen + elen + vlen + 32,
				      cell_deadline_in_ms(KV_TIMEOUT_MS), &call, &b, &req);
		if (st == CELL_STATUS_OK) {
			req->op = a.op;
			req->expect_absent = a.expect_absent;
			req->client = a.op ? client : 0;
			req->request = a.op ? 1 : 0;
			if (nucleus_kv_request_set_key(&b, req, a.key, (uint32_t)klen) ||
			    (elen &&
			     nucleus_kv_request_set_expect(&b, req, a.expect, (uint32_t)elen)) ||
			    (vlen &&
			     nucleus_kv_request_set_value(&b, req, a.value, (uint32_t)vlen)))
				st = CELL_STATUS_TOO_LARGE;
		}
		if (st == CELL_STATUS_OK)
			st = nucleus_kv_finish(call, &b, &resp, &raw);
		if (st == CELL_STATUS_NOT_LEADER && raw.detail &&
		    leader_dir(raw.detail, raw.detail_len, dirbuf[hop & 1], sizeof(dirbuf[0]))) {
			dir = dirbuf[hop & 1];
			cell_call_end(call);
			cell_client_free(c);
			continue; /* the same client and request number: applied once */
		}
		if (st != CELL_STATUS_OK) {
			fprintf(stderr, "cell kv: %s%s%.*s\n", cell_status_name(st),
				raw.detail_len ? ": " : "", (int)raw.detail_len,
				raw.detail ? raw.detail : "");
			if (call)
				cell_call_end(call);
			cell_client_free(c);
			return 1;
		}
		{
			uint32_t n;
			const uint8_t *v = nucleus_kv_answer_value(resp, &n);
			int rc = resp->outcome == 0 && (a.op || resp->found) ? 0 : 3;

			if (json) {
				printf("{\"outcome\":\"%s\",\"found\":%s,\"revision\":%" PRIu64
				       ",\"value\":",
				       outcome_name(resp->outcome), resp->found ? "true" : "false",
				       resp->revision);
				if (a.op == 0 && resp->found)
					json_put_string(stdout, (const char *)v, n);
				else
					fputs("null", stdout);
				puts("}");
			} else if (a.op == 0) {
				if (resp->found)
					printf("%.*s\n", (int)n, (const char *)v);
				else
					fprintf(stderr, "cell kv: %s: not found\n", a.key);
			} else if (rc) {
				fprintf(stderr, "cell kv: %s: %s\n", a.key,
					outcome_name(resp->outcome));
			}
			cell_call_end(call);
			cell_client_free(c);
			return rc;
		}
	}
	fprintf(stderr, "cell kv: no leader after %d redirects\n", KV_HOPS);
	return 1;
}

static int cluster_usage(FILE *out)
{
	fputs("usage: cell cluster [-j] [status]\n"
	      "       cell cluster add [--standby|--spare] ID HOST:PORT [ENDPOINT]\n"
	      "                                  (a voter once it caught up with the log)\n"
	      "       cell cluster promote ID      (to voter)\n"
	      "       cell cluster demote ID       (to spare: no vote, no log)\n"
	      "       cell cluster remove ID\n"
	      "       cell cluster transfer [ID]   (leadership; no ID: the most up-to-date voter)\n"
	      "  Changes go to the leader (NOT_LEADER is followed) and return once committed;\n"
	      "  a node to add runs celld -o cluster.join=1 -o cluster.id=ID\n"
	      "  -o cluster.address=HOST:PORT.\n",
	      out);
	return out == stdout ? 0 : 2;
}

static int parse_id(const char *s, uint64_t *id)
{
	char *end;

	errno = 0;
	*id = strtoull(s, &end, 10);
	return errno || !*s || *end || !*id ? -1 : 0;
}

/* One membership change, sent to the local node and then to the leader it names. */
static int cluster_change(uint8_t op, uint8_t role, uint64_t id, const char *addr, const char *ep)
{
	char dirbuf[2][256];
	const char *dir = NULL;

	for (int hop = 0; hop < KV_HOPS; hop++) {
		const struct nucleus_empty *resp;
		struct cell_response raw = { 0 };
		struct nucleus_member_change *req;
		struct cell_call *call = NULL;
		struct cellc_builder b;
		struct cell_client *c = connect_nucleus(dir);
		size_t alen = addr ? strlen(addr) : 0, elen = ep ? strlen(ep) : 0;
		enum cell_status st;

		if (!c) {
			fprintf(stderr, "cell cluster: cannot reach celld%s%s: %s\n",
				dir ? " in " : "", dir ? dir : "", cell_last_error(NULL));
			return 1;
		}
		st = nucleus_cluster_change_begin(c, NUCLEUS_MEMBER_CHANGE_SIZE + alen + elen + 32,
						  cell_deadline_in_ms(KV_TIMEOUT_MS), &call, &b,
						  &req);
		if (st == CELL_STATUS_OK) {
			req->op = op;
			req->role = role;
			req->id = id;
			if ((alen &&
			     nucleus_member_change_set_address(&b, req, addr, (uint32_t)alen)) ||
			    (elen &&
			     nucleus_member_change_set_endpoint(&b, req, ep, (uint32_t)elen)))
				st = CELL_STATUS_TOO_LARGE;
		}
		if (st == CELL_STATUS_OK)
			st = nucleus_cluster_change_finish(call, &b, &resp, &raw);
		if (st == CELL_STATUS_NOT_LEADER && raw.detail &&
		    leader_dir(raw.detail, raw.detail_len, dirbuf[hop & 1], sizeof(dirbuf[0]))) {
			dir = dirbuf[hop & 1];
			cell_call_end(call);
			cell_client_free(c);
			continue;
		}
		if (st != CELL_STATUS_OK)
			fprintf(stderr, "cell cluster: %s%s%.*s\n", cell_status_name(st),
				raw.detail_len ? ": " : "", (int)raw.detail_len,
				raw.detail ? raw.detail : "");
		if (call)
			cell_call_end(call);
		cell_client_free(c);
		return st == CELL_STATUS_OK ? 0 : 1;
	}
	fprintf(stderr, "cell cluster: no leader after %d redirects\n", KV_HOPS);
	return 1;
}

static const char *role_str(const struct nucleus_member *m)
{
	switch (m->role) {
	case 0:
		return "standby";
	case 1:
		return "voter";
	case 2:
		return "spare";
	default:
		return "?";
	}
}

int cell_cmd_cluster(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { "standby", no_argument, NULL, 'S' },
						  { "spare", no_argument, NULL, 'P' },
						  { 0 } };
	uint8_t role = 1; /* voter */
	uint64_t id = 0;
	const char *verb;
	int opt, nargs;
	const struct nucleus_cluster_status *s;
	const struct nucleus_member *m;
	struct cell_response raw = { 0 };
	struct nucleus_empty *req;
	struct cell_call *call = NULL;
	struct cellc_builder b;
	struct cell_client *c;
	enum cell_status st;
	bool json = false;
	uint32_t count, n, an, en;
	const char *str, *addr, *ep;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'h')
			return cluster_usage(stdout);
		else if (opt == 'S')
			role = 0;
		else if (opt == 'P')
			role = 2;
		else
			return cluster_usage(stderr);
	}
	verb = optind < argc ? argv[optind++] : "status";
	nargs = argc - optind;
	if (strcmp(verb, "status") && strcmp(verb, "transfer") &&
	    (nargs < 1 || parse_id(argv[optind], &id)))
		return cluster_usage(stderr);
	if (!strcmp(verb, "add") && (nargs == 2 || nargs == 3))
		return cluster_change(1, role, id, argv[optind + 1],
				      nargs == 3 ? argv[optind + 2] : NULL);
	if (!strcmp(verb, "promote") && nargs == 1)
		return cluster_change(2, 1, id, NULL, NULL);
	if (!strcmp(verb, "demote") && nargs == 1)
		return cluster_change(2, 2, id, NULL, NULL);
	if (!strcmp(verb, "remove") && nargs == 1)
		return cluster_change(3, 0, id, NULL, NULL);
	if (!strcmp(verb, "transfer") && nargs <= 1) {
		if (nargs == 1 && parse_id(argv[optind], &id))
			return cluster_usage(stderr);
		return cluster_change(4, 0, id, NULL, NULL);
	}
	if (strcmp(verb, "status") || nargs)
		return cluster_usage(stderr);
	c = connect_nucleus(NULL);
	if (!c) {
		fprintf(stderr, "cell cluster: cannot reach celld: %s\n", cell_last_error(NULL));
		return 1;
	}
	st = nucleus_cluster_begin(c, NUCLEUS_EMPTY_SIZE, cell_deadline_in_ms(KV_TIMEOUT_MS), &call,
				   &b, &req);
	if (st == CELL_STATUS_OK)
		st = nucleus_cluster_finish(call, &b, &s, &raw);
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "cell cluster: %s%s%.*s\n", cell_status_name(st),
			raw.detail_len ? ": " : "", (int)raw.detail_len,
			raw.detail ? raw.detail : "");
		if (call)
			cell_call_end(call);
		cell_client_free(c);
		return 1;
	}
	m = nucleus_cluster_status_members(s, &count);
	if (json) {
		printf("{\"enabled\":%s,\"id\":%" PRIu64 ",\"address\":",
		       s->enabled ? "true" : "false", s->id);
		str = nucleus_cluster_status_address(s, &n);
		json_put_string(stdout, str, n);
		fputs(",\"state\":", stdout);
		str = nucleus_cluster_status_state(s, &n);
		json_put_string(stdout, str, n);
		printf(",\"leader_id\":%" PRIu64 ",\"leader_address\":", s->leader_id);
		str = nucleus_cluster_status_leader_address(s, &n);
		json_put_string(stdout, str, n);
		printf(",\"term\":%" PRIu64 ",\"commit_index\":%" PRIu64 ",\"applied_index\":"
		       "%" PRIu64 ",\"keys\":%u,"
		       "\"members\":[",
		       s->term, s->commit_index, s->applied_index, s->keys);
		for (uint32_t i = 0; i < count; i++) {
			addr = nucleus_member_address_at(s, &m[i], &an);
			ep = nucleus_member_endpoint_at(s, &m[i], &en);
			printf("%s{\"id\":%" PRIu64 ",\"voter\":%s,\"role\":\"%s\",\"address\":",
			       i ? "," : "", m[i].id, m[i].voter ? "true" : "false",
			       role_str(&m[i]));
			json_put_string(stdout, addr, an);
			fputs(",\"endpoint\":", stdout);
			json_put_string(stdout, ep, en);
			putchar('}');
		}
		puts("]}");
	} else if (!s->enabled) {
		puts("no cluster (celld -o cluster.id=N -o cluster.peers=...)");
	} else {
		str = nucleus_cluster_status_state(s, &n);
		printf("node %" PRIu64 "  %.*s  term %" PRIu64 "  leader %" PRIu64
		       "  commit %" PRIu64 "  applied %" PRIu64 "  keys %u\n",
		       s->id, (int)n, str, s->term, s->leader_id, s->commit_index, s->applied_index,
		       s->keys);
		for (uint32_t i = 0; i < count; i++) {
			addr = nucleus_member_address_at(s, &m[i], &an);
			ep = nucleus_member_endpoint_at(s, &m[i], &en);
			printf("  %" PRIu64 "  %-22.*s %-7s  %.*s\n", m[i].id, (int)an, addr,
			       role_str(&m[i]), (int)en, ep);
		}
	}
	cell_call_end(call);
	cell_client_free(c);
	return 0;
}
