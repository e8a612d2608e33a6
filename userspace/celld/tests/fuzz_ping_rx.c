// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target: celld's ping receiver (celld_discovery_ping_input) on
 * arbitrary datagrams of the ping port.  The receiver knows 6 peers
 * (pheromones of the keys of seeds 2..7, heard over IPv4 and IPv6) and
 * sends through the tx hook (no sockets).  An input of CELLD_PING_SIZE + 1
 * bytes is a ping or pong put under the key of one of those peers (first
 * byte, low 3 bits; 6 and 7: a key nobody announced) and signed by it;
 * bit 3 of that byte turns it into the pong of the ping just sent to that
 * peer (its nonce), so RTT samples and the Vivaldi update run on fuzzed
 * coordinates; bit 4 picks an IPv6 source; bit 5 gives a ping a fresh
 * stamp (else its nonce is fuzzed: mostly clock_skew or replay); bits 6-7
 * pick one of 4 IPv4 source addresses (the rate limit per source).  The
 * clock is a fake one that advances 10 ms per input, so the buckets refill
 * deterministically.  Other inputs are received as they are.  Seed corpus: selftests/fuzz/corpus/celld_ping_rx.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t last_tx[CELLD_PING_SIZE];
static uint64_t fake_ns = 1767225600ULL * 1000000000ULL; /* 2026-01-01 */

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_ns;
}

static void on_tx(void *ctx, const void *buf, size_t len, const struct sockaddr *to)
{
	(void)ctx;
	(void)to;
	if (len == sizeof(last_tx))
		memcpy(last_tx, buf, len);
}

static void seeded(struct celld_identity *id, uint8_t b)
{
	uint8_t seed[32];

	memset(seed, b, sizeof(seed));
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	celld_key_hex(id->pk, id->hex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct celld_identity id, peers[8];
	static struct celld_discovery *disc;
	struct sockaddr_in from4 = { .sin_family = AF_INET, .sin_port = htons(7947) };
	struct sockaddr_in6 from6 = { .sin6_family = AF_INET6, .sin6_port = htons(7947) };
	char err[256];
	static uint64_t ctr;

	fake_ns += 10000000;
	from4.sin_addr.s_addr = htonl(0x0a000001);
	from6.sin6_addr.s6_addr[0] = 0xfe;
	from6.sin6_addr.s6_addr[1] = 0x80;
	from6.sin6_addr.s6_addr[15] = 1;
	from6.sin6_scope_id = 2;
	if (!disc) {
		struct celld_discovery_config cfg;

		if (sodium_init() < 0)
			return 0;
		seeded(&id, 1);
		celld_discovery_config_init(&cfg);
		disc = celld_discovery_new(NULL, &id, &cfg, NULL, NULL, err, sizeof(err));
		if (!disc)
			return 0;
		celld_discovery_set_tx_hook(disc, on_tx, NULL);
		celld_discovery_set_clock(disc, fake_clock, NULL);
		for (int i = 0; i < 8; i++) {
			struct celld_discovery *other;
			struct cell_pheromone ph;

			seeded(&peers[i], (uint8_t)(2 + i));
			if (i >= 6)
				continue; /* never announced */
			other = celld_discovery_new(NULL, &peers[i], &cfg, NULL, NULL, err,
						    sizeof(err));
			if (!other)
				return 0;
			celld_discovery_build(other, "nucleus", 1, 0, &ph);
			celld_discovery_input(
				disc, &ph, sizeof(ph),
				i & 1 ? (struct sockaddr *)&from6 : (struct sockaddr *)&from4, 1);
			celld_discovery_free(other);
		}
	}
	if (size == CELLD_PING_SIZE + 1) {
		const struct celld_identity *sender = &peers[data[0] & 7];
		uint8_t b[CELLD_PING_SIZE];

		memcpy(b, data + 1, sizeof(b));
		memcpy(b + 36, sender->pk, CELLD_PUBKEY_BYTES);
		if (data[0] & 32) {
			uint64_t stamp =
				((fake_ns / 1000000 - 1735689600000ULL) << 12) + (++ctr & 0xfff);

			for (int i = 0; i < 8; i++)
				b[8 + i] = (uint8_t)(stamp >> (8 * i));
		}
		from4.sin_addr.s_addr = htonl(0x0a000001 + (data[0] >> 6));
		if ((data[0] & 8) && (data[0] & 7) < 6 &&
		    celld_discovery_ping_peer(disc, sender->pk) == 0) {
			b[4] = 2;		       /* a pong */
			memcpy(b + 8, last_tx + 8, 8); /* of the ping just sent */
		}
		celld_identity_sign(sender, b, 68, b + 80);
		celld_discovery_ping_input(disc, b, sizeof(b),
					   data[0] & 16 ? (struct sockaddr *)&from6
							: (struct sockaddr *)&from4);
	} else {
		celld_discovery_ping_input(disc, data, size,
					   size & 1 ? (struct sockaddr *)&from6
						    : (struct sockaddr *)&from4);
	}
	return 0;
}
