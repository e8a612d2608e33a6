// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld's CAN-FD bus listener (issue 20): learns the nodes of CAN buses
 * from their announcements (Documentation/can.rst) and lists each as a
 * registry entry, so that `cell ps` shows it:
 *   name         the announced name
 *   node         "can:<bus>:0x<address>", e.g. "can:vcan0:0x42"
 *   path         "can"; endpoint "can://<bus>/0x<address>"
 *   fingerprint  the announced schema fingerprint; origin CAN (4)
 * An entry goes when its node has not announced for can.ttl seconds, or
 * when the node announces another name.
 *
 * Options (celld -o):
 *   can.ifaces=IF[,IF...]  SocketCAN interfaces (CAN_RAW, CAN-FD frames,
 *                          a kernel filter for announcements), or fd:N: an
 *                          inherited descriptor carrying one struct
 *                          canfd_frame per datagram (a simulated bus, as
 *                          the tests use), listed as bus "fdN".  Unset: off.
 *   can.ttl=SECONDS        default 60.
 * Every frame is foreign bytes: anything but a well-formed announcement of
 * prefix 0x0c to 0xff from a node 1..254 is counted and dropped (the
 * decoder is the MCU port's, mcu/src/can_announce.c, shared with libcell).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/can.h>
#include <linux/can/raw.h>

#include "cell_mcu_can.h"
#include "celld.h"

#define CAN_BUS_MAX  8
#define CAN_BUS_NAME (IFNAMSIZ + 4)

struct can_node {
	uint64_t seen_ns; /* 0: no entry */
	char name[CELL_MCU_CAN_NAME_MAX + 1];
};

struct can_bus {
	struct celld_can *c;
	uv_poll_t poll;
	int fd;
	char name[CAN_BUS_NAME];
	struct can_node node[256];
	uint64_t announces, bad, foreign;
};

struct celld_can {
	struct celld *d;
	uv_timer_t sweep;
	uint64_t ttl_ns;
	int nbus;
	struct can_bus *bus[CAN_BUS_MAX];
};

static struct celld_can *can_state;
static char can_path[] = "can";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void node_id(const struct can_bus *b, unsigned int addr, char *out, size_t cap)
{
	snprintf(out, cap, "can:%s:0x%02x", b->name, addr);
}

static void forget(struct can_bus *b, unsigned int addr)
{
	char node[CELLD_NODE_MAX];

	if (!b->node[addr].seen_ns)
		return;
	node_id(b, addr, node, sizeof(node));
	(void)celld_registry_remove(b->c->d->registry, node, b->node[addr].name);
	b->node[addr].seen_ns = 0;
}

static void learn(struct can_bus *b, unsigned int addr, const struct cell_mcu_can_announce *a)
{
	struct can_node *n = &b->node[addr];
	const struct celld_entry *old;
	struct celld_entry e;
	char endpoint[CELLD_URI_MAX], err[160];
	int rc;

	if (n->seen_ns && strcmp(n->name, a->name))
		forget(b, addr); /* the node took another name */
	memset(&e, 0, sizeof(e));
	memcpy(e.name, a->name, a->name_len); /* NUL-padded, CELL_NAME_MAX = 32 */
	node_id(b, addr, e.node, sizeof(e.node));
	snprintf(endpoint, sizeof(endpoint), "can://%s/0x%02x", b->name, addr);
	e.fingerprint = a->fingerprint;
	e.path = can_path;
	e.endpoints[0] = endpoint;
	e.nendpoints = 1;
	e.health = CELLD_HEALTH_UNKNOWN;
	e.origin = CELLD_ORIGIN_CAN;
	old = celld_registry_find(b->c->d->registry, e.node, a->name);
	if (!n->seen_ns || !old || old->fingerprint != e.fingerprint) {
		rc = celld_registry_add(b->c->d->registry, &e, err, sizeof(err), NULL);
		if (rc) {
			b->bad++;
			celld_log("can %s: node 0x%02x announces '%s': %s", b->name, addr, a->name,
				  err);
			return;
		}
		if (b->c->d->cfg.verbose)
			celld_log("can %s: node 0x%02x is '%s' (fingerprint 0x%016" PRIx64 ")",
				  b->name, addr, a->name, a->fingerprint);
	}
	snprintf(n->name, sizeof(n->name), "%s", a->name);
	n->seen_ns = now_ns();
}

/* One datagram from the bus: an announcement, or counted and dropped. */
static void take_frame(struct can_bus *b, const struct canfd_frame *f, ssize_t n)
{
	struct cell_mcu_can_announce a;
	uint32_t id = f->can_id & CAN_EFF_MASK;
	unsigned int src = CELL_MCU_CAN_ID_SRC(id);

	if (n != (ssize_t)CANFD_MTU || !(f->can_id & CAN_EFF_FLAG) ||
	    (f->can_id & (CAN_RTR_FLAG | CAN_ERR_FLAG)) ||
	    (id & ~0xffU) != CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, CELL_MCU_CAN_KIND_ANNOUNCE,
					     CELL_MCU_CAN_BROADCAST, 0)) {
		b->foreign++;
		return;
	}
	if (!src || src == CELL_MCU_CAN_BROADCAST || f->len > CANFD_MAX_DLEN ||
	    cell_mcu_can_announce_decode(f->data, f->len, &a) != CELL_MCU_CAN_OK) {
		b->bad++;
		if (b->c->d->cfg.verbose)
			celld_log("can %s: malformed announcement from 0x%02x dropped", b->name,
				  src);
		return;
	}
	b->announces++;
	learn(b, src, &a);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct can_bus *b = h->data;
	struct canfd_frame f;
	ssize_t n;

	(void)events;
	if (status < 0) {
		celld_log("can %s: %s; bus closed", b->name, uv_strerror(status));
		uv_poll_stop(h);
		return;
	}
	for (int i = 0; i < 64; i++) { /* then let the loop breathe */
		memset(&f, 0, sizeof(f));
		n = recv(b->fd, &f, sizeof(f), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				celld_log("can %s: %s; bus closed", b->name, strerror(errno));
				uv_poll_stop(h);
			}
			return;
		}
		if (n == 0) {
			celld_log("can %s: bus closed by the other end", b->name);
			uv_poll_stop(h);
			return;
		}
		take_frame(b, &f, n);
	}
}

