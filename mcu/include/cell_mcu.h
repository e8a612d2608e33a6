/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Cell on a microcontroller: the 20-byte wire header, the schema
 * fingerprint, UART framing (COBS + CRC-32) and method dispatch, in
 * freestanding C99.  No heap, no libc beyond <stdint.h>, <stddef.h> and
 * <string.h>; every buffer is sized at build time by the CELL_MCU_*
 * macros below.  Errors are returned, never fatal.  Byte layout of the
 * UART framing: Documentation/mcu.rst.
 *
 * Layers, each usable alone:
 *   cell_mcu_hdr_*, cell_mcu_frame_decode()   header and frame validation,
 *                                             the same rules as libcell
 *   cell_mcu_crc32(), cell_mcu_cobs_*()       UART framing
 *   struct cell_mcu_server                    a UART, a method table, and
 *                                             an RX path an interrupt feeds
 *   struct cell_mcu_can_server                the same dispatch over CAN-FD
 *                                             (segments: cell_mcu_can.h)
 */
#ifndef CELL_MCU_H
#define CELL_MCU_H

#include <stddef.h>
#include <stdint.h>

#ifndef CELL_UAPI_NO_IOCTL
#define CELL_UAPI_NO_IOCTL
#endif
#include <linux/cell.h>

#include "cell_mcu_can.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration ---------------------------------------------------- */

/* Largest request or response payload the board accepts (bytes). */
#ifndef CELL_MCU_MAX_PAYLOAD
#define CELL_MCU_MAX_PAYLOAD 256
#endif

/* Bytes of the CRC-32 that ends every UART frame. */
#define CELL_MCU_CRC_SIZE 4
/* Largest decoded UART frame: header, payload, CRC. */
#define CELL_MCU_MAX_FRAME (CELL_HDR_SIZE + CELL_MCU_MAX_PAYLOAD + CELL_MCU_CRC_SIZE)
/* Largest COBS encoding of a frame, without the 0x00 delimiter. */
#define CELL_MCU_COBS_MAX(n) ((n) + (n) / 254 + 1)

/*
 * Frames sit 4 bytes into an 8-byte aligned buffer so that the payload,
 * 20 bytes after the header's start, is 8-byte aligned (cellc's
 * validators and views need that).
 */
#define CELL_MCU_FRAME_PAD 4
#define CELL_MCU_BUF_SIZE  ((CELL_MCU_FRAME_PAD + CELL_MCU_MAX_FRAME + 7) & ~7)

#if CELL_MCU_MAX_PAYLOAD < 16 || CELL_MCU_MAX_PAYLOAD > 32000
#error "CELL_MCU_MAX_PAYLOAD must be 16..32000"
#endif

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define CELL_MCU_ALIGN8 _Alignas(8)
#else
#define CELL_MCU_ALIGN8 __attribute__((aligned(8)))
#endif

/* ---- errors ------------------------------------------------------------ */

/*
 * Why bytes were refused.  0 .. CELL_MCU_E_BAD_ERROR have the numbers and
 * names of libcell's enum cell_wire_error (selftests/vectors/ spells the
 * names); the rest belong to the UART framing.
 */
enum cell_mcu_err {
	CELL_MCU_OK = 0,
	CELL_MCU_E_TRUNCATED,	    /* fewer bytes than a header */
	CELL_MCU_E_BAD_VERSION,	    /* version is not CELL_WIRE_VERSION */
	CELL_MCU_E_RESERVED_FLAG,   /* flag bit 7 is set */
	CELL_MCU_E_BAD_KIND,	    /* not exactly one of REQUEST/RESPONSE/CANCEL */
	CELL_MCU_E_BAD_FLAGS,	    /* a modifier that the kind does not allow */
	CELL_MCU_E_BAD_CORRELATION, /* 0 where an id is needed, or set on ONEWAY */
	CELL_MCU_E_TOO_LONG,	    /* payload longer than the receiver allows */
	CELL_MCU_E_LENGTH_MISMATCH, /* bytes present differ from header + len */
	CELL_MCU_E_CANCEL_PAYLOAD,  /* a CANCEL frame carries a payload */
	CELL_MCU_E_BAD_ERROR,	    /* ERROR payload malformed */
	CELL_MCU_E_COBS,	    /* a COBS block cut short by a delimiter */
	CELL_MCU_E_OVERFLOW,	    /* frame larger than CELL_MCU_MAX_FRAME */
	CELL_MCU_E_SHORT,	    /* frame shorter than a header and a CRC */
	CELL_MCU_E_CRC,		    /* CRC-32 of the frame does not match */
	CELL_MCU_E_MAX,
};

/* Short stable name ("bad_kind", "crc"); in its own object file. */
const char *cell_mcu_err_name(enum cell_mcu_err err);
/* The status a receiver answers for a frame refused with @err. */
enum cell_status cell_mcu_err_status(enum cell_mcu_err err);

