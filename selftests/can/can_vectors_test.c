// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * can_vectors_test VECTORS_DIR: selftests/vectors/can.tsv (written by
 * can_vectors.py from Documentation/can.rst alone) against both ends:
 *  - libcell's transport (cell_can_send_frame, cell_can_announce) on a
 *    socketpair bus: the exact CAN ids and data of every CAN-FD frame;
 *  - the MCU port's CAN server (cell_mcu_can_server_send, _announce),
 *    compiled for the host, through a capturing CAN driver (messages whose
 *    payload exceeds its CELL_MCU_MAX_PAYLOAD are skipped, said so);
 *  - the shared reassembler: the vector's frames give back the message
 *    and its CRC-32; the announcement decoder gives back the fields.
 * TAP, one line per vector and end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/can.h>

#include <cell/can.h>
#include <cell/time.h>

#include "cell_mcu.h"
#include "../vectors/tsv.h"

#define MAX_FRAMES 64
#define MAX_MSG	   4096

struct can_out {
	uint32_t id;
	uint8_t len;
	uint8_t data[64];
};

struct vec {
	char *name, *kind, *fields;
	uint8_t src, dst;
	uint8_t msg[MAX_MSG];
	size_t msg_len;
	struct can_out want[MAX_FRAMES];
	int nwant;
};

static int test_no;
static int failed;

static void tap(int ok, const char *side, const struct vec *v, const char *why)
{
	printf("%s %d %s %s%s%s\n", ok ? "ok" : "not ok", ++test_no, side, v->name, why ? ": " : "",
	       why ? why : "");
	if (!ok)
		failed = 1;
}

/* "0c014201#00 20 ... ; 0c014201#21 ..." into v->want. */
static int parse_frames(char *text, struct vec *v)
{
	char *save = NULL, *f;
	size_t n;

	for (f = strtok_r(text, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
		char *hash = strchr(f, '#'), *end;
		unsigned long id;

		if (!hash || v->nwant == MAX_FRAMES)
			return -1;
		*hash = '\0';
		id = strtoul(f, &end, 16);
		while (*end == ' ')
			end++;
		if (*end || id > CAN_EFF_MASK)
			return -1;
		while (hash[1] == ' ')
			hash++;
		n = strlen(hash + 1);
		while (n && hash[n] == ' ')
			hash[n--] = '\0';
		if (parse_hex(hash + 1, v->want[v->nwant].data, 64, &n))
			return -1;
		v->want[v->nwant].id = (uint32_t)id;
		v->want[v->nwant].len = (uint8_t)n;
		v->nwant++;
	}
	return v->nwant ? 0 : -1;
}

static int same(const struct vec *v, const struct can_out *got, int ngot, char *why, size_t cap)
{
	if (ngot != v->nwant) {
		snprintf(why, cap, "%d frames, want %d", ngot, v->nwant);
		return 0;
	}
	for (int i = 0; i < ngot; i++)
		if (got[i].id != v->want[i].id || got[i].len != v->want[i].len ||
		    memcmp(got[i].data, v->want[i].data, got[i].len)) {
			snprintf(why, cap, "frame %d: id %08x len %u, want id %08x len %u%s", i,
				 got[i].id, got[i].len, v->want[i].id, v->want[i].len,
				 got[i].id == v->want[i].id && got[i].len == v->want[i].len ? " ("
											      "data"
											      " dif"
											      "fer)"
											    : "");
			return 0;
		}
	return 1;
}

static void hdr_of(const uint8_t *b, struct cell_hdr *h)
{
	h->version = b[0];
	h->flags = b[1];
	h->method = (uint16_t)(b[2] | b[3] << 8);
	h->correlation = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
			 (uint32_t)b[7] << 24;
	h->len = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
		 (uint32_t)b[11] << 24;
	h->fingerprint_lo = (uint32_t)b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 |
			    (uint32_t)b[15] << 24;
	h->fingerprint_hi = (uint32_t)b[16] | (uint32_t)b[17] << 8 | (uint32_t)b[18] << 16 |
			    (uint32_t)b[19] << 24;
}

/* "name=sensor fingerprint=0x... slots=2 max_payload=640" */
static int parse_announce(const char *s, struct cell_mcu_can_announce *a)
{
	unsigned int slots, maxp;

	memset(a, 0, sizeof(*a));
	if (sscanf(s, "name=%32s fingerprint=0x%" SCNx64 " slots=%u max_payload=%u", a->name,
		   &a->fingerprint, &slots, &maxp) != 4 ||
	    slots > 255 || maxp > 0xffff)
		return -1;
	a->slots = (uint8_t)slots;
	a->max_payload = (uint16_t)maxp;
	a->name_len = (uint8_t)strlen(a->name);
	return 0;
}

/* ---- libcell ------------------------------------------------------------- */

static int drain(int fd, struct can_out *got)
{
	struct canfd_frame f;
	int n = 0;

	while (n < MAX_FRAMES && recv(fd, &f, sizeof(f), MSG_DONTWAIT) == (ssize_t)sizeof(f)) {
		got[n].id = f.can_id & CAN_EFF_MASK;
		got[n].len = f.len;
		memcpy(got[n].data, f.data, f.len <= 64 ? f.len : 64);
		if (!(f.can_id & CAN_EFF_FLAG))
			got[n].id = 0xffffffff; /* never wanted */
		n++;
	}
	return n;
}

static void lib_side(const struct vec *v)
{
	struct cell_can_opts o = {
		.sz = sizeof(o), .addr = v->src, .peer = v->dst, .max_payload = MAX_MSG
	};
	struct cell_mcu_can_announce a;
	struct can_out got[MAX_FRAMES];
	struct cell_hdr h;
	struct cell_can *u;
	char why[200] = "";
	int sv[2], ok;

	if (!strcmp(v->kind, "announce")) {
		if (parse_announce(v->fields, &a)) {
			tap(0, "libcell", v, "bad fields");
			return;
		}
		if (a.slots != 1) {
			printf("ok %d libcell %s # SKIP libcell announces 1 slot\n", ++test_no,
			       v->name);
			return;
		}
		o.fingerprint = a.fingerprint;
		o.max_payload = a.max_payload;
		o.peer = 0x7f; /* any: announcements go to everyone */
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv)) {
		tap(0, "libcell", v, strerror(errno));
		return;
	}
	u = cell_can_open_fd(sv[0], &o);
	if (!u) {
		close(sv[1]);
		tap(0, "libcell", v, "cell_can_open_fd failed");
		return;
	}
	if (!strcmp(v->kind, "announce")) {
		ok = cell_can_announce(u, a.name, cell_deadline_in_ms(2000)) == CELL_STATUS_OK;
	} else {
		hdr_of(v->msg, &h);
		ok = cell_can_send_frame(u, &h, v->msg + CELL_HDR_SIZE,
					 (uint32_t)(v->msg_len - CELL_HDR_SIZE),
					 cell_deadline_in_ms(2000)) == CELL_STATUS_OK;
	}
	if (!ok)
		snprintf(why, sizeof(why), "send failed");
	else
		ok = same(v, got, drain(sv[1], got), why, sizeof(why));
	tap(ok, "libcell", v, ok ? NULL : why);
	cell_can_close(u);
	close(sv[1]);
}

