// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell peers [-j]: LAN discovery as celld sees it (its nucleus cell's
 * "discovery" method): this node's key, the remote nodes with their
 * estimated (Vivaldi) and measured (median of the last 16 pings) round
 * trip, and every counter of received, accepted and dropped datagrams and
 * pings by reason (Documentation/discovery.rst).
 *
 * -j prints one JSON object: {"node", "enabled", "bpf", "peers", "cells",
 * "counters": {name: value, ...}, "rtts": [{"node", "addr", "est_us",
 * "measured_us", "samples"}, ...]}.  Exit status: 0, 1 when celld cannot
 * be asked, 2 for a usage error.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cell/rpc.h>
#include <cell/wire.h>

#include "cell.h"
#include "jsonout.h"
#include "nucleus.cell.h"

#define PEERS_TIMEOUT_MS 2000

static int peers_usage(FILE *out)
{
	fputs("usage: cell peers [-j]\n"
	      "  -j  JSON: this node, remote nodes with their RTT, discovery counters\n",
	      out);
	return out == stdout ? 0 : 2;
}

static void print_text(const struct nucleus_discovery_stats *st)
{
	const struct nucleus_stat_counter *cn;
	const struct nucleus_peer_rtt *r;
	uint32_t n, count;
	const char *s;

	s = nucleus_discovery_stats_node(st, &n);
	printf("node %.*s\n", (int)n, s ? s : "");
	if (!st->enabled) {
		puts("discovery off");
		return;
	}
	printf("peers %u  cells %u  BPF filter %s\n\n", st->peers, st->cells,
	       st->bpf ? "attached" : "not attached");
	printf("%-64s  %-28s %8s %11s %7s\n", "PEER", "ADDRESS", "EST_US", "MEASURED_US",
	       "SAMPLES");
	r = nucleus_discovery_stats_rtts(st, &count);
	for (uint32_t i = 0; i < count; i++) {
		const char *a;
		uint32_t an;

		s = nucleus_peer_rtt_node_at(st, &r[i], &n);
		a = nucleus_peer_rtt_addr_at(st, &r[i], &an);
		printf("%-64.*s  %-28.*s %8u %11u %7u\n", (int)n, s, an ? (int)an : 1, an ? a : "-",
		       r[i].est_us, r[i].measured_us, r[i].samples);
	}
	putchar('\n');
	cn = nucleus_discovery_stats_counters(st, &count);
	for (uint32_t i = 0; i < count; i++) {
		s = nucleus_stat_counter_name_at(st, &cn[i], &n);
		printf("%-28.*s %" PRIu64 "\n", (int)n, s, cn[i].value);
	}
}

static void print_json(const struct nucleus_discovery_stats *st)
{
	const struct nucleus_stat_counter *cn;
	const struct nucleus_peer_rtt *r;
	uint32_t n, count;
	const char *s;

	fputs("{\"node\":", stdout);
	s = nucleus_discovery_stats_node(st, &n);
	json_put_string(stdout, s, n);
	printf(",\"enabled\":%s,\"bpf\":%s,\"peers\":%u,\"cells\":%u,\"counters\":{",
	       st->enabled ? "true" : "false", st->bpf ? "true" : "false", st->peers, st->cells);
	cn = nucleus_discovery_stats_counters(st, &count);
	for (uint32_t i = 0; i < count; i++) {
		if (i)
			putchar(',');
		s = nucleus_stat_counter_name_at(st, &cn[i], &n);
		json_put_string(stdout, s, n);
		printf(":%" PRIu64, cn[i].value);
	}
	fputs("},\"rtts\":[", stdout);
	r = nucleus_discovery_stats_rtts(st, &count);
	for (uint32_t i = 0; i < count; i++) {
		if (i)
			putchar(',');
		fputs("{\"node\":", stdout);
		s = nucleus_peer_rtt_node_at(st, &r[i], &n);
		json_put_string(stdout, s, n);
		fputs(",\"addr\":", stdout);
		s = nucleus_peer_rtt_addr_at(st, &r[i], &n);
		json_put_string(stdout, s, n);
		printf(",\"est_us\":%u,\"measured_us\":%u,\"samples\":%u}", r[i].est_us,
		       r[i].measured_us, r[i].samples);
	}
	puts("]}");
}

int cell_cmd_peers(int argc, char **argv)
{
	static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	struct cell_client_opts co = nucleus_client_opts();
	const struct nucleus_discovery_stats *resp;
	struct cell_response raw = { 0 };
	struct nucleus_empty *req;
	struct cellc_builder b;
	struct cell_client *c;
	struct cell_call *call = NULL;
	enum cell_status st;
	bool json = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'h':
			return peers_usage(stdout);
		default:
			return peers_usage(stderr);
		}
	}
	if (optind != argc)
		return peers_usage(stderr);
	co.backend = CELL_RING_BACKEND_NONE;
	co.spin_ns = CELL_SPIN_NONE;
	co.connect_deadline = cell_deadline_in_ms(PEERS_TIMEOUT_MS);
	c = cell_client_connect("nucleus", &co);
	if (!c) {
		fprintf(stderr, "cell peers: cannot reach celld: %s (is celld running?)\n",
			cell_last_error(NULL));
		return 1;
	}
	st = nucleus_discovery_begin(c, NUCLEUS_EMPTY_SIZE, cell_deadline_in_ms(PEERS_TIMEOUT_MS),
				     &call, &b, &req);
	if (st == CELL_STATUS_OK)
		st = nucleus_discovery_finish(call, &b, &resp, &raw);
	if (st != CELL_STATUS_OK) {
		fprintf(stderr, "cell peers: %s%s%.*s\n", cell_status_name(st),
			raw.detail_len ? ": " : "", (int)raw.detail_len,
			raw.detail ? raw.detail : "");
		if (call)
			cell_call_end(call);
		cell_client_free(c);
		return 1;
	}
	if (json)
		print_json(resp);
	else
		print_text(resp);
	cell_call_end(call);
	cell_client_free(c);
	return 0;
}
