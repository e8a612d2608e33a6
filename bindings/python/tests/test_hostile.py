# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""test_hostile.py GENERATED_DIR

A hostile server (a Python thread on a SOCK_SEQPACKET socket) answers the
Python client's HELLO and calls with malformed bytes: truncated headers,
bad lengths, wrong fingerprints, garbage, silence, fds that are no rings.
Every case must end in a CellError carrying the right status, within a
second: never a hang, a crash or an accepted frame.
"""
import os
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, sys.argv[1])
import cell  # noqa: E402
import demo_cell  # noqa: E402
from cell import client as cc  # noqa: E402
from cell import wire  # noqa: E402
from tap import case, done, eq  # noqa: E402

S = cell.Status
FP = demo_cell.FINGERPRINT
path = os.path.join(tempfile.mkdtemp(prefix="cell-hostile-"), "evil.sock")
lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
lsock.bind(path)
lsock.listen(8)
script = {"hs": None, "call": None}


def welcome(fp=FP, features=cc.FEAT_CANCEL):
    return cc.encode_hs(wire.F_RESPONSE, cc.WELCOME_MAGIC, fp, features, 1)


def response(payload=b"", fp=FP, flags=wire.F_RESPONSE, method=1, cid=1, length=None):
    h = wire.Header(flags=flags, method=method, correlation=cid,
                    len=len(payload) if length is None else length, fingerprint=fp)
    return h.encode() + payload


def serve():
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve_one, args=(conn, dict(script)), daemon=True).start()


def serve_one(conn, script):
    if True:
        try:
            conn.settimeout(2)
            conn.recv(4096)  # HELLO
            hs = script["hs"]
            if hs == "close":
                return
            if callable(hs):
                hs(conn)
            elif hs is not None:
                conn.send(hs)
            else:
                conn.send(welcome())
            if script["call"] is None:
                time.sleep(1.5)
                return
            data = conn.recv(70000)  # the request
            if data and script["call"] != "silent":
                if script["call"] == "close":
                    return
                conn.send(script["call"])
            time.sleep(1.5)
        except OSError:
            pass
        finally:
            conn.close()


threading.Thread(target=serve, daemon=True).start()


def expect(status, hs=None, call=None, typed=True):
    script["hs"], script["call"] = hs, call
    t0 = time.monotonic()
    try:
        with demo_cell.DemoClient(path=path, transport="unix", timeout=0.3) as c:
            if typed:
                c.echo(demo_cell.Blob(seq=1, data=b"hi"))
            else:
                c.conn.call(1, b"x" * 16)
    except cell.CellError as e:
        statuses = status if isinstance(status, tuple) else (status,)
        assert e.status in statuses, f"{e.status!r} ({e}) not in {statuses}"
    else:
        raise AssertionError("no error raised")
    assert time.monotonic() - t0 < 1.0, "took more than a second"


def send_fds(fds, data):
    def send(conn):
        conn.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i",
                                                                                  *fds))])
    return send


pipes = [os.pipe() for _ in range(2)]
ring_welcome = welcome(features=cc.FEAT_CANCEL | cc.FEAT_SHM_MEMFD)
ring_fds = [pipes[0][0], pipes[0][1], pipes[1][0]]
cases = [
    ("handshake: silence", S.DEADLINE_EXCEEDED, "silent-hs", None),
    ("handshake: closed at once", S.UNAVAILABLE, "close", None),
    ("handshake: truncated header", S.BAD_MESSAGE, b"\x01\x02\x01", None),
    ("handshake: garbage", (S.BAD_MESSAGE, S.UNSUPPORTED_VERSION), os.urandom(97), None),
    ("handshake: header says 48 bytes, 20 present", S.BAD_MESSAGE, welcome()[:40], None),
    ("handshake: WELCOME of another fingerprint", S.FINGERPRINT_MISMATCH, welcome(fp=FP ^ 1),
     None),
    ("handshake: FINGERPRINT_MISMATCH error", S.FINGERPRINT_MISMATCH,
     response(wire.encode_error(4, "no"), flags=wire.F_RESPONSE | wire.F_ERROR,
              method=wire.METHOD_HELLO), None),
    ("handshake: unknown feature bits", S.BAD_MESSAGE, welcome(features=0x100), None),
    ("handshake: rings granted without fds", S.BAD_MESSAGE, ring_welcome, None),
    ("handshake: ring fds that are pipes", (S.BAD_MESSAGE, S.UNAVAILABLE),
     send_fds(ring_fds, ring_welcome), None),
    ("call: silence", S.DEADLINE_EXCEEDED, None, "silent"),
    ("call: connection closed", S.UNAVAILABLE, None, "close"),
    ("call: truncated header", S.BAD_MESSAGE, None, b"\x01\x02\x01\x00\x01"),
    ("call: length field beyond the bytes", S.BAD_MESSAGE, None, response(b"1234", length=100)),
    ("call: wrong fingerprint", S.BAD_MESSAGE, None, response(bytes(16), fp=FP ^ 0xFF)),
    ("call: answer to another call", S.BAD_MESSAGE, None, response(bytes(16), cid=9)),
    ("call: a request instead of a response", S.BAD_MESSAGE, None,
     response(bytes(16), flags=wire.F_REQUEST)),
    ("call: garbage", (S.BAD_MESSAGE, S.UNSUPPORTED_VERSION, S.TOO_LARGE), None,
     os.urandom(200)),
    ("call: malformed error payload", S.BAD_MESSAGE, None,
     response(b"\x07\x00\x00\x00\x09\x00\x00\x00", flags=wire.F_RESPONSE | wire.F_ERROR)),
    ("call: the server's status travels", S.NOT_FOUND, None,
     response(wire.encode_error(13, "gone"), flags=wire.F_RESPONSE | wire.F_ERROR)),
    ("call: a message whose span is out of bounds", S.BAD_MESSAGE, None,
     response(struct.pack("<QII", 1, 16, 99))),
    ("call: a message shorter than its fixed part", S.BAD_MESSAGE, None, response(b"\x01")),
]
for name, status, hs, call in cases:
    if hs == "silent-hs":
        hs = lambda conn: time.sleep(1.5)  # noqa: E731
    case(name, expect, status, hs, call)


def dropped_after_violation():
    script["hs"], script["call"] = None, response(bytes(16), fp=FP ^ 0xFF)
    with demo_cell.DemoClient(path=path, transport="unix", timeout=0.3) as c:
        try:
            c.echo(demo_cell.Blob(seq=1))
        except cell.CellError as e:
            eq(e.status, S.BAD_MESSAGE, "first")
        try:
            c.echo(demo_cell.Blob(seq=2))
        except cell.CellError as e:
            eq(e.status, S.UNAVAILABLE, "second")
        else:
            raise AssertionError("the connection was kept")


case("after a hostile answer the connection is dropped, the next call UNAVAILABLE",
     dropped_after_violation)
done()
