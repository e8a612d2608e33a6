// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * remote_list_seeds DIR: writes the seed corpus of fuzz_cellc_remote_list
 * (selftests/fuzz/corpus/cellc_remote_list): cell_list answers made by the
 * generated builders of nucleus.cell, as celld makes them.  Run by hand
 * after a change of nucleus.cell.
 */
#include <stdio.h>
#include <string.h>

#include "nucleus.cell.h"

static _Alignas(8) uint8_t buf[4096];

static int put(const char *dir, const char *name, uint32_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!len || !f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "remote_list_seeds: %s: failed\n", path);
		return 1;
	}
	return 0;
}

/* @n cells "demo" on node @node with the uris of @uris (NULL-ended). */
static uint32_t list(uint32_t n, const char *node, const char *const *uris)
{
	struct nucleus_cell_info *info;
	struct nucleus_endpoint *ep;
	struct nucleus_cell_list *l;
	struct cellc_builder b;
	uint32_t k = 0;

	while (uris[k])
		k++;
	memset(buf, 0, sizeof(buf));
	cellc_builder_init(&b, buf, sizeof(buf));
	l = nucleus_cell_list_start(&b);
	l->total = n;
	info = nucleus_cell_list_alloc_cells(&b, l, n);
	for (uint32_t i = 0; info && i < n; i++) {
		info[i].fingerprint = 0x5a5a0000 + i;
		(void)nucleus_cell_info_set_name_str(&b, &info[i], i ? "orders" : "demo");
		(void)nucleus_cell_info_set_node_str(&b, &info[i], node);
		(void)nucleus_cell_info_set_path_str(&b, &info[i], "");
		ep = nucleus_cell_info_alloc_endpoints(&b, &info[i], k);
		for (uint32_t j = 0; ep && j < k; j++)
			(void)nucleus_endpoint_set_uri_str(&b, &ep[j], uris[j]);
		(void)nucleus_cell_info_set_state_str(&b, &info[i], "");
	}
	return cellc_builder_finish(&b);
}

/* A discovery_stats answer of node @node. */
static uint32_t stats(const char *node)
{
	struct nucleus_discovery_stats *st;
	struct cellc_builder b;

	memset(buf, 0, sizeof(buf));
	cellc_builder_init(&b, buf, sizeof(buf));
	st = nucleus_discovery_stats_start(&b);
	st->enabled = 1;
	(void)nucleus_discovery_stats_set_node_str(&b, st, node);
	return cellc_builder_finish(&b);
}

int main(int argc, char **argv)
{
	static const char *const none[] = { NULL };
	static const char *const axon[] = { "quic://10.77.0.2:4433", NULL };
	static const char *const two[] = { "udp://10.77.0.2:7000", "quic://[fe80::1]:4434", NULL };
	const char *node = "2f9c0d5e8a7b6c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d";

	if (argc != 2) {
		fprintf(stderr, "usage: remote_list_seeds DIR\n");
		return 2;
	}
	return put(argv[1], "empty", list(0, node, none)) |
	       put(argv[1], "one-quic", list(1, node, axon)) |
	       put(argv[1], "one-no-endpoint", list(1, node, none)) |
	       put(argv[1], "three-two-endpoints", list(3, node, two)) |
	       put(argv[1], "local", list(2, "", axon)) |
	       put(argv[1], "discovery-stats", stats(node));
}
