// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Per-peer rate limiter: XDP and TC ingress.
 *
 * Every IPv4 and IPv6 source address has a bucket (GCRA, see cell_bpf.h)
 * in an LRU hash, so memory stays bounded however many peers there are.
 * The bucket is one 64-bit timestamp advanced with compare-and-swap, so
 * concurrent packets of one peer on several CPUs never lose an update.
 * Rules in an LPM trie override the default rate per prefix: their own
 * rate, no limit, or deny.  A new bucket starts full only within the
 * new-peer allowance (see struct crl_config), so LRU eviction under a
 * spray of sources hands no flooding peer a fresh burst.  With
 * CRL_F_PORTS only packets to a destination port in crl_ports are
 * limited (UDP and TCP); IPv4 fragments after the
 * first and IPv6 packets with extension headers are limited regardless,
 * since their port cannot be seen.  Traffic that is not IP (ARP) and IPv6
 * neighbour solicitations and advertisements are never limited.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "cell_bpf.h"

#define ETH_P_IP_BE	    bpf_htons(0x0800)
#define ETH_P_IPV6_BE	    bpf_htons(0x86DD)
#define ETH_P_8021Q	    0x8100
#define ETH_P_8021AD	    0x88A8
#define IPPROTO_TCP_	    6
#define IPPROTO_UDP_	    17
#define IPPROTO_ICMPV6_	    58
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT  136
#define IP_OFFSET	    0x1fff
#define TC_ACT_OK_	    0
#define TC_ACT_SHOT_	    2
#define CAS_TRIES	    8
#define PULL_LEN	    128

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crl_config);
} crl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRL_MAX_PEERS_DEFAULT);
	__type(key, struct crl_addr);
	__type(value, struct crl_bucket);
} crl_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRL_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct crl_rule_key);
	__type(value, struct crl_rule);
} crl_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRL_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} crl_ports SEC(".maps");

/* TAT of the new-peer allowance (crl_config.new_interval_ns). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} crl_newpeers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRL_STAT_NR);
	__type(key, __u32);
	__type(value, struct crl_counter);
} crl_stats SEC(".maps");

static __always_inline void count(__u32 stat, __u64 bytes)
{
	struct crl_counter *c = bpf_map_lookup_elem(&crl_stats, &stat);

	if (c) {
		c->pkts++;
		c->bytes += bytes;
	}
}

/* GCRA with compare-and-swap on @tat; true when the event conforms. */
static __always_inline bool conforms(__u64 *tat, __u64 now, __u64 interval, __u64 burst)
{
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		__u64 old = *tat;
		__u64 start = old > now ? old : now;
		__u64 next = start + interval;

		if (next - now > burst)
			return false;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return true;
	}
	/* Still contended: drop rather than let a flood through. */
	return false;
}

/*
 * The TAT a new bucket starts with: 0 (full, a burst at once) while the
 * new-peer allowance lasts, else one interval short of the burst (empty:
 * this packet passes, the next ones at the rate).  A flooding peer whose
 * bucket the LRU evicted thus comes back where it was, at its limit.
 */
static __always_inline __u64 fresh_tat(const struct crl_config *cfg, __u64 now, __u64 interval,
				       __u64 burst)
{
	__u32 zero = 0;
	__u64 *tat;

	if (!cfg->new_interval_ns)
		return now + burst - interval;
	tat = bpf_map_lookup_elem(&crl_newpeers, &zero);
	if (tat && conforms(tat, now, cfg->new_interval_ns, cfg->new_burst_ns))
		return 0;
	return now + burst - interval;
}

static __always_inline struct crl_bucket *bucket_of(struct crl_addr *key,
						    const struct crl_config *cfg, __u64 now,
						    __u64 interval, __u64 burst)
{
	struct crl_bucket *b = bpf_map_lookup_elem(&crl_buckets, key);
	struct crl_bucket fresh = {};

	if (b)
		return b;
	fresh.tat = fresh_tat(cfg, now, interval, burst);
	bpf_map_update_elem(&crl_buckets, key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&crl_buckets, key);
}

/* Destination port in network order, or -1 when it cannot be seen. */
static __always_inline int l4_dport(void *l4, void *data_end, __u8 proto)
{
	struct udphdr *udp = l4;

	if (proto != IPPROTO_UDP_ && proto != IPPROTO_TCP_)
		return -1;
	/* The destination port is at offset 2 in both UDP and TCP. */
	if ((void *)(udp + 1) > data_end)
		return -1;
	return udp->dest;
}

