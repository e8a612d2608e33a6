/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The UART transport: calls to a microcontroller running mcu/ (the MCU
 * port) over a serial line, or over a TCP socket to an emulator's serial
 * port (qemu -serial tcp:HOST:PORT,server=on).
 *
 * Frames are the same 20-byte header and payload as on every other path,
 * followed by a CRC-32 (IEEE, little-endian) of both, COBS-encoded and
 * ended by one 0x00 byte (Documentation/mcu.rst).  There is no handshake:
 * every frame carries the schema fingerprint, and the board answers a
 * mismatch with FINGERPRINT_MISMATCH.  Payloads are limited by the
 * board's buffer (CELL_MCU_MAX_PAYLOAD there, max_payload here).
 *
 * Two ways to use it:
 *  - directly: cell_uart_call(), cell_uart_send(), cell_uart_pipeline();
 *  - as a local cell: cell_uart_serve_as() binds a libcell server whose
 *    handlers forward each call to the board, so that a normal client
 *    (cell_client_connect(), cellc's stubs) calls the board exactly as it
 *    calls any local cell.
 *
 * Conventions of <cell/rpc.h>: statuses, cell_last_error() for details,
 * absolute CLOCK_MONOTONIC deadlines, options structs starting with sz.
 * A struct cell_uart may be shared by threads: calls take turns on the
 * line (one at a time, or one pipeline at a time).
 */
#ifndef CELL_UART_H
#define CELL_UART_H

#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>
#include <cell/rpc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cell_uart;

/* Default payload limit: the MCU port's default CELL_MCU_MAX_PAYLOAD. */
#define CELL_UART_DEFAULT_MAX_PAYLOAD 256U

struct cell_uart_opts {
	size_t sz; /* sizeof(struct cell_uart_opts) */
	/* Schema fingerprint sent in every frame. */
	uint64_t fingerprint;
	/* Line speed of a tty; 0: 115200.  Ignored for tcp:. */
	uint32_t baud;
	/* Largest payload the board accepts and answers; 0: the default. */
	uint32_t max_payload;
	/* Deadline of cell_uart_open() (tcp: retries until the port listens); 0: 5 s. */
	uint64_t open_deadline;
};

/* Counters of a UART connection. */
struct cell_uart_stats {
	uint64_t frames_sent;
	uint64_t frames_received; /* well-formed frames */
	uint64_t bad_frames;	  /* COBS, CRC, size or header refused, dropped */
	uint64_t stray;		  /* well-formed but answering no call waited for */
};

/**
 * cell_uart_open() - open @target: "tcp:HOST:PORT" or the path of a serial
 * device (set raw, 8N1, opts->baud).  Sends one 0x00 so that the board
 * drops whatever partial frame it holds.
 * Return: the connection, or NULL with errno (EINVAL: bad target or
 * options, ETIMEDOUT, ECONNREFUSED, ENOENT, ...).  cell_last_error() says
 * more.
 */
LIBCELL_API struct cell_uart *cell_uart_open(const char *target, const struct cell_uart_opts *opts);

/* Close and free; NULL is a no-op. */
LIBCELL_API void cell_uart_close(struct cell_uart *u);

/* The file descriptor (for tests that write raw bytes on the line). */
LIBCELL_API int cell_uart_fd(const struct cell_uart *u);

LIBCELL_API void cell_uart_get_stats(struct cell_uart *u, struct cell_uart_stats *st);

/**
 * cell_uart_call() - send a request of @method with @req_len bytes, wait
 * for its response until @deadline and copy its payload to @resp (@cap
 * bytes).  Frames that answer other calls, or are broken, are counted and
 * dropped.
 * @resp_len: if not NULL, the response's length (also when it did not
 *	      fit: the status is then TOO_LARGE).
 * Return: the board's status, or a local one: TOO_LARGE (request over
 * max_payload), DEADLINE_EXCEEDED, UNAVAILABLE (line closed or failed).
 */
LIBCELL_API enum cell_status cell_uart_call(struct cell_uart *u, uint16_t method, const void *req,
					    uint32_t req_len, void *resp, uint32_t cap,
					    uint32_t *resp_len, uint64_t deadline);

/* A one-way request: no response.  Return OK once written. */
LIBCELL_API enum cell_status cell_uart_send(struct cell_uart *u, uint16_t method, const void *req,
					    uint32_t req_len, uint64_t deadline);

/**
 * cell_uart_recv() - the next well-formed frame from the board (a one-way
 * notification it sent, or the answer to bytes written on cell_uart_fd()),
 * until @deadline.  The header goes to *@hdr (host order), up to @cap
 * payload bytes to @payload (hdr->len says how many there were).
 * Return: OK, TOO_LARGE (payload cut to @cap), DEADLINE_EXCEEDED,
 * UNAVAILABLE.
 */
LIBCELL_API enum cell_status cell_uart_recv(struct cell_uart *u, struct cell_hdr *hdr,
					    void *payload, uint32_t cap, uint64_t deadline);

/* One call of a pipeline (cell_uart_pipeline()). */
struct cell_uart_op {
	uint16_t method;
	const void *req;
	uint32_t req_len;
	void *resp;
	uint32_t cap;
	uint32_t resp_len;	 /* out */
	enum cell_status status; /* out */
};

/**
 * cell_uart_pipeline() - write all @n requests back to back, then collect
 * their responses (matched by correlation id, in any order) until
 * @deadline.  Each op gets its own status.
 * Return: OK if every op is OK, else the first failing op's status.
 */
LIBCELL_API enum cell_status cell_uart_pipeline(struct cell_uart *u, struct cell_uart_op *ops,
						unsigned int n, uint64_t deadline);

/**
 * cell_uart_serve_as() - a libcell server of cell @name whose handlers
 * forward @methods (@n ids) to the board through @u, with the board's
 * status, detail and payload coming back unchanged.  Run it with
 * cell_server_run() or cell_server_dispatch(); free it with
 * cell_server_free() before closing @u.
 * @opts: as for cell_server_new(); opts->fingerprint should be the
 *	  board's (clients are checked against it at the handshake).
 * Return: the server, or NULL with errno (as cell_server_new()).
 */
LIBCELL_API struct cell_server *cell_uart_serve_as(struct cell_uart *u, const char *name,
						   const uint16_t *methods, unsigned int n,
						   const struct cell_server_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* CELL_UART_H */
