/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Maps and values shared by Cell's BPF programs and their userspace side
 * (tools/cell-ratelimit, libcell's pheromone filter).  Host byte order
 * unless a field says otherwise; addresses are in network order.
 */
#ifndef CELL_BPF_H
#define CELL_BPF_H

#include <linux/types.h>

/* ---- rate limiter (ratelimit.bpf.c) ------------------------------------ */

#define CRL_MAX_PEERS_DEFAULT 65536
#define CRL_MAX_PORTS	      64
#define CRL_MAX_RULES	      4096

/* Address families as the maps store them. */
#define CRL_FAMILY_V4 4
#define CRL_FAMILY_V6 6

/* crl_config.flags */
#define CRL_F_PORTS 0x1 /* limit only destination ports in crl_ports */

/*
 * The limiter is GCRA, the token bucket written as one timestamp: a packet
 * passes when the bucket's theoretical arrival time, advanced by one
 * interval, is at most burst_ns ahead of now.  Rate R pps and burst B
 * packets give interval_ns = 1e9 / R and burst_ns = B * interval_ns.
 * interval_ns 0 means no limit.
 */
struct crl_config {
	__u64 interval_ns;
	__u64 burst_ns;
	__u32 rate;  /* packets per second, as set (for display) */
	__u32 burst; /* packets, as set (for display) */
	__u32 flags;
	__u32 new_peers; /* new peers per second given a full burst, as set */
	/*
	 * The new-peer allowance, a GCRA of its own over bucket creations
	 * (state in crl_newpeers): a bucket created while it conforms starts
	 * full (burst packets at once), any other starts empty (one packet,
	 * then the rate).  So a bucket that the LRU evicted and recreated
	 * hands out no fresh burst once many sources arrive: the extra
	 * packets all new buckets together get are bounded by this rate, not
	 * by the number of sources.  new_interval_ns 0: every bucket starts
	 * empty.
	 */
	__u64 new_interval_ns;
	__u64 new_burst_ns;
};

/* Key of the buckets (LRU hash). */
struct crl_addr {
	__u32 family; /* CRL_FAMILY_* */
	__u8 addr[16];
};

/* Key of the rules (LPM trie): prefixlen counts the 32 family bits too. */
struct crl_rule_key {
	__u32 prefixlen;
	__u32 family;
	__u8 addr[16];
};

enum crl_action {
	CRL_ACT_RATE = 1, /* allow-listed with its own interval and burst */
	CRL_ACT_PASS = 2, /* allow-listed without limit */
	CRL_ACT_DENY = 3, /* every packet dropped */
};

struct crl_rule {
	__u32 action; /* enum crl_action */
	__u32 rate;   /* as set, for display */
	__u64 interval_ns;
	__u64 burst_ns;
	__u32 burst; /* as set, for display */
	__u32 pad;
};

/* Value of the buckets: the GCRA state and the peer's own counters. */
struct crl_bucket {
	__u64 tat; /* theoretical arrival time, CLOCK_MONOTONIC ns */
	__u64 passed_pkts;
	__u64 passed_bytes;
	__u64 dropped_pkts;
	__u64 dropped_bytes;
	__u64 last_ns; /* last packet seen */
};

/* Indexes of crl_stats (per-CPU). */
enum crl_stat {
	CRL_STAT_PASSED,  /* within its rate */
	CRL_STAT_DROPPED, /* over its rate */
	CRL_STAT_DENIED,  /* deny-listed */
	CRL_STAT_ALLOWED, /* allow-listed without limit */
	CRL_STAT_EXEMPT,  /* not limited: not IP, or a port outside the set */
	CRL_STAT_NR,
};

struct crl_counter {
	__u64 pkts;
	__u64 bytes;
};

/* ---- pheromone filter (pheromone.bpf.c) -------------------------------- */

/*
 * Why a datagram was dropped, checked in this order (the first failing
 * check names the reason).  Index PH_PASS of ph_stats counts passes.
 */
enum ph_reason {
	PH_PASS,
	PH_DROP_MALFORMED,    /* IP or UDP header unreadable or inconsistent */
	PH_DROP_LENGTH,	      /* UDP payload is not CELL_PHEROMONE_SIZE bytes */
	PH_DROP_MAGIC,	      /* magic is not CELL_PHEROMONE_MAGIC */
	PH_DROP_VERSION,      /* version is not CELL_PHEROMONE_VERSION */
	PH_DROP_FLAGS,	      /* a flag outside CELL_PHEROMONE_FLAGS */
	PH_DROP_RESERVED,     /* a reserved field is not zero */
	PH_DROP_TTL,	      /* ttl not in 1..CELL_PHEROMONE_TTL_MAX */
	PH_DROP_ENDPOINTS,    /* endpoint_count or an endpoint is invalid */
	PH_DROP_NAME,	      /* empty, a byte outside [a-z0-9_.@-], or not NUL-padded */
	PH_DROP_UNSUBSCRIBED, /* neither name nor fingerprint is subscribed */
	PH_NR,
};

/*
 * Key of ph_subs.  A datagram passes when one of these is present:
 * (fingerprint, name), (fingerprint, all-zero name), (0, name), (0, zero).
 */
struct ph_sub_key {
	__u64 fingerprint;
	__u8 name[32]; /* CELL_NAME_MAX, NUL-padded as in the datagram */
};

/* ph_config[0], read by the XDP variant only. */
struct ph_config {
	__u16 port; /* UDP destination port of discovery, host order */
	__u16 pad[3];
};

#endif /* CELL_BPF_H */
