// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libFuzzer target of cell_pheromone_check(), the userspace parser of
 * discovery datagrams.  Besides memory safety it checks what a verdict
 * promises: PASS only for CELL_PHEROMONE_SIZE bytes whose fields are in
 * range, a verdict always in range and never MALFORMED or UNSUBSCRIBED,
 * and the same answer for the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cell/pheromone.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cell_pheromone_verdict v = cell_pheromone_check(data, size);
	struct cell_pheromone p;
	int i;

	if (v < CELL_PHEROMONE_PASS || v >= CELL_PHEROMONE_NR_VERDICTS ||
	    v == CELL_PHEROMONE_MALFORMED || v == CELL_PHEROMONE_UNSUBSCRIBED)
		abort();
	if (cell_pheromone_check(data, size) != v)
		abort();
	if ((size != CELL_PHEROMONE_SIZE) != (v == CELL_PHEROMONE_BAD_LENGTH))
		abort();
	if (v != CELL_PHEROMONE_PASS)
		return 0;
	memcpy(&p, data, sizeof(p));
	if (p.magic != CELL_PHEROMONE_MAGIC || p.version != CELL_PHEROMONE_VERSION ||
	    (p.flags & ~CELL_PHEROMONE_FLAGS) || p.ttl == 0 || p.ttl > CELL_PHEROMONE_TTL_MAX ||
	    p.endpoint_count > CELL_PHEROMONE_ENDPOINTS || p.reserved0 || p.reserved1 ||
	    p.reserved2[0] || p.reserved2[1] || !p.name[0])
		abort();
	for (i = 0; i < CELL_NAME_MAX; i++)
		if (p.name[i] >= 'A' && p.name[i] <= 'Z')
			abort();
	return 0;
}
