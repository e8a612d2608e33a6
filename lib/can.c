// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The CAN-FD transport (cell/can.h).  Segmentation and reassembly are the
 * MCU port's own code (mcu/src/can_seg.c), so both ends of a bus follow
 * one implementation.  Everything read is untrusted: frames for other
 * nodes or from others than the peer are counted and dropped before the
 * reassembler, whose refusals are counted per reason; a reassembled frame
 * must pass the CRC and cell_frame_decode().  Announcements go to a table
 * of 256 entries, one per address: memory is bounded whatever the bus does.
 *
 * Locking: u->lock serialises everything (calls take turns on the bus).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/can.h>
#include <linux/can/raw.h>

#include <cell/can.h>
#include <cell/time.h>

#include "cell_mcu_can.h"
#include "crc32.h"
#include "framed_link.h"
#include "rpc_internal.h"

_Static_assert(CELL_MCU_CAN_E_MAX <= 12, "seg_errors[] of struct cell_can_stats");

#define CAN_CRC 4
#define CAN_PAD 4 /* payload 8-byte aligned in rx_buf */

struct cell_can {
	pthread_mutex_t lock;
	struct cell_can_driver drv;
	int fd; /* of the built-in fd driver, else -1 */
	uint64_t fingerprint;
	uint32_t max_payload;
	uint32_t next_id;
	uint8_t addr, peer, window, prefix;
	uint64_t deadline; /* of the send under way (emit()) */
	int send_err;
	struct cell_can_stats stats;
	struct cell_mcu_can_slot slot;
	struct cell_mcu_can_rx rx;
	uint8_t *rx_buf; /* CAN_PAD + largest frame */
	uint8_t *tx;	 /* largest frame */
	struct cell_can_node nodes[256];
	uint8_t known[256];
	struct cell_framed_io io; /* pipeline, call, send, recv (framed_link.c) */
};

CELL_FRAMED_OP_CHECK(struct cell_can_op);

static enum cell_status send_request(void *t, uint8_t flags, uint16_t method, uint32_t corr,
				     const void *req, uint32_t len, uint64_t deadline);
static enum cell_status recv_frame(void *t, struct cell_hdr *hdr, const uint8_t **payload,
				   uint64_t deadline);

/* ---- the fd driver: one struct canfd_frame per datagram -------------------- */

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r = poll(&pfd, 1, cell_framed_poll_ms(deadline));

	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static int fd_send(void *ctx, uint32_t id, const uint8_t *data, uint8_t len, uint64_t deadline)
{
	struct canfd_frame f = { .can_id = (id & CAN_EFF_MASK) | CAN_EFF_FLAG, .len = len };
	int fd = *(int *)ctx, r;

	memcpy(f.data, data, len);
	for (;;) {
		if (write(fd, &f, sizeof(f)) == (ssize_t)sizeof(f))
			return 0;
		if (errno != EAGAIN && errno != EINTR && errno != ENOBUFS)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r)
			return r;
	}
}

static int fd_recv(void *ctx, uint32_t *id, uint8_t *data, uint8_t *len, uint64_t deadline)
{
	struct canfd_frame f;
	int fd = *(int *)ctx, r;

	for (;;) {
		ssize_t n = read(fd, &f, sizeof(f));

		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			r = wait_fd(fd, POLLIN, deadline);
			if (r)
				return r;
			continue;
		}
		/* Classic or standard-id frames are not Cell's: skip them. */
		if (n != CANFD_MTU || !(f.can_id & CAN_EFF_FLAG) ||
		    (f.can_id & (CAN_RTR_FLAG | CAN_ERR_FLAG)) || f.len > CANFD_MAX_DLEN)
			continue;
		*id = f.can_id & CAN_EFF_MASK;
		*len = f.len;
		memcpy(data, f.data, f.len);
		return 0;
	}
}

/* ---- opening --------------------------------------------------------------- */

static struct cell_can *fail_open(int err, const char *what)
{
	cell_fail(cell_errno_status(err), "can: %s: %s", what, strerror(err));
	errno = err;
	return NULL;
}

