/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * What the framed-link clients (uart.c: COBS over a serial line, can.c:
 * CAN-FD segments) share: checking an answer, and the serve_as bridge
 * that puts a local cell in front of the board or node.  Each transport
 * keeps its own framing, pipeline and locking.
 */
#ifndef CELL_FRAMED_LINK_H
#define CELL_FRAMED_LINK_H

#include <stdint.h>

#include <cell/rpc.h>

/*
 * A transport as the bridge calls it: @call and @send are the
 * transport's cell_<x>_call() / cell_<x>_send() on @link; answers get up
 * to @max_payload bytes.  Lives as long as the servers made from it.
 */
struct cell_framed_link {
	enum cell_status (*call)(void *link, uint16_t method, const void *req, uint32_t req_len,
				 void *resp, uint32_t cap, uint32_t *resp_len, uint64_t deadline);
	enum cell_status (*send)(void *link, uint16_t method, const void *req, uint32_t req_len,
				 uint64_t deadline);
	void *link;
	uint32_t max_payload;
};

/*
 * cell_framed_take_answer() - the answer @hdr / @payload to a call of a
 * client with @fingerprint, into @resp (@cap bytes, its length in
 * *@resp_len, 0 on an error): an error response's status and detail, a
 * fingerprint mismatch (@peer names the other end in the message: "board",
 * "node"), or TOO_LARGE.  @tag prefixes messages ("uart", "can").
 */
enum cell_status cell_framed_take_answer(const struct cell_hdr *hdr, const uint8_t *payload,
					 uint64_t fingerprint, const char *tag, const char *peer,
					 void *resp, uint32_t cap, uint32_t *resp_len);

/*
 * cell_framed_serve_as() - a cell named @name forwarding methods @methods
 * (@n) through @fl (each call may take 5 s on the link).  errno on NULL.
 */
struct cell_server *cell_framed_serve_as(struct cell_framed_link *fl, const char *name,
					 const uint16_t *methods, unsigned int n,
					 const struct cell_server_opts *opts);

#endif /* CELL_FRAMED_LINK_H */
