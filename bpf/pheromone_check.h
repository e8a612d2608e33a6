/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The checks of a discovery datagram's bytes, shared word for word by the
 * BPF filter (pheromone.bpf.c) and libcell (cell_pheromone_check()): both
 * include this file, so they cannot disagree.  Checks run in the order of
 * enum ph_reason; the first failing one names the reason.  The signature
 * is not checked here (the daemon verifies it); the subscription is
 * checked by the caller, which has the set.
 */
#ifndef CELL_PHEROMONE_CHECK_H
#define CELL_PHEROMONE_CHECK_H

#include <linux/cell.h>
#include "cell_bpf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ph_le16(x) __builtin_bswap16(x)
#define ph_le32(x) __builtin_bswap32(x)
#else
#define ph_le16(x) (x)
#define ph_le32(x) (x)
#endif

static inline int ph_name_byte_ok(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '@' || c == '-';
}

static inline __u32 ph_check(const struct cell_pheromone *p)
{
	__u16 ttl = ph_le16(p->ttl);
	int seen_nul = 0;
	int i;

	if (ph_le32(p->magic) != CELL_PHEROMONE_MAGIC)
		return PH_DROP_MAGIC;
	if (p->version != CELL_PHEROMONE_VERSION)
		return PH_DROP_VERSION;
	if (p->flags & ~CELL_PHEROMONE_FLAGS)
		return PH_DROP_FLAGS;
	if (p->reserved0 || p->reserved1 || p->reserved2[0] || p->reserved2[1])
		return PH_DROP_RESERVED;
	if (ttl == 0 || ttl > CELL_PHEROMONE_TTL_MAX)
		return PH_DROP_TTL;
	if (p->endpoint_count > CELL_PHEROMONE_ENDPOINTS)
		return PH_DROP_ENDPOINTS;
	for (i = 0; i < CELL_PHEROMONE_ENDPOINTS; i++) {
		const struct cell_endpoint *e = &p->endpoints[i];

		if (i >= p->endpoint_count) {
			/* Unused endpoints are zero-filled. */
			if (e->family != CELL_EP_NONE)
				return PH_DROP_ENDPOINTS;
			continue;
		}
		if (e->family != CELL_EP_IPV4 && e->family != CELL_EP_IPV6)
			return PH_DROP_ENDPOINTS;
		if (e->transport != CELL_EP_QUIC && e->transport != CELL_EP_UDP)
			return PH_DROP_ENDPOINTS;
		if (!e->port)
			return PH_DROP_ENDPOINTS;
	}
	if (!p->name[0])
		return PH_DROP_NAME;
	for (i = 0; i < CELL_NAME_MAX; i++) {
		__u8 c = p->name[i];

		if (!c) {
			seen_nul = 1;
			continue;
		}
		if (seen_nul || !ph_name_byte_ok(c))
			return PH_DROP_NAME;
	}
	return PH_PASS;
}

#endif /* CELL_PHEROMONE_CHECK_H */
