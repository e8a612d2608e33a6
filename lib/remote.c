// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Remote instances of a cell, as celld's axon module publishes them
 * (userspace/celld/axon.c): RUNTIME_DIR/axon/NAME holds one line
 *   quic://HOST:PORT FINGERPRINT NODE RTT_US
 * (FINGERPRINT 16 hex digits, NODE the node key in hex, RTT_US decimal).
 * cell_client_connect() reads it when no local instance answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <cell/log.h>
#include "rpc_internal.h"

#define SCHEME "quic://"

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Bytes allowed in HOST:PORT: a name, IPv4, or [IPv6] (with %scope). */
static int target_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']' || ch == '%' ||
	       ch == '_';
}

int cell_remote_parse(const char *buf, size_t n, struct cell_remote *out)
{
	size_t i = 0, j;
	unsigned long rtt = 0;

	memset(out, 0, sizeof(*out));
	if (n < sizeof(SCHEME) - 1 || memcmp(buf, SCHEME, sizeof(SCHEME) - 1))
		return -EINVAL;
	i = sizeof(SCHEME) - 1;
	for (j = 0; i < n && buf[i] != ' '; i++, j++) {
		if (!target_char_ok(buf[i]) || j + 1 >= sizeof(out->target))
			return -EINVAL;
		out->target[j] = buf[i];
	}
	if (!j || !strchr(out->target, ':') || i >= n)
		return -EINVAL;
	i++; /* ' ' */
	for (j = 0; j < 16; j++, i++) {
		int d = i < n ? hex_digit(buf[i]) : -1;

		if (d < 0)
			return -EINVAL;
		out->fingerprint = out->fingerprint << 4 | (uint64_t)d;
	}
	if (i >= n || buf[i++] != ' ')
		return -EINVAL;
	for (j = 0; i < n && buf[i] != ' '; i++, j++) {
		if (hex_digit(buf[i]) < 0 || j + 1 >= sizeof(out->node))
			return -EINVAL;
		out->node[j] = buf[i];
	}
	if (!j || i >= n || buf[i++] != ' ')
		return -EINVAL;
	for (j = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++, j++) {
		if (j >= 9)
			return -EINVAL;
		rtt = rtt * 10 + (unsigned long)(buf[i] - '0');
	}
	if (!j || (i < n && buf[i] != '\n') || (i < n && i + 1 != n))
		return -EINVAL;
	out->rtt_us = (uint32_t)rtt;
	return 0;
}

int cell_remote_lookup(const char *dir, const char *name, struct cell_remote *out)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + CELL_NAME_MAX + 8], line[512];
	size_t n;
	FILE *fh;

	if ((size_t)snprintf(path, sizeof(path), "%s/axon/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fh = fopen(path, "re");
	if (!fh)
		return -ENOENT;
	n = fread(line, 1, sizeof(line), fh);
	fclose(fh);
	if (cell_remote_parse(line, n, out)) {
		cell_log(CELL_LOG_WARNING, "%s: not a remote endpoint line: ignored", path);
		return -EINVAL;
	}
	return 0;
}