/* ---- wire header (wire.c) ---------------------------------------------- */

/* Write @hdr (host order) as 20 little-endian bytes at @buf. */
void cell_mcu_hdr_encode(const struct cell_hdr *hdr, uint8_t *buf);

/* Validate a header in host order: libcell's cell_hdr_check() rules. */
enum cell_mcu_err cell_mcu_hdr_check(const struct cell_hdr *hdr, uint32_t max_payload);

/* Read and validate the first 20 of @n bytes at @buf into @hdr. */
enum cell_mcu_err cell_mcu_hdr_decode(const uint8_t *buf, size_t n, uint32_t max_payload,
				      struct cell_hdr *hdr);

/*
 * Validate a whole frame: a header and exactly hdr.len payload bytes, @n
 * in all; an ERROR frame's payload must be a well-formed struct
 * cell_error.  The payload starts at @buf + CELL_HDR_SIZE.
 */
enum cell_mcu_err cell_mcu_frame_decode(const uint8_t *buf, size_t n, uint32_t max_payload,
					struct cell_hdr *hdr);

/*
 * Write an ERROR payload (struct cell_error then @detail_len bytes) into
 * @buf of @cap bytes.  Return: bytes written, 0 if it does not fit or
 * @status is OK or unknown.
 */
size_t cell_mcu_error_encode(uint8_t *buf, size_t cap, uint16_t status, const char *detail,
			     uint32_t detail_len);

/* FNV-1a 64 of a canonical schema text (libcell's cell_fingerprint()). */
uint64_t cell_mcu_fingerprint(const void *text, size_t len);

static inline uint64_t cell_mcu_hdr_fingerprint(const struct cell_hdr *hdr)
{
	return (uint64_t)hdr->fingerprint_hi << 32 | hdr->fingerprint_lo;
}

/* ---- UART framing (cobs.c) ----------------------------------------------- */

/*
 * CRC-32 (IEEE 802.3: reflected, polynomial 0xedb88320, init and final
 * xor 0xffffffff; "123456789" gives 0xcbf43926), continued from @crc
 * (start with 0).  Bitwise: no table in flash.
 */
uint32_t cell_mcu_crc32(uint32_t crc, const void *buf, size_t n);

/*
 * COBS-encode @n bytes of @src into @dst (@cap bytes), without the 0x00
 * delimiter.  Return: bytes written, 0 if @cap is too small (at most
 * CELL_MCU_COBS_MAX(@n) is needed).
 */
size_t cell_mcu_cobs_encode(uint8_t *dst, size_t cap, const uint8_t *src, size_t n);

/*
 * COBS-encode @n bytes of @src straight to a UART, one byte at a time,
 * then the 0x00 delimiter: no second buffer.
 */
void cell_mcu_cobs_write(const uint8_t *src, size_t n, void (*putc)(void *hw, uint8_t b), void *hw);

/*
 * The incremental decoder: feed it every received byte; O(1) per byte, no
 * loops, safe in an interrupt handler.  Frames are delimited by 0x00;
 * empty frames (repeated delimiters) are skipped.  After an error the
 * decoder drops bytes up to the next delimiter, then decodes again.
 */
struct cell_mcu_cobs_rx {
	uint8_t *buf;	 /* decoded bytes go here */
	uint16_t cap;	 /* bytes of @buf */
	uint16_t len;	 /* bytes decoded so far */
	uint8_t left;	 /* data bytes left in the current block */
	uint8_t zero;	 /* the current block ends in an implied zero */
	uint8_t skip;	 /* dropping bytes until the next delimiter */
	uint8_t started; /* a frame has begun */
	uint32_t frames; /* frames completed */
	uint32_t errors; /* frames refused (COBS, overflow) */
};

void cell_mcu_cobs_rx_init(struct cell_mcu_cobs_rx *rx, uint8_t *buf, uint16_t cap);
/* Drop a partial frame (the next byte starts a new one). */
void cell_mcu_cobs_rx_reset(struct cell_mcu_cobs_rx *rx);

/*
 * Feed one byte.  Return: 0 while a frame is incomplete (or skipped), the
 * decoded length (> 0) when @b ended a frame (its bytes are at rx->buf and
 * stay there until the next call), or -CELL_MCU_E_COBS / -CELL_MCU_E_OVERFLOW
 * when the frame is refused (once per bad frame).
 */
int cell_mcu_cobs_rx_byte(struct cell_mcu_cobs_rx *rx, uint8_t b);

/*
 * Check a decoded UART frame (@n bytes: frame then CRC-32 little-endian):
 * length, CRC, then cell_mcu_frame_decode().  Return the frame's error.
 */
enum cell_mcu_err cell_mcu_uart_frame_check(const uint8_t *buf, size_t n, uint32_t max_payload,
					    struct cell_hdr *hdr);

