// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libcell's CAN-FD transport on a simulated bus: SOCK_SEQPACKET
 * socketpairs, one struct canfd_frame per datagram, and a hub thread that
 * copies every frame to every other node as a CAN bus does.  On it: the
 * MCU port's CAN server compiled for the host (a thread feeding it frames
 * as the RX interrupt would), libcell hosts calling it, alone and two at
 * once (interleaved segments), through broken segments and a flood from
 * another node, discovery, serve_as, and a host calling another host.
 * One TAP line per check; every wait has a deadline of a few seconds.
 *
 *   can_e2e_test          the simulated bus
 *   can_e2e_test vcan0    SocketCAN: every node a CAN_RAW socket on that
 *                         CAN-FD interface (tools/vm/can.sh, in the VM)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/can.h>
#include <linux/can/raw.h>

#include <cell/can.h>
#include <cell/time.h>

#include "cell_mcu.h"

#define NODES	    8
#define MCU	    0x20
#define FP	    0x1122334455667788ULL
#define METHOD_ECHO 1

static int tests, failures;
static const char *ifname; /* SocketCAN mode */
static int raw_socket(const char *ifname);

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

/* ---- the bus --------------------------------------------------------------- */

static int hub_end[NODES], node_end[NODES];
static atomic_int stop, stop2; /* the bus and board; the helpers */
/* Ends that get frames: a node is on the bus from when it is opened. */
static atomic_int attached[NODES];

static void *hub(void *arg)
{
	struct pollfd pfd[NODES];
	struct canfd_frame f;

	(void)arg;
	for (int i = 0; i < NODES; i++)
		pfd[i] = (struct pollfd){ .fd = hub_end[i], .events = POLLIN };
	while (!atomic_load(&stop)) {
		if (poll(pfd, NODES, 50) <= 0)
			continue;
		for (int i = 0; i < NODES; i++) {
			if (!(pfd[i].revents & POLLIN) || read(hub_end[i], &f, sizeof(f)) <= 0)
				continue;
			for (int k = 0; k < NODES; k++) /* a node that is gone: lost */
				if (k != i && atomic_load(&attached[k]))
					(void)!write(hub_end[k], &f, sizeof(f));
		}
	}
	return NULL;
}

static void raw_send(int end, uint32_t id, const uint8_t *data, uint8_t len)
{
	struct canfd_frame f = { .can_id = id | CAN_EFF_FLAG, .len = len };

	memcpy(f.data, data, len);
	if (write(node_end[end], &f, sizeof(f)) != sizeof(f))
		perror("raw_send");
}

/* ---- the MCU node ------------------------------------------------------------ */

static struct cell_mcu_can_server mcu;

static int mcu_send(void *hw, uint32_t id, const uint8_t *data, uint8_t len)
{
	raw_send(*(int *)hw, id, data, len);
	return 0;
}

static enum cell_status echo(struct cell_mcu_call *call, void *ctx)
{
	(void)ctx;
	memcpy(call->resp, call->req, call->req_len);
	call->resp_len = call->req_len;
	return CELL_STATUS_OK;
}

static void *mcu_thread(void *arg)
{
	static const struct cell_mcu_method methods[] = { { .id = METHOD_ECHO, .fn = echo } };
	static int end = 0;
	static const struct cell_mcu_can can = { .send = mcu_send, .hw = &end };
	struct pollfd pfd = { .fd = node_end[0], .events = POLLIN };
	struct canfd_frame f;

	(void)arg;
	cell_mcu_can_server_init(&mcu, &can, MCU, FP, methods, 1, NULL);
	while (!atomic_load(&stop)) {
		if (poll(&pfd, 1, 20) > 0 && read(node_end[0], &f, sizeof(f)) == sizeof(f) &&
		    (f.can_id & CAN_EFF_FLAG))
			cell_mcu_can_server_rx(&mcu, f.can_id & CAN_EFF_MASK, f.data, f.len);
		while (cell_mcu_can_server_serve(&mcu))
			;
		static uint64_t next;
		if (cell_now_ns() >= next) {
			cell_mcu_can_server_announce(&mcu, "echo", 4);
			next = cell_now_ns() + 100 * CELL_NSEC_PER_MSEC;
		}
	}
	return NULL;
}

