// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * make bench-axon: Cell over QUIC (lib/quic/) beside raw UDP ping-pong and
 * TCP + TLS 1.3 ping-pong (GnuTLS, the same library QUIC's TLS uses), all
 * measured in the same run, between two processes (tools/bench/axon_bench.sh
 * puts them in two network namespaces joined by a veth pair).
 *
 *   axon_bench server ADDR PORT      UDP echo on PORT, TCP+TLS echo on PORT+1,
 *                                    Cell QUIC server on PORT+2
 *   axon_bench client ADDR PORT [-n N] [-r ROUNDS]
 *
 * Rows, each as paired rounds (UDP, TLS, QUIC one after the other per
 * round; figures are the median over rounds):
 *   RTT p50 / p99 at 64 B and 64 KiB (echo: the payload goes and comes back);
 *   1 MiB throughput: 1 MiB requests answered by 4 bytes, one at a time;
 *   calls/s with 128 requests of 64 B in flight (QUIC: 128 streams; TLS:
 *   128 frames pipelined on the connection).
 * Ratios QUIC / TCP+TLS with the goal (RTT <= 1.5x TCP+TLS).
 * The TLS client does not verify the server's certificate (a bench, not a
 * trust decision: QUIC's side checks the pinned key, a small extra cost).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <cell/quic.h>
#include <cell/rpc.h>

#define FP	     0xa50be4c4a50be4c4ULL
#define CHUNK	     1400
#define MIB	     (1U << 20)
#define INFLIGHT     128
#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define M_ECHO	     1
#define M_SINK	     2

static const char *addr;
static unsigned int port0;
static gnutls_certificate_credentials_t tls_cred; /* the server's, made before its threads */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "axon_bench: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static struct sockaddr_in sin_of(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die("address (IPv4 only)");
	return sa;
}

static void big_buffers(int fd)
{
	int sz = 4 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* ---- raw UDP: every datagram echoed ------------------------------------ */

static void *udp_server(void *arg)
{
	struct sockaddr_in sa = sin_of(port0), from;
	static uint8_t buf[65536];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	(void)arg;
	big_buffers(fd);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("UDP bind");
	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n >= 0)
			(void)!sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

/* ---- TCP + TLS 1.3: frames of a 4-byte length and the payload ---------- */

static gnutls_certificate_credentials_t server_cred(void)
{
	gnutls_certificate_credentials_t cred;
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	time_t t = time(NULL);
	unsigned char serial[8] = { 1 };

	if (gnutls_certificate_allocate_credentials(&cred) || gnutls_x509_privkey_init(&key) ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_EDDSA_ED25519, 256, 0) ||
	    gnutls_x509_crt_init(&crt) || gnutls_x509_crt_set_version(crt, 3) ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) ||
	    gnutls_x509_crt_set_activation_time(crt, t - 3600) ||
	    gnutls_x509_crt_set_expiration_time(crt, t + 86400) ||
	    gnutls_x509_crt_set_key(crt, key) ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "bench", 5) ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA512, 0) ||
	    gnutls_certificate_set_x509_key(cred, &crt, 1, key))
		die("TLS certificate");
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return cred;
}

static int tls_io(gnutls_session_t s, void *buf, size_t n, bool rd)
{
	for (size_t off = 0; off < n;) {
		ssize_t k = rd ? gnutls_record_recv(s, (uint8_t *)buf + off, n - off)
			       : gnutls_record_send(s, (uint8_t *)buf + off, n - off);

		if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
			continue;
		if (k <= 0)
			return -1;
		off += (size_t)k;
	}
	return 0;
}

/* A frame (8-byte header, then @n bytes) as one TLS record where it fits. */
static int tls_frame(gnutls_session_t s, uint32_t method, const void *data, uint32_t n)
{
	static _Thread_local uint8_t *out;
	uint32_t h[2] = { method, n };

	if (!out)
		out = malloc(MIB + 8);
	if (!out)
		return -1;
	memcpy(out, h, sizeof(h));
	memcpy(out + sizeof(h), data, n);
	return tls_io(s, out, sizeof(h) + n, false);
}

