// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell ps [-j] [-l|-r] [NAME]: the cells celld knows (its nucleus cell's
 * "list" method): local ones (registered or found in the runtime
 * directory) and, with discovery, those of other nodes on the LAN.
 *
 *   NAME  FINGERPRINT  PID  PATH  NODE  RTT_US  HEALTH  STATE  RESTARTS  UPTIME
 *
 * STATE, RESTARTS and UPTIME are those of cells celld supervises (capsid:
 * starting, ready, backoff, stopping, failed, stopped), "-" for others.
 * -j prints a JSON array of objects with the same fields and more (uid,
 * id, origin, endpoints; state "" for a cell not supervised, uptime_ms).  Exit status: 0, 1 when celld cannot be asked
 * (not running: "is celld running?"), 2 for a usage error.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cell/rpc.h>

#include "cell.h"
#include "jsonout.h"
#include "nucleus.cell.h"
#include "probe.h"

#define PS_TIMEOUT_MS 2000

static const char *health_name(uint8_t h)
{
	return h == 1 ? "ok" : h == 2 ? "unreachable" : "unknown";
}

static const char *origin_name(uint8_t o)
{
	return o == 1	? "registered"
	       : o == 2 ? "scan"
	       : o == 3 ? "lan"
	       : o == 4 ? "can"
	       : o == 5 ? "capsid"
			: "unknown";
}

/* An uptime as 45s, 12m03s, 5h02m, 3d04h. */
static const char *duration(uint64_t ms, char *buf, size_t cap)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, cap, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, cap, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	return buf;
}

/* A span's text as a NUL-terminated copy in @buf (cut at @cap - 1 bytes). */
static const char *text(const char *s, uint32_t len, char *buf, size_t cap)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	memcpy(buf, s ? s : "", n);
	buf[n] = '\0';
	return buf;
}

static void print_row(const void *msg, const struct nucleus_cell_info *ci)
{
	char name[CELL_NAME_MAX + 1], path[256], node[96], state[16], restarts[16], up[24];
	uint32_t n;
	const char *s;

	s = nucleus_cell_info_name_at(msg, ci, &n);
	text(s, n, name, sizeof(name));
	s = nucleus_cell_info_path_at(msg, ci, &n);
	text(s, n, path, sizeof(path));
	s = nucleus_cell_info_node_at(msg, ci, &n);
	text(s, n, node, sizeof(node));
	s = nucleus_cell_info_state_at(msg, ci, &n);
	text(s, n, state, sizeof(state));
	snprintf(restarts, sizeof(restarts), "%u", ci->restarts);
	if (ci->uptime_ms)
		duration(ci->uptime_ms, up, sizeof(up));
	else
		snprintf(up, sizeof(up), "-");
	printf("%-20s 0x%016" PRIx64 " %7d  %-40s %-12s %7u  %-11s %-8s %8s %7s\n", name,
	       ci->fingerprint, (int)ci->pid, path[0] ? path : "-", node[0] ? node : "local",
	       ci->rtt_us, health_name(ci->health), state[0] ? state : "-",
	       state[0] ? restarts : "-", state[0] ? up : "-");
}

