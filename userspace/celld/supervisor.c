// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld module "capsid": the supervisor.  Cells come from -o capsid.dir=DIR
 * (DIR/ *.conf, one cell each) and from `cell spawn` (the nucleus's spawn
 * method: the same keys, as "KEY=VALUE" options).  Each runs in a capsid
 * (capsid.c) and is kept by its policy:
 *
 *   name=NAME                  the cell (letters, digits, - _ .)
 *   exec=/abs/program ARG...   split on spaces (spawn: the argv as given)
 *   restart=never|on-failure|always       (default on-failure)
 *   max_restarts=N window_s=S  more than N restarts within S seconds: failed
 *                              (default 5 in 60)
 *   backoff_ms=MS backoff_max_ms=MS      first delay, doubled up to the max
 *                              (default 100, 10000); reset after a run of
 *                              window_s seconds
 *   ro=PATH  peer=SOCKET       visible read-only (repeatable, 16 each)
 *   net=1                      the host's network
 *   memory_max=BYTES pids_max=N
 *   ready=ping|none            ready once it answers a Cell PING at
 *                              SOCKET_DIR/NAME.sock (default), or at once
 *   ready_timeout_ms=MS        not ready by then: stopped, and counted as a
 *                              failure by the policy (default 10000)
 *   stop_timeout_ms=MS         SIGTERM, then SIGKILL after MS (default 5000)
 *   log_size=BYTES|Nk|NM       its log ring (logs.c; default 256k)
 *   retire_idle_s=S            evolution: retires an older version of its
 *                              name once no client used it for S seconds
 *   instances=MIN..MAX scale_* mitosis: NAME@K started and retired by the
 *                              load in its metrics (scale(), mitosis.c)
 *   nucleus=0|1 grant=METHOD,... nucleus_rate=N nucleus_burst=N
 *                              its rights on the nucleus (access.c)
 *
 * States, shown by `cell ps` through the cell's registry entry (origin
 * CAPSID): starting -> ready; an exit -> backoff -> starting, or failed /
 * stopped; stopping while a SIGTERM waits for the exit.
 *
 * Stopping (`cell stop`, celld's exit, a cell that never got ready):
 * SIGTERM goes to the cell's program, which is bwrap's grandchild (bwrap,
 * the PID namespace's init, the program); a SIGTERM to bwrap would kill
 * the cell at once (--die-with-parent), and the namespace's init ignores
 * it.  At the deadline SIGKILL goes to bwrap, whose death takes the whole
 * namespace.
 *
 * Instances: a spawn of a running NAME with another program starts beside
 * it as NAME@K (evolution; refused once ready if its fingerprint is a
 * running instance's).  Each instance is a cell here, with its own
 * registry entry, log ring and dirs; while ready it is published as the
 * symlink RUNTIME_DIR/INSTANCE.sock -> capsid/INSTANCE/NAME.sock, where
 * lib/tissue.c finds it.  A timer (on_house) retires idle older versions.
 *
 * Hot swap (`cell swap`, swap_begin() and after): the new program gets
 * ready in a staging socket directory, its socket is renamed over the
 * cell's, the old program drains (SIGTERM) and exits.  `cell rollout`'s
 * canary is an instance NAME@K allowed the cell's fingerprint.
 *
 * A cell's socket directory is RUNTIME_DIR/capsid/INSTANCE, its data
 * directory STATE_DIR/capsid/INSTANCE (INSTANCE: NAME or NAME@K).  Exits are seen through a pidfd on the loop.
 * The cell's stdout and stderr go to its log ring (`cell logs`).
 * Readiness probes block the loop for at most PROBE_TIMEOUT_MS each (as
 * scan.c's probes do).  Documentation/capsid.rst.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cell/rpc.h>

#include "access.h"
#include "celld.h"
#include "nucleus.cell.h"

#ifdef CELLD_HAVE_CAPSID
#include <sys/capability.h>

#include "capsid.h"
#include "capsid_conf.h"
#include "collect.h"
#include "logs.h"
#include "mitosis.h"
#include "probe.h"

/* What starting cells as uid 65534 takes (caps.c keeps them for capsid.dir and capsid.spawn). */
static const int capsid_caps[] = { CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_KILL, CAP_DAC_OVERRIDE };

#define MAX_CELLS	 64
#define PROBE_EVERY_MS	 50
#define PROBE_TIMEOUT_MS 250
#define HAND_OVER_MS	 2000 /* each way of a swap's listener hand-over, at most */
#define TERM_RETRY_MS	 10
#define IDLE_EVERY_MS	 250 /* connections are counted this often */

_Static_assert(CAPSID_CONF_MAX_PATHS == CAPSID_MAX_PATHS, "capsid_conf.h and capsid.h differ");

struct sup_cell {
	struct celld *d;
	struct capsid_conf cf;
	char *argv[CAPSID_CONF_MAX_ARGS + 1];
	char sock_dir[4096], data_dir[4200];
	struct capsid_spec spec;
	uid_t owner;	       /* who asked for it; a conf file's: celld's uid */
	uint8_t swap_nro;      /* cf.ro's last ones that swaps added (swap_ro()) */
	uint8_t state;	       /* enum celld_sup_state */
	bool stop_asked;       /* `cell stop` or celld's exit: not restarted */
	bool not_ready;	       /* stopped for want of readiness: a failure */
	bool unlisted;	       /* its registry entry was refused: said once */
	bool killed;	       /* celld's exit: SIGKILL sent */
	bool term_sent;	       /* this stop's SIGTERM reached the program */
	unsigned int restarts; /* in the current window */
	uint64_t window_start, started_at, deadline; /* now_ms() */
	uint64_t started_ns;			     /* cell_now_ns(), for uptime */
	unsigned int delay_ms;
	unsigned int stop_ms; /* the SIGKILL deadline of this stop, after SIGTERM */
	pid_t pid;	      /* bwrap; 0 when not running */
	pid_t main_pid;	      /* the program (host pid), once seen */
	uint64_t fingerprint;
	uint32_t rtt_us; /* the readiness PING's */
	char *schema;	 /* from the readiness probe */
	int pidfd;
	uv_poll_t *poll;	    /* on the pidfd; freed by its close callback */
	uv_timer_t timer;	    /* backoff, readiness probes, the SIGKILL deadline */
	struct celld_cell_log *log; /* NULL: its output goes to celld's stderr */
	/* Instances: several cells of one name (evolution, mitosis). */
	char inst[CELL_NAME_MAX];   /* its name in cell ps and logs: NAME, or NAME@K */
	unsigned int number;	    /* the K of NAME@K; 0 for NAME */
	struct sup_cell *head;	    /* a mitosis instance: the cell whose conf scales it */
	bool versioned;		    /* started beside a running NAME: compared when ready */
	bool clash;		    /* it had a running instance's fingerprint: failed */
	bool retired;		    /* stopped by mitosis (one fewer): its entry goes at the exit */
	bool linked;		    /* RUNTIME_DIR/INST.sock points at its socket */
	struct stat exe;	    /* its program when it was spawned (same program: refused) */
	uint64_t generation;	    /* the order of spawns: a later one is a newer version */
	uint64_t idle_since;	    /* superseded: no client connected since (ms), 0: one is */
	struct mitosis mito;	    /* a head with instances=MIN..MAX */
	uint64_t next_sample;	    /* ms */
	uint64_t busy_ns, busy_at;  /* its latency sum at the last sample, and when (ns) */
	uint64_t *hist;		    /* its latency buckets then (summed over methods) */
	/*
	 * A hot swap (swap_begin()): @swap is the other process's record while
	 * the new program gets ready, then the old one's while it drains; in
	 * that record @swap_of is the cell.  @sock_host: "" or the staging
	 * directory bound at sock_dir for a swapped-in process.
	 */
	struct sup_cell *swap, *swap_of;
	bool swap_committed; /* in the record: it holds the old process now */
	unsigned int swaps;  /* swaps begun, for the staging directories' names */
	char sock_host[4200];
	char swap_said[256]; /* how the last swap went (`cell swap` asks) */
	bool canary;	     /* `cell rollout`'s canary: the cell's fingerprint beside it */
	/*
	 * Its process's listener hand-over key (CELL_LISTENER_KEY_FD, made
	 * new at each start: new_key()); keyed: it has one.
	 */
	uint8_t key[CELL_LISTENER_KEY_SIZE];
	bool keyed;
};

static struct sup_cell *cells[MAX_CELLS];
static int ncells;
static int available; /* capsid.spawn or capsid.dir, the capabilities, bwrap: asked once */
static char unavailable_why[256];
static bool dirs_prepared;
static uint64_t generations;	/* spawns so far */
static uv_timer_t house;	/* mitosis, retiring idle versions (on_house) */
static bool house_running;
static char nucleus_sock[4200]; /* given to each cell (nucleus=1) */

struct celld_access_conf *celld_capsid_access(pid_t pid, const char **name,
					      const char *const **peers)
{
	for (int i = 0; pid > 0 && i < ncells; i++)
		if (cells[i]->pid == pid) {
			*name = cells[i]->cf.name;
			*peers = cells[i]->spec.peer_sockets;
			return &cells[i]->cf.access;
		}
	return NULL;
}

void celld_capsid_enroll_name(const char *path, char *name, size_t cap)
{
	for (int i = 0; path && i < ncells; i++) {
		struct sup_cell *c = cells[i];
		size_t n = strlen(c->sock_dir), len = strlen(name);

		if (c->number && !strcmp(name, c->cf.name) && !strncmp(path, c->sock_dir, n) &&
		    path[n] == '/' && !strncmp(path + n + 1, name, len) &&
		    !strcmp(path + n + 1 + len, ".sock")) {
			snprintf(name, cap, "%s", c->inst);
			return;
		}
	}
}

/* capsid_conf_extra_key: access.c's keys (nucleus=, grant=, nucleus_rate=, nucleus_burst=). */
static int access_key(struct capsid_conf *cf, const char *where, const char *key, const char *value)
{
	if (!key) {
		celld_access_conf_init(&cf->access);
		return 0;
	}
	return celld_access_conf_key(&cf->access, where ? where : "cell spawn", key, value);
}

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* Points @c->spec and @c->argv at @c->cf (after every copy of it). */
static void bind_spec(struct sup_cell *c)
{
	struct capsid_conf *cf = &c->cf;

	memset(&c->spec, 0, sizeof(c->spec));
	for (unsigned int i = 0; i < cf->nargs; i++)
		c->argv[i] = cf->args + cf->argoff[i];
	c->argv[cf->nargs] = NULL;
	for (unsigned int i = 0; i < cf->nro; i++)
		c->spec.ro_paths[i] = cf->ro[i];
	for (unsigned int i = 0; i < cf->npeer; i++)
		c->spec.peer_sockets[i] = cf->peer[i];
	c->spec.name = c->inst;
	c->spec.argv = c->argv;
	c->spec.socket_dir = c->sock_dir;
	c->spec.socket_dir_host = c->sock_host[0] ? c->sock_host : NULL;
	c->spec.data_dir = c->data_dir;
	c->spec.share_net = cf->share_net;
	c->spec.memory_max = cf->memory_max;
	c->spec.pids_max = cf->pids_max;
	c->spec.nucleus_socket = cf->access.nucleus ? nucleus_sock : NULL;
	c->spec.stdout_fd = 2; /* celld's stderr (the journal), if it has no log ring */
	c->spec.stderr_fd = 2;
}

static bool running(const struct sup_cell *c)
{
	return c->state != CELLD_SUP_FAILED && c->state != CELLD_SUP_STOPPED;
}

/* The cell whose conf an instance follows: its mitosis head, or itself. */
static struct sup_cell *root_of(struct sup_cell *c)
{
	return c->head ? c->head : c;
}

/* ---- the registry entry: what `cell ps` shows ------------------------ */

static void publish(struct sup_cell *c)
{
	struct celld_entry e = { 0 };
	char path[4200], err[256];
	bool running = c->pid > 0;

	if (c->swap_of)
		return; /* a swap's other process: the cell's entry is the cell's */

	snprintf(path, sizeof(path), "%s/%s.sock", c->sock_dir, c->cf.name);
	snprintf(e.name, sizeof(e.name), "%s", c->inst);
	e.path = path;
	e.pid = running ? (c->main_pid > 0 ? c->main_pid : c->pid) : 0;
	e.uid = geteuid() == 0 ? 65534 : geteuid(); /* the cell's uid (capsid.c) */
	e.fingerprint = c->fingerprint;
	e.rtt_us = c->rtt_us;
	e.schema = c->schema;
	e.origin = CELLD_ORIGIN_CAPSID;
	e.health = c->state == CELLD_SUP_READY ? CELLD_HEALTH_OK : CELLD_HEALTH_UNKNOWN;
	e.sup_state = c->state;
	e.sup_restarts = c->restarts;
	e.sup_started_ns = running ? c->started_ns : 0;
	if (celld_registry_add(c->d->registry, &e, err, sizeof(err), NULL)) {
		if (!c->unlisted)
			celld_log("capsid %s: not listed in cell ps: %s", c->inst, err);
		c->unlisted = true; /* said once */
	}
}

/*
 * Where clients find it (lib/tissue.c's layout): RUNTIME_DIR/INST.sock, a
 * symlink to its socket capsid/INST/NAME.sock, made while it is ready.
 * Made under a temporary name and renamed, so a client sees the old link
 * or the new one, never none; a file there that is not a symlink (a cell
 * outside celld) is left alone.
 */
static void link_socket(struct sup_cell *c)
{
	char link[4200], tmp[4300], target[600];
	struct stat st;

	snprintf(link, sizeof(link), "%s/%s.sock", c->d->cfg.runtime_dir, c->inst);
	snprintf(tmp, sizeof(tmp), "%s/.%s.sock.%d", c->d->cfg.runtime_dir, c->inst,
		 (int)getpid());
	snprintf(target, sizeof(target), "capsid/%s/%s.sock", c->inst, c->cf.name);
	if (!lstat(link, &st) && !S_ISLNK(st.st_mode)) {
		celld_log("capsid %s: %s is not celld's symlink: not published there", c->inst,
			  link);
		return;
	}
	unlink(tmp);
	if (symlink(target, tmp) || rename(tmp, link)) {
		celld_log("capsid %s: cannot publish %s: %s", c->inst, link, strerror(errno));
		unlink(tmp);
		return;
	}
	c->linked = true;
}

/* Its symlink goes when it stops being ready (not another cell's file). */
static void unlink_socket(struct sup_cell *c)
{
	char link[4200], target[600], seen[600];
	ssize_t n;

	if (!c->linked)
		return;
	c->linked = false;
	snprintf(link, sizeof(link), "%s/%s.sock", c->d->cfg.runtime_dir, c->inst);
	snprintf(target, sizeof(target), "capsid/%s/%s.sock", c->inst, c->cf.name);
	n = readlink(link, seen, sizeof(seen) - 1);
	if (n < 0 || (size_t)n != strlen(target) || memcmp(seen, target, (size_t)n))
		return;
	if (unlink(link) && errno != ENOENT)
		celld_log("capsid %s: cannot remove %s: %s", c->inst, link, strerror(errno));
}

static void set_state(struct sup_cell *c, enum celld_sup_state s)
{
	c->state = (uint8_t)s;
	if (s == CELLD_SUP_READY)
		link_socket(c);
	else
		unlink_socket(c);
	publish(c);
}

/* ---- signals ---------------------------------------------------------- */

/* The first process whose parent is @parent (a /proc scan), or 0. */
static pid_t child_of(pid_t parent)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!dir)
		return 0;
	while (!found && (de = readdir(dir))) {
		char path[300], buf[512], *close_paren;
		int ppid = 0;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		/* pid (comm) state ppid: comm may hold spaces and parentheses. */
		if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')) &&
		    sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == parent)
			found = (pid_t)atoi(de->d_name);
		fclose(f);
	}
	closedir(dir);
	return found;
}

/* The cell's program: bwrap -> the namespace's init -> the program. */
static pid_t find_main(struct sup_cell *c)
{
	pid_t init;

	if (c->main_pid > 0 && !kill(c->main_pid, 0))
		return c->main_pid;
	init = child_of(c->pid);
	c->main_pid = init > 0 ? child_of(init) : 0;
	return c->main_pid;
}

/* SIGKILL to bwrap: the namespace goes with it. */
static void kill_cell(struct sup_cell *c)
{
	if (c->pidfd >= 0 && !syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0))
		return;
	kill(c->pid, SIGKILL);
}

