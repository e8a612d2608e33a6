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
   all the loop does with async snapshots (celld_kv_bench snapshot);
4. etcd beside it, when Debian's etcd-server and go are installed (tools/
   deps.sh bench): three etcd in the same netns shape, the same load
   shape (etcd_load.go: THREADS clients, 100-byte values, 64 keys, each
   put waiting for its commit, the clients in the leader's namespace as
   celld's end up at its leader), REPS rounds alternating with celld's 1.
   etcd is reached through its JSON gateway (no gRPC in Go's standard
   library), which adds a translation per put.  Without etcd: a visible
   SKIP of that check.

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
from nemesis import Cluster, sh, tap, tap_failed  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def leader_of(cl):
    for _ in range(100):
        for i in range(1, cl.n + 1):
            s = cl.status(i)
            if s and s["state"] == "leader":
                return i
        time.sleep(0.1)
    return None


class EtcdCluster(Cluster):
    """Three etcd (Debian's etcd-server) on Cluster's network namespaces."""

    def start(self, i):
        urls = ",".join("n%d=http://10.78.0.%d:2380" % (j, j) for j in range(1, self.n + 1))
        log = open("%s/n%d.log" % (self.run, i), "a")
        self.procs[i] = subprocess.Popen(
            ["ip", "netns", "exec", "%sn%d" % (self.ns, i), "etcd", "--name", "n%d" % i,
             "--data-dir", "%s/n%d/state/etcd" % (self.run, i),
             "--listen-peer-urls", "http://10.78.0.%d:2380" % i,
             "--initial-advertise-peer-urls", "http://10.78.0.%d:2380" % i,
             "--listen-client-urls", "http://10.78.0.%d:2379" % i,
             "--advertise-client-urls", "http://10.78.0.%d:2379" % i,
             "--initial-cluster", urls, "--initial-cluster-state", "new",
             "--initial-cluster-token", self.ns],
            stdout=log, stderr=log)

    def in_ns(self, i, *args, **kw):
        return subprocess.run(["ip", "netns", "exec", "%sn%d" % (self.ns, i)] + list(args),
                              capture_output=True, text=True, **kw)

    def leader(self):
        eps = ",".join("http://10.78.0.%d:2379" % j for j in range(1, self.n + 1))
        for _ in range(100):
            r = self.in_ns(1, "etcdctl", "--endpoints", eps, "endpoint", "status", "-w",
                           "json", timeout=10, env=dict(os.environ, ETCDCTL_API="3"))
            try:
                for e in json.loads(r.stdout):
                    if e["Status"]["leader"] == e["Status"]["header"]["member_id"]:
                        return int(e["Endpoint"].split(".")[-1].split(":")[0])
            except (ValueError, KeyError, TypeError):
                pass
            time.sleep(0.2)
        return None


def etcd_tool(build):
    """etcd_load built with Debian's go, or None when etcd or go is missing."""
    if not shutil.which("etcd") or not shutil.which("etcdctl") or not shutil.which("go"):
        return None
    build = os.path.abspath(build)  # go refuses a relative GOPATH
    out = build + "/userspace/celld/etcd_load"
    env = dict(os.environ, GOCACHE=build + "/go-cache", GOPATH=build + "/go-path",
               GO111MODULE="off", GOFLAGS="")
    r = subprocess.run(["go", "build", "-o", out, HERE + "/etcd_load.go"],
                       capture_output=True, text=True, env=env)
    if r.returncode:
        print("# go build etcd_load.go failed: %s" % r.stderr.strip(), flush=True)
        return None
    return out


def bench_etcd(o, tool, seconds, vlen, tag):
    run = tempfile.mkdtemp(prefix="etcdbench.")
    cl = EtcdCluster(o.build, 3, run)
    try:
        cl.setup()
        L = cl.leader()
        if L is None:
            print("# %s: no etcd leader" % tag, flush=True)
            return None
        r = cl.in_ns(L, tool, "http://10.78.0.%d:2379" % L, str(seconds), str(o.threads),
                     str(vlen), "64", timeout=seconds + 60)
        if r.returncode:
            print("# %s: etcd_load failed: %s" % (tag, r.stderr.strip()), flush=True)
            return None
        res = json.loads(r.stdout)
        print("# %s: %s" % (tag, json.dumps(res)), flush=True)
        return res
    finally:
        cl.cleanup()
        shutil.rmtree(run, ignore_errors=True)


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
    print("1..6")
    tool = etcd_tool(o.build)
    small = {"celld": [], "etcd": []}
    for r in range(o.reps):
        small["celld"].append(bench(o, o.build, 1 << 30, 0, o.seconds, 100,
                                    "round %d, celld, 3 nodes, 100 B values" % (r + 1)))
        if tool:
            small["etcd"].append(bench_etcd(o, tool, o.seconds, 100,
                                            "round %d, etcd, 3 nodes, 100 B values" % (r + 1)))

    def medians(runs):
        if not runs or any(x is None or x["writes"] == 0 for x in runs):
            return None
        return {f: statistics.median(x[f] for x in runs)
                for f in ("writes_per_s", "p50_ms", "p99_ms")}
    base = medians(small["celld"])
    tap(base is not None and all(x["failures"] == 0 for x in small["celld"]),
        "committed writes through cell_kv_put (median of %d: %s writes/s, p50 %s ms, p99 %s ms)"
        % (o.reps, (base or {}).get("writes_per_s"), (base or {}).get("p50_ms"),
           (base or {}).get("p99_ms")))
    if not tool:
        tap(True, "# SKIP etcd comparison: needs etcd, etcdctl and go (tools/deps.sh bench)")
    else:
        et = medians(small["etcd"])
        if et and base:
            print("# celld / etcd, 3 nodes, %d clients, 100 B (medians of %d, same run): "
                  "writes/s %.0f / %.0f = %.2f; p50 %.2f / %.2f ms = %.2f; "
                  "p99 %.2f / %.2f ms = %.2f"
                  % (o.threads, o.reps, base["writes_per_s"], et["writes_per_s"],
                     base["writes_per_s"] / et["writes_per_s"], base["p50_ms"], et["p50_ms"],
                     base["p50_ms"] / et["p50_ms"], base["p99_ms"], et["p99_ms"],
                     base["p99_ms"] / et["p99_ms"]), flush=True)
        tap(et is not None and all(x["failures"] == 0 for x in small["etcd"]),
            "etcd measured beside it (median of %d: %s writes/s, p50 %s ms, p99 %s ms)"
            % (o.reps, (et or {}).get("writes_per_s"), (et or {}).get("p50_ms"),
               (et or {}).get("p99_ms")))
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
    return 1 if tap_failed() else 0


if __name__ == "__main__":
    sys.exit(main())
