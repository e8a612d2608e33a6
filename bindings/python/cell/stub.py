# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Base classes of the generated client and handler classes."""
from __future__ import annotations

from typing import Optional

from .client import Connection


class ClientBase:
    """A connection to a cell serving this schema; a context manager.

    ``name`` defaults to the schema's name; ``path`` (a socket path) wins
    over it.  ``transport`` is "auto", "shm" or "unix"; ``timeout`` (seconds)
    bounds the handshake and is the default of every call.
    """

    FINGERPRINT = 0
    SCHEMA_TEXT = ""
    DEFAULT_NAME = ""

    def __init__(self, name: Optional[str] = None, *, path: Optional[str] = None,
                 transport: str = "auto", timeout: float = 5.0, ring_size: int = 0,
                 fingerprint: Optional[int] = None):
        self.conn = Connection(None if path else (name or self.DEFAULT_NAME),
                               fingerprint=self.FINGERPRINT if fingerprint is None
                               else fingerprint, path=path, transport=transport,
                               timeout=timeout, ring_size=ring_size)

    @property
    def path_kind(self) -> str:
        """"shm-memfd" or "unix": the path the connection took."""
        return self.conn.kind

    def schema(self, timeout: Optional[float] = None) -> str:
        return self.conn.schema(timeout)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HandlerBase:
    """What cell.server.Server serves: METHODS maps id -> (name, req, resp)."""

    FINGERPRINT = 0
    SCHEMA_TEXT = ""
    METHODS: dict = {}
