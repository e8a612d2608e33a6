/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * What the framed-link clients (uart.c: COBS over a serial line, can.c:
 * CAN-FD segments) share: the pipeline, call, one-way send and receive
 * around the transport's own frame send and receive (struct
 * cell_framed_io), checking an answer, and the serve_as bridge that puts
 * a local cell in front of the board or node.  Each transport keeps its
 * framing and its lock (which the shared calls take).
 */
#ifndef CELL_FRAMED_LINK_H
#define CELL_FRAMED_LINK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cell/rpc.h>

/*
 * One call of a pipeline, laid out as the public struct cell_uart_op and
 * struct cell_can_op (CELL_FRAMED_OP_CHECK() asserts it); the shared code
 * copies each op with memcpy(), so the public types stay distinct.
 */
struct cell_framed_op {
	uint16_t method;
	const void *req;
	uint32_t req_len;
	void *resp;
	uint32_t cap;
	uint32_t resp_len;
	enum cell_status status;
};

#define CELL_FRAMED_OP_FIELD(T, f)                                                             \
	_Static_assert(offsetof(T, f) == offsetof(struct cell_framed_op, f) &&                 \
			       sizeof(((T *)0)->f) == sizeof(((struct cell_framed_op *)0)->f), \
		       #T "." #f " is not laid out as struct cell_framed_op")
#define CELL_FRAMED_OP_CHECK(T)                                                 \
	_Static_assert(sizeof(T) == sizeof(struct cell_framed_op), #T " size"); \
	CELL_FRAMED_OP_FIELD(T, method);                                        \
	CELL_FRAMED_OP_FIELD(T, req);                                           \
	CELL_FRAMED_OP_FIELD(T, req_len);                                       \
	CELL_FRAMED_OP_FIELD(T, resp);                                          \
	CELL_FRAMED_OP_FIELD(T, cap);                                           \
	CELL_FRAMED_OP_FIELD(T, resp_len);                                      \
	CELL_FRAMED_OP_FIELD(T, status)

/*
 * A transport as the shared calls drive it.  @send writes one request
 * frame (@flags, @method, correlation @corr, @len bytes of @req); @recv
 * reads the next well-formed frame (its payload stays valid until the
 * next @recv); both under @lock, both return a status with the error
 * detail set.  At most @window requests are outstanding (UINT_MAX: all).
 */
struct cell_framed_io {
	void *t;
	enum cell_status (*send)(void *t, uint8_t flags, uint16_t method, uint32_t corr,
				 const void *req, uint32_t len, uint64_t deadline);
	enum cell_status (*recv)(void *t, struct cell_hdr *hdr, const uint8_t **payload,
				 uint64_t deadline);
	pthread_mutex_t *lock;
	uint32_t *next_id; /* the last correlation id used */
	uint64_t *stray;   /* answers no op waited for */
	uint64_t fingerprint;
	uint32_t max_payload; /* room for an answer the bridge forwards */
	unsigned int window;
	const char *tag;  /* "uart", "can": prefixes messages */
	const char *peer; /* "board", "node": the other end in messages */
};

/*
 * cell_framed_pipeline() - @n ops (@ops: an array of a type passing
 * CELL_FRAMED_OP_CHECK()) as cell_uart_pipeline() documents, at most
 * @io->window outstanding.  A failed send fails that op and every op not
 * yet sent; answers to those sent are still collected.  @io NULL: an
 * INVALID_ARGUMENT naming @tag.
 */
enum cell_status cell_framed_pipeline(const struct cell_framed_io *io, const char *tag, void *ops,
				      unsigned int n, uint64_t deadline);

/* cell_framed_call() - one op of cell_framed_pipeline(). */
enum cell_status cell_framed_call(const struct cell_framed_io *io, const char *tag, uint16_t method,
				  const void *req, uint32_t req_len, void *resp, uint32_t cap,
				  uint32_t *resp_len, uint64_t deadline);

/* cell_framed_send() - a one-way request (correlation 0). */
enum cell_status cell_framed_send(const struct cell_framed_io *io, const char *tag, uint16_t method,
				  const void *req, uint32_t req_len, uint64_t deadline);

/* cell_framed_recv() - the next frame, its payload copied into @payload (@cap bytes). */
enum cell_status cell_framed_recv(const struct cell_framed_io *io, const char *tag,
				  struct cell_hdr *hdr, void *payload, uint32_t cap,
				  uint64_t deadline);

/* cell_framed_poll_ms() - poll()'s timeout until @deadline: -1 for none, rounded up. */
int cell_framed_poll_ms(uint64_t deadline);

/*
 * cell_framed_decode() - the @n bytes at @f as the framed links carry a
 * frame: header, payload, CRC-32 (IEEE, little-endian) of both.  0 with
 * *@hdr and *@payload (into @f) when well-formed, -1 when not.
 */
int cell_framed_decode(const uint8_t *f, size_t n, uint32_t max_payload, struct cell_hdr *hdr,
		       const uint8_t **payload);

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
 * (@n) through @io (each call may take 5 s on the link).  errno on NULL.
 */
struct cell_server *cell_framed_serve_as(const struct cell_framed_io *io, const char *name,
					 const uint16_t *methods, unsigned int n,
					 const struct cell_server_opts *opts);

#endif /* CELL_FRAMED_LINK_H */
