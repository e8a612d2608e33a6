// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The pheromone filter of cell/pheromone.h: bpf/pheromone.bpf.c loaded from
 * its libbpf skeleton and attached with SO_ATTACH_BPF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cell/pheromone.h>
#include "pheromone_check.h"
#include "pheromone.skel.h"
#include "../rpc_internal.h"

_Static_assert((int)CELL_PHEROMONE_MALFORMED == (int)PH_DROP_MALFORMED, "verdicts follow "
									"ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_LENGTH == (int)PH_DROP_LENGTH, "verdicts follow ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_MAGIC == (int)PH_DROP_MAGIC, "verdicts follow ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_VERSION == (int)PH_DROP_VERSION, "verdicts follow "
									"ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_FLAGS == (int)PH_DROP_FLAGS, "verdicts follow ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_RESERVED == (int)PH_DROP_RESERVED, "verdicts follow "
									  "ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_TTL == (int)PH_DROP_TTL, "verdicts follow ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_ENDPOINTS == (int)PH_DROP_ENDPOINTS, "verdicts follow "
									    "ph_reason");
_Static_assert((int)CELL_PHEROMONE_BAD_NAME == (int)PH_DROP_NAME, "verdicts follow ph_reason");
_Static_assert((int)CELL_PHEROMONE_UNSUBSCRIBED == (int)PH_DROP_UNSUBSCRIBED, "verdicts follow "
									      "ph_reason");
_Static_assert((int)CELL_PHEROMONE_NR_VERDICTS == (int)PH_NR, "verdicts follow ph_reason");
_Static_assert(sizeof(((struct ph_sub_key *)0)->name) == CELL_NAME_MAX, "name size");

struct cell_pheromone_filter {
	struct pheromone_bpf *skel;
	int fd;
	dev_t dev; /* the socket's identity, so free() never detaches a reused fd */
	ino_t ino;
};

static const char *const verdict_names[CELL_PHEROMONE_NR_VERDICTS] = {
	[CELL_PHEROMONE_PASS] = "pass",
	[CELL_PHEROMONE_MALFORMED] = "malformed",
	[CELL_PHEROMONE_BAD_LENGTH] = "bad_length",
	[CELL_PHEROMONE_BAD_MAGIC] = "bad_magic",
	[CELL_PHEROMONE_BAD_VERSION] = "bad_version",
	[CELL_PHEROMONE_BAD_FLAGS] = "bad_flags",
	[CELL_PHEROMONE_BAD_RESERVED] = "bad_reserved",
	[CELL_PHEROMONE_BAD_TTL] = "bad_ttl",
	[CELL_PHEROMONE_BAD_ENDPOINTS] = "bad_endpoints",
	[CELL_PHEROMONE_BAD_NAME] = "bad_name",
	[CELL_PHEROMONE_UNSUBSCRIBED] = "unsubscribed",
};

enum cell_pheromone_verdict cell_pheromone_check(const void *buf, size_t len)
{
	struct cell_pheromone p;

	if (!buf || len != sizeof(p))
		return CELL_PHEROMONE_BAD_LENGTH;
	memcpy(&p, buf, sizeof(p));
	return (enum cell_pheromone_verdict)ph_check(&p);
}

const char *cell_pheromone_verdict_name(int verdict)
{
	if (verdict < 0 || verdict >= CELL_PHEROMONE_NR_VERDICTS)
		return "unknown";
	return verdict_names[verdict];
}

struct cell_pheromone_filter *cell_pheromone_filter_attach(int fd)
{
	struct cell_pheromone_filter *f;
	int type = 0, prog_fd, err;
	socklen_t len = sizeof(type);
	struct stat st;

	if (fstat(fd, &st) < 0)
		return NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return NULL;
	if (type != SOCK_DGRAM) {
		cell_fail(CELL_STATUS_INVALID_ARGUMENT,
			  "pheromone filter: fd %d is not a UDP socket", fd);
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->skel = pheromone_bpf__open();
	if (!f->skel)
		goto fail_errno;
	bpf_program__set_autoload(f->skel->progs.ph_xdp, false);
	err = pheromone_bpf__load(f->skel);
	if (err) {
		errno = -err;
		cell_fail(cell_errno_status(err), "pheromone filter: BPF load failed: %s%s",
			  strerror(-err), err == -EPERM ? " (needs CAP_BPF or root)" : "");
		goto fail;
	}
	prog_fd = bpf_program__fd(f->skel->progs.ph_socket);
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)) < 0) {
		cell_fail(cell_errno_status(errno), "pheromone filter: SO_ATTACH_BPF: %s",
			  strerror(errno));
		goto fail;
	}
	cell_clear_error();
	return f;

