#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# can_bus_test.py BUILD: celld's CAN-FD bus listener (can_bus.c) on a
# simulated bus: one end of a SOCK_SEQPACKET socketpair is celld's
# -o can.ifaces=fd:N, the test writes struct canfd_frame datagrams into the
# other.  Announcements are built here from Documentation/can.rst's layout
# (not by the C encoder), so the test also pins the layout.  TAP.
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
celld = os.path.join(build, "userspace/celld/celld")
cell = os.path.join(build, "userspace/cell/cell")
n = 0
failed = False


def check(what, ok):
    global n, failed
    n += 1
    print(("ok" if ok else "not ok") + f" {n} {what}", flush=True)
    failed |= not ok


def can_id(kind, dst, src, prefix=0x0C):
    return 0x80000000 | (prefix << 24) | (kind << 16) | (dst << 8) | src


def dlc_round(k):
    for v in (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64):
        if v >= k:
            return v
    raise ValueError(k)


def announcement(name, fingerprint, slots=2, max_payload=640):
    body = struct.pack("<BBBBQHH", 0xCE, 1, slots, len(name), fingerprint, max_payload, 0)
    body += name.encode()
    ln = dlc_round(len(body))
    return body + b"\xcc" * (ln - len(body))


def frame(cid, data):
    return struct.pack("<IBBBB", cid, len(data), 0x04, 0, 0) + data.ljust(64, b"\0")


def ps(env):
    out = subprocess.run([cell, "ps", "-j"], env=env, capture_output=True, text=True, timeout=10)
    return {(c["node"], c["name"]): c for c in json.loads(out.stdout)} if out.returncode == 0 else None


def wait_ps(env, pred, secs=5.0):
    end = time.monotonic() + secs
    while True:
        cells = ps(env)
        if cells is not None and pred(cells):
            return cells
        if time.monotonic() > end:
            return cells
        time.sleep(0.05)


print("TAP version 13")
print("1..9")
tmp = tempfile.mkdtemp(prefix="celld-can.")
run = os.path.join(tmp, "run")
os.makedirs(run)
env = dict(os.environ, CELL_RUNTIME_DIR=run)
bus, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
fd = theirs.fileno()
B = f"fd{fd}"
log = open(os.path.join(tmp, "celld.log"), "w")
d = subprocess.Popen([celld, "-r", run, "-s", os.path.join(tmp, "state"), "-v",
                      "-o", "discovery=off", "-o", f"can.ifaces=fd:{fd}", "-o", "can.ttl=2"],
                     stdout=log, stderr=subprocess.STDOUT, pass_fds=(fd,), env=env)
theirs.close()
try:
    for _ in range(100):
        if os.path.exists(os.path.join(run, "nucleus.sock")):
            break
        time.sleep(0.05)
    ANN, SEG = 2, 1
    bus.send(frame(can_id(ANN, 0xFF, 0x42), announcement("sensor", 0x1122334455667788)))
    bus.send(frame(can_id(ANN, 0xFF, 0x43), announcement("motor.left", 0xBC05E159DB6ACC7A)))
    cells = wait_ps(env, lambda c: (f"can:{B}:0x42", "sensor") in c and (f"can:{B}:0x43", "motor.left") in c)
    check("cell ps -j lists both announced bus nodes", cells is not None
          and (f"can:{B}:0x42", "sensor") in cells and (f"can:{B}:0x43", "motor.left") in cells)
    s = (cells or {}).get((f"can:{B}:0x42", "sensor"), {})
    check("node = bus + CAN id, path can, origin can, the announced fingerprint, not local",
          s.get("path") == "can" and s.get("origin") == "can" and s.get("local") is False
          and s.get("fingerprint") == "0x1122334455667788"
          and s.get("endpoints") == [f"can://{B}/0x42"])
    table = subprocess.run([cell, "ps"], env=env, capture_output=True, text=True, timeout=10).stdout
    check("cell ps (table) shows the node's row", any(
        l.split()[:1] == ["sensor"] and f"can:{B}:0x42" in l and " can " in l for l in table.splitlines()))
    # Foreign and malformed frames: none becomes an entry.
    bad = announcement("ghost", 1)
    bus.send(frame(can_id(ANN, 0xFF, 0x50), bytes([0xCD]) + bad[1:]))  # bad magic
    bus.send(frame(can_id(ANN, 0xFF, 0x51), bad[:16] + b"gh\x00st" + bad[21:]))  # NUL in name
    bus.send(frame(can_id(ANN, 0xFF, 0x52), bad[:12]))  # truncated
    bus.send(frame(can_id(ANN, 0xFF, 0x53), bad[:14] + b"\x01" + bad[15:]))  # reserved set
    bus.send(frame(can_id(ANN, 0x07, 0x54), bad))  # not to everyone
    bus.send(frame(can_id(ANN, 0xFF, 0x55, prefix=0x0D), bad))  # another protocol's prefix
    bus.send(frame(can_id(SEG, 0xFF, 0x56), bad))  # a segment, not an announcement
    bus.send(frame(can_id(ANN, 0xFF, 0xFF), bad))  # from "everyone"
    bus.send(frame(can_id(ANN, 0xFF, 0x57) & 0x7FFFFFFF, bad))  # an 11-bit id
    bus.send(frame(can_id(ANN, 0xFF, 0x58), bad)[:40])  # a short datagram
    bus.send(frame(can_id(ANN, 0xFF, 0x59), announcement("ok", 7)))  # then a good one
    cells = wait_ps(env, lambda c: (f"can:{B}:0x59", "ok") in c)
    check("malformed or foreign frames add nothing; the next good one does",
          cells is not None and (f"can:{B}:0x59", "ok") in cells
          and not any(k[1] == "ghost" for k in cells))
    bus.send(frame(can_id(ANN, 0xFF, 0x42), announcement("sensor2", 0x99)))
    cells = wait_ps(env, lambda c: (f"can:{B}:0x42", "sensor2") in c and (f"can:{B}:0x42", "sensor") not in c)
    check("a node announcing another name replaces its entry",
          cells is not None and (f"can:{B}:0x42", "sensor2") in cells
          and (f"can:{B}:0x42", "sensor") not in cells
          and cells[(f"can:{B}:0x42", "sensor2")]["fingerprint"] == "0x0000000000000099")
    # 0x43 keeps announcing, the others stop: after can.ttl=2 s they go.
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        bus.send(frame(can_id(ANN, 0xFF, 0x43), announcement("motor.left", 0xBC05E159DB6ACC7A)))
        time.sleep(0.3)
    cells = ps(env) or {}
    check("silent nodes expire after can.ttl, an announcing one stays",
          (f"can:{B}:0x43", "motor.left") in cells and (f"can:{B}:0x42", "sensor2") not in cells
          and (f"can:{B}:0x59", "ok") not in cells)
    check("celld still runs", d.poll() is None)
    bus.close()
    time.sleep(0.3)
    check("the bus closing does not stop celld", d.poll() is None and ps(env) is not None)
    d.terminate()
    d.wait(timeout=10)
    bad = subprocess.run([celld, "-r", run, "-s", os.path.join(tmp, "state"), "-o", "discovery=off",
                          "-o", "can.ifaces=fd:77"], capture_output=True, text=True, timeout=10)
    check("a can.ifaces naming no open descriptor is refused at start",
          bad.returncode != 0 and "fd:77" in bad.stderr)
finally:
    if d.poll() is None:
        d.kill()
        d.wait()
    log.close()
    if failed:
        sys.stdout.write("# celld log:\n" + "".join("# " + l for l in open(os.path.join(tmp, "celld.log"))))
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failed else 0)