/* ---- the MCU port ---------------------------------------------------------- */

struct capture {
	struct can_out f[MAX_FRAMES];
	int n;
};

static int capture_send(void *hw, uint32_t id, const uint8_t *data, uint8_t len)
{
	struct capture *c = hw;

	if (c->n == MAX_FRAMES || len > 64)
		return -1;
	c->f[c->n].id = id;
	c->f[c->n].len = len;
	memcpy(c->f[c->n].data, data, len);
	c->n++;
	return 0;
}

static void mcu_side(const struct vec *v)
{
	static struct cell_mcu_can_server cs;
	struct capture cap = { .n = 0 };
	const struct cell_mcu_can can = { .send = capture_send, .hw = &cap };
	struct cell_mcu_can_announce a;
	struct cell_hdr h;
	char why[200] = "";
	int ok;

	if (!strcmp(v->kind, "announce")) {
		if (parse_announce(v->fields, &a)) {
			tap(0, "mcu", v, "bad fields");
			return;
		}
		if (a.slots != CELL_MCU_CAN_SLOTS || a.max_payload != CELL_MCU_MAX_PAYLOAD) {
			printf("ok %d mcu %s # SKIP the port announces %d slots, %d-byte "
			       "payloads\n",
			       ++test_no, v->name, CELL_MCU_CAN_SLOTS, CELL_MCU_MAX_PAYLOAD);
			return;
		}
		cell_mcu_can_server_init(&cs, &can, v->src, a.fingerprint, NULL, 0, NULL);
		ok = !cell_mcu_can_server_announce(&cs, a.name, a.name_len);
	} else {
		if (v->msg_len - CELL_HDR_SIZE > CELL_MCU_MAX_PAYLOAD) {
			printf("ok %d mcu %s # SKIP payload of %zu bytes > the port's %d\n",
			       ++test_no, v->name, v->msg_len - CELL_HDR_SIZE,
			       CELL_MCU_MAX_PAYLOAD);
			return;
		}
		hdr_of(v->msg, &h);
		cell_mcu_can_server_init(&cs, &can, v->src,
					 (uint64_t)h.fingerprint_hi << 32 | h.fingerprint_lo, NULL,
					 0, NULL);
		ok = cell_mcu_can_server_send(&cs, v->dst, &h, v->msg + CELL_HDR_SIZE,
					      (uint32_t)(v->msg_len - CELL_HDR_SIZE)) ==
		     CELL_MCU_OK;
	}
	if (!ok)
		snprintf(why, sizeof(why), "send failed");
	else
		ok = same(v, cap.f, cap.n, why, sizeof(why));
	tap(ok, "mcu", v, ok ? NULL : why);
}

