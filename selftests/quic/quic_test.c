// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The QUIC transport on loopback, in one process: a server (its dispatch
 * loop on a thread of the test's own) and clients reaching it by
 * quic://127.0.0.1:PORT.  Calls of 64 B and 64 KiB, one-way messages,
 * deadlines, cancellation, more calls than streams, a fingerprint
 * mismatch, and keys: pinned, unknown (PERMISSION_DENIED, logged), TOFU.
 * TAP output.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <cell/log.h>
#include <cell/quic.h>
#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

static int n, failed;

#define CHECK(cond, ...)                         \
	do {                                     \
		n++;                             \
		if (cond) {                      \
			printf("ok %d ", n);     \
		} else {                         \
			printf("not ok %d ", n); \
			failed = 1;              \
		}                                \
		printf(__VA_ARGS__);             \
		printf("\n");                    \
		fflush(stdout);                  \
	} while (0)

#define FP 0x1234abcd5678ef01ULL

static uint8_t server_sk[64], client_sk[64], stranger_sk[64];
static char server_hex[65], client_hex[65], stranger_hex[65];
static atomic_int oneways;
static atomic_int slow_started;
static char last_log[512];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_log(enum cell_log_level level, const char *line, void *ctx)
{
	(void)level;
	(void)ctx;
	if (getenv("QUIC_TEST_LOG"))
		fprintf(stderr, "log: %s\n", line);
	if (!strstr(line, "refused"))
		return;
	pthread_mutex_lock(&log_lock);
	snprintf(last_log, sizeof(last_log), "%s", line);
	pthread_mutex_unlock(&log_lock);
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status slow(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)req;
	(void)reply;
	(void)ctx;
	atomic_fetch_add(&slow_started, 1);
	usleep(300 * 1000);
	return CELL_STATUS_OK;
}

static enum cell_status count(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)req;
	(void)reply;
	(void)ctx;
	atomic_fetch_add(&oneways, 1);
	return CELL_STATUS_OK;
}

static void hexify(const uint8_t *b, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void make_key(uint8_t sk[64], char hex[65])
{
	uint8_t pk[32];

	crypto_sign_keypair(pk, sk);
	hexify(pk, hex);
}

static const char *write_peers(const char *path, const char *hex)
{
	FILE *f = fopen(path, "w");

	fprintf(f, "# test peers\n\n%s a label\n", hex);
	fclose(f);
	return path;
}

static void *serve(void *arg)
{
	if (cell_server_run(arg, 1))
		fprintf(stderr, "cell_server_run failed\n");
	return NULL;
}

static struct cell_client *connect_as(const char *target, const uint8_t *sk, const char *peers,
				      int tofu, uint64_t fp)
{
	struct cell_quic_opts q = {
		.sz = sizeof(q),
		.identity = sk,
		.known_peers = peers,
		.tofu = tofu,
		.idle_timeout_ms = 2000,
	};
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = fp,
		.quic = &q,
		.connect_deadline = cell_deadline_in_ms(3000),
	};

	return cell_client_connect(target, &o);
}

static void test_calls(struct cell_client *c)
{
	static uint8_t big[64 << 10], out[64 << 10];
	uint32_t len = 0;
	enum cell_status st;
	int ok = 1;

	CHECK(!strcmp(cell_client_path(c), "quic"), "path is \"%s\"", cell_client_path(c));
	st = cell_client_call(c, 1, "hello", 5, out, sizeof(out), &len, cell_deadline_in_ms(2000));
	CHECK(st == CELL_STATUS_OK && len == 5 && !memcmp(out, "hello", 5), "64 B-ish echo: %s",
	      cell_status_name(st));
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	st = cell_client_call(c, 1, big, sizeof(big), out, sizeof(out), &len,
			      cell_deadline_in_ms(3000));
	CHECK(st == CELL_STATUS_OK && len == sizeof(big) && !memcmp(out, big, sizeof(big)),
	      "64 KiB echo: %s", cell_status_name(st));
	for (int i = 0; i < 300 && ok; i++) {
		uint32_t v = (uint32_t)i, r = 0;

		st = cell_client_call(c, 1, &v, 4, &r, 4, &len, cell_deadline_in_ms(2000));
		ok = st == CELL_STATUS_OK && r == v;
	}
	CHECK(ok, "300 calls in a row (more than the 128 streams at once): last %s",
	      cell_status_name(st));
	st = cell_client_call(c, 9, "x", 1, out, sizeof(out), &len, cell_deadline_in_ms(2000));
	CHECK(st == CELL_STATUS_UNKNOWN_METHOD, "unknown method: %s", cell_status_name(st));
	st = cell_client_call(c, CELL_METHOD_PING, NULL, 0, NULL, 0, NULL,
			      cell_deadline_in_ms(2000));
	CHECK(st == CELL_STATUS_OK, "PING control call: %s", cell_status_name(st));
}