/* ---- the board's UART (a board supplies only its registers) -------------- */

struct cell_mcu_uart {
	/* Send one byte, waiting while the TX FIFO is full. */
	void (*putc)(void *hw, uint8_t b);
	/*
	 * One received byte (0..255), or -1 if the RX FIFO is empty.  Used by
	 * cell_mcu_server_poll(); may be NULL when an interrupt handler feeds
	 * cell_mcu_server_rx_byte().
	 */
	int (*getc)(void *hw);
	/*
	 * Enable (1) or mask (0) the RX interrupt; NULL in polled mode.  The
	 * server masks it while both frame buffers are full (the FIFO, then
	 * the sender, wait: no byte is lost) and during its short critical
	 * sections.
	 */
	void (*rx_irq)(void *hw, int on);
	void *hw;
};

/* ---- dispatch (server.c) ----------------------------------------------- */

/* One call as a handler sees it. */
struct cell_mcu_call {
	uint16_t method;
	uint8_t flags;	      /* CELL_F_* of the request */
	uint32_t correlation; /* 0 for one-way calls */
	const void *req;      /* payload, 8-byte aligned, already validated */
	uint32_t req_len;
	void *resp;	    /* response payload, 8-byte aligned; NULL if one-way */
	uint32_t resp_cap;  /* CELL_MCU_MAX_PAYLOAD */
	uint32_t resp_len;  /* set by the handler (0: empty response) */
	const char *detail; /* error detail (static text) or NULL */
};

/*
 * A method's handler: fill call->resp/resp_len and return OK, or return a
 * status (call->detail may name why).
 */
typedef enum cell_status (*cell_mcu_handler)(struct cell_mcu_call *call, void *ctx);

/* Validators as cellc --mcu emits them: 0, or non-zero with *why set. */
typedef int (*cell_mcu_validator)(const void *buf, uint32_t len, const char **why);

#define CELL_MCU_M_ONEWAY 0x1 /* method is one-way (no response) */

struct cell_mcu_method {
	uint16_t id;
	uint16_t flags;		     /* CELL_MCU_M_* */
	cell_mcu_validator validate; /* request validator; NULL: any payload */
	cell_mcu_handler fn;
};

/* Counters, for a board to report (and the example's stats method). */
struct cell_mcu_stats {
	uint32_t frames;     /* well-formed frames received */
	uint32_t calls;	     /* handlers run */
	uint32_t bad_frames; /* overflow, CRC or header refused (COBS: rx.errors) */
	uint32_t bad_crc;    /* of which CRC */
	uint32_t bad_fingerprint;
	uint32_t unknown_method;
	uint32_t bad_request; /* refused by the method's validator */
	uint32_t stalls;      /* times RX was masked with both buffers full */
	uint32_t goodbyes;    /* GOODBYE requests: peers that said they are leaving */
};

struct cell_mcu_server {
	const struct cell_mcu_uart *uart;
	const struct cell_mcu_method *methods;
	uint16_t nmethods;
	uint64_t fingerprint;
	const char *schema; /* canonical text for CELL_METHOD_SCHEMA, or NULL */
	uint32_t schema_len;
	void *ctx;
	struct cell_mcu_stats stats;
	/*
	 * RX: the interrupt fills one buffer while the loop serves the other;
	 * they are used alternately, so frames are served in order.
	 */
	struct cell_mcu_cobs_rx rx;
	volatile uint8_t fill;	   /* buffer the decoder writes, 2: none (stalled) */
	uint8_t serve;		   /* buffer the loop serves next */
	volatile uint16_t full[2]; /* bytes of a whole frame in buf[i], 0: free */
	CELL_MCU_ALIGN8 uint8_t buf[2][CELL_MCU_BUF_SIZE];
	CELL_MCU_ALIGN8 uint8_t tx[CELL_MCU_BUF_SIZE];
	/*
	 * Another link than the UART (the CAN-FD server sets it): called
	 * with each outgoing frame (header, payload, CRC-32) instead of
	 * writing it COBS-encoded to @uart.
	 */
	void (*tx_frame)(struct cell_mcu_server *srv, const uint8_t *frame, size_t n);
};

/*
 * Set up @srv: serve @methods (@n of them, ids below
 * CELL_METHOD_CONTROL_BASE) to peers with @fingerprint over @uart.
 * PING, GOODBYE (counted in stats.goodbyes) and SCHEMA (if srv->schema
 * is set) are answered by the server itself.  Then enable the RX interrupt (or call cell_mcu_server_poll()).
 */
void cell_mcu_server_init(struct cell_mcu_server *srv, const struct cell_mcu_uart *uart,
			  uint64_t fingerprint, const struct cell_mcu_method *methods, uint16_t n,
			  void *ctx);