/*
 * SIGTERM to the program.  Return: whether it was sent; not while bwrap
 * is still setting the sandbox up (no program yet): the caller tries again
 * until its deadline, then kills.
 */
static bool term_cell(struct sup_cell *c)
{
	pid_t main = find_main(c);

	c->term_sent = main > 0 && !kill(main, SIGTERM);
	return c->term_sent;
}

/* ---- the life of a cell ----------------------------------------------- */

static void start(struct sup_cell *c);
static void on_tick(uv_timer_t *t);

static void poll_closed(uv_handle_t *h)
{
	free(h);
}

static void begin_stop(struct sup_cell *c, unsigned int timeout_ms)
{
	set_state(c, CELLD_SUP_STOPPING);
	c->stop_ms = timeout_ms;
	c->deadline = now_ms() + timeout_ms;
	if (term_cell(c))
		uv_timer_start(&c->timer, on_tick, timeout_ms, 0);
	else
		uv_timer_start(&c->timer, on_tick, TERM_RETRY_MS, TERM_RETRY_MS);
}

/* The SIGKILL deadline's timer: a SIGTERM not sent yet is tried again first. */
static void stop_tick(struct sup_cell *c)
{
	uint64_t now = now_ms();

	if (!c->term_sent && now < c->deadline) {
		if (term_cell(c))
			uv_timer_start(&c->timer, on_tick, c->deadline - now, 0);
		return;
	}
	uv_timer_stop(&c->timer);
	celld_log("capsid %s: still running %u ms after %s: SIGKILL", c->inst, c->stop_ms,
		  c->term_sent ? "SIGTERM" : "the stop (no program to send SIGTERM to)");
	kill_cell(c);
}

/*
 * A second version must differ: a ready instance of the name outside @c's
 * own group with @c's fingerprint makes @c a copy (a hot swap is `cell
 * swap`), so it is stopped and failed.  Return: whether it was.
 */
static bool same_fingerprint(struct sup_cell *c)
{
	if (c->canary)
		return false; /* it is meant to: `cell rollout` compares the two */
	for (int i = 0; i < ncells; i++) {
		struct sup_cell *o = cells[i];

		if (o == c || root_of(o) == root_of(c) || strcmp(o->cf.name, c->cf.name) ||
		    o->state != CELLD_SUP_READY || o->fingerprint != c->fingerprint)
			continue;
		celld_log("capsid %s: refused: fingerprint 0x%016llx is %s's already (the same "
			  "schema: a hot swap, not a second version); stopping it",
			  c->inst, (unsigned long long)c->fingerprint, o->inst);
		c->clash = true;
		c->stop_asked = true;
		begin_stop(c, c->cf.stop_timeout_ms);
		return true;
	}
	return false;
}
static void swap_ready(struct sup_cell *n, struct cell_probe *p);

