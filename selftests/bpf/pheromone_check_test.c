// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * cell_pheromone_check() over every vector of pheromone_vectors.tsv: the
 * userspace side of the filter judges each payload as the BPF filter does
 * (a subscription decision is not its job: "unsubscribed" vectors pass).
 *
 *   pheromone_check_test VECTORS.tsv
 */
#include "bpf_test.h"
#include "pheromone_vectors.h"

static struct vec vecs[VEC_MAX];

int main(int argc, char **argv)
{
	int n, i, kinds = 0;
	bool seen[CELL_PHEROMONE_NR_VERDICTS] = {};

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTORS.tsv\n", argv[0]);
		return 2;
	}
	n = vec_load(argv[1], vecs, VEC_MAX);
	if (!tap_ok(n > 0, "read %d vectors", n))
		return tap_done();
	for (i = 0; i < n; i++) {
		int want = vecs[i].expect == CELL_PHEROMONE_UNSUBSCRIBED ? CELL_PHEROMONE_PASS
									 : vecs[i].expect;
		int got = cell_pheromone_check(vecs[i].data, vecs[i].len);

		seen[vecs[i].expect] = true;
		tap_ok(got == want, "%s: %s (expected %s)", vecs[i].name,
		       cell_pheromone_verdict_name(got), cell_pheromone_verdict_name(want));
	}
	for (i = CELL_PHEROMONE_BAD_LENGTH; i < CELL_PHEROMONE_NR_VERDICTS; i++)
		kinds += seen[i];
	tap_ok(kinds == CELL_PHEROMONE_NR_VERDICTS - CELL_PHEROMONE_BAD_LENGTH,
	       "every payload verdict has a vector (%d kinds)", kinds);
	tap_ok(cell_pheromone_check(NULL, 256) == CELL_PHEROMONE_BAD_LENGTH, "NULL is bad_length");
	tap_ok(!strcmp(cell_pheromone_verdict_name(99), "unknown"), "verdict 99 is named unknown");
	return tap_done();
}
