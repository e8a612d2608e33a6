// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell build [-j] [-s STATE_DIR] DIR: the cell in DIR built into the cache
 * STATE_DIR/ribosome/<DNA>/ (Documentation/ribosome.rst), or found there.
 *
 * The build does not run in DIR: the inputs that were hashed (dna.c), and
 * only those, are written from memory into a fresh STATE_DIR/ribosome/tmp/
 * directory and built there (in a bubblewrap sandbox where one starts:
 * probe_sandbox) with SOURCE_DATE_EPOCH, LC_ALL=C, TZ=UTC, and
 * CFLAGS = cflags= of the conf, $CFLAGS, -ffile-prefix-map and
 * -fdebug-prefix-map of that directory (and of DIR) to ".".  The build is
 * given CC, CELLC, CELL_CFLAGS and CELL_LIBS.  build=cmake runs
 * `cmake -S . -B build` then `cmake --build build`; build=make runs `make`;
 * anything else `/bin/sh -c COMMAND`, in the directory.  output= names the
 * binary (relative to the tree); it is kept as <DNA>/NAME with dna.txt
 * (what `cell dna` prints) and build.log, the directory renamed into
 * place in one step; ribosome/names/NAME points at the newest build.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cell/rpc.h>

#include "cell.h"
#include "jsonout.h"
#include "ribosome.h"

#define LOG_TAIL_LINES 20

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void ribosome_remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *path, const char *bytes, size_t len, unsigned int mode)
{
	char dir[PATH_MAX];
	char *slash;
	ssize_t n = 0;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (ribosome_mkdirs(dir, true))
			return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode ? mode : 0644);
	if (fd < 0)
		return -1;
	for (size_t at = 0; at < len; at += (size_t)n) {
		n = write(fd, bytes + at, len - at);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n < 0)
			break;
	}
	return close(fd) || n < 0 ? -1 : 0;
}

/* The hashed inputs, from memory, under @src. */
static int lay_out(const struct dna *d, const char *src)
{
	char path[PATH_MAX + RECIPE_PATH_BYTES];

	for (int i = 0; i < d->ninputs; i++) {
		const struct dna_input *in = &d->inputs[i];

		if (strcmp(in->kind, "file"))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", src, in->key) >= (int)sizeof(path) ||
		    write_file(path, in->value, in->len, in->mode))
			return -1;
	}
	if (snprintf(path, sizeof(path), "%s/%s", src, d->recipe.schema) >= (int)sizeof(path))
		return -1;
	return write_file(path, d->schema_raw, d->schema_raw_len, 0644);
}

static void set_build_env(const struct dna *d, const char *src, const char *scratch)
{
	const char *user = getenv("CFLAGS");
	char epoch[32], *cflags = NULL;

	if (asprintf(&cflags,
		     "%s%s%s -ffile-prefix-map=%s=. -fdebug-prefix-map=%s=. "
		     "-ffile-prefix-map=%s=.",
		     d->recipe.cflags, user ? " " : "", user ? user : "", src, src, d->dir) < 0)
		_exit(126);
	snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)d->source_date_epoch);
	setenv("CFLAGS", cflags, 1);
	setenv("SOURCE_DATE_EPOCH", epoch, 1);
	setenv("LC_ALL", "C", 1);
	setenv("TZ", "UTC", 1);
	setenv("TMPDIR", scratch, 1); /* the compiler's temporary files */
	setenv("CC", d->cc, 1);
	setenv("CELLC", d->cellc, 1);
	setenv("CELL_CFLAGS", d->cell_cflags, 1);
	setenv("CELL_LIBS", d->cell_libs, 1);
	unsetenv("MAKEFLAGS"); /* not ctest's or an outer make's jobserver */
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	free(cflags);
}

/*
 * The build runs in a bubblewrap sandbox when one starts here: / read-only
 * (/tmp too: cellc or libcell may live there), no network (its own empty
 * network namespace), its own pid, IPC and UTS namespaces, no
 * capabilities, a new session; only the build directory and a scratch
 * directory beside it (its TMPDIR) are writable.  A read-only bind does
 * not stop connect() on a Unix socket, and the build runs as the user who
 * builds (often root or celld's uid): so /run (celld's nucleus.sock,
 * systemd's and D-Bus's sockets), the cells' runtime directory
 * (cell_runtime_dir(): sockets of cells and of celld) and the state
 * directory (node.key, raft/, the ribosome's keys) are empty tmpfs in the
 * sandbox (hide_dirs()).  Else unsandboxed, said on stderr (and
 * "sandbox":false with -j).
 */
