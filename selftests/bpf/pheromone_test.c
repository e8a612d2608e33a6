// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The pheromone filter in the kernel.
 *
 * BPF_PROG_TEST_RUN: every vector of pheromone_vectors.tsv, wrapped in
 * Ethernet + IPv4 and + IPv6 + UDP, through the socket filter and the XDP
 * variant: the verdict and the counter of its reason must match the
 * vector.  Headers that lie (UDP length against the IP length) are
 * MALFORMED; the XDP variant leaves other ports alone.
 *
 * Live: in a network namespace of its own (gone with the process), a UDP
 * socket on 127.0.0.1 and one on ::1 get the filter through libcell's API
 * (cell/pheromone.h); every vector is sent to each, exactly the passing
 * ones arrive, byte for byte and in order, and cell_pheromone_filter_stats()
 * counts each drop by reason.  Unsubscribing takes effect at once.
 *
 *   pheromone_test VECTORS.tsv
 */
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cell/pheromone.h>
#include <cell/rpc.h>
#include "bpf_test.h"
#include "pheromone_vectors.h"
#include "cell_bpf.h"
#include "pheromone.skel.h"

#define FP_ANY	 0x0123456789abcdefULL
#define FP_EXACT 0x1111111111111111ULL

static struct vec vecs[VEC_MAX];
static int nvec;

static void counts_of(struct bpf_map *m, uint64_t out[PH_NR])
{
	int ncpu = libbpf_num_possible_cpus(), c;
	uint64_t pc[ncpu];
	uint32_t i;

	for (i = 0; i < PH_NR; i++) {
		if (bpf_map__lookup_elem(m, &i, sizeof(i), pc, sizeof(pc), 0))
			abort();
		out[i] = 0;
		for (c = 0; c < ncpu; c++)
			out[i] += pc[c];
	}
}

static void subscribe_map(struct bpf_map *m, const char *name, uint64_t fp)
{
	struct ph_sub_key k = { .fingerprint = fp };
	uint8_t one = 1;

	if (name)
		memcpy(k.name, name, strnlen(name, sizeof(k.name)));
	if (bpf_map__update_elem(m, &k, sizeof(k), &one, 1, 0))
		abort();
}

/* Run one frame; returns the verdict the counters saw (or -1), *passed. */
static int judge(struct pheromone_bpf *k, bool xdp, const uint8_t *pkt, size_t len, bool *passed)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len);
	uint64_t before[PH_NR], after[PH_NR];
	int fd = bpf_program__fd(xdp ? k->progs.ph_xdp : k->progs.ph_socket), i, which = -1;

	counts_of(k->maps.ph_stats, before);
	if (bpf_prog_test_run_opts(fd, &o)) {
		printf("# test_run: %s\n", strerror(errno));
		return -2;
	}
	counts_of(k->maps.ph_stats, after);
	for (i = 0; i < PH_NR; i++) {
		if (after[i] - before[i] == 1 && which == -1)
			which = i;
		else if (after[i] != before[i])
			return -3; /* more than one counter moved */
	}
	*passed = xdp ? o.retval == XDP_PASS : o.retval != 0;
	return which;
}

