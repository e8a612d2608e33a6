/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * Cell: the one ABI shared by cell.ko, libcell, the BPF programs and the
 * MCU port.  Documented field by field in Documentation/wire-format.rst and
 * Documentation/abi.rst; byte-exact vectors live in selftests/vectors/.
 *
 * Rules that hold for every structure in this file:
 *  - fixed-size __u* fields only, naturally aligned, no implicit padding;
 *  - multi-byte fields are little-endian when they cross a machine boundary
 *    (wire frames, pheromone datagrams); shared-memory rings are native
 *    (both ends are on one machine) and are little-endian on every
 *    architecture Cell supports today;
 *  - every "reserved" field must be zero when written and is rejected when
 *    non-zero, so that it can be given a meaning later;
 *  - ioctl argument structures begin with their own size (__u32 size) and
 *    may grow at the end; the module accepts older, shorter structures and
 *    newer, longer ones whose extra bytes are zero.
 *
 * Kernel, userspace and BPF include it as <linux/cell.h>.  The MCU port has
 * no <linux/ioctl.h>: it defines CELL_UAPI_NO_IOCTL and provides its own
 * <linux/types.h> shim (mcu/include/linux/types.h).
 */
#ifndef _UAPI_LINUX_CELL_H
#define _UAPI_LINUX_CELL_H

#include <linux/types.h>
#ifndef CELL_UAPI_NO_IOCTL
#include <linux/ioctl.h>
#endif

/* Version of everything in this file.  Bumped on any incompatible change. */
#define CELL_ABI_VERSION 1

/* ---------------------------------------------------------------------- */
/* Wire frame header (20 bytes, little-endian)                             */
/* ---------------------------------------------------------------------- */

#define CELL_WIRE_VERSION 1

/*
 * Frame kinds and modifiers.  Exactly one of REQUEST, RESPONSE and CANCEL
 * is set.  ERROR and LEADER_HINT modify a RESPONSE, ONEWAY a REQUEST,
 * MORE a REQUEST or a non-error RESPONSE.  Bit 7 (TRACE) modifies a
 * REQUEST on a connection whose server granted CELL_FEAT_TRACE; everywhere
 * else it is still the reserved bit and refused.
 */
#define CELL_F_REQUEST	   0x01 /* a call; expects a response unless ONEWAY */
#define CELL_F_RESPONSE	   0x02 /* the answer to the call with this correlation id */
#define CELL_F_ERROR	   0x04 /* payload is struct cell_error, status != OK */
#define CELL_F_ONEWAY	   0x08 /* no response will be sent; correlation id is 0 */
#define CELL_F_LEADER_HINT 0x10 /* error detail names the current leader */
#define CELL_F_MORE	   0x20 /* more frames of this message follow */
#define CELL_F_CANCEL	   0x40 /* cancel the call with this correlation id */
#define CELL_F_TRACE	   0x80 /* the payload ends in struct cell_trace_trailer */
#define CELL_F_KIND_MASK   (CELL_F_REQUEST | CELL_F_RESPONSE | CELL_F_CANCEL)

/* Bit 7 as seen by a receiver that did not grant CELL_FEAT_TRACE. */
#define CELL_F_RESERVED CELL_F_TRACE

/* Method ids from CELL_METHOD_CONTROL_BASE up belong to Cell itself. */
#define CELL_METHOD_CONTROL_BASE 0xff00
#define CELL_METHOD_HELLO	 0xff01 /* handshake, payload struct cell_hello */
#define CELL_METHOD_PING	 0xff02 /* liveness, empty payload */
#define CELL_METHOD_GOODBYE	 0xff03 /* orderly close, empty payload */
#define CELL_METHOD_SCHEMA	 0xff04 /* canonical schema text of the server */
#define CELL_METHOD_ATTACHMENT	 0xff05 /* payload travels in an fd (SCM_RIGHTS) */
#define CELL_METHOD_METRICS	 0xff06 /* the server's metrics, struct cell_metrics_wire */
#define CELL_METHOD_SPANS	 0xff07 /* the spans it recorded, struct cell_spans_wire */
#define CELL_METHOD_LISTENER	 0xff08 /* its listening socket handed over, struct cell_listener */