/* ---- helpers ----------------------------------------------------------------- */

static struct cell_can *host(int end, uint8_t addr, uint8_t peer, uint8_t window,
			     uint32_t max_payload)
{
	struct cell_can_opts o = { .sz = sizeof(o),
				   .fingerprint = FP,
				   .addr = addr,
				   .peer = peer,
				   .window = window,
				   .max_payload = max_payload };

	atomic_store(&attached[end], 1);
	/* On vcan a socket queues every frame: open it when the node joins. */
	if (ifname)
		node_end[end] = raw_socket(ifname);
	return cell_can_open_fd(dup(node_end[end]), &o);
}

static int echo_ok(struct cell_can *u, uint32_t n, unsigned int seed)
{
	static _Thread_local uint8_t req[4096], resp[4096];
	uint32_t len = 0;

	for (uint32_t i = 0; i < n; i++)
		req[i] = (uint8_t)(i * 13 + seed);
	return cell_can_call(u, METHOD_ECHO, req, n, resp, sizeof(resp), &len,
			     cell_deadline_in_ms(3000)) == CELL_STATUS_OK &&
	       len == n && !memcmp(req, resp, n);
}

struct worker {
	struct cell_can *u;
	int ok;
};

static void *calls(void *arg)
{
	struct worker *w = arg;

	w->ok = 0;
	for (int i = 0; i < 30; i++)
		w->ok += echo_ok(w->u, (uint32_t)(i * 21 % 600), (unsigned int)i);
	return NULL;
}

static atomic_int flood_sent; /* frames flood() sent so far */

static void *flood(void *arg)
{
	uint8_t junk[64];
	int i = 0;

	(void)arg;
	memset(junk, 0x5a, sizeof(junk));
	while (!atomic_load(&stop2)) {
		junk[0] = (uint8_t)(i % 3 == 0 ? 0x10 : i % 3 == 1 ? 0x21 : 0x77);
		junk[1] = 0xff;
		junk[2] = 0x01;
		raw_send(5, CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, 1, MCU, 0x66), junk, 64);
		atomic_fetch_add(&flood_sent, 1);
		if (++i % 8 == 0)
			usleep(200);
	}
	return NULL;
}

/* The host node for host-to-host calls: answers echo until GOODBYE. */
static void *host_server(void *arg)
{
	struct cell_can *u = arg;
	static uint8_t buf[4096];
	struct cell_hdr h;

	while (cell_can_recv(u, &h, buf, sizeof(buf), cell_deadline_in_ms(5000)) ==
	       CELL_STATUS_OK) {
		uint32_t len = h.len;

		if (h.method == CELL_METHOD_GOODBYE)
			break;
		h.flags = CELL_F_RESPONSE;
		if (cell_can_send_frame(u, &h, buf, len, cell_deadline_in_ms(3000)))
			break;
	}
	return NULL;
}

static void *serve(void *arg)
{
	struct pollfd pfd = { .fd = cell_server_fd(arg), .events = POLLIN };

	while (!atomic_load(&stop2))
		if (poll(&pfd, 1, 20) > 0 && cell_server_dispatch(arg) < 0)
			break;
	return NULL;
}

/* A CAN_RAW socket taking CAN-FD frames on @ifname, or -1. */
static int raw_socket(const char *ifname)
{
	struct sockaddr_can a = { .can_family = AF_CAN };
	struct ifreq ifr = { 0 };
	int fd = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW), one = 1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd < 0 || ioctl(fd, SIOCGIFINDEX, &ifr) ||
	    setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &one, sizeof(one)))
		return -1;
	a.can_ifindex = ifr.ifr_ifindex;
	return bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -1 : fd;
}

/* A bus whose sends work @ok_sends times, then fail; nothing ever answers. */
struct failing_bus {
	int sends, ok_sends;
};

static int failing_send(void *ctx, uint32_t id, const uint8_t *data, uint8_t len, uint64_t deadline)
{
	struct failing_bus *fb = ctx;

	(void)id, (void)data, (void)len, (void)deadline;
	return fb->sends++ < fb->ok_sends ? 0 : -EIO;
}