static void test_run_vectors(void)
{
	struct pheromone_bpf *k = pheromone_bpf__open_and_load();
	int i, fam, bad = 0;

	if (!k)
		tap_skip_all("cannot load the pheromone filter: %s", strerror(errno));
	subscribe_map(k->maps.ph_subs, "alpha", 0);
	subscribe_map(k->maps.ph_subs, NULL, FP_ANY);
	subscribe_map(k->maps.ph_subs, "exact", FP_EXACT);
	for (i = 0; i < nvec; i++) {
		for (fam = 0; fam < 2; fam++) {
			struct pkt_spec s = {
				.family = fam ? AF_INET6 : AF_INET,
				.saddr = fam ? "fd00::2" : "10.0.0.2",
				.daddr = fam ? "fd00::1" : "10.0.0.1",
				.proto = 17,
				.sport = 7946,
				.dport = CELL_PHEROMONE_PORT,
				.payload = vecs[i].data,
				.len = vecs[i].len,
			};
			uint8_t pkt[PKT_MAX];
			size_t len = pkt_build(pkt, &s);
			bool sk_pass = false, xdp_pass = false;
			int sk = judge(k, false, pkt, len, &sk_pass);
			int xd = judge(k, true, pkt, len, &xdp_pass);
			bool want_pass = vecs[i].expect == CELL_PHEROMONE_PASS;

			if (!tap_ok(sk == vecs[i].expect && sk_pass == want_pass &&
					    xd == vecs[i].expect && xdp_pass == want_pass,
				    "test_run %s %s: socket %s, xdp %s", fam ? "IPv6" : "IPv4",
				    vecs[i].name, cell_pheromone_verdict_name(sk),
				    cell_pheromone_verdict_name(xd)))
				bad++;
		}
	}

	{
		struct pkt_spec s = { .family = AF_INET,
				      .saddr = "10.0.0.2",
				      .daddr = "10.0.0.1",
				      .proto = 17,
				      .sport = 1,
				      .dport = CELL_PHEROMONE_PORT,
				      .payload = vecs[0].data,
				      .len = vecs[0].len };
		uint8_t pkt[PKT_MAX];
		size_t len = pkt_build(pkt, &s);
		bool p1 = true, p2 = true;
		int a, b;

		/* UDP length says 8 bytes more than IPv4 carries. */
		pkt[14 + 20 + 5] += 8;
		a = judge(k, false, pkt, len, &p1);
		b = judge(k, true, pkt, len, &p2);
		tap_ok(a == CELL_PHEROMONE_MALFORMED && b == CELL_PHEROMONE_MALFORMED && !p1 && !p2,
		       "UDP length beyond the IP datagram: malformed in both");
		pkt[14 + 20 + 5] -= 8;
		s.dport = 7947;
		len = pkt_build(pkt, &s);
		pkt[14 + 20 + 8] ^= 0xff; /* bad magic, but not the discovery port */
		b = judge(k, true, pkt, len, &p2);
		tap_ok(b == -1 && p2, "XDP: another UDP port passes uncounted");
		s.dport = CELL_PHEROMONE_PORT;
		s.proto = 6;
		len = pkt_build(pkt, &s);
		a = judge(k, false, pkt, len, &p1);
		tap_ok(a == CELL_PHEROMONE_MALFORMED && !p1, "socket filter: not UDP is malformed");
	}
	pheromone_bpf__destroy(k);
}

static void lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		abort();
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		abort();
	close(fd);
}

static int udp_socket(int family, struct sockaddr_storage *ss, socklen_t *sl)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rcv = 1 << 20;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*sl = sizeof(*a);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, *sl) < 0)
		abort();
	if (getsockname(fd, (struct sockaddr *)ss, sl) < 0)
		abort();
	return fd;
}

/* Receive what arrives within 200 ms of the last datagram. */
static int drain(int fd, int *order, int max)
{
	uint8_t buf[1024];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = 0, i;

	while (poll(&p, 1, 200) == 1) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r < 0)
			break;
		for (i = 0; i < nvec; i++)
			if ((size_t)r == vecs[i].len && !memcmp(buf, vecs[i].data, (size_t)r))
				break;
		if (n < max)
			order[n] = i < nvec ? i : -1;
		n++;
	}
	return n;
}

