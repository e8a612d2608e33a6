// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * A cell's DNA: the SHA-256 (GnuTLS) of everything its build reads, as a
 * canonical, length-prefixed list (Documentation/ribosome.rst):
 *
 *   "cell-dna 1\n", then per input: u32 len, kind; u32 len, key;
 *   u32 mode; u64 len, value (little-endian), in this order:
 *   file     every source (cell.conf included), sorted by path, its bytes
 *   schema   the schema's canonical text (cellc's, a comment is no change)
 *   cc       `$CC --version` (first line) and `$CC -dumpfullversion`
 *   flags    cflags= of the conf
 *   env      CC CFLAGS CPPFLAGS LDFLAGS ("" unset, "=VALUE" set), and the
 *            SOURCE_DATE_EPOCH the build gets (cell.conf's, the environment's,
 *            the newest commit's that touched DIR, or 0)
 *   tool     the header cellc writes for the schema, libcell's cflags and libs
 *   header   libcell's cell/NAME.h and linux/cell.h, found through those cflags
 *   dep      each deps= package: "dpkg VERSION" or "pkg-config VERSION"
 *
 * cell dna [-j] DIR prints the DNA and each input with its own SHA-256.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cell.h"
#include "cellc.h"
#include "jsonout.h"
#include "ribosome.h"

#define MAX_FILE_BYTES	(64u << 20)
#define MAX_INPUTS	4096
#define CELLC_OUT_BYTES (8u << 20)

int ribosome_capture(char *const argv[], char *out, size_t cap)
{
	return ribosome_capture_all(argv, out, cap, false);
}

int ribosome_capture_all(char *const argv[], char *out, size_t cap, bool with_stderr)
{
	size_t got = 0;
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		dup2(fds[1], 1);
		dup2(with_stderr ? fds[1] : null, 2);
		dup2(null, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (cap && (n = read(fds[0], out + got, cap - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (got += (size_t)n) == cap - 1)
			break;
	}
	close(fds[0]);
	if (cap) {
		while (got && out[got - 1] == '\n')
			got--;
		out[got] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ribosome_mkdirs(const char *path, bool open)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, open ? 0755 : 0700) && errno != EEXIST)
			return -errno;
		if (!c)
			return 0;
		*p = c;
	}
}

int ribosome_parse_args(int argc, char **argv, struct ribosome_args *a)
{
	int opt;

	*a = (struct ribosome_args){ 0 };
	optind = 1;
	while ((opt = getopt(argc, argv, "js:h")) != -1) {
		if (opt == 'j')
			a->json = true;
		else if (opt == 's')
			a->state = optarg;
		else
			return opt == 'h' ? 1 : -1;
	}
	if (argc - optind != 1)
		return -1;
	a->operand = argv[optind];
	return 0;
}

int ribosome_dir(const char *cmd, const char *given, char *buf, size_t cap)
{
	const char *env = getenv("CELL_STATE_DIR"), *x = getenv("XDG_STATE_HOME"),
		   *home = getenv("HOME");
	int n, rc;

	if (given)
		n = snprintf(buf, cap, "%s/ribosome", given);
	else if (env && env[0] == '/')
		n = snprintf(buf, cap, "%s/ribosome", env);
	else if (geteuid() == 0)
		n = snprintf(buf, cap, "/var/lib/cell/ribosome");
	else if (x && x[0] == '/')
		n = snprintf(buf, cap, "%s/cell/ribosome", x);
	else if (home && home[0] == '/')
		n = snprintf(buf, cap, "%s/.local/state/cell/ribosome", home);
	else
		n = -1;
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "cell %s: no state directory (give -s DIR)\n", cmd);
		return -1;
	}
	/*
	 * Traversable, not listable (0711): a capsid's bwrap runs as the
	 * cell's uid and must reach ribosome/<DNA>/ (celld makes the state
	 * directory itself 0711 for the same reason).
	 */
	rc = ribosome_mkdirs(buf, false);
	if (!rc && chmod(buf, 0711))
		rc = -errno;
	if (rc) {
		fprintf(stderr, "cell %s: %s: %s\n", cmd, buf, strerror(-rc));
		return -1;
	}
	return 0;
}