static void test_pipelined(struct cell_client *c)
{
	struct cell_call *calls[64];
	struct cell_response r;
	int ok = 1, begun = 0;
	void *buf;

	for (int i = 0; i < 64; i++) {
		if (cell_call_begin(c, 1, 4, 0, cell_deadline_in_ms(3000), &calls[i], &buf))
			break;
		memcpy(buf, &i, 4);
		if (cell_call_submit(calls[i], 4)) {
			cell_call_end(calls[i]);
			break;
		}
		begun++;
	}
	for (int i = 0; i < begun; i++) {
		enum cell_status st = cell_call_wait(calls[i], &r);

		ok &= st == CELL_STATUS_OK && r.len == 4 && !memcmp(r.data, &i, 4);
		cell_call_end(calls[i]);
	}
	CHECK(begun == 64 && ok, "64 calls pipelined, each answered on its own stream (%d begun)",
	      begun);
}

static void test_oneway_deadline_cancel(struct cell_client *c)
{
	struct cell_call *call;
	enum cell_status st;
	uint64_t t0;
	void *buf;

	for (int i = 0; i < 20; i++)
		st = cell_client_send(c, 3, "m", 1, cell_deadline_in_ms(1000));
	/* A call after them: streams are independent, so wait a moment too. */
	for (int i = 0; i < 50 && atomic_load(&oneways) < 20; i++) {
		(void)cell_client_call(c, CELL_METHOD_PING, NULL, 0, NULL, 0, NULL,
				       cell_deadline_in_ms(1000));
		usleep(10000);
	}
	CHECK(atomic_load(&oneways) == 20, "20 one-way messages arrived once each (%d)",
	      atomic_load(&oneways));
	t0 = cell_now_ns();
	st = cell_client_call(c, 2, NULL, 0, NULL, 0, NULL, cell_deadline_in_ms(100));
	t0 = cell_now_ns() - t0;
	CHECK(st == CELL_STATUS_DEADLINE_EXCEEDED && t0 < 250 * CELL_NSEC_PER_MSEC,
	      "deadline of 100 ms on a 300 ms handler: %s after %llu ms", cell_status_name(st),
	      (unsigned long long)(t0 / CELL_NSEC_PER_MSEC));
	usleep(350 * 1000);
	st = cell_call_begin(c, 2, 0, 0, cell_deadline_in_ms(2000), &call, &buf);
	if (st == CELL_STATUS_OK)
		st = cell_call_submit(call, 0);
	if (st == CELL_STATUS_OK) {
		int err = cell_client_cancel(c, cell_call_id(call));

		st = cell_call_wait(call, NULL);
		CHECK(!err && st == CELL_STATUS_CANCELLED, "cancel by id: %s",
		      cell_status_name(st));
		cell_call_end(call);
	} else {
		CHECK(0, "cancel: begin failed: %s", cell_status_name(st));
	}
	usleep(350 * 1000);
	st = cell_client_call(c, 1, "ok", 2, NULL, 0, NULL, cell_deadline_in_ms(2000));
	CHECK(st == CELL_STATUS_TOO_LARGE,
	      "connection still serves after the cancel (%s: reply "
	      "did not fit a 0-byte buffer, as asked)",
	      cell_status_name(st));
}

