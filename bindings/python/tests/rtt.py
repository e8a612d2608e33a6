# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""rtt.py GENERATED_DIR NAME [N]: p50/p99 round trip of the Python client
(64-byte echo) on the unix and SHM paths, against a running demo server."""
import sys
import time

sys.path.insert(0, sys.argv[1])
import demo_cell  # noqa: E402

n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
for transport in ("shm", "unix"):
    with demo_cell.DemoClient(sys.argv[2], transport=transport) as c:
        req = demo_cell.Blob(seq=1, data=bytes(64))
        for _ in range(1000):
            c.echo(req)
        t = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            c.echo(req)
            t.append(time.perf_counter_ns() - t0)
        t.sort()
        print(f"python {c.path_kind:10s} 64 B echo: p50 {t[n // 2] / 1000:.1f} us, "
              f"p99 {t[n * 99 // 100] / 1000:.1f} us ({n} calls)")