/* Reads a whole file (at most MAX_FILE_BYTES); 0 or -errno. */
static int slurp(const char *path, char **out, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE_BYTES) {
		close(fd);
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	p = malloc((size_t)st.st_size + 1);
	while (p && got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			free(p);
			p = NULL;
		} else {
			got += (size_t)n;
		}
	}
	close(fd);
	if (!p)
		return -EIO;
	p[got] = '\0';
	*out = p;
	*len = got;
	return 0;
}

static struct dna_input *add_input(struct dna *d, const char *kind, const char *key, char *value,
				   size_t len)
{
	struct dna_input *in;

	if (d->ninputs == MAX_INPUTS) {
		free(value);
		return NULL;
	}
	if (!(d->ninputs & 63)) {
		in = realloc(d->inputs, sizeof(*in) * ((size_t)d->ninputs + 64));
		if (!in) {
			free(value);
			return NULL;
		}
		d->inputs = in;
	}
	in = &d->inputs[d->ninputs++];
	memset(in, 0, sizeof(*in));
	snprintf(in->kind, sizeof(in->kind), "%s", kind);
	snprintf(in->key, sizeof(in->key), "%s", key);
	in->value = value;
	in->len = len;
	return in;
}

/* A text input: @value copied. */
static struct dna_input *add_text(struct dna *d, const char *kind, const char *key,
				  const char *value)
{
	char *v = strdup(value);

	return v ? add_input(d, kind, key, v, strlen(v)) : NULL;
}

/* ---- the source files ---- */

static struct dna *walking; /* nftw has no context pointer */
static const char *walk_err;
static char walk_path[RECIPE_PATH_BYTES];

static bool matches(const struct recipe *r, const char *rel)
{
	for (int i = 0; i < r->npatterns; i++)
		if (!fnmatch(r->patterns[i], rel, FNM_PATHNAME | FNM_PERIOD))
			return true;
	return false;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct dna *d = walking;
	const char *rel = path + strlen(d->dir) + 1;
	struct dna_input *in;
	size_t len;
	char *bytes;

	if (ftw->level == 0)
		return FTW_CONTINUE;
	if (type == FTW_D)
		return strcmp(path + ftw->base, ".git") ? FTW_CONTINUE : FTW_SKIP_SUBTREE;
	if (!matches(&d->recipe, rel) || !strcmp(rel, "cell.conf") ||
	    !strcmp(rel, d->recipe.schema))
		return FTW_CONTINUE;
	snprintf(walk_path, sizeof(walk_path), "%s", rel);
	if (type != FTW_F || !S_ISREG(st->st_mode)) {
		walk_err = "matches sources= but is not a regular file (a symlink?)";
		return FTW_STOP;
	}
	if (strlen(rel) >= RECIPE_PATH_BYTES || slurp(path, &bytes, &len)) {
		walk_err = "cannot be read (or is over 64 MiB, or its path too long)";
		return FTW_STOP;
	}
	in = add_input(d, "file", rel, bytes, len);
	if (!in) {
		walk_err = "one file too many (4096 inputs at most)";
		return FTW_STOP;
	}
	in->mode = (st->st_mode & 0100) ? 0755 : 0644;
	return FTW_CONTINUE;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct dna_input *)a)->key, ((const struct dna_input *)b)->key);
}

