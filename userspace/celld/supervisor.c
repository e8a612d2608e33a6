// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld module "capsid": the supervisor.  With -o capsid.dir=DIR, celld
 * reads DIR/ *.conf (one cell each), starts every cell in a capsid
 * (capsid.c) and restarts it by its policy:
 *
 *   name=NAME                  the cell (letters, digits, - _ .)
 *   exec=/abs/program ARG...   split on spaces
 *   restart=never|on-failure|always       (default on-failure)
 *   max_restarts=N window_s=S  more than N restarts within S seconds: failed
 *                              (default 5 in 60)
 *   backoff_ms=MS backoff_max_ms=MS      first delay, doubled up to the max
 *                              (default 100, 10000); reset after a run of
 *                              window_s seconds
 *   ro=PATH  peer=SOCKET       visible read-only (repeatable, 16 each)
 *   net=1                      the host's network
 *   memory_max=BYTES pids_max=N
 *   log_size=BYTES|Nk|NM       its log ring (logs.c; default 256k)
 *   nucleus=0|1 grant=METHOD,... nucleus_rate=N nucleus_burst=N
 *                              its rights on the nucleus (access.c)
 *
 * A cell's socket directory is RUNTIME_DIR/capsid/NAME, its data directory
 * STATE_DIR/capsid/NAME.  Exits are seen through a pidfd on the loop.
 * Each start, exit, restart and failure is a log line.  The cell's stdout
 * and stderr go to its log ring (`cell logs`).  Not built yet: `cell
 * spawn`, states in `cell ps`, graceful stop (celld's exit kills bwrap,
 * and --die-with-parent the cell).  Documentation/capsid.rst.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access.h"
#include "celld.h"

#ifdef CELLD_HAVE_CAPSID
#include <sys/capability.h>

#include "capsid.h"
#include "logring.h"
#include "logs.h"

/* What starting cells as uid 65534 takes (caps.c keeps them for capsid.dir). */
static const int capsid_caps[] = { CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_KILL, CAP_DAC_OVERRIDE };

#define MAX_CELLS 64
#define MAX_ARGS  32

enum restart {
	RESTART_NEVER,
	RESTART_ON_FAILURE,
	RESTART_ALWAYS
};

struct sup_cell {
	struct celld *d;
	char name[64];
	char line[1024]; /* exec=, split in place into argv */
	char *argv[MAX_ARGS + 1];
	char paths[2 * CAPSID_MAX_PATHS][512];
	char sock_dir[4096], data_dir[4200];
	struct capsid_spec spec;
	enum restart restart;
	unsigned int max_restarts, window_s, backoff_ms, backoff_max_ms;
	unsigned int restarts; /* in the current window */
	uint64_t window_start, started_at;
	unsigned int delay_ms;
	pid_t pid;
	int pidfd;
	bool failed, polling;
	uint32_t log_size;
	struct celld_cell_log *log; /* NULL: its output goes to celld's stderr */
	uv_poll_t poll;
	uv_timer_t timer;
	struct celld_access_conf access; /* its rights on the nucleus (access.c) */
};

static struct sup_cell *cells[MAX_CELLS];
static int ncells;
static char nucleus_sock[4200]; /* given to each cell (nucleus=1) */

struct celld_access_conf *celld_capsid_access(pid_t pid, const char **name,
					      const char *const **peers)
{
	for (int i = 0; pid > 0 && i < ncells; i++)
		if (cells[i]->pid == pid) {
			*name = cells[i]->name;
			*peers = cells[i]->spec.peer_sockets;
			return &cells[i]->access;
		}
	return NULL;
}

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static unsigned int number(const char *v, const char *file, const char *key, bool *bad)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (*v == '\0' || *end || n > 1000000000ul) {
		celld_log("capsid: %s: %s=%s is not a number", file, key, v);
		*bad = true;
	}
	return (unsigned int)n;
}

