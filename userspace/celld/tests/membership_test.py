#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Membership changes and leadership transfer of celld's Raft group
(Documentation/raft.rst), in network namespaces (nemesis.py's Cluster).

Three founding voters and two empty nodes (cluster.join=1): `cell cluster
add` through a follower (NOT_LEADER followed), the new voter serves reads
and its endpoint becomes the leader hint; add as standby then promote;
leadership transfer to a named node and to "any"; remove the old leader
(the group keeps committing without it); demote to spare; refusals for a
duplicate id, an unknown id and a transfer to a non-voter.

usage: membership_test.py BUILD_DIR.  Prints TAP; SKIP without root/ip netns.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nemesis import Cluster, netns_skip, tap, tap_failed  # noqa: E402



def wait(pred, seconds=10, step=0.1):
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
        if s and s["state"] == "leader":
            return i
    return None


def members(cl, i):
    s = cl.status(i)
    return {m["id"]: m["role"] for m in s["members"]} if s else {}


def main():
    build = sys.argv[1]
    print("TAP version 13")
    if netns_skip("mb"):
        return 0
    print("1..17")
    run = tempfile.mkdtemp(prefix="membership.")
    cl = Cluster(build, 5, run, founders=3)
    try:
        cl.setup()
        L = wait(lambda: leader(cl, (1, 2, 3)), 20)
        tap(L is not None, "three founders elect a leader (%s)" % L)
        if L is None:
            return 1
        tap(members(cl, L) == {1: "voter", 2: "voter", 3: "voter"},
            "status lists the three voters", members(cl, L))
        s4 = cl.status(4)
        tap(s4 is not None and s4["state"] == "follower" and not s4["members"],
            "node 4 (cluster.join=1) waits with an empty configuration", s4)

        F = L % 3 + 1
        rc, _, err = cl.cell(F, "cluster", "add", "4", "10.78.0.4:7380", cl.endpoint(4))
        tap(rc == 0, "add 4 sent to follower %d is redirected to the leader and commits" % F,
            err)
        tap(wait(lambda: members(cl, L).get(4) == "voter"),
            "node 4 is a voter once it caught up", members(cl, L))
        res, err = cl.kv(F, "put", "m", "after-add")
        got = wait(lambda: (cl.kv(4, "get", "m")[0] or {}).get("value") == "after-add", 10)
        tap(res is not None and res["outcome"] == "done" and got,
            "a write commits and node 4 reads it", err)
        rc, _, err = cl.cell(L, "cluster", "add", "4", "10.78.0.4:7380")
        tap(rc == 1 and "4" in err, "adding id 4 again is refused with a reason", err)

        rc, _, err = cl.cell(L, "cluster", "add", "--standby", "5", "10.78.0.5:7380",
                             cl.endpoint(5))
        tap(rc == 0 and wait(lambda: members(cl, L).get(5) == "standby"),
            "add 5 as standby", err or members(cl, L))
        rc, _, err = cl.cell(L, "cluster", "transfer", "5")
        tap(rc == 1, "transfer to a standby is refused", err)
        rc, _, err = cl.cell(L, "cluster", "promote", "5")
        tap(rc == 0 and wait(lambda: members(cl, L).get(5) == "voter"),
            "promote 5 to voter (five voters)", err or members(cl, L))

        rc, _, err = cl.cell(F, "cluster", "transfer", "4")
        tap(rc == 0 and wait(lambda: leader(cl, (1, 2, 3, 4, 5)) == 4, 5),
            "transfer (sent to follower %d) makes node 4 the leader" % F, err)
        # The hint for node 4 comes from the replicated registry (it is in no
        # one's cluster.peers): a write at node 1 is redirected to it.
        res, err = cl.kv(1 if L != 1 else 2, "put", "m", "via-hint")
        tap(res is not None and res["outcome"] == "done",
            "a write at a founder follows the hint to the added leader", err)

        rc, _, err = cl.cell(4, "cluster", "remove", str(L))
        tap(rc == 0 and wait(lambda: L not in members(cl, 4)),
            "remove the old leader %d" % L, err or members(cl, 4))
        cl.kill(L)
        res, err = cl.kv(4, "put", "m", "after-remove")
        tap(res is not None and res["outcome"] == "done",
            "four voters commit without the removed node", err)
        rc, _, err = cl.cell(4, "cluster", "remove", "9")
        tap(rc == 1 and "9" in err, "remove of an unknown id is refused with a reason", err)
        rc, _, err = cl.cell(4, "cluster", "demote", "5")
        tap(rc == 0 and wait(lambda: members(cl, 4).get(5) == "spare"),
            "demote 5 to spare", err or members(cl, 4))
        before = leader(cl, (1, 2, 3, 4, 5))
        rc, _, err = cl.cell(4, "cluster", "transfer")
        after = wait(lambda: (lambda x: x if x not in (None, 4, 5) else None)(
            leader(cl, [i for i in (1, 2, 3, 4) if i != L])), 5)
        tap(rc == 0 and before == 4 and after is not None,
            "transfer with no id hands leadership to another voter (%s)" % after, err)
    finally:
        cl.cleanup()
        if os.environ.get("KEEP"):
            print("# kept %s" % run)
        else:
            shutil.rmtree(run, ignore_errors=True)
    return 1 if tap_failed() else 0


if __name__ == "__main__":
    sys.exit(main())
