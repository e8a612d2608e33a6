// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * RPC client (cell/rpc.h).
 *
 * Sending: callers take send_lock from cell_call_begin() to the submit, so
 * each request is built in place in the request ring (one producer).
 * Requests submitted with CELL_CALL_MORE are published by the holder of
 * send_lock only (the ring's tail is its state); a waiter that finds the
 * lock busy publishes under it if the lock is its own (a call begun),
 * else sets @flush_wanted for the holder's unlock_send() (a Dekker pair).
 *
 * Receiving is leader/follower: the first waiting thread becomes the
 * reader (the @reading flag), reads responses from the response ring and
 * hands each to its call by correlation id; the others spin briefly on
 * their call's @done word, then sleep on it (futex, private to this
 * process).  A reader whose own call is done steps down and wakes the
 * sleepers so one of them takes over.  The step-down and a follower's
 * decision to sleep form a Dekker pair of sequentially consistent
 * accesses (reader: clear @reading, then look at @sleeping; follower: set
 * @sleeping, then look at @reading), so a hand-over is never missed.
 *
 * A call's id names its slot: id = slot + 1 + nslots * k, so a response
 * finds its call without a search, and a late response (the call timed
 * out or was cancelled, the slot reused) carries an id no live call has
 * and is dropped.  Response views stay in the ring until cell_call_end();
 * ring bytes are given back in ring order, so @pend remembers each read
 * frame's end and whether it is finished.
 *
 * Instances: a client with a fingerprint that connects by a bare name
 * ("orders", not "orders@2") takes the first instance of the name whose
 * server has that fingerprint (pick_instance()), and reconnects try the
 * instance it had first.  This is connect-time only: calls never look.
 *
 * Peer death: the reader checks the socket between sleep slices
 * (CELL_RING_WAIT_SLICE_NS), a producer waiting for ring space likewise;
 * when the server is gone every call in flight ends with UNAVAILABLE.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cell/metrics.h>
#include <cell/trace.h>
#include "cpu_relax.h"
#include "futex.h"
#include "instances.h"
#include "le.h"
#include "opts.h"
#include "resilience_internal.h"
#include "rpc_internal.h"
#include "quic/quic_internal.h"

#define DEFAULT_CONNECT_NS (5 * CELL_NSEC_PER_SEC)
#define DEFAULT_SPIN_NS	   (20 * CELL_NSEC_PER_USEC)
#define PEND_PER_SLOT	   8
#define CLIENT_FEATURES	   (CELL_FEAT_ATTACHMENTS | CELL_FEAT_CANCEL | CELL_FEAT_TRACE)
/* After a server's GOODBYE, how long a new call waits for those in flight at most. */
#define GOAWAY_WAIT_NS (2 * CELL_NSEC_PER_SEC)

enum call_state {
	CALL_FREE,
	CALL_BEGUN,
	CALL_SUBMITTED,
	CALL_DONE
};

struct cell_call {
	struct cell_client *c;
	uint32_t id;
	uint32_t seq; /* k of the id formula */
	uint16_t method;
	bool oneway;
	bool more;   /* CELL_CALL_MORE: the submit leaves the server unwoken */
	bool traced; /* the request ends in a trailer of @trace */
	bool have_rx;
	bool viewed; /* the owner has the response view: it may not move */
	uint64_t deadline;
	uint64_t t0;
	_Atomic enum call_state state; /* written under c->lock */
	_Atomic uint32_t done;	       /* futex word: 1 when status (and rx) are final */
	atomic_int sleeping;
	enum cell_status status;
	struct cell_rx rx;
	uint64_t pend_end; /* the ring frame holding the response, 0 if none */
	void *buf;	   /* the request's reserved bytes, while begun */
	struct cell_trace_ctx trace;
	struct cell_qcall *q; /* a quic:// call: all of it is in lib/quic/ */
	pthread_t owner;      /* the thread that began it (under c->lock) */
};

struct pend {
	uint64_t end;
	bool done;
};

struct cell_client {
	struct cell_client_opts o;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* the instance in use */
	enum cell_ring_backend backend;
	bool module_by_name;	   /* the module was asked for: nothing else will do */
	pthread_mutex_t send_lock; /* the tx side of @ch */
	pthread_mutex_t lock;	   /* calls, pend, the rx side of @ch */
	struct cell_chan ch;
	bool have_chan;
	atomic_bool connected;
	atomic_bool unkicked;	  /* requests submitted with CELL_CALL_MORE, not flushed */
	atomic_bool flush_wanted; /* a waiter found send_lock busy: see unlock_send() */
	enum cell_path path_kind;
	bool copy_in; /* responses copied out of the ring (server of another uid) */
	uint64_t server_fp;
	uint32_t nslots;
	struct cell_call *calls;
	uint32_t inflight;
	atomic_bool reading;
	atomic_uint sleepers; /* followers asleep or about to be */
	int kick;	      /* eventfd: wakes a reader asleep in poll (unix path) */
	struct pend *pend;
	uint32_t pend_head, pend_count; /* a FIFO of pend_cap() entries */
	uint64_t spin_ns;
	_Atomic uint64_t spin_cur;   /* adaptive budget, up to spin_ns */
	struct cell_resilience *res; /* opts.resilience: backoff, breaker, retries */
	struct cell_qc *qc;	     /* a quic:// target (lib/quic/), or NULL */
	bool goaway; /* the server said GOODBYE on this connection (it drains); under lock */
	/* Connect time only (after the fields calls use): instances of @name. */
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char name[CELL_NAME_MAX]; /* as asked for */
	bool pick;		  /* may take another instance of @name (its fingerprint) */
	bool refused_fp;	  /* the last handshake failed on the fingerprint */
};

/* cell_call_begin() refused by the breaker (for cell_client_call_once()). */
static _Thread_local bool refused_by_breaker;

/* ---- connection ------------------------------------------------------- */

/* Response frames read and not yet given back, at most. */
static uint32_t pend_cap(const struct cell_client *c)
{
	return PEND_PER_SLOT * c->nslots;
}

static enum cell_status status_of(int err)
{
	switch (-err) {
	case EBADMSG:
	case EPIPE:
		return CELL_STATUS_UNAVAILABLE;
	default:
		return cell_errno_status(err);
	}
}

static bool client_alive(void *ctx)
{
	struct cell_client *c = ctx;

	return cell_chan_alive(&c->ch);
}

/* Connect and handshake; fills c->ch.  errno-style negative on failure. */
/* A control frame from the server (c->lock held): a GOODBYE says it drains. */
static void client_on_control(void *ctx, const struct cell_hdr *hdr)
{
	struct cell_client *c = ctx;

	if (hdr->method == CELL_METHOD_GOODBYE && !(hdr->flags & CELL_F_CANCEL))
		c->goaway = true;
}

