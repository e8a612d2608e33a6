// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * RPC server (cell/rpc.h).
 *
 * Wakeups: one epoll instance (cell_server_fd()) holds the listening
 * socket, a stop eventfd, and one inner epoll fd per connection, armed
 * EPOLLONESHOT so exactly one thread serves a connection at a time.  The
 * inner epoll holds the connection's socket and, on the ring path, its
 * doorbell: an eventfd the client writes only when this side set the
 * request ring's waiting flag before sleeping.  A thread that served
 * requests spins on the request ring for a bounded time before it sleeps,
 * so back-to-back calls cost no system call on either side.
 *
 * Trust: a client is trusted with nothing.  Its HELLO is parsed field by
 * field; its frames are decoded and their fingerprint checked before a
 * handler runs; a ring it scribbled on reports -EBADMSG; a client that
 * stops taking responses blocks a reply for CELL_CHAN_WAIT_NS at most.  Any of
 * these drops that connection only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cell/metrics.h>
#include <cell/trace.h>
#include "cpu_relax.h"
#include "le.h"
#include "opts.h"
#include "ring_module.h"
#include "register.h"
#include "rpc_internal.h"
#include "quic/quic_internal.h"

#define DEFAULT_SPIN_NS	    (50 * CELL_NSEC_PER_USEC)
#define DEFAULT_CONNECTIONS 1024U
/* A connection that has not finished its HELLO by then is dropped. */
#define HANDSHAKE_NS (2 * CELL_NSEC_PER_SEC)
/* A parked connection is looked at this often, and dropped after CELL_CHAN_WAIT_NS. */
#define PARK_POLL_NS	(10 * CELL_NSEC_PER_MSEC)
#define BATCH		64
/*
 * A worker serving a busy memfd connection goes back to epoll after this
 * long (looked at every SLICE_ROUNDS rounds of its loop), so that the
 * other events (accepts, the drain, the timer, other connections) are
 * not starved by clients that keep their rings from ever running dry.
 */
#define SLICE_NS	(1 * CELL_NSEC_PER_MSEC)
#define SLICE_ROUNDS	64
/* A spinning worker looks for other work every this many rounds (a system call). */
#define SPIN_LOOKS	64
#define CANCEL_MEMORY	64
#define DETAIL_MAX	1024U
#define SERVER_FEATURES (CELL_FEAT_ATTACHMENTS | CELL_FEAT_CANCEL | CELL_FEAT_TRACE)
/* cell_server_drain() with a timeout of 0. */
#define DEFAULT_DRAIN_MS 5000U

struct handler {
	cell_handler_fn fn;
	void *ctx;
};

struct conn {
	struct cell_server *srv;
	struct cell_chan ch;
	int epfd;
	int doorbell;
	atomic_bool ready; /* handshake done (read under srv->lock by the timer) */
	uint64_t accepted_at;
	uint8_t *scratch; /* private copies of requests (peer of another uid), or NULL */
	/*
	 * Parked: answers wait in the channel's queue for room, and no request
	 * is taken until they are out.  Since when (0: not parked); read by
	 * the timer under srv->lock.
	 */
	_Atomic uint64_t parked_since;
	bool want_out;	    /* EPOLLOUT asked for on the socket (unix path, parked) */
	unsigned int wakes; /* doorbell wakeups, for looking at the socket now and then */
	bool closing;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int pidfd;	 /* of the process that connected (SO_PEERPIDFD), or -1 */
	uint64_t serial; /* this server's connection number, from 1, never reused */
	atomic_bool told_to_go; /* the drain's GOODBYE was sent to it */
	uint32_t cancelled[CANCEL_MEMORY];
	unsigned int ncancelled;
	struct conn *prev, *next;
	/*
	 * Bumped (release) before the connection is re-armed and read
	 * (acquire) when a thread picks it up: the hand-over between threads
	 * that EPOLLONESHOT already serialises, made visible to the memory
	 * model (and to ThreadSanitizer, which cannot see through epoll).
	 */
	atomic_uint handoff;
};

struct cell_server {
	struct cell_server_opts o;
	enum cell_ring_backend backend;
	bool module_by_name; /* the module was asked for: nothing else will do */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char name[CELL_NAME_MAX]; /* the cell's name, for its spans */
	int lfd, epfd, stopfd;
	int drainfd; /* cell_server_drain() writes it; a worker then starts the drain */
	/* The socket file it bound (0/0: none): only that one is unlinked at the end. */
	dev_t sock_dev;
	ino_t sock_ino;
	int timerfd;		  /* fires when a handshake may have timed out */
	bool timer_armed;	  /* under lock */
	uint64_t timer_due;	  /* under lock: when it fires, if armed */
	struct handler *handlers; /* indexed by method, nhandlers entries */
	unsigned int nhandlers;
	atomic_bool running;
	atomic_bool stopped;
	/*
	 * Draining (cell_server_drain()): no more accepts, every connection told
	 * GOODBYE, served until its client leaves or drain_deadline (ns) passes;
	 * the socket file is left to the successor.  drain_ms is written by
	 * cell_server_drain() before drainfd; the rest by the draining thread.
	 */
	atomic_uint drain_ms;
	atomic_bool draining;
	_Atomic uint64_t drain_deadline;
	pthread_mutex_t lock; /* conns, nconns */
	struct conn *conns;
	unsigned int nconns;
	uint64_t serials; /* connections accepted (under lock) */
	uint64_t spin_ns;
	struct cell_qs *quic; /* UDP listener (lib/quic/), or NULL */
	/*
	 * Listener hand-over (<linux/cell.h> struct cell_listener): the key
	 * from CELL_LISTENER_KEY_FD, if any; whether the listening socket was
	 * given away (then the drain leaves its backlog and the socket file
	 * to the successor); after a TAKE, lfd is the socket given to us and
	 * own_lfd the one we bound (open, no longer served), else -1.  lfd is
	 * replaced under lock and read atomically.
	 */
	uint8_t key[CELL_LISTENER_KEY_SIZE];
	bool has_key;
	atomic_bool handed_over;
	int own_lfd;
};

struct cell_reply {
	struct conn *c;
	/* A remote peer's reply: the transport stores the bytes (lib/quic/). */
	const struct cell_reply_ops *ops;
	void *ops_ctx;
	uint16_t method;
	uint32_t correlation;
	enum {
		REPLY_NONE,
		REPLY_RESERVED,
		REPLY_SENT
	} state;
	int err; /* a send failed: the connection goes */
};

/* ---- helpers ---------------------------------------------------------- */

static bool conn_alive(void *ctx)
{
	struct conn *c = ctx;

	return cell_chan_alive(&c->ch);
}

static void conn_on_control(void *ctx, const struct cell_hdr *hdr)
{
	struct conn *c = ctx;

	if (hdr->flags & CELL_F_CANCEL) {
		c->cancelled[c->ncancelled % CANCEL_MEMORY] = hdr->correlation;
		c->ncancelled++;
	} else if (hdr->method == CELL_METHOD_GOODBYE) {
		c->closing = true;
	}
}

/*
 * The drain's notice to a client (a GOODBYE from the server): finish the
 * calls made here, make new ones on a new connection.  Once per connection;
 * best effort (a client that misses it is served until the drain's deadline).
 */
static void tell_to_go(struct conn *c)
{
	if (atomic_exchange(&c->told_to_go, true))
		return;
	(void)cell_chan_send_control(&c->ch, CELL_F_REQUEST | CELL_F_ONEWAY, CELL_METHOD_GOODBYE,
				     0);
}

static bool was_cancelled(const struct conn *c, uint32_t id)
{
	unsigned int n = c->ncancelled < CANCEL_MEMORY ? c->ncancelled : CANCEL_MEMORY;

	for (unsigned int i = 0; i < n; i++)
		if (c->cancelled[i] == id)
			return true;
	return false;
}