static void probe_ready(struct sup_cell *c)
{
	struct cell_probe p;
	bool answered = !cell_probe_run(c->sock_host[0] ? c->sock_host : c->sock_dir, c->cf.name,
					PROBE_TIMEOUT_MS, &p) &&
			p.rtt_us;

	if (answered && c->swap_of) {
		uv_timer_stop(&c->timer);
		swap_ready(c, &p);
	} else if (answered) {
		free(c->schema);
		c->schema = p.schema;
		p.schema = NULL;
		c->fingerprint = p.fingerprint;
		c->rtt_us = p.rtt_us;
		if (p.pid > 0)
			c->main_pid = p.pid;
		uv_timer_stop(&c->timer);
		if (same_fingerprint(c))
			goto out_release;
		celld_log("capsid %s: ready after %llu ms (PING %u us), pid %d, fingerprint "
			  "0x%016llx",
			  c->inst, (unsigned long long)(now_ms() - c->started_at), p.rtt_us,
			  (int)p.pid, (unsigned long long)c->fingerprint);
		set_state(c, CELLD_SUP_READY);
	} else if (now_ms() >= c->deadline) {
		celld_log("capsid %s: %snot ready within %u ms (%s): stopping it", c->inst,
			  c->swap_of ? "the swap's new program is " : "", c->cf.ready_timeout_ms,
			  p.error[0] ? p.error : "no PING answer");
		if (c->swap_of)
			snprintf(c->swap_of->swap_said, sizeof(c->swap_of->swap_said),
				 "failed: the new program was not ready within %u ms (%.150s)",
				 c->cf.ready_timeout_ms, p.error[0] ? p.error : "no PING answer");
		c->not_ready = true;
		begin_stop(c, c->cf.stop_timeout_ms);
	}
out_release:
	cell_probe_release(&p);
}

static void on_tick(uv_timer_t *t)
{
	struct sup_cell *c = t->data;

	switch (c->state) {
	case CELLD_SUP_BACKOFF:
		start(c);
		break;
	case CELLD_SUP_STARTING:
		probe_ready(c);
		break;
	case CELLD_SUP_STOPPING:
		stop_tick(c);
		break;
	default:
		break;
	}
}

/* After an exit not asked for: restart by the policy, or fail. */
static void by_policy(struct sup_cell *c, const char *how, bool failure, uint64_t ran)
{
	uint64_t now = now_ms();

	if (c->cf.restart == CAPSID_RESTART_NEVER ||
	    (c->cf.restart == CAPSID_RESTART_ON_FAILURE && !failure)) {
		celld_log("capsid %s: exited (%s) after %llu ms; restart=%s: not restarted",
			  c->inst, how, (unsigned long long)ran,
			  capsid_restart_names[c->cf.restart]);
		set_state(c, failure ? CELLD_SUP_FAILED : CELLD_SUP_STOPPED);
		return;
	}
	if (now - c->window_start >= (uint64_t)c->cf.window_s * 1000) {
		c->window_start = now;
		c->restarts = 0;
	}
	if (ran >= (uint64_t)c->cf.window_s * 1000)
		c->delay_ms = 0; /* it ran long enough: start over from the first delay */
	if (++c->restarts > c->cf.max_restarts) {
		c->restarts = c->cf.max_restarts;
		celld_log("capsid %s: exited (%s); failed: %u restarts within %u s", c->inst,
			  how, c->cf.max_restarts, c->cf.window_s);
		set_state(c, CELLD_SUP_FAILED);
		return;
	}
	c->delay_ms = c->delay_ms ? c->delay_ms * 2 : c->cf.backoff_ms;
	if (c->delay_ms > c->cf.backoff_max_ms)
		c->delay_ms = c->cf.backoff_max_ms;
	celld_log("capsid %s: exited (%s) after %llu ms; restart %u of %u in %u ms", c->inst,
		  how, (unsigned long long)ran, c->restarts, c->cf.max_restarts, c->delay_ms);
	set_state(c, CELLD_SUP_BACKOFF);
	uv_timer_start(&c->timer, on_tick, c->delay_ms, 0);
}

static void swap_reaped(struct sup_cell *n, const char *how);
static void leave_staging(struct sup_cell *c);

/* The pidfd is readable: bwrap, hence the cell, has exited. */
static void on_exit_ready(uv_poll_t *p, int status, int events)
{
	struct sup_cell *c = p->data;
	uint64_t ran;
	int st = 0;
	char how[80];

	(void)status;
	(void)events;
	if (waitpid(c->pid, &st, WNOHANG) != c->pid)
		return;
	uv_poll_stop(c->poll);
	uv_close((uv_handle_t *)c->poll, poll_closed);
	c->poll = NULL;
	close(c->pidfd);
	c->pidfd = -1;
	uv_timer_stop(&c->timer);
	capsid_reap(&c->spec, c->pid);
	c->pid = 0;
	c->main_pid = 0;
	ran = now_ms() - c->started_at;
	if (WIFEXITED(st))
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(st));
	else
		snprintf(how, sizeof(how), "signal %d", WTERMSIG(st));
	if (c->swap_of) {
		swap_reaped(c, how);
		return;
	}
	leave_staging(c); /* a restart binds the cell's own socket directory again */
	if (c->stop_asked) {
		celld_log("capsid %s: stopped (%s) after %llu ms", c->inst, how,
			  (unsigned long long)ran);
		set_state(c, c->clash ? CELLD_SUP_FAILED : CELLD_SUP_STOPPED);
		if (c->retired) /* mitosis's: not a row of cell ps any more */
			(void)celld_registry_remove(c->d->registry, "", c->inst);
		return;
	}
	if (c->not_ready)
		strncat(how, ", never ready", sizeof(how) - strlen(how) - 1);
	by_policy(c, how, c->not_ready || !WIFEXITED(st) || WEXITSTATUS(st), ran);
}

