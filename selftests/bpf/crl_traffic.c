// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Traffic for the rate limiter's live test and benchmark, run inside the
 * test's network namespaces.
 *
 *   crl_traffic send ADDR PORT SECONDS PPS [SIZE]
 *       UDP to ADDR:PORT for SECONDS; PPS 0 floods.  Prints
 *       "sent N seconds S" (S: first to last packet sent).
 *   crl_traffic recv PORT
 *       Counts UDP datagrams to PORT (IPv4 and IPv6) until SIGTERM or
 *       SIGINT, then prints "received N".
 *   crl_traffic blast DEV DSTMAC SRC DST PORT SECONDS
 *       As fast as one CPU can: IPv4 UDP frames SRC -> DST:PORT written
 *       to DEV with AF_PACKET (qdisc bypassed), in batches of 64, for
 *       SECONDS.  Prints "sent N seconds S".  For the benchmark.
 *   crl_traffic spray ADDR PORT COUNT
 *       COUNT UDP packets to IPv4 ADDR, each from another source address
 *       (172.16.0.0 + i, raw socket), then prints "sprayed N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#define NSEC 1000000000LL

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*a6);
		return AF_INET6;
	}
	fprintf(stderr, "crl_traffic: bad address %s\n", s);
	exit(2);
}

static int cmd_send(const char *addr, int port, double seconds, long pps, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fam = parse_addr(addr, port, &ss, &sl);
	int fd = socket(fam, SOCK_DGRAM, 0);
	char buf[1500] = { 0 };
	long long start, end, first = 0, last = 0, next;
	long long sent = 0;

	if (fd < 0 || size > sizeof(buf))
		return 1;
	start = now_ns();
	end = start + (long long)(seconds * NSEC);
	next = start;
	for (;;) {
		long long t;

		if (pps > 0) {
			struct timespec ts = { next / NSEC, next % NSEC };

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			next += NSEC / pps;
		}
		t = now_ns();
		if (t >= end)
			break;
		if (sendto(fd, buf, size, 0, (struct sockaddr *)&ss, sl) == (ssize_t)size) {
			if (!sent)
				first = t;
			last = t;
			sent++;
		}
	}
	printf("sent %lld seconds %.6f\n", sent, (double)(last - first) / NSEC);
	close(fd);
	return 0;
}

static int cmd_recv(int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), off = 0, rcv = 4 << 20;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long received = 0;
	char buf[2048];

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("crl_traffic: bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		if (poll(&p, 1, 50) != 1)
			continue;
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			received++;
	}
	printf("received %lld\n", received);
	return 0;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int cmd_spray(const char *addr, int port, long count)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	uint8_t pkt[20 + 8 + 16] = { 0 };
	long i, sprayed = 0;
	uint32_t src;

	if (fd < 0 || inet_pton(AF_INET, addr, &dst.sin_addr) != 1) {
		perror("crl_traffic: raw socket");
		return 1;
	}
	pkt[0] = 0x45;
	pkt[2] = sizeof(pkt) >> 8;
	pkt[3] = sizeof(pkt) & 0xff;
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 16, &dst.sin_addr, 4);
	pkt[20] = 0x9c;
	pkt[22] = (uint8_t)(port >> 8);
	pkt[23] = (uint8_t)port;
	pkt[25] = 24;
	for (i = 0; i < count; i++) {
		src = htonl(0xac100000u + (uint32_t)i);
		memcpy(pkt + 12, &src, 4);
		pkt[10] = pkt[11] = 0;
		{
			uint16_t c = csum(pkt, 20);

			pkt[10] = (uint8_t)(c >> 8);
			pkt[11] = (uint8_t)c;
		}
		while (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("crl_traffic: sendto");
				return 1;
			}
			usleep(100);
		}
		sprayed++;
	}
	printf("sprayed %ld\n", sprayed);
	return 0;
}

#define BATCH 64

static int cmd_blast(char **a)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_halen = 6 };
	int fd = socket(AF_PACKET, SOCK_RAW, 0), one = 1;
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	uint8_t f[14 + 20 + 8 + 18] = { 0 };
	unsigned int mac[6];
	long long start, end, t = 0, sent = 0;
	int i, r;
	uint16_t c;

	if (fd < 0 || sscanf(a[1], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
			     &mac[5]) != 6) {
		perror("crl_traffic: blast");
		return 1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	ll.sll_ifindex = (int)if_nametoindex(a[0]);
	for (i = 0; i < 6; i++)
		f[i] = ll.sll_addr[i] = (uint8_t)mac[i];
	f[6] = 0x02;
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = 0;
	f[17] = sizeof(f) - 14;
	f[22] = 64;
	f[23] = IPPROTO_UDP;
	if (!ll.sll_ifindex || inet_pton(AF_INET, a[2], f + 26) != 1 ||
	    inet_pton(AF_INET, a[3], f + 30) != 1) {
		fprintf(stderr, "crl_traffic: blast: bad device or address\n");
		return 1;
	}
	c = csum(f + 14, 20);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
	f[34] = 0x9c;
	f[36] = (uint8_t)(atoi(a[4]) >> 8);
	f[37] = (uint8_t)atoi(a[4]);
	f[39] = 8 + 18;
	iov.iov_base = f;
	iov.iov_len = sizeof(f);
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &ll;
		msgs[i].msg_hdr.msg_namelen = sizeof(ll);
	}
	start = now_ns();
	end = start + (long long)(atof(a[5]) * NSEC);
	while ((t = now_ns()) < end) {
		r = sendmmsg(fd, msgs, BATCH, 0);
		if (r > 0)
			sent += r;
	}
	printf("sent %lld seconds %.6f\n", sent, (double)(t - start) / NSEC);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && !strcmp(argv[1], "blast"))
		return cmd_blast(argv + 2);
	if (argc >= 6 && !strcmp(argv[1], "send"))
		return cmd_send(argv[2], atoi(argv[3]), atof(argv[4]), atol(argv[5]),
				argc > 6 ? (size_t)atol(argv[6]) : 64);
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return cmd_recv(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "spray"))
		return cmd_spray(argv[2], atoi(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: crl_traffic send ADDR PORT SECONDS PPS [SIZE] | recv PORT |"
			" spray ADDR PORT COUNT |\n"
			"       blast DEV DSTMAC SRC DST PORT SECONDS\n");
	return 2;
}