static void on_sweep(uv_timer_t *t)
{
	struct celld_can *c = t->data;
	uint64_t now = now_ns();

	for (int i = 0; i < c->nbus; i++)
		for (unsigned int a = 0; a < 256; a++)
			if (c->bus[i]->node[a].seen_ns &&
			    now - c->bus[i]->node[a].seen_ns > c->ttl_ns)
				forget(c->bus[i], a);
}

/* A SocketCAN interface, announcements only (the kernel filters). */
static int open_iface(const char *ifname)
{
	struct can_filter flt = {
		.can_id = CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, CELL_MCU_CAN_KIND_ANNOUNCE,
					  CELL_MCU_CAN_BROADCAST, 0) |
			  CAN_EFF_FLAG,
		.can_mask = (CAN_EFF_MASK & ~0xffU) | CAN_EFF_FLAG | CAN_RTR_FLAG,
	};
	struct sockaddr_can sa = { .can_family = AF_CAN };
	struct ifreq ifr;
	int fd, on = 1, e;

	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof(on)) ||
	    setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, &flt, sizeof(flt)) ||
	    ioctl(fd, SIOCGIFINDEX, &ifr))
		goto fail;
	sa.can_ifindex = ifr.ifr_ifindex;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	if (!ioctl(fd, SIOCGIFMTU, &ifr) && ifr.ifr_mtu != CANFD_MTU)
		celld_log("can %s: MTU %d, not CAN-FD (%d): announcements cannot arrive", ifname,
			  ifr.ifr_mtu, (int)CANFD_MTU);
	return fd;