/*
 * Largest payload a frame can describe.  Transports enforce smaller limits
 * of their own (a ring's size, a socket's buffer, an MCU's buffer).
 */
#define CELL_MAX_PAYLOAD (1U << 30)

struct cell_hdr {
	__u8 version;	      /* CELL_WIRE_VERSION */
	__u8 flags;	      /* CELL_F_* */
	__u16 method;	      /* method id; a response echoes the request's */
	__u32 correlation;    /* call id chosen by the caller; 0 only for ONEWAY */
	__u32 len;	      /* payload bytes that follow the header */
	__u32 fingerprint_lo; /* schema fingerprint, low 32 bits */
	__u32 fingerprint_hi; /* schema fingerprint, high 32 bits */
};

#define CELL_HDR_SIZE 20

/*
 * Status codes.  OK is never sent in an ERROR frame; everything else travels
 * as the payload of a RESPONSE|ERROR frame (struct cell_error).
 */
enum cell_status {
	CELL_STATUS_OK = 0,
	CELL_STATUS_CANCELLED = 1,	      /* the caller cancelled the call */
	CELL_STATUS_UNKNOWN_METHOD = 2,	      /* no handler for that method id */
	CELL_STATUS_BAD_MESSAGE = 3,	      /* frame or payload failed validation */
	CELL_STATUS_FINGERPRINT_MISMATCH = 4, /* peers were built from other schemas */
	CELL_STATUS_DEADLINE_EXCEEDED = 5,    /* the call's deadline passed */
	CELL_STATUS_RESOURCE_EXHAUSTED = 6,   /* ring full past max_inflight, limits */
	CELL_STATUS_UNAVAILABLE = 7,	      /* peer gone or not reachable */
	CELL_STATUS_NOT_LEADER = 8,	      /* ask the leader (LEADER_HINT says who) */
	CELL_STATUS_PERMISSION_DENIED = 9,    /* credentials refused */
	CELL_STATUS_INTERNAL = 10,	      /* bug or invariant broken in the peer */
	CELL_STATUS_UNSUPPORTED_VERSION = 11, /* wire or ABI version not spoken */
	CELL_STATUS_INVALID_ARGUMENT = 12,    /* well-formed, but the handler refused it */
	CELL_STATUS_NOT_FOUND = 13,	      /* the named thing does not exist */
	CELL_STATUS_TOO_LARGE = 14,	      /* message larger than the path allows */
	CELL_STATUS_MAX = 15,		      /* first unassigned code */
};

/* Payload of an ERROR response: a status and an optional UTF-8 detail. */
struct cell_error {
	__u16 status;	  /* enum cell_status, never OK */
	__u16 reserved;	  /* zero */
	__u32 detail_len; /* bytes of detail text that follow, no NUL */
};

/* ---------------------------------------------------------------------- */
/* Trace context trailer (distributed tracing)                             */
/* ---------------------------------------------------------------------- */

/*
 * A REQUEST frame with CELL_F_TRACE carries the caller's trace context in
 * the last CELL_TRACE_TRAILER_SIZE bytes of its payload: @len of the header
 * counts them, and the application payload is the len - 32 bytes before
 * them.  A receiver that did not grant CELL_FEAT_TRACE refuses bit 7 as
 * reserved, so a sender only sets it on a connection that agreed.  The ids
 * are opaque bytes (W3C trace-context sizes), never all zero.  @span_id is
 * the caller's span: the parent of the span the receiver records.
 */
#define CELL_TRACE_MAGIC	0x43525443 /* "CTRC" */
#define CELL_TRACE_VERSION	1
#define CELL_TRACE_F_SAMPLED	0x01 /* the receiver records a span */
#define CELL_TRACE_FLAGS	0x01
#define CELL_TRACE_TRAILER_SIZE 32

struct cell_trace_trailer {
	__u8 trace_id[16]; /* the whole trace's id, not all zero */
	__u8 span_id[8];   /* the calling span's id, not all zero */
	__u8 version;	   /* CELL_TRACE_VERSION */
	__u8 flags;	   /* CELL_TRACE_F_* */
	__u16 reserved;	   /* zero */
	__u32 magic;	   /* CELL_TRACE_MAGIC, the trailer's last bytes */
};

