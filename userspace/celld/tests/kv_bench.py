#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Benchmark of celld's Raft group (Documentation/raft.rst), part of make bench.

Three celld in network namespaces (nemesis.py's Cluster, one bridge), load
through libcell's cell_kv_put from THREADS handles homed at a follower
(each call is redirected once, then stays with the leader):

1. committed writes/s and p50/p99 latency, 100-byte values;
2. p99 while snapshots are taken: two clusters in the same run, both
   filled with the same large state (FILL keys of 4 KiB), one with
   snapshots every 256 entries (several during the measurement), one with
   snapshots practically never; the ratio of their p99 is the figure;
3. the cost of one snapshot of that state alone (celld_kv_bench snapshot).

usage: kv_bench.py BUILD_DIR [--seconds S] [--threads T] [--fill N]
Prints TAP with the figures as JSON comments; SKIP without root/netns.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nemesis import Cluster, sh  # noqa: E402

N = 0
FAILED = 0


def tap(ok, what):
    global N, FAILED
    N += 1
    FAILED += not ok
    print(("ok" if ok else "not ok") + " %d %s" % (N, what), flush=True)


def leader_of(cl):
    for _ in range(100):
        for i in range(1, cl.n + 1):
            s = cl.status(i)
            if s and s["state"] == "leader":
                return i
        time.sleep(0.1)
    return None


def bench(o, build, snapshot_every, fill, seconds, vlen, tag):
    run = tempfile.mkdtemp(prefix="kvbench.")
    cl = Cluster(build, 3, run)
    cl.opts = ["cluster.snapshot_every=%d" % snapshot_every, "cluster.election_ms=1000",
               "cluster.timeout_ms=5000"]
    tool = build + "/userspace/celld/celld_kv_bench"
    try:
        cl.setup()
        L = leader_of(cl)
        if L is None:
            return None
        F = L % 3 + 1
        rundir = "%s/n%d/run" % (run, F)
        if fill:
            r = subprocess.run([tool, "fill", rundir, str(o.threads), "4096", str(fill)],
                               capture_output=True, text=True, timeout=600)
            print("# %s fill: %s" % (tag, r.stdout.strip()), flush=True)
        r = subprocess.run([tool, "load", rundir, str(seconds), str(o.threads), str(vlen),
                            "64"], capture_output=True, text=True, timeout=seconds + 60)
        res = json.loads(r.stdout)
        snaps = len([f for f in os.listdir("%s/n%d/state/raft" % (run, L))
                     if f.startswith("snapshot-") and f.endswith(".meta")])
        res["snapshot_every"] = snapshot_every
        res["leader_snapshot_files"] = snaps  # libraft keeps the newest 2
        res["snapshots_expected"] = (fill + res["writes"]) // snapshot_every
        print("# %s: %s" % (tag, json.dumps(res)), flush=True)
        return res
    finally:
        cl.cleanup()
        shutil.rmtree(run, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--fill", type=int, default=4000)
    o = ap.parse_args()
    print("TAP version 13")
    if os.getuid() != 0 or not shutil.which("ip"):
        print("1..0 # SKIP needs root and ip(8) for network namespaces")
        return 0
    print("1..4")
    base = bench(o, o.build, 1 << 30, 0, o.seconds, 100, "3 nodes, 100 B values")
    tap(base is not None and base["writes"] > 0 and base["failures"] == 0,
        "committed writes through cell_kv_put (%s writes/s, p50 %s ms, p99 %s ms)"
        % ((base or {}).get("writes_per_s"), (base or {}).get("p50_ms"),
           (base or {}).get("p99_ms")))
    quiet = bench(o, o.build, 1 << 30, o.fill, o.seconds, 4096, "large state, no snapshot")
    snap = bench(o, o.build, 256, o.fill, o.seconds, 4096, "large state, snapshot every 256")
    ok = quiet is not None and snap is not None
    tap(ok and snap["leader_snapshot_files"] > 0,
        "snapshots were taken during the measurement (%s snapshot files on the leader)"
        % (snap or {}).get("leader_snapshot_files"))
    if ok:
        print("# p99 with snapshots / without: %.2f (%.2f ms / %.2f ms), p50 %.2f / %.2f ms, "
              "writes/s %.0f / %.0f" % (snap["p99_ms"] / max(quiet["p99_ms"], 1e-9),
                                         snap["p99_ms"], quiet["p99_ms"], snap["p50_ms"],
                                         quiet["p50_ms"], snap["writes_per_s"],
                                         quiet["writes_per_s"]), flush=True)
    tap(ok and snap["failures"] == 0 and quiet["failures"] == 0,
        "no write failed with or without snapshots")
    r = subprocess.run([o.build + "/userspace/celld/celld_kv_bench", "snapshot",
                        str(o.fill + 128), "4096"], capture_output=True, text=True)
    print("# one snapshot of that state on the raft loop: %s" % r.stdout.strip(), flush=True)
    tap(r.returncode == 0, "snapshot cost measured")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
