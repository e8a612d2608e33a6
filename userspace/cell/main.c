// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell: the command-line tool.  One row per subcommand in the table below;
 * `cell help` prints their usage lines.  Every command takes -j for JSON
 * output (like iproute2).
 */
#include <stdio.h>
#include <string.h>

#include "cell.h"

/*
 * tools/vm/run.sh builds this file with rings.c alone (a static binary
 * for the VM, no libcell): it defines CELL_CLI_RINGS_ONLY.
 */
static const struct cell_command commands[] = {
	{ "rings", cell_cmd_rings,
	  "rings [-j] [--watch]        list cell.ko's rings, or watch their events" },
#ifndef CELL_CLI_RINGS_ONLY
	{ "ps", cell_cmd_ps, "ps [-j] [-l|-r] [NAME]      cells known to celld (local and LAN)" },
	{ "schema", cell_cmd_schema,
	  "schema [-j] NAME            the schema text cell NAME serves" },
	{ "call", cell_cmd_call,
	  "call [-j] NAME METHOD JSON  call METHOD of cell NAME: request and response as JSON" },
	{ "top", cell_cmd_top,
	  "top [-j] [-a] [-i MS] [-n N] live per-method rate, p50, p99 of every cell" },
	{ "trace", cell_cmd_trace,
	  "trace [-j] TRACE_ID          the spans of one trace as a tree across cells" },
	{ "id", cell_cmd_id,
	  "id [-j] [-s STATE_DIR]      this node's public key (celld's node id)" },
	{ "kv", cell_cmd_kv,
	  "kv [-j] get|put|del|cas ARGS the cluster's replicated key-value store" },
	{ "cluster", cell_cmd_cluster,
	  "cluster [-j] [status|add|promote|demote|remove|transfer] the Raft group" },
	{ "logs", cell_cmd_logs,
	  "logs [-j] [-f] [-n N] NAME  what a supervised cell wrote to stdout and stderr" },
	{ "peers", cell_cmd_peers,
	  "peers [-j]                  LAN peers, their RTT, discovery counters" },
	{ "spawn", cell_cmd_spawn,
	  "spawn [-j] NAME [OPTIONS] -- BIN ARGS  start a cell in a capsid under celld" },
	{ "stop", cell_cmd_stop,
	  "stop [-j] NAME [--timeout MS] stop a supervised cell (SIGTERM, then SIGKILL)" },
#ifdef CELL_CLI_RIBOSOME
	{ "dna", cell_cmd_dna,
	  "dna [-j] DIR                the DNA of the cell in DIR and its inputs" },
	{ "build", cell_cmd_build,
	  "build [-j] [-s STATE] DIR   build the cell in DIR into the cache (by DNA)" },
	{ "add", cell_cmd_add,
	  "add [-j] [-s STATE] GIT_URL clone (file:// or a path), verify its tag, build it" },
	{ "run", cell_cmd_run,
	  "run [-s STATE] NAME [OPTS]  spawn the built cell NAME under celld (cell spawn)" },
#endif
	{ "swap", cell_cmd_swap,
	  "swap [-j] [--wait=MS] NAME BIN ARGS  replace a supervised cell's program, no call lost" },
	{ "rollout", cell_cmd_rollout,
	  "rollout [OPTS] NAME BIN|DIR ARGS  a canary beside NAME, then promoted or rolled back" },
#endif
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static int usage(FILE *out)
{
	fputs("usage: cell COMMAND [ARGS]\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s\n", commands[i].usage);
	return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cell: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