struct cell_can *cell_can_open_driver(const struct cell_can_driver *drv,
				      const struct cell_can_opts *opts)
{
	struct cell_can_opts o = { 0 };
	struct cell_can *u;
	size_t frame_max;

	cell_clear_error();
	if (opts && opts->sz >= sizeof(size_t))
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.addr)
		o.addr = 1;
	if (!o.window)
		o.window = CELL_CAN_DEFAULT_WINDOW;
	if (!o.prefix)
		o.prefix = CELL_MCU_CAN_PREFIX;
	if (!o.max_payload)
		o.max_payload = CELL_CAN_DEFAULT_MAX_PAYLOAD;
	if (!drv || !drv->send || !drv->recv || !opts || opts->sz < sizeof(size_t) ||
	    o.addr == 0xff || !o.peer || o.peer == 0xff || o.peer == o.addr || o.prefix > 0x1f ||
	    o.max_payload > CELL_MCU_CAN_MSG_MAX - CELL_HDR_SIZE - CAN_CRC)
		return fail_open(EINVAL, "bad driver or options (peer 1..254, max_payload "
					 "<= 65511)");
	u = calloc(1, sizeof(*u));
	frame_max = CELL_HDR_SIZE + (size_t)o.max_payload + CAN_CRC;
	if (u) {
		u->rx_buf = aligned_alloc(8, (CAN_PAD + frame_max + 7) & ~(size_t)7);
		u->tx = malloc(frame_max);
	}
	if (!u || !u->rx_buf || !u->tx) {
		if (u) {
			free(u->rx_buf);
			free(u->tx);
		}
		free(u);
		return fail_open(ENOMEM, "open");
	}
	u->drv = *drv;
	u->fd = -1;
	u->fingerprint = o.fingerprint;
	u->max_payload = o.max_payload;
	u->addr = o.addr;
	u->peer = o.peer;
	u->window = o.window;
	u->prefix = o.prefix;
	u->slot.buf = u->rx_buf + CAN_PAD;
	u->slot.cap = (uint16_t)frame_max;
	cell_mcu_can_rx_init(&u->rx, &u->slot, 1);
	pthread_mutex_init(&u->lock, NULL);
	u->io = (struct cell_framed_io){ .t = u,
					 .send = send_request,
					 .recv = recv_frame,
					 .lock = &u->lock,
					 .next_id = &u->next_id,
					 .stray = &u->stats.stray,
					 .fingerprint = u->fingerprint,
					 .max_payload = u->max_payload,
					 .window = u->window,
					 .tag = "can",
					 .peer = "node" };
	return u;
}

struct cell_can *cell_can_open_fd(int fd, const struct cell_can_opts *opts)
{
	struct cell_can_driver drv = { .sz = sizeof(drv), .send = fd_send, .recv = fd_recv };
	struct cell_can *u;

	if (fd < 0)
		return fail_open(EBADF, "open_fd");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		int err = errno;

		close(fd);
		return fail_open(err, "O_NONBLOCK");
	}
	u = cell_can_open_driver(&drv, opts);
	if (!u) {
		close(fd);
		return NULL;
	}
	u->fd = fd;
	u->drv.ctx = &u->fd;
	return u;
}

struct cell_can *cell_can_open(const char *ifname, const struct cell_can_opts *opts)
{
	struct sockaddr_can a = { .can_family = AF_CAN };
	struct ifreq ifr = { 0 };
	uint8_t addr = opts && opts->sz >= sizeof(*opts) && opts->addr ? opts->addr : 1;
	uint8_t prefix = opts && opts->sz >= sizeof(*opts) && opts->prefix ? opts->prefix
									   : CELL_MCU_CAN_PREFIX;
	struct can_filter filter[2] = {
		{ .can_id = CAN_EFF_FLAG |
			    CELL_MCU_CAN_ID(prefix, CELL_MCU_CAN_KIND_SEGMENT, addr, 0),
		  .can_mask = CAN_EFF_FLAG | CAN_RTR_FLAG | 0x1fffff00U },
		{ .can_id = CAN_EFF_FLAG | CELL_MCU_CAN_ID(prefix, CELL_MCU_CAN_KIND_ANNOUNCE,
							   CELL_MCU_CAN_BROADCAST, 0),
		  .can_mask = CAN_EFF_FLAG | CAN_RTR_FLAG | 0x1fffff00U },
	};
	int fd, one = 1, err;

	cell_clear_error();
	if (!ifname || strlen(ifname) >= IFNAMSIZ)
		return fail_open(EINVAL, "no interface name");
	fd = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW);
	if (fd < 0)
		return fail_open(errno, "socket(PF_CAN, CAN_RAW)");
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr)) {
		err = errno;
		goto out_close;
	}
	a.can_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFMTU, &ifr)) {
		err = errno;
		goto out_close;
	}
	if (ifr.ifr_mtu != CANFD_MTU) {
		err = EPROTONOSUPPORT; /* a classic CAN interface: no 64-byte frames */
		goto out_close;
	}
	if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, filter, sizeof(filter)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = errno;
		goto out_close;
	}
	return cell_can_open_fd(fd, opts);
out_close:
	close(fd);
	return fail_open(err, ifname);
}

void cell_can_close(struct cell_can *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	else if (u->drv.close)
		u->drv.close(u->drv.ctx);
	pthread_mutex_destroy(&u->lock);
	free(u->rx_buf);
	free(u->tx);
	free(u);
}

