/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Distributed tracing: a trace context travels with a call, servers record
 * spans.
 *
 * A thread has at most one current trace context (cell_trace_set(),
 * cell_trace_start()).  While it has one, every call it makes on a
 * connection whose server granted CELL_FEAT_TRACE carries the context in a
 * 32-byte trailer (Documentation/wire-format.rst, "Trace trailer").  The
 * server gives the call a new span id whose parent is the caller's span,
 * makes {trace id, new span id} the current context of the handler's
 * thread while the handler runs -- so the handler's own calls carry it on
 * and a chain of cells forms one tree -- and, when the context is sampled,
 * records the span (ids, start, duration, status, method, cell name) in a
 * bounded ring of the process.  Servers answer CELL_METHOD_SPANS from that
 * ring; celld and `cell trace` collect them.
 *
 * Cost: a thread without a context pays one thread-local load per call,
 * and a server one flag test per request.  An unsampled context sends the
 * trailer and is carried on, but no clock is read and nothing is recorded.
 *
 * Threads: the current context is thread-local; the span ring is shared
 * by every thread of the process (a mutex held for a copy).
 */
#ifndef CELL_TRACE_H
#define CELL_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/cell.h>
#include <cell/api.h>
#include <cell/time.h>
#include <cell/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cell_client; /* cell/rpc.h */

/* Hex characters of a trace id (16 bytes) and a span id (8 bytes), no NUL. */
#define CELL_TRACE_ID_HEX 32
#define CELL_SPAN_ID_HEX  16

/**
 * cell_trace_set() - make *@ctx the calling thread's current context (a
 * copy is kept); NULL clears it.  Calls the thread makes from now on carry
 * it.
 */
LIBCELL_API void cell_trace_set(const struct cell_trace_ctx *ctx);

/**
 * cell_trace_current() - copy the calling thread's context to *@out.
 * Return: 1 if the thread has one, 0 if not (*@out untouched).
 */
LIBCELL_API int cell_trace_current(struct cell_trace_ctx *out);

/**
 * cell_trace_start() - begin a new trace: random trace id and root span
 * id, @flags CELL_TRACE_F_SAMPLED or 0; it becomes the thread's current
 * context and is copied to *@out (may be NULL).  The root span is the
 * caller's: the spans of the calls it makes name it as their parent.
 */
LIBCELL_API void cell_trace_start(unsigned int flags, struct cell_trace_ctx *out);

/* cell_trace_span_id() - a new random, non-zero span id. */
LIBCELL_API void cell_trace_span_id(uint8_t id[8]);

/**
 * cell_trace_id_parse() - @n bytes from exactly 2 * @n hex digits at @hex
 * (upper or lower case) into @id.
 * Return: 0, or -EINVAL (wrong length, not hex, all zero).
 */
LIBCELL_API CELL_MUST_CHECK int cell_trace_id_parse(const char *hex, uint8_t *id, size_t n);

/* cell_trace_id_format() - 2 * @n lower-case hex digits and a NUL into @out. */
LIBCELL_API void cell_trace_id_format(const uint8_t *id, size_t n, char *out);

/* ---- spans ------------------------------------------------------------ */

/* One recorded span (host view of struct cell_span_wire). */
struct cell_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	uint64_t start_ns;    /* CLOCK_REALTIME */
	uint64_t duration_ns; /* CLOCK_MONOTONIC difference */
	uint16_t method;
	uint16_t status;	  /* enum cell_status */
	char cell[CELL_NAME_MAX]; /* NUL-terminated cell name */
};

/* Spans the ring keeps by default; CELL_TRACE_SPANS in the environment changes it. */
#define CELL_TRACE_RING_DEFAULT 4096
#define CELL_TRACE_RING_MAX	(1u << 20)

/**
 * cell_span_record() - add @span to the process's ring, overwriting the
 * oldest when full (counted in cell_spans_collect()'s *@dropped).  Safe
 * from any thread.  Servers call it for sampled requests; applications may
 * record spans of their own.
 */
LIBCELL_API void cell_span_record(const struct cell_span *span);

/**
 * cell_spans_collect() - copy the ring's spans, oldest first, that match
 * @trace_id (NULL: any) and @cell (NULL: any) into @out (@cap entries).
 * @dropped: if not NULL, spans overwritten since the process started.
 * Return: the number of matching spans (may exceed @cap: only the newest
 * @cap are copied then).
 */
LIBCELL_API size_t cell_spans_collect(struct cell_span *out, size_t cap, const uint8_t *trace_id,
				      const char *cell, uint64_t *dropped);

/* cell_spans_clear() - forget every recorded span (tests). */
LIBCELL_API void cell_spans_clear(void);

/* ---- encoding (CELL_METHOD_SPANS) -------------------------------------- */

/* Bytes of a SPANS response holding @n spans. */
LIBCELL_API size_t cell_spans_wire_size(size_t n);

/**
 * cell_spans_encode() - @n spans as a SPANS response into @buf (@cap bytes).
 * Return: bytes written, or 0 if @cap < cell_spans_wire_size(@n).
 */
LIBCELL_API size_t cell_spans_encode(const struct cell_span *spans, size_t n, uint32_t dropped,
				     void *buf, size_t cap);

/**
 * cell_spans_decode() - parse a SPANS response of @len bytes from an
 * untrusted peer: magic, version, reserved fields, the count against the
 * length, and every span (non-zero ids, a known status, a valid cell
 * name).
 * @out: receives a malloc'd array of *@n spans (free() it; NULL if none).
 * @dropped: may be NULL.
 * @why: may be NULL; on -EBADMSG says which rule failed.
 * Return: 0, -EBADMSG, or -ENOMEM.
 */
LIBCELL_API CELL_MUST_CHECK int cell_spans_decode(const void *buf, size_t len,
						  struct cell_span **out, size_t *n,
						  uint32_t *dropped, const char **why);

/**
 * cell_client_spans() - ask the server of @c for its spans
 * (CELL_METHOD_SPANS) of @trace_id (NULL: all) and decode them.
 * @out, @n: as cell_spans_decode().
 * Return: the call's status; BAD_MESSAGE if the answer does not parse
 * (cell_last_error() says why).
 */
LIBCELL_API enum cell_status cell_client_spans(struct cell_client *c, const uint8_t *trace_id,
					       struct cell_span **out, size_t *n,
					       uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif /* CELL_TRACE_H */
