#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Benchmark of celld's Raft group (Documentation/raft.rst), part of make bench.

Three celld in network namespaces (nemesis.py's Cluster, one bridge), load
through libcell's cell_kv_put from THREADS handles homed at a follower
(each call is redirected once, then stays with the leader):

1. committed writes/s and p50/p99 latency, 100-byte values;
2. p99 while snapshots are taken: clusters in the same run, all filled
   with the same large state (FILL keys of 4 KiB): snapshots practically
   never; every 256 entries asynchronously (the default: serialized on
   libraft's threadpool from a frozen view); every 256 entries
   synchronously (cluster.snapshot_async=0: serialized on the raft loop).
   REPS rounds, the three interleaved in each; the ratio of the median
   p99s (async / none) is the figure;
3. the cost of one snapshot of that state alone, and of the freeze that is
   all the loop does with async snapshots (celld_kv_bench snapshot).

usage: kv_bench.py BUILD_DIR [--seconds S] [--threads T] [--fill N] [--reps R]
Prints TAP with the figures as JSON comments; SKIP without root/netns.
"""
import argparse
import json
import os
import shutil
import statistics
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


def bench(o, build, snapshot_every, fill, seconds, vlen, tag, extra=()):
    run = tempfile.mkdtemp(prefix="kvbench.")
    cl = Cluster(build, 3, run)
    cl.opts = ["cluster.snapshot_every=%d" % snapshot_every, "cluster.election_ms=1000",
               "cluster.timeout_ms=5000"] + list(extra)
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
    ap.add_argument("--reps", type=int, default=1)
    o = ap.parse_args()
    print("TAP version 13")
    if os.getuid() != 0 or not shutil.which("ip"):
        print("1..0 # SKIP needs root and ip(8) for network namespaces")
        return 0
    print("1..5")
    base = bench(o, o.build, 1 << 30, 0, o.seconds, 100, "3 nodes, 100 B values")
    tap(base is not None and base["writes"] > 0 and base["failures"] == 0,
        "committed writes through cell_kv_put (%s writes/s, p50 %s ms, p99 %s ms)"
        % ((base or {}).get("writes_per_s"), (base or {}).get("p50_ms"),
           (base or {}).get("p99_ms")))
    kinds = (("none", 1 << 30, ()), ("async", 256, ("cluster.snapshot_async=1",)),
             ("sync", 256, ("cluster.snapshot_async=0",)))
    runs = {k: [] for k, _, _ in kinds}
    for r in range(o.reps):
        for kind, every, extra in kinds:
            res = bench(o, o.build, every, o.fill, o.seconds, 4096,
                        "round %d, large state, snapshots %s%s"
                        % (r + 1, kind, "" if kind == "none" else " every %d" % every), extra)
            runs[kind].append(res)
    ok = all(x is not None for v in runs.values() for x in v)
    med = {}
    if ok:
        for kind in runs:
            med[kind] = {f: statistics.median(x[f] for x in runs[kind])
                         for f in ("p50_ms", "p99_ms", "writes_per_s")}
            print("# snapshots %-5s (median of %d): p50 %.2f ms, p99 %.2f ms, %.0f writes/s; "
                  "p99 per round %s" % (kind, o.reps, med[kind]["p50_ms"], med[kind]["p99_ms"],
                                        med[kind]["writes_per_s"],
                                        [x["p99_ms"] for x in runs[kind]]), flush=True)
        for kind in ("async", "sync"):
            print("# p99 with %s snapshots / without: %.2f" % (
                kind, med[kind]["p99_ms"] / max(med["none"]["p99_ms"], 1e-9)), flush=True)
    tap(ok and all(x["leader_snapshot_files"] > 0 for k in ("async", "sync") for x in runs[k]),
        "snapshots were taken during every measurement with snapshots (%s snapshot files on "
        "the leader)" % [x and x["leader_snapshot_files"] for k in ("async", "sync")
                         for x in runs[k]])
    tap(ok and all(x["failures"] == 0 for v in runs.values() for x in v),
        "no write failed with or without snapshots")
    tap(ok and med["async"]["p99_ms"] < med["sync"]["p99_ms"],
        "p99 with async snapshots below p99 with sync ones (median %s ms vs %s ms)"
        % (med.get("async", {}).get("p99_ms"), med.get("sync", {}).get("p99_ms")))
    r = subprocess.run([o.build + "/userspace/celld/celld_kv_bench", "snapshot",
                        str(o.fill + 128), "4096"], capture_output=True, text=True)
    print("# one snapshot of that state (sync: on the raft loop; async: the loop only "
          "freezes): %s" % r.stdout.strip(), flush=True)
    tap(r.returncode == 0, "snapshot cost measured")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
