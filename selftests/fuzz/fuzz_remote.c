// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Fuzz target for the remote-endpoint line celld's axon module publishes
 * and libcell reads (lib/remote.c: cell_remote_parse()).  Besides "no
 * crash, no out-of-bounds read": an accepted line has a non-empty
 * HOST:PORT of allowed bytes, a NUL-terminated node, and printing it again
 * gives a line that parses to the same fields.  A violated property aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cell_remote r, again;
	char line[512];
	int n;

	if (cell_remote_parse((const char *)data, size, &r))
		return 0;
	if (!r.target[0] || !strchr(r.target, ':') || strchr(r.target, ' ') ||
	    strnlen(r.node, sizeof(r.node)) == sizeof(r.node) || !r.node[0])
		abort();
	n = snprintf(line, sizeof(line), "quic://%s %016llx %s %u\n", r.target,
		     (unsigned long long)r.fingerprint, r.node, r.rtt_us);
	if (n <= 0 || (size_t)n >= sizeof(line) || cell_remote_parse(line, (size_t)n, &again) ||
	    memcmp(&r, &again, sizeof(r)))
		abort();
	return 0;
}
