// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * <linux/cell.h> standalone: compiled as C11 (this file) and as C++17
 * (uapi_test.cpp includes it) with nothing but -I uapi, then checks the
 * offset of every wire field, so a reordered field fails here even when the
 * total size still matches.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/cell.h>

_Static_assert(sizeof(struct cell_hdr) == 20, "");

#define CHECK(expr) check(expr, #expr)

static int failures, count;

static void check(int ok, const char *what)
{
	count++;
	printf("%s %d %s\n", ok ? "ok" : "not ok", count, what);
	failures += !ok;
}

int main(void)
{
	printf("TAP version 13\n");
	CHECK(offsetof(struct cell_hdr, version) == 0);
	CHECK(offsetof(struct cell_hdr, flags) == 1);
	CHECK(offsetof(struct cell_hdr, method) == 2);
	CHECK(offsetof(struct cell_hdr, correlation) == 4);
	CHECK(offsetof(struct cell_hdr, len) == 8);
	CHECK(offsetof(struct cell_hdr, fingerprint_lo) == 12);
	CHECK(offsetof(struct cell_hdr, fingerprint_hi) == 16);
	CHECK(sizeof(struct cell_error) == 8);
	CHECK(offsetof(struct cell_hello, request_ring) == 16);
	CHECK(sizeof(struct cell_hello) == sizeof(struct cell_welcome));
	CHECK(sizeof(struct cell_ring_record) == 8);
	CHECK(sizeof(struct cell_ring_producer) == 64);
	CHECK(sizeof(struct cell_ring_consumer) == 64);
	CHECK(offsetof(struct cell_ring_producer, wake) == 8);
	CHECK(CELL_RING_OFF_DATA == 3 * CELL_RING_PAGE);
	CHECK(sizeof(struct cell_pheromone) == 256);
	CHECK(offsetof(struct cell_pheromone, name) == 24);
	CHECK(sizeof(struct cell_endpoint) == 20);
	CHECK(_IOC_NR(CELL_IOC_RING_WAIT) == 3);
	CHECK(_IOC_SIZE(CELL_IOC_RING_CREATE) == sizeof(struct cell_ring_create));
	printf("1..%d\n", count);
	return failures ? 1 : 0;
}
