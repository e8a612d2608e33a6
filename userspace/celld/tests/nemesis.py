#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Nemesis for celld's Raft group (Documentation/raft.rst).

N celld (3 or 5) in network namespaces joined through a bridge; concurrent
clients run put / get / cas / cas-absent on a few keys through `cell kv -j`
against random nodes, while a schedule injects faults: kill -9 and restart,
SIGSTOP / SIGCONT, one node cut off, and a bridge split (a minority moved to
a second bridge).  Every operation's invocation and completion is recorded;
the history is then checked for linearizability per key (P-compositionality)
with a Wing-Gong search over a compare-and-set register, where an operation
that ended without an answer (timeout, UNAVAILABLE) may have taken effect at
any point after its invocation, or never.  An acknowledged write that no
linearization can explain (lost, or applied twice) fails the check.

usage: nemesis.py BUILD_DIR [--nodes N] [--seconds S] [--clients C] [--seed X]
Prints TAP.  Needs root and `ip netns` (SKIP otherwise).
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TAP = []


def tap(ok, what, diag=None):
    """One TAP check; when it fails, the first 6 lines of diag as comments."""
    TAP.append((ok, what))
    print(("ok" if ok else "not ok") + " %d %s" % (len(TAP), what), flush=True)
    if not ok and diag:
        for line in str(diag).splitlines()[:6]:
            print("# " + line)


def tap_failed():
    """Whether a check tap() printed so far was not ok."""
    return not all(t[0] for t in TAP)


def sh(*args, check=True):
    return subprocess.run(args, check=check, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)


def netns_skip(tag):
    """Prints the TAP SKIP plan and returns True unless network namespaces can be
    made here (root, ip(8), and an `ip netns add` of a probe named TAG...)."""
    if os.getuid() != 0 or not shutil.which("ip"):
        print("1..0 # SKIP needs root and ip(8) for network namespaces")
        return True
    probe = "%sprobe%d" % (tag, os.getpid())
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode:
        print("1..0 # SKIP ip netns add fails here")
        return True
    sh("ip", "netns", "del", probe)
    return False


