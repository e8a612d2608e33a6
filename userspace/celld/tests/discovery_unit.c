// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Unit test of the node identity, the pheromone receiver and Vivaldi
 * (identity.h, discovery.h, vivaldi.h), without sockets: datagrams are
 * built by one discovery state and fed to another.  TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>
#include <uv.h>

#include "discovery.h"
#include "identity.h"
#include "vivaldi.h"

static int n, failed;

__attribute__((format(printf, 2, 3))) static void ok(int cond, const char *what, ...)
{
	va_list ap;

	n++;
	if (!cond)
		failed = 1;
	printf("%sok %d ", cond ? "" : "not ", n);
	va_start(ap, what);
	vprintf(what, ap);
	va_end(ap);
	putchar('\n');
}

static int added, removed;
static char last_name[CELL_NAME_MAX];

static void on_added(void *ctx, const struct celld_remote_cell *c)
{
	(void)ctx;
	added++;
	snprintf(last_name, sizeof(last_name), "%s", c->name);
}

static void on_removed(void *ctx, const struct celld_remote_cell *c)
{
	(void)ctx;
	(void)c;
	removed++;
}

static const struct celld_discovery_ops ops = { on_added, on_removed, NULL };

static void seed_identity(struct celld_identity *id, uint8_t seed_byte)
{
	uint8_t seed[32];

	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	celld_key_hex(id->pk, id->hex);
}

static struct celld_discovery *make(const struct celld_identity *id,
				    const struct celld_discovery_config *cfg)
{
	char err[256];
	struct celld_discovery *d =
		celld_discovery_new(NULL, id, cfg, &ops, NULL, err, sizeof(err));

	if (!d)
		printf("# celld_discovery_new: %s\n", err);
	return d;
}

static uint64_t counter_drop(struct celld_discovery *d, int why)
{
	struct celld_discovery_counters c;

	celld_discovery_get_counters(d, &c);
	return c.drop[why];
}

