// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The rate limiter under BPF_PROG_TEST_RUN: fixed packets, exact counts.
 * Burst and refill per IPv4 and IPv6 source, XDP and TC alike, rules
 * (deny, allow without limit, allow with its own rate), the port set,
 * fragments, VLAN tags, traffic that is not IP, and 100 000 distinct
 * sources against an LRU of 1024 buckets while one peer floods; the
 * new-peer allowance (a bucket starts full only within it, else empty),
 * also for a flooding peer whose bucket the LRU evicted.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <time.h>

#include "cell_bpf.h"
#include "ratelimit.skel.h"
#include "bpf_test.h"

#define TC_OK	0
#define NSEC	1000000000ULL
#define SPRAY	100000
#define LRU_MAX 1024

static struct ratelimit_bpf *skel;

static bool run_once(int prog_fd, const uint8_t *pkt, size_t len, int pass_ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len);

	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		printf("# test_run: %s\n", strerror(errno));
		exit(1);
	}
	return (int)o.retval == pass_ret;
}

/* Packets of @s that pass out of @n, through XDP or TC. */
static int passes_on(struct ratelimit_bpf *k, bool tc, const struct pkt_spec *s, int n)
{
	uint8_t pkt[PKT_MAX];
	size_t len = pkt_build(pkt, s);
	int fd = bpf_program__fd(tc ? k->progs.crl_tc : k->progs.crl_xdp);
	int i, passed = 0;

	for (i = 0; i < n; i++)
		passed += run_once(fd, pkt, len, tc ? TC_OK : XDP_PASS);
	return passed;
}

static int passes(const struct pkt_spec *s, int n)
{
	return passes_on(skel, false, s, n);
}

/* @new_peers: new buckets per second that start full (as many at once). */
static void set_config_new(struct ratelimit_bpf *k, uint32_t rate, uint32_t burst, uint32_t flags,
			   uint32_t new_peers)
{
	struct crl_config c = { .rate = rate, .burst = burst, .flags = flags };
	__u32 zero = 0;

	if (rate) {
		c.interval_ns = NSEC / rate;
		c.burst_ns = c.interval_ns * burst;
	}
	c.new_peers = new_peers;
	if (new_peers) {
		c.new_interval_ns = NSEC / new_peers;
		c.new_burst_ns = c.new_interval_ns * new_peers;
	}
	if (bpf_map__update_elem(k->maps.crl_config, &zero, sizeof(zero), &c, sizeof(c), 0))
		abort();
}

/* Every new peer starts with a full burst (an allowance never spent here). */
static void set_config(struct ratelimit_bpf *k, uint32_t rate, uint32_t burst, uint32_t flags)
{
	set_config_new(k, rate, burst, flags, 1000000);
}

/* Forget the new-peer allowance spent so far. */
static void reset_allowance(struct ratelimit_bpf *k)
{
	__u64 tat = 0;
	__u32 zero = 0;

	if (bpf_map__update_elem(k->maps.crl_newpeers, &zero, sizeof(zero), &tat, sizeof(tat), 0))
		abort();
}

static void forget_bucket(struct ratelimit_bpf *k, const char *v4)
{
	struct crl_addr key = { .family = CRL_FAMILY_V4 };

	inet_pton(AF_INET, v4, key.addr);
	bpf_map__delete_elem(k->maps.crl_buckets, &key, sizeof(key), 0);
}

static void add_rule(int family, const char *addr, int plen, uint32_t action, uint32_t rate,
		     uint32_t burst)
{
	struct crl_rule_key key = { .prefixlen = 32 + (uint32_t)plen };
	struct crl_rule r = { .action = action, .rate = rate, .burst = burst };

	key.family = family == AF_INET ? CRL_FAMILY_V4 : CRL_FAMILY_V6;
	inet_pton(family, addr, key.addr);
	if (rate) {
		r.interval_ns = NSEC / rate;
		r.burst_ns = r.interval_ns * burst;
	}
	if (bpf_map__update_elem(skel->maps.crl_rules, &key, sizeof(key), &r, sizeof(r), 0))
		abort();
}

static uint64_t stat_pkts(struct ratelimit_bpf *k, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct crl_counter pc[ncpu];
	uint64_t sum = 0;

	if (bpf_map__lookup_elem(k->maps.crl_stats, &idx, sizeof(idx), pc, sizeof(pc), 0))
		abort();
	for (c = 0; c < ncpu; c++)
		sum += pc[c].pkts;
	return sum;
}

static struct ratelimit_bpf *load(uint32_t max_peers)
{
	struct ratelimit_bpf *k = ratelimit_bpf__open();
	int err;

	if (!k)
		tap_skip_all("cannot open the BPF object: %s", strerror(errno));
	if (max_peers)
		bpf_map__set_max_entries(k->maps.crl_buckets, max_peers);
	err = ratelimit_bpf__load(k);
	if (err)
		tap_skip_all("cannot load the rate limiter: %s", strerror(-err));
	return k;
}