int main(void)
{
	struct cell_server_opts so = { .sz = sizeof(so), .fingerprint = FP, .no_register = 1 };
	struct cell_quic_opts sq = { .sz = sizeof(sq),
				     .identity = server_sk,
				     .idle_timeout_ms = 2000 };
	char dir[] = "/tmp/cell-quic-test.XXXXXX", target[64], peers[128], cpeers[128];
	struct cell_server *srv;
	struct cell_client *c;
	pthread_t th;
	unsigned int port;
	int err;

	printf("1..17\n");
	if (sodium_init() < 0 || !mkdtemp(dir)) {
		printf("Bail out! setup\n");
		return 1;
	}
	cell_log_set(on_log, NULL);
	make_key(server_sk, server_hex);
	make_key(client_sk, client_hex);
	make_key(stranger_sk, stranger_hex);
	snprintf(peers, sizeof(peers), "%s/server-peers", dir);
	snprintf(cpeers, sizeof(cpeers), "%s/client-peers", dir);
	sq.known_peers = write_peers(peers, client_hex);
	write_peers(cpeers, server_hex);
	so.runtime_dir = dir;
	srv = cell_server_new("quictest", &so);
	if (!srv || cell_server_handle(srv, 1, echo, NULL) ||
	    cell_server_handle(srv, 2, slow, NULL) || cell_server_handle(srv, 3, count, NULL)) {
		printf("Bail out! server: %s\n", cell_last_error(NULL));
		return 1;
	}
	err = cell_server_listen_quic(srv, "127.0.0.1:0", &sq);
	port = cell_server_quic_port(srv);
	CHECK(!err && port, "server listens on UDP 127.0.0.1:%u (%s)", port,
	      err ? cell_last_error(NULL) : "ok");
	snprintf(target, sizeof(target), "quic://127.0.0.1:%u", port);
	pthread_create(&th, NULL, serve, srv);

	c = connect_as(target, client_sk, cpeers, 0, FP);
	CHECK(c != NULL, "known client connects to %s (%s)", target,
	      c ? "ok" : cell_last_error(NULL));
	if (c) {
		test_calls(c);
		test_pipelined(c);
		test_oneway_deadline_cancel(c);
		cell_client_free(c);
	} else {
		for (int i = 0; i < 10; i++)
			CHECK(0, "skipped: no connection");
	}

	c = connect_as(target, stranger_sk, cpeers, 0, FP);
	pthread_mutex_lock(&log_lock);
	CHECK(!c && errno == EACCES && strstr(last_log, stranger_hex),
	      "unknown client key refused (errno %d): log \"%s\"", errno, last_log);
	pthread_mutex_unlock(&log_lock);
	cell_client_free(c);

	write_peers(cpeers, stranger_hex); /* the client does not know the server's key */
	c = connect_as(target, client_sk, cpeers, 0, FP);
	pthread_mutex_lock(&log_lock);
	CHECK(!c && errno == EACCES && strstr(last_log, server_hex),
	      "client refuses an unknown server key: log \"%s\"", last_log);
	pthread_mutex_unlock(&log_lock);
	cell_client_free(c);

	unlink(cpeers);
	c = connect_as(target, client_sk, cpeers, 1, FP ^ 1);
	CHECK(c != NULL, "TOFU client learns the server's key (%s)",
	      c ? "ok" : cell_last_error(NULL));
	if (c) {
		enum cell_status st =
			cell_client_call(c, 1, "x", 1, NULL, 0, NULL, cell_deadline_in_ms(2000));

		CHECK(st == CELL_STATUS_FINGERPRINT_MISMATCH, "another schema fingerprint: %s (%s)",
		      cell_status_name(st), cell_last_error(NULL));
		cell_client_free(c);
	} else {
		CHECK(0, "skipped: no connection");
	}
	cell_server_stop(srv);
	pthread_join(th, NULL);
	cell_server_free(srv);
	unlink(peers);
	unlink(cpeers);
	rmdir(dir);
	return failed;
}
