// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * One call of a nucleus method over QUIC, as another node makes it
 * (cluster_quic_test.py): the key is celld's node.key of $CELL_STATE_DIR
 * (cell/quic.h's default), the known peers $CELL_KNOWN_PEERS.
 *
 *   celld_remote_call quic://HOST:PORT METHOD_ID
 *
 * Prints "status NAME bytes N" and the error detail on stderr; exits 0
 * only for OK.  The request is empty: enough to see who may call what.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cell/quic.h>
#include <cell/rpc.h>
#include <cell/time.h>
#include <cell/wire.h>

#include "nucleus_wire.h"

int main(int argc, char **argv)
{
	struct cell_quic_opts q = { .sz = sizeof(q) };
	struct cell_client_opts o = {
		.sz = sizeof(o),
		.fingerprint = CELL_NUCLEUS_FINGERPRINT,
		.quic = &q,
		.connect_deadline = cell_deadline_in_ms(5000),
	};
	static uint8_t buf[1 << 20];
	struct cell_client *c;
	enum cell_status st;
	uint32_t got = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s quic://HOST:PORT METHOD_ID\n", argv[0]);
		return 2;
	}
	c = cell_client_connect(argv[1], &o);
	if (!c) {
		printf("connect failed\n");
		fprintf(stderr, "%s\n", cell_last_error(NULL));
		return 1;
	}
	st = cell_client_call(c, (uint16_t)atoi(argv[2]), NULL, 0, buf, sizeof(buf), &got,
			      cell_deadline_in_ms(5000));
	printf("status %s bytes %u\n", cell_status_name(st), got);
	if (st != CELL_STATUS_OK)
		fprintf(stderr, "%s\n", cell_last_error(NULL));
	cell_client_free(c);
	return st == CELL_STATUS_OK ? 0 : 1;
}
