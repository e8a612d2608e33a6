// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The simulated board (sim_board.h): sensor_app on a Unix socket.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sensor_app.h"
#include "sim_board.h"

static struct sensor_app app;
static pthread_t thread;
static int listen_fd = -1;
static uint8_t out[1 << 16];
static size_t out_len;

static void sim_putc(void *hw, uint8_t b)
{
	int fd = *(int *)hw;

	out[out_len++] = b;
	if (out_len == sizeof(out)) {
		if (write(fd, out, out_len) != (ssize_t)out_len)
			return;
		out_len = 0;
	}
}

static int flush_out(int fd)
{
	size_t done = 0;

	while (done < out_len) {
		ssize_t w = write(fd, out + done, out_len - done);

		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	out_len = 0;
	return 0;
}

static void *board(void *arg)
{
	static int fd;
	static struct cell_mcu_uart uart = { .putc = sim_putc, .hw = &fd };
	struct cell_mcu_server *srv = &app.mcu.srv;
	uint8_t in[512];
	ssize_t n;

	(void)arg;
	fd = accept(listen_fd, NULL, NULL);
	if (fd < 0)
		return (void *)1;
	sensor_app_init(&app, &uart);
	while (!srv->stats.goodbyes && (n = read(fd, in, sizeof(in))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			cell_mcu_server_rx_byte(srv, in[i]);
			while (cell_mcu_server_serve(srv))
				;
		}
		if (flush_out(fd))
			break;
	}
	close(fd);
	return srv->stats.goodbyes ? NULL : (void *)1;
}

int sim_board_start(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(listen_fd, 1))
		return -errno;
	return pthread_create(&thread, NULL, board, NULL) ? -EAGAIN : 0;
}

int sim_board_join(uint32_t *frames, uint32_t *stalls)
{
	void *rc;

	pthread_join(thread, &rc);
	close(listen_fd);
	*frames = app.mcu.srv.stats.frames;
	*stalls = app.mcu.srv.stats.stalls;
	return rc ? -1 : 0;
}
