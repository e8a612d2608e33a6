// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libcell's UART transport calling the example board (mcu/example,
 * sensor.cell), one TAP line per check:
 *
 *   uart_e2e_test sim              the board simulated in this process
 *   uart_e2e_test tcp:HOST:PORT    the firmware in qemu (mcu/qemu-e2e.sh)
 *
 * Every method of the schema, then what the issue asks the board to
 * survive: a wrong fingerprint, an unknown method, a corrupted frame, a
 * truncated frame (cut COBS block; header longer than the bytes), an
 * oversized frame, garbage, and a burst of pipelined calls far larger
 * than the UART's FIFO; the board must answer or refuse each correctly and
 * keep serving.  Then a normal libcell client calls the board through
 * cell_uart_serve_as() with cellc's generated stubs, and GOODBYE ends the
 * board's run.  Timings are printed as TAP comments, never asserted.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cell/time.h>
#include <cell/uart.h>
#include <cell/wire.h>

#include "sensor.cell.h"
#include "sim_board.h"

/* Raw frames for the broken-frame checks, built by hand here. */
#include "cell_mcu.h"

static int tests, failures;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		int ok_ = !!(cond);                                               \
		tests++;                                                          \
		if (!ok_)                                                         \
			failures++;                                               \
		printf("%s %d ", ok_ ? "ok" : "not ok", tests);                   \
		printf(__VA_ARGS__);                                              \
		if (!ok_)                                                         \
			printf(" (line %d: %s; last error: %s)", __LINE__, #cond, \
			       cell_last_error(NULL));                            \
		printf("\n");                                                     \
		fflush(stdout);                                                   \
	} while (0)

static uint64_t dl(void)
{
	return cell_deadline_in_ms(5000);
}

/* COBS(frame + CRC) + 0x00 with the MCU port's encoder; @crc_xor corrupts it. */
static size_t raw_frame(uint8_t *out, size_t cap, uint8_t flags, uint16_t method, uint32_t corr,
			uint64_t fp, const void *p, uint32_t len, uint32_t claimed_len,
			uint32_t crc_xor)
{
	static uint8_t f[CELL_HDR_SIZE + 2048];
	struct cell_hdr h = {
		.version = CELL_WIRE_VERSION,
		.flags = flags,
		.method = method,
		.correlation = corr,
		.len = claimed_len,
		.fingerprint_lo = (uint32_t)fp,
		.fingerprint_hi = (uint32_t)(fp >> 32),
	};
	uint32_t crc;
	size_t n;

	cell_mcu_hdr_encode(&h, f);
	memcpy(f + CELL_HDR_SIZE, p, len);
	crc = cell_mcu_crc32(0, f, CELL_HDR_SIZE + len) ^ crc_xor;
	memcpy(f + CELL_HDR_SIZE + len, &crc, 4);
	n = cell_mcu_cobs_encode(out, cap - 1, f, CELL_HDR_SIZE + len + 4);
	out[n++] = 0;
	return n;
}

static int write_raw(struct cell_uart *u, const void *p, size_t n)
{
	return write(cell_uart_fd(u), p, n) == (ssize_t)n ? 0 : -1;
}

/* The error answer to a raw frame: its status, detail in @detail. */
static int raw_answer(struct cell_uart *u, uint32_t corr, char *detail, size_t cap)
{
	uint8_t p[CELL_MCU_MAX_PAYLOAD];
	struct cell_hdr h;
	uint32_t dlen;

	detail[0] = 0;
	if (cell_uart_recv(u, &h, p, sizeof(p), dl()) != CELL_STATUS_OK)
		return -1;
	if (h.correlation != corr)
		return -2;
	if (!(h.flags & CELL_F_ERROR))
		return 0;
	memcpy(&dlen, p + 4, 4);
	if (dlen >= cap)
		dlen = (uint32_t)cap - 1;
	memcpy(detail, p + 8, dlen);
	detail[dlen] = 0;
	return p[0] | p[1] << 8;
}

static enum cell_status add(struct cell_uart *u, int32_t a, int32_t b, struct sensor_sum *sum)
{
	struct sensor_pair req = { .a = a, .b = b };
	uint32_t n = 0;
	enum cell_status st;

