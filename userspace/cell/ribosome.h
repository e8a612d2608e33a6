/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The ribosome: a cell built from its source tree (Documentation/ribosome.rst).
 *
 * recipe.c  parses DIR/cell.conf (foreign bytes: a cloned repository's).
 * dna.c     gathers the inputs of a build, hashes them (SHA-256, GnuTLS)
 *           into the DNA, and prints them (`cell dna`).
 * build.c   builds a tree into STATE_DIR/ribosome/<DNA>/ unless it is
 *           there already (`cell build`).
 * add.c     clones a git repository, checks its newest tag's signature
 *           when the node has keys, builds it (`cell add`); spawns a built
 *           cell through celld (`cell run`).
 */
#ifndef CELL_RIBOSOME_H
#define CELL_RIBOSOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RECIPE_MAX_PATTERNS 32
#define RECIPE_MAX_DEPS	    16
#define RECIPE_TEXT_BYTES   1024
#define RECIPE_PATH_BYTES   256

enum recipe_build {
	RECIPE_CMAKE,
	RECIPE_MAKE,
	RECIPE_COMMAND
};

/* DIR/cell.conf, checked (recipe_parse). */
struct recipe {
	char name[64];			/* the cell's name (registry rules) */
	char schema[RECIPE_PATH_BYTES]; /* relative to DIR */
	char patterns[RECIPE_MAX_PATTERNS][RECIPE_PATH_BYTES]; /* sources= */
	int npatterns;
	enum recipe_build build;
	char command[RECIPE_TEXT_BYTES]; /* build=COMMAND: for /bin/sh -c */
	char output[RECIPE_PATH_BYTES];	 /* the binary, relative to DIR */
	char cflags[RECIPE_TEXT_BYTES];
	char deps[RECIPE_MAX_DEPS][64];
	int ndeps;
	bool have_epoch;
	uint64_t source_date_epoch;
};

/*
 * Parses the text of a cell.conf (@len bytes, NUL bytes refused) into @r.
 * Return: 0, or -EINVAL with the first reason in @why (line number first).
 */
__attribute__((warn_unused_result)) int recipe_parse(const char *text, size_t len, struct recipe *r,
						     char *why, size_t cap);

/* One input of a DNA: what, which, and the bytes hashed. */
struct dna_input {
	char kind[12]; /* file, schema, cc, flags, env, dep, tool */
	char key[RECIPE_PATH_BYTES];
	char *value; /* malloc'd: the bytes that went into the hash */
	size_t len;
	unsigned int mode; /* files: 0644 or 0755 (hashed), else 0 */
	char shown[160];   /* a one-line summary for `cell dna` ("" for files) */
	uint8_t sha256[32];
};

/* Everything that goes into a build of DIR. */
struct dna {
	char dir[4096];
	struct recipe recipe;
	struct dna_input *inputs;
	int ninputs;
	char cc[256];			     /* the compiler: $CC or cc */
	char cellc[4096];		     /* $CELLC, or cellc found in PATH */
	char cell_cflags[RECIPE_TEXT_BYTES]; /* $CELL_CFLAGS, or pkg-config libcell */
	char cell_libs[RECIPE_TEXT_BYTES];
	char *schema_raw; /* the schema file as it is (the build needs it) */
	size_t schema_raw_len;
	uint64_t source_date_epoch;
	char epoch_from[16]; /* conf, env, git, none */
	uint64_t schema_fingerprint;
	uint8_t sha256[32];
	char hex[65];
};

/*
 * Reads DIR/cell.conf and every input, hashes them into @d->hex.
 * Return: 0, or -1 with the reason on stderr (prefixed "cell @cmd: ").
 */
__attribute__((warn_unused_result)) int dna_compute(const char *cmd, const char *dir,
						    struct dna *d);
void dna_release(struct dna *d);

/* `cell dna`'s listing of @d (text, or one JSON object). */
void dna_print(const struct dna *d, bool json, FILE *out);

/*
 * Runs argv (no shell) and keeps up to @cap - 1 bytes of its stdout, NUL
 * terminated, trailing newlines dropped; stderr goes to /dev/null.
 * Return: the exit status (0 = success), or -1 if it could not run.
 */
int ribosome_capture(char *const argv[], char *out, size_t cap);
/* The same, with stderr kept too (interleaved) when @with_stderr. */
int ribosome_capture_all(char *const argv[], char *out, size_t cap, bool with_stderr);

/*
 * The state directory as celld has it (cell id's rules), or $CELL_STATE_DIR,
 * or @given (-s); then its ribosome/ subdirectory made (0700).
 * Return: 0, or -1 with the reason on stderr.
 */
__attribute__((warn_unused_result)) int ribosome_dir(const char *cmd, const char *given, char *buf,
						     size_t cap);

/* The arguments of `cell add` and `cell build`: [-j] [-s STATE_DIR] OPERAND. */
struct ribosome_args {
	bool json;	     /* -j */
	const char *state;   /* -s STATE_DIR, else NULL (ribosome_dir's default) */
	const char *operand; /* GIT_URL or DIR */
};

/*
 * Parses @argv (getopt, from argv[1]) into @a.
 * Return: 0; 1 for -h (the caller prints its usage to stdout); -1 for an
 * unknown option or not exactly one operand (usage to stderr).
 */
__attribute__((warn_unused_result)) int ribosome_parse_args(int argc, char **argv,
							    struct ribosome_args *a);

/* rm -r @path (no symlink followed); errors ignored. */
void ribosome_remove_tree(const char *path);

/* mkdir -p @path with mode 0700 (0755 for @open).  0 or -errno. */
int ribosome_mkdirs(const char *path, bool open);

/*
 * build.c: builds DIR (unless its DNA is cached) under @cache (a ribosome
 * dir); @bin gets the cached binary's path, *@hit whether it was cached.
 * Return: 0, or -1 with the reason on stderr.
 */
__attribute__((warn_unused_result)) int ribosome_build(const char *cmd, const char *cache,
						       const char *dir, struct dna *d, char *bin,
						       size_t cap, bool *hit);

/* Whether the last fresh build ran in a bubblewrap sandbox (build.c). */
bool ribosome_build_sandboxed(void);

#endif /* CELL_RIBOSOME_H */
