// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Pheromone filter: passes only well-formed discovery datagrams of a
 * subscribed cell (pheromone_check.h), drops everything else and counts
 * each drop by reason in ph_stats.
 *
 * ph_socket is a socket filter for the discovery socket (SO_ATTACH_BPF).
 * It reads the headers relative to the network header, so it sees the
 * same bytes on a live UDP socket and under BPF_PROG_TEST_RUN.
 *
 * ph_xdp is the same filter in front of the stack: it judges UDP datagrams
 * to ph_config.port (CELL_PHEROMONE_PORT when 0) and passes all other
 * traffic untouched and uncounted, including IPv4 fragments after the
 * first (the socket filter still sees the reassembled datagram).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pheromone_check.h"

#define ETH_P_IP_    0x0800
#define ETH_P_IPV6_  0x86DD
#define IPPROTO_UDP_ 17
#define IP_OFFSET    0x1fff
#define UDP_SIZE     (sizeof(struct udphdr) + CELL_PHEROMONE_SIZE)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ph_sub_key);
	__type(value, __u8);
} ph_subs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PH_NR);
	__type(key, __u32);
	__type(value, __u64);
} ph_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ph_config);
} ph_config SEC(".maps");

static __always_inline __u32 verdict(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&ph_stats, &reason);

	if (n)
		*n += 1;
	return reason;
}

static __always_inline int sk_drop(__u32 reason)
{
	verdict(reason);
	return 0;
}

static __always_inline int xdp_drop(__u32 reason)
{
	verdict(reason);
	return XDP_DROP;
}

static __always_inline bool subscribed(const struct cell_pheromone *p)
{
	struct ph_sub_key key = {};
	__u64 fp = ((__u64)ph_le32(p->fingerprint_hi) << 32) | ph_le32(p->fingerprint_lo);

	__builtin_memcpy(key.name, p->name, sizeof(key.name));
	key.fingerprint = fp;
	if (bpf_map_lookup_elem(&ph_subs, &key))
		return true;
	key.fingerprint = 0;
	if (bpf_map_lookup_elem(&ph_subs, &key))
		return true;
	__builtin_memset(key.name, 0, sizeof(key.name));
	if (bpf_map_lookup_elem(&ph_subs, &key))
		return true;
	key.fingerprint = fp;
	return bpf_map_lookup_elem(&ph_subs, &key);
}

static __always_inline __u32 judge(const struct cell_pheromone *p)
{
	__u32 reason = ph_check(p);

	if (reason != PH_PASS)
		return reason;
	return subscribed(p) ? PH_PASS : PH_DROP_UNSUBSCRIBED;
}

/* Offset of the UDP header from the network header, or -1. */
static __always_inline int udp_offset_skb(struct __sk_buff *skb, __u32 *l3_len)
{
	if (skb->protocol == bpf_htons(ETH_P_IP_)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes_relative(skb, 0, &ip, sizeof(ip), BPF_HDR_START_NET))
			return -1;
		if (ip.ihl < 5 || ip.protocol != IPPROTO_UDP_ ||
		    (ip.frag_off & bpf_htons(IP_OFFSET)))
			return -1;
		if (bpf_ntohs(ip.tot_len) < ip.ihl * 4)
			return -1;
		*l3_len = bpf_ntohs(ip.tot_len) - ip.ihl * 4;
		return ip.ihl * 4;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes_relative(skb, 0, &ip6, sizeof(ip6), BPF_HDR_START_NET))
			return -1;
		/* Discovery datagrams carry no extension headers. */
		if (ip6.nexthdr != IPPROTO_UDP_)
			return -1;
		*l3_len = bpf_ntohs(ip6.payload_len);
		return sizeof(ip6);
	}
	return -1;
}

SEC("socket")
int ph_socket(struct __sk_buff *skb)
{
	struct cell_pheromone p;
	struct udphdr udp;
	__u32 l3_len = 0;
	int off;

	off = udp_offset_skb(skb, &l3_len);
	if (off < 0 || off > 60)
		return sk_drop(PH_DROP_MALFORMED);
	if (bpf_skb_load_bytes_relative(skb, off, &udp, sizeof(udp), BPF_HDR_START_NET))
		return sk_drop(PH_DROP_MALFORMED);
	if (bpf_ntohs(udp.len) != l3_len || l3_len < sizeof(udp))
		return sk_drop(PH_DROP_MALFORMED);
	if (l3_len != UDP_SIZE)
		return sk_drop(PH_DROP_LENGTH);
	if (bpf_skb_load_bytes_relative(skb, off + sizeof(udp), &p, sizeof(p), BPF_HDR_START_NET))
		return sk_drop(PH_DROP_LENGTH);
	return verdict(judge(&p)) == PH_PASS ? skb->len : 0;
}

SEC("xdp")
int ph_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct cell_pheromone p;
	struct ph_config *cfg;
	struct udphdr *udp;
	__u16 port = CELL_PHEROMONE_PORT;
	__u32 zero = 0, l3_len;
	void *l3;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	l3 = eth + 1;
	if (eth->h_proto == bpf_htons(ETH_P_IP_)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP_ ||
		    (ip->frag_off & bpf_htons(IP_OFFSET)))
			return XDP_PASS;
		if (ip->ihl < 5)
			return XDP_PASS;
		udp = l3 + ip->ihl * 4;
		if ((void *)(udp + 1) > data_end)
			return XDP_PASS;
		if (bpf_ntohs(ip->tot_len) < ip->ihl * 4)
			l3_len = 0;
		else
			l3_len = bpf_ntohs(ip->tot_len) - ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_UDP_)
			return XDP_PASS;
		udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > data_end)
			return XDP_PASS;
		l3_len = bpf_ntohs(ip6->payload_len);
	} else {
		return XDP_PASS;
	}

	cfg = bpf_map_lookup_elem(&ph_config, &zero);
	if (cfg && cfg->port)
		port = cfg->port;
	if (udp->dest != bpf_htons(port))
		return XDP_PASS;

	if (bpf_ntohs(udp->len) != l3_len || l3_len < sizeof(*udp))
		return xdp_drop(PH_DROP_MALFORMED);
	if (l3_len != UDP_SIZE)
		return xdp_drop(PH_DROP_LENGTH);
	if (bpf_xdp_load_bytes(ctx, (void *)(udp + 1) - data, &p, sizeof(p)))
		return xdp_drop(PH_DROP_LENGTH);
	return verdict(judge(&p)) == PH_PASS ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
