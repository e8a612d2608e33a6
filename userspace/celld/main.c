// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld: the nucleus daemon (Documentation/celld.rst).
 *
 *   celld [-r RUNTIME_DIR] [-s STATE_DIR] [-S] [-v] [-o KEY=VALUE]...
 *
 * One libuv loop runs everything: the nucleus cell (nucleus.c), the
 * runtime directory scan (scan.c) and the modules in the table below,
 * started in order and stopped in reverse.  SIGINT/SIGTERM end it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cell/rpc.h>

#include "celld.h"
#include "axon.h"
#include "http.h"
#include "logs.h"
#include "spanstore.h"
#include "supervisor.h"

/*
 * Modules, in start order.  Another part adds one line here and its file
 * to CMakeLists.txt; its start() reads its own -o options (celld_option())
 * and returns 0 doing nothing when it is not configured.
 */
static const struct celld_module modules[] = {
	{ "nucleus", celld_nucleus_start, celld_nucleus_stop },
	{ "scan", celld_scan_start, celld_scan_stop },
	{ "identity", celld_identity_start, celld_identity_stop },
	{ "discovery", celld_discovery_start, celld_discovery_stop },
	{ "collect", celld_collect_start, celld_collect_stop },
	{ "http", celld_http_start, celld_http_stop },
	{ "cluster", celld_cluster_start, celld_cluster_stop },
	{ "can", celld_can_start, celld_can_stop },
	{ "axon", celld_axon_start, celld_axon_stop },
	{ "logs", celld_logs_start, celld_logs_stop }, /* before capsid: its cells' log rings */
	{ "capsid", celld_capsid_start, celld_capsid_stop },
};

#define NMODULES (sizeof(modules) / sizeof(modules[0]))

void celld_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("celld: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

const char *celld_option(const struct celld *d, const char *key, const char *def)
{
	size_t n = strlen(key);

	for (int i = d->cfg.noptions - 1; i >= 0; i--)
		if (!strncmp(d->cfg.options[i], key, n) && d->cfg.options[i][n] == '=')
			return d->cfg.options[i] + n + 1;
	return def;
}

void celld_stop(struct celld *d, int code)
{
	if (code && !d->exit_code)
		d->exit_code = code;
	uv_stop(d->loop);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct celld *d = h->data;

	if (d->cfg.verbose)
		celld_log("signal %d: leaving", sig);
	celld_stop(d, 0);
}

static int usage(FILE *out)
{
	fputs("usage: celld [-r RUNTIME_DIR] [-s STATE_DIR] [-S] [-v] [-o KEY=VALUE]...\n"
	      "  -r DIR        runtime directory (default: cell_runtime_dir(): /run/cell for\n"
	      "                root, else $XDG_RUNTIME_DIR/cell)\n"
	      "  -s DIR        state directory (default /var/lib/cell for root, else\n"
	      "                $XDG_STATE_HOME/cell or ~/.local/state/cell)\n"
	      "  -S            do not scan the runtime directory for unregistered sockets\n"
	      "  -v            log registrations and refusals\n"
	      "  -o KEY=VALUE  an option of a module (see celld(8))\n",
	      out);
	return out == stdout ? 0 : 2;
}

static int default_state_dir(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, cap, "/var/lib/cell");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/cell", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, cap, "%s/.local/state/cell", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* mkdir -p with mode 0700 for the directories made here. */
static int make_dirs(const char *path)
{
	char tmp[4096];

	if (strlen(path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp, path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int copy_dir(char *dst, size_t cap, const char *src)
{
	if (src[0] != '/' || strlen(src) >= cap)
		return -EINVAL;
	strcpy(dst, src);
	return 0;
}

static int parse_args(struct celld *d, int argc, char **argv)
{
	int opt;

	d->cfg.scan = true;
	while ((opt = getopt(argc, argv, "r:s:Svo:h")) != -1) {
		switch (opt) {
		case 'r':
			if (copy_dir(d->cfg.runtime_dir, sizeof(d->cfg.runtime_dir), optarg))
				goto bad_dir;
			break;
		case 's':
			if (copy_dir(d->cfg.state_dir, sizeof(d->cfg.state_dir), optarg))
				goto bad_dir;
			break;
		case 'S':
			d->cfg.scan = false;
			break;
		case 'v':
			d->cfg.verbose = true;
			break;
		case 'o':
			if (!strchr(optarg, '=') || d->cfg.noptions == CELLD_MAX_OPTIONS) {
				celld_log("-o %s: KEY=VALUE expected (at most %d)", optarg,
					  CELLD_MAX_OPTIONS);
				return 2;
			}
			d->cfg.options[d->cfg.noptions++] = optarg;
			break;
		case 'h':
			return usage(stdout) ? 2 : 1;
		default:
			return usage(stderr);
		}
	}
	if (optind != argc)
		return usage(stderr);
	return 0;
bad_dir:
	celld_log("-%c %s: an absolute path is expected", opt, optarg);
	return 2;
}

static int resolve_dirs(struct celld *d)
{
	int rc = 0;

	if (!d->cfg.runtime_dir[0])
		rc = cell_runtime_dir(d->cfg.runtime_dir, sizeof(d->cfg.runtime_dir));
	if (rc) {
		celld_log("no runtime directory: %s", strerror(-rc));
		return rc;
	}
	if (!d->cfg.state_dir[0])
		rc = default_state_dir(d->cfg.state_dir, sizeof(d->cfg.state_dir));
	if (!rc)
		rc = make_dirs(d->cfg.state_dir);
	if (rc)
		celld_log("state directory %s: %s", d->cfg.state_dir, strerror(-rc));
	return rc;
}

/* A registration costs no fd, but a watched process one: allow many. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct celld d;
	uv_signal_t sigint, sigterm;
	size_t started = 0;
	int rc;

	rc = parse_args(&d, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (resolve_dirs(&d))
		return 1;
	{
		char err[256];

		d.cfg.listen_fd = celld_listen_fd("nucleus", err, sizeof(err));
		if (d.cfg.listen_fd < -1) {
			celld_log("socket activation: %s", err);
			return 1;
		}
	}
	raise_fd_limit();
	if (celld_caps_drop(&d)) /* before any module: each keeps only what it declared */
		return 1;
	/* A peer that closes a socket (a cell, a scrape, a Raft node) is an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	d.loop = uv_default_loop();
	d.registry = celld_registry_new(d.loop);
	if (!d.registry)
		return 1;
	uv_signal_init(d.loop, &sigint);
	uv_signal_init(d.loop, &sigterm);
	sigint.data = sigterm.data = &d;
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	for (; started < NMODULES; started++) {
		rc = modules[started].start(&d);
		if (rc) {
			celld_log("%s: %s", modules[started].name, strerror(rc < 0 ? -rc : rc));
			d.exit_code = 1;
			break;
		}
	}
	if (started == NMODULES && celld_nucleus_serve(&d))
		d.exit_code = 1;
	else if (started == NMODULES) {
		celld_log("nucleus at %s (state %s%s)", cell_server_path(d.nucleus),
			  d.cfg.state_dir, d.cfg.listen_fd >= 0 ? ", socket activation" : "");
		uv_run(d.loop, UV_RUN_DEFAULT);
		celld_nucleus_quiesce(&d); /* before the modules its handlers use go */
	}
	while (started--)
		modules[started].stop(&d);
	celld_registry_free(d.registry);
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_run(d.loop, UV_RUN_NOWAIT);
	cell_server_free(d.nucleus);
	(void)uv_loop_close(d.loop);
	return d.exit_code;
}
