// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The UART transport (cell/uart.h): COBS frames with a CRC-32 on a serial
 * line or a TCP socket to an emulator's serial port, as mcu/ speaks them.
 *
 * This is the host's own implementation of the framing (not mcu/'s code):
 * selftests/mcu/ checks the two against each other and against the board.
 * Everything read is untrusted: the decoder is bounded by the largest
 * frame the board may send, drops what does not decode, fails the CRC or
 * the header rules, and resynchronises at the next 0x00.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cell/time.h>
#include <cell/uart.h>

#include "crc32.h"
#include "framed_link.h"
#include "rpc_internal.h"

#define UART_CRC_SIZE 4
/* Frames sit 4 bytes into their buffer: the payload is 8-byte aligned. */
#define UART_PAD 4

struct cell_uart {
	int fd;
	pthread_mutex_t lock;
	uint64_t fingerprint;
	uint32_t max_payload;
	uint32_t next_id;
	struct cell_uart_stats stats;
	/* Decoder state. */
	uint8_t *rx; /* UART_PAD + the largest frame */
	size_t rx_cap, rx_len;
	uint8_t left, zero, started, skip;
	uint8_t in[4096];
	size_t in_pos, in_len;
	/* Encoder buffers. */
	uint8_t *frame;		  /* header + payload + CRC */
	uint8_t *tx;		  /* its COBS encoding + delimiter */
	struct cell_framed_io io; /* pipeline, call, send, recv (framed_link.c) */
};

CELL_FRAMED_OP_CHECK(struct cell_uart_op);

/* COBS: blocks of up to 254 non-zero bytes; see mcu/src/cobs.c. */
static size_t cobs_encode(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0, o = 0;

	for (;;) {
		size_t j = i;

		while (j < n && src[j] && j - i < 254)
			j++;
		dst[o++] = (uint8_t)(j - i + 1);
		memcpy(dst + o, src + i, j - i);
		o += j - i;
		if (j >= n)
			return o;
		i = j - i == 254 ? j : j + 1;
	}
}

static enum cell_status write_all(struct cell_uart *u, const uint8_t *p, size_t n,
				  uint64_t deadline)
{
	while (n) {
		ssize_t w = write(u->fd, p, n);
		struct pollfd pfd = { .fd = u->fd, .events = POLLOUT };
		int r;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return cell_fail(CELL_STATUS_UNAVAILABLE, "uart: write: %s",
					 strerror(errno));
		r = poll(&pfd, 1, cell_framed_poll_ms(deadline));
		if (r == 0)
			return cell_fail(CELL_STATUS_DEADLINE_EXCEEDED, "uart: the line did not "
									"take the frame in time");
		if (r < 0 && errno != EINTR)
			return cell_fail(CELL_STATUS_UNAVAILABLE, "uart: poll: %s",
					 strerror(errno));
	}
	return CELL_STATUS_OK;
}

/* struct cell_framed_io's send; @t is the cell_uart. */
static enum cell_status send_frame(void *t, uint8_t flags, uint16_t method, uint32_t corr,
				   const void *payload, uint32_t len, uint64_t deadline)
{
	struct cell_uart *u = t;
	struct cell_hdr hdr = {
		.version = CELL_WIRE_VERSION,
		.flags = flags,
		.method = method,
		.correlation = corr,
		.len = len,
	};
	size_t n = CELL_HDR_SIZE + (size_t)len, e;
	uint32_t crc;
	enum cell_status st;

	if (len > u->max_payload)
		return cell_fail(CELL_STATUS_TOO_LARGE,
				 "uart: request of %u bytes, the board takes %u at most", len,
				 u->max_payload);
	cell_hdr_set_fingerprint(&hdr, u->fingerprint);
	cell_hdr_encode(&hdr, u->frame);
	if (len)
		memcpy(u->frame + CELL_HDR_SIZE, payload, len);
	crc = cell_crc32(u->frame, n);
	for (int i = 0; i < 4; i++)
		u->frame[n + i] = (uint8_t)(crc >> (8 * i));
	e = cobs_encode(u->tx, u->frame, n + UART_CRC_SIZE);
	u->tx[e++] = 0;
	st = write_all(u, u->tx, e, deadline);
	if (st == CELL_STATUS_OK)
		u->stats.frames_sent++;
	return st;
}

static void rx_reset(struct cell_uart *u)
{
	u->rx_len = 0;
	u->left = 0;
	u->zero = 0;
	u->started = 0;
}

