// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld module "logs" (logs.h): the cells' stdout and stderr, read from
 * pipes on celld's loop into one bounded ring per cell (logring.c), and
 * nucleus method 12 "logs" reading them back.
 *
 * A cell that writes faster than celld reads never slows celld down: the
 * read ends are non-blocking, each wakeup reads at most READ_CHUNK bytes
 * (so a spewing cell takes turns with everything else on the loop), and
 * the ring evicts its oldest records rather than grow.  The cell itself
 * blocks on its full pipe, as it would on a slow terminal.  Memory per
 * cell: the ring, plus one partial line per open pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cell/rpc.h>

#include "celld.h"
#include "logring.h"
#include "logs.h"
#include "nucleus.cell.h"

#define READ_CHUNK (64U << 10)
/* Bytes of records in one answer: under the 64 KiB a socket frame holds. */
#define ANSWER_BUDGET (60U << 10)

struct log_pipe {
	uv_poll_t poll;
	int fd;
	struct celld_cell_log *log;
	struct log_pipe *next; /* in log->pipes */
	struct logring_stream_state st;
};

struct celld_cell_log {
	char name[64];
	struct celld *d;
	struct logring *ring;
	uint32_t instance;	     /* starts so far */
	int read_fd[2], write_fd[2]; /* between _pipes() and _started(); -1 otherwise */
	struct log_pipe *pipes;	     /* being read */
	struct celld_cell_log *next;
};

static struct celld_cell_log *logs;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static struct celld_cell_log *find_log(const char *name)
{
	for (struct celld_cell_log *l = logs; l; l = l->next)
		if (!strcmp(l->name, name))
			return l;
	return NULL;
}

struct celld_cell_log *celld_cell_log_open(struct celld *d, const char *name, uint32_t size)
{
	struct celld_cell_log *l = find_log(name);

