# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""A Python cell: serves a generated <Service>Handler on the unix path.

``Server(name, handler).serve_forever()`` binds ``<runtime dir>/<name>.sock``
(SOCK_SEQPACKET), answers HELLO (fingerprint checked; a mismatch is answered
FINGERPRINT_MISMATCH naming both, as lib/server.c does), and serves each
connection on its own thread.  Requests are decoded and validated before a
handler sees them (BAD_MESSAGE with the validator's text otherwise); a
handler's CellError becomes an error response with its status; SCHEMA
answers the canonical text, PING an empty response; a one-way request is
never answered, a MORE request (no streams here) drops the connection.  The rings are not
offered (the WELCOME grants no SHM feature): C clients fall back to the
unix path.
"""
from __future__ import annotations

import os
import socket
import threading

from . import wire
from .client import HELLO_MAGIC, WELCOME_MAGIC, FEAT_CANCEL, encode_hs, parse_hs, socket_path
from .wire import CellError, Header, Status


class Server:
    def __init__(self, name: str, handler, path: str | None = None):
        self.handler = handler
        self.fp = handler.FINGERPRINT
        self.path = path or socket_path(name)
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self._stop = False

    def serve_forever(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                break
            threading.Thread(target=self._serve_conn, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _error(self, h: Header, status: int, detail: str) -> bytes:
        payload = wire.encode_error(status, detail[:160])
        return Header(flags=wire.F_RESPONSE | wire.F_ERROR, method=h.method,
                      correlation=h.correlation, len=len(payload),
                      fingerprint=self.fp).encode() + payload

    def _handshake(self, conn) -> bool:
        data = conn.recv(4096)
        hello_hdr = Header(method=wire.METHOD_HELLO, correlation=1)
        try:
            h, payload = wire.decode_frame(data, 48)
            if (h.flags != wire.F_REQUEST or h.method != wire.METHOD_HELLO
                    or h.correlation != 1 or h.len != 48):
                raise CellError(Status.BAD_MESSAGE, "not a HELLO frame")
            hello = parse_hs(payload, HELLO_MAGIC, h.fingerprint)
        except CellError as e:
            conn.send(self._error(hello_hdr, e.status, e.detail))
            return False
        if hello["fingerprint"] != self.fp:
            conn.send(self._error(hello_hdr, Status.FINGERPRINT_MISMATCH,
                                  f"fingerprint mismatch: client 0x{hello['fingerprint']:016x},"
                                  f" server 0x{self.fp:016x}"))
            return False
        conn.send(encode_hs(wire.F_RESPONSE, WELCOME_MAGIC, self.fp,
                            hello["features"] & FEAT_CANCEL, min(hello["max_inflight"], 64)))
        return True

    def _serve_conn(self, conn) -> None:
        conn.settimeout(2.0)  # the HELLO must come soon, as in lib/server.c
        try:
            if not self._handshake(conn):
                return
            conn.settimeout(None)
            while True:
                data = conn.recv(wire.HDR_SIZE + (64 << 10) + 64)
                if not data:
                    return
                h, payload = wire.decode_frame(data)
                if h.fingerprint != self.fp or not h.flags & wire.F_REQUEST:
                    if h.flags & wire.F_CANCEL:
                        continue
                    return  # a violation drops the connection
                if h.method == wire.METHOD_GOODBYE or h.flags & wire.F_MORE:
                    return  # no MORE streams here: the connection is dropped
                out = self._dispatch(h, payload)
                if out is not None:
                    conn.send(out)
        except (CellError, OSError):
            return
        finally:
            conn.close()

    def _dispatch(self, h: Header, payload) -> bytes | None:
        oneway = bool(h.flags & wire.F_ONEWAY)
        if oneway and (h.method in (wire.METHOD_SCHEMA, wire.METHOD_PING)
                       or h.method not in self.handler.METHODS):
            return None  # a one-way request is never answered
        if h.method == wire.METHOD_SCHEMA:
            body = self.handler.SCHEMA_TEXT.encode()
        elif h.method == wire.METHOD_PING:
            body = b""
        elif h.method not in self.handler.METHODS:
            return None if oneway else self._error(h, Status.UNKNOWN_METHOD,
                                                   f"no method {h.method}")
        else:
            name, req_cls, resp_cls = self.handler.METHODS[h.method]
            try:
                req = req_cls.decode(bytes(payload))
                resp = getattr(self.handler, name)(req)
                if oneway or resp_cls is None:
                    return None
                body = resp.encode()
            except CellError as e:
                return None if oneway else self._error(h, e.status, e.detail)
            except Exception as e:  # a handler bug: INTERNAL, the server goes on
                return None if oneway else self._error(h, Status.INTERNAL, repr(e))
        return Header(flags=wire.F_RESPONSE, method=h.method, correlation=h.correlation,
                      len=len(body), fingerprint=self.fp).encode() + body