/* ---------------------------------------------------------------------- */
/* Collection: METRICS and SPANS control methods (little-endian)           */
/* ---------------------------------------------------------------------- */

/*
 * CELL_METHOD_METRICS: empty request; the response is struct
 * cell_metrics_wire, then @methods struct cell_metrics_wire_method, each
 * followed by its @nbuckets struct cell_metrics_wire_bucket (non-empty
 * buckets of the log-linear histogram of <cell/metrics.h>, increasing
 * index).  A server without metrics answers NOT_FOUND.
 *
 * Version 2 adds the server's gauges: struct cell_metrics_wire_gauges
 * right after the header, before the methods.  A server answers version 2
 * only to a request of struct cell_metrics_request with @version >= 2, so
 * a decoder of version 1 (which sends an empty request) still gets what it
 * reads; an older server ignores the request and answers version 1.
 */
#define CELL_METRICS_WIRE_MAGIC		 0x4d4c4543 /* "CELM" */
#define CELL_METRICS_WIRE_VERSION	 1
#define CELL_METRICS_WIRE_VERSION_GAUGES 2
#define CELL_METRICS_WIRE_STATUS	 16 /* counts by status: 0..14, [15] unknown codes */

struct cell_metrics_wire {
	__u32 magic;	      /* CELL_METRICS_WIRE_MAGIC */
	__u16 version;	      /* CELL_METRICS_WIRE_VERSION */
	__u16 methods;	      /* entries that follow */
	__u64 dropped;	      /* calls not counted (cell_metrics_snapshot_dropped()) */
	__u32 nbuckets_total; /* histogram buckets per method (the sender's layout) */
	__u32 reserved;	      /* zero */
};

/* A METRICS request that wants a newer answer (empty: version 1). */
struct cell_metrics_request {
	__u32 version;	/* highest answer version the caller reads */
	__u32 reserved; /* zero */
};

/* Version 2: the levels when the answer was made. */
struct cell_metrics_wire_gauges {
	__u64 inflight; /* calls taken in by the server and not finished */
	__u64 clients;	/* connections past the handshake */
};

struct cell_metrics_wire_method {
	__u16 method;	/* method id, strictly increasing */
	__u16 nbuckets; /* struct cell_metrics_wire_bucket that follow */
	__u32 reserved; /* zero */
	__u64 status[CELL_METRICS_WIRE_STATUS];
	__u64 sum; /* of the latencies, ns */
	__u64 min; /* ns, 0 when empty */
	__u64 max; /* ns */
};

struct cell_metrics_wire_bucket {
	__u32 index;	/* < nbuckets_total, strictly increasing */
	__u32 reserved; /* zero */
	__u64 count;	/* non-zero */
};

/*
 * CELL_METHOD_SPANS: the request is empty (every span the server's process
 * recorded for this cell) or a 16-byte trace id (that trace's only); the
 * response is struct cell_spans_wire then @count struct cell_span_wire.
 */
#define CELL_SPANS_WIRE_MAGIC	0x4e505343 /* "CSPN" */
#define CELL_SPANS_WIRE_VERSION 1

struct cell_spans_wire {
	__u32 magic;	/* CELL_SPANS_WIRE_MAGIC */
	__u16 version;	/* CELL_SPANS_WIRE_VERSION */
	__u16 reserved; /* zero */
	__u32 count;	/* spans that follow */
	__u32 dropped;	/* spans the bounded ring overwrote before this answer */
};

struct cell_span_wire {
	__u8 trace_id[16];
	__u8 span_id[8];   /* the server's span, not all zero */
	__u8 parent_id[8]; /* the caller's span (from the trailer) */
	__u64 start_ns;	   /* CLOCK_REALTIME when the handler started */
	__u64 duration_ns; /* until the response was sent */
	__u16 method;
	__u16 status;	/* enum cell_status the handler ended with */
	__u32 reserved; /* zero */
	__u8 cell[32];	/* the server's name (CELL_NAME_MAX), NUL-padded */
};

/* ---------------------------------------------------------------------- */
/* Handshake (control channel, Unix SOCK_SEQPACKET)                        */
/* ---------------------------------------------------------------------- */

