// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * An out-of-tree program built against an installed libcell (pkg-config or
 * find_package(Cell)): the header cellc generated from demo.cell compiles
 * with the installed headers, and libcell.so.0 loads and answers.
 */
#include <stdio.h>

#include <cell/rpc.h>

#include "demo.cell.h"

int main(void)
{
	char dir[256];

	if (cell_runtime_dir(dir, sizeof(dir)) < 0) {
		perror("cell_runtime_dir");
		return 1;
	}
	printf("runtime dir %s, unix path is \"%s\"\n", dir, cell_path_name(CELL_PATH_UNIX));
	return 0;
}