void cell_can_get_stats(struct cell_can *u, struct cell_can_stats *st)
{
	pthread_mutex_lock(&u->lock);
	*st = u->stats;
	for (int e = 1; e < CELL_MCU_CAN_E_MAX; e++)
		st->seg_errors[e] = u->rx.errors[e];
	pthread_mutex_unlock(&u->lock);
}

/* ---- sending --------------------------------------------------------------- */

static int emit(void *ctx, const uint8_t *seg, uint8_t len)
{
	struct cell_can *u = ctx;
	int r = u->drv.send(u->drv.ctx,
			    CELL_MCU_CAN_ID(u->prefix, CELL_MCU_CAN_KIND_SEGMENT, u->peer, u->addr),
			    seg, len, u->deadline);

	if (r)
		u->send_err = r;
	else
		u->stats.segments_sent++;
	return r;
}

static enum cell_status send_hdr(struct cell_can *u, struct cell_hdr *hdr, const void *payload,
				 uint32_t len, uint64_t deadline)
{
	size_t n = CELL_HDR_SIZE + (size_t)len;
	uint32_t crc;

	if (len > u->max_payload)
		return cell_fail(CELL_STATUS_TOO_LARGE, "can: frame of %u bytes, %u at most", len,
				 u->max_payload);
	hdr->version = CELL_WIRE_VERSION;
	hdr->len = len;
	cell_hdr_encode(hdr, u->tx);
	if (len)
		memcpy(u->tx + CELL_HDR_SIZE, payload, len);
	crc = cell_crc32(u->tx, n);
	for (int i = 0; i < 4; i++)
		u->tx[n + i] = (uint8_t)(crc >> (8 * i));
	u->deadline = deadline;
	u->send_err = 0;
	if (cell_mcu_can_segment(u->tx, (uint32_t)(n + CAN_CRC), emit, u))
		return cell_fail(u->send_err == -ETIMEDOUT ? CELL_STATUS_DEADLINE_EXCEEDED
							   : CELL_STATUS_UNAVAILABLE,
				 "can: send: %s", strerror(-u->send_err));
	u->stats.frames_sent++;
	return CELL_STATUS_OK;
}

/* struct cell_framed_io's send; @t is the cell_can. */
static enum cell_status send_request(void *t, uint8_t flags, uint16_t method, uint32_t corr,
				     const void *req, uint32_t len, uint64_t deadline)
{
	struct cell_can *u = t;
	struct cell_hdr hdr = { .flags = flags, .method = method, .correlation = corr };

	cell_hdr_set_fingerprint(&hdr, u->fingerprint);
	return send_hdr(u, &hdr, req, len, deadline);
}

/* ---- receiving ------------------------------------------------------------- */

static void take_announce(struct cell_can *u, uint8_t src, const uint8_t *data, uint8_t len)
{
	struct cell_mcu_can_announce a;
	struct cell_can_node *nd = &u->nodes[src];

	if (!src || src == CELL_MCU_CAN_BROADCAST ||
	    cell_mcu_can_announce_decode(data, len, &a) != CELL_MCU_CAN_OK) {
		u->stats.bad_announces++;
		return;
	}
	u->stats.announces++;
	u->known[src] = 1;
	nd->addr = src;
	nd->slots = a.slots;
	nd->max_payload = a.max_payload;
	nd->fingerprint = a.fingerprint;
	nd->seen_ns = cell_now_ns();
	memcpy(nd->name, a.name, sizeof(nd->name));
}

/* The next well-formed frame from the peer; its payload in u->rx_buf. */
/* struct cell_framed_io's recv; @t is the cell_can. */
static enum cell_status recv_frame(void *t, struct cell_hdr *hdr, const uint8_t **payload,
				   uint64_t deadline)
{
	struct cell_can *u = t;
	uint8_t data[CANFD_MAX_DLEN], len;
	uint32_t id;

	for (;;) {
		const uint8_t *f = u->slot.buf;
		size_t n;
		int r = u->drv.recv(u->drv.ctx, &id, data, &len, deadline);

		if (r == -ETIMEDOUT)
			return cell_fail(CELL_STATUS_DEADLINE_EXCEEDED,
					 "can: no answer from node "
					 "%u in time",
					 u->peer);
		if (r)
			return cell_fail(CELL_STATUS_UNAVAILABLE, "can: receive: %s", strerror(-r));
		if (CELL_MCU_CAN_ID_PREFIX(id) == u->prefix &&
		    CELL_MCU_CAN_ID_KIND(id) == CELL_MCU_CAN_KIND_ANNOUNCE &&
		    CELL_MCU_CAN_ID_DST(id) == CELL_MCU_CAN_BROADCAST) {
			take_announce(u, CELL_MCU_CAN_ID_SRC(id), data, len);
			continue;
		}
		if ((id & 0x1fffff00U) !=
			    CELL_MCU_CAN_ID(u->prefix, CELL_MCU_CAN_KIND_SEGMENT, u->addr, 0) ||
		    CELL_MCU_CAN_ID_SRC(id) != u->peer) {
			u->stats.foreign++;
			continue;
		}
		u->stats.segments_received++;
		r = cell_mcu_can_rx_segment(&u->rx, u->peer, data, len);
		if (r < 0)
			u->stats.bad_segments++;
		if (r <= 0)
			continue;
		n = u->slot.total;
		cell_mcu_can_rx_release(&u->rx, 0);
		if (cell_framed_decode(f, n, u->max_payload, hdr, payload)) {
			u->stats.bad_frames++;
			continue;
		}
		u->stats.frames_received++;
		return CELL_STATUS_OK;
	}
}