static int do_connect(struct cell_client *c, uint64_t deadline)
{
	uint8_t frame[CELL_HS_FRAME_SIZE], buf[CELL_HS_FRAME_SIZE + 2048];
	struct cell_hs hello = { 0 }, welcome;
	struct iovec iov = { frame, sizeof(frame) };
	int fds[CELL_HS_MAX_FDS], nfds = 0, sock, err;
	const char *why, *detail;
	pid_t server_pid;
	uid_t server_uid;
	gid_t server_gid;
	uint32_t detail_len;
	enum cell_status st;
	ssize_t n;

	c->refused_fp = false;
	sock = cell_ux_connect(c->path);
	if (sock < 0) {
		cell_fail(status_of(sock), "connect %s: %s", c->path, strerror(-sock));
		return sock;
	}
	hello.features = CLIENT_FEATURES;
	if (c->backend == CELL_RING_BACKEND_MODULE)
		hello.features |= CELL_FEAT_SHM_MODULE;
	/* Named, the module is the only ring backend this client accepts. */
	if (c->backend == CELL_RING_BACKEND_MEMFD ||
	    (c->backend == CELL_RING_BACKEND_MODULE && !c->module_by_name))
		hello.features |= CELL_FEAT_SHM_MEMFD;
	hello.max_inflight = c->nslots;
	hello.request_ring = c->o.request_ring;
	hello.response_ring = c->o.response_ring;
	hello.fingerprint = c->o.fingerprint;
	cell_hs_encode_hello(&hello, frame);
	err = cell_ux_send(sock, &iov, 1, NULL, 0, deadline);
	/* A server that refuses at once (full) answers and closes before HELLO. */
	if (err && err != -EPIPE)
		goto fail_io;
	for (;;) {
		err = cell_ux_wait_readable(sock, deadline);
		if (err <= 0) {
			err = err ? err : -ETIMEDOUT;
			goto fail_io;
		}
		n = cell_ux_recv(sock, buf, sizeof(buf), fds, CELL_HS_MAX_FDS, &nfds);
		/*
		 * A server that refused us (full) closed with our HELLO unread:
		 * the first receive reports the reset, the next one its answer.
		 */
		if (n == -EPIPE)
			n = cell_ux_recv(sock, buf, sizeof(buf), fds, CELL_HS_MAX_FDS, &nfds);
		if (n != -EAGAIN)
			break;
	}
	if (n < 0) {
		err = (int)n;
		goto fail_io;
	}
	st = cell_hs_parse_welcome(buf, (size_t)n, &welcome, &why, &c->server_fp, &detail,
				   &detail_len);
	if (st != CELL_STATUS_OK) {
		c->refused_fp = st == CELL_STATUS_FINGERPRINT_MISMATCH;
		if (st == CELL_STATUS_FINGERPRINT_MISMATCH)
			cell_fail(st, "fingerprint mismatch: client 0x%016llx, server 0x%016llx",
				  (unsigned long long)c->o.fingerprint,
				  (unsigned long long)c->server_fp);
		else if (detail)
			cell_fail(st, "%s: %s: %.*s", c->path, why, (int)detail_len, detail);
		else
			cell_fail(st, "%s: %s", c->path, why);
		err = st == CELL_STATUS_PERMISSION_DENIED    ? -EACCES
		      : st == CELL_STATUS_RESOURCE_EXHAUSTED ? -EAGAIN
							     : -EPROTO;
		goto fail_fds;
	}
	err = cell_ux_peercred(sock, &server_pid, &server_uid, &server_gid);
	if (err)
		goto fail_fds;
	err = cell_chan_init(&c->ch, sock, c->o.fingerprint);
	if (err)
		goto fail_fds;
	c->ch.on_control = client_on_control;
	c->ch.control_ctx = c;
	c->goaway = false;
	c->ch.attachments = welcome.features & CELL_FEAT_ATTACHMENTS;
	c->ch.trace = welcome.features & CELL_FEAT_TRACE;
	if ((welcome.features & CELL_FEAT_SHM_MODULE) && (welcome.features & CELL_FEAT_SHM_MEMFD)) {
		err = -EPROTO;
		goto fail_chan;
	}
	if (c->module_by_name && !(welcome.features & CELL_FEAT_SHM_MODULE)) {
		err = -ENODEV;
		cell_chan_fini(&c->ch);
		sock = -1;
		cell_fail(CELL_STATUS_UNAVAILABLE, "%s: the server offers no /dev/cell rings",
			  c->path);
		goto fail_fds;
	}
	if (welcome.features & (CELL_FEAT_SHM_MEMFD | CELL_FEAT_SHM_MODULE)) {
		if (nfds != 3) {
			err = -EPROTO;
			goto fail_chan;
		}
		err = cell_ring_attach(&c->ch.tx, fds[0], CELL_ROLE_PRODUCER, welcome.request_ring);
		if (err)
			goto fail_chan;
		fds[0] = -1;
		err = cell_ring_attach(&c->ch.rx, fds[1], CELL_ROLE_CONSUMER,
				       welcome.response_ring);
		if (err)
			goto fail_chan;
		fds[1] = -1;
		c->ch.rx.lazy_release = true; /* the server waits for room, never polls */
		/*
		 * The doorbell wakes a server asleep in epoll: for a request,
		 * and for room in the response ring when it parked answers.
		 * The futex wake goes out as well, as <linux/cell.h> says.
		 */
		cell_ring_set_wake_fd(&c->ch.tx, fds[2]);
		cell_ring_set_wake_fd(&c->ch.rx, fds[2]);
		c->ch.rx.wake_futex = true;
		c->ch.tx.spin_ns = c->spin_ns;
		c->ch.rx.spin_ns = c->spin_ns;
		fds[2] = -1;
		c->ch.shm = true;
		c->path_kind = (welcome.features & CELL_FEAT_SHM_MODULE) ? CELL_PATH_SHM_MODULE
									 : CELL_PATH_SHM_MEMFD;
		/* As the server does: a server of another uid is read through copies. */
		c->copy_in = server_uid != geteuid();
	} else {
		c->path_kind = CELL_PATH_UNIX;
	}
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (welcome.max_inflight < c->nslots)
		c->nslots = welcome.max_inflight;
	err = cell_chan_set_inflight(&c->ch, c->nslots);
	if (err) {
		if (c->ch.tx.wake_fd >= 0)
			close(c->ch.tx.wake_fd);
		c->ch.rx.wake_fd = -1;
		cell_chan_fini(&c->ch);
		return cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory"), err;
	}
	c->have_chan = true;
	atomic_store(&c->connected, true);
	return 0;
fail_chan:
	if (c->ch.tx.wake_fd >= 0)
		close(c->ch.tx.wake_fd);
	cell_chan_fini(&c->ch);
	sock = -1;
	cell_fail(CELL_STATUS_BAD_MESSAGE, "%s: bad rings from the server", c->path);
fail_fds:
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (sock >= 0)
		close(sock);
	return err;
fail_io:
	cell_fail(status_of(err), "handshake with %s: %s", c->path, strerror(-err));
	close(sock);
	return err;
}

static void drop_chan(struct cell_client *c)
{
	if (!c->have_chan)
		return;
	if (c->ch.tx.wake_fd >= 0)
		close(c->ch.tx.wake_fd);
	c->ch.tx.wake_fd = -1;
	c->ch.rx.wake_fd = -1; /* the same eventfd */
	cell_chan_fini(&c->ch);
	c->have_chan = false;
	c->pend_head = c->pend_count = 0;
}

/* ---- picking an instance by fingerprint --------------------------------- */

/* Append @fmt's text to the list in @buf (@cap bytes, truncated), comma-separated. */
static void __attribute__((format(printf, 3, 4)))
list_add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strnlen(buf, cap);
	va_list ap;

	if (len + 3 >= cap)
		return;
	if (len) {
		strcpy(buf + len, ", ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

/* "orders@2" of ".../orders@2.sock". */
static void instance_of_path(const char *path, char *buf, size_t cap)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".sock"))
		len -= 5;
	snprintf(buf, cap, "%.*s", (int)len, base);
}

/* For the error text: the instance just tried, its fingerprint or why it did not answer. */
static void note_tried(const struct cell_client *c, char *list, size_t cap, int err)
{
	char inst[CELL_NAME_MAX + 8];

	instance_of_path(c->path, inst, sizeof(inst));
	if (c->refused_fp)
		list_add(list, cap, "%s 0x%016llx", inst, (unsigned long long)c->server_fp);
	else
		list_add(list, cap, "%s (%s)", inst, strerror(-err));
}

/*
 * The instance at c->path failed with @err: its server has another
 * fingerprint, or there is none.  Try the other instances of c->name in
 * order (lib/instances.h) and keep the first whose server has ours.  If
 * none has: c->path stays, the error is the first instance's (-EPROTO,
 * FINGERPRINT_MISMATCH, if it answered with another fingerprint), and when
 * some instance has another fingerprint the text names every instance
 * tried with its fingerprint, or why it did not answer.
 */
static int pick_instance(struct cell_client *c, uint64_t deadline, int err)
{
	char first[sizeof(c->path)], first_why[256], list[384] = "";
	bool refused = c->refused_fp, mismatch = c->refused_fp;
	struct cell_instance_file *files;
	enum cell_status first_st;
	size_t n = 0;
	int rc;

	strcpy(first, c->path);
	snprintf(first_why, sizeof(first_why), "%s", cell_last_error(&first_st));
	note_tried(c, list, sizeof(list), err);
	rc = cell_instances_scan(c->dir, c->name, &files, &n);
	for (size_t i = 0; !rc && i < n && cell_now_ns() < deadline; i++) {
		char inst[CELL_NAME_MAX + 16];

		snprintf(inst, sizeof(inst), files[i].number ? "%s@%u" : "%s", c->name,
			 files[i].number);
		if (cell_socket_path(c->dir, inst, c->path, sizeof(c->path)) ||
		    !strcmp(c->path, first))
			continue;
		drop_chan(c);
		rc = do_connect(c, deadline);
		if (!rc) {
			free(files);
			cell_log(CELL_LOG_INFO, "cell %s: %s has fingerprint 0x%016llx (tried: %s)",
				 c->name, c->path, (unsigned long long)c->o.fingerprint, list);
			return 0;
		}
		note_tried(c, list, sizeof(list), rc);
		mismatch |= c->refused_fp;
		rc = 0;
	}
	free(files);
	strcpy(c->path, first);
	c->refused_fp = refused;
	if (!mismatch)
		cell_fail(first_st, "%s", first_why);
	else if (refused)
		cell_fail(CELL_STATUS_FINGERPRINT_MISMATCH,
			  "fingerprint mismatch: client 0x%016llx, no instance of %s has it: %s",
			  (unsigned long long)c->o.fingerprint, c->name, list);
	else
		cell_fail(first_st, "no instance of %s has fingerprint 0x%016llx: %s", c->name,
			  (unsigned long long)c->o.fingerprint, list);
	return err;
}