	memset(sum, 0, sizeof(*sum));
	st = cell_uart_call(u, SENSOR_METHOD_ADD, &req, sizeof(req), sum, sizeof(*sum), &n, dl());
	if (st == CELL_STATUS_OK && (n != sizeof(*sum) || sensor_sum_validate(sum, n, NULL)))
		return CELL_STATUS_BAD_MESSAGE;
	return st;
}

static int ping(struct cell_uart *u)
{
	return cell_uart_call(u, CELL_METHOD_PING, NULL, 0, NULL, 0, NULL, dl()) == CELL_STATUS_OK;
}

/* An echo request: seq, @dlen bytes of pattern @fill, the note. */
static uint32_t build_blob(uint8_t *buf, uint32_t cap, uint32_t seq, uint32_t dlen, uint8_t fill,
			   const char *note)
{
	struct cellc_builder b;
	struct sensor_blob *m;
	uint8_t *d;

	cellc_builder_init(&b, buf, cap);
	m = sensor_blob_start(&b);
	if (!m)
		return 0;
	m->seq = seq;
	d = sensor_blob_alloc_data(&b, m, dlen);
	for (uint32_t i = 0; d && i < dlen; i++)
		d[i] = (uint8_t)(fill + i);
	sensor_blob_set_note_str(&b, m, note);
	return cellc_builder_finish(&b);
}

/* Whether @resp (@n bytes) is the echo of build_blob(seq, dlen, fill, note). */
static int echo_ok(const void *resp, uint32_t n, uint32_t seq, uint32_t dlen, uint8_t fill,
		   const char *note_upper)
{
	const struct sensor_blob *m = resp;
	const uint8_t *d;
	const char *note;
	uint32_t got_d, got_n;

	if (sensor_blob_validate(resp, n, NULL) || m->seq != seq + 1)
		return 0;
	d = sensor_blob_data(m, &got_d);
	note = sensor_blob_note(m, &got_n);
	if (got_d != dlen || got_n != strlen(note_upper) || memcmp(note, note_upper, got_n))
		return 0;
	for (uint32_t i = 0; i < dlen; i++)
		if (d[i] != (uint8_t)(fill + i))
			return 0;
	return 1;
}

static void methods(struct cell_uart *u)
{
	_Alignas(8) uint8_t req[256], resp[CELL_MCU_MAX_PAYLOAD];
	struct sensor_sum sum;
	struct sensor_led led = { .index = 3, .on = 1 };
	struct sensor_leds leds;
	struct sensor_nothing nothing = { 0 };
	uint32_t n = 0, len;

	CHECK(add(u, 2, 3, &sum) == CELL_STATUS_OK && sum.value == 5 && !sum.overflow, "add(2, 3) "
										       "= 5");
	CHECK(add(u, INT32_MAX, 1, &sum) == CELL_STATUS_OK && sum.value == (int64_t)INT32_MAX + 1 &&
		      sum.overflow,
	      "add(INT32_MAX, 1) overflows");

	len = build_blob(req, sizeof(req), 41, 100, 7, "hello mcu");
	CHECK(len &&
		      cell_uart_call(u, SENSOR_METHOD_ECHO, req, len, resp, sizeof(resp), &n,
				     dl()) == CELL_STATUS_OK &&
		      echo_ok(resp, n, 41, 100, 7, "HELLO MCU"),
	      "echo: spans both ways (%u bytes)", len);

	CHECK(cell_uart_send(u, SENSOR_METHOD_SET_LED, &led, sizeof(led), dl()) == CELL_STATUS_OK,
	      "set_led(3, on): one-way");
	led.index = 9;
	CHECK(cell_uart_send(u, SENSOR_METHOD_SET_LED, &led, sizeof(led), dl()) == CELL_STATUS_OK,
	      "set_led(9, on): one-way, refused by the handler without an answer");
	CHECK(cell_uart_call(u, SENSOR_METHOD_GET_LEDS, &nothing, sizeof(nothing), &leds,
			     sizeof(leds), &n, dl()) == CELL_STATUS_OK &&
		      n == sizeof(leds) && leds.on[3] == 1 && leds.on[0] == 0 && leds.changes == 1,
	      "get_leds sees the one-way set_led");

	CHECK(cell_uart_call(u, CELL_METHOD_SCHEMA, NULL, 0, resp, sizeof(resp), &n, dl()) ==
			      CELL_STATUS_OK &&
		      n == sizeof(SENSOR_SCHEMA_TEXT) - 1 && !memcmp(resp, SENSOR_SCHEMA_TEXT, n) &&
		      cell_fingerprint(resp, n) == SENSOR_FINGERPRINT,
	      "SCHEMA: the board's canonical text hashes to the host's fingerprint");
	CHECK(ping(u), "PING");
}

