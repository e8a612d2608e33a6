// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target: celld's pheromone receiver (celld_discovery_input) on
 * arbitrary datagrams, with a small table (4 nodes of 4 cells) so that
 * eviction and refusal run too.  The seed corpus has datagrams signed by
 * the key of seed 0x02 (selftests/fuzz/corpus/celld_pheromone_rx).
 * An input of 257 bytes is a datagram re-signed by one of 6 sender keys
 * (chosen by its first byte) before it is received, so that the paths
 * after the signature (sequences, tables, eviction, withdrawal) are
 * fuzzed too, not only the refusals.  The ping receiver has its own
 * target (fuzz_ping_rx.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct celld_identity id;
	static struct celld_discovery *disc;
	static uint64_t now;
	char err[256];

	if (!disc) {
		struct celld_discovery_config cfg;
		uint8_t seed[32];

		if (sodium_init() < 0)
			return 0;
		memset(seed, 1, sizeof(seed));
		crypto_sign_seed_keypair(id.pk, id.sk, seed);
		celld_key_hex(id.pk, id.hex);
		celld_discovery_config_init(&cfg);
		cfg.max_peers = 4;
		cfg.max_cells = 4;
		disc = celld_discovery_new(NULL, &id, &cfg, NULL, NULL, err, sizeof(err));
		if (!disc)
			return 0;
	}
	now += 700;
	if (size == CELL_PHEROMONE_SIZE + 1) {
		struct celld_identity sender;
		struct cell_pheromone ph;
		uint8_t seed[32];

		memset(seed, 2 + data[0] % 6, sizeof(seed));
		crypto_sign_seed_keypair(sender.pk, sender.sk, seed);
		memcpy(&ph, data + 1, sizeof(ph));
		memcpy(ph.identity_key, sender.pk, sizeof(ph.identity_key));
		celld_identity_sign(&sender, &ph, offsetof(struct cell_pheromone, signature),
				    ph.signature);
		celld_discovery_input(disc, &ph, sizeof(ph), NULL, now);
	} else {
		celld_discovery_input(disc, data, size, NULL, now);
	}
	celld_discovery_expire(disc, now);
	return 0;
}