/*
 * Connect to the instance at c->path; a client that picks goes to another
 * instance of its name when that one has another fingerprint or is gone.
 */
static int connect_local(struct cell_client *c, uint64_t deadline)
{
	int err = do_connect(c, deadline);

	if (!err || !c->pick || (!c->refused_fp && err != -ENOENT && err != -ECONNREFUSED))
		return err;
	return pick_instance(c, deadline, err);
}

/* The first connection under a policy: retried with backoff while no server listens. */
static int connect_with_backoff(struct cell_client *c, uint64_t deadline)
{
	uint32_t tries = cell_resilience_retries(c->res);
	uint64_t at;
	int err;

	for (;;) {
		err = connect_local(c, deadline);
		cell_resilience_record(c->res, !err);
		if (!err || !tries-- || (err != -ENOENT && err != -ECONNREFUSED && err != -EAGAIN))
			return err;
		drop_chan(c);
		at = cell_resilience_next_attempt(c->res);
		if (at >= deadline)
			return err;
		cell_resilience_sleep_until(c->res, at);
	}
}

#define QUIC_SCHEME "quic://"
#ifndef CELL_HAVE_QUIC /* call->q stays NULL: never reached */
#define cell_qc_submit(q, len) CELL_STATUS_INTERNAL
#define cell_qc_wait(q, resp)  CELL_STATUS_INTERNAL
#define cell_qc_end(q)	       (void)(q)
#define cell_qc_call_id(q)     0U
#endif

/* A quic:// target: the client is a shell around lib/quic/'s connection. */
static int connect_quic(struct cell_client *c, const char *target)
{
#ifdef CELL_HAVE_QUIC
	c->qc = cell_qc_connect(target, &c->o);
	if (!c->qc)
		return -errno;
	c->path_kind = CELL_PATH_QUIC;
	c->server_fp = c->o.fingerprint; /* a mismatch fails each call */
	c->nslots = cell_qc_max_inflight(c->qc);
	snprintf(c->path, sizeof(c->path), QUIC_SCHEME "%s", target);
	return 0;
#else
	(void)c;
	(void)target;
	cell_fail(CELL_STATUS_INVALID_ARGUMENT, "libcell was built without QUIC (CELL_WITH_QUIC)");
	return -ENOTSUP;
#endif
}

/*
 * No local instance of @name answered (@why): connect to the remote one
 * celld published in DIR/axon/NAME.  -ENOENT when there is none (the
 * caller then reports the local failure), else 0 or the QUIC connect's error.
 */
static int connect_remote(struct cell_client *c, const char *dir, const char *name, int why)
{
	struct cell_remote r;
	int err;

#ifndef CELL_HAVE_QUIC
	return -ENOENT; /* no QUIC here: a remote instance cannot be reached */
#endif
	err = cell_remote_lookup(dir, name, &r);

	if (err == -EINVAL)
		return -ENOENT; /* logged by the lookup */
	if (err)
		return err;
	if (c->o.fingerprint && r.fingerprint != c->o.fingerprint) {
		cell_log(CELL_LOG_WARNING,
			 "cell %s: no local instance (%s); node %.16s has one with fingerprint "
			 "0x%016llx, not 0x%016llx: not used",
			 name, strerror(-why), r.node, (unsigned long long)r.fingerprint,
			 (unsigned long long)c->o.fingerprint);
		return -ENOENT;
	}
	drop_chan(c);
	err = connect_quic(c, r.target);
	if (err) {
		cell_log(CELL_LOG_WARNING,
			 "cell %s: no local instance (%s); remote quic://%s (node %.16s) failed: "
			 "%s",
			 name, strerror(-why), r.target, r.node, strerror(-err));
		return err;
	}
	cell_log(CELL_LOG_INFO,
		 "cell %s: path quic (no local instance: %s; remote quic://%s of node %.16s, "
		 "estimated RTT %u us, from celld)",
		 name, strerror(-why), r.target, r.node, r.rtt_us);
	return 0;
}

static struct cell_client *client_connect(const char *name, const struct cell_client_opts *opts,
					  bool may_pick)
{
	char *dir;
	struct cell_client *c;
	uint64_t deadline;
	uint32_t want;
	int err;

	cell_clear_error();
	c = calloc(1, sizeof(*c));
	if (!c)
		return errno = ENOMEM, NULL;
	c->kick = -1;
	dir = c->dir;
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	err = cell_opts_copy(&c->o, sizeof(c->o), opts, "cell_client_opts");
	if (err)
		goto fail;
	c->spin_ns = c->o.spin_ns ? c->o.spin_ns : DEFAULT_SPIN_NS;
	c->spin_cur = c->spin_ns;
	if (c->o.resilience) {
		c->res = cell_resilience_new(c->o.resilience);
		if (!c->res) {
			err = -errno;
			goto fail;
		}
		c->o.resilience = NULL;
		c->o.reconnect = 1; /* the policy reconnects, with backoff */
	}
	if (name && !strncmp(name, QUIC_SCHEME, strlen(QUIC_SCHEME))) {
		err = connect_quic(c, name + strlen(QUIC_SCHEME));
		if (err)
			goto fail;
		return c;
	}
	err = cell_backend_resolve(c->o.backend, &c->backend);
	c->module_by_name = cell_backend_module_by_name(c->o.backend);
	if (err)
		goto fail;
	if (c->o.runtime_dir) {
		if (strlen(c->o.runtime_dir) >= sizeof(c->dir)) {
			err = -ENAMETOOLONG;
			goto fail;
		}
		strcpy(dir, c->o.runtime_dir);
	} else {
		err = cell_runtime_dir(dir, sizeof(c->dir));
		if (err)
			goto fail;
	}
	c->o.runtime_dir = NULL;
	err = cell_socket_path(dir, name, c->path, sizeof(c->path));
	if (err) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "bad cell name \"%s\"", name ? name : "");
		goto fail;
	}
	strcpy(c->name, name); /* checked: shorter than CELL_NAME_MAX */
	/* fingerprint 0 (schema-less, e.g. cell call) keeps to the name's own socket. */
	c->pick = may_pick && c->o.fingerprint && !strchr(name, '@');
	want = c->o.max_inflight ? c->o.max_inflight : CELL_RPC_DEFAULT_INFLIGHT;
	c->nslots = want;
	c->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->kick < 0) {
		err = -errno;
		goto fail;
	}
	deadline = c->o.connect_deadline ? c->o.connect_deadline
					 : cell_deadline_in_ns(DEFAULT_CONNECT_NS);
	err = connect_local(c, deadline);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		/* No local instance: a remote one that celld knows of, if any. */
		int rerr = connect_remote(c, dir, name, err);

		if (rerr != -ENOENT) {
			err = rerr;
			if (err)
				goto fail;
			return c;
		}
	}
	if (err && c->res && (err == -ENOENT || err == -ECONNREFUSED || err == -EAGAIN)) {
		drop_chan(c);
		err = connect_with_backoff(c, deadline);
	}
	if (err)
		goto fail;
	cell_log(CELL_LOG_INFO, "cell %s: path %s (local instance; %s)", name,
		 cell_path_name(c->path_kind),
		 c->path_kind == CELL_PATH_UNIX ? "no shared-memory rings agreed with the server"
						: "shared-memory rings");
	/* Slots for the limit agreed on; a reconnect keeps them. */
	c->calls = calloc(c->nslots, sizeof(*c->calls));
	c->pend = calloc((size_t)pend_cap(c), sizeof(*c->pend));
	if (!c->calls || !c->pend) {
		err = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < c->nslots; i++) {
		c->calls[i].c = c;
		c->calls[i].rx.att.fd = -1;
	}
	return c;
fail:
	cell_client_free(c);
	errno = -err;
	return NULL;
}

struct cell_client *cell_client_connect(const char *name, const struct cell_client_opts *opts)
{
	return client_connect(name, opts, true);
}

struct cell_client *cell_client_connect_exact(const char *name, const struct cell_client_opts *opts)
{
	return client_connect(name, opts, false);
}

void cell_client_free(struct cell_client *c)
{
	if (!c)
		return;
#ifdef CELL_HAVE_QUIC
	cell_qc_free(c->qc);
#endif
	cell_client_flush(c); /* CELL_CALL_MORE requests: published before the GOODBYE */
	if (c->have_chan && atomic_load(&c->connected))
		(void)cell_chan_send_control(&c->ch, CELL_F_REQUEST | CELL_F_ONEWAY,
					     CELL_METHOD_GOODBYE, 0);
	for (uint32_t i = 0; c->calls && i < c->nslots; i++)
		if (c->calls[i].state != CALL_FREE)
			cell_call_end(&c->calls[i]);
	drop_chan(c);
	if (c->kick >= 0)
		close(c->kick);
	pthread_mutex_destroy(&c->send_lock);
	pthread_mutex_destroy(&c->lock);
	cell_resilience_free(c->res);
	free(c->calls);
	free(c->pend);
	free(c);
}