enum cell_status cell_can_pipeline(struct cell_can *u, struct cell_can_op *ops, unsigned int n,
				   uint64_t deadline)
{
	return cell_framed_pipeline(u ? &u->io : NULL, "can", ops, n, deadline);
}

enum cell_status cell_can_call(struct cell_can *u, uint16_t method, const void *req,
			       uint32_t req_len, void *resp, uint32_t cap, uint32_t *resp_len,
			       uint64_t deadline)
{
	return cell_framed_call(u ? &u->io : NULL, "can", method, req, req_len, resp, cap, resp_len,
				deadline);
}

enum cell_status cell_can_send(struct cell_can *u, uint16_t method, const void *req,
			       uint32_t req_len, uint64_t deadline)
{
	return cell_framed_send(u ? &u->io : NULL, "can", method, req, req_len, deadline);
}

enum cell_status cell_can_send_frame(struct cell_can *u, struct cell_hdr *hdr, const void *payload,
				     uint32_t len, uint64_t deadline)
{
	enum cell_status st;

	if (!u || !hdr)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "can: bad arguments");
	cell_clear_error();
	pthread_mutex_lock(&u->lock);
	st = send_hdr(u, hdr, payload, len, deadline);
	pthread_mutex_unlock(&u->lock);
	return st;
}

enum cell_status cell_can_recv(struct cell_can *u, struct cell_hdr *hdr, void *payload,
			       uint32_t cap, uint64_t deadline)
{
	return cell_framed_recv(u ? &u->io : NULL, "can", hdr, payload, cap, deadline);
}

enum cell_status cell_can_announce(struct cell_can *u, const char *name, uint64_t deadline)
{
	struct cell_mcu_can_announce a = { .fingerprint = u->fingerprint, .slots = 1 };
	uint8_t buf[CANFD_MAX_DLEN], len;
	size_t n = name ? strlen(name) : 0;
	int r;

	a.max_payload = (uint16_t)(u->max_payload > 0xffff ? 0xffff : u->max_payload);
	if (n > CELL_MCU_CAN_NAME_MAX)
		n = 0;
	a.name_len = (uint8_t)n;
	memcpy(a.name, name, n);
	len = cell_mcu_can_announce_encode(&a, buf);
	if (!len)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "can: bad name for an announcement");
	pthread_mutex_lock(&u->lock);
	r = u->drv.send(u->drv.ctx,
			CELL_MCU_CAN_ID(u->prefix, CELL_MCU_CAN_KIND_ANNOUNCE,
					CELL_MCU_CAN_BROADCAST, u->addr),
			buf, len, deadline);
	pthread_mutex_unlock(&u->lock);
	return r ? cell_fail(cell_errno_status(r), "can: announce: %s", strerror(-r))
		 : CELL_STATUS_OK;
}

unsigned int cell_can_nodes(struct cell_can *u, struct cell_can_node *out, unsigned int cap)
{
	unsigned int n = 0;

	pthread_mutex_lock(&u->lock);
	for (unsigned int a = 0; a < 256; a++) {
		if (!u->known[a])
			continue;
		if (n < cap)
			out[n] = u->nodes[a];
		n++;
	}
	pthread_mutex_unlock(&u->lock);
	return n;
}

unsigned int cell_can_discover(struct cell_can *u, uint64_t deadline)
{
	struct cell_hdr hdr;
	const uint8_t *p;

	pthread_mutex_lock(&u->lock);
	while (recv_frame(u, &hdr, &p, deadline) == CELL_STATUS_OK)
		u->stats.stray++;
	pthread_mutex_unlock(&u->lock);
	return cell_can_nodes(u, NULL, 0);
}

/* ---- a local cell in front of the node ------------------------------------- */

struct cell_server *cell_can_serve_as(struct cell_can *u, const char *name, const uint16_t *methods,
				      unsigned int n, const struct cell_server_opts *opts)
{
	if (!u) {
		errno = EINVAL;
		return NULL;
	}
	return cell_framed_serve_as(&u->io, name, methods, n, opts);
}