static int watch(struct sup_cell *c)
{
	int fd = (int)syscall(SYS_pidfd_open, c->pid, 0);

	c->poll = fd >= 0 ? malloc(sizeof(*c->poll)) : NULL;
	if (!c->poll || uv_poll_init(c->d->loop, c->poll, fd)) {
		free(c->poll);
		c->poll = NULL;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	c->pidfd = fd;
	c->poll->data = c;
	uv_poll_start(c->poll, UV_READABLE, on_exit_ready);
	return 0;
}

/* capsid_spawn() with the cell's stdout and stderr into its log ring (logs.c). */
/*
 * A new hand-over key for @c's next process, in a sealed memfd for
 * capsid_spawn() (closed after it).  Return: the fd, or -1 (the process
 * then runs without a key, and a swap of it renames the socket instead).
 */
static int new_key(struct sup_cell *c)
{
	const unsigned int seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	int fd;

	c->keyed = false;
	if (getrandom(c->key, sizeof(c->key), 0) != (ssize_t)sizeof(c->key))
		return -1;
	fd = memfd_create("cell-listener-key", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (write(fd, c->key, sizeof(c->key)) != (ssize_t)sizeof(c->key) ||
	    fcntl(fd, F_ADD_SEALS, seals)) {
		close(fd);
		return -1;
	}
	c->keyed = true;
	return fd;
}

static pid_t spawn_logged(struct sup_cell *c, char *why, size_t whylen)
{
	int rc = 0, key;
	pid_t pid;

	if (c->log)
		rc = celld_cell_log_pipes(c->log, &c->spec.stdout_fd, &c->spec.stderr_fd);
	if (rc)
		celld_log("capsid %s: no pipes for its log: %s (output to celld's stderr)",
			  c->inst, strerror(-rc));
	key = new_key(c);
	if (key < 0)
		celld_log("capsid %s: no listener key: %s (a swap will rename its socket)",
			  c->inst, strerror(errno));
	c->spec.listener_key_fd = key;
	pid = capsid_spawn(&c->spec, why, whylen);
	if (key >= 0)
		close(key);
	c->spec.listener_key_fd = -1;
	if (c->log)
		celld_cell_log_started(c->log, pid);
	c->spec.stdout_fd = c->spec.stderr_fd = 2;
	return pid;
}

static void start(struct sup_cell *c)
{
	char why[256];

	c->not_ready = false;
	c->main_pid = 0;
	free(c->hist); /* a new run counts its metrics from 0 */
	c->hist = NULL;
	c->pid = spawn_logged(c, why, sizeof(why));
	if (c->pid < 0) {
		char how[300];

		c->pid = 0;
		if (c->state != CELLD_SUP_BACKOFF) { /* the first start: the error is the answer */
			celld_log("capsid %s: not started: %s", c->inst, why);
			set_state(c, CELLD_SUP_FAILED);
			return;
		}
		/*
		 * A restart that failed before bwrap ran (fork, pipes, the dirs)
		 * counts as a failed run: restart=always must not become "never
		 * again" after one transient error.
		 */
		snprintf(how, sizeof(how), "not started: %s", why);
		by_policy(c, how, true, 0);
		return;
	}
	c->started_at = now_ms();
	c->started_ns = cell_now_ns();
	if (watch(c)) {
		celld_log("capsid %s: pidfd_open: %s: stopping it (it could not be supervised)",
			  c->inst, strerror(errno));
		kill_cell(c);
		waitpid(c->pid, NULL, 0);
		capsid_reap(&c->spec, c->pid);
		c->pid = 0;
		set_state(c, CELLD_SUP_FAILED);
		return;
	}
	celld_log("capsid %s: started, pid %d", c->inst, (int)c->pid);
	if (!c->cf.ready_ping) {
		set_state(c, CELLD_SUP_READY);
		return;
	}
	c->deadline = c->started_at + c->cf.ready_timeout_ms;
	set_state(c, CELLD_SUP_STARTING);
	uv_timer_start(&c->timer, on_tick, PROBE_EVERY_MS, PROBE_EVERY_MS);
}

/* ---- cells: made from a conf or a spawn request ----------------------- */

static int make_dir(const char *path)
{
	char tmp[4200];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		/* 0711 whatever celld's umask: the cell's uid must traverse it (a new one only). */
		if (!mkdir(tmp, 0711)) {
			if (chmod(tmp, 0711))
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * bwrap runs as the cell's uid and must reach its dirs: the state and
 * runtime directories become traversable (0711: no listing; celld's keys
 * in the state directory are 0600 files).
 */
static void prepare_dirs(struct celld *d)
{
	if (dirs_prepared)
		return;
	dirs_prepared = true;
	for (int i = 0; i < 2; i++) {
		const char *top = i ? d->cfg.state_dir : d->cfg.runtime_dir;
		struct stat st;

		if (!stat(top, &st) && (st.st_mode & 0011) != 0011) {
			if (chmod(top, (st.st_mode & 07777) | 0011))
				celld_log("capsid: chmod o+x %s: %s", top, strerror(errno));
			else
				celld_log("capsid: %s made traversable (mode %o) for the cells' "
					  "uid",
					  top, (st.st_mode & 07777) | 0011);
		}
	}
}

/* The cell of instance name @inst ("NAME" or "NAME@K"). */
static struct sup_cell *find_cell(const char *inst)
{
	for (int i = 0; i < ncells; i++)
		if (!strcmp(cells[i]->inst, inst))
			return cells[i];
	return NULL;
}

/* A running cell of @name (any instance), or NULL. */
static struct sup_cell *find_running(const char *name)
{
	for (int i = 0; i < ncells; i++)
		if (!strcmp(cells[i]->cf.name, name) && running(cells[i]))
			return cells[i];
	return NULL;
}

/*
 * The instance name for a new cell of @name: NAME when no running cell has
 * it (and @bare_ok), else NAME@K with the lowest K no running cell has.
 * Return: false if NAME@K would not fit a cell name.
 */
static bool free_instance(const char *name, bool bare_ok, char *inst, unsigned int *number)
{
	for (unsigned int k = bare_ok ? 0 : 1; k <= MAX_CELLS; k++) {
		struct sup_cell *c;
		int n = k ? snprintf(inst, CELL_NAME_MAX, "%s@%u", name, k)
			  : snprintf(inst, CELL_NAME_MAX, "%s", name);

		if (n >= CELL_NAME_MAX)
			return false;
		c = find_cell(inst);
		if (!c || !running(c)) {
			*number = k;
			return true;
		}
	}
	return false;
}

/* The same program file as @c was started from (an identical argv and file). */
static bool same_program(const struct sup_cell *c, const struct capsid_conf *cf,
			 const struct stat *exe)
{
	return c->cf.nargs == cf->nargs && c->cf.args_used == cf->args_used &&
	       !memcmp(c->cf.args, cf->args, cf->args_used) && c->exe.st_dev == exe->st_dev &&
	       c->exe.st_ino == exe->st_ino && c->exe.st_size == exe->st_size &&
	       c->exe.st_mtim.tv_sec == exe->st_mtim.tv_sec &&
	       c->exe.st_mtim.tv_nsec == exe->st_mtim.tv_nsec;
}

/*
 * Whether @cf may start beside the running @other of its name (evolution):
 * only a different program, since the same one has the same fingerprint
 * (a hot swap, not a second version); its fingerprint is compared again
 * once it answers PING (probe_ready()), so ready=none cannot be told apart.
 */
static bool may_evolve(const struct sup_cell *other, const struct capsid_conf *cf,
		       const struct stat *exe, struct capsid_why *w)
{
	for (int i = 0; i < ncells; i++)
		if (!strcmp(cells[i]->cf.name, cf->name) && running(cells[i]) &&
		    same_program(cells[i], cf, exe)) {
			capsid_complain(w, "cell %s is supervised already (%s)", cells[i]->inst,
					celld_sup_state_name(cells[i]->state));
			return false;
		}
	if (!cf->ready_ping || !other->cf.ready_ping) {
		capsid_complain(w, "cell %s runs already; a second version beside it needs "
				   "ready=ping (its fingerprint is compared)",
				other->inst);
		return false;
	}
	return true;
}

static struct sup_cell *new_cell(struct celld *d, struct capsid_why *w)
{
	struct sup_cell *c;

	if (ncells == MAX_CELLS) {
		capsid_complain(w, "%d cells supervised already", MAX_CELLS);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		capsid_complain(w, "out of memory");
		return NULL;
	}
	c->d = d;
	uv_timer_init(d->loop, &c->timer);
	c->timer.data = c;
	cells[ncells++] = c;
	return c;
}

/* Sets @c up as instance @inst of @cf and starts it.  Return: @c, or NULL (@w: why). */
static struct sup_cell *start_instance(struct sup_cell *c, const struct capsid_conf *cf,
				       const char *inst, unsigned int number, uid_t owner,
				       struct capsid_why *w)
{
	struct celld *d = c->d;

	for (int i = 0; i < ncells; i++)
		if (cells[i]->head == c) { /* a reused head's old instances: on their own, unscaled */
			cells[i]->head = NULL;
			cells[i]->cf.inst_min = cells[i]->cf.inst_max = 1;
		}
	c->cf = *cf;
	snprintf(c->inst, sizeof(c->inst), "%s", inst);
	c->number = number;
	c->head = NULL;
	c->pidfd = -1;
	c->owner = owner;
	c->stop_asked = c->unlisted = c->killed = c->versioned = c->clash = c->retired = false;
	c->restarts = c->delay_ms = 0;
	c->fingerprint = 0;
	c->idle_since = c->next_sample = c->busy_ns = c->busy_at = 0;
	free(c->hist);
	c->hist = NULL;
	memset(&c->mito, 0, sizeof(c->mito));
	if (stat(cf->args, &c->exe))
		memset(&c->exe, 0, sizeof(c->exe));
	free(c->schema);
	c->schema = NULL;
	snprintf(c->sock_dir, sizeof(c->sock_dir), "%s/capsid/%s", d->cfg.runtime_dir, inst);
	snprintf(c->data_dir, sizeof(c->data_dir), "%s/capsid/%s", d->cfg.state_dir, inst);
	bind_spec(c);
	/* The same ring for the same instance, also when a failed or stopped one is reused. */
	c->log = celld_cell_log_open(d, inst, cf->log_size);
	if (!c->log)
		celld_log("capsid %s: no log ring: %s (output to celld's stderr)", inst,
			  strerror(errno));
	prepare_dirs(d);
	if (make_dir(c->sock_dir) || make_dir(c->data_dir)) {
		capsid_complain(w, "cannot make its dirs: %s", strerror(errno));
		set_state(c, CELLD_SUP_FAILED);
		return NULL;
	}
	c->window_start = now_ms();
	start(c);
	return c;
}

/*
 * Makes (or, for an instance name whose cell is failed or stopped, reuses)
 * the cell of @cf and starts it: as NAME, or beside a running NAME as
 * NAME@K when its program differs (evolution).  Return: the cell, or NULL
 * with @w saying why.
 */
static struct sup_cell *add_cell(struct celld *d, const struct capsid_conf *cf, uid_t owner,
				 struct capsid_why *w)
{
	struct sup_cell *other = find_running(cf->name), *c;
	char inst[CELL_NAME_MAX];
	unsigned int number;
	struct stat exe;

	if (stat(cf->args, &exe))
		memset(&exe, 0, sizeof(exe));
	if (other && !may_evolve(other, cf, &exe, w))
		return NULL;
	if (!free_instance(cf->name, true, inst, &number)) {
		capsid_complain(w, "no free instance name for %s", cf->name);
		return NULL;
	}
	c = find_cell(inst);
	if (!c)
		c = new_cell(d, w);
	if (!c || !start_instance(c, cf, inst, number, owner, w))
		return NULL;
	c->versioned = other != NULL;
	c->generation = ++generations;
	if (other)
		celld_log("capsid %s: started beside %s (another program: its fingerprint is "
			  "compared once it answers PING)",
			  c->inst, other->inst);
	return c;
}

/* `cell stop` and celld's exit: no restart after this. */
static void stop_cell(struct sup_cell *c, unsigned int timeout_ms)
{
	c->stop_asked = true;
	if (c->swap && !c->swap->swap_committed && c->swap->state == CELLD_SUP_STARTING) {
		snprintf(c->swap_said, sizeof(c->swap_said), "failed: the cell was stopped");
		begin_stop(c->swap, timeout_ms); /* the new program, not ready yet */
	}
	switch (c->state) {
	case CELLD_SUP_STARTING:
	case CELLD_SUP_READY:
		celld_log("capsid %s: stopping (SIGTERM, SIGKILL after %u ms)", c->inst,
			  timeout_ms);
		begin_stop(c, timeout_ms);
		break;
	case CELLD_SUP_BACKOFF:
		uv_timer_stop(&c->timer);
		celld_log("capsid %s: stopped (was waiting to restart)", c->inst);
		set_state(c, CELLD_SUP_STOPPED);
		break;
	default: /* stopping already, failed or stopped */
		break;
	}
}

/* stop_cell() of @c and, if it is a mitosis head, of its instances. */
static void stop_group(struct sup_cell *c, unsigned int timeout_ms)
{
	for (int i = 0; i < ncells; i++)
		if (cells[i]->head == c)
			stop_cell(cells[i], timeout_ms);
	stop_cell(c, timeout_ms);
}

/* ---- mitosis: instances started and retired by the load --------------- */

#define SAMPLE_TIMEOUT_MS 100

/*
 * The p99 (us) of the calls counted in @now and not in @then, bucket by
 * bucket (@nb of them, bounds as in any histogram, e.g. @h's), as the
 * middle of its bucket: within the histogram's relative error.
 */
static uint32_t interval_p99(const uint64_t *now, const uint64_t *then, unsigned int nb,
			     const struct cell_hist *h)
{
	uint64_t total = 0, seen = 0, rank, lo, hi;

	for (unsigned int b = 0; b < nb; b++)
		total += now[b] - then[b];
	rank = (total * 99 + 99) / 100; /* nearest rank: ceil(0.99 * total) */
	for (unsigned int b = 0; total && b < nb; b++) {
		seen += now[b] - then[b];
		if (seen < rank)
			continue;
		cell_hist_bucket(h, b, &lo, &hi);
		return (uint32_t)((lo / 2 + (hi == UINT64_MAX ? lo : hi) / 2) / 1000);
	}
	return 0;
}

/*
 * One instance's figures since its last sample: in flight, by Little's law
 * (the latency summed over the calls it answered in the interval, divided
 * by the interval), and its p99 over those calls.  The first sample of a
 * run (or after its counters went back) only sets the baseline: 0 and 0.
 * Return: false if it could not be sampled.
 */
static bool sample_instance(struct sup_cell *m, double *inflight, uint32_t *p99_us)
{
	unsigned int nb = cell_hist_bucket_count();
	uint64_t busy = 0, now = cell_now_ns(), lo, hi;
	const struct cell_hist *h = NULL;
	struct collect_result r;
	uint64_t *counts;
	bool base;

	collect_metrics(m->sock_dir, m->cf.name, m->fingerprint, SAMPLE_TIMEOUT_MS, &r);
	counts = r.snap && cell_metrics_snapshot_count(r.snap) ? calloc(nb, sizeof(*counts)) : NULL;
	if (!counts) {
		cell_metrics_snapshot_free(r.snap);
		return false;
	}
	for (size_t i = 0; i < cell_metrics_snapshot_count(r.snap); i++) {
		h = cell_method_stats_latency(cell_metrics_snapshot_method(r.snap, i));
		busy += cell_hist_sum(h);
		for (unsigned int b = 0; b < nb; b++)
			counts[b] += cell_hist_bucket(h, b, &lo, &hi);
	}
	base = !m->hist || busy < m->busy_ns || now <= m->busy_at;
	for (unsigned int b = 0; !base && b < nb; b++)
		base = counts[b] < m->hist[b];
	*inflight = base ? 0 : (double)(busy - m->busy_ns) / (double)(now - m->busy_at);
	*p99_us = base ? 0 : interval_p99(counts, m->hist, nb, h);
	free(m->hist);
	m->hist = counts;
	m->busy_ns = busy;
	m->busy_at = now;
	cell_metrics_snapshot_free(r.snap);
	return true;
}

/* A new instance of @head's group: NAME@K with its conf. */
static void grow(struct sup_cell *head)
{
	struct capsid_why w = { .where = NULL };
	char inst[CELL_NAME_MAX];
	unsigned int number;
	struct sup_cell *c;

	if (!free_instance(head->cf.name, false, inst, &number)) {
		celld_log("capsid %s: mitosis: no free instance name", head->inst);
		return;
	}
	c = find_cell(inst);
	if (!c)
		c = new_cell(head->d, &w);
	if (!c || !start_instance(c, &head->cf, inst, number, head->owner, &w)) {
		celld_log("capsid %s: mitosis: %s not started: %s", head->inst, inst, w.text);
		return;
	}
	c->head = head;
	c->generation = head->generation;
}

/* Retires the newest instance @head started (SIGTERM, then its stop_timeout_ms). */
static void shrink(struct sup_cell *head)
{
	struct sup_cell *newest = NULL;

	for (int i = 0; i < ncells; i++) {
		struct sup_cell *c = cells[i];

		if (c->head == head && running(c) && !c->stop_asked &&
		    (!newest || c->started_ns > newest->started_ns))
			newest = c;
	}
	if (!newest)
		return;
	newest->retired = true;
	stop_cell(newest, newest->cf.stop_timeout_ms);
}

/*
 * Every scale_interval_ms of a head with instances=MIN..MAX (or a fixed
 * instances=N above 1): sample, decide, act.  Below MIN: one more at once.
 */
static void scale(struct sup_cell *head, uint64_t now)
{
	bool ranged = head->cf.inst_max > head->cf.inst_min;
	struct mitosis_sample s = { 0 };
	double inflight = 0;
	int step;

	if (head->cf.inst_max <= 1 || head->canary || head->stop_asked || !running(head) ||
	    now < head->next_sample)
		return; /* a canary (cell rollout) has its cell's conf, but is one instance */
	head->next_sample = now + head->cf.scale_interval_ms;
	for (int i = 0; i < ncells; i++) {
		struct sup_cell *m = cells[i];
		double one = 0;
		uint32_t p99 = 0;

		if ((m != head && m->head != head) || !running(m) || m->stop_asked)
			continue;
		s.instances++; /* starting ones too: not started twice */
		if (ranged && m->state == CELLD_SUP_READY && sample_instance(m, &one, &p99)) {
			inflight += one;
			if (p99 > s.p99_us)
				s.p99_us = p99;
		}
	}
	s.inflight_sum = (uint64_t)(inflight + 0.5);
	step = s.instances < head->cf.inst_min ? 1 : mitosis_step(&head->mito, &head->cf, now, &s);
	if (step && ranged)
		celld_log("capsid %s: mitosis: %u instance(s), %.1f calls in flight, p99 %u us: %s",
			  head->inst, s.instances, inflight, s.p99_us,
			  step > 0 ? "one more" : "one fewer (the newest)");
	else if (step)
		celld_log("capsid %s: instances=%u: %u running: one more", head->inst,
			  head->cf.inst_min, s.instances);
	if (step > 0)
		grow(head);
	else if (step < 0)
		shrink(head);
}

/* ---- evolution: an older version is retired once nobody uses it ------- */

/*
 * Connected sockets at @path in one /proc/.../net/unix table: a server's
 * accepted sockets carry its listening path and belong to the client's
 * network namespace, so each namespace a client may be in is read.
 */
static unsigned int count_connected(const char *table, const char *path)
{
	size_t plen = strlen(path);
	unsigned int n = 0;
	char line[4400];
	FILE *f = fopen(table, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned int st;
		int at = 0;

		/* Num RefCount Protocol Flags Type St Inode Path; St 03 is connected. */
		if (sscanf(line, "%*s %*s %*s %*s %*s %x %*s %n", &st, &at) != 1 || !at || st != 3)
			continue;
		if (strcspn(line + at, "\n") == plen && !memcmp(line + at, path, plen))
			n++;
	}
	fclose(f);
	return n;
}

/* The clients connected to @c now: in celld's network namespace and in each running cell's. */
static unsigned int clients_of(const struct sup_cell *c)
{
	ino_t seen[MAX_CELLS + 1];
	unsigned int nseen = 0, n = 0;
	char path[4200], table[64], ns[64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.sock", c->sock_dir, c->cf.name);
	if (!stat("/proc/self/ns/net", &st))
		seen[nseen++] = st.st_ino;
	n += count_connected("/proc/self/net/unix", path);
	for (int i = 0; i < ncells; i++) {
		pid_t pid = cells[i]->main_pid;
		bool known = false;

		snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)pid);
		if (pid <= 0 || stat(ns, &st))
			continue;
		for (unsigned int j = 0; j < nseen; j++)
			known = known || seen[j] == st.st_ino;
		if (known)
			continue;
		seen[nseen++] = st.st_ino;
		snprintf(table, sizeof(table), "/proc/%d/net/unix", (int)pid);
		n += count_connected(table, path);
	}
	return n;
}

/*
 * The version that retires @r: the newest ready cell of its name (not of
 * its group) spawned after it, with another fingerprint and retire_idle_s.
 */
static struct sup_cell *newer_version(const struct sup_cell *r)
{
	struct sup_cell *best = NULL;

	for (int i = 0; i < ncells; i++) {
		struct sup_cell *o = cells[i];

		if (o->head || o == r || strcmp(o->cf.name, r->cf.name) ||
		    o->state != CELLD_SUP_READY || o->fingerprint == r->fingerprint ||
		    o->generation < r->generation || !o->cf.retire_idle_s)
			continue;
		if (!best || o->generation > best->generation)
			best = o;
	}
	return best;
}

/* Stops @r's group once no client has been connected to it for the newer version's retire_idle_s. */
static void retire_if_idle(struct sup_cell *r, uint64_t now)
{
	struct sup_cell *n = r->state == CELLD_SUP_READY && !r->stop_asked ? newer_version(r) : NULL;
	unsigned int clients = 0;

	for (int i = 0; n && i < ncells; i++)
		if ((cells[i] == r || cells[i]->head == r) && running(cells[i]))
			clients += clients_of(cells[i]);
	if (!n || clients) {
		r->idle_since = 0;
		return;
	}
	if (!r->idle_since)
		r->idle_since = now;
	if (now - r->idle_since < (uint64_t)n->cf.retire_idle_s * 1000)
		return;
	celld_log("capsid %s: retired: no client for %u s, and %s (fingerprint 0x%016llx) is ready "
		  "beside it (its fingerprint 0x%016llx)",
		  r->inst, n->cf.retire_idle_s, n->inst, (unsigned long long)n->fingerprint,
		  (unsigned long long)r->fingerprint);
	stop_group(r, r->cf.stop_timeout_ms);
}

static void on_house(uv_timer_t *t)
{
	static uint64_t idle_checked;
	uint64_t now = now_ms(), every = IDLE_EVERY_MS;
	bool idle_check = now - idle_checked >= IDLE_EVERY_MS;

	if (idle_check)
		idle_checked = now;
	for (int i = 0; i < ncells; i++) {
		struct sup_cell *c = cells[i];

		if (c->head)
			continue;
		if (idle_check)
			retire_if_idle(c, now);
		scale(c, now);
		if (c->cf.inst_max > 1 && !c->canary && running(c) && c->cf.scale_interval_ms < every)
			every = c->cf.scale_interval_ms;
	}
	uv_timer_set_repeat(t, every); /* the finest scale_interval_ms of a scaled cell */
}

/* ---- hot swap ---------------------------------------------------------- */

/*
 * `cell swap NAME BIN [ARGS...]`: the cell's program replaced by another of
 * the same fingerprint without a lost call (Documentation/capsid.rst).
 *
 *  1. The new program (record @n, not in cells[]: it publishes nothing)
 *     starts in a capsid whose socket directory, the same path inside, is
 *     the host's staging directory RUNTIME/capsid/.swap/NAME-K: it binds
 *     its socket there, where no client looks.
 *  2. Ready once it answers PING there, with the cell's fingerprint; with
 *     another one the swap is refused and the new program stopped.
 *  3. Its socket is renamed over the cell's (atomic).
 *     New connections reach the new program; the old program's socket has
 *     no name left.
 *  4. The old process moves to @n and gets SIGTERM: libcell's drain
 *     (cell_server_drain()) takes what is queued, tells its clients
 *     GOODBYE, serves them until they leave (reconnecting, to the new
 *     program) and exits; SIGKILL after stop_timeout_ms.  A program that
 *     does not drain loses the calls in flight (the test shows it).
 */

/* DIR/NAME.sock into @buf. */
static void sock_path(char *buf, size_t cap, const char *dir, const char *name)
{
	snprintf(buf, cap, "%s/%s.sock", dir, name);
}

/*
 * The socket in @c's staging directory takes the name of the cell's socket
 * (rename: atomic; a hard link would need CAP_FOWNER, the socket being the
 * cell's uid's).
 */
static int rename_socket(const struct sup_cell *c)
{
	char from[4300], to[4300];

	sock_path(from, sizeof(from), c->sock_host, c->cf.name);
	sock_path(to, sizeof(to), c->sock_dir, c->cf.name);
	return rename(from, to) ? -errno : 0;
}

/* Its staging directory goes (after its process was reaped); its own socket dir is used again. */
static void leave_staging(struct sup_cell *c)
{
	char sock[4300];

	if (!c->sock_host[0])
		return;
	sock_path(sock, sizeof(sock), c->sock_host, c->cf.name);
	unlink(sock);
	if (rmdir(c->sock_host) && errno != ENOENT)
		celld_log("capsid %s: rmdir %s: %s", c->inst, c->sock_host, strerror(errno));
	c->sock_host[0] = '\0';
	bind_spec(c);
}

static void timer_closed(uv_handle_t *h);

static void swap_free(struct sup_cell *n)
{
	leave_staging(n);
	uv_timer_stop(&n->timer);
	uv_close((uv_handle_t *)&n->timer, timer_closed);
}

#define EXCHANGE(a, b)                  \
	do {                            \
		__typeof__(a) t_ = (a); \
		(a) = (b);              \
		(b) = t_;               \
	} while (0)

/* The cell @c takes @n's process (the new program) and @n the cell's (the old one). */
static void exchange(struct sup_cell *c, struct sup_cell *n)
{
	static struct capsid_conf cf; /* the loop's thread only; too big for the stack twice */
	char host[sizeof(c->sock_host)];

	cf = c->cf;
	c->cf = n->cf;
	n->cf = cf;
	EXCHANGE(c->pid, n->pid);
	EXCHANGE(c->main_pid, n->main_pid);
	EXCHANGE(c->pidfd, n->pidfd);
	EXCHANGE(c->poll, n->poll);
	EXCHANGE(c->started_at, n->started_at);
	EXCHANGE(c->started_ns, n->started_ns);
	EXCHANGE(c->rtt_us, n->rtt_us);
	EXCHANGE(c->schema, n->schema);
	EXCHANGE(c->exe, n->exe); /* the cell's program is the new one now (same_program()) */
	EXCHANGE(c->swap_nro, n->swap_nro);
	EXCHANGE(c->keyed, n->keyed);
	{
		uint8_t key[sizeof(c->key)];

		memcpy(key, c->key, sizeof(key));
		memcpy(c->key, n->key, sizeof(key));
		memcpy(n->key, key, sizeof(key));
	}
	memcpy(host, c->sock_host, sizeof(host));
	memcpy(c->sock_host, n->sock_host, sizeof(host));
	memcpy(n->sock_host, host, sizeof(host));
	c->poll->data = c;
	n->poll->data = n;
	c->term_sent = n->term_sent = false;
	bind_spec(c);
	bind_spec(n);
}

/*
 * The old program's listening socket (at the cell's socket) to the new one
 * (at its staging socket) by SCM_RIGHTS, each asked with its own key.
 * Blocks the loop HAND_OVER_MS at most each way.  Return: 0 (@how says
 * so); -EAGAIN: the old one said it cannot give it (it has no key, or its
 * server knows no hand-over: @how says why), the rename is then the way;
 * another -errno (@how says why): the swap fails, the old program keeps
 * the socket.  A request that timed out may still be answered later, so
 * it is not followed by the rename: the old program would then take its
 * socket's backlog for the new one's and leave it.
 */
static int hand_over(struct sup_cell *c, struct sup_cell *n, char *how, size_t cap)
{
	uint64_t t0 = now_ms();
	char from[4300], to[4300];
	int fd = -1, err;

	if (!c->keyed || !n->keyed) {
		snprintf(how, cap, "celld made no key for %s", c->keyed ? "the new one" : "it");
		return -EAGAIN;
	}
	sock_path(from, sizeof(from), c->sock_dir, c->cf.name);
	sock_path(to, sizeof(to), n->sock_host, n->cf.name);
	err = cell_listener_request(from, c->fingerprint, c->key, HAND_OVER_MS, &fd);
	if (err) {
		snprintf(how, cap, "%s%s", err == -ETIMEDOUT ? "the old program did not give its "
							       "listening socket: "
							     : "",
			 cell_last_error(NULL));
		return err == -ETIMEDOUT ? err : -EAGAIN;
	}
	err = cell_listener_send(to, n->fingerprint, n->key, fd, HAND_OVER_MS);
	close(fd);
	if (err) {
		snprintf(how, cap, "the new program did not take the listening socket: %s",
			 cell_last_error(NULL));
		return err;
	}
	snprintf(how, cap, "listening socket handed over (SCM_RIGHTS)");
	celld_log("capsid %s: its listening socket handed over in %llu ms", c->inst,
		  (unsigned long long)(now_ms() - t0));
	return 0;
}

static void swap_refuse(struct sup_cell *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The swap ends before its commit: @n's new program is stopped, the cell untouched. */
static void swap_refuse(struct sup_cell *n, const char *fmt, ...)
{
	struct sup_cell *c = n->swap_of;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->swap_said, sizeof(c->swap_said), fmt, ap);
	va_end(ap);
	celld_log("capsid %s: swap %s", c->inst, c->swap_said);
	begin_stop(n, n->cf.stop_timeout_ms);
}

/* @n's new program answered PING in its staging directory (probe_ready()). */
static void swap_ready(struct sup_cell *n, struct cell_probe *p)
{
	struct sup_cell *c = n->swap_of;
	pid_t old = c->main_pid > 0 ? c->main_pid : c->pid;
	char how[200];
	int err;

	if (c->state != CELLD_SUP_READY || c->stop_asked) {
		swap_refuse(n, "failed: the cell is %s now", celld_sup_state_name(c->state));
		return;
	}
	if (p->fingerprint != c->fingerprint) {
		swap_refuse(n,
			    "refused: the new program answers fingerprint 0x%016llx, the cell "
			    "0x%016llx (a side-by-side version, not a swap)",
			    (unsigned long long)p->fingerprint, (unsigned long long)c->fingerprint);
		return;
	}
	err = hand_over(c, n, how, sizeof(how));
	if (err == -EAGAIN) {
		celld_log("capsid %s: the old program did not hand over its listening socket "
			  "(%s): the new one's socket is renamed over it",
			  c->inst, how);
		err = rename_socket(n);
		if (err) {
			swap_refuse(n, "failed: its socket could not take the cell's name: %s",
				    strerror(-err));
			return;
		}
		snprintf(how, sizeof(how), "its socket renamed over the cell's");
	} else if (err) {
		swap_refuse(n, "failed: %s", how);
		return;
	}
	if (p->pid > 0)
		n->main_pid = p->pid;
	n->rtt_us = p->rtt_us;
	free(n->schema);
	n->schema = p->schema;
	p->schema = NULL;
	exchange(c, n);
	n->swap_committed = true;
	snprintf(n->swap_said, sizeof(n->swap_said), "pid %d -> pid %d, %.120s", (int)old,
		 (int)(c->main_pid > 0 ? c->main_pid : c->pid), how);
	snprintf(c->swap_said, sizeof(c->swap_said), "draining: %.100s (the old one drains)",
		 n->swap_said);
	celld_log("capsid %s: swapped after %llu ms: %s; SIGTERM to the old one (its drain)",
		  c->inst, (unsigned long long)(now_ms() - c->started_at), n->swap_said);
	set_state(c, CELLD_SUP_READY);
	begin_stop(n, c->cf.stop_timeout_ms);
}

/* @n's process has exited (on_exit_ready()): the new program before its commit, or the old one. */
static void swap_reaped(struct sup_cell *n, const char *how)
{
	struct sup_cell *c = n->swap_of;

	if (n->swap_committed) {
		snprintf(c->swap_said, sizeof(c->swap_said),
			 "swapped: %.100s; the old one exited (%.80s)", n->swap_said, how);
		celld_log("capsid %s: the old program exited (%s) after its drain", c->inst,
			  how);
	} else {
		if (!strncmp(c->swap_said, "swapping", 8))
			snprintf(c->swap_said, sizeof(c->swap_said),
				 "failed: the new program exited (%s) before it was ready", how);
		celld_log("capsid %s: the swap's new program exited (%s)", c->inst, how);
	}
	c->swap = NULL;
	swap_free(n);
}

/* Whether @bin is under the directory @dir. */
static bool under(const char *dir, const char *bin)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(bin, dir, n) && bin[n] == '/';
}

/* Whether @bin can be seen in the cell's capsid: under /usr or one of its ro= paths. */
static bool visible_in(const struct capsid_conf *cf, const char *bin)
{
	if (under("/usr", bin))
		return true;
	for (unsigned int i = 0; i < cf->nro; i++)
		if (under(cf->ro[i], bin))
			return true;
	return false;
}

/* @args's ro= paths added to @cf's (those it has already are not repeated). */
static bool add_ro(struct capsid_conf *cf, const struct capsid_conf *args, struct capsid_why *w)
{
	for (unsigned int i = 0; i < args->nro; i++) {
		unsigned int k = 0;

		while (k < cf->nro && strcmp(cf->ro[k], args->ro[i]))
			k++;
		if (k < cf->nro)
			continue;
		if (cf->nro == CAPSID_CONF_MAX_PATHS) {
			capsid_complain(w, "more than %d ro= paths", CAPSID_CONF_MAX_PATHS);
			return false;
		}
		memcpy(cf->ro[cf->nro++], args->ro[i], sizeof(cf->ro[0]));
	}
	return true;
}

/*
 * @cf (a copy of @c's conf) for @c's next program: the ro= paths of @c's
 * own conf, without those earlier swaps added (but the one the new
 * program lives under, if it is under no other), then @args's.  So that
 * swaps and rollouts, each with a new DNA dir, do not pile paths up until
 * CAPSID_CONF_MAX_PATHS refuses every further one.  @added: how many of
 * @cf's last ro= paths are a swap's.
 */
static bool swap_ro(struct capsid_conf *cf, const struct sup_cell *c,
		    const struct capsid_conf *args, uint8_t *added, struct capsid_why *w)
{
	unsigned int base = c->cf.nro - c->swap_nro, keep = c->cf.nro;

	cf->nro = base;
	if (!visible_in(cf, args->args) && !visible_in(args, args->args))
		for (unsigned int i = base; i < c->cf.nro && keep == c->cf.nro; i++)
			if (under(c->cf.ro[i], args->args))
				keep = i;
	if (keep < c->cf.nro)
		memcpy(cf->ro[cf->nro++], c->cf.ro[keep], sizeof(cf->ro[0]));
	if (!add_ro(cf, args, w))
		return false;
	*added = (uint8_t)(cf->nro - base);
	return true;
}

/* The record of @c's new program, @args its argv (from a parsed spawn request); NULL: @w says why. */
static struct sup_cell *swap_begin(struct sup_cell *c, const struct capsid_conf *args,
				   struct capsid_why *w)
{
	struct sup_cell *n = calloc(1, sizeof(*n));

	if (!n) {
		capsid_complain(w, "out of memory");
		return NULL;
	}
	n->d = c->d;
	uv_timer_init(c->d->loop, &n->timer);
	n->timer.data = n;
	n->swap_of = c;
	n->cf = c->cf;
	memcpy(n->inst, c->inst, sizeof(n->inst));
	n->number = c->number;
	memcpy(n->cf.args, args->args, sizeof(n->cf.args));
	memcpy(n->cf.argoff, args->argoff, sizeof(n->cf.argoff));
	n->cf.nargs = args->nargs;
	n->cf.args_used = args->args_used;
	if (stat(n->cf.args, &n->exe))
		memset(&n->exe, 0, sizeof(n->exe));
	if (!swap_ro(&n->cf, c, args, &n->swap_nro, w)) {
		uv_close((uv_handle_t *)&n->timer, timer_closed);
		return NULL;
	}
	n->pidfd = -1;
	n->owner = c->owner;
	n->log = c->log;
	n->fingerprint = c->fingerprint;
	memcpy(n->sock_dir, c->sock_dir, sizeof(n->sock_dir));
	memcpy(n->data_dir, c->data_dir, sizeof(n->data_dir));
	snprintf(n->sock_host, sizeof(n->sock_host), "%s/capsid/.swap/%s-%u", c->d->cfg.runtime_dir,
		 c->inst, ++c->swaps);
	bind_spec(n);
	if (make_dir(n->sock_host)) {
		capsid_complain(w, "cannot make %s: %s", n->sock_host, strerror(errno));
		n->sock_host[0] = '\0';
		swap_free(n);
		return NULL;
	}
	n->window_start = now_ms();
	n->state = CELLD_SUP_STARTING; /* not BACKOFF: a failed start is reported, not retried */
	start(n);
	if (n->state == CELLD_SUP_FAILED) {
		capsid_complain(w, "the new program did not start: celld's log says why");
		swap_free(n);
		return NULL;
	}
	c->swap = n;
	snprintf(c->swap_said, sizeof(c->swap_said), "swapping: pid %d (the new program) starting",
		 (int)n->pid);
	return n;
}

/*
 * `cell rollout`'s canary: @c's conf with @args's argv, started beside @c as
 * NAME@K with the same fingerprint (no clash: it is flagged).  The CLI
 * compares the two instances' metrics, then swaps @c to the canary's
 * program (promote) and stops the canary, or only stops it (roll back).
 */
static struct sup_cell *canary_begin(struct sup_cell *c, const struct capsid_conf *args,
				     struct capsid_why *w)
{
	static struct capsid_conf cf; /* the loop's thread only */
	char inst[CELL_NAME_MAX];
	unsigned int number;
	struct sup_cell *k;
	uint8_t added;

	cf = c->cf;
	memcpy(cf.args, args->args, sizeof(cf.args));
	memcpy(cf.argoff, args->argoff, sizeof(cf.argoff));
	cf.nargs = args->nargs;
	cf.args_used = args->args_used;
	if (!swap_ro(&cf, c, args, &added, w))
		return NULL;
	if (!free_instance(cf.name, false, inst, &number)) {
		capsid_complain(w, "no free instance name for %s", cf.name);
		return NULL;
	}
	k = find_cell(inst);
	if (!k)
		k = new_cell(c->d, w);
	if (!k)
		return NULL;
	k->canary = true; /* before its readiness probe (same_fingerprint()) */
	if (!start_instance(k, &cf, inst, number, c->owner, w)) {
		k->canary = false;
		return NULL;
	}
	k->versioned = true;
	k->generation = ++generations;
	k->swap_nro = added;
	celld_log("capsid %s: canary %s started (%s)", c->inst, k->inst, cf.args);
	return k;
}

/* ---- nucleus methods: spawn, stop, swap -------------------------------- */

static enum cell_status refuse(struct cell_reply *reply, enum cell_status st, const char *why)
{
	if (reply && cell_reply_error(reply, st, why))
		return CELL_STATUS_INTERNAL;
	return st;
}

/* Root and celld's own uid may spawn; a cell's owner may stop it too. */
static bool may_manage(uid_t peer, const struct sup_cell *c)
{
	return peer == 0 || peer == geteuid() || (c && peer == c->owner);
}

/* A span of the request as a NUL-terminated string; false if it holds a NUL. */
static bool span_text(const char *s, uint32_t n, char *buf, size_t cap)
{
	if (n >= cap || (n && memchr(s, '\0', n)))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static enum cell_status answer_text(struct cell_reply *reply, pid_t pid, const char *state)
{
	struct nucleus_spawned *out;
	struct cellc_builder b;

	if (!reply)
		return CELL_STATUS_OK;
	out = nucleus_spawned_reply_begin(reply, NUCLEUS_SPAWNED_SIZE + strlen(state) + 32, &b);
	if (!out)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	out->pid = pid;
	(void)nucleus_spawned_set_state_str(&b, out, state);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

static enum cell_status answer(struct cell_reply *reply, const struct sup_cell *c)
{
	char state[CELL_NAME_MAX + 32];

	if (strcmp(c->inst, c->cf.name)) /* `cell spawn` says which instance it became */
		snprintf(state, sizeof(state), "%s as %s", celld_sup_state_name(c->state), c->inst);
	else
		snprintf(state, sizeof(state), "%s", celld_sup_state_name(c->state));
	return answer_text(reply, c->main_pid > 0 ? c->main_pid : c->pid, state);
}

static enum cell_status on_spawn(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	struct celld *d = ctx;
	const struct celld_entry *e;
	const char *bad = "invalid request";
	struct capsid_why w = { .where = NULL };
	struct capsid_conf *cf;
	struct sup_cell *c;

	if (nucleus_spawn_request_validate(v->data, v->len, &bad))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, bad);
	if (!may_manage(v->peer_uid, NULL))
		return refuse(reply, CELL_STATUS_PERMISSION_DENIED,
			      "only root and celld's uid may spawn cells");
	if (!available)
		return refuse(reply, CELL_STATUS_UNAVAILABLE, unavailable_why);
	cf = malloc(sizeof(*cf));
	if (!cf)
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	if (!capsid_conf_from_spawn(v->data, cf, &w)) {
		free(cf);
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, w.text);
	}
	e = celld_registry_find(d->registry, "", cf->name);
	if (e && !e->sup_state) {
		snprintf(w.text, sizeof(w.text), "cell name '%s' is taken (pid %d)", cf->name,
			 (int)e->pid);
		free(cf);
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, w.text);
	}
	celld_log("capsid %s: spawn asked by uid %u (pid %d)", cf->name, (unsigned int)v->peer_uid,
		  (int)v->peer_pid);
	c = add_cell(d, cf, v->peer_uid, &w);
	free(cf);
	if (!c)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, w.text);
	if (c->state == CELLD_SUP_FAILED)
		return refuse(reply, CELL_STATUS_UNAVAILABLE,
			      "the capsid did not start: celld's log says why");
	return answer(reply, c);
}