const char *cell_client_path(const struct cell_client *c)
{
	return cell_path_name(c->path_kind);
}

enum cell_path cell_client_path_kind(const struct cell_client *c)
{
	return c->path_kind;
}

uint64_t cell_client_server_fingerprint(const struct cell_client *c)
{
	return c->server_fp;
}

uint32_t cell_client_max_inflight(const struct cell_client *c)
{
	return c->nslots;
}

int cell_client_connected(const struct cell_client *c)
{
#ifdef CELL_HAVE_QUIC
	if (c->qc)
		return cell_qc_connected(c->qc);
#endif
	return atomic_load(&((struct cell_client *)c)->connected);
}

struct cell_resilience *cell_client_resilience(struct cell_client *c)
{
	return c ? c->res : NULL;
}

/* ---- completing calls (c->lock held) ---------------------------------- */

static void finish_locked(struct cell_call *call, enum cell_status st)
{
	call->status = st;
	atomic_store_explicit(&call->state, CALL_DONE, memory_order_relaxed);
	/* seq_cst: ordered before the load of @sleeping (the follower's Dekker pair). */
	atomic_store(&call->done, 1);
	if (atomic_load(&call->sleeping))
		cell_futex_wake((uint32_t *)&call->done, 1);
}

/* Give ring bytes back in order, as far as finished frames allow. */
static void pend_finish(struct cell_client *c, uint64_t end)
{
	uint32_t cap = pend_cap(c), i;
	uint64_t release = 0;

	for (i = 0; i < c->pend_count; i++) {
		struct pend *p = &c->pend[(c->pend_head + i) % cap];

		if (p->end == end) {
			p->done = true;
			break;
		}
	}
	while (c->pend_count && c->pend[c->pend_head].done) {
		release = c->pend[c->pend_head].end;
		c->pend_head = (c->pend_head + 1) % cap;
		c->pend_count--;
	}
	if (release)
		cell_ring_release(&c->ch.rx, release);
}

/*
 * Response bytes read from the ring and not given back yet.  Views pin
 * them (the ring is released in order), so responses that nobody looked
 * at yet are copied out when they pin too much: half the ring, or a full
 * FIFO.  Otherwise a caller waiting for a later call (pipelining, any
 * order) could wait forever behind answers it has not collected, while
 * the server waits for room in the full ring.
 */
static bool pinning_too_much(const struct cell_client *c)
{
	return c->ch.shm && (c->pend_count == pend_cap(c) ||
			     c->ch.rx.read_pos - c->ch.rx.released > c->ch.rx.size / 2);
}

static void evict_locked(struct cell_client *c)
{
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct cell_call *call = &c->calls[i];
		void *copy;

		if (!call->have_rx || !call->pend_end || call->viewed || call->rx.att.fd >= 0)
			continue;
		copy = aligned_alloc(8, cell_align8(call->rx.len ? call->rx.len : 8));
		if (!copy)
			return; /* keep the views; the reader waits instead */
		memcpy(copy, call->rx.data, call->rx.len);
		call->rx.owned = copy;
		call->rx.data = copy;
		pend_finish(c, call->pend_end);
		call->pend_end = 0;
	}
}

/* The server is gone: end every call in flight with UNAVAILABLE. */
static void lost_locked(struct cell_client *c)
{
	atomic_store(&c->connected, false);
	c->ch.dead = true;
	for (uint32_t i = 0; i < c->nslots; i++)
		if (c->calls[i].state == CALL_SUBMITTED || c->calls[i].state == CALL_BEGUN) {
			if (c->calls[i].state == CALL_SUBMITTED)
				finish_locked(&c->calls[i], CELL_STATUS_UNAVAILABLE);
		}
	if (c->ch.shm) {
		cell_ring_wake_all(&c->ch.tx);
		cell_ring_wake_all(&c->ch.rx);
	}
}

/* Hand a received frame to its call (c->lock held).  <0: protocol error. */
static int deliver_locked(struct cell_client *c, struct cell_rx *rx)
{
	uint32_t id = rx->hdr.correlation;
	struct cell_call *call = id ? &c->calls[(id - 1) % c->nslots] : NULL;
	uint16_t status;
	const char *detail;
	uint32_t dlen;

	if ((rx->hdr.flags & CELL_F_KIND_MASK) != CELL_F_RESPONSE)
		return -EBADMSG;
	if (rx->ring_end) {
		uint32_t cap = pend_cap(c);

		if (c->pend_count == cap)
			return -EBADMSG; /* read_available() checks first */
		c->pend[(c->pend_head + c->pend_count) % cap] =
			(struct pend){ .end = rx->ring_end, .done = false };
		c->pend_count++;
	}
	if (!call || call->id != id || call->state != CALL_SUBMITTED ||
	    call->method != rx->hdr.method) {
		/* Late (timed out, cancelled) or unknown: drop it. */
		uint64_t end = rx->ring_end;

		rx->ring_end = 0;
		cell_chan_rx_done(&c->ch, rx);
		if (end)
			pend_finish(c, end);
		return 0;
	}
	if ((!c->ch.shm || c->copy_in) && rx->att.fd < 0 && rx->len) {
		/*
		 * The socket buffer is reused, and a server of another uid could
		 * change ring bytes under us: keep a copy until the call ends.
		 */
		rx->owned = aligned_alloc(8, cell_align8(rx->len));
		if (!rx->owned)
			return -ENOMEM;
		memcpy(rx->owned, rx->data, rx->len);
		rx->data = rx->owned;
	}
	call->rx = *rx;
	call->pend_end = rx->ring_end;
	call->rx.ring_end = 0;
	if ((rx->att.fd >= 0 || rx->owned) && call->pend_end) {
		/* Only a marker, or bytes already copied: give them back now. */
		pend_finish(c, call->pend_end);
		call->pend_end = 0;
	}
	call->have_rx = true;
	if (rx->hdr.flags & CELL_F_ERROR) {
		if (cell_error_decode(rx->data, rx->len, &status, &detail, &dlen) ||
		    status == CELL_STATUS_OK || status >= CELL_STATUS_MAX)
			status = CELL_STATUS_BAD_MESSAGE;
		finish_locked(call, (enum cell_status)status);
	} else {
		finish_locked(call, CELL_STATUS_OK);
	}
	return 0;
}

/* ---- the reader ------------------------------------------------------- */

/* Read every frame there is (c->lock held); <0: connection lost. */
static int read_available_locked(struct cell_client *c)
{
	struct cell_rx rx;
	int rc, n = 0;

	for (;;) {
		/*
		 * Frames whose calls have not ended yet pin the ring bytes
		 * behind them: with the FIFO full, wait for an end (it
		 * wakes the reader) instead of reading on.
		 */
		if (pinning_too_much(c))
			evict_locked(c);
		if (c->pend_count == pend_cap(c)) {
			rc = n;
			break;
		}
		rc = cell_chan_rx(&c->ch, &rx);
		if (rc == -EAGAIN) {
			rc = n;
			break;
		}
		if (rc == 0)
			rc = deliver_locked(c, &rx);
		if (rc < 0) {
			lost_locked(c);
			break;
		}
		n++;
	}
	return rc;
}