/* An error answer to @method straight on the socket, before the channel exists. */
static void send_raw_answer(int sock, uint64_t fingerprint, uint16_t method, enum cell_status st,
			    const char *detail)
{
	uint8_t buf[CELL_HDR_SIZE + sizeof(struct cell_error) + DETAIL_MAX];
	struct cell_hdr hdr = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_RESPONSE | CELL_F_ERROR,
		.method = method,
		.correlation = 1,
	};
	size_t dlen = strnlen(detail, DETAIL_MAX);
	struct iovec iov = { buf, 0 };

	hdr.len = (uint32_t)cell_error_encode(buf + CELL_HDR_SIZE, sizeof(buf) - CELL_HDR_SIZE,
					      (uint16_t)st, detail, (uint32_t)dlen);
	cell_hdr_set_fingerprint(&hdr, fingerprint);
	cell_hdr_encode(&hdr, buf);
	iov.iov_len = CELL_HDR_SIZE + hdr.len;
	(void)cell_ux_send(sock, &iov, 1, NULL, 0, cell_deadline_in_ms(100));
}

/* An error answer to the HELLO. */
static void send_raw_error(int sock, uint64_t fingerprint, enum cell_status st, const char *detail)
{
	send_raw_answer(sock, fingerprint, CELL_METHOD_HELLO, st, detail);
}

/* ---- connections ------------------------------------------------------ */

static void conn_free(struct conn *c)
{
	struct cell_server *srv = c->srv;
	bool last;

	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->epfd, NULL);
	pthread_mutex_lock(&srv->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	last = !srv->nconns && atomic_load(&srv->draining);
	pthread_mutex_unlock(&srv->lock);
	if (atomic_load(&c->ready))
		cell_metrics_gauge_add(srv->o.metrics, CELL_METRICS_CLIENTS, -1);
	if (last)
		cell_server_stop(srv); /* drained: every client has left */
	cell_chan_fini(&c->ch);
	free(c->scratch);
	if (c->doorbell >= 0)
		close(c->doorbell);
	if (c->pidfd >= 0)
		close(c->pidfd);
	close(c->epfd);
	free(c);
}

static int conn_arm(struct conn *c, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = c };
	int top = c->srv->epfd, fd = c->epfd;

	/* After this, another thread may own @c: touch nothing of it. */
	atomic_fetch_add_explicit(&c->handoff, 1, memory_order_release);
#if defined(__SANITIZE_THREAD__)
	/*
	 * ThreadSanitizer sees the hand-over through epoll for EPOLL_CTL_ADD
	 * only: re-arm by DEL + ADD in that build, same semantics.
	 */
	if (op == EPOLL_CTL_MOD) {
		epoll_ctl(top, EPOLL_CTL_DEL, fd, NULL);
		op = EPOLL_CTL_ADD;
	}
#endif
	return epoll_ctl(top, op, fd, &ev) ? -errno : 0;
}

static int arm_timer(struct cell_server *srv, uint64_t ns)
{
	struct itimerspec its = {
		.it_value.tv_sec = (time_t)(ns / CELL_NSEC_PER_SEC),
		.it_value.tv_nsec = (long)(ns % CELL_NSEC_PER_SEC),
	};

	if (timerfd_settime(srv->timerfd, 0, &its, NULL))
		return -errno;
	srv->timer_due = cell_now_ns() + ns;
	return 0;
}

/* Make the timer fire within @ns (srv->lock held). */
static void timer_within(struct cell_server *srv, uint64_t ns)
{
	if (!srv->timer_armed || srv->timer_due > cell_now_ns() + ns)
		srv->timer_armed = !arm_timer(srv, ns);
}

/*
 * The server's timer.  Handshake deadline: shut down the sockets of
 * connections that did not finish their HELLO within HANDSHAKE_NS.  Parked
 * connections: kicked every PARK_POLL_NS, dropped after CELL_CHAN_WAIT_NS.  Whichever thread serves such a
 * connection next then reads end-of-file and frees it; a socket stays open
 * while its connection is listed, so shutting it down under the lock is
 * safe.  Silent connections thus cannot hold slots and fds for long.
 */
static void expire_handshakes(struct cell_server *srv)
{
	uint64_t now, next = 0, ticks;

	if (read(srv->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&srv->lock);
	now = cell_now_ns();
	if (atomic_load(&srv->draining)) {
		next = atomic_load(&srv->drain_deadline);
		if (now >= next) {
			pthread_mutex_unlock(&srv->lock);
			cell_server_stop(srv); /* clients still here are dropped by the free */
			return;
		}
	}
	for (struct conn *c = srv->conns; c; c = c->next) {
		uint64_t due = c->accepted_at + HANDSHAKE_NS;
		uint64_t parked = atomic_load(&c->parked_since);

		if (parked) {
			/* Drop a client that took no answer for that long... */
			/* (parked after @now was read: it has only just parked) */
			if (now > parked && now - parked >= CELL_CHAN_WAIT_NS) {
				shutdown(c->ch.sock, SHUT_RDWR);
				continue;
			}
			/*
			 * ...and look again now and then: a client that frees
			 * room with a futex wake only (as <linux/cell.h> allows)
			 * does not ring the doorbell.
			 */
			if (c->doorbell >= 0)
				(void)!write(c->doorbell, &(uint64_t){ 1 }, sizeof(uint64_t));
			due = now + PARK_POLL_NS;
		} else if (atomic_load(&c->ready)) {
			continue;
		} else if (due <= now) {
			shutdown(c->ch.sock, SHUT_RDWR);
			continue;
		}
		if (!next || due < next)
			next = due;
	}
	srv->timer_armed = next && !arm_timer(srv, next - now);
	pthread_mutex_unlock(&srv->lock);
}

static void accept_one(struct cell_server *srv, int sock)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct conn *c = calloc(1, sizeof(*c));

	if (!c || cell_chan_init(&c->ch, sock, srv->o.fingerprint)) {
		free(c);
		close(sock);
		return;
	}
	c->srv = srv;
	c->doorbell = -1;
	c->pidfd = -1;
	c->ch.queue_mode = true; /* a reply never waits for a slow client */
	c->ch.on_control = conn_on_control;
	c->ch.control_ctx = c;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = sock;
	if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, sock, &ev)) {
		if (c->epfd >= 0)
			close(c->epfd);
		cell_chan_fini(&c->ch);
		free(c);
		return;
	}
	c->accepted_at = cell_now_ns();
	pthread_mutex_lock(&srv->lock);
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	srv->nconns++;
	c->serial = ++srv->serials;
	if (!srv->timer_armed)
		srv->timer_armed = !arm_timer(srv, HANDSHAKE_NS);
	pthread_mutex_unlock(&srv->lock);
	if (conn_arm(c, EPOLL_CTL_ADD))
		conn_free(c);
}

static void accept_all(struct cell_server *srv)
{
	for (;;) {
		int sock = accept4(__atomic_load_n(&srv->lfd, __ATOMIC_ACQUIRE), NULL, NULL,
				   SOCK_CLOEXEC | SOCK_NONBLOCK);
		unsigned int n;

		if (sock < 0)
			return;
		pthread_mutex_lock(&srv->lock);
		n = srv->nconns;
		pthread_mutex_unlock(&srv->lock);
		if (n >= srv->o.max_connections) {
			send_raw_error(sock, srv->o.fingerprint, CELL_STATUS_RESOURCE_EXHAUSTED,
				       "server full");
			close(sock);
			continue;
		}
		accept_one(srv, sock);
	}
}

static uint64_t grant_ring(uint64_t asked, uint64_t max)
{
	uint64_t n = asked ? asked : CELL_RPC_DEFAULT_RING;

	return n > max ? max : n;
}

/*
 * A ring of @size bytes for this side in @r (as @role) and its other end
 * in *@peer_fd, to be sent: one memfd for both sides, or a /dev/cell pair
 * (one fd per role).  *@peer_fd is ours to close after sending when it is
 * not r->fd.
 */