static int silent_recv(void *ctx, uint32_t *id, uint8_t *data, uint8_t *len, uint64_t deadline)
{
	(void)ctx, (void)id, (void)data, (void)len;
	while (cell_now_ns() < deadline)
		usleep(1000);
	return -ETIMEDOUT;
}

/*
 * A failed send fails that op and every op not yet sent (none is tried);
 * the ones sent before still wait for their answers (as cell_uart_pipeline).
 */
static int pipeline_send_failure_ok(void)
{
	struct failing_bus fb = { .ok_sends = 1 };
	struct cell_can_driver drv = {
		.sz = sizeof(drv), .send = failing_send, .recv = silent_recv, .ctx = &fb
	};
	struct cell_can_opts o = {
		.sz = sizeof(o), .fingerprint = FP, .addr = 0x07, .peer = MCU, .window = 2
	};
	struct cell_can *u = cell_can_open_driver(&drv, &o);
	struct cell_can_op ops[5] = { { .method = METHOD_ECHO } };
	enum cell_status st;
	int ok;

	if (!u)
		return 0;
	for (int i = 1; i < 5; i++)
		ops[i] = ops[0];
	st = cell_can_pipeline(u, ops, 5, cell_deadline_in_ms(50));
	ok = st == CELL_STATUS_DEADLINE_EXCEEDED &&
	     ops[0].status == CELL_STATUS_DEADLINE_EXCEEDED && fb.sends == 2;
	for (int i = 1; i < 5; i++)
		ok &= ops[i].status == CELL_STATUS_UNAVAILABLE && ops[i].resp_len == 0;
	if (!ok)
		printf("# pipeline: status %d, ops %d %d %d %d %d, %d sends\n", st, ops[0].status,
		       ops[1].status, ops[2].status, ops[3].status, ops[4].status, fb.sends);
	cell_can_close(u);
	return ok;
}

