// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * fanin: `make bench-fanin` (issue 17, "Fan-in"): one server thread
 * serving N connected clients (default 1000), against the same server
 * serving one client.  Method in Documentation/benchmarks.rst.
 *
 * Two processes: a forked server (cell_server_run(srv, 1), one echo
 * method, pinned to CPU 0) and this one, the clients (pinned to the other
 * CPUs).  Every round, for each path (-b: memfd rings, the unix socket):
 *
 *   1. baseline: one client, one thread, -c calls in a closed loop;
 *   2. memory: the server's resident bytes (the Rss lines of its smaps, its
 *      ring mappings apart: their Size and Rss)
 *      before and after N more clients connected and made one call each;
 *   3. load: -t threads, each owning N/t of the N clients, each thread one
 *      call at a time on its clients in turn (round-robin), so that every
 *      connection is active and the server finds each call through epoll
 *      (the doorbell, or the socket): -k calls per client;
 *   4. fairness: the N clients again, reconnected with CELL_SPIN_NONE, one
 *      thread each, calling in closed loops for -f ms; the calls each
 *      completed (min, max) say whether the server shares itself out.
 *
 * RTT is CLOCK_MONOTONIC around one cell_client_call() of -s bytes.  The
 * verdicts: load p99 <= 5x baseline p99 (the median of the rounds' paired
 * ratios), and memory per connection (resident bytes that are not ring
 * pages, plus the ring mappings at their full size) <= 1.05x the two
 * rings' size (both memfds, geometry, producer and consumer pages
 * included).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#define FP	     0xca95d1be7c4a0017ULL
#define METHOD	     1
#define NAME	     "fanin"
#define WARMUP	     2000
#define P99_BOUND    5.0
#define MEM_BOUND    1.05
#define CALL_TIMEOUT 10000 /* ms */

struct opts {
	unsigned int clients, threads, rounds, size, fair_ms;
	unsigned long base_calls, calls_per_client;
	bool memfd, unix_path, pin;
	const char *csv;
};

static struct opts o = {
	.clients = 1000,
	.threads = 0, /* CPUs - 1, at least 1 */
	.rounds = 3,
	.size = 64,
	.fair_ms = 1000,
	.base_calls = 20000,
	.calls_per_client = 40,
	.memfd = true,
	.unix_path = true,
	.pin = true,
};

static char dir[64];
static int ncpu;

/* ---- helpers ---------------------------------------------------------- */