static enum cell_status on_stop(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	const struct nucleus_stop_request *req = v->data;
	const char *bad = "invalid request", *s;
	char name[CELL_NAME_MAX];
	struct sup_cell *c;
	uint32_t n;

	(void)ctx;
	if (nucleus_stop_request_validate(v->data, v->len, &bad))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, bad);
	s = nucleus_stop_request_name(req, &n);
	if (!span_text(s, n, name, sizeof(name)))
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "bad cell name");
	c = find_cell(name);
	if (!c)
		return refuse(reply, CELL_STATUS_NOT_FOUND, "no supervised cell of that name");
	if (!may_manage(v->peer_uid, c))
		return refuse(reply, CELL_STATUS_PERMISSION_DENIED,
			      "only root, celld's uid and the cell's owner may stop it");
	celld_log("capsid %s: stop asked by uid %u (pid %d)", name, (unsigned int)v->peer_uid,
		  (int)v->peer_pid);
	stop_group(c, req->timeout_ms ? req->timeout_ms : c->cf.stop_timeout_ms);
	return answer(reply, c);
}

/*
 * swap: the request of a spawn with the cell's name and the new argv; no
 * options but ro=PATH (read-only paths added) and canary=1 (start it as a
 * canary NAME@K beside the cell instead, for `cell rollout`); an empty argv
 * asks how the last swap went.  Answered at once
 * ("swapping: ..."): `cell swap` asks again until it is "swapped: ...",
 * "refused: ..." or "failed: ...".
 */
