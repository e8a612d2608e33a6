#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""celld_cluster_quic: kv calls across machines (Documentation/raft.rst,
"Across machines").

Three celld in network namespaces (nemesis.py's Cluster) whose nuclei
answer each other on QUIC (-o cluster.quic=10.78.0.N:7390, -o peers=FILE
with the three node keys) and whose cluster.peers endpoints are those
quic:// addresses, so a NOT_LEADER hint names no path a client could use:
a kv call to a follower only succeeds if the follower forwards it to the
leader.  Checks:
  1. a leader is elected;
  2. put through a follower, get through the other follower;
  3. cas through a follower: the right expectation wins, a wrong one fails;
  4. over QUIC, another node may call cluster status but not list
     (PERMISSION_DENIED), and a key not in the peers file is refused;
  5. kill -9 of the leader: a new one, and puts through a follower reach it;
  6. a celld with cluster.quic refuses to start with -o tofu=1, and with a
     peers file holding a key learned by TOFU ("KEY tofu ADDRESS", what
     discovery and axon append): such a key could write the cluster's kv.
TAP; SKIP without root, ip(8) or QUIC (quic_peer not built).
usage: cluster_quic_test.py BUILD_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nemesis import Cluster, netns_skip, tap, tap_failed  # noqa: E402

PORT = 7390


class QuicCluster(Cluster):
    def endpoint(self, i):
        return "quic://10.78.0.%d:%d" % (i, PORT)

    def node_opts(self, i):
        return ["cluster.quic=10.78.0.%d:%d" % (i, PORT), "peers=%s/peers" % self.run]

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

    def in_ns(self, i, *args, env=None, timeout=15):
        try:
            return subprocess.run(["ip", "netns", "exec", "%sn%d" % (self.ns, i)] + list(args),
                                  capture_output=True, text=True, timeout=timeout,
                                  env=dict(os.environ, **(env or {})))
        except subprocess.TimeoutExpired:
            return None


def leader_of(cl, nodes):
    for _ in range(150):
        for i in nodes:
            s = cl.status(i)
            if s and s.get("state") == "leader":
                return i
        time.sleep(0.1)
    return None


def kv(cl, i, *args):
    out, err = cl.kv(i, *args, timeout=15)
    return out, err


def main():
    build = sys.argv[1]
    print("TAP version 13")
    if netns_skip("cq"):
        return 0
    if not os.path.exists(build + "/selftests/quic/quic_peer") or \
            not os.path.exists(build + "/userspace/celld/celld_remote_call"):
        print("1..0 # SKIP no QUIC in this build (quic_peer, celld_remote_call not built)")
        return 0
    print("1..12")
    run = tempfile.mkdtemp(prefix="clquic.")
    cl = QuicCluster(build, 3, run)
    try:
        cl.setup()
        L = leader_of(cl, (1, 2, 3))
        tap(L is not None, "a leader is elected (node %s)" % L)
        if L is None:
            return 1
        F1, F2 = [i for i in (1, 2, 3) if i != L]
        out, err = kv(cl, F1, "put", "k1", "across")
        tap(out is not None and out.get("outcome") == "done",
            "put through follower %d (forwarded to leader %d): %s %s" % (F1, L, out, err))
        out, err = kv(cl, F2, "get", "k1")
        tap(out is not None and out.get("value") == "across",
            "get through follower %d sees it: %s %s" % (F2, out, err))
        out, err = kv(cl, F2, "cas", "k1", "wrong", "x")
        out2, err2 = kv(cl, F1, "cas", "k1", "across", "swapped")
        out3, _ = kv(cl, L, "get", "k1")
        tap(out is not None and out.get("outcome") == "cas_mismatch" and out2 is not None and
            out2.get("outcome") == "done" and out3 is not None and
            out3.get("value") == "swapped",
            "cas through followers: wrong expectation %s / right one %s; leader reads %s"
            % (out or err, out2 or err2, out3))
        # Over QUIC as node F1 (its key is in the peers file).
        me = {"CELL_STATE_DIR": "%s/n%d/state" % (run, F1), "CELL_NO_REGISTER": "1"}
        target = "quic://10.78.0.%d:%d" % (L, PORT)
        call = build + "/userspace/celld/celld_remote_call"
        r = cl.in_ns(F1, call, target, "8", env=me)  # cluster (status)
        tap(r is not None and r.returncode == 0 and r.stdout.startswith("status OK"),
            "node %d calls cluster status on the leader over QUIC: %s %s"
            % (F1, r and r.stdout.strip(), r and r.stderr.strip()[:200]))
        r = cl.in_ns(F1, call, target, "3", env=me)  # list
        tap(r is not None and r.stdout.startswith("status PERMISSION_DENIED"),
            "but not list: %s %s" % (r and r.stdout.strip(), r and r.stderr.strip()[:200]))
        stranger = "%s/stranger" % run
        os.makedirs(stranger)
        subprocess.run([build + "/selftests/quic/quic_peer", "keygen", stranger + "/node.key"],
                       capture_output=True, check=True)
        r = cl.in_ns(F1, call, target, "8",
                     env={"CELL_STATE_DIR": stranger, "CELL_NO_REGISTER": "1"})
        tap(r is not None and r.returncode != 0 and "status OK" not in r.stdout,
            "a key not in the peers file is refused: %s %s"
            % (r and r.stdout.strip(), r and r.stderr.strip()[:200]))
        cl.kill(L)
        L2 = leader_of(cl, (F1, F2))
        tap(L2 is not None, "kill -9 of leader %d: node %s leads" % (L, L2))
        F = F1 if L2 == F2 else F2
        ok = 0
        for k in range(20):
            out, err = kv(cl, F, "put", "after%d" % k, "v%d" % k)
            ok += out is not None and out.get("outcome") == "done"
        tap(ok == 20, "20 puts through follower %d reach leader %s: %d ok" % (F, L2, ok))
        out, err = kv(cl, L2, "get", "after19")
        tap(out is not None and out.get("value") == "v19",
            "the new leader has them: %s %s" % (out, err))
        # 6. In node 1's namespace, on its loopback: a fourth celld that must not start.
        lone = "%s/lone" % run
        os.makedirs(lone + "/run")
        os.makedirs(lone + "/state")
        with open("%s/peers" % run) as f, open(lone + "/peers", "w") as g:
            g.write(f.read() + "%s tofu 203.0.113.9:7400\n" % ("ab" * 32))

        def lone_celld(*opts):
            return cl.in_ns(1, build + "/userspace/celld/celld", "-r", lone + "/run", "-s",
                            lone + "/state", "-S", "-o", "discovery=off", "-o", "cluster.id=1",
                            "-o", "cluster.address=127.0.0.1:7481",
                            "-o", "cluster.peers=1@127.0.0.1:7481",
                            "-o", "cluster.quic=127.0.0.1:7491", *opts, timeout=10)
        r = lone_celld("-o", "peers=%s/peers" % lone)
        tap(r is not None and r.returncode != 0 and "learned by TOFU" in r.stderr,
            "cluster.quic with a TOFU-learned key in the peers file: celld refuses to start",
            r and r.stderr[-600:] or "still running after 10 s")
        r = lone_celld("-o", "peers=%s/peers" % run, "-o", "tofu=1")
        tap(r is not None and r.returncode != 0 and "not with -o tofu=1" in r.stderr,
            "cluster.quic with -o tofu=1: celld refuses to start",
            r and r.stderr[-600:] or "still running after 10 s")
    finally:
        cl.cleanup()
        logs = ""
        for i in (1, 2, 3):
            try:
                with open("%s/n%d.log" % (run, i)) as f:
                    logs += f.read()
            except OSError:
                pass
        print("# forwarding lines: %s" % [x for x in logs.splitlines() if "forwarded" in x],
              flush=True)
        shutil.rmtree(run, ignore_errors=True)
    return 1 if tap_failed() else 0


if __name__ == "__main__":
    sys.exit(main())