static void refusals(struct cell_uart *u)
{
	uint8_t raw[1024], big[CELL_MCU_MAX_PAYLOAD + 60];
	struct sensor_pair pair = { 1, 2 };
	char detail[256];
	_Alignas(8) uint8_t resp[64];
	uint32_t n = 0;
	size_t len;
	int st;

	len = raw_frame(raw, sizeof(raw), CELL_F_REQUEST, SENSOR_METHOD_ADD, 0x1001,
			SENSOR_FINGERPRINT ^ 0x10, &pair, sizeof(pair), sizeof(pair), 0);
	st = write_raw(u, raw, len) ? -1 : raw_answer(u, 0x1001, detail, sizeof(detail));
	CHECK(st == CELL_STATUS_FINGERPRINT_MISMATCH && strstr(detail, "0x"),
	      "wrong fingerprint: FINGERPRINT_MISMATCH (\"%s\")", detail);

	CHECK(cell_uart_call(u, 77, &pair, sizeof(pair), resp, sizeof(resp), &n, dl()) ==
		      CELL_STATUS_UNKNOWN_METHOD,
	      "unknown method 77: UNKNOWN_METHOD");

	CHECK(cell_uart_call(u, SENSOR_METHOD_ADD, &pair, 4, resp, sizeof(resp), &n, dl()) ==
			      CELL_STATUS_BAD_MESSAGE &&
		      strstr(cell_last_error(NULL), "sensor_pair"),
	      "short request: BAD_MESSAGE from the generated validator (\"%s\")",
	      cell_last_error(NULL));

	len = raw_frame(raw, sizeof(raw), CELL_F_REQUEST, SENSOR_METHOD_ADD, 0x1002,
			SENSOR_FINGERPRINT, &pair, sizeof(pair), sizeof(pair), 0x00100000);
	st = write_raw(u, raw, len) ? -1 : raw_answer(u, 0x1002, detail, sizeof(detail));
	CHECK(st == CELL_STATUS_BAD_MESSAGE && !strcmp(detail, "crc"),
	      "corrupted frame (CRC): BAD_MESSAGE \"%s\"", detail);

	len = raw_frame(raw, sizeof(raw), CELL_F_REQUEST, SENSOR_METHOD_ADD, 0x1003,
			SENSOR_FINGERPRINT, &pair, sizeof(pair), 16, 0);
	st = write_raw(u, raw, len) ? -1 : raw_answer(u, 0x1003, detail, sizeof(detail));
	CHECK(st == CELL_STATUS_BAD_MESSAGE && !strcmp(detail, "length_mismatch"),
	      "truncated frame (header promises 16 bytes, 8 sent): BAD_MESSAGE \"%s\"", detail);

	len = raw_frame(raw, sizeof(raw), CELL_F_REQUEST, SENSOR_METHOD_ADD, 0x1004,
			SENSOR_FINGERPRINT, &pair, sizeof(pair), sizeof(pair), 0);
	raw[len / 2] = 0; /* the frame stops halfway */
	CHECK(!write_raw(u, raw, len / 2 + 1) && ping(u), "truncated frame (cut mid-stream): "
							  "dropped, the board keeps serving");

	memset(big, 0x11, sizeof(big));
	len = raw_frame(raw, sizeof(raw), CELL_F_REQUEST, SENSOR_METHOD_ECHO, 0x1005,
			SENSOR_FINGERPRINT, big, sizeof(big), sizeof(big), 0);
	st = write_raw(u, raw, len) ? -1 : raw_answer(u, 0x1005, detail, sizeof(detail));
	CHECK(st == CELL_STATUS_TOO_LARGE, "frame larger than the board's buffer: TOO_LARGE");
	CHECK(cell_uart_call(u, SENSOR_METHOD_ECHO, big, sizeof(big), resp, sizeof(resp), &n,
			     dl()) == CELL_STATUS_TOO_LARGE,
	      "request over max_payload: TOO_LARGE before sending");

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 37 + 1) | 1; /* no zero: one long broken frame */
	raw[sizeof(raw) - 1] = 0;
	CHECK(!write_raw(u, raw, sizeof(raw)) && ping(u), "1 KiB of garbage, then the board "
							  "answers again");
}

