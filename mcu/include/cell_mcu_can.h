/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Cell frames over CAN-FD: segmentation, reassembly, CAN ids and the
 * discovery announcement, in freestanding C99 (no heap, no libc beyond
 * <stdint.h>, <stddef.h> and <string.h>).  This one implementation is
 * shared: the MCU port (mcu/src/can.c) and libcell's CAN transport
 * (lib/can.c) both compile mcu/src/can_seg.c, so the two ends of a bus
 * cannot disagree on the rules.  Byte layout and the reasons for it:
 * Documentation/can.rst.
 *
 * This header needs nothing from <linux/cell.h>: libcell includes it next
 * to the kernel's headers, the MCU next to its own.
 *
 * A message is a Cell frame as on the UART (20-byte header, payload,
 * CRC-32 little-endian), 24..65535 bytes, cut into segments ISO 15765-2
 * style; every segment is the data of one CAN-FD frame (at most 64 bytes,
 * always the smallest CAN-FD length that holds it, padded with 0xcc):
 *
 *   single      00 LL  data[LL]              LL = 1..62, the whole message
 *   first       10 NN NN data[61]            NN NN = message length, LE,
 *                                            63..65535; frame of 64 bytes
 *   consecutive 2S data[min(63, left)]       S = 1, 2, ..15, 0, 1, ...
 *
 * There is no flow-control segment: the sender limits how many messages
 * it has in flight (the receiver announces its buffers), see can.rst.
 *
 * CAN ids are 29-bit (extended): prefix (5 bits) | kind (8) | destination
 * (8) | source (8).  Addresses are 1..254; 0xff is "everyone".
 */
#ifndef CELL_MCU_CAN_H
#define CELL_MCU_CAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CAN ids ------------------------------------------------------------- */

/* Bits 28..24 of every Cell CAN id; a bus shared with other protocols picks its own. */
#ifndef CELL_MCU_CAN_PREFIX
#define CELL_MCU_CAN_PREFIX 0x0c
#endif
#define CELL_MCU_CAN_KIND_SEGMENT  0x01 /* a segment of a Cell frame */
#define CELL_MCU_CAN_KIND_ANNOUNCE 0x02 /* a node's announcement, to 0xff */
#define CELL_MCU_CAN_BROADCAST	   0xff
#define CELL_MCU_CAN_ID_MASK	   0x1fffffffU

#define CELL_MCU_CAN_ID(prefix, kind, dst, src)                            \
	((uint32_t)((prefix)&0x1f) << 24 | (uint32_t)((kind)&0xff) << 16 | \
	 (uint32_t)((dst)&0xff) << 8 | (uint32_t)((src)&0xff))
#define CELL_MCU_CAN_ID_PREFIX(id) ((uint8_t)(((id) >> 24) & 0x1f))
#define CELL_MCU_CAN_ID_KIND(id)   ((uint8_t)((id) >> 16))
#define CELL_MCU_CAN_ID_DST(id)	   ((uint8_t)((id) >> 8))
#define CELL_MCU_CAN_ID_SRC(id)	   ((uint8_t)(id))

/* ---- segments ------------------------------------------------------------ */

#define CELL_MCU_CAN_MTU      64     /* data bytes of a CAN-FD frame */
#define CELL_MCU_CAN_SF_MAX   62     /* message bytes in a single segment */
#define CELL_MCU_CAN_FF_DATA  61     /* message bytes in a first segment */
#define CELL_MCU_CAN_CF_DATA  63     /* message bytes in a consecutive segment */
#define CELL_MCU_CAN_MSG_MAX  65535U /* longest message (16-bit length) */
#define CELL_MCU_CAN_PCI_SF   0x00
#define CELL_MCU_CAN_PCI_FF   0x10
#define CELL_MCU_CAN_PCI_CF   0x20
#define CELL_MCU_CAN_PAD_BYTE 0xcc

/* Why a segment (or announcement) was refused; counted per reason. */
enum cell_mcu_can_err {
	CELL_MCU_CAN_OK = 0,
	CELL_MCU_CAN_E_DLC,	    /* frame length is not the one the segment needs */
	CELL_MCU_CAN_E_PCI,	    /* unknown segment type (first byte) */
	CELL_MCU_CAN_E_LENGTH,	    /* single of 0 or > 62 bytes; first of <= 62 */
	CELL_MCU_CAN_E_TOO_LONG,    /* message longer than the receiver's buffer */
	CELL_MCU_CAN_E_UNEXPECTED,  /* consecutive with no message under way from that node */
	CELL_MCU_CAN_E_SEQUENCE,    /* consecutive out of order: lost, repeated, reordered */
	CELL_MCU_CAN_E_NO_SLOT,	    /* every buffer holds a message not yet served */
	CELL_MCU_CAN_E_INTERRUPTED, /* a node began anew: its unfinished message dropped */
	CELL_MCU_CAN_E_EVICTED,	    /* an unfinished message dropped for another node's */
	CELL_MCU_CAN_E_ANNOUNCE,    /* malformed announcement */
	CELL_MCU_CAN_E_MAX,
};

