# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""grpc_rtt.py [N]: p50 round trip of Python gRPC (Debian python3-grpcio) on a
Unix socket, unary echo of the same 80 bytes the Cell echo sends (u64 seq,
span, 64 bytes), raw bytes (no protobuf), server in another process."""
import os
import subprocess
import sys
import tempfile
import time

import grpc

if len(sys.argv) > 1 and sys.argv[1] == "serve":
    from concurrent import futures
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    h = grpc.unary_unary_rpc_method_handler(lambda req, ctx: req)
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("demo", {"echo": h}),))
    srv.add_insecure_port("unix:" + sys.argv[2])
    srv.start()
    print("ready", flush=True)
    srv.wait_for_termination()
    sys.exit(0)

n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
sock = os.path.join(tempfile.mkdtemp(), "grpc.sock")
p = subprocess.Popen([sys.executable, __file__, "serve", sock], stdout=subprocess.PIPE)
p.stdout.readline()
try:
    ch = grpc.insecure_channel("unix:" + sock)
    echo = ch.unary_unary("/demo/echo")
    req = bytes(80)
    for _ in range(500):
        echo(req)
    t = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        echo(req)
        t.append(time.perf_counter_ns() - t0)
    t.sort()
    print(f"python grpc unix  80 B echo: p50 {t[n // 2] / 1000:.1f} us, "
          f"p99 {t[n * 99 // 100] / 1000:.1f} us ({n} calls)")
finally:
    p.kill()
