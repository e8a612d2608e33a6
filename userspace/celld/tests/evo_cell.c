// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The test cell of evolution and mitosis, built twice from one source:
 * celld_evo_v1 with evo_v1.cell, celld_evo_v2 with evo_v2.cell (another
 * fingerprint), EVO_VERSION telling them apart.
 *
 *   evo_cell serve NAME               serve hello (metrics on, 8 threads;
 *                                     SIGTERM: drains); a reply carries the
 *                                     server's version
 *   evo_cell call NAME SECONDS        call hello for SECONDS with one client
 *                                     of this version; every answer must
 *                                     come from this version
 *   evo_cell load NAME THREADS MS     a tissue load generator: THREADS
 *                                     callers of hello (each handler sleeps
 *                                     MS) over every instance of NAME; after
 *                                     SIGUSR1 one caller only; at SIGTERM or
 *                                     SIGINT it prints "INSTANCE: N" per
 *                                     instance that answered and
 *                                     "sent N answered N failed N"
 *
 * Exit status 0 only if every call was answered OK.  The runtime directory
 * is $CELL_RUNTIME_DIR, as for every cell.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cell/metrics.h>
#include <cell/rpc.h>
#include <cell/tissue.h>
#include <cell/wire.h>

#include "evo.cell.h"

static struct cell_server *server;
static atomic_bool stopping;
static atomic_ullong sent, answered, failed;
static atomic_uint callers = 1u << 30; /* callers below this index go on (SIGUSR1: 1) */

#define MAX_SEEN 16
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[CELL_NAME_MAX + 12];
	unsigned long long answers;
} seen[MAX_SEEN];

static void count_answer(const char *instance)
{
	pthread_mutex_lock(&seen_lock);
	for (int i = 0; i < MAX_SEEN; i++)
		if (!seen[i].name[0] || !strcmp(seen[i].name, instance)) {
			snprintf(seen[i].name, sizeof(seen[i].name), "%s", instance);
			seen[i].answers++;
			break;
		}
	pthread_mutex_unlock(&seen_lock);
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stopping, true);
	if (server)
		cell_server_drain(server, 2000); /* its callers finish, then it stops */
}

static enum cell_status hello(const struct evo_greeting *req, struct evo_greeting *resp,
			      const struct cell_vesicle *v, void *ctx)
{
	struct timespec ts = { req->delay_ms / 1000, (long)(req->delay_ms % 1000) * 1000000 };

	(void)v;
	(void)ctx;
	if (req->delay_ms)
		nanosleep(&ts, NULL);
	*resp = *req;
	resp->version = EVO_VERSION;
	return CELL_STATUS_OK;
}

static int serve(const char *name)
{
	struct cell_server_opts o = evo_server_opts();
	struct evo_handlers h = { .hello = hello };

	o.metrics = cell_metrics_new(NULL);
	server = o.metrics ? cell_server_new(name, &o) : NULL;
	if (!server || evo_serve(server, &h, NULL)) {
		fprintf(stderr, "evo_cell v%d: serve %s: %s\n", EVO_VERSION, name,
			cell_last_error(NULL));
		return 1;
	}
	signal(SIGTERM, on_signal);
	printf("evo_cell v%d: serving %s (fingerprint 0x%016llx)\n", EVO_VERSION, name,
	       (unsigned long long)EVO_FINGERPRINT);
	fflush(stdout);
	return cell_server_run(server, 8) ? 1 : 0;
}

