/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The `cell` command's subcommands.  Each is one function taking the
 * arguments from its own name on (argv[0] is the command's name) and
 * returning the exit status: 0, 1 for a failure, 2 for a usage error.
 * To add a command: declare it here, implement it in its own file, add one
 * line to the table in main.c (and the file to CMakeLists.txt).
 */
#ifndef CELL_CMD_H
#define CELL_CMD_H

#include <stdbool.h>

/* One row of the command table (main.c). */
struct cell_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage; /* "ARGS   what it does", one line of `cell help` */
};

/* cell rings [-j] [--watch] (rings.c); argv[0] is "rings". */
int cell_cmd_rings(int argc, char **argv);

/* cell ps [-j] (ps.c): local cells from celld, and LAN cells it knows. */
int cell_cmd_ps(int argc, char **argv);

/* cell schema [-j] NAME (schema.c): the schema text a running cell serves. */
int cell_cmd_schema(int argc, char **argv);

/* cell call [-j] NAME METHOD JSON (call.c): one call, built from JSON. */
int cell_cmd_call(int argc, char **argv);

/* cell top [-j] (top.c): live per-method rate, p50, p99 of every local cell. */
int cell_cmd_top(int argc, char **argv);

/* cell trace [-j] TRACE_ID (trace.c): one trace's spans as a tree. */
int cell_cmd_trace(int argc, char **argv);

/* id.c: cell id [-j] [-s STATE_DIR]. */
int cell_cmd_id(int argc, char **argv);

/* kv.c: cell kv get|put|del|cas (the cluster's key-value store), cell cluster. */
int cell_cmd_kv(int argc, char **argv);
int cell_cmd_cluster(int argc, char **argv);

/* peers.c: LAN discovery counters and per-peer RTTs (celld's nucleus). */
int cell_cmd_peers(int argc, char **argv);

/* logs.c: cell logs NAME [-f] [-n N] [-j], a supervised cell's log ring. */
int cell_cmd_logs(int argc, char **argv);

/* spawn.c: cell spawn NAME ... -- BIN ARGS, cell stop NAME (celld's supervisor). */
int cell_cmd_spawn(int argc, char **argv);
int cell_cmd_stop(int argc, char **argv);
int cell_cmd_swap(int argc, char **argv);
int cell_cmd_rollout(int argc, char **argv);

/*
 * The ribosome (ribosome.h, Documentation/ribosome.rst): dna.c: cell dna DIR;
 * build.c: cell build DIR; add.c: cell add GIT_URL, cell run NAME.
 */
int cell_cmd_dna(int argc, char **argv);
int cell_cmd_build(int argc, char **argv);
int cell_cmd_add(int argc, char **argv);
int cell_cmd_run(int argc, char **argv);

#endif /* CELL_CMD_H */