static int make_ring(struct cell_ring *r, int role, uint64_t size, bool module, int *peer_fd)
{
	int pair[2], mine, theirs, err;

	if (module) {
		err = cell_ring_module_pair(size, pair);
		if (err)
			return err;
		mine = role == CELL_ROLE_PRODUCER ? pair[0] : pair[1];
		theirs = role == CELL_ROLE_PRODUCER ? pair[1] : pair[0];
	} else {
		mine = cell_ring_create_memfd(size);
		if (mine < 0)
			return mine;
		theirs = -1;
	}
	err = cell_ring_attach(r, mine, role, size);
	if (err) {
		close(mine);
		if (theirs >= 0)
			close(theirs);
		return err;
	}
	*peer_fd = theirs >= 0 ? theirs : r->fd;
	return 0;
}

static int setup_rings(struct conn *c, const struct cell_hs *hello, struct cell_hs *welcome,
		       bool module, int fds[CELL_HS_MAX_FDS])
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	welcome->request_ring = grant_ring(hello->request_ring, c->srv->o.max_ring);
	welcome->response_ring = grant_ring(hello->response_ring, c->srv->o.max_ring);
	err = make_ring(&c->ch.rx, CELL_ROLE_CONSUMER, welcome->request_ring, module, &fds[0]);
	if (err)
		return err;
	c->ch.rx.lazy_release = true; /* the client waits for room, never polls */
	err = make_ring(&c->ch.tx, CELL_ROLE_PRODUCER, welcome->response_ring, module, &fds[1]);
	if (err) {
		if (module)
			close(fds[0]);
		return err;
	}
	c->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.data.fd = c->doorbell;
	if (c->doorbell < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->doorbell, &ev))
		err = -errno;
	if (err && module) {
		close(fds[0]);
		close(fds[1]);
	}
	if (err)
		return err;
	fds[2] = c->doorbell;
	return 0;
}

/* opts.authorize, or by default: root and our own uid. */
static bool may_connect(const struct conn *c)
{
	const struct cell_server *srv = c->srv;

	return srv->o.authorize ? srv->o.authorize(c->pid, c->uid, c->gid, srv->o.authorize_ctx)
				: c->uid == geteuid() || c->uid == 0;
}

/* Whether @key is the server's (in constant time). */
static bool key_matches(const struct cell_server *srv, const uint8_t *key)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < CELL_LISTENER_KEY_SIZE; i++)
		diff |= (uint8_t)(key[i] ^ srv->key[i]);
	return srv->has_key && !diff;
}

/*
 * TAKE: serve on @fd (checked as opts.listen_fd is, but bound anywhere: a
 * key holder hands it in) instead of our own socket, kept open unserved.
 * Once only, and not while draining.  Return: CELL_STATUS_OK or why not.
 */
static enum cell_status take_listener(struct cell_server *srv, int fd, const char **why)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv->lfd };
	enum cell_status st = CELL_STATUS_OK;
	int type = 0, acc = 0, fl;
	socklen_t olen = sizeof(type);

	if (fd < 0)
		return *why = "TAKE carries no socket", CELL_STATUS_BAD_MESSAGE;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) || type != SOCK_SEQPACKET)
		return *why = "not a SOCK_SEQPACKET socket", CELL_STATUS_INVALID_ARGUMENT;
	olen = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &olen) || !acc)
		return *why = "not a listening socket", CELL_STATUS_INVALID_ARGUMENT;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return *why = "fcntl failed", CELL_STATUS_INTERNAL;
	pthread_mutex_lock(&srv->lock);
	if (atomic_load(&srv->draining)) {
		st = CELL_STATUS_UNAVAILABLE;
		*why = "draining";
	} else if (srv->own_lfd >= 0) {
		st = CELL_STATUS_UNAVAILABLE;
		*why = "it took a listening socket already";
	} else if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		st = CELL_STATUS_INTERNAL;
		*why = "epoll_ctl failed";
	} else {
		epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->lfd, NULL);
		srv->own_lfd = srv->lfd;
		__atomic_store_n(&srv->lfd, fd, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&srv->lock);
	return st;
}

/*
 * A LISTENER request as the connection's first frame (in place of a
 * HELLO), with @fd if one came with it (ours to close).  Answered on the
 * socket; the connection then goes (<0).
 */
static int listener_request(struct conn *c, const uint8_t *frame, size_t n, int fd)
{
	struct cell_server *srv = c->srv;
	uint8_t buf[CELL_HDR_SIZE];
	struct cell_hdr hdr = {
		.version = CELL_WIRE_VERSION,
		.flags = CELL_F_RESPONSE,
		.method = CELL_METHOD_LISTENER,
		.correlation = 1,
	};
	struct iovec iov = { buf, sizeof(buf) };
	struct cell_listener_req req;
	const char *why = NULL;
	enum cell_status st;
	int lfd;

	st = cell_listener_parse(frame, n, &req, &why);
	if (st == CELL_STATUS_OK && req.fingerprint != srv->o.fingerprint)
		st = CELL_STATUS_FINGERPRINT_MISMATCH, why = "fingerprint mismatch";
	if (st == CELL_STATUS_OK && req.op == CELL_LISTENER_GIVE && fd >= 0)
		st = CELL_STATUS_BAD_MESSAGE, why = "GIVE carries no fd";
	if (st == CELL_STATUS_OK &&
	    (cell_ux_peercred(c->ch.sock, &c->pid, &c->uid, &c->gid) || !may_connect(c)))
		st = CELL_STATUS_PERMISSION_DENIED, why = "this uid may not connect";
	if (st == CELL_STATUS_OK && !key_matches(srv, req.key))
		st = CELL_STATUS_PERMISSION_DENIED,
		why = srv->has_key ? "wrong key" : "no key (CELL_LISTENER_KEY_FD)";
	if (st == CELL_STATUS_OK && req.op == CELL_LISTENER_TAKE) {
		st = take_listener(srv, fd, &why);
		if (st == CELL_STATUS_OK)
			fd = -1; /* ours now */
	}
	if (fd >= 0)
		close(fd);
	if (st != CELL_STATUS_OK) {
		send_raw_answer(c->ch.sock, srv->o.fingerprint, CELL_METHOD_LISTENER, st, why);
		return -EPROTO;
	}
	lfd = __atomic_load_n(&srv->lfd, __ATOMIC_ACQUIRE);
	if (req.op == CELL_LISTENER_GIVE)
		atomic_store(&srv->handed_over, true); /* before it can be used elsewhere */
	cell_hdr_set_fingerprint(&hdr, srv->o.fingerprint);
	cell_hdr_encode(&hdr, buf);
	(void)cell_ux_send(c->ch.sock, &iov, 1, &lfd, req.op == CELL_LISTENER_GIVE ? 1 : 0,
			   cell_deadline_in_ms(1000));
	return -ECONNRESET;
}