#define BWRAP "/usr/bin/bwrap"
static bool sandboxed;

static void probe_sandbox(const char *cmd)
{
	char why[300];

	sandboxed = !ribosome_capture_all(
		(char *const[]){ BWRAP, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
				 "--unshare-net", "--unshare-pid", "--die-with-parent", "--",
				 "/bin/true", NULL },
		why, sizeof(why), true);
	if (!sandboxed)
		fprintf(stderr, "cell %s: warning: building unsandboxed: %s: %s\n", cmd, BWRAP,
			why[0] ? why : "cannot run");
}

bool ribosome_build_sandboxed(void)
{
	return sandboxed;
}

#define MAX_HIDDEN 3
static char hidden[MAX_HIDDEN][PATH_MAX];
static int nhidden;

/* Whether @dir is, or is an ancestor of, a path named in @s (then it stays visible). */
static bool named_in(const char *s, const char *dir)
{
	size_t n = strlen(dir);

	for (const char *p = strstr(s, dir); p; p = strstr(p + 1, dir))
		if (p[n] == '\0' || p[n] == '/' || p[n] == ' ')
			return true;
	return false;
}

/*
 * The directories the build must not see (exec_step() mounts an empty
 * tmpfs on each): /run, the cells' runtime directory, the state directory
 * (the parent of @cache, STATE/ribosome).  One that cellc, CELL_CFLAGS or
 * CELL_LIBS name a path under stays visible (the build needs it), as does
 * "/" itself.
 */