/* Features a peer offers (HELLO) and the server grants (WELCOME). */
#define CELL_FEAT_SHM_MEMFD   0x0001 /* rings in sealed memfds */
#define CELL_FEAT_SHM_MODULE  0x0002 /* rings from /dev/cell */
#define CELL_FEAT_ATTACHMENTS 0x0004 /* large payloads as sealed memfds */
#define CELL_FEAT_CANCEL      0x0008 /* CANCEL frames understood */
#define CELL_FEAT_TRACE	      0x0010 /* requests may carry a trace trailer */
#define CELL_FEAT_ALL	      0x001f

/*
 * Payload of the first frame a client sends (method CELL_METHOD_HELLO,
 * flags REQUEST).  The frame header carries the same fingerprint.
 */
struct cell_hello {
	__u32 magic;	     /* CELL_HELLO_MAGIC */
	__u16 abi_version;   /* CELL_ABI_VERSION */
	__u16 reserved0;     /* zero */
	__u32 features;	     /* CELL_FEAT_* the client can use */
	__u32 max_inflight;  /* calls the client will keep in flight */
	__u64 request_ring;  /* data bytes wanted, power of two; 0: default */
	__u64 response_ring; /* data bytes wanted, power of two; 0: default */
	__u32 fingerprint_lo;
	__u32 fingerprint_hi;
	__u64 reserved1; /* zero */
};

#define CELL_HELLO_MAGIC 0x4f4c4548 /* "HELO" */

/*
 * The server's answer (RESPONSE to HELLO).  When features grant a ring
 * backend, two fds travel with it in SCM_RIGHTS: request ring (client
 * produces) then response ring (client consumes).
 */
struct cell_welcome {
	__u32 magic; /* CELL_WELCOME_MAGIC */
	__u16 abi_version;
	__u16 reserved0;      /* zero */
	__u32 features;	      /* granted: a subset of those offered */
	__u32 max_inflight;   /* calls the server accepts in flight */
	__u64 request_ring;   /* data bytes of the request ring, 0 if none */
	__u64 response_ring;  /* data bytes of the response ring, 0 if none */
	__u32 fingerprint_lo; /* the server's fingerprint */
	__u32 fingerprint_hi;
	__u64 reserved1; /* zero */
};

#define CELL_WELCOME_MAGIC 0x434c4557 /* "WELC" */

/*
 * Hand-over of a server's listening socket (a hot swap: the new process
 * serves the socket clients already know, and the old one drains).  Sent
 * instead of a HELLO as the only frame of a connection: flags REQUEST,
 * method CELL_METHOD_LISTENER, correlation 1, the server's fingerprint,
 * payload struct cell_listener.  The key proves the sender was given the
 * server's: a server has one when it was started with
 * CELL_LISTENER_KEY_FD=N in its environment, N an fd whose first
 * CELL_LISTENER_KEY_SIZE bytes are the key (celld gives each cell's
 * process its own); without one every hand-over is refused.
 *
 * op CELL_LISTENER_GIVE: the answer (RESPONSE, empty payload) carries the
 * server's listening socket in SCM_RIGHTS; the server keeps accepting on
 * it until it drains, and then leaves the backlog and the socket file to
 * the one it gave it to.  op CELL_LISTENER_TAKE: the request carries a
 * listening AF_UNIX SOCK_SEQPACKET socket in SCM_RIGHTS, which the server
 * accepts on from then on, in place of its own.  A refusal is a
 * RESPONSE|ERROR frame (struct cell_error).  The server closes the
 * connection after its answer.
 */
#define CELL_LISTENER_KEY_SIZE 16
#define CELL_LISTENER_GIVE     1
#define CELL_LISTENER_TAKE     2

struct cell_listener {
	__u32 magic;	/* CELL_LISTENER_MAGIC */
	__u16 op;	/* CELL_LISTENER_GIVE or CELL_LISTENER_TAKE */
	__u16 reserved; /* zero */
	__u8 key[CELL_LISTENER_KEY_SIZE];
};

#define CELL_LISTENER_MAGIC 0x4e53494c /* "LISN" */

/* ---------------------------------------------------------------------- */
/* Shared-memory ring                                                      */
/* ---------------------------------------------------------------------- */

