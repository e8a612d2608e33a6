// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * iceoryx 2.0 (Debian's iceoryx and libiceoryx-binding-c-dev): request/
 * response through the C binding, zero-copy shared memory managed by
 * RouDi.  The harness starts iox-roudi once for the run (setup) with a
 * mempool configuration that holds the largest message size, and stops
 * it at the end (teardown).
 *
 * The client loans a request chunk and copies the request into it, sends
 * it; the server takes it, loans a response chunk and copies the request
 * into it (the echo), sends it and releases the request; the client
 * takes the response, copies it out and releases it.  The same three
 * copies as the floors and Cell's cell_client_call()/cell_reply_send().
 *
 *  iceoryx-rr-poll     both sides busy-poll (take in a loop with pause):
 *                      iceoryx's lowest latency, to set beside Cell SHM spin
 *  iceoryx-rr-waitset  both sides sleep in a WaitSet until the event
 *                      (REQUEST_RECEIVED, RESPONSE_RECEIVED), as the
 *                      iceoryx examples do
 *
 * Calls/s: ipc_depth() requests sent, then their responses taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/client.h>
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/notification_info.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/server.h>
#include <iceoryx_binding_c/wait_set.h>

#include "ipc.h"

#ifndef BENCH_IOX_ROUDI
#define BENCH_IOX_ROUDI "iox-roudi"
#endif

extern char **environ;

/* ---- RouDi ---------------------------------------------------------------- */

static pid_t roudi_pid = -1;
static char roudi_dir[32];

static const char roudi_config[] = "[general]\nversion = 1\n\n[[segment]]\n\n"
				   "[[segment.mempool]]\nsize = 256\ncount = 2000\n\n"
				   "[[segment.mempool]]\nsize = 2048\ncount = 2000\n\n"
				   "[[segment.mempool]]\nsize = 73728\ncount = 200\n\n"
				   "[[segment.mempool]]\nsize = 1114112\ncount = 40\n";

static void roudi_files(char *cfg, char *log, size_t cap)
{
	snprintf(cfg, cap, "%s/roudi.toml", roudi_dir);
	snprintf(log, cap, "%s/roudi.log", roudi_dir);
}

/* Whether the log says RouDi is ready; the last line in @last. */
static bool roudi_ready(const char *log, char *last, size_t cap)
{
	char line[256];
	bool ready = false;
	FILE *f = fopen(log, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0])
			snprintf(last, cap, "%.100s", line);
		if (strstr(line, "RouDi is ready"))
			ready = true;
	}
	fclose(f);
	return ready;
}

static void roudi_stop(void);

