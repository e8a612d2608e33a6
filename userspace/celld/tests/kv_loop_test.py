#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""celld_kv_loop: a kv call waiting for its commit holds no other nucleus
call (review-6 R7; Documentation/raft.rst and celld.rst: the nucleus's
serving threads, cluster.max_waiting).

Three celld in network namespaces (nemesis.py's Cluster), -o
cluster.max_waiting=2.  Both followers are stopped (SIGSTOP), so the
leader can append a put to its log but not commit it: the put waits on
the leader until the followers are back (or the leader steps down, an
election timeout of 5 s later).  While two puts wait:
  - `cell ps` and `cell cluster status` on the leader are answered;
  - a third put is refused at once (RESOURCE_EXHAUSTED, max_waiting);
  - after SIGCONT the two waiting puts commit: their answers came after ps's,
    so ps was answered while they were pending (a celld that serves the
    nucleus on one thread answers nothing while a put waits: ps would be
    answered after the puts failed, and the puts would not be "done").
With QUIC built, the same for a follower whose leader is stopped (its kv
call is forwarded to the leader's quic:// endpoint, and the forward waits
for cluster.timeout_ms): `cell ps` on the follower is answered while the
forwarded put is pending, and the put ends after ps.

No timed assertion: "pending" is seen in the leader's log (the key's bytes
in a segment) or in the stopped leader's UDP receive queue (the forward
sent), and in the order of the answers.
TAP; SKIP without root or ip(8).  usage: kv_loop_test.py BUILD_DIR
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nemesis import Cluster, netns_skip, tap, tap_failed  # noqa: E402

QUIC_PORT = 7390


def wait(pred, seconds=10, step=0.05):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def leader(cl, among):
    for i in among:
        s = cl.status(i)
        if s and s.get("state") == "leader":
            return i
    return None


def in_log(cl, i, key):
    """Whether node i's Raft log (any segment) holds the bytes of key."""
    for path in glob.glob("%s/n%d/state/raft/*" % (cl.run, i)):
        try:
            with open(path, "rb") as f:
                if key.encode() in f.read():
                    return True
        except OSError:
            pass
    return False


