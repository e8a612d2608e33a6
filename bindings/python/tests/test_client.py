# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""test_client.py DEMO_SERVER GENERATED_DIR

The Python client against the C demo server (userspace/examples) on the
unix and the SHM path: calls, sizes, the schema over SCHEMA, deadlines, a
wrong fingerprint refused, an absent cell, a server killed under a call.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, sys.argv[2])
import cell  # noqa: E402
import demo_cell  # noqa: E402
from cell import ring  # noqa: E402
from tap import SkipCase, case, done, eq  # noqa: E402

SERVER = sys.argv[1]
rundir = tempfile.mkdtemp(prefix="cell-py-")
os.environ["CELL_RUNTIME_DIR"] = rundir


def start(name="demo"):
    sock = os.path.join(rundir, name + ".sock")
    if os.path.exists(sock):
        os.unlink(sock)  # left by a server killed before
    p = subprocess.Popen([SERVER, name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        # demo_server binds before it listens: wait until a connect is accepted.
        if os.path.exists(sock):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                probe.connect(sock)
                return p
            except OSError:
                pass
            finally:
                probe.close()
        time.sleep(0.01)
    p.kill()
    raise RuntimeError("demo_server did not start")


server = start()


def calls(transport):
    if transport == "shm" and not ring.supported():
        raise SkipCase(ring.unsupported_reason())
    with demo_cell.DemoClient("demo", transport=transport, timeout=2) as c:
        eq(c.path_kind, "shm-memfd" if transport == "shm" else "unix", "path")
        before = c.stats(demo_cell.Empty()).calls
        for size in (0, 1, 7, 100, 4096, 60000):
            data = bytes(i & 0xFF for i in range(size))
            r = c.echo(demo_cell.Blob(seq=size, data=data), timeout=1)
            eq((r.seq, r.data), (size, data), f"echo {size}")
        for i in range(500):
            eq(c.echo(demo_cell.Blob(seq=i, data=b"x")).seq, i, "seq")
        eq(c.stats(demo_cell.Empty()).calls, before + 506, "calls counted once")


def schema(transport):
    with demo_cell.DemoClient("demo", transport=transport) as c:
        text = c.schema()
        eq(text, demo_cell.SCHEMA_TEXT, "canonical text")
        eq(cell.fingerprint(text), demo_cell.FINGERPRINT, "fingerprint")


def wrong_fingerprint(transport):
    try:
        demo_cell.DemoClient("demo", transport=transport, fingerprint=0x1234)
    except cell.CellError as e:
        eq(e.status, cell.Status.FINGERPRINT_MISMATCH, "status")
        assert "0x0000000000001234" in str(e) and f"{demo_cell.FINGERPRINT:016x}" in str(e), e
    else:
        raise AssertionError("connected with a wrong fingerprint")


def too_large(transport):
    with demo_cell.DemoClient("demo", transport=transport) as c:
        try:
            c.echo(demo_cell.Blob(data=bytes(1 << 20)))
        except cell.CellError as e:
            eq(e.status, cell.Status.TOO_LARGE, "status")
        else:
            raise AssertionError("1 MiB went through without attachments")
        eq(c.echo(demo_cell.Blob(seq=3)).seq, 3, "still usable")


def absent():
    t0 = time.monotonic()
    try:
        demo_cell.DemoClient("nobody", timeout=1)
    except cell.CellError as e:
        eq(e.status, cell.Status.UNAVAILABLE, "status")
    assert time.monotonic() - t0 < 1, "absent cell took long"


def server_death(transport):
    if transport == "shm" and not ring.supported():
        raise SkipCase(ring.unsupported_reason())
    p = start("victim")
    with demo_cell.DemoClient("victim", transport=transport) as c:
        c.echo(demo_cell.Blob(seq=1))
        p.send_signal(signal.SIGKILL)
        p.wait()
        t0 = time.monotonic()
        try:
            c.echo(demo_cell.Blob(seq=2), timeout=5)
        except cell.CellError as e:
            assert e.status in (cell.Status.UNAVAILABLE,), e
        else:
            raise AssertionError("a call to a dead server succeeded")
        assert time.monotonic() - t0 < 1, "took longer than a second"


def instance():
    p = start("demo@2")
    try:
        with demo_cell.DemoClient("demo@2", transport="unix", timeout=2) as c:
            eq(c.echo(demo_cell.Blob(seq=2, data=b"two")).data, b"two", "echo")
    finally:
        p.kill()
        p.wait()
    try:
        demo_cell.DemoClient("demo@other-node", timeout=1)
    except cell.CellError as e:
        eq(e.status, cell.Status.UNAVAILABLE, "NAME@node")
    else:
        raise AssertionError("NAME@node connected")


try:
    for t in ("unix", "shm"):
        case(f"{t}: echo of 0..60000 bytes and 500 calls, each counted once", calls, t)
        case(f"{t}: SCHEMA gives the canonical text and its fingerprint", schema, t)
        case(f"{t}: a wrong fingerprint is refused with FINGERPRINT_MISMATCH", wrong_fingerprint,
             t)
        case(f"{t}: a message larger than the path raises TOO_LARGE", too_large, t)
        case(f"{t}: kill -9 of the server gives UNAVAILABLE within a second", server_death, t)
    case("an absent cell raises UNAVAILABLE at once", absent)
    case("NAME@N is instance N, a local cell; NAME@node raises UNAVAILABLE", instance)
finally:
    server.terminate()
    server.wait(5)
done()