/*
 * A ring is one file (a sealed memfd, or a /dev/cell ring fd) laid out in
 * pages of CELL_RING_PAGE bytes:
 *
 *   offset 0                 struct cell_ring_geometry   read-only for both
 *   offset 1 * PAGE          struct cell_ring_producer   written by producer
 *   offset 2 * PAGE          struct cell_ring_consumer   written by consumer
 *   offset 3 * PAGE          data, data_size bytes (a power of two)
 *
 * Each page holds one side's words so no cache line is written by both.
 * Offsets are given in the geometry page; readers use those, not these
 * constants, so a later ABI can move them.
 */
#define CELL_RING_MAGIC	       0x474e5243 /* "CRNG" */
#define CELL_RING_PAGE	       4096
#define CELL_RING_OFF_GEOMETRY 0
#define CELL_RING_OFF_PRODUCER (1 * CELL_RING_PAGE)
#define CELL_RING_OFF_CONSUMER (2 * CELL_RING_PAGE)
#define CELL_RING_OFF_DATA     (3 * CELL_RING_PAGE)
#define CELL_RING_MIN_DATA     (1U << 12) /* 4 KiB */
#define CELL_RING_MAX_DATA     (1U << 30) /* 1 GiB */

/* Geometry flags */
#define CELL_RING_GEOM_MODULE 0x0001 /* memory owned by cell.ko */

struct cell_ring_geometry {
	__u32 magic;	       /* CELL_RING_MAGIC */
	__u16 abi_version;     /* CELL_ABI_VERSION */
	__u16 geometry_size;   /* sizeof(struct cell_ring_geometry) */
	__u32 flags;	       /* CELL_RING_GEOM_* */
	__u32 page_size;       /* CELL_RING_PAGE */
	__u64 data_size;       /* power of two, MIN_DATA..MAX_DATA */
	__u64 producer_offset; /* of struct cell_ring_producer */
	__u64 consumer_offset; /* of struct cell_ring_consumer */
	__u64 data_offset;     /* of the data area */
	__u64 ring_id;	       /* module-wide id (0 on the memfd path) */
	__u64 reserved[8];     /* zero */
};

/*
 * A side's page.  @position counts bytes ever committed (producer: tail) or
 * released (consumer: head) and never wraps in practice (2^64 bytes); it is
 * published with a release store and read with an acquire load.  @wake is
 * the futex word: the side bumps it after moving @position when the other
 * side's @waiting flag is set, then wakes the futex.  @waiting is set by a
 * side before it sleeps on the other side's @wake word.
 */
struct cell_ring_producer {
	__u64 position;	   /* tail: bytes committed */
	__u32 wake;	   /* futex word the consumer sleeps on */
	__u32 waiting;	   /* producer sleeps on consumer's wake (ring full) */
	__u64 reserved[6]; /* zero; pads the hot words to one cache line */
};

struct cell_ring_consumer {
	__u64 position;	   /* head: bytes released */
	__u32 wake;	   /* futex word the producer sleeps on */
	__u32 waiting;	   /* consumer sleeps on producer's wake (ring empty) */
	__u64 reserved[6]; /* zero */
};

/*
 * Records in the data area start at CELL_RING_ALIGN-aligned positions and
 * never straddle the end of the area: when one does not fit, the producer
 * writes a record with len == CELL_RECORD_WRAP at its position and starts
 * the record at the next lap.  @seq is the low 32 bits of the record's own
 * producer position, so a consumer tells a current record from a torn,
 * stale (previous lap) or forged one.  @len counts the bytes that follow
 * the record header (a wire frame: struct cell_hdr + payload); padding to
 * CELL_RING_ALIGN follows them.
 */
struct cell_ring_record {
	__u32 len;
	__u32 seq;
};

#define CELL_RING_ALIGN	 8
#define CELL_RECORD_WRAP 0xffffffffU

/* ---------------------------------------------------------------------- */
/* /dev/cell ioctls                                                        */
/* ---------------------------------------------------------------------- */

/*
 * The module dispatches on _IOC_TYPE and _IOC_NR; the argument's size is its
 * first field, not the size bits of the command, so structures can grow.
 */