/* One byte into the decoder: the frame's length when @b ends one, else 0. */
static size_t rx_byte(struct cell_uart *u, uint8_t b)
{
	uint8_t *buf = u->rx + UART_PAD;
	size_t n;

	if (b == 0) {
		n = u->skip || !u->started ? 0 : u->left ? SIZE_MAX : u->rx_len;
		u->skip = 0;
		rx_reset(u);
		if (n == SIZE_MAX) {
			u->stats.bad_frames++; /* a block cut short */
			n = 0;
		}
		return n;
	}
	if (u->skip)
		return 0;
	if (!u->started || !u->left) {
		if (u->zero) {
			if (u->rx_len >= u->rx_cap)
				goto overflow;
			buf[u->rx_len++] = 0;
		}
		u->started = 1;
		u->left = (uint8_t)(b - 1);
		u->zero = b != 0xff;
		return 0;
	}
	if (u->rx_len >= u->rx_cap)
		goto overflow;
	buf[u->rx_len++] = b;
	u->left--;
	return 0;
overflow:
	u->stats.bad_frames++;
	rx_reset(u);
	u->skip = 1;
	return 0;
}

/*
 * The next well-formed frame: header in *@hdr, payload at *@payload (in
 * u->rx, valid until the next read).  Broken frames are counted, dropped.
 */
/* struct cell_framed_io's recv; @t is the cell_uart. */
static enum cell_status recv_frame(void *t, struct cell_hdr *hdr, const uint8_t **payload,
				   uint64_t deadline)
{
	struct cell_uart *u = t;

	for (;;) {
		while (u->in_pos < u->in_len) {
			size_t n = rx_byte(u, u->in[u->in_pos++]);

			if (!n)
				continue;
			if (cell_framed_decode(u->rx + UART_PAD, n, u->max_payload, hdr, payload)) {
				u->stats.bad_frames++;
				continue;
			}
			u->stats.frames_received++;
			return CELL_STATUS_OK;
		}
		for (;;) {
			struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
			ssize_t r = read(u->fd, u->in, sizeof(u->in));

			if (r > 0) {
				u->in_pos = 0;
				u->in_len = (size_t)r;
				break;
			}
			if (r == 0)
				return cell_fail(CELL_STATUS_UNAVAILABLE, "uart: the line closed");
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return cell_fail(CELL_STATUS_UNAVAILABLE, "uart: read: %s",
						 strerror(errno));
			r = poll(&pfd, 1, cell_framed_poll_ms(deadline));
			if (r == 0)
				return cell_fail(CELL_STATUS_DEADLINE_EXCEEDED, "uart: no answer "
										"from the board in "
										"time");
			if (r < 0 && errno != EINTR)
				return cell_fail(CELL_STATUS_UNAVAILABLE, "uart: poll: %s",
						 strerror(errno));
		}
	}
}

enum cell_status cell_uart_pipeline(struct cell_uart *u, struct cell_uart_op *ops, unsigned int n,
				    uint64_t deadline)
{
	return cell_framed_pipeline(u ? &u->io : NULL, "uart", ops, n, deadline);
}

enum cell_status cell_uart_call(struct cell_uart *u, uint16_t method, const void *req,
				uint32_t req_len, void *resp, uint32_t cap, uint32_t *resp_len,
				uint64_t deadline)
{
	return cell_framed_call(u ? &u->io : NULL, "uart", method, req, req_len, resp, cap,
				resp_len, deadline);
}

enum cell_status cell_uart_recv(struct cell_uart *u, struct cell_hdr *hdr, void *payload,
				uint32_t cap, uint64_t deadline)
{
	return cell_framed_recv(u ? &u->io : NULL, "uart", hdr, payload, cap, deadline);
}

enum cell_status cell_uart_send(struct cell_uart *u, uint16_t method, const void *req,
				uint32_t req_len, uint64_t deadline)
{
	return cell_framed_send(u ? &u->io : NULL, "uart", method, req, req_len, deadline);
}

/* ---- opening ------------------------------------------------------------- */

static int open_tcp(const char *spec, uint64_t deadline)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	int fd = -1, err, one = 1;
	size_t hlen;

	if (!colon || colon == spec || (hlen = (size_t)(colon - spec)) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hlen);
	host[hlen] = 0;
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = 0;
	}
	err = getaddrinfo(host, colon + 1, &hints, &ai);
	if (err)
		return -EINVAL;
	for (;;) {
		err = -ECONNREFUSED;
		for (struct addrinfo *a = ai; a; a = a->ai_next) {
			fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
			if (fd < 0) {
				err = -errno;
				continue;
			}
			if (!connect(fd, a->ai_addr, a->ai_addrlen))
				goto connected;
			err = -errno;
			close(fd);
			fd = -1;
		}
		/* qemu may not listen yet: retry until the deadline. */
		if (err != -ECONNREFUSED || cell_now_ns() >= deadline)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}
	freeaddrinfo(ai);
	return err;
