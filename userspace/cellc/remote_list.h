/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The celld questions cellc asks for --from-running NAME@node: the nucleus
 * "list" method (userspace/celld/nucleus.cell) with a query, and its
 * cell_list answer; "discovery" for this node's own id.  cellc cannot include the generated nucleus.cell.h
 * (it is cellc that generates it), so the few layouts needed are written
 * here by hand; selftests/cellc/remote_list_test.c checks every constant
 * against the generated header and decodes what its builders make.
 *
 * The answer is another process's bytes: remote_list_decode() checks
 * every span it follows by the rules of the generated validators
 * (Documentation/cellc.rst, "Validation") and the text it returns by
 * stricter ones of its own (fuzz target fuzz_cellc_remote_list).
 */
#ifndef CELLC_REMOTE_LIST_H
#define CELLC_REMOTE_LIST_H

#include <stddef.h>
#include <stdint.h>

/* NUCLEUS_FINGERPRINT and NUCLEUS_METHOD_LIST of nucleus.cell. */
#define REMOTE_NUCLEUS_FINGERPRINT 0x5b417708a88bcef3ULL
#define REMOTE_METHOD_LIST	   3
/* NUCLEUS_METHOD_DISCOVERY: its request is an empty (one zero byte). */
#define REMOTE_METHOD_DISCOVERY 6
#define REMOTE_EMPTY_SIZE	1U
/* query.flags: REMOTE, the cells other nodes announce. */
#define REMOTE_QUERY_REMOTE 2U

/* Fixed sizes and offsets (bytes) of the structs read or written. */
#define REMOTE_QUERY_SIZE	    12U /* name @0, flags @8 */
#define REMOTE_CELL_LIST_SIZE	    12U /* cells @0 */
#define REMOTE_CELL_INFO_SIZE	    88U
#define REMOTE_CELL_INFO_ALIGN	    8U
#define REMOTE_CELL_INFO_NAME	    0U
#define REMOTE_CELL_INFO_FP	    8U
#define REMOTE_CELL_INFO_NODE	    40U
#define REMOTE_CELL_INFO_ENDPOINTS  56U
#define REMOTE_ENDPOINT_SIZE	    8U /* uri @0 */
#define REMOTE_ENDPOINT_ALIGN	    4U
#define REMOTE_DISCOVERY_STATS_SIZE 36U /* node @0 */

/* Limits of what is accepted (longer is refused, not cut). */
#define REMOTE_NAME_MAX	     32U /* CELL_NAME_MAX */
#define REMOTE_NODE_MAX	     79U /* celld's CELLD_NODE_MAX without the NUL */
#define REMOTE_URI_MAX	     255U
#define REMOTE_ENDPOINTS_MAX 16U
#define REMOTE_LIST_MAX	     (16U << 20)

/* A view of a string inside the decoded message (not NUL-terminated). */
struct remote_text {
	const char *p;
	uint32_t len;
};

/* One cell_info: the fields cellc uses, as views into the message. */
struct remote_row {
	struct remote_text name; /* 0..32 bytes, no NUL */
	struct remote_text node; /* "" (this machine) or lower-case hex */
	uint64_t fingerprint;	 /* the one announced */
	uint32_t nendpoints;
	struct remote_text uri[REMOTE_ENDPOINTS_MAX]; /* 1..255 bytes, 0x21..0x7e */
};

/**
 * remote_query_encode() - write the query {@name, @flags} into @buf (8-byte
 * aligned, @cap bytes).
 * Return: the message's length, or 0 if @cap is too small or @name too long.
 */
size_t remote_query_encode(void *buf, size_t cap, const char *name, uint32_t flags)
	__attribute__((warn_unused_result));

/**
 * remote_list_decode() - check the cell_list message @msg (@len bytes, no
 * alignment needed) and return its rows.  Only the fields of struct
 * remote_row are looked at (path and state are not followed).
 * @rows: receives a malloc'd array of *@n rows (NULL when 0), pointing
 * into @msg; the caller frees it.
 * Return: 0; -EBADMSG with *@why naming the rule broken (static text);
 * -ENOMEM.
 */
int remote_list_decode(const void *msg, size_t len, struct remote_row **rows, uint32_t *n,
		       const char **why) __attribute__((warn_unused_result));

/**
 * remote_stats_node() - this node's id from celld's discovery_stats answer
 * @msg (@len bytes): *@node, a view into @msg, "" when discovery is off.
 * Only that field is looked at.
 * Return: 0, or -EBADMSG with *@why naming the rule broken.
 */
int remote_stats_node(const void *msg, size_t len, struct remote_text *node, const char **why)
	__attribute__((warn_unused_result));

#endif /* CELLC_REMOTE_LIST_H */