static void test_identity(void)
{
	char dir[] = "/tmp/celld-id-XXXXXX", path[256], err[256];
	struct celld_identity a, b;
	struct stat st;
	uint8_t sig[64], pub[32];
	int fd, rc;

	ok(mkdtemp(dir) != NULL, "temp dir");
	ok(celld_identity_load(dir, &a, err, sizeof(err)) == 0, "key made on first load");
	snprintf(path, sizeof(path), "%s/node.key", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 64, "node.key is "
										    "0600, 64 "
										    "bytes");
	ok(celld_identity_load(dir, &b, err, sizeof(err)) == 0 && !memcmp(a.pk, b.pk, 32), "the "
											   "same "
											   "key on "
											   "the "
											   "second "
											   "load");
	snprintf(path, sizeof(path), "%s/node.pub", dir);
	fd = open(path, O_RDONLY);
	ok(fd >= 0 && read(fd, pub, 32) == 32 && !memcmp(pub, a.pk, 32), "node.pub holds the "
									 "public key");
	if (fd >= 0)
		close(fd);
	celld_identity_sign(&a, "hello", 5, sig);
	ok(celld_identity_verify(a.pk, "hello", 5, sig) == 0, "signature verifies");
	ok(celld_identity_verify(a.pk, "hellp", 5, sig) != 0, "signature of other bytes refused");
	snprintf(path, sizeof(path), "%s/node.key", dir);
	chmod(path, 0644);
	rc = celld_identity_load(dir, &b, err, sizeof(err));
	printf("# %s\n", err);
	ok(rc == -EPERM && strstr(err, "mode 0644"), "key file of mode 0644 refused");
	chmod(path, 0600);
	ok(truncate(path, 63) == 0, "truncate");
	rc = celld_identity_load(dir, &b, err, sizeof(err));
	printf("# %s\n", err);
	ok(rc == -EINVAL && strstr(err, "63 bytes"), "key file of 63 bytes refused");
	{
		uint8_t other[64];
		struct celld_identity c;

		seed_identity(&c, 9);
		memcpy(other, a.sk, 32);
		memcpy(other + 32, c.pk, 32);
		fd = open(path, O_WRONLY | O_TRUNC);
		ok(fd >= 0 && write(fd, other, 64) == 64, "write a mismatched key");
		if (fd >= 0)
			close(fd);
		rc = celld_identity_load(dir, &b, err, sizeof(err));
		printf("# %s\n", err);
		ok(rc == -EINVAL && strstr(err, "corrupt"), "key whose halves disagree refused");
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/node.pub", dir);
	unlink(path);
	rmdir(dir);
}

static void test_receiver(void)
{
	struct celld_identity ia, ib, ic;
	struct celld_discovery_config cfg;
	struct celld_discovery *a, *b, *c, *k;
	struct cell_pheromone ph, old;
	char peers[] = "/tmp/celld-peers-XXXXXX";
	FILE *f;
	int fd;

	seed_identity(&ia, 1);
	seed_identity(&ib, 2);
	seed_identity(&ic, 3);
	celld_discovery_config_init(&cfg);
	a = make(&ia, &cfg);
	b = make(&ib, &cfg);
	c = make(&ic, &cfg);
	ok(a && b && c, "three discovery states");
	if (!a || !b || !c)
		return;

	ok(celld_discovery_build(b, "alpha", 0x1122334455667788ULL, 0, &ph) == 0, "build alpha");
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 1000) == 0 && added == 1 &&
		   !strcmp(last_name, "alpha"),
	   "signed datagram accepted, cell added");
	old = ph;
	ok(celld_discovery_input(a, &old, sizeof(old), NULL, 1001) == 1 + CELLD_DROP_REPLAY &&
		   counter_drop(a, CELLD_DROP_REPLAY) == 1,
	   "the same datagram again: replay, counted");
	ok(celld_discovery_build(b, "alpha", 0x1122334455667788ULL, 0, &ph) == 0 &&
		   celld_discovery_input(a, &ph, sizeof(ph), NULL, 1002) == 0 && added == 1,
	   "next sequence accepted, unchanged cell not re-added");
	ok(celld_discovery_input(a, &old, sizeof(old), NULL, 1003) == 1 + CELLD_DROP_REPLAY, "an "
											     "older"
											     " sequ"
											     "ence:"
											     " repl"
											     "ay");
	celld_discovery_build(b, "alpha", 1, 0, &ph);
	ph.name[0] = 'b'; /* still well-formed, no longer what b signed */
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 1004) == 1 + CELLD_DROP_BAD_SIGNATURE &&
		   counter_drop(a, CELLD_DROP_BAD_SIGNATURE) == 1,
	   "forged datagram: bad signature, counted");
	celld_discovery_build(b, "alpha", 1, 0, &ph);
	memcpy(ph.identity_key, ic.pk, 32); /* b's signature under c's key */
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 1005) == 1 + CELLD_DROP_BAD_SIGNATURE,
	   "signature by another key: bad signature");
	celld_discovery_build(b, "alpha", 1, 0, &ph);
	ph.reserved0 = 1;
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 1006) == 1 + CELLD_DROP_CHECK, "reserved"
											  " byte "
											  "set: "
											  "malforme"
											  "d");
	ok(celld_discovery_input(a, &ph, 100, NULL, 1007) == 1 + CELLD_DROP_CHECK, "short: "
										   "malformed");
	{
		struct celld_discovery_counters n;

		celld_discovery_get_counters(a, &n);
		ok(n.check[CELL_PHEROMONE_BAD_RESERVED] == 1 &&
			   n.check[CELL_PHEROMONE_BAD_LENGTH] == 1,
		   "malformed counted by verdict");
	}
	celld_discovery_build(a, "alpha", 1, 0, &ph);
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 1008) == 1 + CELLD_DROP_SELF, "own "
											 "datagram:"
											 " self");
	ok(celld_discovery_build(b, "Bad", 1, 0, &ph) == -EINVAL, "building a bad name refused");

	/* TTL and withdrawal */
	removed = 0;
	celld_discovery_expire(a, 1000 + 9000);
	ok(removed == 0, "alive before its TTL");
	celld_discovery_expire(a, 1002 + 10000);
	ok(removed == 1, "expired after its TTL (10 s)");
	celld_discovery_build(b, "beta", 7, 0, &ph);
	celld_discovery_input(a, &ph, sizeof(ph), NULL, 20000);
	celld_discovery_build(b, "beta", 7, CELL_PHEROMONE_F_WITHDRAW, &ph);
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 20001) == 0 && removed == 2, "withdrawal"
											" removes "
											"the cell");

	/* Bounded: 2 peers of 2 cells */
	celld_discovery_free(a);
	cfg.max_peers = 2;
	cfg.max_cells = 2;
	a = make(&ia, &cfg);
	celld_discovery_build(b, "c1", 1, 0, &ph);
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 1) == 0, "b/c1");
	celld_discovery_build(b, "c2", 1, 0, &ph);
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 2) == 0, "b/c2");
	celld_discovery_build(b, "c3", 1, 0, &ph);
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 3) == 1 + CELLD_DROP_CELLS_FULL, "third "
											    "cell "
											    "of a "
											    "node: "
											    "cells "
											    "full");
	celld_discovery_build(c, "c1", 1, 0, &ph);
	ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 4) == 0, "second node");
	{
		struct celld_identity id;
		struct celld_discovery *x;

		seed_identity(&id, 4);
		x = make(&id, &cfg);
		celld_discovery_build(x, "c1", 1, 0, &ph);
		ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 5) == 1 + CELLD_DROP_PEERS_FULL,
		   "third node: peers full");
		celld_discovery_expire(a, 100000); /* every cell gone: LRU slots free */
		ok(celld_discovery_input(a, &ph, sizeof(ph), NULL, 100001) == 0, "after expiry the "
										 "least recently "
										 "heard node gives "
										 "way");
		celld_discovery_free(x);
	}
	celld_discovery_free(a);

	/* Known peers: only b's key */
	fd = mkstemp(peers);
	f = fdopen(fd, "w");
	fprintf(f, "# test\n%s b-node\n", ib.hex);
	fclose(f);
	celld_discovery_config_init(&cfg);
	cfg.trust = CELLD_TRUST_KNOWN;
	snprintf(cfg.peers_file, sizeof(cfg.peers_file), "%s", peers);
	k = make(&ia, &cfg);
	ok(k != NULL, "known-peers mode with a file");
	if (k) {
		celld_discovery_build(b, "alpha", 1, 0, &ph);
		ok(celld_discovery_input(k, &ph, sizeof(ph), NULL, 1) == 0, "known key accepted");
		celld_discovery_build(c, "alpha", 1, 0, &ph);
		ok(celld_discovery_input(k, &ph, sizeof(ph), NULL, 2) ==
				   1 + CELLD_DROP_UNKNOWN_KEY &&
			   counter_drop(k, CELLD_DROP_UNKNOWN_KEY) == 1,
		   "unknown key refused, counted");
		celld_discovery_free(k);
	}
	f = fopen(peers, "w");
	fprintf(f, "nothex\n");
	fclose(f);
	{
		char err[256];

		k = celld_discovery_new(NULL, &ia, &cfg, &ops, NULL, err, sizeof(err));
		printf("# %s\n", err);
		ok(!k && strstr(err, "line 1"), "bad peers file refused with its line");
		celld_discovery_free(k);
	}
	/* TOFU: learns c's key into the file */
	unlink(peers);
	cfg.trust = CELLD_TRUST_TOFU;
	k = make(&ia, &cfg);
	celld_discovery_build(c, "gamma", 1, 0, &ph);
	ok(k && celld_discovery_input(k, &ph, sizeof(ph), NULL, 1) == 0, "TOFU: new key accepted");
	celld_discovery_free(k);
	{
		char line[256] = "";

		f = fopen(peers, "r");
		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = '\0';
			fclose(f);
		}
		ok(!strncmp(line, ic.hex, 64), "TOFU: the key was appended to the peers file");
	}
	cfg.trust = CELLD_TRUST_KNOWN;
	k = make(&ia, &cfg);
	celld_discovery_build(c, "gamma", 1, 0, &ph);
	ok(k && celld_discovery_input(k, &ph, sizeof(ph), NULL, 1) == 0, "the learnt key is known "
									 "on the next start");
	celld_discovery_free(k);
	unlink(peers);
	celld_discovery_free(b);
	celld_discovery_free(c);
}

