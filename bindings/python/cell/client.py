# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""A client connection to a cell: HELLO, then calls on the unix or SHM path.

The protocol is Documentation/rpc.rst: connect to ``<runtime dir>/<name>.sock``
(SOCK_SEQPACKET), send HELLO (struct cell_hello), read WELCOME.  With the
rings granted (three fds: request ring, response ring, doorbell eventfd)
calls go through shared memory (cell.ring); otherwise every frame is one
socket message (the unix path).

Everything the server sends is checked before use: the WELCOME field by
field, every frame by the wire rules, its fingerprint against the agreed
one, its kind, method and correlation id against the call.  A violation
raises CellError(BAD_MESSAGE) and drops the connection; a silent or slow
server raises DEADLINE_EXCEEDED when the call's timeout passes; a gone one
UNAVAILABLE.  Nothing here blocks without a deadline.

One connection serves one call at a time (a lock serialises threads).
"""
from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
import time

from . import wire
from .wire import CellError, Header, Status

FEAT_SHM_MEMFD = 0x0001
FEAT_SHM_MODULE = 0x0002
FEAT_ATTACHMENTS = 0x0004
FEAT_CANCEL = 0x0008
FEAT_TRACE = 0x0010  # never offered nor granted here: flag bit 7 stays reserved
FEAT_ALL = 0x001F

HELLO_MAGIC = 0x4F4C4548
WELCOME_MAGIC = 0x434C4557
RING_MIN_DATA = 1 << 12
RING_MAX_DATA = 1 << 30
SOCKET_FRAME_MAX = 64 << 10  # CELL_RPC_SOCKET_FRAME_MAX: payload bytes per socket message
NAME_MAX = 32

_HS = struct.Struct("<IHHIIQQQQ")  # struct cell_hello / cell_welcome, 48 bytes
_RECV_MAX = wire.HDR_SIZE + SOCKET_FRAME_MAX + 64


def runtime_dir() -> str:
    """Where local cells put their sockets (as lib/runtime_dir.c)."""
    env = os.environ.get("CELL_RUNTIME_DIR")
    if env is not None:
        if not env.startswith("/"):
            raise CellError(Status.INVALID_ARGUMENT, "CELL_RUNTIME_DIR is not absolute")
        return env
    env = os.environ.get("XDG_RUNTIME_DIR")
    if env is not None:
        if not env.startswith("/"):
            raise CellError(Status.INVALID_ARGUMENT, "XDG_RUNTIME_DIR is not absolute")
        return env + "/cell"
    if os.geteuid() == 0:
        return "/run/cell"
    return f"/tmp/cell-{os.geteuid()}"


def socket_path(name: str, directory: str | None = None) -> str:
    ok = set("abcdefghijklmnopqrstuvwxyz0123456789_.@-")
    if not name or name[0] == "." or len(name) >= NAME_MAX or set(name) - ok:
        raise CellError(Status.INVALID_ARGUMENT, f"bad cell name {name!r}")
    at = name.find("@")
    if at >= 0 and not name[at + 1:].isdigit():  # NAME@N: instance N, a local cell
        raise CellError(Status.UNAVAILABLE,
                        f"{name}: remote cells (NAME@node) need celld's routing, not here yet")
    return f"{directory or runtime_dir()}/{name}.sock"


def _ring_size_ok(n: int) -> bool:
    return n == 0 or (RING_MIN_DATA <= n <= RING_MAX_DATA and not n & (n - 1))


def encode_hs(flags: int, magic: int, fp: int, features: int, max_inflight: int,
              request_ring: int = 0, response_ring: int = 0) -> bytes:
    h = Header(flags=flags, method=wire.METHOD_HELLO, correlation=1, len=_HS.size,
               fingerprint=fp)
    return h.encode() + _HS.pack(magic, wire.ABI_VERSION, 0, features, max_inflight,
                                 request_ring, response_ring, fp, 0)


def parse_hs(payload, magic: int, hdr_fp: int) -> dict:
    """The rules lib/handshake.c applies to HELLO and WELCOME payloads."""
    (m, abi, res0, features, inflight, req, resp, fp, res1) = _HS.unpack_from(payload, 0)
    if m != magic:
        raise CellError(Status.BAD_MESSAGE, "bad magic")
    if abi != wire.ABI_VERSION:
        raise CellError(Status.UNSUPPORTED_VERSION, "unsupported ABI version")
    if res0 or res1:
        raise CellError(Status.BAD_MESSAGE, "reserved field not zero")
    if features & ~FEAT_ALL:
        raise CellError(Status.BAD_MESSAGE, "unknown feature bits")
    if not _ring_size_ok(req) or not _ring_size_ok(resp):
        raise CellError(Status.BAD_MESSAGE, "bad ring size")
    if fp != hdr_fp:
        raise CellError(Status.BAD_MESSAGE, "header and payload fingerprints differ")
    if inflight == 0:
        raise CellError(Status.BAD_MESSAGE, "max_inflight is 0")
    return {"features": features, "max_inflight": inflight, "request_ring": req,
            "response_ring": resp, "fingerprint": fp}


def _close_fds(fds) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def recv_msg(sock: socket.socket, max_fds: int = 3) -> tuple[bytes, list[int]]:
    """One SEQPACKET message and the fds that came with it (non-blocking)."""
    anc = socket.CMSG_SPACE(max_fds * 4)
    data, ancdata, flags, _ = sock.recvmsg(_RECV_MAX, anc, socket.MSG_DONTWAIT)
    fds: list[int] = []
    for level, kind, cdata in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            n = len(cdata) // 4
            fds.extend(struct.unpack(f"{n}i", cdata[:n * 4]))
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        _close_fds(fds)
        raise CellError(Status.BAD_MESSAGE, "message larger than a socket frame")
    return data, fds


def wait_readable(sock: socket.socket, deadline: float) -> bool:
    """Until @sock is readable (or hung up) or the monotonic @deadline."""
    p = select.poll()
    p.register(sock, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if p.poll(max(1, int(left * 1000 + 0.999))):
            return True


class Connection:
    """One connection to a cell, by name or socket path.

    ``transport``: "auto" (rings when the server grants them), "shm" (rings
    or an error) or "unix" (never rings).  ``timeout`` bounds the handshake
    and is every call's default, in seconds.
    """

    def __init__(self, name: str | None = None, *, fingerprint: int, path: str | None = None,
                 transport: str = "auto", timeout: float = 5.0, ring_size: int = 0,
                 spin_us: float = 50.0):
        if transport not in ("auto", "shm", "unix"):
            raise ValueError("transport is auto, shm or unix")
        if transport == "auto":
            transport = os.environ.get("CELL_RING_BACKEND", "auto")
            transport = {"memfd": "shm", "module": "shm"}.get(transport, transport)
            if transport not in ("auto", "shm", "unix"):
                transport = "auto"
        self.fingerprint = fingerprint
        self.timeout = timeout
        self.spin_us = spin_us
        self.path = path or socket_path(name)
        self.name = name or self.path
        self.kind = "unix"
        self.server_fingerprint = 0
        self._lock = threading.Lock()
        self._next_id = 1
        self._ring = None
        self._sock = None
        self._dead = False
        self._cancelled: set[int] = set()
        self._connect(transport, time.monotonic() + timeout, ring_size)

    # -- handshake --------------------------------------------------------

    def _connect(self, transport: str, deadline: float, ring_size: int) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock.connect(self.path)
        except OSError as e:
            sock.close()
            st = Status.UNAVAILABLE if e.errno in (errno.ENOENT, errno.ECONNREFUSED) \
                else Status.DEADLINE_EXCEEDED if isinstance(e, socket.timeout) \
                else Status.UNAVAILABLE
            raise CellError(st, f"connect {self.path}: {e.strerror or e}") from None
        sock.setblocking(False)
        self._sock = sock
        try:
            self._handshake(transport, deadline, ring_size)
        except BaseException:
            self.close(goodbye=False)
            raise

    def _handshake(self, transport: str, deadline: float, ring_size: int) -> None:
        from . import ring as ringmod  # imported here: unix-only users need no ctypes

        features = FEAT_CANCEL
        if transport != "unix" and ringmod.supported():
            features |= FEAT_SHM_MEMFD
        elif transport == "shm":
            raise CellError(Status.UNAVAILABLE, ringmod.unsupported_reason())
        hello = encode_hs(wire.F_REQUEST, HELLO_MAGIC, self.fingerprint, features, 1,
                          ring_size, ring_size)
        try:
            self._sock.send(hello)
        except OSError as e:
            if e.errno != errno.EPIPE:
                raise CellError(Status.UNAVAILABLE, f"handshake: {e}") from None
        data, fds = self._recv(deadline, what="handshake with " + self.path)
        try:
            welcome = self._parse_welcome(data)
            granted = welcome["features"]
            shm = granted & (FEAT_SHM_MEMFD | FEAT_SHM_MODULE)
            if granted & ~features:
                raise CellError(Status.BAD_MESSAGE, "WELCOME grants features not offered")
            if shm:
                if len(fds) != 3:
                    raise CellError(Status.BAD_MESSAGE,
                                    f"{len(fds)} fds with a ring WELCOME, not 3")
                self._ring = ringmod.ClientRings(fds, welcome, self._sock, self.spin_us)
                fds = []
                self.kind = "shm-memfd"
            elif transport == "shm":
                raise CellError(Status.UNAVAILABLE, f"{self.path}: the server grants no rings")
            elif fds:
                raise CellError(Status.BAD_MESSAGE, "fds with a WELCOME without rings")
        finally:
            _close_fds(fds)

    def _parse_welcome(self, data: bytes) -> dict:
        h, payload = wire.decode_frame(data, 4096)
        self.server_fingerprint = h.fingerprint
        if (h.method != wire.METHOD_HELLO or h.correlation != 1
                or h.flags & wire.F_KIND_MASK != wire.F_RESPONSE):
            raise CellError(Status.BAD_MESSAGE, "not an answer to HELLO")
        if h.flags & wire.F_ERROR:
            status, detail = wire.decode_error(payload)
            if status == Status.FINGERPRINT_MISMATCH:
                detail = (f"fingerprint mismatch: client 0x{self.fingerprint:016x}, "
                          f"server 0x{h.fingerprint:016x}")
            raise CellError(status, f"{self.path}: refused by the server: {detail}")
        if h.flags != wire.F_RESPONSE or h.len != _HS.size:
            raise CellError(Status.BAD_MESSAGE, "not a WELCOME frame")
        w = parse_hs(payload, WELCOME_MAGIC, h.fingerprint)
        if w["fingerprint"] != self.fingerprint:
            raise CellError(Status.FINGERPRINT_MISMATCH,
                            f"fingerprint mismatch: client 0x{self.fingerprint:016x}, "
                            f"server 0x{w['fingerprint']:016x}")
        return w

    # -- socket -----------------------------------------------------------

    def _recv(self, deadline: float, what: str = "call") -> tuple[bytes, list[int]]:
        while True:
            try:
                data, fds = recv_msg(self._sock)
            except BlockingIOError:
                if not wait_readable(self._sock, deadline):
                    raise CellError(Status.DEADLINE_EXCEEDED, f"{what}: no answer in time")
                continue
            except (ConnectionResetError, BrokenPipeError):
                data, fds = b"", []
            if not data and not fds:
                self._dead = True
                raise CellError(Status.UNAVAILABLE, f"{what}: {self.name} closed the connection")
            return data, fds

    def _send_sock(self, frame: bytes, deadline: float) -> None:
        while True:
            try:
                self._sock.send(frame)
                return
            except BlockingIOError:
                p = select.poll()
                p.register(self._sock, select.POLLOUT)
                left = deadline - time.monotonic()
                if left <= 0 or not p.poll(max(1, int(left * 1000))):
                    raise CellError(Status.DEADLINE_EXCEEDED, "send: socket full") from None
            except OSError as e:
                self._dead = True
                raise CellError(Status.UNAVAILABLE, f"send: {e}") from None

    # -- calls ------------------------------------------------------------

    def _check_open(self) -> None:
        if self._sock is None or self._dead:
            raise CellError(Status.UNAVAILABLE, f"{self.name}: connection lost")

    def _alloc_id(self) -> int:
        cid = self._next_id
        self._next_id = cid + 1 if cid < 0xFFFFFFFF else 1
        return cid

    def _header(self, flags: int, method: int, cid: int, n: int) -> Header:
        return Header(flags=flags, method=method, correlation=cid, len=n,
                      fingerprint=self.fingerprint)

    def call(self, method: int, payload: bytes = b"", timeout: float | None = None) -> bytes:
        """Call @method with @payload; the response payload, or CellError."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            self._check_open()
            cid = self._alloc_id()
            h = self._header(wire.F_REQUEST, method, cid, len(payload))
            try:
                if self._ring is not None:
                    frame = self._ring.call(h, payload, deadline)
                else:
                    frame = self._call_unix(h, payload, deadline)
            except CellError as e:
                if e.status == Status.DEADLINE_EXCEEDED and not self._dead:
                    self._cancel(method, cid)
                elif e.status == Status.BAD_MESSAGE:
                    self._dead = True  # a violation drops the connection
                raise
            return self._answer(frame, h)

    def send(self, method: int, payload: bytes = b"", timeout: float | None = None) -> None:
        """A one-way message: no response comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            self._check_open()
            h = self._header(wire.F_REQUEST | wire.F_ONEWAY, method, 0, len(payload))
            if self._ring is not None:
                self._ring.send(h, payload, deadline)
            else:
                self._check_size(payload)
                self._send_sock(h.encode() + bytes(payload), deadline)

    def schema(self, timeout: float | None = None) -> str:
        """The server's canonical schema text (control method SCHEMA)."""
        return self.call(wire.METHOD_SCHEMA, b"", timeout).decode("utf-8")

    def ping(self, timeout: float | None = None) -> None:
        self.call(wire.METHOD_PING, b"", timeout)

    @staticmethod
    def _check_size(payload) -> None:
        if len(payload) > SOCKET_FRAME_MAX:
            raise CellError(Status.TOO_LARGE,
                            f"{len(payload)} bytes: larger than a socket frame "
                            "(attachments are not supported by the Python runtime yet)")

    def _call_unix(self, h: Header, payload: bytes, deadline: float) -> bytes:
        self._check_size(payload)
        self._send_sock(h.encode() + bytes(payload), deadline)
        while True:
            data, fds = self._recv(deadline)
            if fds:
                _close_fds(fds)
                raise CellError(Status.BAD_MESSAGE, "unexpected fds from the server")
            cid = int.from_bytes(data[4:8], "little") if len(data) >= 8 else 0
            if cid != h.correlation and cid in self._cancelled:
                self._cancelled.discard(cid)
                continue  # the late answer to a call given up
            return data

    def _answer(self, frame, h: Header) -> bytes:
        """Check a response frame for call @h; its payload or CellError."""
        rh, payload = wire.decode_frame(frame)
        if rh.fingerprint != self.fingerprint:
            raise self._violation("response with another fingerprint "
                                  f"(0x{rh.fingerprint:016x})")
        if rh.flags & wire.F_KIND_MASK != wire.F_RESPONSE:
            raise self._violation("a frame that is not a response")
        if rh.correlation != h.correlation or rh.method != h.method:
            raise self._violation("response to another call")
        if rh.flags & wire.F_MORE:
            raise self._violation("streamed responses are not supported")
        if rh.flags & wire.F_ERROR:
            status, detail = wire.decode_error(payload)
            raise CellError(status, detail)
        return bytes(payload)

    def _violation(self, what: str) -> CellError:
        self._dead = True
        return CellError(Status.BAD_MESSAGE, f"{self.name}: {what}")

    def _cancel(self, method: int, cid: int) -> None:
        cancelled = self._ring.cancelled if self._ring is not None else self._cancelled
        if len(cancelled) > 1024:
            cancelled.clear()
        cancelled.add(cid)
        try:
            self._sock.send(self._header(wire.F_CANCEL, method, cid, 0).encode())
        except OSError:
            pass

    # -- lifetime ---------------------------------------------------------

    def close(self, goodbye: bool = True) -> None:
        if self._sock is None:
            return
        if goodbye and not self._dead:
            try:
                h = self._header(wire.F_REQUEST | wire.F_ONEWAY, wire.METHOD_GOODBYE, 0, 0)
                self._sock.send(h.encode())
            except OSError:
                pass
        if self._ring is not None:
            self._ring.close()
            self._ring = None
        self._sock.close()
        self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close(goodbye=False)
        except Exception:
            pass