static int read_available(struct cell_client *c)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = read_available_locked(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Sleep until a response may have come, @until passes, or a kick. */
static int reader_sleep(struct cell_client *c, uint64_t until)
{
	uint64_t slice_end = cell_now_ns() + CELL_RING_WAIT_SLICE_NS;

	if (slice_end > until)
		slice_end = until;
	if (c->ch.shm) {
		uint32_t *word = &c->ch.rx.producer->wake;
		uint32_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		bool sleep;
		int rc = 0;

		/* It publishes released bytes, which call_end() touches under the lock. */
		pthread_mutex_lock(&c->lock);
		sleep = cell_ring_prepare_sleep(&c->ch.rx);
		pthread_mutex_unlock(&c->lock);
		if (sleep) {
			rc = cell_ring_sleep(&c->ch.rx, word, w, slice_end);
			cell_ring_end_sleep(&c->ch.rx);
		}
		if (rc == -EPIPE || (rc == -ETIMEDOUT && !client_alive(c)))
			return -EPIPE;
		return 0;
	}
	{
		struct pollfd pfd[2] = {
			{ .fd = c->ch.sock, .events = POLLIN },
			{ .fd = c->kick, .events = POLLIN },
		};
		uint64_t now = cell_now_ns();
		int ms = slice_end > now ? (int)((slice_end - now + 999999) / 1000000) : 0;
		uint64_t v;

		if (poll(pfd, 2, ms) > 0 && (pfd[1].revents & POLLIN))
			(void)!read(c->kick, &v, sizeof(v));
		return 0;
	}
}

static bool call_done(struct cell_call *call)
{
	return atomic_load_explicit(&call->done, memory_order_acquire);
}

/*
 * Reader: with the FIFO of unreleased responses full, sleep until a
 * call_end() gives some back (it wakes the ring's words) instead of
 * spinning on records it may not read yet.  Return: whether it was full.
 */
static bool fifo_full_sleep(struct cell_client *c, uint64_t deadline)
{
	uint32_t *word = &c->ch.rx.producer->wake;
	uint32_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	uint64_t until = cell_now_ns() + CELL_RING_WAIT_SLICE_NS;
	bool full;

	pthread_mutex_lock(&c->lock);
	full = c->pend_count == pend_cap(c);
	pthread_mutex_unlock(&c->lock);
	if (full)
		cell_ring_sleep(&c->ch.rx, word, w, until < deadline ? until : deadline);
	return full;
}

/* Step down as reader and let a sleeping follower take over. */
static void step_down(struct cell_client *c)
{
	atomic_store(&c->reading, false); /* seq_cst: orders before the loads below */
	if (!atomic_load(&c->sleepers))
		return;
	for (uint32_t i = 0; i < c->nslots; i++)
		if (atomic_load(&c->calls[i].sleeping))
			cell_futex_wake((uint32_t *)&c->calls[i].done, 1);
}

/*
 * Reader: spin for a response up to the current budget.  The budget adapts
 * (cell_spin_adapt()): it shrinks while spins fail, as when the server
 * shares this CPU or its handler is slow, so that a spin that cannot win
 * is not paid for on every call.  Return: whether something came.
 */
static bool spin_for(struct cell_client *c, struct cell_call *call, uint64_t now)
{
	uint64_t budget = atomic_load_explicit(&c->spin_cur, memory_order_relaxed);
	uint64_t end = now + budget;
	bool won = false;

	for (unsigned int i = 1;; i++) {
		if (cell_ring_pending(&c->ch.rx) || call_done(call)) {
			won = true;
			break;
		}
		cell_cpu_relax();
		if (!(i % 64) && cell_now_ns() >= end)
			break;
	}
	atomic_store_explicit(&c->spin_cur, cell_spin_adapt(budget, c->spin_ns, won),
			      memory_order_relaxed);
	return won;
}

/*
 * The alive() of a send that waits for request room: the server may itself
 * be waiting for room in the response ring, so read answers meanwhile
 * (unless another thread is the reader); unviewed ones are copied out when
 * they pin the ring.  A single thread that pipelines more than the rings
 * hold thus keeps both directions moving.
 */
static bool client_waiting_for_room(void *ctx)
{
	struct cell_client *c = ctx;

	if (c->ch.shm && !atomic_exchange(&c->reading, true)) {
		(void)read_available(c);
		step_down(c);
	}
	return client_alive(c);
}

/* Wait until @call is done or its deadline passes. */
static void wait_done(struct cell_call *call)
{
	struct cell_client *c = call->c;
	uint64_t spin_end = 0;

	while (!call_done(call)) {
		uint64_t now = cell_now_ns();

		if (now >= call->deadline)
			return;
		if (!atomic_exchange(&c->reading, true)) {
			/* Reader. */
			int rc = 0;

			while (!call_done(call)) {
				rc = read_available(c);
				if (rc < 0 || call_done(call))
					break;
				if (rc > 0)
					continue;
				if (c->ch.shm && fifo_full_sleep(c, call->deadline))
					continue;
				now = cell_now_ns();
				if (now >= call->deadline)
					break;
				if (c->ch.shm && c->spin_ns != CELL_SPIN_NONE &&
				    spin_for(c, call, now))
					continue;
				if (reader_sleep(c, call->deadline) == -EPIPE) {
					pthread_mutex_lock(&c->lock);
					lost_locked(c);
					pthread_mutex_unlock(&c->lock);
					break;
				}
			}
			spin_end = 0;
			step_down(c);
			continue;
		}
		/* Follower: spin, then sleep on our own word. */
		if (!spin_end)
			spin_end = c->spin_ns == CELL_SPIN_NONE ? now : now + c->spin_ns;
		if (now < spin_end) {
			cell_cpu_relax();
			continue;
		}
		atomic_store(&call->sleeping, 1); /* seq_cst, the other half of step_down() */
		atomic_fetch_add(&c->sleepers, 1);
		if (atomic_load(&c->reading) && !call_done(call)) {
			uint64_t until = now + CELL_RING_WAIT_SLICE_NS;

			cell_futex_wait((uint32_t *)&call->done, 0,
					until < call->deadline ? until : call->deadline);
		}
		atomic_store(&call->sleeping, 0);
		atomic_fetch_sub(&c->sleepers, 1);
	}
}

/* ---- calls ------------------------------------------------------------ */

static enum cell_status reconnect_locked(struct cell_client *c, uint64_t deadline)
{
	int err;

	if (c->inflight)
		return cell_fail(CELL_STATUS_UNAVAILABLE,
				 "%s: connection lost; calls still in flight", c->path);
	/*
	 * No call in flight: nobody is in a send (the one-way shortcut is off
	 * for reconnecting clients), so the channel is ours without send_lock
	 * (whose order is send_lock, then lock).
	 */
	drop_chan(c);
	err = connect_local(c, deadline);
	return err ? status_of(err) : CELL_STATUS_OK;
}

/*
 * Under a policy: wait for the backoff's turn, then one attempt, recorded
 * (a connection that another thread made meanwhile is taken as it is).
 */
static enum cell_status res_reconnect_locked(struct cell_client *c, uint64_t deadline)
{
	enum cell_status st;

	if (c->inflight)
		return reconnect_locked(c, deadline);
	st = cell_resilience_wait_turn(c->res, &c->lock, deadline);
	if (st || atomic_load(&c->connected))
		return st;
	st = reconnect_locked(c, deadline);
	cell_resilience_record(c->res, st == CELL_STATUS_OK);
	return st;
}

/*
 * A reconnecting client, before a call: one poll of the socket.  What is
 * there is read: on the ring path control frames (a GOODBYE), on the unix
 * path responses too.  A dead server with no call in flight is lost here
 * (the caller reconnects); with calls in flight the reader finds out, after
 * reading what the ring still holds.
 */
static void look_at_socket_locked(struct cell_client *c)
{
	struct pollfd pfd = { .fd = c->ch.sock, .events = POLLIN | POLLRDHUP };
	int rc = 0;

	if (c->ch.dead) {
		if (!c->inflight)
			lost_locked(c);
		return;
	}
	if (poll(&pfd, 1, 0) <= 0)
		return;
	if (pfd.revents & POLLIN)
		rc = c->ch.shm ? cell_chan_poll_socket(&c->ch) : read_available_locked(c);
	if (!atomic_load(&c->connected))
		return; /* read_available_locked() lost it */
	if (rc < 0 || (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))) {
		c->ch.dead = true;
		if (!c->inflight)
			lost_locked(c);
	}
}

/* Whether the calling thread has a call begun and not ended on @c (c->lock held). */
static bool thread_has_calls_locked(struct cell_client *c)
{
	pthread_t self = pthread_self();

	for (uint32_t i = 0; i < c->nslots; i++)
		if (atomic_load_explicit(&c->calls[i].state, memory_order_relaxed) != CALL_FREE &&
		    pthread_equal(c->calls[i].owner, self))
			return true;
	return false;
}

/*
 * The server said GOODBYE (it drains: a hot swap, Documentation/capsid.rst):
 * calls made here are still answered here; new calls go to a new
 * connection once none is in flight.  A thread with calls of its own in
 * flight (it pipelines) goes on here: it would wait for itself.  Any other
 * waits, with the lock let go, until the calls in flight have ended (then
 * the connection is lost here, and the caller reconnects with nothing in
 * flight), for GOAWAY_WAIT_NS or until its deadline at most; then it too
 * goes on here (the server serves the connection until its drain ends).
 */
static void check_server_locked(struct cell_client *c, uint64_t deadline)
{
	uint64_t until;

	look_at_socket_locked(c);
	if (!c->goaway || !atomic_load(&c->connected) ||
	    (c->inflight && thread_has_calls_locked(c)))
		return;
	until = cell_now_ns() + GOAWAY_WAIT_NS;
	if (until > deadline)
		until = deadline;
	while (c->goaway && c->inflight && atomic_load(&c->connected) && cell_now_ns() < until) {
		pthread_mutex_unlock(&c->lock);
		nanosleep(&(struct timespec){ 0, 50 * 1000 }, NULL);
		pthread_mutex_lock(&c->lock);
	}
	if (c->goaway && !c->inflight && atomic_load(&c->connected))
		lost_locked(c);
}

/*
 * Send lock held: wake the server for the CELL_CALL_MORE requests committed
 * so far.  A request begun and not yet submitted stays unpublished: the
 * ring publishes the last commit's tail, never a reservation.
 */
static void kick_locked(struct cell_client *c)
{
	atomic_store_explicit(&c->flush_wanted, false, memory_order_relaxed);
	atomic_store_explicit(&c->unkicked, false, memory_order_relaxed);
	if (atomic_load_explicit(&c->connected, memory_order_acquire))
		cell_chan_kick(&c->ch);
}

