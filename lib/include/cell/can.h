/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The CAN-FD transport: calls to a node on a CAN-FD bus (a microcontroller
 * running mcu/'s CAN server, or another host), over SocketCAN (CAN_RAW
 * with CAN_RAW_FD_FRAMES) or any bus driver the caller supplies.
 *
 * Frames are those of the UART (header, payload, CRC-32) cut into
 * ISO 15765-2 style segments of at most 64 bytes; 29-bit CAN ids carry
 * the kind, destination and source node addresses; nodes announce their
 * name and fingerprint (Documentation/can.rst).  The same conventions and
 * calls as <cell/uart.h>: statuses, cell_last_error(), absolute
 * CLOCK_MONOTONIC deadlines, options structs starting with sz; a struct
 * cell_can may be shared by threads (calls take turns).
 */
#ifndef CELL_CAN_H
#define CELL_CAN_H

#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>
#include <cell/rpc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cell_can;

#define CELL_CAN_DEFAULT_MAX_PAYLOAD 256U
/* Requests a pipeline keeps outstanding: the MCU server's two buffers. */
#define CELL_CAN_DEFAULT_WINDOW 2U

struct cell_can_opts {
	size_t sz; /* sizeof(struct cell_can_opts) */
	uint64_t fingerprint;
	uint8_t addr;	      /* this node's address, 1..254; 0: 0x01 */
	uint8_t peer;	      /* the node called, 1..254 (required) */
	uint8_t window;	      /* requests outstanding in a pipeline; 0: the default */
	uint8_t prefix;	      /* id bits 28..24; 0: 0x0c */
	uint32_t max_payload; /* largest payload either way; 0: the default */
};

/*
 * A bus: how the transport reaches it.  Frames are CAN-FD frames with a
 * 29-bit id (no flag bits) and up to 64 data bytes.
 */
struct cell_can_driver {
	size_t sz; /* sizeof(struct cell_can_driver) */
	/* Send one frame before @deadline: 0 or a negative errno. */
	int (*send)(void *ctx, uint32_t id, const uint8_t *data, uint8_t len, uint64_t deadline);
	/*
	 * The next frame until @deadline: 0 with *@id, @data (64 bytes of
	 * room), *@len; -ETIMEDOUT; another negative errno if the bus failed.
	 */
	int (*recv)(void *ctx, uint32_t *id, uint8_t *data, uint8_t *len, uint64_t deadline);
	void (*close)(void *ctx); /* may be NULL */
	void *ctx;
};

struct cell_can_stats {
	uint64_t frames_sent;
	uint64_t frames_received; /* well-formed Cell frames from the peer */
	uint64_t segments_sent;
	uint64_t segments_received;
	uint64_t bad_segments; /* refused by the reassembler (see seg_errors) */
	uint64_t bad_frames;   /* reassembled, but CRC or header refused */
	uint64_t foreign;      /* frames for other nodes or from others than the peer */
	uint64_t stray;	       /* well-formed, answering no call waited for */
	uint64_t announces;    /* well-formed announcements seen */
	uint64_t bad_announces;
	/* Per reason of enum cell_mcu_can_err (Documentation/can.rst), [0] unused. */
	uint64_t seg_errors[12];
};

/* A node seen on the bus (its last announcement). */
struct cell_can_node {
	uint8_t addr;
	uint8_t slots;
	uint16_t max_payload;
	uint64_t fingerprint;
	uint64_t seen_ns; /* CLOCK_MONOTONIC of the last announcement */
	char name[33];
};

/**
 * cell_can_open() - open SocketCAN interface @ifname (e.g. "vcan0", "can0";
 * its MTU must be CANFD_MTU) with a CAN_RAW socket taking CAN-FD frames,
 * filtered in the kernel to segments for opts->addr and announcements.
 * Return: the connection, or NULL with errno (EAFNOSUPPORT: no CAN in
 * this kernel; ENODEV; EPROTONOSUPPORT: not a CAN-FD interface; EINVAL).
 */
LIBCELL_API struct cell_can *cell_can_open(const char *ifname, const struct cell_can_opts *opts);

/*
 * cell_can_open_fd() - the bus is @fd, carrying one struct canfd_frame
 * per datagram (a bound CAN_RAW socket, or one end of a SOCK_SEQPACKET
 * socketpair as a simulated bus).  Takes @fd (closed on failure too).
 */
LIBCELL_API struct cell_can *cell_can_open_fd(int fd, const struct cell_can_opts *opts);

/* cell_can_open_driver() - the bus is @drv (copied; its ctx closed by cell_can_close()). */
LIBCELL_API struct cell_can *cell_can_open_driver(const struct cell_can_driver *drv,
						  const struct cell_can_opts *opts);

LIBCELL_API void cell_can_close(struct cell_can *u);
LIBCELL_API void cell_can_get_stats(struct cell_can *u, struct cell_can_stats *st);

/* As cell_uart_call(): one request to the peer, its answer until @deadline. */
LIBCELL_API enum cell_status cell_can_call(struct cell_can *u, uint16_t method, const void *req,
					   uint32_t req_len, void *resp, uint32_t cap,
					   uint32_t *resp_len, uint64_t deadline);

/* A one-way request. */
LIBCELL_API enum cell_status cell_can_send(struct cell_can *u, uint16_t method, const void *req,
					   uint32_t req_len, uint64_t deadline);

/*
 * Send a frame as given (@hdr in host order; its len is set to @len and
 * its version to the wire's): e.g. an answer when this host is the node
 * being called.
 */
LIBCELL_API enum cell_status cell_can_send_frame(struct cell_can *u, struct cell_hdr *hdr,
						 const void *payload, uint32_t len,
						 uint64_t deadline);

/* As cell_uart_recv(): the next well-formed frame from the peer. */
LIBCELL_API enum cell_status cell_can_recv(struct cell_can *u, struct cell_hdr *hdr, void *payload,
					   uint32_t cap, uint64_t deadline);

struct cell_can_op {
	uint16_t method;
	const void *req;
	uint32_t req_len;
	void *resp;
	uint32_t cap;
	uint32_t resp_len;	 /* out */
	enum cell_status status; /* out */
};

/*
 * As cell_uart_pipeline(), with at most opts->window requests outstanding
 * at a time (the node's buffers: there is no flow control on the bus).
 */
LIBCELL_API enum cell_status cell_can_pipeline(struct cell_can *u, struct cell_can_op *ops,
					       unsigned int n, uint64_t deadline);

/* As cell_uart_serve_as(): a local cell @name whose @methods go to the peer node. */
LIBCELL_API struct cell_server *cell_can_serve_as(struct cell_can *u, const char *name,
						  const uint16_t *methods, unsigned int n,
						  const struct cell_server_opts *opts);

/* Announce this host as @name (1..32 of [A-Za-z0-9._-]) with opts' fingerprint. */
LIBCELL_API enum cell_status cell_can_announce(struct cell_can *u, const char *name,
					       uint64_t deadline);

/*
 * Read the bus until @deadline, keeping announcements (frames from the
 * peer that arrive meanwhile are counted stray).  Announcements are also
 * kept whenever a call reads the bus.  Return: nodes known.
 */
LIBCELL_API unsigned int cell_can_discover(struct cell_can *u, uint64_t deadline);

/* Copy up to @cap known nodes to @out, by address.  Return: nodes known. */
LIBCELL_API unsigned int cell_can_nodes(struct cell_can *u, struct cell_can_node *out,
					unsigned int cap);

#ifdef __cplusplus
}
#endif

#endif /* CELL_CAN_H */
