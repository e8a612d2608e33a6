// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * hostile_schema_server NAME MODE [FILE]: a cell whose method 0 (SCHEMA)
 * lies, for from_running_test.sh.  MODE: garbage (not a schema), nonutf8
 * (bytes 0xff 0xfe in the schema's name), oversized (2 MiB of text),
 * otherfp (FILE's valid schema text, while the cell claims another
 * fingerprint in WELCOME), none (no schema text: NOT_FOUND).  Serves on one
 * thread until SIGTERM.  CELL_DEMO_QUIC=host:port: also over QUIC, printing
 * "port P" before "ready".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cell/quic.h>
#include <cell/rpc.h>

static struct cell_server *server;

static void on_signal(int sig)
{
	(void)sig;
	cell_server_stop(server);
}

static char *read_all(const char *path)
{
	static char text[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		exit(1);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	return text;
}

static const char *text_of(const char *mode, const char *file)
{
	size_t n = 2U << 20;
	char *big;

	if (!strcmp(mode, "garbage"))
		return "\x01\x02 }}}{{ schema schema ;;; \x7f not a schema at all";
	if (!strcmp(mode, "nonutf8"))
		return "schema d\xff\xfemo;\n";
	if (!strcmp(mode, "otherfp"))
		return file ? read_all(file) : "?";
	if (!strcmp(mode, "none"))
		return NULL;
	if (strcmp(mode, "oversized"))
		return "?";
	big = malloc(n + 1);
	if (!big)
		exit(1);
	memset(big, ' ', n);
	memcpy(big, "schema demo;", 12);
	big[n] = 0;
	return big;
}

int main(int argc, char **argv)
{
	struct cell_server_opts o = { .sz = sizeof(o), .fingerprint = 0x1122334455667788ULL };
	struct sigaction sa = { .sa_handler = on_signal };
	int rc;

	if (argc != 3 && argc != 4) {
		fputs("usage: hostile_schema_server NAME MODE [FILE]\n", stderr);
		return 2;
	}
	o.schema = text_of(argv[2], argc == 4 ? argv[3] : NULL);
	o.no_register = 1;
	server = cell_server_new(argv[1], &o);
	if (!server) {
		fprintf(stderr, "hostile_schema_server: %s\n", cell_last_error(NULL));
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (getenv("CELL_DEMO_QUIC")) {
		if (cell_server_listen_quic(server, getenv("CELL_DEMO_QUIC"), NULL)) {
			fprintf(stderr, "hostile_schema_server: %s\n", cell_last_error(NULL));
			return 1;
		}
		printf("port %u\n", cell_server_quic_port(server));
	}
	printf("ready\n");
	fflush(stdout);
	rc = cell_server_run(server, 1);
	/* A second SIGTERM must not reach on_signal() once server is freed. */
	sigprocmask(SIG_BLOCK, &sa.sa_mask, NULL);
	cell_server_free(server);
	if (!strcmp(argv[2], "oversized"))
		free((char *)o.schema);
	return rc ? 1 : 0;
}