/* Read and answer the HELLO.  1: done, 0: not yet, <0: drop. */
static int handshake(struct conn *c)
{
	struct cell_server *srv = c->srv;
	uint8_t buf[CELL_HS_FRAME_SIZE + 64], frame[CELL_HS_FRAME_SIZE];
	struct cell_hs hello, welcome = { 0 };
	int fds[CELL_HS_MAX_FDS], nfds = 0;
	char detail[160];
	const char *why;
	enum cell_status st;
	struct iovec iov = { frame, sizeof(frame) };
	ssize_t n;
	bool module, memfd;
	int err;

	n = cell_ux_recv(c->ch.sock, buf, sizeof(buf), fds, 1, &nfds);
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return (int)n;
	if (cell_listener_frame(buf, (size_t)n))
		return listener_request(c, buf, (size_t)n, nfds ? fds[0] : -1);
	if (nfds)
		close(fds[0]); /* a HELLO comes alone */
	nfds = 0;
	st = cell_hs_parse_hello(buf, (size_t)n, &hello, &why);
	if (st != CELL_STATUS_OK) {
		send_raw_error(c->ch.sock, srv->o.fingerprint, st, why);
		return -EPROTO;
	}
	if (hello.fingerprint != srv->o.fingerprint) {
		snprintf(detail, sizeof(detail),
			 "fingerprint mismatch: client 0x%016llx, server 0x%016llx",
			 (unsigned long long)hello.fingerprint,
			 (unsigned long long)srv->o.fingerprint);
		send_raw_error(c->ch.sock, srv->o.fingerprint, CELL_STATUS_FINGERPRINT_MISMATCH,
			       detail);
		return -EPROTO;
	}
	err = cell_ux_peercred(c->ch.sock, &c->pid, &c->uid, &c->gid);
	if (err)
		return err;
	c->pidfd = cell_ux_peerpidfd(c->ch.sock);
	if (!may_connect(c)) {
		snprintf(detail, sizeof(detail), "uid %u may not connect", (unsigned int)c->uid);
		send_raw_error(c->ch.sock, srv->o.fingerprint, CELL_STATUS_PERMISSION_DENIED,
			       detail);
		return -EACCES;
	}
	welcome.fingerprint = srv->o.fingerprint;
	welcome.max_inflight = hello.max_inflight < srv->o.max_inflight ? hello.max_inflight
									: srv->o.max_inflight;
	welcome.features = hello.features & SERVER_FEATURES;
	module = srv->backend == CELL_RING_BACKEND_MODULE &&
		 (hello.features & CELL_FEAT_SHM_MODULE);
	/* The module named explicitly: its rings or none (the unix path). */
	memfd = !module && (hello.features & CELL_FEAT_SHM_MEMFD) &&
		(srv->backend == CELL_RING_BACKEND_MEMFD ||
		 (srv->backend == CELL_RING_BACKEND_MODULE && !srv->module_by_name));
	if (module || memfd) {
		err = setup_rings(c, &hello, &welcome, module, fds);
		if (err) {
			send_raw_error(c->ch.sock, srv->o.fingerprint, cell_errno_status(err),
				       "cannot create the rings");
			return err;
		}
		welcome.features |= module ? CELL_FEAT_SHM_MODULE : CELL_FEAT_SHM_MEMFD;
		nfds = 3;
		c->ch.shm = true;
		/*
		 * A peer of another uid could rewrite a request in the ring
		 * after it was validated: its requests are copied into private
		 * memory first.  A peer of our own uid could already write to
		 * our memory (ptrace, /proc/pid/mem), so it reads in place.
		 */
		if (c->uid != geteuid()) {
			c->scratch = aligned_alloc(8, CELL_RING_RECORD_MAX(c->ch.rx.size));
			if (!c->scratch) {
				if (module) {
					close(fds[0]);
					close(fds[1]);
				}
				return -ENOMEM;
			}
		}
	}
	c->ch.attachments = welcome.features & CELL_FEAT_ATTACHMENTS;
	c->ch.trace = welcome.features & CELL_FEAT_TRACE;
	err = cell_chan_set_inflight(&c->ch, welcome.max_inflight);
	if (err)
		return err;
	cell_hs_encode_welcome(&welcome, frame);
	err = cell_ux_send(c->ch.sock, &iov, 1, fds, nfds, cell_deadline_in_ms(1000));
	if (module) {
		/* The client's ends of /dev/cell pairs are not ours to keep. */
		close(fds[0]);
		close(fds[1]);
	}
	if (err)
		return err;
	atomic_store(&c->ready, true); /* seq_cst: the other half of begin_drain()'s pair */
	cell_metrics_gauge_add(srv->o.metrics, CELL_METRICS_CLIENTS, 1);
	if (atomic_load(&c->srv->draining))
		tell_to_go(c);
	return 1;
}

/* ---- replies ---------------------------------------------------------- */

void *cell_reply_reserve(struct cell_reply *reply, uint32_t len)
{
	void *p;

	if (!reply || reply->state != REPLY_NONE) {
		errno = EBUSY;
		return NULL;
	}
	if (len > CELL_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return NULL;
	}
	p = reply->ops ? reply->ops->reserve(reply->ops_ctx, len)
		       : cell_chan_tx_begin(&reply->c->ch, len, 0, conn_alive, reply->c);
	if (!p) {
		reply->err = -errno;
		return NULL;
	}
	reply->state = REPLY_RESERVED;
	return p;
}

int cell_reply_commit(struct cell_reply *reply, uint32_t len)
{
	struct cell_hdr hdr = { .flags = CELL_F_RESPONSE };
	int err;

	if (!reply || reply->state != REPLY_RESERVED)
		return -EINVAL;
	hdr.method = reply->method;
	hdr.correlation = reply->correlation;
	if (reply->ops)
		err = reply->ops->commit(reply->ops_ctx, &hdr, len);
	else
		err = cell_chan_tx_commit(&reply->c->ch, &hdr, len, 0, conn_alive, reply->c);
	if (err == -EINVAL)
		return err;
	reply->state = REPLY_SENT;
	if (err)
		reply->err = err;
	return err;
}

int cell_reply_send(struct cell_reply *reply, const void *data, uint32_t len)
{
	void *p = cell_reply_reserve(reply, len);

	if (!p)
		return -errno;
	if (len)
		memcpy(p, data, len);
	return cell_reply_commit(reply, len);
}

int cell_reply_error(struct cell_reply *reply, enum cell_status status, const char *detail)
{
	uint8_t buf[sizeof(struct cell_error) + DETAIL_MAX];
	struct cell_hdr hdr = { .flags = CELL_F_RESPONSE | CELL_F_ERROR };
	size_t dlen = detail ? strnlen(detail, DETAIL_MAX) : 0;
	uint32_t len;
	int err;

	if (!reply || status == CELL_STATUS_OK || status >= CELL_STATUS_MAX)
		return -EINVAL;
	if (reply->state == REPLY_SENT)
		return -EBUSY;
	if (reply->state == REPLY_RESERVED && reply->ops)
		reply->ops->abort(reply->ops_ctx);
	else if (reply->state == REPLY_RESERVED)
		cell_chan_tx_abort(&reply->c->ch);
	hdr.method = reply->method;
	hdr.correlation = reply->correlation;
	if (status == CELL_STATUS_NOT_LEADER && dlen)
		hdr.flags |= CELL_F_LEADER_HINT; /* the detail names the leader */
	len = (uint32_t)cell_error_encode(buf, sizeof(buf), (uint16_t)status, detail,
					  (uint32_t)dlen);
	if (reply->ops)
		err = reply->ops->send(reply->ops_ctx, &hdr, buf, len);
	else
		err = cell_chan_send(&reply->c->ch, &hdr, buf, len, 0, conn_alive, reply->c);
	reply->state = REPLY_SENT;
	if (err)
		reply->err = err;
	return err;
}

/* ---- requests --------------------------------------------------------- */

/*
 * METRICS: the server's snapshot, encoded in place in the response; with
 * the gauges (version 2) only for a request that asks for them.
 */
static enum cell_status answer_metrics(struct cell_server *srv, const struct cell_vesicle *v,
				       struct cell_reply *reply)
{
	struct cell_metrics_snapshot *snap;
	enum cell_status st = CELL_STATUS_OK;
	const uint8_t *req = v->data;
	unsigned int flags = CELL_METRICS_SNAPSHOT_NO_GAUGES;
	size_t need;
	void *p;

	if (!srv->o.metrics)
		return cell_reply_error(reply, CELL_STATUS_NOT_FOUND,
					"this server keeps no metrics")
			       ? CELL_STATUS_INTERNAL
			       : CELL_STATUS_NOT_FOUND;
	if (v->len && (v->len != sizeof(struct cell_metrics_request) || cell_get_le32(req + 4)))
		return cell_reply_error(reply, CELL_STATUS_INVALID_ARGUMENT,
					"METRICS takes nothing or an 8-byte version request")
			       ? CELL_STATUS_INTERNAL
			       : CELL_STATUS_INVALID_ARGUMENT;
	if (v->len && cell_get_le32(req) >= CELL_METRICS_WIRE_VERSION_GAUGES)
		flags = 0;
	snap = cell_metrics_snapshot(srv->o.metrics, flags);
	if (!snap)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	need = cell_metrics_wire_size(snap);
	p = need <= CELL_MAX_PAYLOAD ? cell_reply_reserve(reply, (uint32_t)need) : NULL;
	if (!p || cell_metrics_encode(snap, p, need) != need ||
	    cell_reply_commit(reply, (uint32_t)need))
		st = CELL_STATUS_RESOURCE_EXHAUSTED;
	cell_metrics_snapshot_free(snap);
	return st;
}