/* Parse @path into @c; false (logged) if it is not a valid cell. */
static bool parse(struct sup_cell *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[1100];
	int nro = 0, npeer = 0, npaths = 0, acc;
	bool bad = false;

	if (!f) {
		celld_log("capsid: %s: %s", path, strerror(errno));
		return false;
	}
	celld_access_conf_init(&c->access);
	c->restart = RESTART_ON_FAILURE;
	c->max_restarts = 5;
	c->window_s = 60;
	c->backoff_ms = 100;
	c->backoff_max_ms = 10000;
	c->spec.stdout_fd = 2; /* celld's stderr (the journal), if it has no log ring */
	c->spec.stderr_fd = 2;
	while (fgets(buf, sizeof(buf), f)) {
		char *eq, *v;

		buf[strcspn(buf, "\n")] = '\0';
		if (!buf[0] || buf[0] == '#')
			continue;
		eq = strchr(buf, '=');
		if (!eq) {
			celld_log("capsid: %s: not KEY=VALUE: %s", path, buf);
			bad = true;
			continue;
		}
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(buf, "name")) {
			snprintf(c->name, sizeof(c->name), "%s", v);
		} else if (!strcmp(buf, "exec")) {
			snprintf(c->line, sizeof(c->line), "%s", v);
		} else if (!strcmp(buf, "restart")) {
			if (!strcmp(v, "never"))
				c->restart = RESTART_NEVER;
			else if (!strcmp(v, "on-failure"))
				c->restart = RESTART_ON_FAILURE;
			else if (!strcmp(v, "always"))
				c->restart = RESTART_ALWAYS;
			else {
				celld_log("capsid: %s: restart=%s (never, on-failure, always)",
					  path, v);
				bad = true;
			}
		} else if (!strcmp(buf, "max_restarts")) {
			c->max_restarts = number(v, path, buf, &bad);
		} else if (!strcmp(buf, "window_s")) {
			c->window_s = number(v, path, buf, &bad);
		} else if (!strcmp(buf, "backoff_ms")) {
			c->backoff_ms = number(v, path, buf, &bad);
		} else if (!strcmp(buf, "backoff_max_ms")) {
			c->backoff_max_ms = number(v, path, buf, &bad);
		} else if (!strcmp(buf, "memory_max")) {
			c->spec.memory_max = number(v, path, buf, &bad);
		} else if (!strcmp(buf, "pids_max")) {
			c->spec.pids_max = number(v, path, buf, &bad);
		} else if (!strcmp(buf, "log_size")) {
			if (logring_parse_size(v, &c->log_size)) {
				celld_log("capsid: %s: log_size=%s: a size from %uk to %uM", path,
					  v, LOGRING_MIN_SIZE >> 10, LOGRING_MAX_SIZE >> 20);
				bad = true;
			}
		} else if (!strcmp(buf, "net")) {
			c->spec.share_net = !strcmp(v, "1");
		} else if ((!strcmp(buf, "ro") && nro < CAPSID_MAX_PATHS) ||
			   (!strcmp(buf, "peer") && npeer < CAPSID_MAX_PATHS)) {
			if (v[0] != '/' || strlen(v) >= sizeof(c->paths[0])) {
				celld_log("capsid: %s: %s=%s: an absolute path is needed", path,
					  buf, v);
				bad = true;
				continue;
			}
			snprintf(c->paths[npaths], sizeof(c->paths[0]), "%s", v);
			if (buf[0] == 'r')
				c->spec.ro_paths[nro++] = c->paths[npaths++];
			else
				c->spec.peer_sockets[npeer++] = c->paths[npaths++];
		} else if ((acc = celld_access_conf_key(&c->access, path, buf, v)) != 0) {
			bad |= acc < 0; /* nucleus=, grant=, nucleus_rate=, nucleus_burst= */
		} else {
			celld_log("capsid: %s: unknown key %s", path, buf);
			bad = true;
		}
	}
	fclose(f);
	if (!valid_name(c->name)) {
		celld_log("capsid: %s: name= missing or not a cell name", path);
		bad = true;
	}
	{
		int n = 0;

		for (char *tok = strtok(c->line, " "); tok && n < MAX_ARGS; tok = strtok(NULL, " "))
			c->argv[n++] = tok;
		c->argv[n] = NULL;
		if (!n || c->argv[0][0] != '/') {
			celld_log("capsid: %s: exec= needs an absolute program path", path);
			bad = true;
		}
	}
	if (!c->max_restarts && c->restart != RESTART_NEVER)
		c->max_restarts = 1;
	return !bad;
}