#define CELL_IOC_MAGIC 'C'

/* Roles of a ring fd */
#define CELL_ROLE_PRODUCER 1
#define CELL_ROLE_CONSUMER 2

/* Which futex-style word a wait or wake names */
#define CELL_WORD_PRODUCER 1 /* producer page's @wake: data was committed */
#define CELL_WORD_CONSUMER 2 /* consumer page's @wake: space was freed */

/* Flags for struct cell_ring_create */
#define CELL_RING_CREATE_CLOEXEC 0x0001
#define CELL_RING_CREATE_FLAGS	 0x0001

/* On /dev/cell: create a ring; returns a producer fd in @fd. */
struct cell_ring_create {
	__u32 size;	   /* sizeof(struct cell_ring_create) */
	__u32 flags;	   /* CELL_RING_CREATE_* */
	__u64 data_size;   /* power of two, MIN_DATA..MAX_DATA */
	__s32 fd;	   /* out: producer fd */
	__u32 reserved0;   /* zero */
	__u64 ring_id;	   /* out */
	__u64 reserved[2]; /* zero */
};

/* On a producer fd: open the ring's consumer side; returns an fd in @fd. */
struct cell_ring_open {
	__u32 size;	   /* sizeof(struct cell_ring_open) */
	__u32 flags;	   /* CELL_RING_CREATE_CLOEXEC */
	__s32 fd;	   /* out: consumer fd */
	__u32 reserved0;   /* zero */
	__u64 reserved[2]; /* zero */
};

/* Wait flags */
#define CELL_WAIT_ABSOLUTE 0x0001 /* timeout_ns is CLOCK_MONOTONIC time */
#define CELL_WAIT_FLAGS	   0x0001
#define CELL_WAIT_FOREVER  (~(__u64)0)

/*
 * On a ring fd: sleep while the named word equals @expected, until woken,
 * the timeout, a signal (-EINTR) or the death of the other side (-EPIPE).
 * Returns 0 when woken or when the word already differs (-EAGAIN is not
 * used: the caller re-reads the ring either way), -ETIMEDOUT on timeout.
 */
struct cell_ring_wait {
	__u32 size; /* sizeof(struct cell_ring_wait) */
	__u32 word; /* CELL_WORD_* */
	__u32 expected;
	__u32 flags;	  /* CELL_WAIT_* */
	__u64 timeout_ns; /* relative, absolute, or CELL_WAIT_FOREVER */
	__u64 reserved;	  /* zero */
};

/* On a ring fd: wake up to @count sleepers on the named word. */
struct cell_ring_wake {
	__u32 size;	/* sizeof(struct cell_ring_wake) */
	__u32 word;	/* CELL_WORD_* */
	__u32 count;	/* 0 means all */
	__u32 woken;	/* out: sleepers woken */
	__u64 reserved; /* zero */
};

/* On a ring fd: describe it. */
struct cell_ring_info {
	__u32 size;	   /* sizeof(struct cell_ring_info) */
	__u32 role;	   /* out: CELL_ROLE_* of this fd */
	__u64 ring_id;	   /* out */
	__u64 data_size;   /* out */
	__u64 map_size;	   /* out: bytes to map the whole ring */
	__u32 peer_alive;  /* out: 1 while the other side has an open fd */
	__u32 reserved0;   /* zero */
	__u64 reserved[2]; /* zero */
};

/* On /dev/cell: the module's ABI version and features. */
struct cell_version {
	__u32 size;	   /* sizeof(struct cell_version) */
	__u32 abi_version; /* out: CELL_ABI_VERSION */
	__u64 features;	   /* out: reserved for growth, 0 today */
	__u64 reserved[2]; /* zero */
};

#ifndef CELL_UAPI_NO_IOCTL
#define CELL_IOC_VERSION     _IOWR(CELL_IOC_MAGIC, 0x00, struct cell_version)
#define CELL_IOC_RING_CREATE _IOWR(CELL_IOC_MAGIC, 0x01, struct cell_ring_create)
#define CELL_IOC_RING_OPEN   _IOWR(CELL_IOC_MAGIC, 0x02, struct cell_ring_open)
#define CELL_IOC_RING_WAIT   _IOWR(CELL_IOC_MAGIC, 0x03, struct cell_ring_wait)
#define CELL_IOC_RING_WAKE   _IOWR(CELL_IOC_MAGIC, 0x04, struct cell_ring_wake)
#define CELL_IOC_RING_INFO   _IOWR(CELL_IOC_MAGIC, 0x05, struct cell_ring_info)
#endif