/* SPANS: this cell's spans from the process's ring, all or of one trace. */
static enum cell_status answer_spans(struct cell_server *srv, const struct cell_vesicle *v,
				     struct cell_reply *reply)
{
	size_t cap = CELL_TRACE_RING_MAX, n;
	struct cell_span *spans;
	uint64_t dropped;
	enum cell_status st = CELL_STATUS_OK;
	void *p;

	if (v->len != 0 && v->len != 16)
		return cell_reply_error(reply, CELL_STATUS_INVALID_ARGUMENT,
					"SPANS takes nothing or a 16-byte trace id")
			       ? CELL_STATUS_INTERNAL
			       : CELL_STATUS_INVALID_ARGUMENT;
	n = cell_spans_collect(NULL, 0, v->len ? v->data : NULL, srv->name, NULL);
	cap = n < cap ? n : cap;
	spans = calloc(cap ? cap : 1, sizeof(*spans));
	if (!spans)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	n = cell_spans_collect(spans, cap, v->len ? v->data : NULL, srv->name, &dropped);
	n = n < cap ? n : cap;
	p = cell_reply_reserve(reply, (uint32_t)cell_spans_wire_size(n));
	if (!p ||
	    !cell_spans_encode(spans, n, dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped, p,
			       cell_spans_wire_size(n)) ||
	    cell_reply_commit(reply, (uint32_t)cell_spans_wire_size(n)))
		st = CELL_STATUS_RESOURCE_EXHAUSTED;
	free(spans);
	return st;
}

static enum cell_status control_call(struct cell_server *srv, const struct cell_vesicle *v,
				     struct cell_reply *reply)
{
	const char *schema = srv->o.schema;

	if (v->method == CELL_METHOD_PING)
		return CELL_STATUS_OK;
	if (v->method == CELL_METHOD_SCHEMA && reply) {
		if (!schema)
			return CELL_STATUS_NOT_FOUND;
		return cell_reply_send(reply, schema, (uint32_t)strlen(schema))
			       ? CELL_STATUS_INTERNAL
			       : CELL_STATUS_OK;
	}
	if (v->method == CELL_METHOD_METRICS && reply)
		return answer_metrics(srv, v, reply);
	if (v->method == CELL_METHOD_SPANS && reply)
		return answer_spans(srv, v, reply);
	return CELL_STATUS_UNKNOWN_METHOD;
}

/*
 * The answer a handler left unsent: empty OK, or an error with its status.
 * A failure to send is kept in reply->err (the connection goes).
 */
static void answer_for(struct cell_reply *reply, enum cell_status st)
{
	int err;

	if (st == CELL_STATUS_OK && reply->state == REPLY_NONE)
		err = cell_reply_send(reply, NULL, 0);
	else if (st == CELL_STATUS_OK)
		err = cell_reply_error(reply, CELL_STATUS_INTERNAL,
				       "handler reserved a response and did not commit it");
	else
		err = cell_reply_error(reply, st < CELL_STATUS_MAX ? st : CELL_STATUS_INTERNAL,
				       NULL);
	if (err && !reply->err)
		reply->err = err;
}

/*
 * A traced request: the handler's thread carries {trace, new span} while
 * it runs, so its own calls are children of this span.  Sampled, the span
 * is timed and recorded; unsampled (a peer may send such a context;
 * libcell clients do not), it is only carried on.
 */
struct span_scope {
	struct cell_trace_tls was; /* the thread's context before */
	struct cell_span span;
};

static void span_enter(struct span_scope *sc, const struct cell_rx *rx)
{
	sc->was = cell_trace_tls;
	memcpy(sc->span.parent_id, rx->trace.span_id, sizeof(sc->span.parent_id));
	/* The span id is made when the handler reads the context, or at the end. */
	memset(sc->span.span_id, 0, sizeof(sc->span.span_id));
	cell_trace_tls.ctx = rx->trace;
	cell_trace_tls.active = true;
	cell_trace_tls.span_lazy = true;
	cell_trace_tls.span_out = sc->span.span_id;
	if (rx->trace.flags & CELL_TRACE_F_SAMPLED)
		sc->span.start_ns = cell_span_clock(); /* ticks, converted when read */
}

static void span_leave(struct span_scope *sc, const struct cell_rx *rx, const char *cell,
		       enum cell_status st)
{
	static const uint8_t none[sizeof(sc->span.span_id)];

	cell_trace_tls = sc->was;
	if (!(rx->trace.flags & CELL_TRACE_F_SAMPLED))
		return;
	sc->span.duration_ns = cell_span_clock() - sc->span.start_ns;
	if (!memcmp(sc->span.span_id, none, sizeof(none))) /* nobody asked for it */
		cell_trace_span_id(sc->span.span_id);
	memcpy(sc->span.trace_id, rx->trace.trace_id, sizeof(sc->span.trace_id));
	sc->span.method = rx->hdr.method;
	sc->span.status = st < CELL_STATUS_MAX ? (uint16_t)st : CELL_STATUS_INTERNAL;
	memcpy(sc->span.cell, cell, CELL_NAME_MAX);
	cell_span_record_raw(&sc->span);
}

/* The admission check (cell_server_opts.admit), then the handler. */
static enum cell_status call(struct cell_server *srv, const struct cell_vesicle *v,
			     struct cell_reply *reply)
{
	if (srv->o.admit) {
		char why[DETAIL_MAX];
		enum cell_status st;

		why[0] = '\0';
		st = srv->o.admit(v, why, sizeof(why), srv->o.admit_ctx);
		if (st != CELL_STATUS_OK) {
			if (reply && cell_reply_error(reply, st, why[0] ? why : NULL))
				return CELL_STATUS_INTERNAL;
			return st;
		}
	}
	if (v->method >= CELL_METHOD_CONTROL_BASE)
		return control_call(srv, v, reply);
	if (v->method < srv->nhandlers && srv->handlers[v->method].fn)
		return srv->handlers[v->method].fn(v, reply, srv->handlers[v->method].ctx);
	return CELL_STATUS_UNKNOWN_METHOD;
}

/* The in-flight gauge counts the schema's calls: Cell's own (METRICS...) are no load. */
static void inflight_add(struct cell_server *srv, uint16_t method, int64_t delta)
{
	if (method < CELL_METHOD_CONTROL_BASE)
		cell_metrics_gauge_add(srv->o.metrics, CELL_METRICS_INFLIGHT, delta);
}