connected:
	freeaddrinfo(ai);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int open_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static speed_t baud_speed(uint32_t baud)
{
	static const struct {
		uint32_t baud;
		speed_t speed;
	} map[] = {
		{ 9600, B9600 },       { 19200, B19200 },     { 38400, B38400 },
		{ 57600, B57600 },     { 115200, B115200 },   { 230400, B230400 },
		{ 460800, B460800 },   { 921600, B921600 },   { 1000000, B1000000 },
		{ 2000000, B2000000 }, { 3000000, B3000000 }, { 4000000, B4000000 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].baud == baud)
			return map[i].speed;
	return 0;
}

static int open_tty(const char *path, uint32_t baud)
{
	struct termios t;
	speed_t speed = baud_speed(baud);
	int fd, err;

	if (!speed)
		return -EINVAL;
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &t)) {
		err = -errno;
		close(fd);
		return err;
	}
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(CSTOPB | PARENB | CRTSCTS);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, speed) || cfsetospeed(&t, speed) || tcsetattr(fd, TCSANOW, &t)) {
		err = -errno;
		close(fd);
		return err;
	}
	tcflush(fd, TCIOFLUSH);
	return fd;
}

struct cell_uart *cell_uart_open(const char *target, const struct cell_uart_opts *opts)
{
	struct cell_uart_opts o = { 0 };
	struct cell_uart *u;
	uint64_t deadline;
	size_t frame_max;
	int fd, err;

	cell_clear_error();
	if (opts) {
		if (opts->sz < sizeof(size_t)) {
			cell_fail(CELL_STATUS_INVALID_ARGUMENT, "uart: opts.sz not set");
			errno = EINVAL;
			return NULL;
		}
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	if (!o.baud)
		o.baud = 115200;
	if (!o.max_payload)
		o.max_payload = CELL_UART_DEFAULT_MAX_PAYLOAD;
	if (!target || !*target || o.max_payload > (1U << 24)) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT, "uart: no target, or max_payload over 16 "
							"MiB");
		errno = EINVAL;
		return NULL;
	}
	deadline = o.open_deadline ? o.open_deadline : cell_deadline_in_ms(5000);
	if (!strncmp(target, "tcp:", 4))
		fd = open_tcp(target + 4, deadline);
	else if (!strncmp(target, "unix:", 5))
		fd = open_unix(target + 5);
	else
		fd = open_tty(target, o.baud);
	if (fd < 0) {
		cell_fail(cell_errno_status(-fd), "uart: cannot open %s: %s", target,
			  strerror(-fd));
		errno = -fd;
		return NULL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	frame_max = CELL_HDR_SIZE + (size_t)o.max_payload + UART_CRC_SIZE;
	if (u) {
		u->rx = aligned_alloc(8, (UART_PAD + frame_max + 7) & ~(size_t)7);
		u->frame = malloc(frame_max);
		u->tx = malloc(frame_max + frame_max / 254 + 2);
	}
	if (!u || !u->rx || !u->frame || !u->tx) {
		if (u) {
			free(u->rx);
			free(u->frame);
			free(u->tx);
		}
		free(u);
		close(fd);
		cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "uart: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	u->fd = fd;
	u->fingerprint = o.fingerprint;
	u->max_payload = o.max_payload;
	u->rx_cap = frame_max;
	pthread_mutex_init(&u->lock, NULL);
	u->io = (struct cell_framed_io){
		.t = u,
		.send = send_frame,
		.recv = recv_frame,
		.lock = &u->lock,
		.next_id = &u->next_id,
		.stray = &u->stats.stray,
		.fingerprint = u->fingerprint,
		.max_payload = u->max_payload,
		.window = UINT_MAX, /* all requests first, then the answers */
		.tag = "uart",
		.peer = "board"
	};
	/* A delimiter: the board drops any partial frame it holds. */
	if (write_all(u, (const uint8_t[]){ 0 }, 1, deadline) != CELL_STATUS_OK) {
		err = errno ? errno : EIO;
		cell_uart_close(u);
		errno = err;
		return NULL;
	}
	return u;
}

void cell_uart_close(struct cell_uart *u)
{
	if (!u)
		return;
	close(u->fd);
	pthread_mutex_destroy(&u->lock);
	free(u->rx);
	free(u->frame);
	free(u->tx);
	free(u);
}

int cell_uart_fd(const struct cell_uart *u)
{
	return u ? u->fd : -1;
}

void cell_uart_get_stats(struct cell_uart *u, struct cell_uart_stats *st)
{
	pthread_mutex_lock(&u->lock);
	*st = u->stats;
	pthread_mutex_unlock(&u->lock);
}

/* ---- a local cell in front of the board ------------------------------------ */

struct cell_server *cell_uart_serve_as(struct cell_uart *u, const char *name,
				       const uint16_t *methods, unsigned int n,
				       const struct cell_server_opts *opts)
{
	if (!u) {
		errno = EINVAL;
		return NULL;
	}
	return cell_framed_serve_as(&u->io, name, methods, n, opts);
}