#define BURST 32

static void burst(struct cell_uart *u)
{
	static _Alignas(8) uint8_t req[BURST][256], resp[BURST][CELL_MCU_MAX_PAYLOAD];
	struct cell_uart_op ops[BURST];
	uint64_t t0, t1;
	size_t bytes = 0;
	int all = 1;

	for (int i = 0; i < BURST; i++) {
		ops[i] = (struct cell_uart_op){
			.method = SENSOR_METHOD_ECHO,
			.req = req[i],
			.req_len = build_blob(req[i], sizeof(req[i]), (uint32_t)i * 10, 180,
					      (uint8_t)i, "burst"),
			.resp = resp[i],
			.cap = sizeof(resp[i]),
		};
		bytes += ops[i].req_len + CELL_HDR_SIZE + 4;
	}
	t0 = cell_now_ns();
	CHECK(cell_uart_pipeline(u, ops, BURST, dl()) == CELL_STATUS_OK,
	      "burst: %d echo calls (%zu bytes) written back to back", BURST, bytes);
	t1 = cell_now_ns();
	for (int i = 0; i < BURST; i++)
		all &= ops[i].status == CELL_STATUS_OK &&
		       echo_ok(resp[i], ops[i].resp_len, (uint32_t)i * 10, 180, (uint8_t)i,
			       "BURST");
	CHECK(all, "burst: every answer matches its request");
	printf("# burst: %zu request bytes + answers in %.2f ms\n", bytes, (t1 - t0) / 1e6);
	CHECK(ping(u), "after the burst the board keeps serving");
}

static void timing(struct cell_uart *u)
{
	struct sensor_sum sum;
	uint64_t t0 = cell_now_ns();
	int n = 200, ok = 1;

	for (int i = 0; i < n; i++)
		ok &= add(u, i, i, &sum) == CELL_STATUS_OK && sum.value == 2 * i;
	CHECK(ok, "%d add calls in a row", n);
	printf("# add round trip: %.1f us mean over %d calls\n", (cell_now_ns() - t0) / 1e3 / n, n);
}

/* ---- a normal libcell client, through cell_uart_serve_as() ------------- */

static struct cell_server *bridge;

static void *bridge_run(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)cell_server_run(bridge, 1);
}

static void local_cell(struct cell_uart *u)
{
	static const uint16_t ids[] = { SENSOR_METHOD_ADD, SENSOR_METHOD_ECHO, SENSOR_METHOD_STATS,
					SENSOR_METHOD_SET_LED, SENSOR_METHOD_GET_LEDS };
	char dir[] = "/tmp/cell-mcu-XXXXXX", name[64];
	struct cell_server_opts so = sensor_server_opts();
	struct cell_client_opts co = sensor_client_opts();
	struct sensor_pair pair = { 20, 22 };
	struct sensor_sum sum;
	struct sensor_nothing nothing = { 0 };
	struct sensor_leds leds;
	struct cell_client *c = NULL;
	struct cellc_builder b;
	struct cell_call *call;
	struct sensor_blob *req;
	const struct sensor_blob *resp;
	pthread_t t;
	void *rc;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(name, sizeof(name), "mcu-sensor-%d", (int)getpid());
	so.runtime_dir = dir;
	so.backend = CELL_RING_BACKEND_MEMFD;
	co.runtime_dir = dir;
	bridge = cell_uart_serve_as(u, name, ids, 5, &so);
	CHECK(bridge && !pthread_create(&t, NULL, bridge_run, NULL),
	      "cell_uart_serve_as: the board as local cell %s", name);
	if (!bridge)
		return;
	c = cell_client_connect(name, &co);
	CHECK(c, "cell_client_connect(%s) with sensor_client_opts()", name);
	if (c) {
		CHECK(sensor_add(c, &pair, &sum, dl()) == CELL_STATUS_OK && sum.value == 42,
		      "sensor_add() stub through libcell to the board: 42 (path %s)",
		      cell_client_path(c));
		CHECK(sensor_get_leds(c, &nothing, &leds, dl()) == CELL_STATUS_OK &&
			      leds.on[3] == 1,
		      "sensor_get_leds() stub");
		if (sensor_echo_begin(c, 128, dl(), &call, &b, &req) == CELL_STATUS_OK) {
			req->seq = 1;
			sensor_blob_set_data(&b, req, "abc", 3);
			sensor_blob_set_note_str(&b, req, "zero copy");
			CHECK(sensor_echo_finish(call, &b, &resp, NULL) == CELL_STATUS_OK &&
				      resp->seq == 2,
			      "sensor_echo_begin/finish (zero-copy stubs)");
			cell_call_end(call);
		} else {
			CHECK(0, "sensor_echo_begin");
		}
		CHECK(cell_client_call(c, SENSOR_METHOD_ADD, &pair, 3, &sum, sizeof(sum), NULL,
				       dl()) == CELL_STATUS_BAD_MESSAGE &&
			      strstr(cell_last_error(NULL), "sensor_pair"),
		      "the board's refusal reaches the client with its detail (\"%s\")",
		      cell_last_error(NULL));
		cell_client_free(c);
	}
	cell_server_stop(bridge);
	pthread_join(t, &rc);
	cell_server_free(bridge);
	rmdir(dir);
}