/* Handle one request; <0 if the connection must go. */
static int handle(struct conn *c, struct cell_rx *rx)
{
	struct cell_server *srv = c->srv;
	bool oneway = rx->hdr.flags & CELL_F_ONEWAY;
	struct cell_reply reply = {
		.c = c,
		.method = rx->hdr.method,
		.correlation = rx->hdr.correlation,
	};
	struct cell_vesicle v = {
		.method = rx->hdr.method,
		.flags = rx->hdr.flags,
		.correlation = rx->hdr.correlation,
		.data = rx->data,
		.len = rx->len,
		.peer_pid = c->pid,
		.peer_uid = c->uid,
		.peer_gid = c->gid,
		.peer_conn = c->serial,
		.peer_pidfd = c->pidfd,
	};
	uint64_t t0 = srv->o.metrics ? cell_now_ns() : 0;
	bool traced = rx->traced;
	struct span_scope sc;
	enum cell_status st;

	if ((rx->hdr.flags & CELL_F_KIND_MASK) != CELL_F_REQUEST) {
		cell_chan_rx_done(&c->ch, rx);
		return -EBADMSG;
	}
	if (c->scratch && rx->ring_end && rx->att.fd < 0 && rx->len) {
		/* Attachments are sealed: read in place; ring frames are copied. */
		memcpy(c->scratch, rx->data, rx->len); /* read the peer's bytes once */
		v.data = c->scratch;
	}
	if (c->ncancelled && !oneway && was_cancelled(c, v.correlation)) {
		cell_chan_rx_done(&c->ch, rx);
		return 0;
	}
	if (traced)
		span_enter(&sc, rx);
	if (srv->o.metrics)
		inflight_add(srv, v.method, 1);
	st = call(srv, &v, oneway ? NULL : &reply);
	if (srv->o.metrics)
		inflight_add(srv, v.method, -1);
	cell_chan_rx_done(&c->ch, rx);
	if (!oneway && reply.state != REPLY_SENT)
		answer_for(&reply, st);
	if (traced) /* rx's bytes are given back; its header and trace stay */
		span_leave(&sc, rx, srv->name, st);
	if (srv->o.metrics)
		cell_metrics_record(srv->o.metrics, v.method, st, cell_now_ns() - t0);
	return reply.err;
}

enum cell_status cell_server_serve_remote(struct cell_server *srv, const struct cell_vesicle *v,
					  const struct cell_reply_ops *ops, void *ctx)
{
	struct cell_reply reply = {
		.method = v->method,
		.correlation = v->correlation,
		.ops = ops,
		.ops_ctx = ctx,
	};
	uint64_t t0 = srv->o.metrics ? cell_now_ns() : 0;
	enum cell_status st;

	inflight_add(srv, v->method, 1);
	st = call(srv, v, ops ? &reply : NULL);
	inflight_add(srv, v->method, -1);
	if (ops && reply.state != REPLY_SENT)
		answer_for(&reply, st);
	if (srv->o.metrics)
		cell_metrics_record(srv->o.metrics, v->method, st, cell_now_ns() - t0);
	return st;
}

static int set_sock_events(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = c->ch.sock };

	return epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->ch.sock, &ev) ? -errno : 0;
}

/*
 * Answers are queued for want of room: take no more requests until they
 * are out, and sleep until the client frees room (the doorbell on the ring
 * path, EPOLLOUT on the unix path, the timer in any case).  A handler
 * thread never waits for a client.  Return: true if parked, false if room
 * came meanwhile.
 */
static bool park(struct conn *c)
{
	const struct cell_qframe *q = c->ch.q_head;
	uint64_t none = 0;

	/* A client waiting for request room must see what was released. */
	if (c->ch.shm)
		cell_ring_flush(&c->ch.rx);
	if (q->to_ring) {
		if (!cell_ring_prepare_sleep_room(&c->ch.tx, q->n))
			return false;
	} else if (!c->want_out) {
		if (set_sock_events(c, EPOLLIN | EPOLLRDHUP | EPOLLOUT))
			return false;
		c->want_out = true;
	}
	if (atomic_compare_exchange_strong(&c->parked_since, &none, cell_now_ns())) {
		pthread_mutex_lock(&c->srv->lock);
		timer_within(c->srv, PARK_POLL_NS);
		pthread_mutex_unlock(&c->srv->lock);
	}
	return true;
}

/* Move queued answers out.  0: all out, 1: parked, <0: drop the connection. */
static int drain_queue(struct conn *c)
{
	for (;;) {
		int rc = cell_chan_flush(&c->ch);

		if (rc == -EAGAIN) {
			if (park(c))
				return 1;
			continue;
		}
		if (rc)
			return rc;
		if (atomic_load(&c->parked_since)) {
			atomic_store(&c->parked_since, 0);
			if (c->ch.shm)
				cell_ring_end_sleep(&c->ch.tx);
		}
		if (c->want_out) {
			c->want_out = false;
			return set_sock_events(c, EPOLLIN | EPOLLRDHUP);
		}
		return 0;
	}
}

/*
 * Whether a worker that has served @c for a while should let it go (its
 * time slice ended); @slice_end is 0 until the first look.  Letting go
 * rings @c's doorbell first: its inner epoll stays readable, so @c goes to
 * the back of the ready list with its ring still holding requests.
 */
static bool slice_over(struct conn *c, uint64_t *slice_end)
{
	uint64_t now = cell_now_ns();

	if (!*slice_end) {
		*slice_end = now + SLICE_NS;
		return false;
	}
	if (now < *slice_end)
		return false;
	(void)!write(c->doorbell, &(uint64_t){ 1 }, sizeof(uint64_t));
	return true;
}

/*
 * Whether anything else waits for a server thread (another connection's
 * doorbell or socket, an accept, the timer): the connection being served
 * is out of srv->epfd meanwhile (one-shot).  A thread spinning on one
 * idle ring while a thousand others wait would serve them one spin apart
 * (tools/bench/fanin.c: p50 60 us with 1000 clients, and one client served
 * 500 times more than another), so the spin gives way.
 */