/* ---------------------------------------------------------------------- */
/* Discovery datagram ("pheromone"), UDP, little-endian, 256 bytes         */
/* ---------------------------------------------------------------------- */

#define CELL_PHEROMONE_MAGIC	 0x504c4543 /* "CELP" */
#define CELL_PHEROMONE_VERSION	 1
#define CELL_PHEROMONE_PORT	 7946
#define CELL_NAME_MAX		 32 /* bytes, NUL-padded, not terminated */
#define CELL_PHEROMONE_ENDPOINTS 4
#define CELL_PHEROMONE_TTL_MAX	 3600 /* seconds */

/* Endpoint families and transports */
#define CELL_EP_NONE 0
#define CELL_EP_IPV4 1 /* addr[0..3] */
#define CELL_EP_IPV6 2 /* addr[0..15] */
#define CELL_EP_QUIC 1
#define CELL_EP_UDP  2

/* Pheromone flags */
#define CELL_PHEROMONE_F_WITHDRAW 0x01 /* the cell is going away */
#define CELL_PHEROMONE_F_LEADER	  0x02 /* sender leads its Raft group */
#define CELL_PHEROMONE_FLAGS	  0x03

struct cell_endpoint {
	__u8 family;	/* CELL_EP_NONE, IPV4, IPV6 */
	__u8 transport; /* CELL_EP_QUIC, UDP */
	__u16 port;	/* little-endian like every other field */
	__u8 addr[16];	/* network byte order, as the address is written */
};

struct cell_pheromone {
	__u32 magic;	      /* CELL_PHEROMONE_MAGIC */
	__u8 version;	      /* CELL_PHEROMONE_VERSION */
	__u8 flags;	      /* CELL_PHEROMONE_F_* */
	__u8 endpoint_count;  /* 0..CELL_PHEROMONE_ENDPOINTS */
	__u8 reserved0;	      /* zero */
	__u16 ttl;	      /* seconds the advertisement is valid, 1..TTL_MAX */
	__u16 reserved1;      /* zero */
	__u32 sequence;	      /* per sender, increases with every datagram */
	__u32 fingerprint_lo; /* schema fingerprint of the advertised cell */
	__u32 fingerprint_hi;
	__u8 name[CELL_NAME_MAX]; /* [a-z0-9_.@-], NUL-padded */
	struct cell_endpoint endpoints[CELL_PHEROMONE_ENDPOINTS];
	__s32 vivaldi[4];      /* x, y, z, height in microseconds * 16 */
	__u32 reserved2[2];    /* zero */
	__u8 identity_key[32]; /* sender's long-term Ed25519 public key */
	__u8 signature[64];    /* Ed25519 over every byte before this field */
};

#define CELL_PHEROMONE_SIZE 256

/* ---------------------------------------------------------------------- */
/* UART framing (MCU link)                                                 */
/* ---------------------------------------------------------------------- */

/*
 * On a UART a frame is COBS(struct cell_hdr + payload + CRC) followed by a
 * single 0x00 delimiter.  The CRC is CRC-32C (Castagnoli, reflected, init
 * and xorout 0xffffffff) over header and payload, stored little-endian.
 */
#define CELL_UART_DELIMITER 0x00
#define CELL_UART_CRC_SIZE  4

/* ---------------------------------------------------------------------- */
/* Generic netlink family "cell" (introspection of cell.ko)                */
/* ---------------------------------------------------------------------- */

#define CELL_GENL_NAME	       "cell"
#define CELL_GENL_VERSION      1
#define CELL_GENL_MCGRP_EVENTS "events"

enum cell_genl_cmd {
	CELL_CMD_UNSPEC,
	CELL_CMD_RING_GET,	 /* dump: one message per visible ring */
	CELL_CMD_RING_CREATED,	 /* event */
	CELL_CMD_RING_DESTROYED, /* event */
	CELL_CMD_RING_PEER_DEAD, /* event: one side closed its last fd */
	__CELL_CMD_MAX,
};
#define CELL_CMD_MAX (__CELL_CMD_MAX - 1)