static gnutls_session_t tls_session(int fd, gnutls_certificate_credentials_t cred, bool server)
{
	gnutls_session_t s;
	int rc, one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (gnutls_init(&s, server ? GNUTLS_SERVER : GNUTLS_CLIENT) ||
	    gnutls_priority_set_direct(s, TLS_PRIORITY, NULL) ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred))
		die("TLS session");
	gnutls_transport_set_int(s, fd);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		fprintf(stderr, "axon_bench: TLS handshake: %s\n", gnutls_strerror(rc));
		exit(1);
	}
	return s;
}

/* One connection: a frame in; an echo (M_ECHO) or its length (M_SINK) out. */
static void *tls_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t *buf = malloc(MIB + 8);
	gnutls_session_t s;
	uint32_t h[2];

	s = tls_session(fd, tls_cred, true);
	while (buf && !tls_io(s, h, sizeof(h), true) && h[1] <= MIB &&
	       !tls_io(s, buf, h[1], true)) {
		int rc = h[0] == M_SINK ? tls_io(s, &h[1], 4, false)
					: tls_frame(s, h[0], buf, h[1]);

		if (rc)
			break;
	}
	gnutls_deinit(s);
	close(fd);
	free(buf);
	return NULL;
}

static void *tls_server(void *arg)
{
	struct sockaddr_in sa = sin_of(port0 + 1);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	(void)arg;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8))
		die("TCP listen");
	for (;;) {
		int c = accept(fd, NULL, NULL);
		pthread_t th;

		if (c >= 0 && !pthread_create(&th, NULL, tls_conn, (void *)(intptr_t)c))
			pthread_detach(th);
	}
	return NULL;
}