/* The RX interrupt's work for one received byte. */
void cell_mcu_server_rx_byte(struct cell_mcu_server *srv, uint8_t b);

/*
 * Serve the frame that is ready, if any: check it, run its handler, send
 * the response.  Return: 1 if a frame was handled (or refused), 0 if none
 * was ready.  From the main loop, never from the interrupt.
 */
int cell_mcu_server_serve(struct cell_mcu_server *srv);

/*
 * Check and serve one received frame of @n bytes at @f (header, payload,
 * CRC-32; the payload 8-byte aligned), as cell_mcu_server_serve() does
 * for the UART: the transports other than the UART feed frames here.
 */
void cell_mcu_server_frame(struct cell_mcu_server *srv, const uint8_t *f, size_t n);

/*
 * Polled mode: read what uart->getc has, feeding the decoder and serving
 * each frame as it completes.  Return: frames handled.
 */
int cell_mcu_server_poll(struct cell_mcu_server *srv);

/*
 * Send one frame (@hdr, its len set here, and @len bytes of @payload)
 * COBS-framed with its CRC on the UART; e.g. a one-way notification.
 * Return: CELL_MCU_OK or CELL_MCU_E_TOO_LONG.
 */
enum cell_mcu_err cell_mcu_server_send(struct cell_mcu_server *srv, struct cell_hdr *hdr,
				       const void *payload, uint32_t len);

/* ---- CAN-FD (can.c; segmentation and reassembly: cell_mcu_can.h) ------- */

/* Messages the CAN server reassembles at once: the server's two frame buffers. */
#define CELL_MCU_CAN_SLOTS 2

/* The board's CAN-FD controller (a board supplies only this). */
struct cell_mcu_can {
	/*
	 * Queue one CAN-FD frame with the 29-bit (extended) @id and @len
	 * data bytes (a CAN-FD length), waiting while the TX mailboxes are
	 * full.  Return 0, non-zero if the controller cannot send it.
	 */
	int (*send)(void *hw, uint32_t id, const uint8_t *data, uint8_t len);
	void *hw;
};

/*
 * A Cell server on a CAN-FD bus at node address @addr.  The RX interrupt
 * hands every received frame to cell_mcu_can_server_rx(), which takes
 * the segments addressed to this node into one of two buffers (messages
 * of two senders may interleave); the main loop serves finished messages
 * with cell_mcu_can_server_serve() and answers each to its sender.  The
 * interrupt and the loop share rx: a slot changes hands by one byte store
 * (BUSY -> DONE in the interrupt, DONE -> FREE in the loop).
 */
struct cell_mcu_can_server {
	struct cell_mcu_server srv; /* first: dispatch, buffers, counters */
	const struct cell_mcu_can *can;
	struct cell_mcu_can_rx rx; /* per-reason segment errors: rx.errors */
	struct cell_mcu_can_slot slot[CELL_MCU_CAN_SLOTS];
	uint32_t foreign;   /* frames for other nodes, kinds or prefixes, dropped */
	uint32_t tx_errors; /* frames the controller refused (send != 0) */
	uint8_t addr;
	uint8_t peer;	/* destination of what is sent now */
	int8_t serving; /* slot of the message being served, -1: none */
};

/* Set up @cs as cell_mcu_server_init() does, on @can at address @addr (1..254). */
void cell_mcu_can_server_init(struct cell_mcu_can_server *cs, const struct cell_mcu_can *can,
			      uint8_t addr, uint64_t fingerprint,
			      const struct cell_mcu_method *methods, uint16_t n, void *ctx);

/* One received CAN-FD frame (29-bit @id, @len data bytes): from the RX interrupt. */
void cell_mcu_can_server_rx(struct cell_mcu_can_server *cs, uint32_t id, const uint8_t *data,
			    uint8_t len);

/*
 * Serve the message that finished first, if any: check it, run its
 * handler, send the answer to its sender.  Return 1 if one was served
 * (or refused), 0 if none was ready.  From the main loop.
 */
int cell_mcu_can_server_serve(struct cell_mcu_can_server *cs);

/* Send one frame to node @dst (e.g. a one-way notification), as cell_mcu_server_send(). */
enum cell_mcu_err cell_mcu_can_server_send(struct cell_mcu_can_server *cs, uint8_t dst,
					   struct cell_hdr *hdr, const void *payload, uint32_t len);

/*
 * Announce this node on the bus: @name (@name_len bytes, 1..32 of
 * [A-Za-z0-9._-]), the server's fingerprint, CELL_MCU_MAX_PAYLOAD and
 * CELL_MCU_CAN_SLOTS.  Return 0, non-zero for a bad name or a refused send.
 */
int cell_mcu_can_server_announce(struct cell_mcu_can_server *cs, const char *name,
				 uint8_t name_len);

#ifdef __cplusplus
}
#endif

#endif /* CELL_MCU_H */