static void start(struct sup_cell *c);

static void on_timer(uv_timer_t *t)
{
	start(t->data);
}

static void closed(uv_handle_t *h)
{
	(void)h;
}

static void on_exit_ready(uv_poll_t *p, int status, int events)
{
	struct sup_cell *c = p->data;
	uint64_t now = now_ms(), ran;
	int st = 0;
	bool failure;
	char how[64];

	(void)status;
	(void)events;
	if (waitpid(c->pid, &st, WNOHANG) != c->pid)
		return;
	uv_poll_stop(&c->poll);
	uv_close((uv_handle_t *)&c->poll, closed);
	c->polling = false;
	close(c->pidfd);
	c->pidfd = -1;
	capsid_reap(&c->spec, c->pid);
	c->pid = 0;
	if (WIFEXITED(st))
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(st));
	else
		snprintf(how, sizeof(how), "signal %d", WTERMSIG(st));
	failure = !WIFEXITED(st) || WEXITSTATUS(st);
	ran = now - c->started_at;
	if (c->restart == RESTART_NEVER || (c->restart == RESTART_ON_FAILURE && !failure)) {
		celld_log("capsid %s: exited (%s) after %llu ms; restart=%s: not restarted",
			  c->name, how, (unsigned long long)ran,
			  c->restart == RESTART_NEVER ? "never" : "on-failure");
		return;
	}
	if (now - c->window_start >= (uint64_t)c->window_s * 1000) {
		c->window_start = now;
		c->restarts = 0;
	}
	if (ran >= (uint64_t)c->window_s * 1000)
		c->delay_ms = 0; /* it ran long enough: start over from the first delay */
	if (++c->restarts > c->max_restarts) {
		c->failed = true;
		celld_log("capsid %s: exited (%s); failed: %u restarts within %u s", c->name, how,
			  c->max_restarts, c->window_s);
		return;
	}
	c->delay_ms = c->delay_ms ? c->delay_ms * 2 : c->backoff_ms;
	if (c->delay_ms > c->backoff_max_ms)
		c->delay_ms = c->backoff_max_ms;
	celld_log("capsid %s: exited (%s) after %llu ms; restart %u of %u in %u ms", c->name, how,
		  (unsigned long long)ran, c->restarts, c->max_restarts, c->delay_ms);
	uv_timer_start(&c->timer, on_timer, c->delay_ms, 0);
}

/* capsid_spawn() with the cell's stdout and stderr into its log ring (logs.c). */
static pid_t spawn_logged(struct sup_cell *c, char *why, size_t whylen)
{
	int rc = 0;
	pid_t pid;

	if (c->log)
		rc = celld_cell_log_pipes(c->log, &c->spec.stdout_fd, &c->spec.stderr_fd);
	if (rc)
		celld_log("capsid %s: no pipes for its log: %s (output to celld's stderr)", c->name,
			  strerror(-rc));
	pid = capsid_spawn(&c->spec, why, whylen);
	if (c->log)
		celld_cell_log_started(c->log, pid);
	c->spec.stdout_fd = c->spec.stderr_fd = 2;
	return pid;
}