static enum cell_status on_swap(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	const struct nucleus_spawn_request *req = v->data;
	struct capsid_why w = { .where = NULL };
	const char *bad = "invalid request", *s;
	char name[CELL_NAME_MAX];
	struct capsid_conf *args;
	struct sup_cell *c;
	uint32_t n, nargs;
	bool canary;

	(void)ctx;
	if (nucleus_spawn_request_validate(v->data, v->len, &bad))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, bad);
	s = nucleus_spawn_request_name(req, &n);
	(void)nucleus_spawn_request_argv(req, &nargs);
	if (!span_text(s, n, name, sizeof(name)))
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "bad cell name");
	c = find_cell(name);
	if (!c)
		return refuse(reply, CELL_STATUS_NOT_FOUND, "no supervised cell of that name");
	if (!may_manage(v->peer_uid, c))
		return refuse(reply, CELL_STATUS_PERMISSION_DENIED,
			      "only root, celld's uid and the cell's owner may swap it");
	if (!nargs)
		return answer_text(reply, c->main_pid > 0 ? c->main_pid : c->pid,
				   c->swap_said[0] ? c->swap_said : "no swap yet");
	if (c->swap)
		return refuse(reply, CELL_STATUS_UNAVAILABLE, c->swap_said);
	if (c->state != CELLD_SUP_READY)
		return refuse(reply, CELL_STATUS_UNAVAILABLE, "only a ready cell is swapped");
	if (!c->cf.ready_ping)
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT,
			      "ready=none: a swap needs the readiness PING (the fingerprint)");
	args = malloc(sizeof(*args));
	if (!args)
		return refuse(reply, CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	if (!capsid_conf_from_swap(v->data, args, &canary, &w) ||
	    (!visible_in(&c->cf, args->args) && !visible_in(args, args->args))) {
		if (!w.bad)
			snprintf(w.text, sizeof(w.text),
				 "%.400s is not in the cell's capsid (not under /usr or an ro= "
				 "path)",
				 args->args);
		free(args);
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, w.text);
	}
	if (canary) { /* a canary beside the cell instead (`cell rollout`) */
		struct sup_cell *k;

		celld_log("capsid %s: canary of %s asked by uid %u (pid %d)", name, args->args,
			  (unsigned int)v->peer_uid, (int)v->peer_pid);
		k = canary_begin(c, args, &w);
		free(args);
		if (!k)
			return refuse(reply, CELL_STATUS_UNAVAILABLE, w.text);
		snprintf(w.text, sizeof(w.text), "canary %s %s", k->inst,
			 celld_sup_state_name(k->state));
		return answer_text(reply, k->main_pid > 0 ? k->main_pid : k->pid, w.text);
	}
	celld_log("capsid %s: swap to %s asked by uid %u (pid %d)", name, args->args,
		  (unsigned int)v->peer_uid, (int)v->peer_pid);
	c->swap_said[0] = '\0';
	if (!swap_begin(c, args, &w)) {
		free(args);
		return refuse(reply, CELL_STATUS_UNAVAILABLE, w.text);
	}
	free(args);
	return answer_text(reply, c->swap->pid, c->swap_said);
}