fail_errno:
	cell_fail(cell_errno_status(errno), "pheromone filter: %s", strerror(errno));
fail:
	err = errno;
	pheromone_bpf__destroy(f->skel);
	free(f);
	errno = err;
	return NULL;
}

static enum cell_status sub_key(struct ph_sub_key *key, const char *name, uint64_t fingerprint)
{
	size_t n = 0, i;

	memset(key, 0, sizeof(*key));
	key->fingerprint = fingerprint;
	if (!name)
		return CELL_STATUS_OK;
	n = strnlen(name, CELL_NAME_MAX + 1);
	if (n == 0 || n > CELL_NAME_MAX)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT,
				 "pheromone filter: a name has 1..%d bytes", CELL_NAME_MAX);
	for (i = 0; i < n; i++) {
		if (!ph_name_byte_ok((unsigned char)name[i]))
			return cell_fail(CELL_STATUS_INVALID_ARGUMENT,
					 "pheromone filter: byte %zu of name is not [a-z0-9_.@-]",
					 i);
	}
	memcpy(key->name, name, n);
	return CELL_STATUS_OK;
}

enum cell_status cell_pheromone_filter_subscribe(struct cell_pheromone_filter *f, const char *name,
						 uint64_t fingerprint)
{
	struct ph_sub_key key;
	enum cell_status st;
	__u8 one = 1;

	if (!f)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "pheromone filter: NULL filter");
	st = sub_key(&key, name, fingerprint);
	if (st)
		return st;
	if (bpf_map__update_elem(f->skel->maps.ph_subs, &key, sizeof(key), &one, sizeof(one),
				 BPF_ANY))
		return cell_fail(cell_errno_status(errno), "pheromone filter: subscribe: %s",
				 strerror(errno));
	cell_clear_error();
	return CELL_STATUS_OK;
}

enum cell_status cell_pheromone_filter_unsubscribe(struct cell_pheromone_filter *f,
						   const char *name, uint64_t fingerprint)
{
	struct ph_sub_key key;
	enum cell_status st;

	if (!f)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "pheromone filter: NULL filter");
	st = sub_key(&key, name, fingerprint);
	if (st)
		return st;
	if (bpf_map__delete_elem(f->skel->maps.ph_subs, &key, sizeof(key), 0))
		return cell_fail(errno == ENOENT ? CELL_STATUS_NOT_FOUND : cell_errno_status(errno),
				 "pheromone filter: unsubscribe: %s", strerror(errno));
	cell_clear_error();
	return CELL_STATUS_OK;
}

enum cell_status cell_pheromone_filter_stats(struct cell_pheromone_filter *f,
					     uint64_t counts[CELL_PHEROMONE_NR_VERDICTS])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *per_cpu;
	__u32 i;
	int c;

	if (!f || !counts)
		return cell_fail(CELL_STATUS_INVALID_ARGUMENT, "pheromone filter: NULL argument");
	if (ncpu <= 0)
		return cell_fail(CELL_STATUS_INTERNAL, "pheromone filter: no CPU count");
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return cell_fail(CELL_STATUS_RESOURCE_EXHAUSTED, "pheromone filter: out of memory");
	for (i = 0; i < CELL_PHEROMONE_NR_VERDICTS; i++) {
		if (bpf_map__lookup_elem(f->skel->maps.ph_stats, &i, sizeof(i), per_cpu,
					 sizeof(*per_cpu) * (size_t)ncpu, 0)) {
			free(per_cpu);
			return cell_fail(cell_errno_status(errno), "pheromone filter: stats: %s",
					 strerror(errno));
		}
		counts[i] = 0;
		for (c = 0; c < ncpu; c++)
			counts[i] += per_cpu[c];
	}
	free(per_cpu);
	cell_clear_error();
	return CELL_STATUS_OK;
}

void cell_pheromone_filter_free(struct cell_pheromone_filter *f)
{
	struct stat st;
	int saved = errno, zero = 0;

	if (!f)
		return;
	/* Detach only if the fd still names the socket it was attached to. */
	if (fstat(f->fd, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
		setsockopt(f->fd, SOL_SOCKET, SO_DETACH_BPF, &zero, sizeof(zero));
	pheromone_bpf__destroy(f->skel);
	free(f);
	errno = saved;
}