class Cluster:
    def __init__(self, build, n, run, founders=None):
        # Nodes past the first `founders` start empty (cluster.join=1) and
        # wait to be added (membership_test.py).
        self.build, self.n, self.run = build, n, run
        self.founders = founders or n
        self.opts = []  # more "-o KEY=VALUE" for every celld (the last one wins)
        self.ns = "nm%d" % os.getpid()
        self.procs = {}
        self.stopped = set()
        self.made = []

    def hub(self, *args):
        sh("ip", "netns", "exec", self.ns + "hub", *args)

    def setup(self):
        sh("ip", "netns", "add", self.ns + "hub")
        self.made.append(self.ns + "hub")
        self.hub("ip", "link", "set", "lo", "up")
        for br in ("br0", "br1"):
            self.hub("ip", "link", "add", br, "type", "bridge")
            self.hub("ip", "link", "set", br, "up")
        peers = []
        for i in range(1, self.n + 1):
            ns = "%sn%d" % (self.ns, i)
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            self.hub("ip", "link", "add", "h%d" % i, "type", "veth", "peer",
                     "name", "v%d" % i, "netns", ns)
            self.hub("ip", "link", "set", "h%d" % i, "master", "br0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", "10.78.0.%d/24" % i, "dev", "v%d" % i)
            sh("ip", "-n", ns, "link", "set", "v%d" % i, "up")
            os.makedirs("%s/n%d/run" % (self.run, i))
            os.makedirs("%s/n%d/state" % (self.run, i))
            if i <= self.founders:
                peers.append("%d@10.78.0.%d:7380=%s" % (i, i, self.endpoint(i)))
        self.peers = ",".join(peers)
        for i in range(1, self.n + 1):
            self.start(i)

    def start(self, i):
        log = open("%s/n%d.log" % (self.run, i), "a")
        self.procs[i] = subprocess.Popen(
            ["ip", "netns", "exec", "%sn%d" % (self.ns, i),
             self.build + "/userspace/celld/celld", "-r", "%s/n%d/run" % (self.run, i),
             "-s", "%s/n%d/state" % (self.run, i), "-S", "-o", "discovery=off",
             "-o", "cluster.id=%d" % i, "-o", "cluster.address=10.78.0.%d:7380" % i,
             "-o", "cluster.peers=" + self.peers, "-o", "cluster.election_ms=400",
             "-o", "cluster.timeout_ms=2000", "-o", "cluster.snapshot_every=128"]
            + (["-o", "cluster.join=1"] if i > self.founders else [])
            + [x for o in self.opts + self.node_opts(i) for x in ("-o", o)],
            stdout=log, stderr=log)
        self.stopped.discard(i)

    def kill(self, i):
        p = self.procs.get(i)
        if p and p.poll() is None:
            p.kill()
            p.wait()

    def stop(self, i):
        self.procs[i].send_signal(signal.SIGSTOP)
        self.stopped.add(i)

    def cont(self, i):
        self.procs[i].send_signal(signal.SIGCONT)
        self.stopped.discard(i)

    def split(self, group):
        for i in range(1, self.n + 1):
            self.hub("ip", "link", "set", "h%d" % i, "master",
                     "br1" if i in group else "br0")

    def heal(self):
        self.split(set())

    def cut(self, i):
        self.hub("ip", "link", "set", "h%d" % i, "down")

    def uncut(self, i):
        self.hub("ip", "link", "set", "h%d" % i, "up")

    def alive(self):
        return [i for i in range(1, self.n + 1)
                if i in self.procs and self.procs[i].poll() is None]

    def cleanup(self):
        for i in list(self.procs):
            try:
                self.procs[i].send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.kill(i)
        for ns in reversed(self.made):
            sh("ip", "netns", "del", ns, check=False)

    def endpoint(self, i):
        """Where node i's nucleus answers (its ENDPOINT in cluster.peers)."""
        return "unix:%s/n%d/run/nucleus.sock" % (self.run, i)

    def node_opts(self, i):
        """More "-o KEY=VALUE" for node i alone."""
        return []

    def cell(self, i, *args, timeout=10):
        """`cell ARGS` against node i: (exit status, stdout, stderr)."""
        env = dict(os.environ, CELL_RUNTIME_DIR="%s/n%d/run" % (self.run, i))
        try:
            r = subprocess.run([self.build + "/userspace/cell/cell"] + list(args),
                               env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "", "timeout"
        return r.returncode, r.stdout, r.stderr.strip()

    def status(self, i):
        rc, out, _ = self.cell(i, "cluster", "-j", "status", timeout=5)
        try:
            return json.loads(out) if rc == 0 else None
        except ValueError:
            return None

    def kv(self, i, *args, timeout=6):
        env = dict(os.environ, CELL_RUNTIME_DIR="%s/n%d/run" % (self.run, i))
        try:
            r = subprocess.run([self.build + "/userspace/cell/cell", "kv", "-j"] + list(args),
                               env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "timeout"
        try:
            return json.loads(r.stdout), r.stderr.strip()
        except ValueError:
            return None, r.stderr.strip() or "exit %d" % r.returncode


# ---- clients ------------------------------------------------------------


# Errors after which the command was certainly not proposed.
NOT_SENT = ("cannot reach celld", "no leader after", "NOT_LEADER", "celld is stopping",
            "runs no cluster")


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []  # dicts: key, f, args, inv, ret (None: unknown), out

    def add(self, op):
        with self.lock:
            self.ops.append(op)


def client(cl, hist, rng, keys, until):
    while time.monotonic() < until:
        key = rng.choice(keys)
        node = rng.randint(1, cl.n)
        f = rng.choice(["put", "put", "get", "get", "cas", "casa"])
        val = "v%d" % rng.randint(0, 9)
        if f == "put":
            args = ("put", key, val)
        elif f == "get":
            args = ("get", key)
        elif f == "cas":
            old = "v%d" % rng.randint(0, 9)
            args = ("cas", key, old, val)
        else:
            args = ("cas", "-a", key, val)
        inv = time.monotonic()
        res, err = cl.kv(node, *args)
        ret = time.monotonic()
        op = {"key": key, "f": f, "args": args, "inv": inv, "ret": ret, "node": node}
        if res is None:
            # No answer: for a get that is nothing; a write may have happened,
            # unless it provably never reached a leader.
            if f == "get" or any(s in err for s in NOT_SENT):
                continue
            op["ret"] = None
            op["out"] = None
            op["err"] = err
        else:
            op["out"] = res["outcome"]
            op["value"] = res["value"]
        hist.add(op)


# ---- the checker --------------------------------------------------------


def step(state, op):
    """The register model: (new state, result) for op applied to state."""
    f, a = op["f"], op["args"]
    if f == "put":
        return a[2], "done"
    if f == "get":
        return state, state
    if f == "casa":
        return (a[3], "done") if state is None else (state, "cas_mismatch")
    if state is None:
        return state, "absent"
    if state == a[2]:
        return a[3], "done"
    return state, "cas_mismatch"


def matches(op, result):
    if op["ret"] is None:
        return True  # unknown outcome: any
    if op["f"] == "get":
        return op["value"] == result
    return op["out"] == result


def linearizable(ops):
    """Wing-Gong search with memoization. ops: list of one key's operations."""
    inf = float("inf")
    n = len(ops)
    ops = sorted(ops, key=lambda o: o["inv"])
    ret = [o["ret"] if o["ret"] is not None else inf for o in ops]
    known = [i for i in range(n) if ops[i]["ret"] is not None]
    seen = set()
    sys.setrecursionlimit(max(10000, 4 * n + 100))
    # Iterative DFS over (linearized bitmask, state).
    stack = [(0, None)]
    full = 0
    for i in known:
        full |= 1 << i
    while stack:
        done, state = stack.pop()
        if (done & full) == full:
            return True
        if (done, state) in seen:
            continue
        seen.add((done, state))
        # Candidates: not done, invoked before every not-done op's return.
        horizon = min(ret[i] for i in range(n) if not done >> i & 1)
        for i in range(n):
            if done >> i & 1:
                continue
            if ops[i]["inv"] > horizon:
                break
            new, result = step(state, ops[i])
            if matches(ops[i], result):
                stack.append((done | 1 << i, new))
        if len(seen) > 2000000:
            raise RuntimeError("search too large")
    return False


# ---- schedule -----------------------------------------------------------


def nemesis(cl, rng, until, log):
    minority = cl.n // 2
    while time.monotonic() < until - 3:
        kind = rng.choice(["kill", "stop", "cut", "split"])
        a = rng.randint(1, cl.n)
        if kind == "kill":
            cl.kill(a)
            log.append("kill -9 node %d" % a)
            time.sleep(rng.uniform(1, 3))
            cl.start(a)
        elif kind == "stop":
            cl.stop(a)
            log.append("SIGSTOP node %d" % a)
            time.sleep(rng.uniform(1, 3))
            cl.cont(a)
        elif kind == "cut":
            cl.cut(a)
            log.append("cut node %d off" % a)
            time.sleep(rng.uniform(1, 3))
            cl.uncut(a)
        else:
            group = set(rng.sample(range(1, cl.n + 1), minority))
            cl.split(group)
            log.append("bridge split %s | rest" % sorted(group))
            time.sleep(rng.uniform(1, 3))
            cl.heal()
        time.sleep(rng.uniform(1, 2.5))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--keys", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None)
    o = ap.parse_args()
    print("TAP version 13")
    if netns_skip("nm"):
        return 0
    seed = o.seed if o.seed is not None else random.randrange(1 << 30)
    print("1..5")
    print("# nodes %d, clients %d, %g s, seed %d" % (o.nodes, o.clients, o.seconds, seed),
          flush=True)
    rng = random.Random(seed)
    run = tempfile.mkdtemp(prefix="nemesis.")
    cl = Cluster(o.build, o.nodes, run)
    faults = []
    try:
        cl.setup()
        # A leader before the clients start.
        t0 = time.monotonic()
        res = None
        while time.monotonic() - t0 < 20:
            res, _ = cl.kv(1, "put", "warmup", "1")
            if res and res["outcome"] == "done":
                break
            time.sleep(0.2)
        tap(bool(res) and res["outcome"] == "done", "the cluster elects a leader and commits")
        hist = History()
        until = time.monotonic() + o.seconds
        keys = ["k%d" % i for i in range(o.keys)]
        threads = [threading.Thread(target=client,
                                    args=(cl, hist, random.Random(seed + 1 + c), keys, until))
                   for c in range(o.clients)]
        for t in threads:
            t.start()
        nemesis(cl, rng, until, faults)
        for t in threads:
            t.join()
        for i in range(1, cl.n + 1):
            if i in cl.stopped:
                cl.cont(i)
            if cl.procs[i].poll() is not None:
                cl.start(i)
        cl.heal()
        ok = [op for op in hist.ops if op["ret"] is not None]
        unknown = [op for op in hist.ops if op["ret"] is None]
        writes = [op for op in ok if op["f"] != "get" and op["out"] == "done"]
        print("# %d operations: %d answered (%d acknowledged writes), %d without answer; "
              "%d faults: %s" % (len(hist.ops), len(ok), len(writes), len(unknown),
                                 len(faults), "; ".join(faults)), flush=True)
        tap(len(ok) > 20 and len(faults) >= 3,
            "clients made progress through the faults (%d answered, %d faults)"
            % (len(ok), len(faults)))
        verdicts = []
        t1 = time.monotonic()
        for key in keys:
            ops = [op for op in hist.ops if op["key"] == key]
            try:
                verdicts.append((key, len(ops), linearizable(ops)))
            except RuntimeError as e:
                verdicts.append((key, len(ops), str(e)))
        print("# checked in %.1f s: %s" % (time.monotonic() - t1, ", ".join(
            "%s %d ops %s" % v for v in verdicts)), flush=True)
        tap(all(v[2] is True for v in verdicts), "the history is linearizable, per key")
        # After healing, every node answers, and all agree with the last write.
        agree = False
        for _ in range(60):
            vals = []
            for i in range(1, cl.n + 1):
                r, _ = cl.kv(i, "get", keys[0])
                vals.append(None if r is None else (r["found"], r["value"]))
            if None not in vals and len(set(vals)) == 1:
                agree = True
                break
            time.sleep(0.5)
        tap(agree, "after healing every node answers the same for %s" % keys[0])
        tap(all(p.poll() is None for p in cl.procs.values()),
            "no celld died other than by the nemesis")
        print("# verdict: %s; %d nodes, %.0f s, %d operations (%d acknowledged writes, "
              "%d without answer), %d faults, seed %d"
              % ("linearizable" if all(v[2] is True for v in verdicts) else "NOT LINEARIZABLE",
                 cl.n, o.seconds, len(hist.ops), len(writes), len(unknown), len(faults), seed),
              flush=True)
    finally:
        cl.cleanup()
        if os.environ.get("KEEP"):
            print("# kept %s" % run)
        else:
            shutil.rmtree(run, ignore_errors=True)
    return 1 if tap_failed() else 0


if __name__ == "__main__":
    sys.exit(main())