/* Returns true to pass the packet. */
static __always_inline bool limit(void *data, void *data_end, __u64 len)
{
	struct crl_addr key = {};
	struct crl_rule_key rkey = {};
	struct ethhdr *eth = data;
	struct crl_config *cfg;
	struct crl_bucket *b;
	struct crl_rule *rule;
	__u64 interval, burst, now;
	void *l3;
	__u16 proto;
	__u32 zero = 0;
	int dport = -1;
	int i;

	if ((void *)(eth + 1) > data_end)
		goto exempt;
	proto = eth->h_proto;
	l3 = eth + 1;
	for (i = 0; i < 2; i++) {
		struct vlan_hdr *vlan = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > data_end)
			goto exempt;
		proto = vlan->h_vlan_encapsulated_proto;
		l3 = vlan + 1;
	}

	if (proto == ETH_P_IP_BE) {
		struct iphdr *ip = l3;
		__u32 ihl;

		if ((void *)(ip + 1) > data_end)
			goto exempt;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			goto exempt;
		key.family = CRL_FAMILY_V4;
		__builtin_memcpy(key.addr, &ip->saddr, 4);
		if (!(ip->frag_off & bpf_htons(IP_OFFSET)))
			dport = l4_dport(l3 + ihl, data_end, ip->protocol);
	} else if (proto == ETH_P_IPV6_BE) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end)
			goto exempt;
		key.family = CRL_FAMILY_V6;
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		if (ip6->nexthdr == IPPROTO_ICMPV6_) {
			struct icmp6hdr *icmp = (void *)(ip6 + 1);

			/* Dropped neighbour solicitations or adverts break the
			 * neighbour cache at any rate, like ARP (never limited).
			 */
			if ((void *)(icmp + 1) <= data_end &&
			    (icmp->icmp6_type == ND_NEIGHBOR_SOLICIT ||
			     icmp->icmp6_type == ND_NEIGHBOR_ADVERT))
				goto exempt;
		}
		dport = l4_dport(ip6 + 1, data_end, ip6->nexthdr);
	} else {
		goto exempt;
	}

	cfg = bpf_map_lookup_elem(&crl_config, &zero);
	if (!cfg)
		goto exempt;
	if ((cfg->flags & CRL_F_PORTS) && dport >= 0) {
		__u16 port = bpf_ntohs(dport);

		if (!bpf_map_lookup_elem(&crl_ports, &port))
			goto exempt;
	}

	interval = cfg->interval_ns;
	burst = cfg->burst_ns;
	rkey.prefixlen = 32 + 128;
	rkey.family = key.family;
	__builtin_memcpy(rkey.addr, key.addr, 16);
	rule = bpf_map_lookup_elem(&crl_rules, &rkey);
	if (rule) {
		if (rule->action == CRL_ACT_DENY) {
			count(CRL_STAT_DENIED, len);
			return false;
		}
		if (rule->action == CRL_ACT_PASS) {
			count(CRL_STAT_ALLOWED, len);
			return true;
		}
		interval = rule->interval_ns;
		burst = rule->burst_ns;
	}
	if (!interval)
		goto exempt;

	now = bpf_ktime_get_ns();
	b = bucket_of(&key, cfg, now, interval, burst);
	if (!b) {
		/* No bucket can be had: fail closed. */
		count(CRL_STAT_DROPPED, len);
		return false;
	}
	b->last_ns = now;
	if (conforms(&b->tat, now, interval, burst)) {
		__sync_fetch_and_add(&b->passed_pkts, 1);
		__sync_fetch_and_add(&b->passed_bytes, len);
		count(CRL_STAT_PASSED, len);
		return true;
	}
	__sync_fetch_and_add(&b->dropped_pkts, 1);
	__sync_fetch_and_add(&b->dropped_bytes, len);
	count(CRL_STAT_DROPPED, len);
	return false;

exempt:
	count(CRL_STAT_EXEMPT, len);
	return true;
}

SEC("xdp")
int crl_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return limit(data, data_end, data_end - data) ? XDP_PASS : XDP_DROP;
}

SEC("tc")
int crl_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	/* Headers may sit in a fragment: make them direct-readable. */
	if (data + PULL_LEN > data_end) {
		bpf_skb_pull_data(skb, skb->len < PULL_LEN ? skb->len : PULL_LEN);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}

	return limit(data, data_end, skb->len) ? TC_ACT_OK_ : TC_ACT_SHOT_;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