static int serve_methods(struct celld *d)
{
	int rc = cell_server_handle(d->nucleus, NUCLEUS_METHOD_SPAWN, on_spawn, d);

	if (!rc)
		rc = cell_server_handle(d->nucleus, NUCLEUS_METHOD_SWAP, on_swap, d);
	return rc ? rc : cell_server_handle(d->nucleus, NUCLEUS_METHOD_STOP, on_stop, d);
}

/* ---- the module ------------------------------------------------------- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void start_dir(struct celld *d, const char *dir, struct dirent **ents, int n)
{
	struct capsid_conf *cf = malloc(sizeof(*cf));

	for (int i = 0; cf && i < n; i++) {
		const char *e = ents[i]->d_name;
		size_t len = strlen(e);
		struct capsid_why w = { .where = NULL };
		char path[4200];

		if (len < 6 || strcmp(e + len - 5, ".conf"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e);
		if (capsid_conf_read(cf, path) && !add_cell(d, cf, geteuid(), &w))
			celld_log("capsid: %s: %s", path, w.text);
	}
	free(cf);
}

int celld_capsid_start(struct celld *d)
{
	const char *dir = celld_option(d, "capsid.dir", NULL);
	bool spawn = !strcmp(celld_option(d, "capsid.spawn", "0"), "1");
	struct dirent **ents;
	int n, rc;

	rc = serve_methods(d);
	if (rc)
		return rc;
	uv_timer_init(d->loop, &house);
	uv_timer_start(&house, on_house, IDLE_EVERY_MS, IDLE_EVERY_MS);
	house_running = true;
	capsid_conf_extra_key = access_key;
	snprintf(nucleus_sock, sizeof(nucleus_sock), "%s/nucleus.sock", d->cfg.runtime_dir);
	available = 0;
	if (!dir && !spawn)
		snprintf(unavailable_why, sizeof(unavailable_why),
			 "celld runs no capsid (start it with -o capsid.spawn=1 or -o "
			 "capsid.dir=DIR)");
	else if (!celld_caps_need("capsid (cells run as uid 65534)", capsid_caps,
				  sizeof(capsid_caps) / sizeof(capsid_caps[0]), unavailable_why,
				  sizeof(unavailable_why)))
		available = capsid_available(unavailable_why, sizeof(unavailable_why));
	if (!dir)
		return 0;
	if (!available) {
		celld_log("capsid: %s: no cell of %s is started", unavailable_why, dir);
		return 0;
	}
	n = scandir(dir, &ents, NULL, by_name);
	if (n < 0) {
		celld_log("capsid: %s: %s", dir, strerror(errno));
		return -errno;
	}
	start_dir(d, dir, ents, n);
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	celld_log("capsid: %d cell(s) from %s", ncells, dir);
	return 0;
}

/* Reaps @c if its bwrap has exited; true then. */
static bool reaped(struct sup_cell *c)
{
	if (c->pid <= 0)
		return true;
	if (waitpid(c->pid, NULL, WNOHANG) != c->pid)
		return false;
	capsid_reap(&c->spec, c->pid);
	c->pid = 0;
	return true;
}