static void hide_dirs(const char *cache, const struct dna *d)
{
	char want[MAX_HIDDEN][PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(cache, '/');

	nhidden = 0;
	snprintf(want[0], sizeof(want[0]), "/run");
	if (cell_runtime_dir(want[1], sizeof(want[1])))
		want[1][0] = '\0';
	snprintf(want[2], sizeof(want[2]), "%.*s", slash ? (int)(slash - cache) : 0, cache);
	for (int i = 0; i < MAX_HIDDEN; i++) {
		bool dup = false;

		if (!want[i][0] || !realpath(want[i], real) || !strcmp(real, "/") ||
		    named_in(d->cellc, real) || named_in(d->cell_cflags, real) ||
		    named_in(d->cell_libs, real))
			continue;
		for (int k = 0; k < nhidden; k++) { /* under one hidden already */
			size_t n = strlen(hidden[k]);

			dup = dup || (!strncmp(real, hidden[k], n) && (!real[n] || real[n] == '/'));
		}
		if (!dup)
			snprintf(hidden[nhidden++], sizeof(hidden[0]), "%s", real);
	}
}

static void exec_step(const char *src, const char *scratch, char *const argv[])
{
	/* / read-only (cellc, libcell, the toolchain), the hidden dirs, then the two writable dirs. */
	const char *box[] = { "--bind",
			      src,
			      src,
			      "--bind",
			      scratch,
			      scratch,
			      "--dev",
			      "/dev",
			      "--proc",
			      "/proc",
			      "--unshare-net",
			      "--unshare-pid",
			      "--unshare-ipc",
			      "--unshare-uts",
			      "--die-with-parent",
			      "--new-session",
			      "--cap-drop",
			      "ALL",
			      "--chdir",
			      src,
			      "--" };
	const size_t nbox = sizeof(box) / sizeof(box[0]);
	const char *all[4 + 2 * MAX_HIDDEN + nbox + 8];
	size_t n = 0;

	if (!sandboxed)
		execvp(argv[0], argv);
	all[n++] = BWRAP;
	all[n++] = "--ro-bind";
	all[n++] = "/";
	all[n++] = "/";
	for (int i = 0; i < nhidden; i++) {
		all[n++] = "--tmpfs";
		all[n++] = hidden[i];
	}
	for (size_t i = 0; i < nbox; i++)
		all[n++] = box[i];
	for (int i = 0; argv[i] && i < 7; i++)
		all[n++] = argv[i];
	all[n] = NULL;
	execv(BWRAP, (char *const *)all);
}

/* Runs one step in @src, output appended to @log; 0 or its exit status. */
static int step(const struct dna *d, const char *src, const char *log, char *const argv[])
{
	const char *slash = strrchr(src, '/');
	char scratch[PATH_MAX + 16];
	int status, fd;
	pid_t pid;

	/* build.XXXXXX/scratch beside build.XXXXXX/src (build_fresh makes it). */
	snprintf(scratch, sizeof(scratch), "%.*s/scratch", (int)(slash - src), src);

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || chdir(src))
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		/*
		 * Nothing of the caller's but 0-2: bwrap hands its fds on, and a
		 * directory fd would be a way out of the sandbox's mounts.
		 */
		if (close_range(3, ~0U, 0))
			_exit(126);
		set_build_env(d, src, scratch);
		exec_step(src, scratch, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_build(const struct dna *d, const char *src, const char *log)
{
	char cmd[RECIPE_TEXT_BYTES];

	snprintf(cmd, sizeof(cmd), "%s", d->recipe.command);
	switch (d->recipe.build) {
	case RECIPE_CMAKE:
		return step(d, src, log, (char *const[]){ "cmake", "-S", ".", "-B", "build", NULL })
			       ?: step(d, src, log,
				       (char *const[]){ "cmake", "--build", "build", NULL });
	case RECIPE_MAKE:
		return step(d, src, log, (char *const[]){ "make", NULL });
	default:
		return step(d, src, log, (char *const[]){ "/bin/sh", "-c", cmd, NULL });
	}
}

static void print_tail(const char *cmd, const char *log)
{
	char line[512];
	long total = 0, n = 0;
	FILE *f = fopen(log, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		total++;
	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (++n > total - LOG_TAIL_LINES)
			fprintf(stderr, "cell %s: | %s", cmd, line);
	fclose(f);
}

static int copy_binary(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n = 0;
	int in, out;
	struct stat st;

	in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0 || fstat(in, &st) || !S_ISREG(st.st_mode)) {
		if (in >= 0)
			close(in);
		return -1;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out >= 0 && fchmod(out, 0755)) { /* whatever the umask: capsids run it */
		close(out);
		out = -1;
	}
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	return out < 0 || close(out) || n < 0 ? -1 : 0;
}

/* Keeps the binary, dna.txt, build.log in @keep (a fresh directory). */
static int keep(const char *cmd, const struct dna *d, const char *src, const char *log,
		const char *keepdir)
{
	char from[PATH_MAX + RECIPE_PATH_BYTES], to[PATH_MAX + 80];
	FILE *f;

	if (snprintf(from, sizeof(from), "%s/%s", src, d->recipe.output) >= (int)sizeof(from) ||
	    snprintf(to, sizeof(to), "%s/%s", keepdir, d->recipe.name) >= (int)sizeof(to) ||
	    mkdir(keepdir, 0755) || chmod(keepdir, 0755) || copy_binary(from, to)) {
		fprintf(stderr, "cell %s: the build made no %s (output=)\n", cmd, d->recipe.output);
		return -1;
	}
	snprintf(to, sizeof(to), "%s/dna.txt", keepdir);
	f = fopen(to, "we");
	if (!f)
		return -1;
	dna_print(d, false, f);
	if (fclose(f))
		return -1;
	snprintf(to, sizeof(to), "%s/build.log", keepdir);
	return rename(log, to) ? -1 : 0;
}

/* names/NAME -> ../<DNA>, replaced in one step. */
static int point_name(const char *cache, const struct dna *d)
{
	char dir[PATH_MAX], link[PATH_MAX + 80], tmp[PATH_MAX + 100], target[100];

	snprintf(dir, sizeof(dir), "%s/names", cache);
	if (ribosome_mkdirs(dir, false))
		return -1;
	snprintf(link, sizeof(link), "%s/%s", dir, d->recipe.name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, d->recipe.name, (int)getpid());
	snprintf(target, sizeof(target), "../%s", d->hex);
	unlink(tmp);
	if (symlink(target, tmp) || rename(tmp, link)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int build_fresh(const char *cmd, const char *cache, const struct dna *d, const char *final)
{
	char tmp[PATH_MAX], src[PATH_MAX + 8], log[PATH_MAX + 16], keepdir[PATH_MAX + 8];
	int rc = -1, st;

	snprintf(tmp, sizeof(tmp), "%s/tmp", cache);
	if (ribosome_mkdirs(tmp, false))
		goto out_msg;
	snprintf(tmp, sizeof(tmp), "%s/tmp/build.XXXXXX", cache);
	if (!mkdtemp(tmp))
		goto out_msg;
	snprintf(src, sizeof(src), "%s/scratch", tmp);
	if (mkdir(src, 0700))
		goto out_msg_rm;
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(log, sizeof(log), "%s/build.log", tmp);
	snprintf(keepdir, sizeof(keepdir), "%s/keep", tmp);
	if (lay_out(d, src))
		goto out_msg_rm;
	probe_sandbox(cmd);
	hide_dirs(cache, d);
	st = run_build(d, src, log);
	if (st) {
		fprintf(stderr, "cell %s: %s: the build failed (exit status %d); its log ends:\n",
			cmd, d->recipe.name, st);
		print_tail(cmd, log);
		goto out_rm;
	}
	if (keep(cmd, d, src, log, keepdir))
		goto out_rm;
	if (rename(keepdir, final) && errno != EEXIST && errno != ENOTEMPTY)
		goto out_msg_rm; /* EEXIST: a concurrent build of the same DNA won */
	rc = 0;
	goto out_rm;
out_msg_rm:
	fprintf(stderr, "cell %s: %s: %s\n", cmd, tmp, strerror(errno));
out_rm:
	ribosome_remove_tree(tmp);
	return rc;
out_msg:
	fprintf(stderr, "cell %s: %s: %s\n", cmd, tmp, strerror(errno));
	return -1;
}

int ribosome_build(const char *cmd, const char *cache, const char *dir, struct dna *d, char *bin,
		   size_t cap, bool *hit)
{
	char final[PATH_MAX];

	if (dna_compute(cmd, dir, d))
		return -1;
	snprintf(final, sizeof(final), "%s/%s", cache, d->hex);
	if ((size_t)snprintf(bin, cap, "%s/%s", final, d->recipe.name) >= cap)
		return -1;
	*hit = !access(bin, X_OK);
	if (!*hit && build_fresh(cmd, cache, d, final))
		return -1;
	if (point_name(cache, d)) {
		fprintf(stderr, "cell %s: %s/names/%s: %s\n", cmd, cache, d->recipe.name,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int build_usage(FILE *out)
{
	fputs("usage: cell build [-j] [-s STATE_DIR] DIR\n"
	      "  build the cell in DIR (DIR/cell.conf) into STATE_DIR/ribosome/<DNA>/,\n"
	      "  unless that DNA is there already ($CELL_STATE_DIR overrides the default)\n",
	      out);
	return out == stdout ? 0 : 2;
}

int cell_cmd_build(int argc, char **argv)
{
	char cache[PATH_MAX], bin[PATH_MAX + 80];
	struct ribosome_args a;
	struct timespec t0, t1;
	struct dna d = { 0 };
	bool hit;
	long ms;
	int rc = ribosome_parse_args(argc, argv, &a);

	if (rc)
		return build_usage(rc > 0 ? stdout : stderr);
	if (ribosome_dir("build", a.state, cache, sizeof(cache)))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = ribosome_build("build", cache, a.operand, &d, bin, sizeof(bin), &hit);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (!rc && a.json) {
		fputs("{\"name\":", stdout);
		json_put_string(stdout, d.recipe.name, (uint32_t)strlen(d.recipe.name));
		printf(",\"dna\":\"%s\",\"cached\":%s,\"sandbox\":%s,\"ms\":%ld,\"binary\":", d.hex,
		       hit ? "true" : "false", ribosome_build_sandboxed() ? "true" : "false", ms);
		json_put_string(stdout, bin, (uint32_t)strlen(bin));
		puts("}");
	} else if (!rc) {
		printf("%s: %s %s in %ld ms: %s\n", d.recipe.name, hit ? "cached" : "built", d.hex,
		       ms, bin);
	}
	dna_release(&d);
	return rc ? 1 : 0;
}