static void print_json(const void *msg, const struct nucleus_cell_info *ci)
{
	const struct nucleus_endpoint *ep;
	uint32_t n, count;
	const char *s;

	fputs("{\"name\":", stdout);
	s = nucleus_cell_info_name_at(msg, ci, &n);
	json_put_string(stdout, s, n);
	printf(",\"fingerprint\":\"0x%016" PRIx64 "\",\"id\":%" PRIu64 ",\"pid\":%d,\"uid\":%u",
	       ci->fingerprint, ci->id, (int)ci->pid, ci->uid);
	fputs(",\"path\":", stdout);
	s = nucleus_cell_info_path_at(msg, ci, &n);
	json_put_string(stdout, s, n);
	fputs(",\"node\":", stdout);
	s = nucleus_cell_info_node_at(msg, ci, &n);
	json_put_string(stdout, s, n);
	printf(",\"local\":%s,\"rtt_us\":%u,\"health\":\"%s\",\"origin\":\"%s\"",
	       n ? "false" : "true", ci->rtt_us, health_name(ci->health), origin_name(ci->origin));
	fputs(",\"state\":", stdout);
	s = nucleus_cell_info_state_at(msg, ci, &n);
	json_put_string(stdout, s, n);
	printf(",\"restarts\":%u,\"uptime_ms\":%" PRIu64 ",\"endpoints\":[", ci->restarts,
	       ci->uptime_ms);
	ep = nucleus_cell_info_endpoints_at(msg, ci, &count);
	for (uint32_t i = 0; i < count; i++) {
		if (i)
			putchar(',');
		s = nucleus_endpoint_uri_at(msg, &ep[i], &n);
		json_put_string(stdout, s, n);
	}
	fputs("]}", stdout);
}

static int ps_usage(FILE *out)
{
	fputs("usage: cell ps [-j] [-l | -r] [NAME]\n"
	      "  -j  JSON   -l  local cells only   -r  remote (LAN) cells only\n",
	      out);
	return out == stdout ? 0 : 2;
}

/* Asks the nucleus; prints the rows. */
static int list(const char *name, uint32_t flags, bool json)
{
	struct cell_client_opts co = nucleus_client_opts();
	const struct nucleus_cell_info *cells;
	const struct nucleus_cell_list *resp;
	struct nucleus_query *req;
	struct cell_response raw = { 0 };
	struct cellc_builder b;
	struct cell_client *c;
	struct cell_call *call = NULL;
	enum cell_status st;
	uint32_t count;

	co.backend = CELL_RING_BACKEND_NONE;
	co.spin_ns = CELL_SPIN_NONE;
	co.connect_deadline = cell_deadline_in_ms(PS_TIMEOUT_MS);
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		fprintf(stderr, "cell ps: cannot reach celld: %s (is celld running?)\n",
			cell_last_error(NULL));
		return 1;
	}
	st = nucleus_list_begin(c, NUCLEUS_QUERY_SIZE + 40, cell_deadline_in_ms(PS_TIMEOUT_MS),
				&call, &b, &req);
	if (st == CELL_STATUS_OK) {
		req->flags = flags;
		if (name)
			(void)nucleus_query_set_name_str(&b, req, name);
		st = nucleus_list_finish(call, &b, &resp, &raw);
	}
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "cell ps: %s%s%.*s\n", cell_status_name(st),
			raw.detail_len ? ": " : "", (int)raw.detail_len,
			raw.detail ? raw.detail : "");
		if (call)
			cell_call_end(call);
		cell_client_free(c);
		return 1;
	}
	cells = nucleus_cell_list_cells(resp, &count);
	if (json)
		putchar('[');
	else
		printf("%-20s %-18s %7s  %-40s %-12s %7s  %-11s %-8s %8s %7s\n", "NAME",
		       "FINGERPRINT", "PID", "PATH", "NODE", "RTT_US", "HEALTH", "STATE",
		       "RESTARTS", "UPTIME");
	for (uint32_t i = 0; i < count; i++) {
		if (json) {
			if (i)
				putchar(',');
			print_json(resp, &cells[i]);
		} else {
			print_row(resp, &cells[i]);
		}
	}
	if (json)
		puts("]");
	cell_call_end(call);
	cell_client_free(c);
	return 0;
}

int cell_cmd_ps(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	uint32_t flags = 0;
	bool json = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jlrh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'l':
			flags = 1;
			break;
		case 'r':
			flags = 2;
			break;
		case 'h':
			return ps_usage(stdout);
		default:
			return ps_usage(stderr);
		}
	}
	if (argc - optind > 1)
		return ps_usage(stderr);
	return list(optind < argc ? argv[optind] : NULL, flags, json);
}