/* 20 nodes on a plane with access-link heights: Vivaldi must embed them. */
static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* Host delay: half the samples late by an exponential of mean @mean_frac x the RTT. */
static double host_delayed(double rtt, double mean_frac)
{
	if (rand() % 2)
		return rtt;
	return rtt - mean_frac * rtt * log((rand() + 1.0) / (RAND_MAX + 2.0));
}

static void test_vivaldi_filter(const double *px, const double *py, const double *h)
{
	enum {
		N = 20
	};
	static struct vivaldi_filter f[N][N];
	struct vivaldi_coord filtered[N], raw[N];
	struct vivaldi_filter one = { .n = 0 };
	double errs_f[N * N], errs_r[N * N], rtt, s;
	uint32_t r = 0;
	int m = 0;

	for (int i = 0; i < 4; i++)
		r = vivaldi_filter_push(&one, i == 3 ? 10000 : 10000 + 5000 * (uint32_t)i);
	ok(r == 10000, "latency filter: the smallest of the last 4 samples (%u)", r);
	for (int i = 0; i < 3; i++)
		r = vivaldi_filter_push(&one, 20000);
	ok(r == 10000, "latency filter: 3 slower samples do not hide the fast one yet");
	r = vivaldi_filter_push(&one, 20000);
	ok(r == 20000, "latency filter: a path that got slower shows after 4 samples (%u)", r);
	ok(vivaldi_filter_push(&one, 0) == 1, "latency filter: a 0 us sample counts as 1 us");

	memset(f, 0, sizeof(f));
	srand(11);
	for (int i = 0; i < N; i++) {
		vivaldi_init(&filtered[i]);
		vivaldi_init(&raw[i]);
	}
	for (int round = 0; round < 300; round++) {
		for (int i = 0; i < N; i++) {
			int j = rand() % N;

			if (j == i)
				continue;
			rtt = hypot(px[i] - px[j], py[i] - py[j]) + h[i] + h[j];
			s = host_delayed(rtt, 0.5);
			vivaldi_update(&filtered[i], &filtered[j],
				       vivaldi_filter_push(&f[i][j], (uint32_t)s),
				       (uint32_t)rand());
			vivaldi_update(&raw[i], &raw[j], s, (uint32_t)rand());
		}
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++) {
			rtt = hypot(px[i] - px[j], py[i] - py[j]) + h[i] + h[j];
			errs_f[m] = fabs(vivaldi_distance(&filtered[i], &filtered[j]) - rtt) / rtt;
			errs_r[m++] = fabs(vivaldi_distance(&raw[i], &raw[j]) - rtt) / rtt;
		}
	qsort(errs_f, (size_t)m, sizeof(*errs_f), cmp_d);
	qsort(errs_r, (size_t)m, sizeof(*errs_r), cmp_d);
	printf("# vivaldi with host delay (half the samples late, mean 0.5 x RTT): median error "
	       "%.3f filtered, %.3f unfiltered\n",
	       errs_f[m / 2], errs_r[m / 2]);
	ok(errs_f[m / 2] < 0.1, "Vivaldi through the latency filter ignores one-sided host delay "
				"(median error < 0.1)");
}

