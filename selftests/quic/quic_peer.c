// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * One end of the QUIC process tests (quic_netns.sh, quic_memory.sh).
 *   quic_peer keygen FILE                      64-byte key (0600), prints the public key
 *   quic_peer server ADDR KEY PEERS IDLE_MS     serve from a dispatch loop; prints
 *                                              "port P", then "conns N T" on changes
 *   quic_peer client TARGET KEY PEERS IDLE_MS MODE ...
 *     calls N SIZE      N echo calls one after the other (unique payloads, 3 s
 *                       deadline each); prints "done ok=A failed=B wrong=C dup=D
 *                       ms=E statuses=NAME:COUNT,..."
 *     par N SIZE K      the same with K calls in flight at once (pipelined)
 *     sink N SIZE K     N calls of SIZE bytes to a sink, K in flight; prints both
 *                       sides' VmRSS before, half-way and after and VmHWM
 *                       before and after: "rss c0= c1= c2= s0= s1= s2= ch0= ch1=
 *                       sh0= sh1=" (kB; c client, s server), then "done ..."
 *     send N SIZE K     N one-way messages of SIZE bytes to the sink (blocking while
 *                       K are unclosed); RSS as for sink, then "sent A failed=B"
 *     loop              echo calls every 20 ms; prints "ready" after the first,
 *                       then "failed STATUS T" at the first failure (T: CLOCK_REALTIME ns)
 *     idle MS           a call, MS ms of silence (past the idle timeout: the
 *                       connection dies), another call; prints "idle ST ST"
 *     refused           expects the connect to fail with EACCES and the status
 *                       PERMISSION_DENIED; prints "refused status=..."
 * Methods: 1 echo, 4 record-and-echo (counts executions per id),
 * 5 duplicates seen, 6 the server's VmRSS and VmHWM, 7 sink (answers the
 * request's length).  PEERS "-" means none (TOFU).  QUIC_PEER_MAX_DATA
 * (bytes) sets the connection window of either side (default 16 MiB).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <cell/log.h>
#include <cell/quic.h>
#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#define FP	 0x51c0ffee00c0ffeeULL
#define SEEN_MAX (1U << 20)
#define MAX_K	 128
#define DEADLINE 3000

static uint8_t *seen; /* executions per id of method 4 */
static unsigned int dups;

struct tally {
	unsigned int ok, failed, wrong;
	unsigned int by_status[CELL_STATUS_MAX + 1];
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* VmRSS and VmHWM of this process, kB. */
static void rss_kb(uint64_t out[2])
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	out[0] = out[1] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			out[0] = v;
		else if (sscanf(line, "VmHWM: %llu", &v) == 1)
			out[1] = v;
	}
	if (f)
		fclose(f);
}