static void counters(struct cell_uart *u)
{
	struct sensor_nothing nothing = { 0 };
	struct sensor_counters k;
	struct cell_uart_stats us;
	uint32_t n = 0;

	memset(&k, 0, sizeof(k));
	CHECK(cell_uart_call(u, SENSOR_METHOD_STATS, &nothing, sizeof(nothing), &k, sizeof(k), &n,
			     dl()) == CELL_STATUS_OK &&
		      n == sizeof(k),
	      "stats");
	printf("# board: frames=%u calls=%u bad_frames=%u bad_crc=%u bad_fingerprint=%u "
	       "unknown_method=%u bad_request=%u stalls=%u cobs_errors=%u\n",
	       k.frames, k.calls, k.bad_frames, k.bad_crc, k.bad_fingerprint, k.unknown_method,
	       k.bad_request, k.stalls, k.cobs_errors);
	CHECK(k.bad_fingerprint == 1 && k.bad_crc == 1 && k.unknown_method == 1 &&
		      k.bad_request == 2 && k.bad_frames >= 4,
	      "the board counted each refusal");
	cell_uart_get_stats(u, &us);
	printf("# host: sent=%" PRIu64 " received=%" PRIu64 " bad=%" PRIu64 " stray=%" PRIu64 "\n",
	       us.frames_sent, us.frames_received, us.bad_frames, us.stray);
	CHECK(us.bad_frames == 0 && us.stray == 0, "the host saw no broken or unexpected frame "
						   "from the board");
}

int main(int argc, char **argv)
{
	struct cell_uart_opts o = {
		.sz = sizeof(o),
		.fingerprint = SENSOR_FINGERPRINT,
		.max_payload = CELL_MCU_MAX_PAYLOAD, /* the board's, from its build */
	};
	char target[256], dir[] = "/tmp/cell-mcu-sim-XXXXXX";
	struct cell_uart *u;
	int sim;

	if (argc != 2) {
		fprintf(stderr, "usage: %s sim | tcp:HOST:PORT | DEVICE\n", argv[0]);
		return 2;
	}
	printf("TAP version 13\n");
	sim = !strcmp(argv[1], "sim");
	if (sim) {
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		snprintf(target, sizeof(target), "unix:%s/uart", dir);
		if (sim_board_start(target + 5)) {
			perror("sim board");
			return 1;
		}
	} else {
		snprintf(target, sizeof(target), "%s", argv[1]);
	}
	u = cell_uart_open(target, &o);
	CHECK(u, "cell_uart_open(%s)", target);
	if (!u)
		return 1;
	printf("# schema sensor, fingerprint 0x%016llx\n", (unsigned long long)SENSOR_FINGERPRINT);
	methods(u);
	refusals(u);
	burst(u);
	timing(u);
	local_cell(u);
	counters(u);
	CHECK(cell_uart_call(u, CELL_METHOD_GOODBYE, NULL, 0, NULL, 0, NULL, dl()) ==
		      CELL_STATUS_OK,
	      "GOODBYE");
	cell_uart_close(u);
	if (sim) {
		uint32_t frames, stalls;

		CHECK(!sim_board_join(&frames, &stalls), "simulated board ended after GOODBYE");
		unlink(target + 5);
		rmdir(dir);
	}
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
