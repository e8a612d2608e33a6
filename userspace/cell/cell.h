/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* The `cell` command's subcommands. */
#ifndef CELL_CMD_H
#define CELL_CMD_H

/* cell rings [-j] [--watch] (rings.c); argv[0] is "rings". */
int cell_cmd_rings(int argc, char **argv);

#endif /* CELL_CMD_H */
