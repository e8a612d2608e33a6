// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Vivaldi with height vectors (vivaldi.h). */
#include <math.h>
#include <string.h>

#include "vivaldi.h"

void vivaldi_init(struct vivaldi_coord *c)
{
	memset(c, 0, sizeof(*c));
	c->h = VIVALDI_HEIGHT_MIN;
	c->err = VIVALDI_ERROR_INIT;
}

static double norm(const double *v)
{
	double s = 0;

	for (int i = 0; i < VIVALDI_DIM; i++)
		s += v[i] * v[i];
	return sqrt(s);
}

double vivaldi_distance(const struct vivaldi_coord *a, const struct vivaldi_coord *b)
{
	double d[VIVALDI_DIM];

	for (int i = 0; i < VIVALDI_DIM; i++)
		d[i] = a->v[i] - b->v[i];
	return norm(d) + a->h + b->h;
}

void vivaldi_update(struct vivaldi_coord *me, const struct vivaldi_coord *other, double rtt_us,
		    uint32_t rnd)
{
	double d[VIVALDI_DIM], dist, mag, weight, wrong, force, total;

	if (!(rtt_us > 1.0))
		rtt_us = 1.0;
	dist = vivaldi_distance(me, other);
	total = me->err + other->err;
	if (total < 1e-9)
		total = 1e-9;
	weight = me->err / total;
	wrong = fabs(dist - rtt_us) / rtt_us;
	me->err = VIVALDI_CE * weight * wrong + me->err * (1.0 - VIVALDI_CE * weight);
	if (me->err > VIVALDI_ERROR_MAX)
		me->err = VIVALDI_ERROR_MAX;
	force = VIVALDI_CC * weight * (rtt_us - dist);

	/* Unit vector from other to me; a random one if they coincide. */
	for (int i = 0; i < VIVALDI_DIM; i++)
		d[i] = me->v[i] - other->v[i];
	mag = norm(d);
	if (mag < 1e-6) {
		for (int i = 0; i < VIVALDI_DIM; i++) {
			d[i] = (double)((rnd >> (8 * i)) & 0xff) - 127.5;
		}
		mag = norm(d);
	}
	for (int i = 0; i < VIVALDI_DIM; i++)
		me->v[i] += force * d[i] / mag;
	/* The height moves with the same force, shared in proportion (5.5). */
	if (dist > 1e-6) {
		me->h += force * (me->h + other->h) / dist;
		if (me->h < VIVALDI_HEIGHT_MIN)
			me->h = VIVALDI_HEIGHT_MIN;
	}
	for (int i = 0; i < VIVALDI_DIM; i++) {
		if (me->v[i] > VIVALDI_COORD_MAX)
			me->v[i] = VIVALDI_COORD_MAX;
		if (me->v[i] < -VIVALDI_COORD_MAX)
			me->v[i] = -VIVALDI_COORD_MAX;
	}
	if (me->h > VIVALDI_COORD_MAX)
		me->h = VIVALDI_COORD_MAX;
}

uint32_t vivaldi_filter_push(struct vivaldi_filter *f, uint32_t rtt_us)
{
	uint32_t n, best = UINT32_MAX;

	f->sample[f->n % VIVALDI_FILTER_SAMPLES] = rtt_us ? rtt_us : 1;
	f->n++;
	n = f->n < VIVALDI_FILTER_SAMPLES ? f->n : VIVALDI_FILTER_SAMPLES;
	for (uint32_t i = 0; i < n; i++)
		if (f->sample[i] < best)
			best = f->sample[i];
	return best;
}

void vivaldi_encode(const struct vivaldi_coord *c, int32_t out[4])
{
	for (int i = 0; i < VIVALDI_DIM; i++)
		out[i] = (int32_t)lrint(c->v[i] * 16.0);
	out[3] = (int32_t)lrint(c->h * 16.0);
}

int vivaldi_decode(const int32_t in[4], double err, struct vivaldi_coord *c)
{
	if (in[3] < 0 || !(err >= 0) || err > VIVALDI_ERROR_MAX * 1.0001)
		return -1;
	for (int i = 0; i < VIVALDI_DIM; i++)
		c->v[i] = in[i] / 16.0;
	c->h = in[3] / 16.0;
	c->err = err;
	return 0;
}
