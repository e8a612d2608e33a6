// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * spawn_corpus_gen DIR: writes the seed corpus of fuzz_celld_spawn_conf
 * (selftests/fuzz/corpus/celld_spawn_conf), spawn requests built with the
 * generated builders as `cell spawn` sends them: accepted ones and each
 * kind of refusal.  Run by hand after a change of nucleus.cell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nucleus.cell.h"

struct seed {
	const char *file, *name;
	const char *argv[40];
	const char *options[24];
	int nul_arg; /* argv[nul_arg] gets a NUL inside, if > 0 */
};

static const struct seed seeds[] = {
	{ "minimal", "demo", { "/usr/bin/true" }, { 0 }, 0 },
	{ "full",
	  "demo.server-1",
	  { "/opt/cell/demo_server", "demo", "--flag", "a b c" },
	  { "restart=always", "net=1", "ro=/opt/cell", "peer=/run/cell/x.sock", "max_restarts=3",
	    "window_s=10", "backoff_ms=50", "backoff_max_ms=800", "memory_max=268435456",
	    "pids_max=32", "ready=ping", "ready_timeout_ms=300", "stop_timeout_ms=700" },
	  0 },
	{ "ready_none", "sh", { "/bin/sh", "-c", "sleep 1" }, { "ready=none", "restart=never" }, 0 },
	{ "unknown_key", "demo", { "/usr/bin/true" }, { "colour=blue" }, 0 },
	{ "name_option", "demo", { "/usr/bin/true" }, { "name=other" }, 0 },
	{ "exec_option", "demo", { "/usr/bin/true" }, { "exec=/bin/sh" }, 0 },
	{ "not_key_value", "demo", { "/usr/bin/true" }, { "restart" }, 0 },
	{ "bad_restart", "demo", { "/usr/bin/true" }, { "restart=sometimes" }, 0 },
	{ "bad_number", "demo", { "/usr/bin/true" }, { "max_restarts=12x" }, 0 },
	{ "relative_ro", "demo", { "/usr/bin/true" }, { "ro=relative/path" }, 0 },
	{ "relative_exec", "demo", { "demo_server" }, { 0 }, 0 },
	{ "no_argv", "demo", { 0 }, { 0 }, 0 },
	{ "bad_name", "Demo Cell", { "/usr/bin/true" }, { 0 }, 0 },
	{ "nucleus_name", "nucleus", { "/usr/bin/true" }, { 0 }, 0 },
	{ "nul_in_arg", "demo", { "/usr/bin/true", "a" }, { 0 }, 1 },
	{ "too_many_args",
	  "demo",
	  { "/bin/echo", "1",  "2",  "3",  "4",	 "5",  "6",  "7",  "8",	 "9",  "10", "11",
	    "12",	 "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23",
	    "24",	 "25", "26", "27", "28", "29", "30", "31", "32", "33" },
	  { 0 },
	  0 },
	{ "many_ro",
	  "demo",
	  { "/usr/bin/true" },
	  { "ro=/a", "ro=/b", "ro=/c", "ro=/d", "ro=/e", "ro=/f", "ro=/g", "ro=/h", "ro=/i",
	    "ro=/j", "ro=/k", "ro=/l", "ro=/m", "ro=/n", "ro=/o", "ro=/p", "ro=/q" },
	  0 },
	{ "zero_restarts", "demo", { "/usr/bin/true" }, { "max_restarts=0" }, 0 },
};

static int count(const char *const *v, int max)
{
	int n = 0;

	while (n < max && v[n])
		n++;
	return n;
}

static int write_seed(const char *dir, const struct seed *s)
{
	static uint64_t buf[8192];
	struct nucleus_spawn_request *req;
	struct nucleus_conf_arg *a;
	struct cellc_builder b;
	int nargs = count(s->argv, 40), nopts = count(s->options, 24);
	char path[4096];
	uint32_t len;
	FILE *f;

	cellc_builder_init(&b, buf, sizeof(buf));
	req = nucleus_spawn_request_start(&b);
	if (!req)
		return -1;
	(void)nucleus_spawn_request_set_name_str(&b, req, s->name);
	a = nucleus_spawn_request_alloc_argv(&b, req, (uint32_t)nargs);
	for (int i = 0; a && i < nargs; i++)
		(void)nucleus_conf_arg_set_value(
			&b, &a[i], s->nul_arg == i ? "a\0b" : s->argv[i],
			s->nul_arg == i && i ? 3 : (uint32_t)strlen(s->argv[i]));
	a = nucleus_spawn_request_alloc_options(&b, req, (uint32_t)nopts);
	for (int i = 0; a && i < nopts; i++)
		(void)nucleus_conf_arg_set_value_str(&b, &a[i], s->options[i]);
	len = cellc_builder_finish(&b);
	if (!len)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, s->file);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return fprintf(stderr, "usage: spawn_corpus_gen DIR\n"), 2;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (write_seed(argv[1], &seeds[i])) {
			fprintf(stderr, "spawn_corpus_gen: %s failed\n", seeds[i].file);
			return 1;
		}
	return 0;
}