static void start(struct sup_cell *c)
{
	char why[256];
	int fd;

	c->pid = spawn_logged(c, why, sizeof(why));
	if (c->pid < 0) {
		c->failed = true;
		c->pid = 0;
		celld_log("capsid %s: not started: %s", c->name, why);
		return;
	}
	c->started_at = now_ms();
	fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (fd < 0 || uv_poll_init(c->d->loop, &c->poll, fd)) {
		celld_log("capsid %s: pidfd_open: %s: the cell is not supervised", c->name,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	c->pidfd = fd;
	c->poll.data = c;
	c->polling = true;
	uv_poll_start(&c->poll, UV_READABLE, on_exit_ready);
	celld_log("capsid %s: started, pid %d", c->name, (int)c->pid);
}

static int make_dir(const char *path)
{
	char tmp[4200];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0711) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int celld_capsid_start(struct celld *d)
{
	const char *dir = celld_option(d, "capsid.dir", NULL);
	struct dirent **ents;
	char why[256];
	int n;

	if (!dir)
		return 0;
	if (celld_caps_need("capsid (cells run as uid 65534)", capsid_caps,
			    sizeof(capsid_caps) / sizeof(capsid_caps[0]), why, sizeof(why))) {
		celld_log("capsid: %s: no cell of %s is started", why, dir);
		return 0;
	}
	if (!capsid_available(why, sizeof(why))) {
		celld_log("capsid: %s: no cell of %s is started", why, dir);
		return 0;
	}
	/*
	 * bwrap runs as the cell's uid and must reach its dirs: the state and
	 * runtime directories become traversable (0711: no listing; celld's
	 * keys in the state directory are 0600 files).
	 */
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
	snprintf(nucleus_sock, sizeof(nucleus_sock), "%s/nucleus.sock", d->cfg.runtime_dir);
	n = scandir(dir, &ents, NULL, by_name);
	if (n < 0) {
		celld_log("capsid: %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;
		size_t len = strlen(e);
		char path[4200];
		struct sup_cell *c;

		if (len < 6 || strcmp(e + len - 5, ".conf") || ncells == MAX_CELLS)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e);
		c = calloc(1, sizeof(*c));
		if (!c || !parse(c, path)) {
			free(c);
			continue;
		}
		c->d = d;
		c->pidfd = -1;
		c->log = celld_cell_log_open(d, c->name, c->log_size);
		if (!c->log)
			celld_log("capsid %s: no log ring: %s (output to celld's stderr)", c->name,
				  strerror(errno));
		snprintf(c->sock_dir, sizeof(c->sock_dir), "%s/capsid/%s", d->cfg.runtime_dir,
			 c->name);
		snprintf(c->data_dir, sizeof(c->data_dir), "%s/capsid/%s", d->cfg.state_dir,
			 c->name);
		if (make_dir(c->sock_dir) || make_dir(c->data_dir)) {
			celld_log("capsid %s: cannot make its dirs: %s", c->name, strerror(errno));
			free(c);
			continue;
		}
		c->spec.name = c->name;
		c->spec.argv = c->argv;
		c->spec.socket_dir = c->sock_dir;
		c->spec.data_dir = c->data_dir;
		c->spec.nucleus_socket = c->access.nucleus ? nucleus_sock : NULL;
		c->window_start = now_ms();
		uv_timer_init(d->loop, &c->timer);
		c->timer.data = c;
		cells[ncells++] = c;
		start(c);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	celld_log("capsid: %d cell(s) from %s", ncells, dir);
	return 0;
}

void celld_capsid_stop(struct celld *d)
{
	(void)d;
	for (int i = 0; i < ncells; i++) {
		struct sup_cell *c = cells[i];

		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, closed);
		if (c->polling) {
			uv_poll_stop(&c->poll);
			uv_close((uv_handle_t *)&c->poll, closed);
		}
		if (c->pid > 0) {
			kill(c->pid, SIGTERM); /* bwrap; --die-with-parent takes the cell */
			waitpid(c->pid, NULL, 0);
			capsid_reap(&c->spec, c->pid);
		}
		if (c->pidfd >= 0)
			close(c->pidfd);
	}
	/* The handles close on the loop's last run; the cells stay allocated until exit. */
	ncells = 0;
}

#else /* !CELLD_HAVE_CAPSID */

struct celld_access_conf *celld_capsid_access(pid_t pid, const char **name,
					      const char *const **peers)
{
	(void)pid;
	(void)name;
	(void)peers;
	return NULL;
}

int celld_capsid_start(struct celld *d)
{
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