/* ---- receiving: the shared reassembler and the announcement decoder ----- */

static void rx_side(const struct vec *v)
{
	static uint8_t buf[MAX_MSG + 4];
	struct cell_mcu_can_slot slot = { .buf = buf, .cap = sizeof(buf) };
	struct cell_mcu_can_announce want, got;
	struct cell_mcu_can_rx rx;
	uint32_t crc;
	int r = 0, ok;

	if (!strcmp(v->kind, "announce")) {
		ok = v->nwant == 1 && !parse_announce(v->fields, &want) &&
		     v->want[0].id == CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX,
						      CELL_MCU_CAN_KIND_ANNOUNCE,
						      CELL_MCU_CAN_BROADCAST, v->src) &&
		     cell_mcu_can_announce_decode(v->want[0].data, v->want[0].len, &got) ==
			     CELL_MCU_CAN_OK &&
		     got.fingerprint == want.fingerprint && got.slots == want.slots &&
		     got.max_payload == want.max_payload && got.name_len == want.name_len &&
		     !strcmp(got.name, want.name);
		tap(ok, "decode", v, ok ? NULL : "fields differ");
		return;
	}
	cell_mcu_can_rx_init(&rx, &slot, 1);
	for (int i = 0; i < v->nwant && r == 0; i++) {
		if (v->want[i].id !=
		    CELL_MCU_CAN_ID(CELL_MCU_CAN_PREFIX, CELL_MCU_CAN_KIND_SEGMENT, v->dst, v->src))
			break;
		r = cell_mcu_can_rx_segment(&rx, v->src, v->want[i].data, v->want[i].len);
		if (r && i != v->nwant - 1)
			r = -100; /* finished (or refused) early */
	}
	crc = cell_mcu_crc32(0, v->msg, v->msg_len);
	ok = r == 1 && slot.total == v->msg_len + 4 && !memcmp(buf, v->msg, v->msg_len) &&
	     buf[v->msg_len] == (uint8_t)crc && buf[v->msg_len + 1] == (uint8_t)(crc >> 8) &&
	     buf[v->msg_len + 2] == (uint8_t)(crc >> 16) &&
	     buf[v->msg_len + 3] == (uint8_t)(crc >> 24);
	tap(ok, "reassemble", v, ok ? NULL : "the frames do not give back message + CRC-32");
}

int main(int argc, char **argv)
{
	static struct vec v;
	char path[4096], line[65536], *cols[8];
	int nvec = 0, kinds = 0;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: can_vectors_test VECTORS_DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/can.tsv", argv[1]);
	f = fopen(path, "r");
	printf("TAP version 13\n");
	if (!f) {
		printf("1..1\nnot ok 1 open %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		memset(&v, 0, sizeof(v));
		if (split_tabs(line, cols, 8) != 7) {
			printf("not ok %d a line of 7 columns\n", ++test_no);
			failed = 1;
			continue;
		}
		v.name = cols[0];
		v.kind = cols[1];
		v.src = (uint8_t)strtoul(cols[2], NULL, 16);
		v.dst = (uint8_t)strtoul(cols[3], NULL, 16);
		v.fields = cols[4];
		if (parse_frames(cols[5], &v) ||
		    (!strcmp(v.kind, "message") &&
		     (parse_hex(cols[4], v.msg, sizeof(v.msg), &v.msg_len) ||
		      v.msg_len < CELL_HDR_SIZE)) ||
		    (strcmp(v.kind, "message") && strcmp(v.kind, "announce"))) {
			tap(0, "parse", &v, "bad vector");
			continue;
		}
		kinds |= !strcmp(v.kind, "message") ? 1 : 2;
		nvec++;
		lib_side(&v);
		mcu_side(&v);
		rx_side(&v);
	}
	fclose(f);
	printf("%s %d the file has message and announcement vectors (%d vectors)\n",
	       kinds == 3 && nvec >= 6 ? "ok" : "not ok", ++test_no, nvec);
	if (kinds != 3 || nvec < 6)
		failed = 1;
	printf("1..%d\n", test_no);
	return failed;
}
