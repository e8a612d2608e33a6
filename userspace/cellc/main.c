// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cellc [-o OUT] [--mcu | --lang=c|python|go | --canonical | --fingerprint] FILE.cell
 * cellc [...] --from-running NAME[@node]|quic://HOST:PORT [--pin 0xFP]   (from_running.c)
 *
 * Compiles FILE.cell to a C header (on stdout, or OUT written whole or
 * not at all); --mcu writes the freestanding flavour for mcu/ instead,
 * --lang=python a module for bindings/python, --lang=go a package for
 * bindings/go.  --canonical prints the canonical text instead,
 * --fingerprint its FNV-1a 64 as 0x%016x.  Errors go to stderr as
 * "file:line:column: error: message"; the exit code is then 1 (2 for
 * usage or I/O errors).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cellc.h"

#define MAX_SOURCE (16U << 20)

static void usage(void)
{
	fputs("usage: cellc [-o OUT] [--mcu | --lang=c|python|go | --canonical | --fingerprint] "
	      "FILE.cell\n"
	      "       cellc [same options] --from-running NAME[@node]|quic://HOST:PORT "
	      "[--pin 0xFINGERPRINT]\n",
	      stderr);
	exit(2);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	size_t n;

	if (!f) {
		fprintf(stderr, "cellc: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	p = xalloc(MAX_SOURCE + 1);
	n = fread(p, 1, MAX_SOURCE + 1, f);
	if (ferror(f)) {
		fprintf(stderr, "cellc: %s: read error\n", path);
		exit(2);
	}
	fclose(f);
	if (n > MAX_SOURCE) {
		fprintf(stderr, "cellc: %s: larger than %u bytes\n", path, MAX_SOURCE);
		exit(2);
	}
	*len = n;
	return p;
}

static void (*emit)(const struct schema *s, const char *src, FILE *f) = emit_header;

static int write_header(const struct schema *s, const char *src, const char *path)
{
	char tmp[4096];
	FILE *f;

	if (!path) {
		emit(s, src, stdout);
		return fflush(stdout) ? -1 : 0;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "cellc: %s: path too long\n", path);
		return -1;
	}
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "cellc: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	emit(s, src, f);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "cellc: %s: write error\n", tmp);
		remove(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		fprintf(stderr, "cellc: %s: %s\n", path, strerror(errno));
		remove(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *file = NULL, *running = NULL, *pin = NULL;
	int canonical = 0, fingerprint = 0, rc = 0;
	struct schema s;
	struct buf text = { 0 };
	size_t len;
	char *src;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--canonical"))
			canonical = 1;
		else if (!strcmp(argv[i], "--fingerprint"))
			fingerprint = 1;
		else if (!strcmp(argv[i], "--mcu"))
			emit = emit_mcu_header;
		else if (!strcmp(argv[i], "--lang=c"))
			emit = emit_header;
		else if (!strcmp(argv[i], "--lang=python"))
			emit = emit_python;
		else if (!strcmp(argv[i], "--lang=go"))
			emit = emit_go;
		else if (!strcmp(argv[i], "--from-running") && i + 1 < argc)
			running = argv[++i];
		else if (!strcmp(argv[i], "--pin") && i + 1 < argc)
			pin = argv[++i];
		else if (argv[i][0] == '-' || file)
			usage();
		else
			file = argv[i];
	}
	if (!file == !running || (pin && !running) || canonical + fingerprint > 1 ||
	    (out && (canonical || fingerprint)) ||
	    (emit != emit_header && (canonical || fingerprint)))
		usage();
	if (running) {
		if (from_running(running, pin, &s, &file)) { /* parsed and checked */
			arena_free();
			return 1;
		}
	} else {
		diag.file = file;
		src = read_file(file, &len);
		if (parse_schema(src, len, &s) || check_schema(&s)) {
			arena_free();
			return 1;
		}
	}
	if (canonical || fingerprint) {
		canonical_text(&s, &text);
		if (canonical)
			fputs(text.p, stdout);
		else
			printf("0x%016llx\n", (unsigned long long)fnv1a64(text.p, text.len));
		buf_release(&text);
		rc = fflush(stdout) ? 2 : 0;
	} else if (write_header(&s, file, out)) {
		rc = 2;
	}
	arena_free();
	return rc;
}