static void test_live(int family)
{
	const char *fam = family == AF_INET ? "IPv4" : "IPv6";
	struct sockaddr_storage ss;
	struct cell_pheromone_filter *f;
	uint64_t counts[CELL_PHEROMONE_NR_VERDICTS], want[CELL_PHEROMONE_NR_VERDICTS] = {};
	int order[VEC_MAX * 2], expected[VEC_MAX], nexp = 0, got, i, tx;
	socklen_t sl;
	int rx = udp_socket(family, &ss, &sl);
	bool same = true;

	tx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	f = cell_pheromone_filter_attach(rx);
	if (!tap_ok(f != NULL, "%s live: filter attached through libcell (%s)", fam,
		    f ? "ok" : cell_last_error(NULL))) {
		close(rx);
		close(tx);
		return;
	}
	tap_ok(cell_pheromone_filter_subscribe(f, "alpha", 0) == CELL_STATUS_OK &&
		       cell_pheromone_filter_subscribe(f, NULL, FP_ANY) == CELL_STATUS_OK &&
		       cell_pheromone_filter_subscribe(f, "exact", FP_EXACT) == CELL_STATUS_OK,
	       "%s live: subscribed", fam);
	for (i = 0; i < nvec; i++) {
		if (sendto(tx, vecs[i].data, vecs[i].len, 0, (struct sockaddr *)&ss, sl) < 0)
			abort();
		want[vecs[i].expect]++;
		if (vecs[i].expect == CELL_PHEROMONE_PASS)
			expected[nexp++] = i;
	}
	got = drain(rx, order, VEC_MAX * 2);
	for (i = 0; i < nexp && i < got; i++)
		same &= order[i] == expected[i];
	tap_ok(got == nexp && same,
	       "%s live: exactly the %d passing datagrams arrive, in order (%d)", fam, nexp, got);
	tap_ok(cell_pheromone_filter_stats(f, counts) == CELL_STATUS_OK, "%s live: stats read",
	       fam);
	same = true;
	for (i = 0; i < CELL_PHEROMONE_NR_VERDICTS; i++) {
		if (counts[i] != want[i]) {
			printf("# %s: %llu, expected %llu\n", cell_pheromone_verdict_name(i),
			       (unsigned long long)counts[i], (unsigned long long)want[i]);
			same = false;
		}
	}
	tap_ok(same, "%s live: every drop counted under its reason", fam);

	tap_ok(cell_pheromone_filter_unsubscribe(f, "exact", FP_EXACT) == CELL_STATUS_OK,
	       "%s live: unsubscribe (exact, fingerprint)", fam);
	for (i = 0; i < nvec; i++)
		if (!strcmp(vecs[i].name, "valid_exact"))
			sendto(tx, vecs[i].data, vecs[i].len, 0, (struct sockaddr *)&ss, sl);
	got = drain(rx, order, 1);
	tap_ok(cell_pheromone_filter_stats(f, counts) == CELL_STATUS_OK && got == 0 &&
		       counts[CELL_PHEROMONE_UNSUBSCRIBED] == want[CELL_PHEROMONE_UNSUBSCRIBED] + 1,
	       "%s live: after unsubscribing, valid_exact is dropped as unsubscribed", fam);
	tap_ok(cell_pheromone_filter_unsubscribe(f, "exact", FP_EXACT) == CELL_STATUS_NOT_FOUND,
	       "%s live: unsubscribing twice is NOT_FOUND", fam);
	tap_ok(cell_pheromone_filter_subscribe(f, "Bad Name", 0) == CELL_STATUS_INVALID_ARGUMENT &&
		       cell_pheromone_filter_subscribe(f, "", 0) == CELL_STATUS_INVALID_ARGUMENT &&
		       cell_pheromone_filter_subscribe(f, "a23456789012345678901234567890123", 0) ==
			       CELL_STATUS_INVALID_ARGUMENT,
	       "%s live: bad names refused (%s)", fam, cell_last_error(NULL));

	cell_pheromone_filter_free(f);
	for (i = 0; i < nvec; i++)
		if (vecs[i].expect != CELL_PHEROMONE_PASS && vecs[i].len)
			break;
	sendto(tx, vecs[i].data, vecs[i].len, 0, (struct sockaddr *)&ss, sl);
	got = drain(rx, order, 1);
	tap_ok(got == 1, "%s live: after free the socket is unfiltered again", fam);
	close(rx);
	close(tx);
}

int main(int argc, char **argv)
{
	int tcp;

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTORS.tsv\n", argv[0]);
		return 2;
	}
	require_bpf();
	nvec = vec_load(argv[1], vecs, VEC_MAX);
	if (!tap_ok(nvec > 0, "read %d vectors", nvec))
		return tap_done();
	test_run_vectors();

	if (unshare(CLONE_NEWNET) < 0)
		tap_skip_all("cannot create a network namespace: %s", strerror(errno));
	lo_up();
	test_live(AF_INET);
	test_live(AF_INET6);
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	tap_ok(!cell_pheromone_filter_attach(tcp) && errno == EINVAL, "attach to a TCP socket is "
								      "refused (EINVAL)");
	close(tcp);
	return tap_done();
}