	if (l)
		return l;
	if (strlen(name) >= sizeof(l->name)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->ring = logring_new(size);
	if (!l->ring) {
		free(l);
		return NULL;
	}
	strcpy(l->name, name);
	l->d = d;
	l->read_fd[0] = l->read_fd[1] = l->write_fd[0] = l->write_fd[1] = -1;
	l->next = logs;
	logs = l;
	return l;
}

int celld_cell_log_pipes(struct celld_cell_log *l, int *out_fd, int *err_fd)
{
	int err;

	for (int i = 0; i < 2; i++) {
		int p[2];

		close_fd(&l->read_fd[i]);
		close_fd(&l->write_fd[i]);
		if (pipe2(p, O_CLOEXEC))
			goto out_close;
		if (fcntl(p[0], F_SETFL, O_NONBLOCK)) {
			close(p[0]);
			close(p[1]);
			goto out_close;
		}
		l->read_fd[i] = p[0];
		l->write_fd[i] = p[1];
	}
	*out_fd = l->write_fd[0];
	*err_fd = l->write_fd[1];
	return 0;
out_close:
	err = -errno;
	close_fd(&l->read_fd[0]);
	close_fd(&l->write_fd[0]);
	return err;
}

static void pipe_closed(uv_handle_t *h)
{
	free(h->data);
}

/* The pipe's end (or an error): its partial line is kept, the pipe goes. */
static void end_pipe(struct log_pipe *p)
{
	struct log_pipe **pp = &p->log->pipes;

	logring_stream_end(&p->st);
	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	uv_poll_stop(&p->poll);
	uv_close((uv_handle_t *)&p->poll, pipe_closed);
	close_fd(&p->fd);
}

static void on_pipe(uv_poll_t *h, int status, int events)
{
	static char buf[READ_CHUNK];
	struct log_pipe *p = h->data;
	ssize_t n;

	(void)events;
	if (status < 0) {
		end_pipe(p);
		return;
	}
	n = read(p->fd, buf, sizeof(buf));
	if (n > 0)
		logring_stream_feed(&p->st, buf, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		end_pipe(p);
}

static void read_pipe(struct celld_cell_log *l, int i, pid_t pid)
{
	struct log_pipe *p = malloc(sizeof(*p));

	if (!p || uv_poll_init(l->d->loop, &p->poll, l->read_fd[i])) {
		celld_log("logs %s: cannot read its %s: %s", l->name, i ? "stderr" : "stdout",
			  p ? "uv_poll_init failed" : strerror(ENOMEM));
		free(p);
		close_fd(&l->read_fd[i]);
		return;
	}
	p->fd = l->read_fd[i];
	l->read_fd[i] = -1;
	p->log = l;
	p->poll.data = p;
	logring_stream_init(&p->st, l->ring, i ? LOGRING_STDERR : LOGRING_STDOUT, pid, l->instance);
	p->next = l->pipes;
	l->pipes = p;
	uv_poll_start(&p->poll, UV_READABLE, on_pipe);
}

void celld_cell_log_started(struct celld_cell_log *l, pid_t pid)
{
	close_fd(&l->write_fd[0]);
	close_fd(&l->write_fd[1]);
	if (pid <= 0) {
		close_fd(&l->read_fd[0]);
		close_fd(&l->read_fd[1]);
		return;
	}
	l->instance++;
	read_pipe(l, 0, pid);
	read_pipe(l, 1, pid);
}

/* ---- nucleus method 12: logs ------------------------------------------ */

static uint64_t record_bytes(const struct logring_record *rec)
{
	return NUCLEUS_LOG_RECORD_SIZE + rec->len + 8;
}

struct fit {
	uint32_t n;
	uint64_t bytes;
	bool more;
};

static bool count_fit(const struct logring_record *rec, void *ctx)
{
	struct fit *f = ctx;

	if (f->n && f->bytes + record_bytes(rec) > ANSWER_BUDGET) {
		f->more = true;
		return false;
	}
	f->n++;
	f->bytes += record_bytes(rec);
	return true;
}

struct fill {
	struct cellc_builder *b;
	struct nucleus_log_record *recs;
	uint32_t i, n;
};

static bool fill_one(const struct logring_record *rec, void *ctx)
{
	struct fill *f = ctx;
	struct nucleus_log_record *r = &f->recs[f->i++];

	r->seq = rec->seq;
	r->time_ns = rec->time_ns;
	r->pid = rec->pid;
	r->instance = rec->instance;
	r->stream = rec->stream;
	r->flags = rec->flags;
	(void)nucleus_log_record_set_line(f->b, r, rec->line, rec->len);
	return f->i < f->n;
}

static enum cell_status refuse(struct cell_reply *reply, enum cell_status st, const char *why)
{
	if (reply && cell_reply_error(reply, st, why))
		return CELL_STATUS_INTERNAL;
	return st;
}

static enum cell_status answer(struct cell_reply *reply, struct celld_cell_log *l,
			       const struct nucleus_log_query *q)
{
	struct fit fit = { 0 };
	struct fill fill = { 0 };
	struct nucleus_log_batch *batch;
	struct logring_stats st;
	struct cellc_builder b;

	logring_read(l->ring, q->after_seq, q->last, count_fit, &fit);
	logring_stats(l->ring, &st);
	batch = nucleus_log_batch_reply_begin(
		reply,
		NUCLEUS_LOG_BATCH_SIZE + cellc_span_max(fit.n, NUCLEUS_LOG_RECORD_SIZE) + fit.bytes,
		&b);
	if (!batch)
		return CELL_STATUS_RESOURCE_EXHAUSTED;
	batch->first_seq = st.first_seq;
	batch->next_seq = st.next_seq;
	batch->dropped = st.dropped;
	batch->dropped_bytes = st.dropped_bytes;
	batch->size = st.size;
	batch->used = st.used;
	batch->instance = l->instance;
	batch->more = fit.more;
	fill.b = &b;
	fill.n = fit.n;
	fill.recs = nucleus_log_batch_alloc_records(&b, batch, fit.n);
	if (fill.recs && fit.n)
		logring_read(l->ring, q->after_seq, q->last, fill_one, &fill);
	return cellc_reply_finish(reply, &b) ? CELL_STATUS_INTERNAL : CELL_STATUS_OK;
}

/*
 * A cell's output may hold what only its owner should read: root and
 * celld's own uid (whose cells these are) may read it.
 */
static enum cell_status on_logs(const struct cell_vesicle *v, struct cell_reply *reply, void *ctx)
{
	const struct nucleus_log_query *q = v->data;
	const char *why = "invalid request", *s;
	struct celld_cell_log *l;
	char name[64], err[160];
	uint32_t n;

	(void)ctx;
	if (nucleus_log_query_validate(v->data, v->len, &why))
		return refuse(reply, CELL_STATUS_BAD_MESSAGE, why);
	if (!reply)
		return CELL_STATUS_INVALID_ARGUMENT;
	s = nucleus_log_query_name(q, &n);
	if (!n || n >= sizeof(name) || memchr(s, '\0', n))
		return refuse(reply, CELL_STATUS_INVALID_ARGUMENT, "bad cell name");
	memcpy(name, s, n);
	name[n] = '\0';
	if (v->peer_uid != 0 && v->peer_uid != geteuid())
		return refuse(reply, CELL_STATUS_PERMISSION_DENIED,
			      "a cell's logs are for root and celld's uid");
	l = find_log(name);
	if (!l) {
		snprintf(err, sizeof(err), "celld supervises no cell '%s' (no log ring)", name);
		return refuse(reply, CELL_STATUS_NOT_FOUND, err);
	}
	return answer(reply, l, q);
}

int celld_logs_start(struct celld *d)
{
	if (cell_server_handle(d->nucleus, NUCLEUS_METHOD_LOGS, on_logs, d)) {
		celld_log("logs: nucleus method logs not served: %s", cell_last_error(NULL));
		return -EINVAL;
	}
	return 0;
}

void celld_logs_stop(struct celld *d)
{
	(void)d;
	while (logs) {
		struct celld_cell_log *l = logs;

		while (l->pipes)
			end_pipe(l->pipes);
		for (int i = 0; i < 2; i++) {
			close_fd(&l->read_fd[i]);
			close_fd(&l->write_fd[i]);
		}
		logs = l->next;
		logring_free(l->ring);
		free(l);
	}
}