static int call(const char *name, double seconds)
{
	struct cell_client_opts o = evo_client_opts();
	struct cell_client *c = cell_client_connect(name, &o);
	uint64_t end = cell_now_ns() + (uint64_t)(seconds * 1e9), n = 0, wrong = 0;

	if (!c) {
		fprintf(stderr, "evo_cell v%d: connect %s: %s\n", EVO_VERSION, name,
			cell_last_error(NULL));
		return 1;
	}
	while (cell_now_ns() < end) {
		struct evo_greeting req = { .version = EVO_VERSION, .seq = n, .delay_ms = 1 }, resp;
		enum cell_status st = evo_hello(c, &req, &resp, cell_deadline_in_ms(5000));

		if (st != CELL_STATUS_OK) {
			fprintf(stderr, "evo_cell v%d: call %s: %s: %s\n", EVO_VERSION, name,
				cell_status_name(st), cell_last_error(NULL));
			cell_client_free(c);
			return 1;
		}
		wrong += resp.version != EVO_VERSION || resp.seq != n;
		n++;
	}
	cell_client_free(c);
	printf("evo_cell v%d: %llu calls to %s, %llu answered by another version\n", EVO_VERSION,
	       (unsigned long long)n, name, (unsigned long long)wrong);
	return n && !wrong ? 0 : 1;
}

struct loader {
	const char *name;
	unsigned int index, delay_ms;
	pthread_t thread;
};

static void *load_one(void *arg)
{
	struct loader *l = arg;
	struct cell_client_opts co = evo_client_opts();
	struct cell_tissue_opts to = { .sz = sizeof(to), .client = &co, .rescan_ns = 100000000 };
	struct cell_tissue *t = cell_tissue_open(l->name, &to);
	uint64_t seq = 0;

	if (!t) {
		fprintf(stderr, "evo_cell: tissue %s: %s\n", l->name, strerror(errno));
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	while (!atomic_load(&stopping) && l->index < atomic_load(&callers)) {
		struct evo_greeting req = { .version = EVO_VERSION, .delay_ms = l->delay_ms };
		struct cell_tissue_reply r;
		enum cell_status st;

		req.seq = seq++;
		atomic_fetch_add(&sent, 1);
		st = cell_tissue_call(t, EVO_METHOD_HELLO, &req, sizeof(req),
				      cell_deadline_in_ms(5000), &r);
		if (st == CELL_STATUS_OK && r.len == sizeof(req)) {
			atomic_fetch_add(&answered, 1);
			count_answer(r.instance);
			continue;
		}
		fprintf(stderr, "evo_cell: call %llu: %s (%s)\n", (unsigned long long)req.seq,
			cell_status_name(st), r.instance ? r.instance : "no instance");
		atomic_fetch_add(&failed, 1);
	}
	cell_tissue_close(t);
	return NULL;
}

static int load(const char *name, unsigned int threads, unsigned int delay_ms)
{
	struct loader *l = calloc(threads, sizeof(*l));
	sigset_t set;
	int sig = 0;

	if (!l || !threads)
		return 2;
	/* The callers never see a signal: this thread takes them with sigwait(). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (unsigned int i = 0; i < threads; i++) {
		l[i] = (struct loader){ .name = name, .index = i, .delay_ms = delay_ms };
		if (pthread_create(&l[i].thread, NULL, load_one, &l[i]))
			return 1;
	}
	while (sig != SIGTERM && sig != SIGINT)
		if (!sigwait(&set, &sig) && sig == SIGUSR1)
			atomic_store(&callers, 1);
	atomic_store(&stopping, true);
	for (unsigned int i = 0; i < threads; i++)
		pthread_join(l[i].thread, NULL);
	free(l);
	for (int i = 0; i < MAX_SEEN && seen[i].name[0]; i++)
		printf("%s: %llu\n", seen[i].name, seen[i].answers);
	printf("sent %llu answered %llu failed %llu\n", (unsigned long long)sent,
	       (unsigned long long)answered, (unsigned long long)failed);
	return failed || sent != answered ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "call"))
		return call(argv[2], strtod(argv[3], NULL));
	if (argc == 5 && !strcmp(argv[1], "load"))
		return load(argv[2], (unsigned int)strtoul(argv[3], NULL, 10),
			    (unsigned int)strtoul(argv[4], NULL, 10));
	fprintf(stderr, "usage: evo_cell serve NAME | call NAME SECONDS | load NAME THREADS MS\n");
	return 2;
}