fail:
	e = -errno;
	close(fd);
	return e;
}

static int add_bus(struct celld_can *c, const char *spec, size_t len)
{
	char buf[64], *end;
	struct can_bus *b;
	long v;
	int fd;

	if (!len || len >= sizeof(buf) || c->nbus == CAN_BUS_MAX) {
		celld_log("can.ifaces: '%.*s': an interface name or fd:N expected (at most %d)",
			  (int)len, spec, CAN_BUS_MAX);
		return -EINVAL;
	}
	memcpy(buf, spec, len);
	buf[len] = '\0';
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (!strncmp(buf, "fd:", 3)) {
		errno = 0;
		v = strtol(buf + 3, &end, 10);
		if (errno || end == buf + 3 || *end || v < 0 || v > 65535 ||
		    fcntl((int)v, F_GETFD) < 0) {
			celld_log("can.ifaces: %s: not an open descriptor", buf);
			free(b);
			return -EBADF;
		}
		fd = (int)v;
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		snprintf(b->name, sizeof(b->name), "fd%d", fd);
	} else {
		fd = open_iface(buf);
		if (fd < 0) {
			celld_log("can.ifaces: %s: %s", buf, strerror(-fd));
			free(b);
			return fd;
		}
		snprintf(b->name, sizeof(b->name), "%s", buf);
	}
	b->c = c;
	b->fd = fd;
	if (uv_poll_init(c->d->loop, &b->poll, fd)) {
		close(fd);
		free(b);
		return -EINVAL;
	}
	b->poll.data = b;
	uv_poll_start(&b->poll, UV_READABLE, on_readable);
	c->bus[c->nbus++] = b;
	celld_log("can: listening for announcements on %s", b->name);
	return 0;
}

static void close_bus(uv_handle_t *h)
{
	struct can_bus *b = h->data;

	close(b->fd);
	free(b);
}

static void free_state(uv_handle_t *h)
{
	free(h->data);
}

void celld_can_stop(struct celld *d)
{
	struct celld_can *c = can_state;

	(void)d;
	if (!c)
		return;
	for (int i = 0; i < c->nbus; i++) {
		for (unsigned int a = 0; a < 256; a++)
			forget(c->bus[i], a);
		uv_poll_stop(&c->bus[i]->poll);
		uv_close((uv_handle_t *)&c->bus[i]->poll, close_bus);
	}
	uv_timer_stop(&c->sweep);
	c->sweep.data = c;
	uv_close((uv_handle_t *)&c->sweep, free_state);
	can_state = NULL;
}

int celld_can_start(struct celld *d)
{
	const char *ifaces = celld_option(d, "can.ifaces", NULL), *p, *q;
	const char *ttl = celld_option(d, "can.ttl", "60");
	struct celld_can *c;
	char *end;
	long secs;
	int rc;

	if (!ifaces || !*ifaces)
		return 0;
	errno = 0;
	secs = strtol(ttl, &end, 10);
	if (errno || end == ttl || *end || secs < 1 || secs > 86400) {
		celld_log("can.ttl=%s: seconds 1..86400 expected", ttl);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->d = d;
	c->ttl_ns = (uint64_t)secs * 1000000000u;
	uv_timer_init(d->loop, &c->sweep);
	c->sweep.data = c;
	can_state = c;
	for (p = ifaces;; p = q + 1) {
		q = strchr(p, ',');
		if (!q)
			q = p + strlen(p);
		rc = add_bus(c, p, (size_t)(q - p));
		if (rc) {
			celld_can_stop(d);
			return rc;
		}
		if (!*q)
			break;
	}
	uv_timer_start(&c->sweep, on_sweep, 1000, 1000);
	return 0;
}
