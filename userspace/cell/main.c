// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell: the command-line tool.  Subcommands:
 *   cell rings [-j] [--watch]   cell.ko's rings (rings.c)
 */
#include <stdio.h>
#include <string.h>

#include "cell.h"

static int usage(FILE *out)
{
	fputs("usage: cell COMMAND [ARGS]\n"
	      "  rings [-j] [--watch]   list cell.ko's rings, or watch their events\n",
	      out);
	return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "rings"))
		return cell_cmd_rings(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage(stdout);
	fprintf(stderr, "cell: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