/* Smallest CAN-FD data length (0..8, 12, 16, 20, 24, 32, 48, 64) >= @n (<= 64). */
unsigned int cell_mcu_can_dlc_round(unsigned int n);

/* Send one segment of @len bytes; 0 on success, any other value stops the message. */
typedef int (*cell_mcu_can_emit)(void *ctx, const uint8_t *seg, uint8_t len);

/*
 * Cut @n bytes (1..65535) of @msg into segments, calling @emit for each
 * in order.  Return: 0, -1 if @n is 0, or the first non-zero @emit result.
 */
int cell_mcu_can_segment(const uint8_t *msg, uint32_t n, cell_mcu_can_emit emit, void *ctx);

/* ---- reassembly ---------------------------------------------------------- */

enum {
	CELL_MCU_CAN_FREE = 0,
	CELL_MCU_CAN_BUSY,
	CELL_MCU_CAN_DONE
};

/* One message buffer.  The caller sets @buf and @cap before cell_mcu_can_rx_init(). */
struct cell_mcu_can_slot {
	uint8_t *buf;
	uint16_t cap;	/* bytes of @buf: longest message taken */
	uint16_t total; /* length of the message under way or done */
	uint16_t len;	/* bytes received so far */
	uint16_t stamp; /* rx->clock at the last segment: least recent is evicted first */
	uint8_t src;	/* the sending node */
	uint8_t state;	/* CELL_MCU_CAN_FREE / BUSY / DONE */
};

/*
 * The reassembler: @n slots shared by every sender, at most one message
 * under way per sender (a CAN node sends its messages one after the
 * other), messages from different senders interleaved freely.  Memory is
 * the caller's slots; each segment costs O(n + 64) and never waits.
 * When every slot is taken, a new message evicts the least recently
 * active unfinished one; finished ones (DONE) stay until released.
 */
struct cell_mcu_can_rx {
	struct cell_mcu_can_slot *slot;
	uint8_t n;
	uint16_t clock;
	uint32_t messages;		     /* messages completed */
	uint32_t errors[CELL_MCU_CAN_E_MAX]; /* per enum cell_mcu_can_err ([0]: unused) */
};

/* Reset @rx to @n (1..255) slots at @slot, whose buf and cap are set. */
void cell_mcu_can_rx_init(struct cell_mcu_can_rx *rx, struct cell_mcu_can_slot *slot, uint8_t n);

/*
 * Take one segment of @len bytes at @seg sent by node @src.
 * Return: 0 if taken (message unfinished), i + 1 when slot i now holds a
 * finished message (slot[i].buf, slot[i].total bytes, from slot[i].src)
 * that stays there until cell_mcu_can_rx_release(), or
 * -CELL_MCU_CAN_E_* when the segment is refused (counted in rx->errors;
 * a refused consecutive segment also drops its message).
 */
int cell_mcu_can_rx_segment(struct cell_mcu_can_rx *rx, uint8_t src, const uint8_t *seg,
			    uint8_t len);

/* Give slot @i back (after its message was served). */
void cell_mcu_can_rx_release(struct cell_mcu_can_rx *rx, uint8_t i);

/*
 * The finished slot that completed first, or -1 if none (serve in this
 * order: one node's messages stay in order).  The MCU server's policy,
 * defined in mcu/src/can.c, not in can_seg.c: libcell does not have it.
 */
int cell_mcu_can_rx_ready(const struct cell_mcu_can_rx *rx);

/* ---- discovery ----------------------------------------------------------- */

/*
 * A node's announcement (kind ANNOUNCE, destination 0xff, source the
 * node), one CAN-FD frame of the smallest length >= 16 + name_len:
 *   0  magic 0xce        1  version 1         2  rx slots (1..255)
 *   3  name length 1..32 4  fingerprint, u64 LE
 *   12 max payload, u16 LE                    14 reserved, 0
 *   16 name: [A-Za-z0-9._-], no NUL; then 0xcc padding
 */
#define CELL_MCU_CAN_ANNOUNCE_MAGIC   0xce
#define CELL_MCU_CAN_ANNOUNCE_VERSION 1
#define CELL_MCU_CAN_NAME_MAX	      32

struct cell_mcu_can_announce {
	uint64_t fingerprint;
	uint16_t max_payload;
	uint8_t slots;
	uint8_t name_len;
	char name[CELL_MCU_CAN_NAME_MAX + 1]; /* NUL-terminated by decode */
};

/* Encode @a into @out (64 bytes).  Return: frame length, 0 if @a is invalid. */
uint8_t cell_mcu_can_announce_encode(const struct cell_mcu_can_announce *a, uint8_t *out);

/* Check and decode an announcement of @len bytes.  Return: CELL_MCU_CAN_OK or E_ANNOUNCE. */
enum cell_mcu_can_err cell_mcu_can_announce_decode(const uint8_t *data, uint8_t len,
						   struct cell_mcu_can_announce *a);

#ifdef __cplusplus
}
#endif

#endif /* CELL_MCU_CAN_H */