static void flush_and_unlock(struct cell_client *c)
{
	kick_locked(c);
	pthread_mutex_unlock(&c->send_lock);
}

/* GCC warns that TSan does not model fences; the Dekker pair is not a data race. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void full_fence(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/*
 * Let go of the send lock after a send that may leave CELL_CALL_MORE
 * requests unpublished (a submit with CELL_CALL_MORE, a begin that failed
 * or was ended unsubmitted, a failed send): a waiter that found the lock
 * busy may have asked for them (publish_for_wait()).  Its flag store and
 * its trylock, this unlock and the load below, each with a fence between,
 * are a Dekker pair: either its trylock finds the lock free or this load
 * sees the flag.  A plain commit publishes every request before it, so
 * the unbatched path does not look.
 */
static void unlock_send(struct cell_client *c)
{
	pthread_mutex_unlock(&c->send_lock);
	full_fence();
	if (atomic_load_explicit(&c->flush_wanted, memory_order_relaxed) &&
	    !pthread_mutex_trylock(&c->send_lock))
		flush_and_unlock(c);
}

/*
 * Whether the calling thread holds the send lock: it has a call begun
 * (cell_call_begin() returned with the lock held; the submit or
 * cell_call_end() lets it go).  Asked only when the lock is busy.
 */
static bool thread_holds_send_lock(struct cell_client *c)
{
	pthread_t self = pthread_self();
	bool held = false;

	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; c->calls && i < c->nslots && !held; i++)
		held = atomic_load_explicit(&c->calls[i].state, memory_order_relaxed) ==
			       CALL_BEGUN &&
		       pthread_equal(c->calls[i].owner, self);
	pthread_mutex_unlock(&c->lock);
	return held;
}

/*
 * Before a wait: publish the CELL_CALL_MORE requests, the awaited one among
 * them.  The send lock free: flush.  Held by this thread (it has a call
 * begun): kick under it, as its own trylock would fail and nobody else can
 * take the lock before this thread lets it go.  Held by another thread:
 * ask it to flush when it lets go (unlock_send()); its plain commit, or its
 * wait for ring room, publishes them anyway.
 */
static void publish_for_wait(struct cell_client *c)
{
	if (!pthread_mutex_trylock(&c->send_lock)) {
		flush_and_unlock(c);
		return;
	}
	if (thread_holds_send_lock(c)) {
		kick_locked(c);
		return;
	}
	atomic_store_explicit(&c->flush_wanted, true, memory_order_relaxed);
	full_fence();
	if (!pthread_mutex_trylock(&c->send_lock))
		flush_and_unlock(c);
}

/* Of Cell's own methods, these may be called like any other. */

static bool callable_control(uint16_t method)
{
	return method == CELL_METHOD_PING || method == CELL_METHOD_SCHEMA ||
	       method == CELL_METHOD_METRICS || method == CELL_METHOD_SPANS;
}

/*
 * The thread's sampled trace context, if any, goes with every call of a
 * schema method on a connection that agreed to CELL_FEAT_TRACE (never
 * with Cell's own methods): the request gets room for the trailer, which
 * cell_call_submit() writes.
 */
enum cell_status cell_call_begin(struct cell_client *c, uint16_t method, uint32_t len,
				 unsigned int flags, uint64_t deadline, struct cell_call **callp,
				 void **buf)
{
	struct cell_call *call = NULL;
	enum cell_status st;
	uint32_t slot, room;
	void *p;

	*callp = NULL;
	*buf = NULL;
	if (!c || (flags & ~(CELL_CALL_ONEWAY | CELL_CALL_MORE)) ||
	    (method >= CELL_METHOD_CONTROL_BASE && !callable_control(method)))
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "bad call arguments");
	if (len > CELL_MAX_PAYLOAD)
		return cell_fail(CELL_STATUS_TOO_LARGE, "payload of %u bytes", len);
	refused_by_breaker = false;
	if (c->res && cell_resilience_admit(c->res)) {
		refused_by_breaker = true;
		return cell_fail(CELL_STATUS_UNAVAILABLE, "%s: circuit breaker open", c->path);
	}
#ifdef CELL_HAVE_QUIC
	if (c->qc) {
		call = calloc(1, sizeof(*call));
		if (!call)
			return cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		call->c = c;
		st = cell_qc_begin(c->qc, method, len, flags, deadline, &call->q, buf);
		if (st) {
			free(call);
			if (c->res &&
			    (st == CELL_STATUS_UNAVAILABLE || st == CELL_STATUS_DEADLINE_EXCEEDED))
				cell_resilience_outcome(c->res, false, st);
			return st;
		}
		call->oneway = flags & CELL_CALL_ONEWAY;
		*callp = call;
		return CELL_STATUS_OK;
	}
#endif
	pthread_mutex_lock(&c->lock);
	if (c->o.reconnect && atomic_load(&c->connected))
		check_server_locked(c, deadline);
	if (!atomic_load(&c->connected)) {
		st = c->res ? res_reconnect_locked(c, deadline)
		     : c->o.reconnect
			     ? reconnect_locked(c, deadline)
			     : cell_fail(CELL_STATUS_UNAVAILABLE, "%s: connection lost", c->path);
		if (st) {
			pthread_mutex_unlock(&c->lock);
			return st;
		}
	}
	for (slot = 0; slot < c->nslots; slot++)
		if (c->calls[slot].state == CALL_FREE)
			break;
	if (slot == c->nslots) {
		pthread_mutex_unlock(&c->lock);
		return cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "%u calls already in flight",
				 c->nslots);
	}
	call = &c->calls[slot];
	/* id - 1 = slot + nslots * seq must stay below 2^32 to name the slot. */
	call->seq = call->seq >= (UINT32_MAX - 1 - slot) / c->nslots ? 0 : call->seq + 1;
	call->id = slot + 1 + c->nslots * call->seq;
	call->method = method;
	call->owner = pthread_self();
	call->oneway = flags & CELL_CALL_ONEWAY;
	call->more = flags & CELL_CALL_MORE;
	call->deadline = deadline;
	call->t0 = c->o.metrics ? cell_now_ns() : 0;
	atomic_store_explicit(&call->state, CALL_BEGUN, memory_order_relaxed);
	call->have_rx = false;
	call->viewed = false;
	call->pend_end = 0;
	/*
	 * Connected and counted in flight: the channel (and ch.trace) stays.
	 * Only a sampled context travels: an unsampled one records nothing
	 * anywhere, and its 32 bytes would cost a cache line per call.
	 */
	call->traced = method < CELL_METHOD_CONTROL_BASE && cell_trace_tls.active &&
		       (cell_trace_tls.ctx.flags & CELL_TRACE_F_SAMPLED) && c->ch.trace;
	if (call->traced)
		call->trace = *cell_trace_ctx_now();
	room = len + (call->traced ? CELL_TRACE_TRAILER_SIZE : 0);
	atomic_store_explicit(&call->done, 0, memory_order_relaxed);
	c->inflight++;
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&c->send_lock);
	p = cell_chan_tx_begin(&c->ch, room, deadline, client_waiting_for_room, c);
	if (!p) {
		int err = errno;

		unlock_send(c);
		st = err == ETIMEDOUT ? CELL_STATUS_DEADLINE_EXCEEDED : status_of(-err);
		if (err == EPIPE || err == EBADMSG) {
			pthread_mutex_lock(&c->lock);
			lost_locked(c);
			pthread_mutex_unlock(&c->lock);
		}
		if (c->res && st != CELL_STATUS_TOO_LARGE)
			cell_resilience_outcome(c->res, false, st);
		cell_fail(st, "%s: request of %u bytes: %s", c->path, len, strerror(err));
		pthread_mutex_lock(&c->lock);
		atomic_store_explicit(&call->state, CALL_FREE, memory_order_relaxed);
		c->inflight--;
		pthread_mutex_unlock(&c->lock);
		return st;
	}
	call->buf = p;
	*callp = call;
	*buf = p;
	return CELL_STATUS_OK;
}

enum cell_status cell_call_submit(struct cell_call *call, uint32_t len)
{
	struct cell_client *c;
	struct cell_hdr hdr = { .flags = CELL_F_REQUEST };
	uint32_t begun;
	int err;