static int roudi_start(char *why, size_t cap)
{
	char cfg[64], log[64], last[160] = "no output";
	char *argv[] = { (char *)BENCH_IOX_ROUDI, (char *)"-c", cfg, (char *)"-l",
			 (char *)"info",	  NULL };
	posix_spawn_file_actions_t fa;
	FILE *f;
	int status;

	snprintf(roudi_dir, sizeof(roudi_dir), "/tmp/cell-roudi-XXXXXX");
	if (!mkdtemp(roudi_dir)) {
		snprintf(why, cap, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	roudi_files(cfg, log, sizeof(cfg));
	f = fopen(cfg, "w");
	if (!f || fputs(roudi_config, f) < 0 || fclose(f)) {
		snprintf(why, cap, "%s: %s", cfg, strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	errno = posix_spawnp(&roudi_pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno) {
		snprintf(why, cap, "cannot start %s: %s", argv[0], strerror(errno));
		roudi_pid = -1;
		return -1;
	}
	for (int i = 0; i < 1000; i++) {
		if (roudi_ready(log, last, sizeof(last)))
			return 0;
		if (waitpid(roudi_pid, &status, WNOHANG) == roudi_pid) {
			roudi_pid = -1;
			roudi_ready(log, last, sizeof(last));
			snprintf(why, cap, "iox-roudi exited at start (another RouDi running?): %s",
				 last);
			roudi_stop();
			return -1;
		}
		usleep(10000);
	}
	snprintf(why, cap, "iox-roudi not ready after 10 s: %s", last);
	roudi_stop();
	return -1;
}

static void remove_roudi_leftovers(void)
{
	struct passwd *pw = getpwuid(getuid());
	char shm[128];

	unlink("/dev/shm/iceoryx_mgmt");
	if (pw) {
		snprintf(shm, sizeof(shm), "/dev/shm/%.64s", pw->pw_name);
		unlink(shm);
	}
	unlink("/tmp/roudi");
	unlink("/tmp/roudi.lock");
}

static void roudi_stop(void)
{
	char cfg[64], log[64];
	int status;

	if (roudi_pid > 0) {
		kill(roudi_pid, SIGTERM);
		for (int i = 0; i < 500 && waitpid(roudi_pid, &status, WNOHANG) != roudi_pid; i++)
			usleep(10000);
		if (kill(roudi_pid, 0) == 0) {
			kill(roudi_pid, SIGKILL);
			waitpid(roudi_pid, &status, 0);
		}
		roudi_pid = -1;
		/*
		 * RouDi 2.0 leaves its shared memory (about 130 MB with this
		 * configuration) and its socket behind; they were ours, since
		 * it held the lock while it ran.
		 */
		remove_roudi_leftovers();
	}
	roudi_files(cfg, log, sizeof(cfg));
	unlink(cfg);
	unlink(log);
	rmdir(roudi_dir);
}

/* ---- the cases ------------------------------------------------------------ */

struct xctx {
	size_t size;
	bool waitset;
	unsigned int run; /* makes service and runtime names unique */
	iox_client_storage_t cstore;
	iox_server_storage_t sstore;
	iox_ws_storage_t wstore;
	iox_client_t cli;
	iox_ws_t ws;
	unsigned char *buf;
	uint64_t seq;
};

static unsigned int runs;

static void *xprepare(size_t size, bool waitset)
{
	struct xctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->size = size;
	c->waitset = waitset;
	c->run = ++runs;
	return c;
}

static void *prep_poll(size_t size)
{
	return xprepare(size, false);
}

static void *prep_ws(size_t size)
{
	return xprepare(size, true);
}

static void names(const struct xctx *c, char *svc, size_t cap)
{
	snprintf(svc, cap, "CellBench%u_%u", (unsigned int)getppid(), c->run);
}

static void runtime(const char *role)
{
	char name[64];

	snprintf(name, sizeof(name), "cellbench-%s-%d", role, (int)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(name);
}

static int xserve(void *ctx, int ready_fd)
{
	struct xctx *c = ctx;
	iox_server_options_t opt;
	iox_notification_info_t info[4];
	iox_server_t srv;
	char svc[64];
	int rc = -1;

	runtime("server");
	names(c, svc, sizeof(svc));
	iox_server_options_init(&opt);
	opt.requestQueueCapacity = 16;
	srv = iox_server_init(&c->sstore, svc, "Echo", "Rr", &opt);
	if (c->waitset) {
		c->ws = iox_ws_init(&c->wstore);
		if (iox_ws_attach_server_event(c->ws, srv, ServerEvent_REQUEST_RECEIVED, 0, NULL) !=
		    WaitSetResult_SUCCESS) {
			fprintf(stderr, "bench: iceoryx: cannot attach the server to a WaitSet\n");
			goto out;
		}
	}
	if (ipc_ready(ready_fd))
		goto out;
	while (!ipc_stopping) {
		const void *req;
		void *resp;
		enum iox_ServerRequestResult r = iox_server_take_request(srv, &req);
		enum iox_AllocationResult a;

		if (r != ServerRequestResult_SUCCESS) {
			if (r != ServerRequestResult_NO_PENDING_REQUESTS) {
				fprintf(stderr, "bench: iox_server_take_request: %d\n", (int)r);
				goto out;
			}
			if (c->waitset) {
				struct timespec to = { 0, 100000000 };
				uint64_t missed;

				iox_ws_timed_wait(c->ws, to, info, 4, &missed);
			} else {
				ipc_relax();
			}
			continue;
		}
		a = iox_server_loan_response(srv, req, &resp, (uint32_t)c->size);
		if (a != AllocationResult_SUCCESS) {
			fprintf(stderr, "bench: iox_server_loan_response: %d\n", (int)a);
			goto out;
		}
		memcpy(resp, req, c->size);
		if (iox_server_send(srv, resp) != ServerSendResult_SUCCESS) {
			fprintf(stderr, "bench: iox_server_send failed\n");
			goto out;
		}
		iox_server_release_request(srv, req);
	}
	rc = 0;
out:
	if (c->waitset) {
		iox_ws_detach_server_event(c->ws, srv, ServerEvent_REQUEST_RECEIVED);
		iox_ws_deinit(c->ws);
	}
	iox_server_deinit(srv);
	iox_runtime_shutdown();
	return rc;
}

static int xconnect(void *ctx)
{
	struct xctx *c = ctx;
	iox_client_options_t opt;
	char svc[64];

	c->buf = malloc(c->size);
	if (!c->buf) {
		perror("bench");
		return -1;
	}
	memset(c->buf, 0x5a, c->size);
	runtime("client");
	names(c, svc, sizeof(svc));
	iox_client_options_init(&opt);
	opt.responseQueueCapacity = 16; /* the most 2.0 allows */
	c->cli = iox_client_init(&c->cstore, svc, "Echo", "Rr", &opt);
	for (int i = 0; iox_client_get_connection_state(c->cli) != ConnectionState_CONNECTED; i++) {
		if (i == 1000) {
			fprintf(stderr, "bench: iceoryx: the client did not connect in 10 s\n");
			return -1;
		}
		usleep(10000);
	}
	if (c->waitset) {
		c->ws = iox_ws_init(&c->wstore);
		if (iox_ws_attach_client_event(c->ws, c->cli, ClientEvent_RESPONSE_RECEIVED, 0,
					       NULL) != WaitSetResult_SUCCESS) {
			fprintf(stderr, "bench: iceoryx: cannot attach the client to a WaitSet\n");
			return -1;
		}
	}
	return 0;
}

static int xsend(struct xctx *c)
{
	enum iox_AllocationResult a;
	enum iox_ClientSendResult s;
	void *req;

	a = iox_client_loan_request(c->cli, &req, (uint32_t)c->size);
	if (a != AllocationResult_SUCCESS) {
		fprintf(stderr, "bench: iox_client_loan_request: %d\n", (int)a);
		return -1;
	}
	ipc_fill(c->buf, c->size, ++c->seq);
	memcpy(req, c->buf, c->size);
	s = iox_client_send(c->cli, req);
	if (s != ClientSendResult_SUCCESS) {
		fprintf(stderr, "bench: iox_client_send: %d\n", (int)s);
		return -1;
	}
	return 0;
}

static int xtake(struct xctx *c, uint64_t seq)
{
	iox_notification_info_t info[4];
	enum iox_ChunkReceiveResult r;
	const void *resp;
	uint64_t missed;

	while ((r = iox_client_take_response(c->cli, &resp)) != ChunkReceiveResult_SUCCESS) {
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
			fprintf(stderr, "bench: iox_client_take_response: %d\n", (int)r);
			return -1;
		}
		if (c->waitset)
			iox_ws_wait(c->ws, info, 4, &missed);
		else
			ipc_relax();
	}
	memcpy(c->buf, resp, c->size);
	iox_client_release_response(c->cli, resp);
	return ipc_check(c->buf, c->size, c->size, seq, "iceoryx");
}

static int xcall(void *ctx)
{
	struct xctx *c = ctx;

	if (xsend(c))
		return -1;
	return xtake(c, c->seq);
}

static int xburst(void *ctx, unsigned int n)
{
	struct xctx *c = ctx;
	unsigned int depth = ipc_depth(c->size);

	for (unsigned int i = 0; i < n; i += depth) {
		uint64_t first = c->seq + 1;

		for (unsigned int k = 0; k < depth; k++)
			if (xsend(c))
				return -1;
		for (unsigned int k = 0; k < depth; k++)
			if (xtake(c, first + k))
				return -1;
	}
	return 0;
}

static const char *xpath(void *ctx)
{
	(void)ctx;
	return "shm";
}

static void xdisconnect(void *ctx)
{
	struct xctx *c = ctx;

	if (c->waitset) {
		iox_ws_detach_client_event(c->ws, c->cli, ClientEvent_RESPONSE_RECEIVED);
		iox_ws_deinit(c->ws);
	}
	iox_client_deinit(c->cli);
	iox_runtime_shutdown();
}

static void xdestroy(void *ctx)
{
	struct xctx *c = ctx;

	free(c->buf);
	free(c);
}

static const struct ipc_case iox_cases[] = {
	{
		.key = "iceoryx-rr-poll",
		.name = "iceoryx 2.0 req/resp, polling",
		.kind = "peer",
		.prepare = prep_poll,
		.serve = xserve,
		.connect = xconnect,
		.call = xcall,
		.burst = xburst,
		.path = xpath,
		.disconnect = xdisconnect,
		.destroy = xdestroy,
	},
	{
		.key = "iceoryx-rr-waitset",
		.name = "iceoryx 2.0 req/resp, WaitSet",
		.kind = "peer",
		.prepare = prep_ws,
		.serve = xserve,
		.connect = xconnect,
		.call = xcall,
		.burst = xburst,
		.path = xpath,
		.disconnect = xdisconnect,
		.destroy = xdestroy,
	},
};

const struct ipc_case_list ipc_iox_cases = {
	.system = "iceoryx",
	.cases = iox_cases,
	.n = sizeof(iox_cases) / sizeof(iox_cases[0]),
	.setup = roudi_start,
	.teardown = roudi_stop,
};