static void test_vivaldi(void)
{
	enum {
		N = 20
	};
	struct vivaldi_coord c[N];
	double px[N], py[N], h[N], errs[N * N], rtt;
	int m = 0;

	srand(7);
	for (int i = 0; i < N; i++) {
		px[i] = rand() % 40000;
		py[i] = rand() % 40000;
		h[i] = 1000 + rand() % 4000;
		vivaldi_init(&c[i]);
	}
	for (int round = 0; round < 300; round++) {
		for (int i = 0; i < N; i++) {
			int j = rand() % N;

			if (j == i)
				continue;
			rtt = hypot(px[i] - px[j], py[i] - py[j]) + h[i] + h[j];
			vivaldi_update(&c[i], &c[j], rtt, (uint32_t)rand());
		}
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++) {
			rtt = hypot(px[i] - px[j], py[i] - py[j]) + h[i] + h[j];
			errs[m++] = fabs(vivaldi_distance(&c[i], &c[j]) - rtt) / rtt;
		}
	qsort(errs, (size_t)m, sizeof(*errs), cmp_d);
	printf("# vivaldi simulation: median relative error %.3f after 300 rounds\n", errs[m / 2]);
	ok(errs[m / 2] < 0.1, "Vivaldi embeds a plane with heights (median error < 0.1)");
	test_vivaldi_filter(px, py, h);
	{
		int32_t enc[4];
		struct vivaldi_coord d;

		vivaldi_encode(&c[0], enc);
		ok(vivaldi_decode(enc, 0.5, &d) == 0 && fabs(d.h - c[0].h) < 0.1, "coordinate "
										  "survives the "
										  "datagram "
										  "encoding");
		enc[3] = -1;
		ok(vivaldi_decode(enc, 0.5, &d) != 0, "negative height refused");
	}
}

/* --corpus DIR: write the fuzz target's seeds (datagrams signed by seed 0x02). */
static int write_corpus(const char *dir)
{
	struct celld_identity ib;
	struct celld_discovery_config cfg;
	struct celld_discovery *b;
	struct cell_pheromone ph;
	const char *names[] = { "alpha", "beta", "nucleus", "alpha" };

	seed_identity(&ib, 2);
	celld_discovery_config_init(&cfg);
	b = make(&ib, &cfg);
	for (int i = 0; b && i < 4; i++) {
		char path[512];
		FILE *f;

		celld_discovery_build(b, names[i], 0x1234 + (uint64_t)i,
				      i == 3 ? CELL_PHEROMONE_F_WITHDRAW : 0, &ph);
		snprintf(path, sizeof(path), "%s/seed%d", dir, i);
		f = fopen(path, "wb");
		if (!f || fwrite(&ph, sizeof(ph), 1, f) != 1)
			return 1;
		fclose(f);
	}
	celld_discovery_free(b);
	return 0;
}

/* ---- signed pings (no sockets: the tx hook catches what would be sent) ---- */

struct tx {
	uint8_t buf[CELLD_PING_SIZE];
	size_t len;
	struct sockaddr_storage to;
	int count;
};

static void catch_tx(void *ctx, const void *buf, size_t len, const struct sockaddr *to)
{
	struct tx *t = ctx;

	t->count++;
	t->len = len < sizeof(t->buf) ? len : sizeof(t->buf);
	memcpy(t->buf, buf, t->len);
	memcpy(&t->to, to,
	       to->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in));
}

static struct sockaddr_in6 ll6(uint8_t last, uint32_t scope)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(7946) };

	a.sin6_addr.s6_addr[0] = 0xfe;
	a.sin6_addr.s6_addr[1] = 0x80;
	a.sin6_addr.s6_addr[15] = last;
	a.sin6_scope_id = scope;
	return a;
}

static uint64_t ping_drops(struct celld_discovery *d, int why)
{
	struct celld_discovery_counters c;

	celld_discovery_get_counters(d, &c);
	return c.ping_drop[why];
}

struct one_peer {
	char node[CELLD_NODE_HEX];
	uint32_t measured_us, samples;
};

static void find_one_peer(const struct celld_peer_rtt *p, void *ctx)
{
	struct one_peer *o = ctx;

	if (!strcmp(p->node, o->node)) {
		o->measured_us = p->measured_us;
		o->samples = p->samples;
	}
}