enum cell_genl_attr {
	CELL_ATTR_UNSPEC,
	CELL_ATTR_PAD,
	CELL_ATTR_RING_ID,	 /* u64 */
	CELL_ATTR_DATA_SIZE,	 /* u64 */
	CELL_ATTR_PRODUCER_PID,	 /* u32, tgid that created the ring */
	CELL_ATTR_PRODUCER_UID,	 /* u32 */
	CELL_ATTR_CONSUMER_PID,	 /* u32, tgid that opened the consumer side */
	CELL_ATTR_CONSUMER_UID,	 /* u32 */
	CELL_ATTR_HEAD,		 /* u64, consumer position */
	CELL_ATTR_TAIL,		 /* u64, producer position */
	CELL_ATTR_WAITS,	 /* u64, wait ioctls that slept */
	CELL_ATTR_WAKEUPS,	 /* u64, sleepers woken */
	CELL_ATTR_CREATED_NS,	 /* u64, CLOCK_BOOTTIME at creation */
	CELL_ATTR_PRODUCER_OPEN, /* u32, open producer fds */
	CELL_ATTR_CONSUMER_OPEN, /* u32, open consumer fds */
	__CELL_ATTR_MAX,
};
#define CELL_ATTR_MAX (__CELL_ATTR_MAX - 1)

/* ---------------------------------------------------------------------- */
/* Layout checks: a size change here is an ABI break                       */
/* ---------------------------------------------------------------------- */

#ifdef __cplusplus
#define __CELL_ASSERT_SIZE(type, bytes) \
	static_assert(sizeof(struct type) == (bytes), "struct " #type)
/*
 * C++ spells C11's _Static_assert as static_assert; g++ knows only the
 * latter.  Let C files that check these layouts compile as C++ too.
 */
#ifndef _Static_assert
#define _Static_assert static_assert
#endif
#else
#define __CELL_ASSERT_SIZE(type, bytes) \
	_Static_assert(sizeof(struct type) == (bytes), "struct " #type)
#endif

__CELL_ASSERT_SIZE(cell_hdr, CELL_HDR_SIZE);
__CELL_ASSERT_SIZE(cell_error, 8);
__CELL_ASSERT_SIZE(cell_trace_trailer, CELL_TRACE_TRAILER_SIZE);
__CELL_ASSERT_SIZE(cell_metrics_wire, 24);
__CELL_ASSERT_SIZE(cell_metrics_wire_method, 160);
__CELL_ASSERT_SIZE(cell_metrics_wire_bucket, 16);
__CELL_ASSERT_SIZE(cell_metrics_request, 8);
__CELL_ASSERT_SIZE(cell_metrics_wire_gauges, 16);
__CELL_ASSERT_SIZE(cell_spans_wire, 16);
__CELL_ASSERT_SIZE(cell_span_wire, 88);
__CELL_ASSERT_SIZE(cell_hello, 48);
__CELL_ASSERT_SIZE(cell_welcome, 48);
__CELL_ASSERT_SIZE(cell_listener, 24);
__CELL_ASSERT_SIZE(cell_ring_geometry, 120);
__CELL_ASSERT_SIZE(cell_ring_producer, 64);
__CELL_ASSERT_SIZE(cell_ring_consumer, 64);
__CELL_ASSERT_SIZE(cell_ring_record, 8);
__CELL_ASSERT_SIZE(cell_ring_create, 48);
__CELL_ASSERT_SIZE(cell_ring_open, 32);
__CELL_ASSERT_SIZE(cell_ring_wait, 32);
__CELL_ASSERT_SIZE(cell_ring_wake, 24);
__CELL_ASSERT_SIZE(cell_ring_info, 56);
__CELL_ASSERT_SIZE(cell_version, 32);
__CELL_ASSERT_SIZE(cell_endpoint, 20);
__CELL_ASSERT_SIZE(cell_pheromone, CELL_PHEROMONE_SIZE);

#endif /* _UAPI_LINUX_CELL_H */