static void timer_closed(uv_handle_t *h)
{
	struct sup_cell *c = h->data;

	free(c->schema);
	free(c->hist);
	free(c);
}

/* celld's exit: a swap's other process (new, or old and draining) is killed. */
static void swap_kill(struct sup_cell *c)
{
	struct sup_cell *n = c->swap;

	if (!n)
		return;
	c->swap = NULL;
	if (n->pid > 0) {
		kill_cell(n);
		waitpid(n->pid, NULL, 0);
		capsid_reap(&n->spec, n->pid);
		celld_log("capsid %s: celld's exit: the swap's other process (pid %d) killed",
			  c->inst, (int)n->pid);
	}
	if (n->poll) {
		uv_poll_stop(n->poll);
		uv_close((uv_handle_t *)n->poll, poll_closed);
	}
	if (n->pidfd >= 0)
		close(n->pidfd);
	swap_free(n);
}

/*
 * celld's exit: every running cell gets SIGTERM at once, then each has its
 * stop_timeout_ms to exit before SIGKILL.  Runs after the loop stopped, so
 * it waits here (polling waitpid) instead of on the loop.
 */
void celld_capsid_stop(struct celld *d)
{
	uint64_t t0 = now_ms();
	bool waiting = true;

	(void)d;
	for (int i = 0; i < ncells; i++)
		swap_kill(cells[i]);
	for (int i = 0; i < ncells; i++)
		if (cells[i]->pid > 0 && cells[i]->state != CELLD_SUP_STOPPING) {
			cells[i]->deadline = t0 + cells[i]->cf.stop_timeout_ms;
			term_cell(cells[i]);
		}
	while (waiting) {
		waiting = false;
		for (int i = 0; i < ncells; i++) {
			struct sup_cell *c = cells[i];

			if (reaped(c))
				continue;
			if (!c->term_sent && now_ms() < c->deadline)
				term_cell(c); /* its program may have appeared since */
			if (now_ms() >= c->deadline && !c->killed) {
				celld_log("capsid %s: still running %u ms after %s at celld's "
					  "exit: "
					  "SIGKILL",
					  c->inst, (unsigned int)(now_ms() - t0),
					  c->term_sent ? "SIGTERM" : "the stop (no program yet)");
				kill_cell(c);
				c->killed = true;
			}
			waiting = true;
		}
		if (waiting)
			usleep(10000);
	}
	if (house_running) {
		uv_timer_stop(&house);
		uv_close((uv_handle_t *)&house, NULL);
		house_running = false;
	}
	for (int i = 0; i < ncells; i++) {
		struct sup_cell *c = cells[i];

		unlink_socket(c);
		if (c->poll) {
			uv_poll_stop(c->poll);
			uv_close((uv_handle_t *)c->poll, poll_closed);
		}
		if (c->pidfd >= 0)
			close(c->pidfd);
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, timer_closed);
	}
	if (ncells)
		celld_log("capsid: %d cell(s) stopped in %llu ms", ncells,
			  (unsigned long long)(now_ms() - t0));
	ncells = 0;
}

#else /* !CELLD_HAVE_CAPSID */

void celld_capsid_enroll_name(const char *path, char *name, size_t cap)
{
	(void)path;
	(void)name;
	(void)cap;
}

struct celld_access_conf *celld_capsid_access(pid_t pid, const char **name,
					      const char *const **peers)
{
	(void)pid;
	(void)name;
	(void)peers;
	return NULL;
}

static enum cell_status unbuilt(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	(void)v;
	(void)ctx;
	if (reply && cell_reply_error(reply, CELL_STATUS_UNAVAILABLE,
				      "celld was built without libseccomp: no capsid"))
		return CELL_STATUS_INTERNAL;
	return CELL_STATUS_UNAVAILABLE;
}

int celld_capsid_start(struct celld *d)
{
	int rc = cell_server_handle(d->nucleus, NUCLEUS_METHOD_SPAWN, unbuilt, d);

	if (!rc)
		rc = cell_server_handle(d->nucleus, NUCLEUS_METHOD_STOP, unbuilt, d);
	if (!rc)
		rc = cell_server_handle(d->nucleus, NUCLEUS_METHOD_SWAP, unbuilt, d);
	if (rc)
		return rc;
	if (celld_option(d, "capsid.dir", NULL)) {
		celld_log("capsid: celld was built without libseccomp: no cell is started");
		return -ENOTSUP;
	}
	return 0;
}

void celld_capsid_stop(struct celld *d)
{
	(void)d;
}

#endif