static void test_pings(void)
{
	struct celld_identity ia, ib, ic;
	struct celld_discovery_config cfg;
	struct celld_discovery *a, *b, *c;
	struct celld_discovery_counters na;
	struct cell_pheromone ph;
	struct sockaddr_in6 from_a = ll6(1, 7), from_b = ll6(2, 7);
	struct sockaddr_in from4 = { .sin_family = AF_INET, .sin_port = htons(7947) };
	struct tx ta = { 0 }, tb = { 0 }, tc = { 0 };
	uint8_t ping[CELLD_PING_SIZE], pong[CELLD_PING_SIZE], bad[CELLD_PING_SIZE];
	const struct sockaddr_in6 *to;
	struct timespec t0, t1;
	int rounds = 0;

	seed_identity(&ia, 11);
	seed_identity(&ib, 12);
	seed_identity(&ic, 13);
	celld_discovery_config_init(&cfg);
	cfg.ping_rate = 0; /* the timed loop below: the limit has a test of its own */
	a = make(&ia, &cfg);
	b = make(&ib, &cfg);
	c = make(&ic, &cfg);
	ok(a && b && c, "pings: three discovery states");
	if (!a || !b || !c)
		return;
	celld_discovery_set_tx_hook(a, catch_tx, &ta);
	celld_discovery_set_tx_hook(b, catch_tx, &tb);
	celld_discovery_set_tx_hook(c, catch_tx, &tc);
	/* a and b hear each other over IPv6 only (link-local, interface 7). */
	celld_discovery_build(b, "nucleus", 1, 0, &ph);
	celld_discovery_input(a, &ph, sizeof(ph), (struct sockaddr *)&from_b, 1000);
	celld_discovery_build(a, "nucleus", 1, 0, &ph);
	celld_discovery_input(b, &ph, sizeof(ph), (struct sockaddr *)&from_a, 1000);
	ok(celld_discovery_ping_peer(a, ic.pk) == -ENOENT, "no ping to a node never heard");
	ok(celld_discovery_ping_peer(a, ib.pk) == 0 && ta.count == 1 && ta.len == CELLD_PING_SIZE,
	   "a pings b: one 144-byte datagram");
	to = (const struct sockaddr_in6 *)&ta.to;
	ok(to->sin6_family == AF_INET6 && to->sin6_scope_id == 7 &&
		   ntohs(to->sin6_port) == cfg.ping_port && to->sin6_addr.s6_addr[15] == 2,
	   "an IPv6-only peer is pinged at its link-local address, scope and ping port");
	memcpy(ping, ta.buf, sizeof(ping));
	ok(celld_discovery_ping_input(b, ping, sizeof(ping), (struct sockaddr *)&from_a) == 0 &&
		   tb.count == 1,
	   "b answers the signed ping with a pong");
	to = (const struct sockaddr_in6 *)&tb.to;
	ok(to->sin6_family == AF_INET6 && to->sin6_scope_id == 7 && to->sin6_addr.s6_addr[15] == 1,
	   "the pong goes back to the ping's source (scope kept)");
	memcpy(pong, tb.buf, sizeof(pong));
	ok(celld_discovery_ping_input(a, pong, sizeof(pong), (struct sockaddr *)&from_b) == 0,
	   "a takes the pong as an RTT sample");
	celld_discovery_get_counters(a, &na);
	ok(na.pongs_received == 1 && na.pings_sent == 1 && na.pings_bad == 0, "a: pings_sent 1, "
									      "pongs_received 1, "
									      "pings_bad 0");
	ok(celld_discovery_ping_input(a, pong, sizeof(pong), (struct sockaddr *)&from_b) ==
			   1 + CELLD_PING_STALE &&
		   ping_drops(a, CELLD_PING_STALE) == 1,
	   "the same pong again: stale, counted");
	/* On-path lies: a coordinate changed in flight no longer verifies. */
	celld_discovery_ping_peer(a, ib.pk);
	memcpy(bad, ta.buf, sizeof(bad));
	bad[16] ^= 0x40;
	ok(celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_a) ==
			   1 + CELLD_PING_BAD_SIGNATURE &&
		   ping_drops(b, CELLD_PING_BAD_SIGNATURE) == 1 && tb.count == 1,
	   "ping with a changed coordinate: bad signature, counted, not answered");
	memcpy(bad, ta.buf, sizeof(bad));
	bad[4] = 2; /* the ping turned into a pong */
	ok(celld_discovery_ping_input(a, bad, sizeof(bad), (struct sockaddr *)&from_b) ==
		   1 + CELLD_PING_UNKNOWN_PEER,
	   "a's own ping reflected as a pong: not a peer's key");
	memcpy(bad, ta.buf, sizeof(bad));
	memcpy(bad + 36, ib.pk, 32);
	ok(celld_discovery_ping_input(a, bad, sizeof(bad), (struct sockaddr *)&from_b) ==
		   1 + CELLD_PING_BAD_SIGNATURE,
	   "a's ping claiming b's key: bad signature");
	memcpy(bad, ta.buf, sizeof(bad));
	bad[70] = 0x55; /* relay fields are not signed (the relay writes them) */
	ok(celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_a) == 0,
	   "relay fields changed: still accepted");
	celld_discovery_build(a, "nucleus", 1, 0, &ph);
	celld_discovery_input(c, &ph, sizeof(ph), (struct sockaddr *)&from_a, 1000);
	celld_discovery_ping_peer(c, ia.pk);
	memcpy(bad, tc.buf, sizeof(bad));
	ok(celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_a) ==
		   1 + CELLD_PING_UNKNOWN_PEER,
	   "ping by a node b never accepted: unknown_peer (no signature work)");
	ok(celld_discovery_ping_input(b, bad, 80, (struct sockaddr *)&from_a) ==
			   1 + CELLD_PING_MALFORMED &&
		   celld_discovery_ping_input(b, ping, sizeof(ping), NULL) ==
			   1 + CELLD_PING_MALFORMED,
	   "the old 80-byte ping, or no source: malformed");
	memcpy(bad, ta.buf, sizeof(bad));
	bad[5] = 1;
	ok(celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_a) ==
		   1 + CELLD_PING_MALFORMED,
	   "reserved byte set: malformed");
	/* IPv4 still works: a peer heard on both families is pinged at its IPv4 address. */
	from4.sin_addr.s_addr = htonl(0x0a000002);
	celld_discovery_build(b, "nucleus", 1, 0, &ph);
	celld_discovery_input(a, &ph, sizeof(ph), (struct sockaddr *)&from4, 1001);
	celld_discovery_ping_peer(a, ib.pk);
	ok(ta.to.ss_family == AF_INET &&
		   ((struct sockaddr_in *)&ta.to)->sin_addr.s_addr == htonl(0x0a000002),
	   "a peer heard on IPv4 too is pinged over IPv4");
	/*
	 * A sample ends when the pong arrived (the loop passes the kernel's
	 * receive stamp), not when it was read: c pings a, a answers, and
	 * c reads the pong 100 ms after its stamp.
	 */
	celld_discovery_build(c, "nucleus", 1, 0, &ph);
	celld_discovery_input(a, &ph, sizeof(ph), (struct sockaddr *)&from4, 1002);
	{
		uint64_t t_before = uv_hrtime(), t_after, bound;
		struct one_peer got = { .samples = 0 };
		struct timespec wait = { .tv_nsec = 100000000 };

		ok(celld_discovery_ping_peer(c, ia.pk) == 0 &&
			   celld_discovery_ping_input(a, tc.buf, tc.len,
						      (struct sockaddr *)&from4) == 0,
		   "c pings a over IPv4, a answers");
		t_after = uv_hrtime();
		bound = (t_after - t_before) / 1000 + 1;
		nanosleep(&wait, NULL);
		memcpy(got.node, ia.hex, sizeof(got.node));
		ok(celld_discovery_ping_input_at(c, ta.buf, ta.len, (struct sockaddr *)&from4,
						 t_after) == 0,
		   "c takes the pong read 100 ms after its stamp");
		celld_discovery_foreach_peer(c, find_one_peer, &got);
		ok(got.samples == 1 && got.measured_us <= bound && bound < 100000,
		   "the sample ends at the stamp: %u us (<= %llu), not 100 ms more",
		   got.measured_us, (unsigned long long)bound);
	}
	/*
	 * The answering node's wait comes off the sample: a reads c's ping
	 * 100 ms after its stamp, its pong says so, and c's sample is the
	 * round trip without those 100 ms.  A hold not below the round trip
	 * is not believed: the raw round trip counts.
	 */
	{
		uint64_t t_before = uv_hrtime(), t_sent, bound;
		struct one_peer got = { .samples = 0 };
		struct timespec wait = { .tv_nsec = 100000000 };
		uint32_t hold;

		memcpy(got.node, ia.hex, sizeof(got.node));
		celld_discovery_ping_peer(c, ia.pk);
		t_sent = uv_hrtime();
		nanosleep(&wait, NULL);
		ok(celld_discovery_ping_input_at(a, tc.buf, tc.len, (struct sockaddr *)&from4,
						 t_sent) == 0,
		   "a answers a ping it read 100 ms after its stamp");
		hold = ta.buf[5] | (uint32_t)ta.buf[6] << 8 | (uint32_t)ta.buf[7] << 16;
		ok(hold >= 100000 && hold < 0xffffff, "the pong says a held it %u us", hold);
		ok(celld_discovery_ping_input(c, ta.buf, ta.len, (struct sockaddr *)&from4) == 0,
		   "c takes the pong");
		bound = (uv_hrtime() - t_before) / 1000 - 100000 + 1;
		celld_discovery_foreach_peer(c, find_one_peer, &got);
		ok(got.samples == 2 && got.measured_us <= bound,
		   "c's sample is without a's 100 ms: median %u us (<= %llu)", got.measured_us,
		   (unsigned long long)bound);
		/* a claims 1 s for a ping c sent just now: not believed */
		celld_discovery_ping_peer(c, ia.pk);
		t_sent = uv_hrtime();
		celld_discovery_ping_input_at(a, tc.buf, tc.len, (struct sockaddr *)&from4,
					      t_sent - 1000000000ULL);
		hold = ta.buf[5] | (uint32_t)ta.buf[6] << 8 | (uint32_t)ta.buf[7] << 16;
		celld_discovery_ping_input(c, ta.buf, ta.len, (struct sockaddr *)&from4);
		celld_discovery_get_counters(c, &na);
		ok(hold >= 1000000 && na.pongs_received == 3 && na.pong_hold_us < 1000000,
		   "a hold above the round trip (%u us) is not taken off (pong_hold_us %llu)", hold,
		   (unsigned long long)na.pong_hold_us);
	}
	memcpy(bad, tb.buf, sizeof(bad));
	bad[7] ^= 0x10; /* a pong's hold: checked by the signature, not refused as reserved */
	ok(bad[4] == 2 &&
		   celld_discovery_ping_input(a, bad, sizeof(bad), (struct sockaddr *)&from4) ==
			   1 + CELLD_PING_BAD_SIGNATURE,
	   "a pong's bytes 5..7 are its hold, not reserved bytes (changed: bad signature)");
	/* Cost of one signed exchange: sign ping, verify + sign pong, verify. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		celld_discovery_ping_peer(a, ib.pk);
		celld_discovery_ping_input(b, ta.buf, ta.len, (struct sockaddr *)&from4);
		celld_discovery_ping_input(a, tb.buf, tb.len, (struct sockaddr *)&from4);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec) < 3e8 || rounds < 50);
	celld_discovery_get_counters(a, &na);
	ok(na.pongs_received >= (uint64_t)rounds, "every timed exchange gave an RTT sample");
	printf("# signed ping exchange (2 signs + 2 verifies, both ends): %.1f us per ping (%d "
	       "rounds)\n",
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / rounds, rounds);
	celld_discovery_free(a);
	celld_discovery_free(b);
	celld_discovery_free(c);
}

/* ---- replayed pings and floods (a fake clock shared by the nodes) --------- */