static int add_files(const char *cmd, struct dna *d)
{
	char path[PATH_MAX + 16];
	struct dna_input *in;
	struct stat st;
	size_t len;
	char *bytes;
	int first = d->ninputs;

	walking = d;
	walk_err = NULL;
	if (nftw(d->dir, visit, 16, FTW_PHYS | FTW_ACTIONRETVAL) || walk_err) {
		fprintf(stderr, "cell %s: %s: %s\n", cmd, walk_path,
			walk_err ? walk_err : strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cell.conf", d->dir);
	if (stat(path, &st) || slurp(path, &bytes, &len) ||
	    !(in = add_input(d, "file", "cell.conf", bytes, len))) {
		fprintf(stderr, "cell %s: %s cannot be read\n", cmd, path);
		return -1;
	}
	in->mode = 0644;
	qsort(d->inputs + first, (size_t)(d->ninputs - first), sizeof(*d->inputs), by_path);
	if (d->ninputs - first == 1)
		fprintf(stderr, "cell %s: warning: sources= matches no file in %s\n", cmd, d->dir);
	return 0;
}

/* ---- the schema ---- */

/* @path resolves to a file under @dir (no symlinked directory leads out): 0 or -EXDEV. */
static int inside_tree(const char *dir, const char *path)
{
	char real[PATH_MAX];
	size_t n = strlen(dir);

	if (!realpath(path, real))
		return -errno;
	return strncmp(real, dir, n) || real[n] != '/' ? -EXDEV : 0;
}

static int add_schema(const char *cmd, struct dna *d)
{
	struct schema s = { 0 };
	struct buf canon = { 0 };
	char path[PATH_MAX + RECIPE_PATH_BYTES];
	struct dna_input *in;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", d->dir, d->recipe.schema);
	rc = inside_tree(d->dir, path) ?: slurp(path, &d->schema_raw, &d->schema_raw_len);
	if (rc) {
		fprintf(stderr, "cell %s: schema %s: %s\n", cmd, path,
			rc == -EXDEV ? "leads out of the tree (a symlink)" : strerror(-rc));
		return -1;
	}
	diag.file = d->recipe.schema;
	if (parse_schema(d->schema_raw, d->schema_raw_len, &s) || check_schema(&s)) {
		fprintf(stderr, "cell %s: schema %s does not compile (cellc's message above)\n",
			cmd, d->recipe.schema);
		return -1;
	}
	canonical_text(&s, &canon);
	d->schema_fingerprint = fnv1a64(canon.p, canon.len);
	in = add_input(d, "schema", d->recipe.schema, canon.p, canon.len);
	if (!in)
		return -1;
	snprintf(in->shown, sizeof(in->shown), "canonical text, fingerprint 0x%016" PRIx64,
		 d->schema_fingerprint);
	return 0;
}

/* ---- the toolchain ---- */

static int add_compiler(const char *cmd, struct dna *d)
{
	const char *cc = getenv("CC");
	char out[512];
	struct dna_input *in;

	snprintf(d->cc, sizeof(d->cc), "%s", cc && cc[0] ? cc : "cc");
	if (strpbrk(d->cc, " \t")) {
		fprintf(stderr, "cell %s: CC=%s: a compiler with arguments is not supported\n", cmd,
			d->cc);
		return -1;
	}
	if (ribosome_capture((char *const[]){ d->cc, "--version", NULL }, out, sizeof(out))) {
		fprintf(stderr, "cell %s: %s --version fails: no compiler\n", cmd, d->cc);
		return -1;
	}
	out[strcspn(out, "\n")] = '\0';
	in = add_text(d, "cc", "--version", out);
	if (in)
		snprintf(in->shown, sizeof(in->shown), "%.150s", out);
	if (ribosome_capture((char *const[]){ d->cc, "-dumpfullversion", NULL }, out, sizeof(out)))
		snprintf(out, sizeof(out), "(none)");
	in = add_text(d, "cc", "-dumpfullversion", out);
	if (in)
		snprintf(in->shown, sizeof(in->shown), "%.150s", out);
	return in ? 0 : -1;
}

static int add_env(struct dna *d, const char *name)
{
	const char *v = getenv(name);
	struct dna_input *in;
	char *value;

	if (asprintf(&value, "%s%s", v ? "=" : "", v ? v : "") < 0)
		return -1;
	in = add_input(d, "env", name, value, strlen(value));
	if (!in)
		return -1;
	snprintf(in->shown, sizeof(in->shown), "%s", v ? value + 1 : "(unset)");
	return 0;
}

/* SOURCE_DATE_EPOCH: the conf's, the environment's, the newest commit's, or 0. */
static int add_epoch(struct dna *d)
{
	const char *env = getenv("SOURCE_DATE_EPOCH");
	char out[64], num[32];
	struct dna_input *in;

	snprintf(d->epoch_from, sizeof(d->epoch_from), "none");
	if (d->recipe.have_epoch) {
		d->source_date_epoch = d->recipe.source_date_epoch;
		snprintf(d->epoch_from, sizeof(d->epoch_from), "cell.conf");
	} else if (env && env[0] >= '0' && env[0] <= '9') {
		d->source_date_epoch = strtoull(env, NULL, 10);
		snprintf(d->epoch_from, sizeof(d->epoch_from), "environment");
	} else if (!ribosome_capture((char *const[]){ "git", "-C", d->dir, "log", "-1",
						      "--format=%ct", "--", ".", NULL },
				     out, sizeof(out)) &&
		   out[0] >= '0' && out[0] <= '9') {
		d->source_date_epoch = strtoull(out, NULL, 10);
		snprintf(d->epoch_from, sizeof(d->epoch_from), "git");
	}
	snprintf(num, sizeof(num), "%" PRIu64, d->source_date_epoch);
	in = add_text(d, "env", "SOURCE_DATE_EPOCH", num);
	if (!in)
		return -1;
	snprintf(in->shown, sizeof(in->shown), "%s (from %s)", num, d->epoch_from);
	return 0;
}

static void hex_of(const uint8_t *h, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* libcell's flags: $CELL_CFLAGS and $CELL_LIBS, else pkg-config's. */
static int add_libcell_flags(const char *cmd, struct dna *d)
{
	const char *cf = getenv("CELL_CFLAGS"), *cl = getenv("CELL_LIBS");
	struct dna_input *in;

	if (cf)
		snprintf(d->cell_cflags, sizeof(d->cell_cflags), "%s", cf);
	else if (ribosome_capture((char *const[]){ "pkg-config", "--cflags", "libcell", NULL },
				  d->cell_cflags, sizeof(d->cell_cflags)))
		d->cell_cflags[0] = '\0';
	if (cl)
		snprintf(d->cell_libs, sizeof(d->cell_libs), "%s", cl);
	else if (ribosome_capture((char *const[]){ "pkg-config", "--libs", "libcell", NULL },
				  d->cell_libs, sizeof(d->cell_libs))) {
		fprintf(stderr,
			"cell %s: libcell not found (set CELL_CFLAGS and CELL_LIBS, or "
			"install libcell.pc)\n",
			cmd);
		return -1;
	}
	in = add_text(d, "tool", "CELL_CFLAGS", d->cell_cflags);
	if (in)
		snprintf(in->shown, sizeof(in->shown), "%.150s", d->cell_cflags);
	in = in ? add_text(d, "tool", "CELL_LIBS", d->cell_libs) : NULL;
	if (in)
		snprintf(in->shown, sizeof(in->shown), "%.150s", d->cell_libs);
	return in ? 0 : -1;
}

/* One header of libcell's, as the compiler would find it (first -I wins). */
static int add_header(struct dna *d, const char *dir, const char *rel)
{
	char path[PATH_MAX + 300], *bytes;
	struct dna_input *in;
	size_t len;

	for (int i = 0; i < d->ninputs; i++)
		if (!strcmp(d->inputs[i].kind, "header") && !strcmp(d->inputs[i].key, rel))
			return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (slurp(path, &bytes, &len))
		return 0; /* not in this directory */
	in = add_input(d, "header", rel, bytes, len);
	if (!in)
		return -1;
	snprintf(in->shown, sizeof(in->shown), "%.150s", dir);
	return 0;
}

static int h_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 2 && !strcmp(e->d_name + n - 2, ".h");
}

/* cell/NAME.h and linux/cell.h under @dir; the number of cell/ headers. */
static int add_headers_of(struct dna *d, const char *dir)
{
	char sub[PATH_MAX + 8], rel[300];
	struct dirent **names;
	int n, rc = 0;

	snprintf(sub, sizeof(sub), "%s/cell", dir);
	n = scandir(sub, &names, h_file, alphasort);
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "cell/%.250s", names[i]->d_name);
		if (!rc)
			rc = add_header(d, dir, rel);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	if (rc || add_header(d, dir, "linux/cell.h"))
		return -1;
	return n > 0 ? n : 0;
}

/*
 * libcell's public headers, found through the -I and -isystem directories
 * of CELL_CFLAGS (else /usr/local/include, /usr/include), cell/NAME.h and
 * linux/cell.h: a generated
 * header includes <cell/rpc.h>, so their bytes are part of what is built.
 */
static int add_libcell_headers(const char *cmd, struct dna *d)
{
	char flags[RECIPE_TEXT_BYTES], *save = NULL;
	bool next_is_dir = false;
	int found = 0, n;

	snprintf(flags, sizeof(flags), "%s", d->cell_cflags);
	for (char *t = strtok_r(flags, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		const char *dir = next_is_dir ? t : !strncmp(t, "-I", 2) && t[2] ? t + 2 : NULL;

		next_is_dir = !strcmp(t, "-I") || !strcmp(t, "-isystem");
		if (dir && (n = add_headers_of(d, dir)) < 0)
			return -1;
		found += dir ? n : 0;
	}
	for (int i = 0; !found && i < 2; i++) {
		n = add_headers_of(d, i ? "/usr/include" : "/usr/local/include");
		if (n < 0)
			return -1;
		found += n;
	}
	if (!found)
		fprintf(stderr, "cell %s: warning: no cell/*.h under CELL_CFLAGS's directories\n",
			cmd);
	return 0;
}

/*
 * cellc ($CELLC, else cellc in PATH): what goes into the DNA is the header
 * it writes for the schema, not its binary, so two builds of the same
 * cellc in two places agree, and a cellc that writes other code does not.
 */
static int add_cellc(const char *cmd, struct dna *d)
{
	const char *cellc = getenv("CELLC");
	char path[PATH_MAX + RECIPE_PATH_BYTES], *out;
	struct dna_input *in;
	size_t len;

	if (cellc && cellc[0])
		snprintf(d->cellc, sizeof(d->cellc), "%s", cellc);
	else if (ribosome_capture((char *const[]){ "sh", "-c", "command -v cellc", NULL }, d->cellc,
				  sizeof(d->cellc)))
		d->cellc[0] = '\0';
	if (!d->cellc[0] || access(d->cellc, X_OK)) {
		fprintf(stderr, "cell %s: cellc not found (set CELLC or put it in PATH)\n", cmd);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", d->dir, d->recipe.schema);
	out = malloc(CELLC_OUT_BYTES);
	if (!out ||
	    ribosome_capture((char *const[]){ d->cellc, path, NULL }, out, CELLC_OUT_BYTES) ||
	    (len = strlen(out)) == CELLC_OUT_BYTES - 1) {
		fprintf(stderr, "cell %s: %s %s fails (or writes over %u bytes)\n", cmd, d->cellc,
			d->recipe.schema, CELLC_OUT_BYTES);
		free(out);
		return -1;
	}
	in = add_input(d, "tool", "cellc", out, len);
	if (!in)
		return -1;
	snprintf(in->shown, sizeof(in->shown), "the header it writes (%.120s)", d->cellc);
	return 0;
}

static int add_dep(const char *cmd, struct dna *d, char *pkg)
{
	char ver[256], *value;
	const char *via = "dpkg";
	struct dna_input *in;

	if (ribosome_capture((char *const[]){ "dpkg-query", "-W", "-f=${Version}", pkg, NULL }, ver,
			     sizeof(ver)) ||
	    !ver[0]) {
		via = "pkg-config";
		if (ribosome_capture((char *const[]){ "pkg-config", "--modversion", pkg, NULL },
				     ver, sizeof(ver)) ||
		    !ver[0]) {
			fprintf(stderr, "cell %s: deps: %s: neither dpkg nor pkg-config knows it\n",
				cmd, pkg);
			return -1;
		}
	}
	if (asprintf(&value, "%s %s", via, ver) < 0)
		return -1;
	in = add_input(d, "dep", pkg, value, strlen(value));
	if (!in)
		return -1;
	snprintf(in->shown, sizeof(in->shown), "%s", value);
	return 0;
}

/* ---- the hash ---- */

static void put_le(gnutls_hash_hd_t h, uint64_t v, int bytes)
{
	uint8_t b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	gnutls_hash(h, b, (size_t)bytes);
}

static int hash_all(struct dna *d)
{
	static const char magic[] = "cell-dna 1\n";
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -1;
	gnutls_hash(h, magic, sizeof(magic) - 1);
	for (int i = 0; i < d->ninputs; i++) {
		struct dna_input *in = &d->inputs[i];

		put_le(h, strlen(in->kind), 4);
		gnutls_hash(h, in->kind, strlen(in->kind));
		put_le(h, strlen(in->key), 4);
		gnutls_hash(h, in->key, strlen(in->key));
		put_le(h, in->mode, 4);
		put_le(h, in->len, 8);
		gnutls_hash(h, in->value, in->len);
		gnutls_hash_fast(GNUTLS_DIG_SHA256, in->value, in->len, in->sha256);
	}
	gnutls_hash_deinit(h, d->sha256);
	hex_of(d->sha256, d->hex);
	return 0;
}

static int read_recipe(const char *cmd, struct dna *d)
{
	char path[PATH_MAX + 16], why[400], *text;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/cell.conf", d->dir);
	rc = slurp(path, &text, &len);
	if (rc) {
		fprintf(stderr, "cell %s: %s: %s\n", cmd, path, strerror(-rc));
		return -1;
	}
	rc = recipe_parse(text, len, &d->recipe, why, sizeof(why));
	free(text);
	if (rc)
		fprintf(stderr, "cell %s: %s: %s\n", cmd, path, why);
	return rc ? -1 : 0;
}

int dna_compute(const char *cmd, const char *dir, struct dna *d)
{
	static const char *const envs[] = { "CC", "CFLAGS", "CPPFLAGS", "LDFLAGS" };
	struct dna_input *in;

	memset(d, 0, sizeof(*d));
	if (!realpath(dir, d->dir)) {
		fprintf(stderr, "cell %s: %s: %s\n", cmd, dir, strerror(errno));
		return -1;
	}
	if (read_recipe(cmd, d) || add_files(cmd, d) || add_schema(cmd, d) || add_compiler(cmd, d))
		return -1;
	in = add_text(d, "flags", "cflags", d->recipe.cflags);
	if (!in)
		return -1;
	snprintf(in->shown, sizeof(in->shown), "%.150s", d->recipe.cflags);
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		if (add_env(d, envs[i]))
			return -1;
	if (add_epoch(d) || add_cellc(cmd, d) || add_libcell_flags(cmd, d) ||
	    add_libcell_headers(cmd, d))
		return -1;
	for (int i = 0; i < d->recipe.ndeps; i++)
		if (add_dep(cmd, d, d->recipe.deps[i]))
			return -1;
	return hash_all(d);
}

void dna_release(struct dna *d)
{
	for (int i = 0; i < d->ninputs; i++)
		free(d->inputs[i].value);
	free(d->inputs);
	free(d->schema_raw);
	d->inputs = NULL;
	d->schema_raw = NULL;
	d->ninputs = 0;
}

static void put_json_str(FILE *out, const char *s)
{
	json_put_string(out, s, (uint32_t)strlen(s));
}

void dna_print(const struct dna *d, bool json, FILE *out)
{
	char hex[65];

	if (json) {
		fprintf(out, "{\"name\":");
		put_json_str(out, d->recipe.name);
		fprintf(out, ",\"dna\":\"%s\",\"fingerprint\":\"0x%016" PRIx64 "\",\"inputs\":[",
			d->hex, d->schema_fingerprint);
	} else {
		fprintf(out, "%s  %s (fingerprint 0x%016" PRIx64 ")\n", d->hex, d->recipe.name,
			d->schema_fingerprint);
	}
	for (int i = 0; i < d->ninputs; i++) {
		const struct dna_input *in = &d->inputs[i];

		hex_of(in->sha256, hex);
		if (!json) {
			fprintf(out, "  %-6s %s  %s%s%s\n", in->kind, hex, in->key,
				in->shown[0] ? ": " : "", in->shown);
			continue;
		}
		fprintf(out, "%s{\"kind\":\"%s\",\"key\":", i ? "," : "", in->kind);
		put_json_str(out, in->key);
		fprintf(out, ",\"sha256\":\"%s\",\"bytes\":%zu,\"shown\":", hex, in->len);
		put_json_str(out, in->shown);
		fputs("}", out);
	}
	if (json)
		fputs("]}\n", out);
}

static int dna_usage(FILE *out)
{
	fputs("usage: cell dna [-j] DIR\n"
	      "  the DNA (SHA-256) of the cell in DIR (DIR/cell.conf) and what went into it\n",
	      out);
	return out == stdout ? 0 : 2;
}

int cell_cmd_dna(int argc, char **argv)
{
	bool json = false;
	struct dna d;
	int opt;

	optind = 1;
	while ((opt = getopt(argc, argv, "jh")) != -1) {
		if (opt == 'j')
			json = true;
		else
			return dna_usage(opt == 'h' ? stdout : stderr);
	}
	if (argc - optind != 1)
		return dna_usage(stderr);
	if (dna_compute("dna", argv[optind], &d)) {
		dna_release(&d);
		return 1;
	}
	dna_print(&d, json, stdout);
	dna_release(&d);
	return 0;
}