static bool other_work(struct cell_server *srv)
{
	struct pollfd pfd = { .fd = srv->epfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* Serve @c until it has nothing to do.  Return <0 to drop it. */
static int serve(struct conn *c, int *handled)
{
	struct cell_server *srv = c->srv;
	struct cell_rx rx;
	uint64_t spin_end, slice_end = 0;
	unsigned int rounds = 0;
	bool gone = false; /* the client closed: serve what it committed, then drop */
	int rc, n;

	if (!atomic_load_explicit(&c->ready, memory_order_relaxed)) {
		rc = handshake(c);
		if (rc <= 0)
			return rc;
	}
	if (c->ch.shm) {
		uint64_t ignored;
		ssize_t got;

		cell_ring_end_sleep(&c->ch.rx);
		/*
		 * Woken by the doorbell: the ring has work, and the socket is
		 * looked at when the doorbell is quiet (its events keep the
		 * level-triggered inner epoll readable until then), and every
		 * 16th wakeup anyway.  One system call less per wakeup.
		 */
		got = read(c->doorbell, &ignored, sizeof(ignored));
		if (got < 0 && errno != EAGAIN)
			return -errno;
		if (got < 0 || !(++c->wakes % 16)) {
			rc = cell_chan_poll_socket(&c->ch);
			if (rc == -EPIPE)
				gone = true;
			else if (rc)
				return rc;
		}
	}
	if (c->ch.q_head) {
		rc = drain_queue(c);
		if (rc)
			return rc < 0 || gone ? -EPIPE : 0;
	}
	for (;;) {
		for (n = 0; n < BATCH; n++) {
			rc = cell_chan_rx(&c->ch, &rx);
			if (rc == -EAGAIN)
				break;
			if (rc)
				return rc;
			rc = handle(c, &rx);
			(*handled)++;
			if (rc)
				return rc;
			if (c->ch.q_head) {
				rc = drain_queue(c);
				if (rc)
					return rc < 0 || gone ? -EPIPE : 0;
			}
			if (atomic_load_explicit(&srv->stopped, memory_order_relaxed))
				return 0;
		}
		/* After GOODBYE or the end of the socket: every committed message first. */
		if (c->closing || gone) {
			if (n == BATCH)
				continue;
			return -EPIPE;
		}
		if (!c->ch.shm)
			return n == BATCH ? 1 : 0;
		if (!(++rounds % SLICE_ROUNDS) && slice_over(c, &slice_end))
			return 1;
		if (n == BATCH)
			continue;
		/*
		 * Spin for the next request before paying for a sleep (a fixed
		 * budget: a client's think time between calls is not a signal
		 * to spin less).
		 */
		if (srv->spin_ns != CELL_SPIN_NONE) {
			spin_end = cell_now_ns() + srv->spin_ns;
			if (slice_end && spin_end > slice_end)
				spin_end = slice_end; /* then sleep: the worker is let go */
			for (unsigned int i = 1; !cell_ring_pending(&c->ch.rx); i++) {
				cell_cpu_relax();
				if (!(i % 64) &&
				    (cell_now_ns() >= spin_end ||
				     atomic_load_explicit(&srv->stopped, memory_order_relaxed)))
					break;
				if (!(i % SPIN_LOOKS) && other_work(srv))
					break;
			}
		}
		if (cell_ring_pending(&c->ch.rx))
			continue;
		if (cell_ring_prepare_sleep(&c->ch.rx))
			return 0;
	}
}

/* ---- QUIC (lib/quic/) -------------------------------------------------- */

#ifdef CELL_HAVE_QUIC
/* Its fds are one-shot in srv->epfd: one thread serves the QUIC links at a time. */
static int quic_arm(struct cell_server *srv, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = &srv->quic };
	int fds[2], n = cell_qs_fds(srv->quic, fds);

	for (int i = 0; i < n; i++)
		if (epoll_ctl(srv->epfd, op, fds[i], &ev))
			return -errno;
	return 0;
}

static int quic_event(struct cell_server *srv)
{
	int handled = cell_qs_service(srv->quic);

	(void)quic_arm(srv, EPOLL_CTL_MOD);
	return handled;
}

int cell_server_listen_quic(struct cell_server *srv, const char *addr,
			    const struct cell_quic_opts *opts)
{
	int err;

	if (!srv || !addr)
		return -EINVAL;
	if (srv->quic || atomic_load(&srv->running))
		return -EBUSY;
	srv->quic = cell_qs_new(srv, addr, opts, srv->o.fingerprint);
	if (!srv->quic)
		return -errno;
	err = quic_arm(srv, EPOLL_CTL_ADD);
	if (err) {
		cell_qs_free(srv->quic);
		srv->quic = NULL;
	}
	return err;
}

unsigned int cell_server_quic_port(const struct cell_server *srv)
{
	return srv->quic ? cell_qs_port(srv->quic) : 0;
}
#else
static int quic_event(struct cell_server *srv)
{
	(void)srv;
	return 0;
}

int cell_server_listen_quic(struct cell_server *srv, const char *addr,
			    const struct cell_quic_opts *opts)
{
	(void)srv;
	(void)addr;
	(void)opts;
	cell_fail(CELL_STATUS_INVALID_ARGUMENT, "libcell was built without QUIC (CELL_WITH_QUIC)");
	return -ENOTSUP;
}

unsigned int cell_server_quic_port(const struct cell_server *srv)
{
	(void)srv;
	return 0;
}

int cell_quic_public_key(const struct cell_quic_opts *opts,
			 char hex[2 * CELL_QUIC_PUBKEY_BYTES + 1])
{
	(void)opts;
	hex[0] = '\0';
	return -ENOTSUP;
}
#endif

/*
 * The drain, on the first worker that sees drainfd: a last accept (who
 * connected before the successor took the socket over is served too), no
 * more accepts, then GOODBYE to every connection.  The draining flag and a
 * connection's ready flag are a Dekker pair (seq_cst): a handshake that
 * ends meanwhile either is seen ready here or sees the flag and tells its
 * client itself.  The last connection to go stops the server (conn_free()),
 * the deadline too (expire_handshakes()).
 */
static void begin_drain(struct cell_server *srv)
{
	uint64_t ticks, none = 0, ms = atomic_load(&srv->drain_ms);
	uint64_t deadline = cell_now_ns() + ms * CELL_NSEC_PER_MSEC;
	bool empty;

	if (read(srv->drainfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (!atomic_compare_exchange_strong(&srv->drain_deadline, &none, deadline))
		return; /* draining already */
	/* What is queued is ours to serve, unless the socket was handed over: the successor's. */
	if (!atomic_load(&srv->handed_over))
		accept_all(srv);
	pthread_mutex_lock(&srv->lock);
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->lfd, NULL);
	atomic_store(&srv->draining, true);
	for (struct conn *c = srv->conns; c; c = c->next)
		if (atomic_load(&c->ready))
			tell_to_go(c);
	empty = !srv->nconns;
	timer_within(srv, ms * CELL_NSEC_PER_MSEC);
	pthread_mutex_unlock(&srv->lock);
	if (empty)
		cell_server_stop(srv);
}

static int serve_event(struct cell_server *srv, struct epoll_event *ev)
{
	struct conn *c;
	int handled = 0;

	if (ev->data.ptr == &srv->lfd) {
		accept_all(srv);
		return 0;
	}
	if (ev->data.ptr == &srv->stopfd)
		return 0;
	if (ev->data.ptr == &srv->drainfd) {
		begin_drain(srv);
		return 0;
	}
	if (ev->data.ptr == &srv->timerfd) {
		expire_handshakes(srv);
		return 0;
	}
	if (ev->data.ptr == &srv->quic)
		return quic_event(srv);
	c = ev->data.ptr;
	(void)atomic_load_explicit(&c->handoff, memory_order_acquire);
	if (serve(c, &handled) < 0 || conn_arm(c, EPOLL_CTL_MOD))
		conn_free(c);
	return handled;
}

/* ---- public ----------------------------------------------------------- */

/*
 * opts.listen_fd (socket activation): a listening AF_UNIX SOCK_SEQPACKET
 * socket bound at @path.  0 (then it is made non-blocking and close-on-exec,
 * and served), or -EINVAL with cell_last_error() saying which check failed.
 */
static int adopt_listener(int fd, const char *path)
{
	struct sockaddr_un addr;
	socklen_t alen = sizeof(addr), olen;
	int type = 0, acc = 0, fl;

	memset(&addr, 0, sizeof(addr));
	olen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) || type != SOCK_SEQPACKET) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "listen_fd %d: not a SOCK_SEQPACKET socket",
			  fd);
		return -EINVAL;
	}
	olen = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &olen) || !acc) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "listen_fd %d: not listening", fd);
		return -EINVAL;
	}
	if (getsockname(fd, (struct sockaddr *)&addr, &alen) || addr.sun_family != AF_UNIX ||
	    alen <= offsetof(struct sockaddr_un, sun_path) ||
	    strncmp(addr.sun_path, path, sizeof(addr.sun_path))) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT,
			  "listen_fd %d: bound at \"%.*s\", not at %s (the runtime directory's "
			  "socket of this cell)",
			  fd, (int)sizeof(addr.sun_path), addr.sun_path, path);
		return -EINVAL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) || fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		int e = errno;

		cell_fail(cell_errno_status(-e), "listen_fd %d: %s", fd, strerror(e));
		return -e;
	}
	return 0;
}

/*
 * The hand-over key: the first CELL_LISTENER_KEY_SIZE bytes of the fd
 * CELL_LISTENER_KEY_FD names (read with pread: every server of the
 * process reads it, and it stays open for a program the cell execs).
 */
static bool read_key(uint8_t key[CELL_LISTENER_KEY_SIZE])
{
	const char *s = getenv("CELL_LISTENER_KEY_FD");
	char *end;
	long fd;

	if (!s || !*s)
		return false;
	errno = 0;
	fd = strtol(s, &end, 10);
	if (errno || *end || fd < 0 || fd > INT32_MAX)
		return false;
	return pread((int)fd, key, CELL_LISTENER_KEY_SIZE, 0) == CELL_LISTENER_KEY_SIZE;
}