	if (call && call->q)
		return cell_qc_submit(call->q, len);
	if (!call || call->state != CALL_BEGUN)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "call not begun");
	c = call->c;
	begun = c->ch.tx_len - (call->traced ? CELL_TRACE_TRAILER_SIZE : 0);
	/* Still ours to fix: the send lock and the reservation stay. */
	if (len > begun)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "length %u above the %u bytes begun",
				 len, begun);
	hdr.method = call->method;
	if (call->oneway)
		hdr.flags |= CELL_F_ONEWAY;
	else
		hdr.correlation = call->id;
	if (call->traced) {
		cell_trace_trailer_encode(&call->trace, (uint8_t *)call->buf + len);
		hdr.flags |= CELL_F_TRACE;
		len += CELL_TRACE_TRAILER_SIZE;
	}
	/* Before the commit (the answer may come at once); no c->lock under send_lock. */
	/* Relaxed: the ring's release of the request orders it before any answer. */
	atomic_store_explicit(&call->state, call->oneway ? CALL_DONE : CALL_SUBMITTED,
			      memory_order_relaxed);
	c->ch.tx_more = call->more;
	err = cell_chan_tx_commit(&c->ch, &hdr, len, call->deadline, client_alive, c);
	c->ch.tx_more = false;
	if (call->more)
		atomic_store_explicit(&c->unkicked, true, memory_order_relaxed);
	if (call->more || err)
		unlock_send(c);
	else
		pthread_mutex_unlock(&c->send_lock);
	if (err) {
		pthread_mutex_lock(&c->lock);
		if (err != -ETIMEDOUT)
			lost_locked(c);
		finish_locked(call, err == -ETIMEDOUT ? CELL_STATUS_DEADLINE_EXCEEDED
						      : CELL_STATUS_UNAVAILABLE);
		pthread_mutex_unlock(&c->lock);
		if (c->res)
			cell_resilience_outcome(c->res, false, call->status);
		return cell_fail(call->status, "%s: send: %s", c->path, strerror(-err));
	}
	if (call->oneway) {
		call->status = CELL_STATUS_OK;
		atomic_store_explicit(&call->done, 1, memory_order_release);
	}
	return CELL_STATUS_OK;
}

static void fill_response(struct cell_call *call, struct cell_response *resp)
{
	uint16_t status;

	memset(resp, 0, sizeof(*resp));
	resp->status = call->status;
	if (!call->have_rx)
		return;
	if (call->status == CELL_STATUS_OK) {
		resp->data = call->rx.data;
		resp->len = call->rx.len;
	} else if (cell_error_decode(call->rx.data, call->rx.len, &status, &resp->detail,
				     &resp->detail_len)) {
		resp->detail = NULL;
		resp->detail_len = 0;
	}
}

enum cell_status cell_call_wait(struct cell_call *call, struct cell_response *resp)
{
	struct cell_client *c;

	if (call && call->q) {
		enum cell_status st = cell_qc_wait(call->q, resp);

		/* Only a local status means no answer came (remote errors are answers). */
		call->have_rx = st != CELL_STATUS_UNAVAILABLE &&
				st != CELL_STATUS_DEADLINE_EXCEEDED && st != CELL_STATUS_CANCELLED;
		if (call->c->res && !call->oneway)
			cell_resilience_outcome(call->c->res, call->have_rx, st);
		return st;
	}
	if (!call || call->state == CALL_FREE || call->state == CALL_BEGUN)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "call not submitted");
	c = call->c;
	/* The server may sleep on a batch this call ends (CELL_CALL_MORE). */
	if (atomic_load_explicit(&c->unkicked, memory_order_relaxed))
		publish_for_wait(c);
	if (!call->oneway)
		wait_done(call);
	if (!call_done(call)) {
		pthread_mutex_lock(&c->lock);
		if (!call_done(call))
			finish_locked(call, CELL_STATUS_DEADLINE_EXCEEDED);
		pthread_mutex_unlock(&c->lock);
		(void)cell_chan_send_control(&c->ch, CELL_F_CANCEL, call->method, call->id);
	}
	if (call->have_rx) {
		pthread_mutex_lock(&c->lock);
		call->viewed = true; /* from now on evict_locked() leaves it alone */
		pthread_mutex_unlock(&c->lock);
	}
	if (c->res && !call->oneway)
		cell_resilience_outcome(c->res, call->have_rx, call->status);
	if (resp)
		fill_response(call, resp);
	if (call->status != CELL_STATUS_OK) {
		if (resp && resp->detail)
			cell_fail(call->status, "%.*s", (int)resp->detail_len, resp->detail);
		else
			cell_fail(call->status, "%s", cell_status_name(call->status));
	}
	return call->status;
}

enum cell_status cell_call_finish(struct cell_call *call, uint32_t len, struct cell_response *resp)
{
	enum cell_status st = cell_call_submit(call, len);

	if (st != CELL_STATUS_OK) {
		if (resp) {
			memset(resp, 0, sizeof(*resp));
			resp->status = st;
		}
		return st;
	}
	return cell_call_wait(call, resp);
}

void cell_call_end(struct cell_call *call)
{
	struct cell_client *c;

	if (call && call->q) {
		cell_qc_end(call->q);
		free(call);
		return;
	}
	if (!call || call->state == CALL_FREE)
		return;
	c = call->c;
	if (call->state == CALL_BEGUN) {
		cell_chan_tx_abort(&c->ch);
		unlock_send(c);
	}
	/* Told while the call still counts as in flight: no reconnect swaps the channel. */
	if (call->state == CALL_SUBMITTED && atomic_load(&c->connected))
		(void)cell_chan_send_control(&c->ch, CELL_F_CANCEL, call->method, call->id);
	pthread_mutex_lock(&c->lock);
	if (call->state == CALL_SUBMITTED)
		call->status = CELL_STATUS_CANCELLED;
	if (c->o.metrics && !call->oneway)
		cell_metrics_record(c->o.metrics, call->method, call->status,
				    cell_now_ns() - call->t0);
	if (call->have_rx) {
		bool was_full = c->pend_count == pend_cap(c);

		cell_chan_rx_done(&c->ch, &call->rx);
		if (call->pend_end)
			pend_finish(c, call->pend_end);
		if (was_full && c->pend_count < pend_cap(c))
			cell_ring_wake_all(&c->ch.rx); /* the reader stopped at a full FIFO */
		call->have_rx = false;
	}
	atomic_store_explicit(&call->state, CALL_FREE, memory_order_relaxed);
	c->inflight--;
	pthread_mutex_unlock(&c->lock);
}

uint32_t cell_call_id(const struct cell_call *call)
{
	if (call->q)
		return cell_qc_call_id(call->q);
	return call->oneway ? 0 : call->id;
}

