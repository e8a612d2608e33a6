/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Reading the vector files (frames.tsv, fingerprints.tsv): shared by the
 * libcell and the MCU vector tests.
 */
#ifndef CELL_VECTORS_TSV_H
#define CELL_VECTORS_TSV_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Split @line at tabs in place; returns the number of columns. */
static inline int split_tabs(char *line, char **cols, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		cols[n++] = line;
		line = strchr(line, '\t');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

/* Hex bytes, spaces allowed between them, into @out (@cap bytes); -EINVAL if bad. */
static inline int parse_hex(const char *text, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	while (*text) {
		unsigned int byte;
		int used;

		if (*text == ' ') {
			text++;
			continue;
		}
		if (sscanf(text, "%2x%n", &byte, &used) != 1 || used != 2 || *len == cap)
			return -EINVAL;
		out[(*len)++] = (uint8_t)byte;
		text += used;
	}
	return 0;
}

#endif /* CELL_VECTORS_TSV_H */