/* ---- Cell over QUIC ------------------------------------------------------ */

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status sink(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	uint32_t len = req->len;

	(void)ctx;
	return cell_reply_send(reply, &len, 4) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static int server(void)
{
	struct cell_server_opts so = { .sz = sizeof(so), .fingerprint = FP, .no_register = 1 };
	struct cell_quic_opts q = { .sz = sizeof(q), .max_data = 8 * MIB };
	char dir[] = "/tmp/axon-bench.XXXXXX", qa[64];
	struct cell_server *srv;
	pthread_t th;

	if (!mkdtemp(dir))
		die("mkdtemp");
	so.runtime_dir = dir;
	srv = cell_server_new("axonbench", &so);
	snprintf(qa, sizeof(qa), "%s:%u", addr, port0 + 2);
	if (!srv || cell_server_handle(srv, M_ECHO, echo, NULL) ||
	    cell_server_handle(srv, M_SINK, sink, NULL) || cell_server_listen_quic(srv, qa, &q)) {
		fprintf(stderr, "axon_bench: QUIC server: %s\n", cell_last_error(NULL));
		return 1;
	}
	unlink(cell_server_path(srv)); /* not used; nothing stays behind a kill */
	rmdir(dir);
	tls_cred = server_cred();
	pthread_create(&th, NULL, udp_server, NULL);
	pthread_create(&th, NULL, tls_server, NULL);
	printf("ready\n");
	fflush(stdout);
	return cell_server_run(srv, 1) ? 1 : 0;
}

/* ---- client -------------------------------------------------------------- */

enum {
	T_UDP,
	T_TLS,
	T_QUIC,
	T_N
};
static const char *const tname[T_N] = { "raw UDP", "TCP+TLS 1.3", "Cell QUIC" };

struct conn {
	int udp;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	struct cell_client *quic;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void conn_open(struct conn *c)
{
	struct sockaddr_in u = sin_of(port0), t = sin_of(port0 + 1);
	struct timeval tv = { .tv_sec = 1 };
	struct cell_quic_opts q = { .sz = sizeof(q), .max_data = 8 * MIB };
	struct cell_client_opts o = {
		.sz = sizeof(o), .fingerprint = FP, .quic = &q, .max_inflight = INFLIGHT
	};
	char target[80];
	int fd;

	c->udp = socket(AF_INET, SOCK_DGRAM, 0);
	big_buffers(c->udp);
	if (c->udp < 0 || connect(c->udp, (struct sockaddr *)&u, sizeof(u)) ||
	    setsockopt(c->udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		die("UDP socket");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&t, sizeof(t)))
		die("TCP connect");
	if (gnutls_certificate_allocate_credentials(&c->cred))
		die("TLS credentials");
	c->tls = tls_session(fd, c->cred, false);
	snprintf(target, sizeof(target), "quic://%s:%u", addr, port0 + 2);
	c->quic = cell_client_connect(target, &o);
	if (!c->quic) {
		fprintf(stderr, "axon_bench: %s: %s\n", target, cell_last_error(NULL));
		exit(1);
	}
}

/* One echo of @n bytes; returns the RTT in ns, 0 if a UDP datagram was lost. */
static uint64_t rtt_once(struct conn *c, int t, uint8_t *buf, uint32_t n)
{
	uint64_t t0 = now_ns();
	uint32_t h[2] = { M_ECHO, n }, len;

	if (t == T_UDP) {
		uint32_t chunks = (n + CHUNK - 1) / CHUNK;

		for (uint32_t i = 0; i < chunks; i++)
			if (send(c->udp, buf + i * CHUNK, i + 1 < chunks ? CHUNK : n - i * CHUNK,
				 0) < 0)
				die("UDP send");
		for (uint32_t i = 0; i < chunks; i++)
			if (recv(c->udp, buf, CHUNK, 0) < 0)
				return 0;
	} else if (t == T_TLS) {
		if (tls_frame(c->tls, M_ECHO, buf, n) || tls_io(c->tls, h, sizeof(h), true) ||
		    tls_io(c->tls, buf, h[1], true))
			die("TLS echo");
	} else if (cell_client_call(c->quic, M_ECHO, buf, n, buf, n, &len,
				    cell_deadline_in_ms(5000))) {
		fprintf(stderr, "axon_bench: QUIC echo: %s\n", cell_last_error(NULL));
		exit(1);
	}
	return now_ns() - t0;
}

/* p50 and p99 of @iters echoes of @n bytes, us. */
static void rtt(struct conn *c, int t, uint32_t n, int iters, double *p50, double *p99, int *lost)
{
	uint64_t *v = calloc((size_t)iters, sizeof(*v));
	uint8_t *buf = calloc(1, n + CHUNK);
	int k = 0;

	for (int i = 0; i < iters + iters / 10; i++) {
		uint64_t ns = rtt_once(c, t, buf, n);

		if (!ns) {
			(*lost)++;
			while (recv(c->udp, buf, CHUNK, MSG_DONTWAIT) > 0) /* stale echoes */
				;
			continue;
		}
		if (i >= iters / 10 && k < iters) /* the first tenth warms up */
			v[k++] = ns;
	}
	qsort(v, (size_t)k, sizeof(*v), cmp_u64);
	*p50 = k ? v[k / 2] / 1e3 : 0;
	*p99 = k ? v[k * 99 / 100] / 1e3 : 0;
	free(v);
	free(buf);
}

/* MB/s of @count 1 MiB requests answered by 4 bytes, one at a time. */
static double mib_throughput(struct conn *c, int t, int count)
{
	uint8_t *buf = calloc(1, MIB);
	uint64_t t0 = now_ns();
	uint32_t got, len;

	for (int i = 0; i < count; i++) {
		if (t == T_TLS) {
			if (tls_frame(c->tls, M_SINK, buf, MIB) || tls_io(c->tls, &got, 4, true))
				die("TLS sink");
		} else if (cell_client_call(c->quic, M_SINK, buf, MIB, &got, 4, &len,
					    cell_deadline_in_ms(10000))) {
			fprintf(stderr, "axon_bench: QUIC sink: %s\n", cell_last_error(NULL));
			exit(1);
		}
	}
	free(buf);
	return (double)count * MIB / ((double)(now_ns() - t0) / 1e9) / 1e6;
}

/* Calls/s of 64 B echoes with INFLIGHT outstanding. */
static double pipelined(struct conn *c, int t, int count)
{
	struct cell_call *calls[INFLIGHT] = { 0 };
	uint8_t buf[64] = { 0 };
	uint32_t h[2] = { M_ECHO, 64 };
	uint64_t t0 = now_ns();

	for (int i = 0; i < count + INFLIGHT; i++) {
		int slot = i % INFLIGHT;

		if (t == T_TLS) {
			if (i >= INFLIGHT &&
			    (tls_io(c->tls, h, sizeof(h), true) || tls_io(c->tls, buf, h[1], true)))
				die("TLS pipelined");
			h[0] = M_ECHO;
			h[1] = 64;
			if (i < count && tls_frame(c->tls, M_ECHO, buf, 64))
				die("TLS pipelined");
			continue;
		}
		if (calls[slot]) {
			if (cell_call_wait(calls[slot], NULL))
				die("QUIC pipelined call");
			cell_call_end(calls[slot]);
			calls[slot] = NULL;
		}
		if (i < count) {
			void *p;

			if (cell_call_begin(c->quic, M_ECHO, 64, 0, cell_deadline_in_ms(10000),
					    &calls[slot], &p))
				die("QUIC begin");
			memcpy(p, buf, 64);
			if (cell_call_submit(calls[slot], 64))
				die("QUIC submit");
		}
	}
	return count / ((double)(now_ns() - t0) / 1e9);
}

static void verdict(const char *what, double ratio, double goal)
{
	printf("  %-34s QUIC / TCP+TLS = %.2fx  %s (goal <= %.1fx)\n", what, ratio,
	       ratio <= goal ? "goal met" : "goal MISSED", goal);
}

static int client(int iters, int rounds)
{
	static const uint32_t sizes[2] = { 64, 65536 };
	double p50[2][T_N][16], p99[2][T_N][16], ratio[2][16], tput[T_N][16], cps[T_N][16];
	int lost = 0;
	struct conn c;

	if (rounds > 16)
		rounds = 16;
	conn_open(&c);
	for (int r = 0; r < rounds; r++) {
		for (int s = 0; s < 2; s++) {
			for (int t = 0; t < T_N; t++)
				rtt(&c, t, sizes[s], iters, &p50[s][t][r], &p99[s][t][r], &lost);
			ratio[s][r] = p50[s][T_QUIC][r] / p50[s][T_TLS][r];
		}
		for (int t = T_TLS; t < T_N; t++) {
			tput[t][r] = mib_throughput(&c, t, 32);
			cps[t][r] = pipelined(&c, t, 20000);
		}
		fprintf(stderr, "round %d/%d done\n", r + 1, rounds);
	}
	printf("axon bench: %d rounds, %d echoes per row and round (+10%% warm-up), %s\n", rounds,
	       iters, addr);
	for (int s = 0; s < 2; s++) {
		printf("RTT %u B        p50 us   p99 us   (median over rounds)\n", sizes[s]);
		for (int t = 0; t < T_N; t++)
			printf("  %-12s %8.1f %8.1f\n", tname[t], median(p50[s][t], rounds),
			       median(p99[s][t], rounds));
	}
	printf("1 MiB requests, one at a time (MB/s): TCP+TLS %.0f, Cell QUIC %.0f\n",
	       median(tput[T_TLS], rounds), median(tput[T_QUIC], rounds));
	printf("64 B calls/s, %d in flight: TCP+TLS (pipelined) %.0f, Cell QUIC (%d streams) "
	       "%.0f\n",
	       INFLIGHT, median(cps[T_TLS], rounds), INFLIGHT, median(cps[T_QUIC], rounds));
	printf("ratios (median of the per-round ratios):\n");
	verdict("RTT p50 64 B:", median(ratio[0], rounds), 1.5);
	verdict("RTT p50 64 KiB:", median(ratio[1], rounds), 1.5);
	printf("  %-34s QUIC / TCP+TLS = %.2fx\n",
	       "1 MiB throughput:", median(tput[T_QUIC], rounds) / median(tput[T_TLS], rounds));
	printf("  %-34s QUIC / TCP+TLS = %.2fx\n",
	       "calls/s, 128 in flight:", median(cps[T_QUIC], rounds) / median(cps[T_TLS], rounds));
	printf("UDP datagrams lost (echo retried): %d\n", lost);
	cell_client_free(c.quic);
	return 0;
}

int main(int argc, char **argv)
{
	int iters = 2000, rounds = 5, opt;

	if (argc < 4) {
		fprintf(stderr, "usage: axon_bench server|client ADDR PORT [-n N] [-r ROUNDS]\n");
		return 2;
	}
	addr = argv[2];
	port0 = (unsigned int)atoi(argv[3]);
	optind = 4;
	while ((opt = getopt(argc, argv, "n:r:")) != -1)
		if (opt == 'n')
			iters = atoi(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
	if (gnutls_global_init())
		die("gnutls_global_init");
	if (!strcmp(argv[1], "server"))
		return server();
	return client(iters < 10 ? 10 : iters, rounds < 1 ? 1 : rounds);
}
