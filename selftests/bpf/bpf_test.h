/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Helpers of the BPF tests: TAP output, the skip rule (exit 4 with the
 * reason when BPF cannot be used here), and packets built byte by byte.
 */
#ifndef CELL_BPF_TEST_H
#define CELL_BPF_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KSFT_SKIP 4

static int tap_n, tap_failed;

static inline void tap_skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(KSFT_SKIP);
}

static inline bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* Skip unless root can load BPF here and the kernel has BTF. */
static inline void require_bpf(void)
{
	if (geteuid() != 0)
		tap_skip_all("needs root to load BPF programs");
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		tap_skip_all("no kernel BTF (/sys/kernel/btf/vmlinux)");
}

/* ---- packets ----------------------------------------------------------- */

#define PKT_MAX 1600

struct pkt_spec {
	int family;	   /* AF_INET or AF_INET6 */
	const char *saddr; /* text */
	const char *daddr;
	uint8_t proto; /* 17 UDP, 6 TCP, or another protocol */
	uint16_t sport, dport;
	uint16_t frag_off; /* IPv4 fragment offset field, host order */
	uint16_t vlan;	   /* 802.1Q tag when nonzero */
	const void *payload;
	size_t len;
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4/IPv6 + UDP (or an 8-byte stand-in for other protocols). */
static inline size_t pkt_build(uint8_t *buf, const struct pkt_spec *s)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 1 }, smac[6] = { 0x02, 0, 0, 0, 0, 2 };
	size_t off = 0, l4len = 8 + s->len, iplen;
	uint8_t *ip, *l4;

	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	off = 12;
	if (s->vlan) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, s->vlan);
		off += 4;
	}
	put16(buf + off, s->family == AF_INET ? 0x0800 : 0x86dd);
	off += 2;
	ip = buf + off;
	if (s->family == AF_INET) {
		iplen = 20;
		memset(ip, 0, iplen);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(iplen + l4len));
		put16(ip + 6, s->frag_off);
		ip[8] = 64;
		ip[9] = s->proto;
		if (inet_pton(AF_INET, s->saddr, ip + 12) != 1 ||
		    inet_pton(AF_INET, s->daddr, ip + 16) != 1)
			abort();
	} else {
		iplen = 40;
		memset(ip, 0, iplen);
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)l4len);
		ip[6] = s->proto;
		ip[7] = 64;
		if (inet_pton(AF_INET6, s->saddr, ip + 8) != 1 ||
		    inet_pton(AF_INET6, s->daddr, ip + 24) != 1)
			abort();
	}
	l4 = ip + iplen;
	put16(l4, s->sport);
	put16(l4 + 2, s->dport);
	put16(l4 + 4, (uint16_t)l4len);
	put16(l4 + 6, 0);
	if (s->len)
		memcpy(l4 + 8, s->payload, s->len);
	return (size_t)(l4 + l4len - buf);
}

#endif /* CELL_BPF_TEST_H */