static uint64_t fake_ns;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_ns;
}

static void test_ping_limits(void)
{
	struct celld_identity ia, ib, ic;
	struct celld_discovery_config cfg;
	struct celld_discovery *a, *b, *c;
	struct cell_pheromone ph;
	struct sockaddr_in from_a = { .sin_family = AF_INET, .sin_port = htons(7947) };
	struct sockaddr_in from_c = from_a, from_x = from_a;
	struct tx ta = { 0 }, tb = { 0 }, tc = { 0 };
	uint8_t ping[CELLD_PING_SIZE], bad[CELLD_PING_SIZE];
	struct timespec now, t0, t1;
	int answered = 0, before, flood = 2000;
	uint64_t limited, verified_bad;
	double flood_us;

	clock_gettime(CLOCK_REALTIME, &now);
	fake_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	from_a.sin_addr.s_addr = htonl(0x0a000001);
	from_c.sin_addr.s_addr = htonl(0x0a000003);
	seed_identity(&ia, 21);
	seed_identity(&ib, 22);
	seed_identity(&ic, 23);
	celld_discovery_config_init(&cfg);
	a = make(&ia, &cfg);
	b = make(&ib, &cfg);
	c = make(&ic, &cfg);
	ok(a && b && c, "limits: three discovery states (default ping_rate %u, window %u s)",
	   cfg.ping_rate, cfg.ping_window_s);
	if (!a || !b || !c)
		return;
	celld_discovery_set_tx_hook(a, catch_tx, &ta);
	celld_discovery_set_tx_hook(b, catch_tx, &tb);
	celld_discovery_set_tx_hook(c, catch_tx, &tc);
	celld_discovery_set_clock(a, fake_clock, NULL);
	celld_discovery_set_clock(b, fake_clock, NULL);
	celld_discovery_set_clock(c, fake_clock, NULL);
	celld_discovery_build(b, "nucleus", 1, 0, &ph);
	celld_discovery_input(a, &ph, sizeof(ph), (struct sockaddr *)&from_a, 1000);
	celld_discovery_input(c, &ph, sizeof(ph), (struct sockaddr *)&from_c, 1000);
	celld_discovery_build(a, "nucleus", 1, 0, &ph);
	celld_discovery_input(b, &ph, sizeof(ph), (struct sockaddr *)&from_a, 1000);
	celld_discovery_build(c, "nucleus", 1, 0, &ph);
	celld_discovery_input(b, &ph, sizeof(ph), (struct sockaddr *)&from_c, 1000);

	/* Replays: the same signed ping twice, an older one after a newer, a held one. */
	celld_discovery_ping_peer(a, ib.pk);
	memcpy(ping, ta.buf, sizeof(ping));
	ok(celld_discovery_ping_input(b, ping, sizeof(ping), (struct sockaddr *)&from_a) == 0 &&
		   tb.count == 1,
	   "a fresh ping gets a pong");
	ok(celld_discovery_ping_input(b, ping, sizeof(ping), (struct sockaddr *)&from_a) ==
			   1 + CELLD_PING_REPLAY &&
		   tb.count == 1 && ping_drops(b, CELLD_PING_REPLAY) == 1,
	   "the same ping replayed: no pong, counted as replay");
	ok(celld_discovery_ping_input(b, ping, sizeof(ping), (struct sockaddr *)&from_c) ==
			   1 + CELLD_PING_REPLAY &&
		   tb.count == 1 && ping_drops(b, CELLD_PING_REPLAY) == 2,
	   "replayed from another source address: no pong either");
	celld_discovery_ping_peer(a, ib.pk);
	memcpy(bad, ta.buf, sizeof(bad)); /* held back */
	celld_discovery_ping_peer(a, ib.pk);
	ok(celld_discovery_ping_input(b, ta.buf, ta.len, (struct sockaddr *)&from_a) == 0 &&
		   tb.count == 2 &&
		   celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_a) ==
			   1 + CELLD_PING_REPLAY &&
		   tb.count == 2,
	   "a ping older than one already answered: replay");
	celld_discovery_ping_peer(a, ib.pk);
	memcpy(bad, ta.buf, sizeof(bad));
	fake_ns += (cfg.ping_window_s + 1) * 1000000000ULL;
	ok(celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_a) ==
			   1 + CELLD_PING_CLOCK_SKEW &&
		   tb.count == 2 && ping_drops(b, CELLD_PING_CLOCK_SKEW) == 1,
	   "a ping held past the window (%u s): clock_skew, no pong", cfg.ping_window_s);
	celld_discovery_ping_peer(a, ib.pk);
	ok(celld_discovery_ping_input(b, ta.buf, ta.len, (struct sockaddr *)&from_a) == 0 &&
		   tb.count == 3,
	   "the next fresh ping is answered");
	/* The pinger's side is unchanged: a pong's nonce must be the outstanding ping's. */
	ok(celld_discovery_ping_input(a, tb.buf, tb.len, (struct sockaddr *)&from_a) == 0 &&
		   celld_discovery_ping_input(a, tb.buf, tb.len, (struct sockaddr *)&from_a) ==
			   1 + CELLD_PING_STALE,
	   "a replayed pong: stale");

	/* A flood from one source: valid fresh pings of a, from a's address, no time passing. */
	fake_ns += 2000000000ULL; /* buckets full */
	before = tb.count;
	for (int i = 0; i < flood; i++) {
		celld_discovery_ping_peer(a, ib.pk);
		celld_discovery_ping_input(b, ta.buf, ta.len, (struct sockaddr *)&from_a);
	}
	answered = tb.count - before;
	limited = ping_drops(b, CELLD_PING_RATE_LIMITED);
	ok(answered >= 1 && answered <= (int)cfg.ping_rate &&
		   limited == (uint64_t)(flood - answered),
	   "a flood of %d pings from one source: %d answered (<= burst %u), %llu counted "
	   "rate_limited",
	   flood, answered, cfg.ping_rate, (unsigned long long)limited);
	before = tb.count;
	celld_discovery_ping_peer(c, ib.pk);
	ok(celld_discovery_ping_input(b, tc.buf, tc.len, (struct sockaddr *)&from_c) == 0 &&
		   tb.count == before + 1,
	   "during the flood a polite peer's ping from its own address is answered");
	ok(celld_discovery_ping_input(c, tb.buf, tb.len, (struct sockaddr *)&from_a) == 0,
	   "and its pong is an RTT sample");
	fake_ns += 100000000ULL; /* 100 ms: 10 tokens at 100/s */
	before = tb.count;
	for (int i = 0; i < 50; i++) {
		celld_discovery_ping_peer(a, ib.pk);
		celld_discovery_ping_input(b, ta.buf, ta.len, (struct sockaddr *)&from_a);
	}
	ok(tb.count - before >= 9 && tb.count - before <= 11,
	   "after 100 ms the flooding source gets its rate again (%d of 50 answered)",
	   tb.count - before);

	/* Cost: a flood of badly signed pings under a's key is refused before verify. */
	fake_ns += 2000000000ULL;
	celld_discovery_ping_peer(a, ib.pk);
	memcpy(bad, ta.buf, sizeof(bad));
	bad[80] ^= 1;
	limited = ping_drops(b, CELLD_PING_RATE_LIMITED);
	verified_bad = ping_drops(b, CELLD_PING_BAD_SIGNATURE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < flood; i++)
		celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_a);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	flood_us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3;
	verified_bad = ping_drops(b, CELLD_PING_BAD_SIGNATURE) - verified_bad;
	limited = ping_drops(b, CELLD_PING_RATE_LIMITED) - limited;
	ok(verified_bad <= cfg.ping_rate && verified_bad + limited == (uint64_t)flood,
	   "%d badly signed pings from one source: %llu verified, %llu rate_limited", flood,
	   (unsigned long long)verified_bad, (unsigned long long)limited);
	printf("# flood of %d bad pings from one source: %.0f us in all, %.2f us each\n", flood,
	       flood_us, flood_us / flood);

	/* Spoofed sources: each address new; the shared bucket bounds the work. */
	fake_ns += 2000000000ULL;
	verified_bad = ping_drops(b, CELLD_PING_BAD_SIGNATURE);
	for (int i = 0; i < flood; i++) {
		from_x.sin_addr.s_addr = htonl(0x0b000000 + (uint32_t)i);
		celld_discovery_ping_input(b, bad, sizeof(bad), (struct sockaddr *)&from_x);
	}
	verified_bad = ping_drops(b, CELLD_PING_BAD_SIGNATURE) - verified_bad;
	ok(verified_bad <= 2 * cfg.ping_rate,
	   "%d bad pings from %d spoofed addresses: %llu verified (<= 2 x ping_rate)", flood, flood,
	   (unsigned long long)verified_bad);
	before = tb.count;
	celld_discovery_ping_peer(c, ib.pk);
	ok(celld_discovery_ping_input(b, tc.buf, tc.len, (struct sockaddr *)&from_c) == 0 &&
		   tb.count == before + 1,
	   "after the spoofed flood the polite peer (verified before) is still answered");
	celld_discovery_free(a);
	celld_discovery_free(b);
	celld_discovery_free(c);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		printf("1..0 # SKIP libsodium cannot initialise\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--corpus"))
		return write_corpus(argv[2]);
	test_identity();
	test_receiver();
	test_pings();
	test_ping_limits();
	test_vivaldi();
	printf("1..%d\n", n);
	return failed;
}