int cell_client_cancel(struct cell_client *c, uint32_t id)
{
	struct cell_call *call;
	uint16_t method;

	if (!c || !id)
		return -ENOENT;
#ifdef CELL_HAVE_QUIC
	if (c->qc)
		return cell_qc_cancel(c->qc, id);
#endif
	pthread_mutex_lock(&c->lock);
	call = &c->calls[(id - 1) % c->nslots];
	if (call->id != id || call->state != CALL_SUBMITTED) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	method = call->method;
	finish_locked(call, CELL_STATUS_CANCELLED);
	/*
	 * Under the lock: the call's owner may end it as soon as it is done,
	 * and a reconnect may then replace the channel.  A reader asleep for
	 * this call wakes up and sees it done.
	 */
	if (c->ch.shm)
		cell_ring_wake_all(&c->ch.rx);
	else
		(void)!write(c->kick, &(uint64_t){ 1 }, sizeof(uint64_t));
	(void)cell_chan_send_control(&c->ch, CELL_F_CANCEL, method, id);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

enum cell_status cell_client_call_once(struct cell_client *c, uint16_t method, const void *req,
				       uint32_t req_len, void *resp, uint32_t cap,
				       uint32_t *resp_len, uint64_t deadline,
				       enum cell_call_phase *phase)
{
	struct cell_response r;
	struct cell_call *call;
	enum cell_status st;
	void *buf;

	*phase = CELL_PHASE_NOT_SENT;
	st = cell_call_begin(c, method, req_len, 0, deadline, &call, &buf);
	if (st) {
		if (refused_by_breaker)
			*phase = CELL_PHASE_REFUSED;
		return st;
	}
	if (req_len)
		memcpy(buf, req, req_len);
	/* A failed submit may still have sent the request: counted as sent. */
	*phase = CELL_PHASE_SENT;
	st = cell_call_finish(call, req_len, &r);
	if (call->have_rx)
		*phase = CELL_PHASE_ANSWERED;
	if (st == CELL_STATUS_OK) {
		if (resp_len)
			*resp_len = r.len;
		if (r.len > cap)
			st = cell_fail(CELL_STATUS_TOO_LARGE, "response of %u bytes, room for %u",
				       r.len, cap);
		else if (r.len)
			memcpy(resp, r.data, r.len);
	}
	cell_call_end(call);
	return st;
}

enum cell_status cell_client_call(struct cell_client *c, uint16_t method, const void *req,
				  uint32_t req_len, void *resp, uint32_t cap, uint32_t *resp_len,
				  uint64_t deadline)
{
	enum cell_call_phase phase;

	if (c && c->res)
		return cell_resilience_call(c, c->res, method, req, req_len, resp, cap, resp_len,
					    deadline);
	return cell_client_call_once(c, method, req, req_len, resp, cap, resp_len, deadline,
				     &phase);
}

/*
 * A one-way message needs no call slot: while connected it goes straight
 * into the request ring under the send lock (two locks less than a call,
 * which is what a stream of messages pays per message).  Anything else
 * (not connected, reconnecting, errors) takes the general path.
 */
enum cell_status cell_client_send(struct cell_client *c, uint16_t method, const void *req,
				  uint32_t len, uint64_t deadline)
{
	struct cell_hdr hdr = { .flags = CELL_F_REQUEST | CELL_F_ONEWAY, .method = method };
	struct cell_call *call;
	enum cell_status st;
	void *buf;
	int err;

	if (c && method < CELL_METHOD_CONTROL_BASE && len <= CELL_MAX_PAYLOAD &&
	    atomic_load_explicit(&c->connected, memory_order_acquire) && !c->o.reconnect &&
	    !(cell_trace_tls.active && (cell_trace_tls.ctx.flags & CELL_TRACE_F_SAMPLED))) {
		pthread_mutex_lock(&c->send_lock);
		buf = cell_chan_tx_begin(&c->ch, len, deadline, client_waiting_for_room, c);
		if (buf) {
			if (len)
				memcpy(buf, req, len);
			err = cell_chan_tx_commit(&c->ch, &hdr, len, deadline, client_alive, c);
			if (!err) {
				pthread_mutex_unlock(&c->send_lock);
				return CELL_STATUS_OK;
			}
			unlock_send(c);
			pthread_mutex_lock(&c->lock);
			if (err != -ETIMEDOUT)
				lost_locked(c);
			pthread_mutex_unlock(&c->lock);
			return cell_fail(err == -ETIMEDOUT ? CELL_STATUS_DEADLINE_EXCEEDED
							   : CELL_STATUS_UNAVAILABLE,
					 "%s: send: %s", c->path, strerror(-err));
		}
		err = errno;
		unlock_send(c);
		if (err == ETIMEDOUT)
			return cell_fail(CELL_STATUS_DEADLINE_EXCEEDED,
					 "%s: one-way message of %u bytes: %s", c->path, len,
					 strerror(err));
		/* Other failures: the general path reports them the usual way. */
	}
	/* Under a policy, a message not sent yet is retried (each reconnect paced). */
	for (uint32_t tries = 0;; tries++) {
		st = cell_call_begin(c, method, len, CELL_CALL_ONEWAY, deadline, &call, &buf);
		if (st != CELL_STATUS_UNAVAILABLE || !c || !c->res || refused_by_breaker ||
		    tries >= cell_resilience_retries(c->res))
			break;
	}
	if (st)
		return st;
	if (len)
		memcpy(buf, req, len);
	st = cell_call_submit(call, len);
	cell_call_end(call);
	return st;
}

void cell_client_flush(struct cell_client *c)
{
	if (!c || c->qc)
		return;
	if (pthread_mutex_trylock(&c->send_lock)) {
		if (thread_holds_send_lock(c)) {
			kick_locked(c); /* its own call begun: the lock is this thread's */
			return;
		}
		pthread_mutex_lock(&c->send_lock);
	}
	flush_and_unlock(c);
}

/*
 * The batch's fast path (send lock held): the server woken once at the end.
 * Return: 0 or the negative errno of message *@sent; *@lost: the
 * connection is gone (lost_locked() is the caller's, without the send lock).
 */
static int send_batch_locked(struct cell_client *c, uint16_t method, const struct cell_msg *msgs,
			     unsigned int n, unsigned int *sent, uint64_t deadline, bool *lost)
{
	int err = 0;

	c->ch.tx_more = true;
	for (; *sent < n; ++*sent) {
		struct cell_hdr hdr = { .flags = CELL_F_REQUEST | CELL_F_ONEWAY, .method = method };
		const struct cell_msg *m = &msgs[*sent];
		void *buf =
			cell_chan_tx_begin(&c->ch, m->len, deadline, client_waiting_for_room, c);

		if (!buf) {
			err = -errno;
			*lost = err == -EPIPE || err == -EBADMSG;
			break;
		}
		if (m->len)
			memcpy(buf, m->data, m->len);
		err = cell_chan_tx_commit(&c->ch, &hdr, m->len, deadline, client_alive, c);
		if (err) {
			*lost = err != -ETIMEDOUT;
			break;
		}
	}
	c->ch.tx_more = false;
	cell_chan_kick(&c->ch); /* what went out before a failure is delivered too */
	return err;
}

enum cell_status cell_client_send_batch(struct cell_client *c, uint16_t method,
					const struct cell_msg *msgs, unsigned int n,
					unsigned int *sent, uint64_t deadline)
{
	enum cell_status st = CELL_STATUS_OK;
	unsigned int done = 0;
	bool lost = false;
	int err;

	if (!c || (n && !msgs))
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "bad batch arguments");
	for (unsigned int i = 0; i < n; i++)
		if (msgs[i].len > CELL_MAX_PAYLOAD)
			return cell_fail(CELL_STATUS_TOO_LARGE, "message %u: %u bytes", i,
					 msgs[i].len);
	if (method < CELL_METHOD_CONTROL_BASE && !c->qc &&
	    atomic_load_explicit(&c->connected, memory_order_acquire) && !c->o.reconnect &&
	    !(cell_trace_tls.active && (cell_trace_tls.ctx.flags & CELL_TRACE_F_SAMPLED))) {
		pthread_mutex_lock(&c->send_lock);
		err = send_batch_locked(c, method, msgs, n, &done, deadline, &lost);
		pthread_mutex_unlock(&c->send_lock);
		if (lost) {
			pthread_mutex_lock(&c->lock);
			lost_locked(c);
			pthread_mutex_unlock(&c->lock);
		}
		if (err)
			st = cell_fail(lost		   ? CELL_STATUS_UNAVAILABLE
				       : err == -ETIMEDOUT ? CELL_STATUS_DEADLINE_EXCEEDED
							   : status_of(err),
				       "%s: one-way message %u of %u: %s", c->path, done, n,
				       strerror(-err));
	} else {
		/* Reconnects, tracing, QUIC: one message at a time, each the usual way. */
		for (; done < n && st == CELL_STATUS_OK; done += st == CELL_STATUS_OK)
			st = cell_client_send(c, method, msgs[done].data, msgs[done].len, deadline);
	}
	if (sent)
		*sent = done;
	return st;
}

/* ---- control methods -------------------------------------------------- */

enum cell_status cell_client_control(struct cell_client *c, uint16_t method, const void *req,
				     uint32_t req_len, void **resp, uint32_t *resp_len,
				     uint64_t deadline)
{
	struct cell_response r;
	struct cell_call *call;
	enum cell_status st;
	void *buf;

	*resp = NULL;
	*resp_len = 0;
	if (!callable_control(method))
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "0x%04x is not a control call",
				 method);
	st = cell_call_begin(c, method, req_len, 0, deadline, &call, &buf);
	if (st)
		return st;
	if (req_len)
		memcpy(buf, req, req_len);
	st = cell_call_finish(call, req_len, &r);
	if (st == CELL_STATUS_OK && r.len) {
		*resp = malloc(r.len);
		if (*resp) {
			memcpy(*resp, r.data, r.len);
			*resp_len = r.len;
		} else {
			st = cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		}
	}
	cell_call_end(call);
	return st;
}

enum cell_status cell_client_metrics(struct cell_client *c, struct cell_metrics_snapshot **out,
				     uint64_t deadline)
{
	uint8_t want[sizeof(struct cell_metrics_request)];
	const char *why;
	enum cell_status st;
	uint32_t len;
	void *resp;
	int err;

	*out = NULL;
	/* Version 2 (the gauges); an older server ignores the request: version 1. */
	cell_put_le32(want, CELL_METRICS_WIRE_VERSION_GAUGES);
	cell_put_le32(want + 4, 0);
	st = cell_client_control(c, CELL_METHOD_METRICS, want, sizeof(want), &resp, &len, deadline);
	if (st)
		return st;
	err = cell_metrics_decode(resp, len, out, &why);
	free(resp);
	if (err == -ENOMEM)
		return cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	if (err)
		return cell_fail(CELL_STATUS_BAD_MESSAGE, "%s: %s", c->path, why);
	return CELL_STATUS_OK;
}

enum cell_status cell_client_spans(struct cell_client *c, const uint8_t *trace_id,
				   struct cell_span **out, size_t *n, uint64_t deadline)
{
	const char *why;
	enum cell_status st;
	uint32_t len;
	void *resp;
	int err;

	*out = NULL;
	*n = 0;
	st = cell_client_control(c, CELL_METHOD_SPANS, trace_id, trace_id ? 16 : 0, &resp, &len,
				 deadline);
	if (st)
		return st;
	err = cell_spans_decode(resp, len, out, n, NULL, &why);
	free(resp);
	if (err == -ENOMEM)
		return cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	if (err)
		return cell_fail(CELL_STATUS_BAD_MESSAGE, "%s: %s", c->path, why);
	return CELL_STATUS_OK;
}