static void on_log(enum cell_log_level level, const char *line, void *ctx)
{
	(void)level;
	(void)ctx;
	fprintf(stderr, "log: %s\n", line);
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status record(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	uint32_t id;

	if (req->len < 4)
		return CELL_STATUS_INVALID_ARGUMENT;
	memcpy(&id, req->data, 4);
	if (seen[id % SEEN_MAX]++)
		dups++;
	return echo(req, reply, ctx);
}

static enum cell_status duplicates(const struct cell_vesicle *req, struct cell_reply *reply,
				   void *ctx)
{
	(void)ctx;
	if (req->len == 1) { /* a new run: forget the ids seen */
		memset(seen, 0, SEEN_MAX);
		dups = 0;
	}
	return cell_reply_send(reply, &dups, sizeof(dups)) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status rss(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	uint64_t v[2];

	(void)req;
	(void)ctx;
	rss_kb(v);
	return cell_reply_send(reply, v, sizeof(v)) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status sink(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	uint32_t len = req->len;

	(void)ctx;
	return cell_reply_send(reply, &len, sizeof(len)) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static int keygen(const char *path)
{
	uint8_t pk[32], sk[64];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || sodium_init() < 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	if (write(fd, sk, sizeof(sk)) != (ssize_t)sizeof(sk))
		return 1;
	close(fd);
	for (int i = 0; i < 32; i++)
		printf("%02x", pk[i]);
	printf("\n");
	return 0;
}

static void quic_opts(struct cell_quic_opts *q, char **argv)
{
	const char *w = getenv("QUIC_PEER_MAX_DATA");

	memset(q, 0, sizeof(*q));
	q->sz = sizeof(*q);
	q->identity_file = argv[0];
	q->known_peers = strcmp(argv[1], "-") ? argv[1] : NULL;
	q->idle_timeout_ms = (uint32_t)atoi(argv[2]);
	q->max_data = w ? strtoull(w, NULL, 0) : 0;
}

static int server(const char *addr, char **argv)
{
	struct cell_server_opts so = { .sz = sizeof(so), .fingerprint = FP, .no_register = 1 };
	char dir[] = "/tmp/quic-peer.XXXXXX";
	struct cell_quic_opts q;
	struct cell_server *srv;
	unsigned int conns = 0, now;

	seen = calloc(SEEN_MAX, 1);
	quic_opts(&q, argv);
	if (!seen || !mkdtemp(dir))
		return 1;
	so.runtime_dir = dir;
	srv = cell_server_new("peer", &so);
	if (!srv || cell_server_handle(srv, 1, echo, NULL) ||
	    cell_server_handle(srv, 4, record, NULL) ||
	    cell_server_handle(srv, 5, duplicates, NULL) || cell_server_handle(srv, 6, rss, NULL) ||
	    cell_server_handle(srv, 7, sink, NULL) || cell_server_listen_quic(srv, addr, &q)) {
		fprintf(stderr, "server: %s\n", cell_last_error(NULL));
		return 1;
	}
	/* The unix socket is not used: nothing must stay behind a kill -9. */
	unlink(cell_server_path(srv));
	rmdir(dir);
	printf("port %u\n", cell_server_quic_port(srv));
	for (;;) {
		struct pollfd p = { .fd = cell_server_fd(srv), .events = POLLIN };

		(void)poll(&p, 1, 20);
		if (cell_server_dispatch(srv) < 0)
			return 1;
		now = cell_server_connections(srv);
		if (now != conns) {
			conns = now;
			printf("conns %u %llu\n", conns, (unsigned long long)realtime_ns());
		}
	}
}

static void count(struct tally *t, enum cell_status st, bool right)
{
	if (st == CELL_STATUS_OK && right)
		t->ok++;
	else if (st == CELL_STATUS_OK)
		t->wrong++;
	else
		t->failed++;
	t->by_status[st <= CELL_STATUS_MAX ? st : CELL_STATUS_MAX]++;
}

static void fill(uint8_t *req, uint32_t size, uint32_t id)
{
	memcpy(req, &id, 4);
	for (uint32_t k = 4; k < size; k++)
		req[k] = (uint8_t)(id + k);
}

/* Sequential calls of method 4. */
static void run_calls(struct cell_client *c, unsigned int n, uint32_t size, uint32_t base,
		      struct tally *t)
{
	uint8_t *req = calloc(1, size), *resp = malloc(size);

	for (uint32_t i = 0; req && resp && i < n; i++) {
		uint32_t len = 0;
		enum cell_status st;

		fill(req, size, base + i);
		st = cell_client_call(c, 4, req, size, resp, size, &len,
				      cell_deadline_in_ms(DEADLINE));
		count(t, st, len == size && !memcmp(req, resp, size));
	}
	free(req);
	free(resp);
}

struct slot {
	struct cell_call *call;
	uint32_t id;
};

static void slot_wait(struct slot *s, uint16_t method, uint32_t size, uint8_t *want,
		      struct tally *t)
{
	struct cell_response r;
	enum cell_status st = cell_call_wait(s->call, &r);
	bool right = false;

	if (st == CELL_STATUS_OK && method == 7) {
		right = r.len == 4 && !memcmp(r.data, &size, 4);
	} else if (st == CELL_STATUS_OK) {
		fill(want, size, s->id);
		right = r.len == size && !memcmp(r.data, want, size);
	}
	count(t, st, right);
	cell_call_end(s->call);
	s->call = NULL;
}

/* @n calls of @method, @k in flight at once, each waited for in order. */
static void run_par(struct cell_client *c, uint16_t method, unsigned int n, uint32_t size,
		    unsigned int k, uint32_t base, struct tally *t)
{
	struct slot slots[MAX_K] = { 0 };
	uint8_t *want = malloc(size);

	for (uint32_t i = 0; want && i < n + k; i++) {
		struct slot *s = &slots[i % k];
		enum cell_status st;
		void *buf;

		if (s->call)
			slot_wait(s, method, size, want, t);
		if (i >= n)
			continue;
		s->id = base + i;
		st = cell_call_begin(c, method, size, 0, cell_deadline_in_ms(DEADLINE), &s->call,
				     &buf);
		if (!st) {
			fill(buf, size, s->id);
			st = cell_call_submit(s->call, size);
			if (st) {
				count(t, st, false);
				cell_call_end(s->call);
				s->call = NULL;
			}
		} else {
			count(t, st, false);
		}
	}
	free(want);
}

static void print_done(const struct tally *t, uint32_t d, uint64_t t0)
{
	printf("done ok=%u failed=%u wrong=%u dup=%u ms=%llu statuses=", t->ok, t->failed, t->wrong,
	       d, (unsigned long long)((cell_now_ns() - t0) / 1000000));
	for (int st = 0, first = 1; st <= CELL_STATUS_MAX; st++)
		if (t->by_status[st]) {
			printf("%s%s:%u", first ? "" : ",", cell_status_name(st), t->by_status[st]);
			first = 0;
		}
	printf("\n");
}

/* Calls with executions counted by the server (method 4): @k 0 is sequential. */
static int calls(struct cell_client *c, unsigned int n, uint32_t size, unsigned int k)
{
	struct tally t = { 0 };
	uint64_t t0 = cell_now_ns();
	uint32_t len, d0 = 0, d = 0, base;

	size = size < 4 ? 4 : size;
	/* A new run: the server forgets the ids it saw. */
	randombytes_buf(&base, sizeof(base));
	if (cell_client_call(c, 5, "r", 1, &d0, sizeof(d0), &len, cell_deadline_in_ms(DEADLINE)))
		d0 = UINT32_MAX;
	if (k)
		run_par(c, 4, n, size, k, base, &t);
	else
		run_calls(c, n, size, base, &t);
	if (d0 == UINT32_MAX ||
	    cell_client_call(c, 5, NULL, 0, &d, sizeof(d), &len, cell_deadline_in_ms(DEADLINE)))
		d = UINT32_MAX;
	print_done(&t, d, t0);
	return 0;
}

static void server_rss(struct cell_client *c, uint64_t v[2])
{
	uint32_t len;

	if (cell_client_call(c, 6, NULL, 0, v, 2 * sizeof(*v), &len, cell_deadline_in_ms(DEADLINE)))
		v[0] = v[1] = 0;
}

/* @n one-way messages of @size; each waits for a slot (block_when_full). */
static void run_send(struct cell_client *c, unsigned int n, uint32_t size, struct tally *t)
{
	uint8_t *msg = calloc(1, size);

	for (unsigned int i = 0; msg && i < n; i++) {
		enum cell_status st =
			cell_client_send(c, 7, msg, size, cell_deadline_in_ms(DEADLINE));

		count(t, st, true);
	}
	free(msg);
}

/* @n calls of @size bytes to the sink, @k in flight; RSS of both sides. */
static int sinks(struct cell_client *c, unsigned int n, uint32_t size, unsigned int k, bool oneway)
{
	uint64_t cr[3][2], sr[3][2], t0 = cell_now_ns();
	struct tally t = { 0 };

	rss_kb(cr[0]);
	server_rss(c, sr[0]);
	if (oneway)
		run_send(c, n / 2, size, &t);
	else
		run_par(c, 7, n / 2, size, k, 0, &t);
	rss_kb(cr[1]);
	server_rss(c, sr[1]);
	if (oneway)
		run_send(c, n - n / 2, size, &t);
	else
		run_par(c, 7, n - n / 2, size, k, 0, &t);
	rss_kb(cr[2]);
	server_rss(c, sr[2]);
	printf("rss c0=%llu c1=%llu c2=%llu s0=%llu s1=%llu s2=%llu ch0=%llu ch1=%llu sh0=%llu "
	       "sh1=%llu\n",
	       (unsigned long long)cr[0][0], (unsigned long long)cr[1][0],
	       (unsigned long long)cr[2][0], (unsigned long long)sr[0][0],
	       (unsigned long long)sr[1][0], (unsigned long long)sr[2][0],
	       (unsigned long long)cr[0][1], (unsigned long long)cr[2][1],
	       (unsigned long long)sr[0][1], (unsigned long long)sr[2][1]);
	print_done(&t, 0, t0);
	return 0;
}

static int loop(struct cell_client *c)
{
	enum cell_status st;
	bool said = false;

	for (;;) {
		st = cell_client_call(c, 1, "ping", 4, NULL, 0, NULL, cell_deadline_in_ms(5000));
		if (st != CELL_STATUS_TOO_LARGE) /* the 4-byte echo into 0 bytes: alive */
			break;
		if (!said)
			printf("ready\n");
		said = true;
		usleep(20000);
	}
	printf("failed %s %llu\n", cell_status_name(st), (unsigned long long)realtime_ns());
	return 0;
}

/* A call, @ms of silence, a call: the second connects again by itself. */
static int idle(struct cell_client *c, unsigned int ms)
{
	enum cell_status a, b;

	a = cell_client_call(c, 1, NULL, 0, NULL, 0, NULL, cell_deadline_in_ms(DEADLINE));
	usleep(ms * 1000U);
	b = cell_client_call(c, 1, NULL, 0, NULL, 0, NULL, cell_deadline_in_ms(DEADLINE));
	printf("idle %s %s\n", cell_status_name(a), cell_status_name(b));
	return 0;
}

static int client(const char *target, char **argv, int argc)
{
	struct cell_client_opts o = { .sz = sizeof(o), .fingerprint = FP, .max_inflight = MAX_K };
	struct cell_quic_opts q;
	struct cell_client *c;
	const char *mode = argv[3];
	unsigned int n = argc > 4 ? (unsigned int)atoi(argv[4]) : 0, k = 0;
	uint32_t size = argc > 5 ? (uint32_t)atoi(argv[5]) : 0;

	if (argc > 6)
		k = (unsigned int)atoi(argv[6]);
	if (k > MAX_K)
		k = MAX_K;
	quic_opts(&q, argv);
	q.block_when_full = !strcmp(mode, "send");
	if (k) /* calls in flight; also the budget of ended calls' unclosed streams */
		o.max_inflight = k;
	o.quic = &q;
	o.connect_deadline = cell_deadline_in_ms(10000);
	c = cell_client_connect(target, &o);
	if (!strcmp(mode, "refused")) {
		int e = errno;
		enum cell_status st = CELL_STATUS_OK;
		const char *why = cell_last_error(&st);

		printf("%s errno=%d status=%s %s\n",
		       !c && e == EACCES && st == CELL_STATUS_PERMISSION_DENIED ? "refused"
										: "not-refused",
		       e, cell_status_name(st), why);
		return 0;
	}
	if (!c) {
		printf("connect-failed %s\n", cell_last_error(NULL));
		return 1;
	}
	if (!strcmp(mode, "calls") && argc > 5)
		return calls(c, n, size, 0);
	if (!strcmp(mode, "par") && k)
		return calls(c, n, size, k);
	if (!strcmp(mode, "sink") && k)
		return sinks(c, n, size, k, false);
	if (!strcmp(mode, "send"))
		return sinks(c, n, size, 0, true);
	if (!strcmp(mode, "idle"))
		return idle(c, n);
	if (!strcmp(mode, "loop"))
		return loop(c);
	return 2;
}

int main(int argc, char **argv)
{
	if (getenv("QUIC_PEER_LOG"))
		cell_log_set(on_log, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "keygen"))
		return keygen(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "server"))
		return server(argv[2], argv + 3);
	if (argc >= 7 && !strcmp(argv[1], "client"))
		return client(argv[2], argv + 3, argc - 3);
	fprintf(stderr, "usage: see the comment at the top of quic_peer.c\n");
	return 2;
}