static struct pkt_spec udp4(const char *src, uint16_t dport)
{
	return (struct pkt_spec){ .family = AF_INET,
				  .saddr = src,
				  .daddr = "10.255.0.1",
				  .proto = 17,
				  .sport = 40000,
				  .dport = dport };
}

static void test_lru(void)
{
	struct ratelimit_bpf *k = load(LRU_MAX);
	struct pkt_spec flood = udp4("10.9.9.9", 4433);
	uint8_t pkt[PKT_MAX];
	int xdp = bpf_program__fd(k->progs.crl_xdp), i, flood_passed = 0, spray_passed = 0;
	struct crl_addr key, next, *prev = NULL;
	size_t len, count = 0;
	struct pkt_spec s;
	char src[32];

	set_config(k, 1, 5, 0);
	tap_ok(passes_on(k, false, &flood, 20) == 5, "LRU: flooding peer spends its burst of 5");
	for (i = 0; i < SPRAY; i++) {
		snprintf(src, sizeof(src), "11.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		s = udp4(src, 4433);
		len = pkt_build(pkt, &s);
		spray_passed += run_once(xdp, pkt, len, XDP_PASS);
		if (i % 10 == 0)
			flood_passed += passes_on(k, false, &flood, 1);
	}
	while (bpf_map__get_next_key(k->maps.crl_buckets, prev, &next, sizeof(next)) == 0) {
		key = next;
		prev = &key;
		count++;
	}
	tap_ok(count <= LRU_MAX, "LRU: %d distinct sources leave %zu buckets (bound %d)", SPRAY,
	       count, LRU_MAX);
	tap_ok(spray_passed == SPRAY, "LRU: every new source passes its first packet (%d of %d)",
	       spray_passed, SPRAY);
	/* At 1 pps the flood earns a token a second; a reset bucket gives 5. */
	tap_ok(flood_passed <= 3,
	       "LRU: the flooding peer's bucket is never reset (%d passed of %d)", flood_passed,
	       SPRAY / 10);
	ratelimit_bpf__destroy(k);
}

/*
 * The flooding peer's bucket evicted between its packets (it sends once
 * every EVICT_EVERY new sources, more than the LRU holds): with every new
 * bucket starting empty it comes back at its limit, one packet per
 * recreation, where a full start would hand it a burst of 5 each time.
 */
#define EVICT_EVERY 2048
static void test_evicted_flooder(void)
{
	struct ratelimit_bpf *k = load(LRU_MAX);
	struct pkt_spec flood = udp4("10.9.9.9", 4433);
	int xdp = bpf_program__fd(k->progs.crl_xdp), i, rounds = 0, flood_passed = 0;
	uint8_t pkt[PKT_MAX];
	struct pkt_spec s;
	char src[32];
	size_t len;

	set_config_new(k, 1, 5, 0, 0);
	tap_ok(passes_on(k, false, &flood, 20) == 1, "new-peer allowance 0: a new peer starts "
						     "empty (1 of 20 pass)");
	for (i = 0; i < SPRAY / 2; i++) {
		snprintf(src, sizeof(src), "12.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		s = udp4(src, 4433);
		len = pkt_build(pkt, &s);
		run_once(xdp, pkt, len, XDP_PASS);
		if (i % EVICT_EVERY == EVICT_EVERY - 1) {
			flood_passed += passes_on(k, false, &flood, 5);
			rounds++;
		}
	}
	/* 1 per recreation, plus a token a second of refill. */
	tap_ok(flood_passed <= rounds + 3,
	       "LRU eviction: the flooder gets no fresh burst (%d passed in %d recreations, a full "
	       "start gives %d)",
	       flood_passed, rounds, 5 * rounds);
	ratelimit_bpf__destroy(k);
}

/* The allowance: 3 new peers a second start full, the 4th and 5th empty. */
static void test_new_peer_allowance(void)
{
	struct pkt_spec s;
	char src[32];
	int i, n[5];

	set_config_new(skel, 1, 5, 0, 3);
	reset_allowance(skel);
	for (i = 0; i < 5; i++) {
		snprintf(src, sizeof(src), "10.7.0.%d", i + 1);
		s = udp4(src, 4433);
		n[i] = passes(&s, 20);
	}
	tap_ok(n[0] == 5 && n[1] == 5 && n[2] == 5 && n[3] == 1 && n[4] == 1,
	       "new-peer allowance 3/s: peers pass %d %d %d %d %d of 20 (5 5 5 1 1)", n[0], n[1],
	       n[2], n[3], n[4]);
	forget_bucket(skel, "10.7.0.1");
	s = udp4("10.7.0.1", 4433);
	i = passes(&s, 20);
	tap_ok(i == 1, "a bucket recreated once the allowance is spent starts empty (%d of 20)", i);
}

int main(void)
{
	struct pkt_spec s;
	uint64_t before;

	require_bpf();
	skel = load(0);

	set_config(skel, 1, 5, 0);
	s = udp4("10.1.0.1", 4433);
	tap_ok(passes(&s, 20) == 5, "IPv4: burst 5 at 1 pps passes 5 of 20");
	s = udp4("10.1.0.2", 4433);
	tap_ok(passes(&s, 20) == 5, "IPv4: a second peer has its own bucket");
	s = (struct pkt_spec){ .family = AF_INET6,
			       .saddr = "fd00::1",
			       .daddr = "fd00::ff",
			       .proto = 17,
			       .sport = 1,
			       .dport = 4433 };
	tap_ok(passes(&s, 20) == 5, "IPv6: burst 5 at 1 pps passes 5 of 20");
	s.saddr = "fd00::2";
	tap_ok(passes_on(skel, true, &s, 20) == 5, "TC: IPv6 burst 5 passes 5 of 20");
	s = udp4("10.1.0.3", 4433);
	tap_ok(passes_on(skel, true, &s, 20) == 5, "TC: IPv4 burst 5 passes 5 of 20");
	s.vlan = 42;
	s.saddr = "10.1.0.4";
	tap_ok(passes(&s, 20) == 5, "802.1Q-tagged IPv4 is limited too");

	set_config(skel, 1000, 5, 0);
	s = udp4("10.1.1.1", 4433);
	tap_ok(passes(&s, 10) == 5, "refill: burst spent at 1000 pps");
	usleep(20000);
	{
		int n = passes(&s, 30);

		tap_ok(n >= 5 && n <= 6,
		       "refill: after 20 ms the bucket holds its burst, not 20 (%d)", n);
	}

	set_config(skel, 1, 5, 0);
	add_rule(AF_INET, "10.2.0.0", 16, CRL_ACT_DENY, 0, 0);
	before = stat_pkts(skel, CRL_STAT_DENIED);
	s = udp4("10.2.3.4", 4433);
	tap_ok(passes(&s, 3) == 0 && stat_pkts(skel, CRL_STAT_DENIED) - before == 3, "deny "
										     "10.2.0.0/16: "
										     "every packet "
										     "dropped and "
										     "counted "
										     "denied");
	add_rule(AF_INET, "10.3.0.0", 16, CRL_ACT_PASS, 0, 0);
	before = stat_pkts(skel, CRL_STAT_ALLOWED);
	s = udp4("10.3.0.9", 4433);
	tap_ok(passes(&s, 50) == 50 && stat_pkts(skel, CRL_STAT_ALLOWED) - before == 50,
	       "allow 10.3.0.0/16 without limit: 50 of 50 pass, counted allowed");
	add_rule(AF_INET, "10.4.0.1", 32, CRL_ACT_RATE, 1, 2);
	s = udp4("10.4.0.1", 4433);
	tap_ok(passes(&s, 10) == 2, "allow 10.4.0.1 with its own burst 2: 2 of 10 pass");
	add_rule(AF_INET6, "fd00:dead::", 32, CRL_ACT_DENY, 0, 0);
	s = (struct pkt_spec){ .family = AF_INET6,
			       .saddr = "fd00:dead::7",
			       .daddr = "fd00::ff",
			       .proto = 17,
			       .sport = 1,
			       .dport = 4433 };
	tap_ok(passes(&s, 3) == 0, "deny fd00:dead::/32: IPv6 dropped");

	{
		__u16 port = 443;
		__u8 one = 1;

		bpf_map__update_elem(skel->maps.crl_ports, &port, sizeof(port), &one, 1, 0);
	}
	set_config(skel, 1, 3, CRL_F_PORTS);
	s = udp4("10.5.0.1", 80);
	before = stat_pkts(skel, CRL_STAT_EXEMPT);
	tap_ok(passes(&s, 10) == 10 && stat_pkts(skel, CRL_STAT_EXEMPT) - before == 10,
	       "port set {443}: UDP to port 80 is not limited (exempt)");
	s.dport = 443;
	tap_ok(passes(&s, 10) == 3, "port set {443}: UDP to 443 is limited (3 of 10)");
	s = udp4("10.5.0.2", 80);
	s.proto = 6;
	s.dport = 443;
	tap_ok(passes(&s, 10) == 3, "port set {443}: TCP to 443 is limited (3 of 10)");
	s = udp4("10.5.0.3", 80);
	s.frag_off = 100;
	tap_ok(passes(&s, 10) == 3, "port set: IPv4 fragments after the first are limited (3 of "
				    "10)");
	set_config(skel, 0, 1, 0);
	s = udp4("10.5.0.4", 4433);
	tap_ok(passes(&s, 50) == 50, "rate 0: no limit");
	test_new_peer_allowance();

	{
		uint8_t arp[60] = {
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06
		};
		int fd = bpf_program__fd(skel->progs.crl_xdp), n = 0, i;

		set_config(skel, 1, 1, 0);
		for (i = 0; i < 10; i++)
			n += run_once(fd, arp, sizeof(arp), XDP_PASS);
		tap_ok(n == 10, "ARP is not IP: never limited");
		arp[12] = 0x08;
		arp[13] = 0x00;
		n = run_once(fd, arp, 24, XDP_PASS);
		tap_ok(n == 1, "a truncated IPv4 header passes to the stack (which drops it)");
	}
	ratelimit_bpf__destroy(skel);

	test_lru();
	test_evicted_flooder();
	return tap_done();
}