static int pin_to(int cpu)
{
	cpu_set_t set;

	if (!o.pin || ncpu < 2)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu % ncpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* Client threads: every CPU but the server's. */
static void pin_clients(void)
{
	cpu_set_t set;

	if (!o.pin || ncpu < 2)
		return;
	CPU_ZERO(&set);
	for (int i = 1; i < ncpu; i++)
		CPU_SET(i, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static int raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want) {
		rl.rlim_max = want;
		if (setrlimit(RLIMIT_NOFILE, &(struct rlimit){ want, want }) == 0)
			return 0;
		/* Not privileged: as far as the hard limit goes. */
		getrlimit(RLIMIT_NOFILE, &rl);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double by_double_median(double *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct pct {
	uint64_t p50, p99, p999, max;
};

static struct pct percentiles(uint64_t *v, size_t n)
{
	struct pct p = { 0 };

	if (!n)
		return p;
	qsort(v, n, sizeof(*v), by_value);
	p.p50 = v[n / 2];
	p.p99 = v[n * 99 / 100];
	p.p999 = v[n * 999 / 1000];
	p.max = v[n - 1];
	return p;
}

/* ---- memory of a process ---------------------------------------------- */

struct mem {
	uint64_t rss;	    /* VmRSS, bytes */
	uint64_t ring_size; /* Size of the ring mappings */
	uint64_t ring_rss;  /* their Rss */
	unsigned int rings; /* how many */
};

static int read_mem(pid_t pid, struct mem *m)
{
	char path[64], line[512];
	bool in_ring = false;
	FILE *f;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;
		char name[16];

		if (sscanf(line, "%15[A-Za-z_]: %llu kB", name, &kb) == 2) {
			if (!strcmp(name, "Rss"))
				m->rss += kb << 10;
			if (in_ring && !strcmp(name, "Size"))
				m->ring_size += kb << 10;
			if (in_ring && !strcmp(name, "Rss"))
				m->ring_rss += kb << 10;
			continue;
		}
		/* A mapping's first line: "addr-addr perms offset dev inode [name]". */
		in_ring = strstr(line, "/memfd:cell-ring") != NULL;
		m->rings += in_ring;
	}
	fclose(f);
	return 0;
}

/* ---- the server process ----------------------------------------------- */

static struct cell_server *server;

static void on_term(int sig)
{
	(void)sig;
	if (server)
		cell_server_stop(server);
}

static enum cell_status echo(const struct cell_vesicle *req, struct cell_reply *reply, void *ctx)
{
	(void)ctx;
	if (!reply)
		return CELL_STATUS_OK;
	return cell_reply_send(reply, req->data, req->len) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static int serve(int ready_fd)
{
	struct cell_server_opts so = {
		.sz = sizeof(so),
		.fingerprint = FP,
		.runtime_dir = dir,
		.backend = CELL_RING_BACKEND_MEMFD,
		.max_connections = 2 * o.clients + 16,
		.no_register = 1,
	};
	struct sigaction sa = { .sa_handler = on_term };
	int err;

	if (pin_to(0))
		fprintf(stderr, "fanin: server not pinned: %s\n", strerror(errno));
	server = cell_server_new(NAME, &so);
	if (!server || cell_server_handle(server, METHOD, echo, NULL)) {
		fprintf(stderr, "fanin: server: %s\n", cell_last_error(NULL));
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	close(ready_fd);
	err = cell_server_run(server, 1);
	cell_server_free(server);
	return err ? 1 : 0;
}

/* ---- clients ------------------------------------------------------------ */

static struct cell_client *connect_one(bool unix_path, uint64_t spin_ns)
{
	struct cell_client_opts co = {
		.sz = sizeof(co),
		.fingerprint = FP,
		.runtime_dir = dir,
		.backend = unix_path ? CELL_RING_BACKEND_NONE : CELL_RING_BACKEND_MEMFD,
		.connect_deadline = cell_deadline_in_ms(CALL_TIMEOUT),
		.spin_ns = spin_ns,
	};
	struct cell_client *c = cell_client_connect(NAME, &co);

	if (!c)
		fprintf(stderr, "fanin: connect: %s\n", cell_last_error(NULL));
	else if (cell_client_path_kind(c) != (unix_path ? CELL_PATH_UNIX : CELL_PATH_SHM_MEMFD)) {
		fprintf(stderr, "fanin: path %s, wanted %s\n", cell_client_path(c),
			unix_path ? "unix" : "shm-memfd");
		cell_client_free(c);
		c = NULL;
	}
	return c;
}

static int call(struct cell_client *c, uint8_t *req, uint8_t *resp)
{
	uint32_t len = 0;
	enum cell_status st = cell_client_call(c, METHOD, req, o.size, resp, o.size, &len,
					       cell_deadline_in_ms(CALL_TIMEOUT));

	if (st != CELL_STATUS_OK || len != o.size || memcmp(req, resp, o.size)) {
		fprintf(stderr, "fanin: call: %s (%u bytes) %s\n", cell_status_name(st), len,
			cell_last_error(NULL));
		return -1;
	}
	return 0;
}

struct driver {
	pthread_t tid;
	struct cell_client **c;
	unsigned int n;		  /* clients owned */
	unsigned long rounds;	  /* calls per client (load), 0: until *stop (fairness) */
	const atomic_bool *stop;  /* fairness: set when the time is up */
	pthread_barrier_t *start; /* fairness: every thread started, then go */
	uint64_t *rtt;		  /* rounds * n samples (load) */
	unsigned long done;	  /* calls completed */
	int err;
};

static void *drive(void *arg)
{
	struct driver *d = arg;
	uint8_t *req = calloc(2, o.size ? o.size : 1), *resp = req + o.size;

	if (!req) {
		d->err = -ENOMEM;
		return NULL;
	}
	for (unsigned int i = 0; i < o.size; i++)
		req[i] = (uint8_t)(i * 7 + 1);
	if (d->start)
		pthread_barrier_wait(d->start);
	for (unsigned long r = 0; !d->err && (d->rounds ? r < d->rounds : !atomic_load(d->stop));
	     r++) {
		for (unsigned int i = 0; i < d->n; i++) {
			uint64_t t0 = cell_now_ns();

			req[0] = (uint8_t)r;
			if (call(d->c[i], req, resp)) {
				d->err = -EIO;
				break;
			}
			if (d->rtt)
				d->rtt[r * d->n + i] = cell_now_ns() - t0;
			d->done++;
		}
	}
	free(req);
	return NULL;
}

static void free_clients(struct cell_client **cs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		cell_client_free(cs[i]);
}

static int connect_all(struct cell_client **cs, unsigned int n, bool unix_path, uint64_t spin)
{
	uint8_t req[8] = { 0 }, resp[8];
	unsigned int saved = o.size;

	o.size = sizeof(req);
	for (unsigned int i = 0; i < n; i++) {
		cs[i] = connect_one(unix_path, spin);
		/* One call each: the handshake is done and both rings were used. */
		if (!cs[i] || call(cs[i], req, resp)) {
			fprintf(stderr, "fanin: reached %u of %u clients\n", i, n);
			free_clients(cs, i + !!cs[i]);
			o.size = saved;
			return -1;
		}
	}
	o.size = saved;
	return 0;
}

/* ---- one round ---------------------------------------------------------- */

struct round {
	struct pct base, load, fair;
	double rtt_ratio;
	double mem_per_conn, mem_extra, two_rings;
	double client_mem_per_conn;
	unsigned long fair_min, fair_max, fair_total;
};

static int baseline(bool unix_path, struct pct *out)
{
	struct cell_client *c = connect_one(unix_path, 0);
	struct driver d = { 0 };
	int rc = -1;

	if (!c)
		return -1;
	d.c = &c;
	d.n = 1;
	d.rounds = WARMUP;
	drive(&d);
	if (d.err)
		goto out;
	d.rounds = o.base_calls;
	d.done = 0;
	d.rtt = calloc(o.base_calls, sizeof(*d.rtt));
	if (!d.rtt)
		goto out;
	drive(&d);
	if (!d.err) {
		*out = percentiles(d.rtt, d.done);
		rc = 0;
	}
	free(d.rtt);
out:
	cell_client_free(c);
	return rc;
}

static int run_drivers(struct driver *ds, unsigned int nt)
{
	int err = 0;

	for (unsigned int t = 0; t < nt; t++)
		if (pthread_create(&ds[t].tid, NULL, drive, &ds[t]))
			return -EAGAIN;
	for (unsigned int t = 0; t < nt; t++) {
		pthread_join(ds[t].tid, NULL);
		if (ds[t].err)
			err = ds[t].err;
	}
	return err;
}

static int load(struct cell_client **cs, struct pct *out)
{
	unsigned int nt = o.threads, per = (o.clients + nt - 1) / nt;
	struct driver *ds = calloc(nt, sizeof(*ds));
	uint64_t *all = calloc((size_t)o.clients * o.calls_per_client, sizeof(*all));
	size_t k = 0;
	int rc = -1;

	if (!ds || !all)
		goto out;
	for (unsigned int t = 0, first = 0; t < nt; t++, first += per) {
		ds[t].c = cs + first;
		ds[t].n = first >= o.clients ? 0
					     : (o.clients - first < per ? o.clients - first : per);
		ds[t].rounds = o.calls_per_client;
		ds[t].rtt = all + (size_t)first * o.calls_per_client;
	}
	if (run_drivers(ds, nt))
		goto out;
	for (unsigned int t = 0; t < nt; t++)
		k += ds[t].done;
	*out = percentiles(all, k);
	rc = 0;
out:
	free(ds);
	free(all);
	return rc;
}

/* One thread per client, closed loops for fair_ms: calls completed per client. */
static int fairness(bool unix_path, struct round *r)
{
	struct cell_client **cs = calloc(o.clients, sizeof(*cs));
	struct driver *ds = calloc(o.clients, sizeof(*ds));
	atomic_bool stop = false;
	pthread_barrier_t start;
	pthread_attr_t attr;
	unsigned int started = 0;
	int rc = -1;

	if (!cs || !ds || connect_all(cs, o.clients, unix_path, CELL_SPIN_NONE))
		goto out_free;
	/* The window opens when every thread has started (creating 1000 takes a while). */
	if (pthread_barrier_init(&start, NULL, o.clients + 1))
		goto out_clients;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (; started < o.clients; started++) {
		ds[started] = (struct driver){
			.c = &cs[started], .n = 1, .stop = &stop, .start = &start
		};
		if (pthread_create(&ds[started].tid, &attr, drive, &ds[started]))
			break;
	}
	pthread_attr_destroy(&attr);
	if (started < o.clients) {
		fprintf(stderr, "fanin: fairness: %u of %u threads started\n", started, o.clients);
		exit(1); /* the started ones wait at the barrier for good */
	}
	pthread_barrier_wait(&start);
	usleep(o.fair_ms * 1000U);
	atomic_store(&stop, true);
	r->fair_min = ~0UL;
	r->fair_max = r->fair_total = 0;
	rc = 0;
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(ds[i].tid, NULL);
		if (ds[i].err)
			rc = -EIO;
		r->fair_total += ds[i].done;
		if (ds[i].done < r->fair_min)
			r->fair_min = ds[i].done;
		if (ds[i].done > r->fair_max)
			r->fair_max = ds[i].done;
	}
	if (rc)
		fprintf(stderr, "fanin: fairness: a call failed\n");
	pthread_barrier_destroy(&start);
out_clients:
	free_clients(cs, o.clients);
out_free:
	free(cs);
	free(ds);
	return rc;
}

static int one_round(pid_t srv, bool unix_path, struct round *r)
{
	struct cell_client **cs = calloc(o.clients, sizeof(*cs));
	struct mem before, after, cbefore, cafter;
	double ring_bytes;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!cs || baseline(unix_path, &r->base))
		goto out;
	if (read_mem(srv, &before) || read_mem(getpid(), &cbefore))
		goto out;
	if (connect_all(cs, o.clients, unix_path, 0))
		goto out;
	if (read_mem(srv, &after) || read_mem(getpid(), &cafter))
		goto out_clients;
	/* Resident bytes that are not ring pages, plus every ring mapping whole. */
	r->mem_extra = ((double)after.rss - (double)after.ring_rss) -
		       ((double)before.rss - (double)before.ring_rss);
	ring_bytes = (double)after.ring_size - (double)before.ring_size;
	r->mem_extra /= o.clients;
	r->mem_per_conn = r->mem_extra + ring_bytes / o.clients;
	r->two_rings = 2.0 * (CELL_RING_OFF_DATA + CELL_RPC_DEFAULT_RING);
	r->client_mem_per_conn = (((double)cafter.rss - (double)cafter.ring_rss) -
				  ((double)cbefore.rss - (double)cbefore.ring_rss) +
				  ((double)cafter.ring_size - (double)cbefore.ring_size)) /
				 o.clients;
	if (load(cs, &r->load))
		goto out_clients;
	r->rtt_ratio = r->base.p99 ? (double)r->load.p99 / (double)r->base.p99 : 0;
	rc = 0;
out_clients:
	free_clients(cs, o.clients);
	if (!rc && o.fair_ms)
		rc = fairness(unix_path, r);
out:
	free(cs);
	return rc;
}

/* ---- report ------------------------------------------------------------- */

static void report(const char *path, struct round *rs, unsigned int n, FILE *csv)
{
	double ratios[64], mems[64], fair[64];
	double rr, mm, ff;

	for (unsigned int i = 0; i < n; i++) {
		struct round *r = &rs[i];

		ratios[i] = r->rtt_ratio;
		mems[i] = r->mem_per_conn / r->two_rings;
		fair[i] = r->fair_max ? (double)r->fair_min / (double)r->fair_max : 0;
		printf("  %-5s round %u: 1 client p50 %.1f p99 %.1f us | %u clients p50 %.1f "
		       "p99 %.1f p99.9 %.1f max %.1f us | ratio p99 %.2f\n",
		       path, i + 1, r->base.p50 / 1e3, r->base.p99 / 1e3, o.clients,
		       r->load.p50 / 1e3, r->load.p99 / 1e3, r->load.p999 / 1e3, r->load.max / 1e3,
		       r->rtt_ratio);
		printf("  %-5s round %u: server memory/conn %.1f KiB (non-ring "
		       "resident %.1f KiB) | client memory/conn %.1f KiB | fairness %lu calls in "
		       "%u ms: min %lu max %lu per client\n",
		       path, i + 1, r->mem_per_conn / 1024, r->mem_extra / 1024,
		       r->client_mem_per_conn / 1024, r->fair_total, o.fair_ms, r->fair_min,
		       r->fair_max);
		if (csv)
			fprintf(csv,
				"%s,%u,%u,%u,%llu,%llu,%llu,%llu,%llu,%llu,%.3f,%.0f,%.0f,%.0f,%."
				"0f,"
				"%lu,%lu,%lu\n",
				path, i + 1, o.clients, o.threads, (unsigned long long)r->base.p50,
				(unsigned long long)r->base.p99, (unsigned long long)r->load.p50,
				(unsigned long long)r->load.p99, (unsigned long long)r->load.p999,
				(unsigned long long)r->load.max, r->rtt_ratio, r->mem_per_conn,
				r->mem_extra, r->two_rings, r->client_mem_per_conn, r->fair_total,
				r->fair_min, r->fair_max);
	}
	rr = by_double_median(ratios, n);
	mm = by_double_median(mems, n);
	ff = by_double_median(fair, n);
	printf("%-5s p99 RTT, %u clients / 1 client (median of %u rounds): %.2fx  target <= "
	       "%.2fx: %s\n",
	       path, o.clients, n, rr, P99_BOUND, rr <= P99_BOUND ? "MET" : "NOT MET");
	if (strcmp(path, "unix"))
		printf("%-5s memory per connection / two rings (%.0f KiB): %.3fx  target <= %.2fx: "
		       "%s\n",
		       path, rs[0].two_rings / 1024, mm, MEM_BOUND,
		       mm <= MEM_BOUND ? "MET" : "NOT MET");
	else
		printf("%-5s memory per connection: %.1f KiB (no rings: no target)\n", path,
		       rs[0].mem_per_conn / 1024);
	if (o.fair_ms)
		printf("%-5s fairness, calls per client min/max (median of %u rounds): %.2f "
		       "(figure only: issue 17 names no bound)\n",
		       path, n, ff);
}

static int run_path(pid_t srv, bool unix_path, FILE *csv)
{
	struct round rs[64];
	const char *path = unix_path ? "unix" : "memfd";

	for (unsigned int i = 0; i < o.rounds; i++)
		if (one_round(srv, unix_path, &rs[i])) {
			fprintf(stderr, "fanin: %s round %u failed\n", path, i + 1);
			return -1;
		}
	report(path, rs, o.rounds, csv);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: fanin [-n clients] [-t threads] [-r rounds] [-s bytes] [-c base "
			"calls]\n"
			"             [-k calls per client] [-f fairness ms, 0: none] [-b "
			"memfd,unix]\n"
			"             [-P (no pinning)] [-o csv]\n");
}

static int parse(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "n:t:r:s:c:k:f:b:Po:h")) != -1) {
		switch (ch) {
		case 'n':
			o.clients = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o.threads = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.rounds = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o.size = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o.base_calls = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o.calls_per_client = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			o.fair_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o.memfd = strstr(optarg, "memfd") != NULL;
			o.unix_path = strstr(optarg, "unix") != NULL;
			break;
		case 'P':
			o.pin = false;
			break;
		case 'o':
			o.csv = optarg;
			break;
		default:
			usage();
			return -1;
		}
	}
	if (!o.clients || !o.rounds || o.rounds > 64 || o.size < 8 || o.size > 4096 ||
	    o.base_calls < 100 || !o.calls_per_client || (!o.memfd && !o.unix_path)) {
		usage();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double load1;
	int ready[2], rc = 0, status;
	FILE *csv = NULL;
	pid_t srv;
	char c;

	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (parse(argc, argv))
		return 2;
	if (!o.threads)
		o.threads = ncpu > 2 ? (unsigned int)ncpu - 1 : 1;
	if (o.threads > o.clients)
		o.threads = o.clients;
	/* Per connection: about 5 fds on each side (socket, 2 memfds, eventfds). */
	if (raise_nofile(8 * (rlim_t)o.clients + 256))
		fprintf(stderr, "fanin: RLIMIT_NOFILE: %s\n", strerror(errno));
	snprintf(dir, sizeof(dir), "/tmp/cell-fanin-XXXXXX");
	if (!mkdtemp(dir) || pipe(ready)) {
		perror("fanin");
		return 1;
	}
	srv = fork();
	if (srv == 0) {
		close(ready[0]);
		_exit(serve(ready[1]));
	}
	close(ready[1]);
	if (srv < 0 || read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "fanin: the server did not start\n");
		rc = 1;
		goto out;
	}
	pin_clients();
	if (getloadavg(&load1, 1) != 1)
		load1 = -1;
	printf("fanin: %u clients on one server thread, %u driver thread(s), %u B calls, %u "
	       "rounds, %d CPUs, load %.2f\n",
	       o.clients, o.threads, o.size, o.rounds, ncpu, load1);
	if (o.csv) {
		csv = fopen(o.csv, "we");
		if (csv)
			fprintf(csv, "path,round,clients,threads,base_p50_ns,base_p99_ns,load_p50_"
				     "ns,"
				     "load_p99_ns,load_p999_ns,load_max_ns,p99_ratio,mem_per_conn,"
				     "mem_nonring,two_rings,client_mem_per_conn,fair_calls,"
				     "fair_min,fair_max\n");
	}
	if (o.memfd && run_path(srv, false, csv))
		rc = 1;
	if (o.unix_path && run_path(srv, true, csv))
		rc = 1;
	if (csv)
		fclose(csv);
out:
	if (srv > 0) {
		kill(srv, SIGTERM);
		waitpid(srv, &status, 0);
	}
	rmdir(dir);
	return rc;
}
