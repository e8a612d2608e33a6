/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Vivaldi network coordinates with a height vector (Dabek, Cox, Kaashoek,
 * Morris, "Vivaldi: a decentralized network coordinate system", SIGCOMM
 * 2004, sections 3 and 5.5): a node is a point in 3-D Euclidean space plus
 * a height (its access link); the predicted RTT between two nodes is the
 * distance of the points plus both heights.  Units: microseconds.
 * Documentation/discovery.rst.
 */
#ifndef CELLD_VIVALDI_H
#define CELLD_VIVALDI_H

#include <stdint.h>

#define VIVALDI_DIM 3

struct vivaldi_coord {
	double v[VIVALDI_DIM]; /* us */
	double h;	       /* us, >= VIVALDI_HEIGHT_MIN */
	double err;	       /* relative error estimate, 0..VIVALDI_ERROR_MAX */
};

#define VIVALDI_CE	   0.25 /* error weight (c_e) */
#define VIVALDI_CC	   0.25 /* timestep (c_c) */
#define VIVALDI_ERROR_INIT 1.5
#define VIVALDI_ERROR_MAX  1.5
#define VIVALDI_HEIGHT_MIN 10.0 /* us */
#define VIVALDI_COORD_MAX  1e8	/* us; a decoded coordinate beyond is refused */

/* The origin, error VIVALDI_ERROR_INIT. */
void vivaldi_init(struct vivaldi_coord *c);

/* Predicted round trip between @a and @b (us). */
double vivaldi_distance(const struct vivaldi_coord *a, const struct vivaldi_coord *b);

/*
 * vivaldi_update() - move @me after measuring @rtt_us to @other (one
 * Vivaldi step, adaptive timestep c_c * e_me / (e_me + e_other)).
 * @rnd: a random 32-bit value (direction when both are at one point).
 */
void vivaldi_update(struct vivaldi_coord *me, const struct vivaldi_coord *other, double rtt_us,
		    uint32_t rnd);

/*
 * The latency filter of one peer: the RTT a Vivaldi step uses is the
 * minimum of the last VIVALDI_FILTER_SAMPLES samples.  Delay added by the
 * hosts (a pong answered late because its celld waited for a CPU, a loop
 * busy elsewhere) only ever lengthens a sample, so the smallest of a few is
 * the best estimate of the path; a path that really got slower shows after
 * VIVALDI_FILTER_SAMPLES samples.  (Serf keeps a median of 3, which lets a
 * sample through when two of three were delayed: Documentation/discovery.rst
 * has the figures.)
 */
#define VIVALDI_FILTER_SAMPLES 4

struct vivaldi_filter {
	uint32_t sample[VIVALDI_FILTER_SAMPLES]; /* us, a ring */
	uint32_t n;				 /* samples pushed so far */
};

/* vivaldi_filter_push() - add @rtt_us; return the filtered RTT (us, >= 1). */
uint32_t vivaldi_filter_push(struct vivaldi_filter *f, uint32_t rtt_us);

/* To and from the datagram's __s32 vivaldi[4] (us * 16, host order). */
void vivaldi_encode(const struct vivaldi_coord *c, int32_t out[4]);
/* 0, or -1 when the values are not a coordinate (height < 0). */
int vivaldi_decode(const int32_t in[4], double err, struct vivaldi_coord *c);

#endif /* CELLD_VIVALDI_H */
