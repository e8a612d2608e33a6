// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Cells from git (Documentation/ribosome.rst).
 *
 * cell add [-j] [-s STATE_DIR] GIT_URL
 *   clones GIT_URL (file:// or a local path: never the network) into
 *   STATE_DIR/ribosome/src/NAME and builds it with `cell build`.  The
 *   newest tag (by its date) is built, else the default branch's head.
 *   When the node has keys (ribosome/keys/allowed_signers for SSH
 *   signatures, ribosome/keys/gnupg/ a GnuPG home for OpenPGP ones), a tag
 *   is required and `git verify-tag` must accept it with those keys and
 *   no others: an unsigned tag, a lightweight one or one signed by any
 *   other key is refused and nothing is built.
 *
 * cell run [-s STATE_DIR] NAME [SPAWN OPTIONS]
 *   spawns the newest build of NAME (ribosome/names/NAME) through celld's
 *   supervisor, as `cell spawn NAME [SPAWN OPTIONS] -o ro=<DNA dir> --
 *   <DNA dir>/NAME NAME` would: the cell gets its name as argv[1].
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cell.h"
#include "jsonout.h"
#include "ribosome.h"

#define GIT_OUT_BYTES 4096
#define MAX_RUN_ARGS  96

struct add_state {
	const char *cmd;
	char cache[PATH_MAX];
	char keys[PATH_MAX + 8];
	char signers[PATH_MAX + 32];
	bool have_keys;
	char work[PATH_MAX + 128]; /* the fresh clone, then src/NAME */
	char tag[256];
	char tag_oid[72];   /* what refs/tags/TAG names: verified, then checked out */
	char tag_type[16];  /* its type: "tag" (annotated), "commit" (lightweight)... */
	char tag_name[256]; /* an annotated tag's own name (its "tag" header) */
	char commit[64];
	char signer[200];
};

/* file://PATH or an existing directory: the source git gets; else refused. */
static int local_source(const char *url, char *out, size_t cap)
{
	struct stat st;

	if (!strncmp(url, "file://", 7))
		return snprintf(out, cap, "%s", url) < (int)cap ? 0 : -ENAMETOOLONG;
	if (strstr(url, "://") || stat(url, &st) || !S_ISDIR(st.st_mode))
		return -EPROTONOSUPPORT;
	return realpath(url, out) ? 0 : -errno; /* out is PATH_MAX bytes */
}

/* Runs git with @args in @dir (NULL: here); its output (both streams) in @out. */
static int git(const char *dir, char *out, size_t cap, const char *const *args)
{
	const char *argv[24] = { "git" };
	int n = 1;

	if (dir) {
		argv[n++] = "-C";
		argv[n++] = dir;
	}
	for (int i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return ribosome_capture_all((char *const *)argv, out, cap, true);
}

/* The environment every git command of `cell add` runs in. */
static void git_env(const struct add_state *s)
{
	char home[PATH_MAX + 16];

	setenv("GIT_ALLOW_PROTOCOL", "file", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
	/* The node's keyring and nobody else's (even when it does not exist). */
	snprintf(home, sizeof(home), "%s/gnupg", s->keys);
	setenv("GNUPGHOME", home, 1);
}

/*
 * The newest tag, and the object its ref names.  Verification and checkout
 * both use that object id, never the tag's name: a name is resolved again
 * by each git command, and a ref named like an object id (40 hex digits)
 * resolves to that object, not to the ref (verify-tag would check a signed
 * tag object elsewhere in the repository while the ref checked out points
 * at an unsigned commit).
 */
static int newest_tag(struct add_state *s)
{
	char out[GIT_OUT_BYTES], *f[3];

	if (git(s->work, out, sizeof(out),
		(const char *[]){ "for-each-ref", "--count=1", "--sort=-refname",
				  "--sort=-creatordate",
				  "--format=%(objectname) %(objecttype) %(refname:strip=2) %(tag)",
				  "refs/tags", NULL }))
		return -1;
	s->tag[0] = s->tag_oid[0] = s->tag_type[0] = s->tag_name[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (!out[0])
		return 0; /* no tag */
	/* A refname holds no space; an annotated tag's own name is the rest of the line. */
	f[0] = strchr(out, ' ');
	f[1] = f[0] ? strchr(f[0] + 1, ' ') : NULL;
	f[2] = f[1] ? strchr(f[1] + 1, ' ') : NULL;
	if (!f[2] || (size_t)(f[0] - out) >= sizeof(s->tag_oid) ||
	    (size_t)(f[1] - f[0] - 1) >= sizeof(s->tag_type) ||
	    (size_t)(f[2] - f[1] - 1) >= sizeof(s->tag) || f[2] == f[1] + 1) {
		fprintf(stderr, "cell %s: git for-each-ref: unexpected output: %s\n", s->cmd, out);
		return -1;
	}
	*f[0] = *f[1] = *f[2] = '\0';
	snprintf(s->tag_oid, sizeof(s->tag_oid), "%.71s", out);
	snprintf(s->tag_type, sizeof(s->tag_type), "%.15s", f[0] + 1);
	snprintf(s->tag, sizeof(s->tag), "%.255s", f[1] + 1);
	snprintf(s->tag_name, sizeof(s->tag_name), "%.255s", f[2] + 1);
	return 0;
}

/* git verify-tag with the node's keys only; 0, or -1 with git's words on stderr. */
static int verify_tag(struct add_state *s)
{
	char opt[PATH_MAX + 64], out[GIT_OUT_BYTES], *good;

	snprintf(opt, sizeof(opt), "gpg.ssh.allowedSignersFile=%s", s->signers);
	if (!strcmp(s->tag_type, "tag") && strcmp(s->tag_name, s->tag)) {
		/* A signed tag under another name: an old release passed off as the newest. */
		fprintf(stderr,
			"cell %s: tag %s: refused, it is the signed tag '%s' under another name\n",
			s->cmd, s->tag, s->tag_name);
		return -1;
	}
	if (git(s->work, out, sizeof(out),
		(const char *[]){ "-c", opt, "verify-tag", "--", s->tag_oid, NULL })) {
		fprintf(stderr, "cell %s: tag %s: refused, not signed by a key of %s:\n%s\n",
			s->cmd, s->tag, s->keys, out);
		return -1;
	}
	good = strstr(out, "Good ");
	snprintf(s->signer, sizeof(s->signer), "%.*s", good ? (int)strcspn(good, "\n") : 0,
		 good ? good : "");
	return 0;
}

static int checkout(struct add_state *s)
{
	char out[GIT_OUT_BYTES], ref[300];

	snprintf(ref, sizeof(ref), "%s^{commit}", s->tag_oid); /* the object verified */
	if (s->tag[0] && git(s->work, out, sizeof(out),
			     (const char *[]){ "-c", "advice.detachedHead=false", "checkout", "-q",
					       "--detach", ref, NULL })) {
		fprintf(stderr, "cell %s: git checkout %s: %s\n", s->cmd, s->tag, out);
		return -1;
	}
	if (git(s->work, out, sizeof(out), (const char *[]){ "rev-parse", "HEAD", NULL })) {
		fprintf(stderr, "cell %s: the repository has no commit: %s\n", s->cmd, out);
		return -1;
	}
	snprintf(s->commit, sizeof(s->commit), "%.40s", out);
	return 0;
}

static int clone(struct add_state *s, const char *url)
{
	char src[PATH_MAX], out[GIT_OUT_BYTES];
	int rc = local_source(url, src, sizeof(src));

	if (rc) {
		fprintf(stderr, "cell %s: %s: %s\n", s->cmd, url,
			rc == -EPROTONOSUPPORT ? "only file:// URLs and local directories are "
						 "cloned (no network)"
					       : strerror(-rc));
		return -1;
	}
	snprintf(s->work, sizeof(s->work), "%s/src", s->cache);
	if (ribosome_mkdirs(s->work, true))
		return -1;
	snprintf(s->work, sizeof(s->work), "%s/src/.clone.XXXXXX", s->cache);
	if (!mkdtemp(s->work)) {
		fprintf(stderr, "cell %s: %s: %s\n", s->cmd, s->work, strerror(errno));
		return -1;
	}
	chmod(s->work, 0755);
	if (git(NULL, out, sizeof(out),
		(const char *[]){ "clone", "-q", "--no-hardlinks", "--", src, s->work, NULL })) {
		fprintf(stderr, "cell %s: git clone %s: %s\n", s->cmd, url, out);
		return -1;
	}
	return 0;
}

/* The cloned tree's cell name, from its cell.conf. */
static int cell_name(struct add_state *s, char *name, size_t cap)
{
	char path[sizeof(s->work) + 16], why[400], *text = malloc(65536);
	struct recipe *r = malloc(sizeof(*r));
	size_t len = 0;
	struct stat st;
	FILE *f;
	int rc = -1, fd;

	snprintf(path, sizeof(path), "%s/cell.conf", s->work);
	/* The fetched tree's own file, never what a symlink there points to (any file of ours). */
	fd = text && r ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	if (fd < 0 && (errno == ELOOP || errno == EINVAL)) {
		fprintf(stderr, "cell %s: cell.conf is not a regular file (a symlink?): refused\n",
			s->cmd);
		free(text);
		free(r);
		return -1;
	}
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f && fd >= 0)
		close(fd);
	if (f) {
		len = fread(text, 1, 65535, f);
		fclose(f);
		if (!recipe_parse(text, len, r, why, sizeof(why))) {
			snprintf(name, cap, "%s", r->name);
			rc = 0;
		} else {
			fprintf(stderr, "cell %s: cell.conf: %s\n", s->cmd, why);
		}
	} else {
		fprintf(stderr, "cell %s: the repository has no cell.conf at its top\n", s->cmd);
	}
	free(text);
	free(r);
	return rc;
}

/* src/.clone.XXXXXX -> src/NAME (an older clone of NAME is replaced). */
static int settle(struct add_state *s, const char *name, char *dir, size_t cap)
{
	char old[PATH_MAX + 96];

	snprintf(dir, cap, "%s/src/%s", s->cache, name);
	snprintf(old, sizeof(old), "%s/src/.old.%s.%d", s->cache, name, (int)getpid());
	if (!access(dir, F_OK) && rename(dir, old))
		return -1;
	if (rename(s->work, dir))
		return -1;
	ribosome_remove_tree(old);
	snprintf(s->work, sizeof(s->work), "%s", dir);
	return 0;
}

static void print_added(const struct add_state *s, const struct dna *d, const char *bin, bool hit,
			bool json)
{
	const char *ref = s->tag[0] ? s->tag : "HEAD";

	if (!json) {
		printf("%s: %s (%.12s) %s%s\n", d->recipe.name, ref, s->commit,
		       s->have_keys ? "verified: " : "not verified (the node has no keys)",
		       s->have_keys ? s->signer : "");
		printf("%s: %s %s: %s\n", d->recipe.name, hit ? "cached" : "built", d->hex, bin);
		return;
	}
	fputs("{\"name\":", stdout);
	json_put_string(stdout, d->recipe.name, (uint32_t)strlen(d->recipe.name));
	fputs(",\"ref\":", stdout);
	json_put_string(stdout, ref, (uint32_t)strlen(ref));
	printf(",\"commit\":\"%s\",\"verified\":%s,\"signer\":", s->commit,
	       s->have_keys ? "true" : "false");
	json_put_string(stdout, s->signer, (uint32_t)strlen(s->signer));
	printf(",\"dna\":\"%s\",\"cached\":%s,\"binary\":", d->hex, hit ? "true" : "false");
	json_put_string(stdout, bin, (uint32_t)strlen(bin));
	puts("}");
}

static int add_usage(FILE *out)
{
	fputs("usage: cell add [-j] [-s STATE_DIR] GIT_URL\n"
	      "  clone GIT_URL (file:// or a local path), verify its newest tag with the\n"
	      "  node's keys (STATE_DIR/ribosome/keys) if it has any, and build it\n",
	      out);
	return out == stdout ? 0 : 2;
}

static int add_one(struct add_state *s, const char *url, bool json)
{
	char name[64], dir[PATH_MAX + 80], bin[PATH_MAX + 80];
	struct dna d = { 0 };
	bool hit;
	int rc = -1;

	git_env(s);
	if (clone(s, url) || newest_tag(s))
		goto out;
	if (s->have_keys && !s->tag[0]) {
		fprintf(stderr,
			"cell %s: %s has no tag: the node has keys, an unsigned head is "
			"refused\n",
			s->cmd, url);
		goto out;
	}
	if ((s->have_keys && verify_tag(s)) || checkout(s) || cell_name(s, name, sizeof(name)))
		goto out;
	if (settle(s, name, dir, sizeof(dir))) {
		fprintf(stderr, "cell %s: %s: %s\n", s->cmd, dir, strerror(errno));
		goto out;
	}
	if (ribosome_build(s->cmd, s->cache, dir, &d, bin, sizeof(bin), &hit))
		goto out;
	print_added(s, &d, bin, hit, json);
	rc = 0;
out:
	if (strstr(s->work, "/.clone."))
		ribosome_remove_tree(s->work);
	dna_release(&d);
	return rc;
}

int cell_cmd_add(int argc, char **argv)
{
	static struct add_state s;
	char gnupg[PATH_MAX + 16];
	struct ribosome_args a;
	struct stat st;
	int rc = ribosome_parse_args(argc, argv, &a);

	if (rc)
		return add_usage(rc > 0 ? stdout : stderr);
	s.cmd = "add";
	if (ribosome_dir("add", a.state, s.cache, sizeof(s.cache)))
		return 1;
	snprintf(s.keys, sizeof(s.keys), "%s/keys", s.cache);
	snprintf(s.signers, sizeof(s.signers), "%s/allowed_signers", s.keys);
	snprintf(gnupg, sizeof(gnupg), "%s/gnupg", s.keys);
	s.have_keys = !stat(s.signers, &st) || !stat(gnupg, &st);
	return add_one(&s, a.operand, a.json) ? 1 : 0;
}

static int run_usage(FILE *out)
{
	fputs("usage: cell run [-s STATE_DIR] NAME [SPAWN OPTIONS]\n"
	      "  spawn the newest build of NAME (cell add, cell build) under celld, as\n"
	      "  cell spawn NAME [SPAWN OPTIONS] -o ro=DNA_DIR -- DNA_DIR/NAME NAME\n",
	      out);
	return out == stdout ? 0 : 2;
}

int cell_cmd_run(int argc, char **argv)
{
	static char cache[PATH_MAX], link[PATH_MAX + 80], dna_dir[PATH_MAX], ro[PATH_MAX + 8],
		bin[PATH_MAX + 80];
	char *args[MAX_RUN_ARGS + 8];
	const char *state = NULL;
	int i = 1, n = 0;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return run_usage(stdout);
	if (argc > 2 && !strcmp(argv[1], "-s")) {
		state = argv[2];
		i = 3;
	}
	if (i >= argc || argv[i][0] == '-' || argc - i > MAX_RUN_ARGS)
		return run_usage(stderr);
	for (int k = i; k < argc; k++)
		if (!strcmp(argv[k], "--"))
			return run_usage(stderr); /* the program is the build's */
	if (ribosome_dir("run", state, cache, sizeof(cache)))
		return 1;
	snprintf(link, sizeof(link), "%s/names/%s", cache, argv[i]);
	if (strchr(argv[i], '/') || argv[i][0] == '.' || !realpath(link, dna_dir)) {
		fprintf(stderr, "cell run: %s is not built here (cell add or cell build it): %s\n",
			argv[i], link);
		return 1;
	}
	snprintf(bin, sizeof(bin), "%s/%s", dna_dir, argv[i]);
	snprintf(ro, sizeof(ro), "ro=%s", dna_dir);
	args[n++] = "spawn";
	for (int k = i; k < argc; k++)
		args[n++] = argv[k];
	args[n++] = "-o";
	args[n++] = ro;
	args[n++] = "--";
	args[n++] = bin;
	args[n++] = argv[i];
	args[n] = NULL;
	return cell_cmd_spawn(n, args);
}