int main(int argc, char **argv)
{
	pthread_t th_hub, th_mcu, th;
	struct cell_can *a, *b;
	struct cell_can_node nodes[4];
	struct cell_can_stats st;
	struct worker wa, wb;
	int ok;

	printf("TAP version 13\n");
	ifname = argc > 1 ? argv[1] : NULL;
	for (int i = 0; ifname && i < NODES; i += 5) {
		node_end[i] = raw_socket(argv[1]);
		if (node_end[i] < 0) {
			printf("1..0 # SKIP no CAN-FD interface %s: %m\n", argv[1]);
			return 4;
		}
		printf("# node %d: CAN_RAW on %s\n", i, argv[1]);
	}
	for (int i = 0; argc == 1 && i < NODES; i++) {
		int sv[2];

		/* The hub never waits: a node that does not read loses frames. */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ||
		    fcntl(sv[0], F_SETFL, O_NONBLOCK)) {
			printf("1..0 # SKIP socketpair: %m\n");
			return 4;
		}
		hub_end[i] = sv[0];
		node_end[i] = sv[1];
	}
	atomic_store(&attached[0], 1);
	if (argc == 1)
		pthread_create(&th_hub, NULL, hub, NULL);
	pthread_create(&th_mcu, NULL, mcu_thread, NULL);

	a = host(1, 0x01, MCU, 2, 640);
	CHECK(a, "host 0x01 opens the simulated bus");
	if (!a)
		return 1;
	CHECK(cell_can_discover(a, cell_deadline_in_ms(300)) >= 1 &&
		      cell_can_nodes(a, nodes, 4) >= 1 && nodes[0].addr == MCU &&
		      !strcmp(nodes[0].name, "echo") && nodes[0].fingerprint == FP &&
		      nodes[0].slots == 2 && nodes[0].max_payload == 640,
	      "discovery: the MCU node announces its name, fingerprint, buffers");

	ok = 1;
	for (uint32_t n = 0; n <= 616; n = n < 70 ? n + 1 : n + 37)
		ok &= echo_ok(a, n, n);
	CHECK(ok, "echo of every payload length 0..70, then up to 616 bytes (1..11 segments)");
	CHECK(echo_ok(a, 616, 1), "the largest frame the board takes (640 payload limit)");

	{
		static uint8_t req[20][300], resp[20][300];
		struct cell_can_op ops[20];

		for (int i = 0; i < 20; i++) {
			memset(req[i], i, sizeof(req[i]));
			ops[i] = (struct cell_can_op){ .method = METHOD_ECHO,
						       .req = req[i],
						       .req_len = (uint32_t)(i * 15),
						       .resp = resp[i],
						       .cap = sizeof(resp[i]) };
		}
		ok = cell_can_pipeline(a, ops, 20, cell_deadline_in_ms(5000)) == CELL_STATUS_OK;
		for (int i = 0; ok && i < 20; i++)
			ok = ops[i].resp_len == ops[i].req_len &&
			     !memcmp(resp[i], req[i], ops[i].req_len);
		CHECK(ok, "a pipeline of 20 calls, two outstanding (the board's buffers)");
	}

	{
		uint32_t before = mcu.rx.errors[CELL_MCU_CAN_E_SEQUENCE] +
				  mcu.rx.errors[CELL_MCU_CAN_E_DLC] +
				  mcu.rx.errors[CELL_MCU_CAN_E_PCI] +
				  mcu.rx.errors[CELL_MCU_CAN_E_UNEXPECTED];
		uint8_t seg[64];
		uint32_t id = CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, 1, MCU, 0x33);

		memset(seg, 0xcc, sizeof(seg));
		seg[0] = 0x10, seg[1] = 200, seg[2] = 0;
		raw_send(5, id, seg, 64); /* first ... */
		seg[0] = 0x22;
		raw_send(5, id, seg, 64); /* ... then out of order */
		seg[0] = 0x21;
		raw_send(5, id, seg, 64); /* unexpected */
		seg[0] = 0x00, seg[1] = 30;
		raw_send(5, id, seg, 16); /* wrong length */
		seg[0] = 0x9f;
		raw_send(5, id, seg, 8); /* no such segment */
		seg[0] = 0x00, seg[1] = 24;
		raw_send(5, id, seg, 32); /* a whole frame with a bad CRC */
		seg[0] = 0x10, seg[1] = 200;
		raw_send(5, id, seg, 64); /* truncated: never finished */
		ok = echo_ok(a, 100, 7);
		/* The board takes node 0x33's frames in its own time. */
		for (int i = 0; i < 100 && !mcu.srv.stats.bad_crc; i++)
			usleep(10000);
		CHECK(ok &&
			      mcu.rx.errors[CELL_MCU_CAN_E_SEQUENCE] +
					      mcu.rx.errors[CELL_MCU_CAN_E_DLC] +
					      mcu.rx.errors[CELL_MCU_CAN_E_PCI] +
					      mcu.rx.errors[CELL_MCU_CAN_E_UNEXPECTED] >=
				      before + 4 &&
			      mcu.srv.stats.bad_crc >= 1,
		      "broken segments from node 0x33 are counted (%u CRC) and the board "
		      "keeps answering",
		      mcu.srv.stats.bad_crc);
	}

	b = host(2, 0x02, MCU, 1, 640);
	wa.u = a;
	wb.u = b;
	{
		uint64_t t0 = cell_now_ns();

		pthread_create(&th, NULL, calls, &wb);
		calls(&wa);
		pthread_join(th, NULL);
		CHECK(b && wa.ok == 30 && wb.ok == 30,
		      "two hosts call the board at once, segments interleaved (%d+%d/60, %.1f "
		      "ms)",
		      wa.ok, wb.ok, (double)(cell_now_ns() - t0) / 1e6);
	}

	{
		pthread_t th_flood;
		uint32_t inter = mcu.rx.errors[CELL_MCU_CAN_E_INTERRUPTED];

		/*
		 * The flood runs before the first call and, with more calls, until
		 * the board has counted an interrupted sequence (at most ~2 s
		 * more; any of those calls failing fails the check): under load
		 * the 20 calls could end before the flood got the CPU.
		 */
		pthread_create(&th_flood, NULL, flood, NULL);
		for (int i = 0; i < 1000 && atomic_load(&flood_sent) < 16; i++)
			usleep(1000);
		ok = 0;
		for (int i = 0; i < 20; i++)
			ok += echo_ok(b, (uint32_t)(i * 31), (unsigned int)i);
		/* More calls (each a round trip with the board) until it counted one. */
		for (int i = 20; i < 200 && mcu.rx.errors[CELL_MCU_CAN_E_INTERRUPTED] == inter;
		     i++) {
			ok += echo_ok(b, (uint32_t)(i * 31), (unsigned int)i) ? 0 : -1000;
			usleep(10000);
		}
		atomic_store(&stop2, 1);
		pthread_join(th_flood, NULL);
		atomic_store(&stop2, 0);
		CHECK(ok == 20 && mcu.rx.errors[CELL_MCU_CAN_E_INTERRUPTED] > inter,
		      "calls go through a flood of segments from node 0x66 (%u interrupted, %u "
		      "foreign at the board)",
		      mcu.rx.errors[CELL_MCU_CAN_E_INTERRUPTED] - inter, mcu.foreign);
	}
	/*
	 * Host 0x01 did not read during the flood: its queue, like a CAN
	 * controller's FIFO, overflowed.  Read it empty before using it.
	 */
	(void)cell_can_discover(a, cell_deadline_in_ms(100));
	cell_can_get_stats(a, &st);
	CHECK(st.foreign > 0 && st.bad_frames == 0 && st.frames_received > 100,
	      "host 0x01 dropped %llu frames for others, received %llu",
	      (unsigned long long)st.foreign, (unsigned long long)st.frames_received);

	{
		char dir[] = "/tmp/cell-can-XXXXXX", name[64];
		static const uint16_t m[] = { METHOD_ECHO };
		struct cell_server_opts so = { .sz = sizeof(so), .fingerprint = FP };
		struct cell_client_opts co = { .sz = sizeof(co), .fingerprint = FP };
		struct cell_server *srv;
		struct cell_client *c = NULL;
		uint8_t resp[64];
		uint32_t len = 0;

		ok = 0;
		if (mkdtemp(dir) && !setenv("CELL_RUNTIME_DIR", dir, 1)) {
			snprintf(name, sizeof(name), "can-echo-%d", getpid());
			srv = cell_can_serve_as(a, name, m, 1, &so);
			if (srv) {
				pthread_create(&th, NULL, serve, srv);
				c = cell_client_connect(name, &co);
				ok = c &&
				     cell_client_call(c, METHOD_ECHO, "hello can", 9, resp,
						      sizeof(resp), &len,
						      cell_deadline_in_ms(3000)) ==
					     CELL_STATUS_OK &&
				     len == 9 && !memcmp(resp, "hello can", 9);
				cell_client_free(c);
				atomic_store(&stop2, 1);
				pthread_join(th, NULL);
				atomic_store(&stop2, 0);
				cell_server_free(srv);
			}
			rmdir(dir);
		}
		CHECK(ok, "serve_as: a local client calls the CAN node by a cell name");
	}

	{
		struct cell_can *d = host(3, 0x03, 0x04, 1, 4096),
				*e = host(4, 0x04, 0x03, 1, 4096);

		ok = 0;
		if (d && e) {
			pthread_create(&th, NULL, host_server, e);
			ok = 1;
			for (uint32_t n = 0; n <= 4096; n += 257)
				ok &= echo_ok(d, n, n);
			ok &= cell_can_send(d, CELL_METHOD_GOODBYE, NULL, 0,
					    cell_deadline_in_ms(1000)) == CELL_STATUS_OK;
			pthread_join(th, NULL);
		}
		CHECK(ok, "host to host: payloads up to 4096 bytes (66 segments)");
		cell_can_close(d);
		cell_can_close(e);
	}

	if (argc > 1) {
		struct cell_can_opts o = { .sz = sizeof(o),
					   .fingerprint = FP,
					   .addr = 0x05,
					   .peer = MCU,
					   .max_payload = 640 };
		struct cell_can *k = cell_can_open(argv[1], &o);

		ok = k && echo_ok(k, 300, 3) && echo_ok(k, 5, 4);
		CHECK(ok, "cell_can_open(%s): CAN_RAW, FD frames, kernel filter", argv[1]);
		cell_can_close(k);
	}
	CHECK(pipeline_send_failure_ok(), "pipeline: a failed send fails the ops not yet sent, the "
					  "sent one waits for its answer");
	atomic_store(&stop, 1);
	pthread_join(th_mcu, NULL);
	if (argc == 1)
		pthread_join(th_hub, NULL);
	cell_can_close(a);
	cell_can_close(b);
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