struct cell_server *cell_server_new(const char *name, const struct cell_server_opts *opts)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct cell_server *srv;
	struct stat st;
	int err;

	cell_clear_error();
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		errno = ENOMEM;
		return NULL;
	}
	srv->lfd = srv->epfd = srv->stopfd = srv->timerfd = srv->drainfd = srv->own_lfd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	err = cell_opts_copy(&srv->o, sizeof(srv->o), opts, "cell_server_opts");
	if (err)
		goto fail;
	if (!srv->o.max_ring)
		srv->o.max_ring = CELL_RPC_DEFAULT_RING;
	if (srv->o.max_ring < CELL_RING_MIN_DATA || srv->o.max_ring > CELL_RING_MAX_DATA ||
	    (srv->o.max_ring & (srv->o.max_ring - 1))) {
		err = -EINVAL;
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "max_ring must be a power of two");
		goto fail;
	}
	if (!srv->o.max_inflight)
		srv->o.max_inflight = CELL_RPC_DEFAULT_INFLIGHT;
	if (!srv->o.max_connections)
		srv->o.max_connections = DEFAULT_CONNECTIONS;
	srv->spin_ns = srv->o.spin_ns ? srv->o.spin_ns : DEFAULT_SPIN_NS;
	err = cell_backend_resolve(srv->o.backend, &srv->backend);
	srv->module_by_name = cell_backend_module_by_name(srv->o.backend);
	if (err)
		goto fail;
	if (srv->o.runtime_dir) {
		if (strlen(srv->o.runtime_dir) >= sizeof(dir)) {
			err = -ENAMETOOLONG;
			goto fail;
		}
		strcpy(dir, srv->o.runtime_dir);
	} else {
		err = cell_runtime_dir(dir, sizeof(dir));
		if (err)
			goto fail;
	}
	srv->o.runtime_dir = NULL;
	err = cell_runtime_dir_create(dir);
	if (err) {
		cell_fail(cell_errno_status(err), "runtime directory %s: %s", dir, strerror(-err));
		goto fail;
	}
	err = cell_socket_path(dir, name, srv->path, sizeof(srv->path));
	if (err) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "bad cell name \"%s\"", name ? name : "");
		goto fail;
	}
	strncpy(srv->name, name, sizeof(srv->name) - 1);
	srv->has_key = read_key(srv->key);
	if (srv->o.listen_fd > 0) {
		err = adopt_listener(srv->o.listen_fd, srv->path);
		if (err)
			goto fail;
		srv->lfd = srv->o.listen_fd;
	} else {
		srv->lfd = cell_ux_listen(srv->path);
		if (srv->lfd >= 0 && !lstat(srv->path, &st)) {
			srv->sock_dev = st.st_dev;
			srv->sock_ino = st.st_ino;
		}
	}
	if (srv->lfd < 0) {
		err = srv->lfd;
		cell_fail(cell_errno_status(err), "%s: %s", srv->path, strerror(-err));
		srv->path[0] = '\0';
		goto fail;
	}
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv->drainfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->epfd < 0 || srv->stopfd < 0 || srv->drainfd < 0)
		goto fail_errno;
	ev.data.ptr = &srv->lfd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev))
		goto fail_errno;
	ev.data.ptr = &srv->stopfd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->stopfd, &ev))
		goto fail_errno;
	ev.data.ptr = &srv->drainfd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->drainfd, &ev))
		goto fail_errno;
	srv->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ev.data.ptr = &srv->timerfd;
	if (srv->timerfd < 0 || epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->timerfd, &ev))
		goto fail_errno;
	(void)cell_register_server(name, dir, srv->path, &srv->o);
	return srv;
fail_errno:
	err = -errno;
fail:
	if (srv->o.listen_fd > 0)
		srv->lfd = -1; /* a socket handed in stays the caller's on failure */
	cell_server_free(srv);
	errno = -err;
	return NULL;
}

int cell_server_handle(struct cell_server *srv, uint16_t method, cell_handler_fn fn, void *ctx)
{
	struct handler *h;

	if (!srv || !fn || method >= CELL_METHOD_CONTROL_BASE)
		return -EINVAL;
	if (atomic_load(&srv->running))
		return -EBUSY;
	if (method >= srv->nhandlers) {
		unsigned int n = (unsigned int)method + 1;

		h = realloc(srv->handlers, n * sizeof(*h));
		if (!h)
			return -ENOMEM;
		memset(h + srv->nhandlers, 0, (n - srv->nhandlers) * sizeof(*h));
		srv->handlers = h;
		srv->nhandlers = n;
	}
	srv->handlers[method].fn = fn;
	srv->handlers[method].ctx = ctx;
	return 0;
}

static void *worker(void *arg)
{
	struct cell_server *srv = arg;
	struct epoll_event ev;

	while (!atomic_load(&srv->stopped)) {
		int n = epoll_wait(srv->epfd, &ev, 1, -1);

		if (n == 1)
			serve_event(srv, &ev);
		else if (n < 0 && errno != EINTR)
			break;
	}
	return NULL;
}

int cell_server_run(struct cell_server *srv, unsigned int nthreads)
{
	pthread_t *tids;
	unsigned int i, started = 0;

	if (!srv || !nthreads)
		return -EINVAL;
	tids = calloc(nthreads, sizeof(*tids));
	if (!tids)
		return -ENOMEM;
	atomic_store(&srv->running, true);
	for (i = 1; i < nthreads; i++)
		if (!pthread_create(&tids[started], NULL, worker, srv))
			started++;
	worker(srv);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return 0;
}

void cell_server_stop(struct cell_server *srv)
{
	uint64_t one = 1;

	atomic_store(&srv->stopped, true);
	if (write(srv->stopfd, &one, sizeof(one)) < 0)
		return; /* the counter is already non-zero: readable anyway */
}

void cell_server_drain(struct cell_server *srv, unsigned int timeout_ms)
{
	uint64_t one = 1;

	atomic_store(&srv->drain_ms, timeout_ms ? timeout_ms : DEFAULT_DRAIN_MS);
	if (write(srv->drainfd, &one, sizeof(one)) < 0)
		return; /* the counter is already non-zero: readable anyway */
}

int cell_server_stopped(const struct cell_server *srv)
{
	return atomic_load(&((struct cell_server *)srv)->stopped);
}

int cell_server_fd(const struct cell_server *srv)
{
	return srv->epfd;
}

int cell_server_dispatch(struct cell_server *srv)
{
	struct epoll_event evs[16];
	int n, total = 0;

	atomic_store(&srv->running, true);
	do {
		n = epoll_wait(srv->epfd, evs, 16, 0);
		if (n < 0)
			return errno == EINTR ? total : -errno;
		for (int i = 0; i < n; i++)
			total += serve_event(srv, &evs[i]);
	} while (n == 16);
	return total;
}

const char *cell_server_path(const struct cell_server *srv)
{
	return srv->path;
}

unsigned int cell_server_connections(const struct cell_server *srv)
{
	struct cell_server *s = (struct cell_server *)srv;
	unsigned int n;

	pthread_mutex_lock(&s->lock);
	n = s->nconns;
	pthread_mutex_unlock(&s->lock);
#ifdef CELL_HAVE_QUIC
	if (s->quic)
		n += cell_qs_connections(s->quic);
#endif
	return n;
}

void cell_server_free(struct cell_server *srv)
{
	struct stat st;

	if (!srv)
		return;
	while (srv->conns)
		conn_free(srv->conns);
#ifdef CELL_HAVE_QUIC
	cell_qs_free(srv->quic);
#endif
	if (srv->lfd >= 0) {
		close(srv->lfd);
		/*
		 * A socket handed in stays (its owner made the file), a drained one
		 * too (a successor's), and so does a file another server put at the
		 * path since (a hot swap renames the new one's over it).
		 */
		if (srv->o.listen_fd <= 0 && !atomic_load(&srv->draining) &&
		    !atomic_load(&srv->handed_over) && !lstat(srv->path, &st) &&
		    st.st_dev == srv->sock_dev && st.st_ino == srv->sock_ino)
			unlink(srv->path);
	}
	if (srv->own_lfd >= 0)
		close(srv->own_lfd);
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->stopfd >= 0)
		close(srv->stopfd);
	if (srv->drainfd >= 0)
		close(srv->drainfd);
	if (srv->timerfd >= 0)
		close(srv->timerfd);
	pthread_mutex_destroy(&srv->lock);
	free(srv->handlers);
	free(srv);
}
