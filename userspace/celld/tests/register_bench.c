// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * register_bench N: what registration with celld costs a starting server:
 * N times cell_server_new() + cell_server_free(), mean per pair.  Run it
 * with a celld on $CELL_RUNTIME_DIR, then with CELL_NO_REGISTER=1, and
 * compare (a ratio: the machine is noisy).  Not a test.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cell/rpc.h>
#include <cell/time.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	uint64_t t0 = cell_now_ns();

	for (int i = 0; i < n; i++) {
		struct cell_server_opts o = { .sz = sizeof(o), .fingerprint = 1 };
		struct cell_server *s = cell_server_new("register-bench", &o);

		if (!s) {
			fprintf(stderr, "register_bench: %s\n", cell_last_error(NULL));
			return 1;
		}
		cell_server_free(s);
	}
	printf("%.1f us per cell_server_new + cell_server_free\n",
	       (double)(cell_now_ns() - t0) / 1e3 / (n > 0 ? n : 1));
	return 0;
}