class KvCall:
    """`cell kv -j ARGS` against node i in the background; .end() gives
    (answer or None, stderr, when the answer came: time.monotonic())."""

    def __init__(self, cl, i, *args):
        env = dict(os.environ, CELL_RUNTIME_DIR="%s/n%d/run" % (cl.run, i))
        self.p = subprocess.Popen([cl.build + "/userspace/cell/cell", "kv", "-j"] + list(args),
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.out = self.err = self.when = None
        self.t = threading.Thread(target=self._wait, daemon=True)
        self.t.start()

    def _wait(self):
        self.out, self.err = self.p.communicate()
        self.when = time.monotonic()

    def pending(self):
        return self.when is None

    def end(self, timeout=20):
        self.t.join(timeout)
        if self.t.is_alive():
            self.p.kill()
            self.t.join()
            return None, "timeout", None
        try:
            return json.loads(self.out), self.err.strip(), self.when
        except ValueError:
            return None, self.err.strip() or "exit %d" % self.p.returncode, self.when


def udp_rx_queue(cl, i, port):
    """Bytes queued on node i's UDP socket bound to port (/proc/net/udp of its netns)."""
    r = subprocess.run(["ip", "netns", "exec", "%sn%d" % (cl.ns, i), "cat", "/proc/net/udp"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines()[1:]:
        f = line.split()
        if len(f) > 4 and f[1].endswith(":%04X" % port):
            return int(f[4].split(":")[1], 16)
    return 0


def leader_without_quorum(build, run):
    cl = Cluster(build, 3, run)
    cl.opts = ["cluster.election_ms=5000", "cluster.timeout_ms=7000", "cluster.max_waiting=2"]
    try:
        cl.setup()
        L = wait(lambda: leader(cl, (1, 2, 3)), 40, 0.2)
        tap(L is not None, "a leader is elected (node %s)" % L)
        if L is None:
            return
        F = [i for i in (1, 2, 3) if i != L]
        for i in F:
            cl.stop(i)
        puts = [KvCall(cl, L, "put", "waiting-%d" % k, "v%d" % k) for k in (1, 2)]
        seen = wait(lambda: in_log(cl, L, "waiting-1") and in_log(cl, L, "waiting-2"), 4)
        tap(seen, "both followers stopped: two puts wait in leader %d's log, uncommitted" % L)
        rc, ps_out, ps_err = cl.cell(L, "ps", timeout=20)
        ps_done = time.monotonic()
        tap(rc == 0 and all(p.pending() for p in puts),
            "`cell ps` on the leader is answered meanwhile", ps_err)
        s = cl.status(L)
        tap(s is not None and s.get("state") == "leader",
            "so is `cell cluster status` (%s)" % (s and s.get("state")))
        out3, err3, _ = KvCall(cl, L, "put", "third", "x").end()
        tap(out3 is None and "RESOURCE_EXHAUSTED" in err3 and "max_waiting" in err3,
            "a third put is refused at once: %s" % err3)
        for i in F:
            cl.cont(i)
        ends = [p.end() for p in puts]
        tap(all(o is not None and o.get("outcome") == "done" for o, _, _ in ends) and
            all(t is not None and t > ps_done for _, _, t in ends),
            "after SIGCONT both puts commit, answered after ps: ps did not wait for them",
            "; ".join("%s %s" % (o, e) for o, e, _ in ends))
    finally:
        cl.cleanup()


class QuicCluster(Cluster):
    def endpoint(self, i):
        return "quic://10.78.0.%d:%d" % (i, QUIC_PORT)

    def node_opts(self, i):
        return ["cluster.quic=10.78.0.%d:%d" % (i, QUIC_PORT), "peers=%s/peers" % self.run]

    def start(self, i):
        if not os.path.exists("%s/peers" % self.run):
            keys = []
            for j in range(1, self.n + 1):
                r = subprocess.run([self.build + "/selftests/quic/quic_peer", "keygen",
                                    "%s/n%d/state/node.key" % (self.run, j)],
                                   capture_output=True, text=True, check=True)
                keys.append("%s node%d" % (r.stdout.split()[0], j))
            with open("%s/peers" % self.run, "w") as f:
                f.write("\n".join(keys) + "\n")
        super().start(i)


def follower_forwarding(build, run):
    cl = QuicCluster(build, 3, run)
    # The follower keeps believing in its leader for a while (election_ms),
    # and a forward waits cluster.timeout_ms for it.
    cl.opts = ["cluster.election_ms=3000", "cluster.timeout_ms=6000"]
    try:
        cl.setup()
        L = wait(lambda: leader(cl, (1, 2, 3)), 40, 0.2)
        tap(L is not None, "QUIC endpoints: a leader is elected (node %s)" % L)
        if L is None:
            return
        F = [i for i in (1, 2, 3) if i != L][0]
        out, err = cl.kv(F, "put", "fwd-warm", "up", timeout=10)
        tap(out is not None and out.get("outcome") == "done",
            "a put through follower %d is forwarded to leader %d: %s %s" % (F, L, out, err))
        cl.stop(L)
        # A fresh connection: the forward link to the stopped leader is idle,
        # the put waits for its answer (or a new connection) until timeout_ms.
        before = udp_rx_queue(cl, L, QUIC_PORT)
        p = KvCall(cl, F, "put", "fwd-pending", "v")
        sent = wait(lambda: udp_rx_queue(cl, L, QUIC_PORT) > before, 5)
        rc, _, ps_err = cl.cell(F, "ps", timeout=20)
        ps_done = time.monotonic()
        still = p.pending()
        tap(sent and rc == 0 and still,
            "leader %d stopped: `cell ps` on follower %d is answered while the forwarded put "
            "is pending (put still running: %s)" % (L, F, still), ps_err)
        out, err, t = p.end(30)
        tap(t is not None and t > ps_done,
            "the forwarded put ends after ps (%s %s)" % (out, err))
        cl.cont(L)
    finally:
        cl.cleanup()


def main():
    build = sys.argv[1]
    print("TAP version 13")
    if netns_skip("kl"):
        return 0
    quic = os.path.exists(build + "/selftests/quic/quic_peer")
    print("1..%d" % (6 + (4 if quic else 0)))
    for part in (leader_without_quorum, follower_forwarding if quic else None):
        if not part:
            continue
        run = tempfile.mkdtemp(prefix="kvloop.")
        try:
            part(build, run)
        finally:
            logs = ""
            for i in (1, 2, 3):
                try:
                    with open("%s/n%d.log" % (run, i)) as f:
                        logs += f.read()
                except OSError:
                    pass
            if tap_failed():
                for line in logs.splitlines()[-20:]:
                    print("# " + line)
            shutil.rmtree(run, ignore_errors=True)
    if not quic:
        print("# no QUIC in this build: the forwarding part is not run")
    return 1 if tap_failed() else 0


if __name__ == "__main__":
    sys.exit(main())
