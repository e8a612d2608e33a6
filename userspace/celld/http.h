/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * celld's HTTP module (http.c): Prometheus text format 0.0.4 at /metrics,
 * /healthz from each cell's PING; -o http=ADDR:PORT turns it on.
 */
#ifndef CELLD_HTTP_H
#define CELLD_HTTP_H

struct celld;

int celld_http_start(struct celld *d);
void celld_http_stop(struct celld *d);

#endif /* CELLD_HTTP_H */
