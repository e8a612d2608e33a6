# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The wire format: frame header, error payload, fingerprint.

A Python reading of Documentation/wire-format.rst (the C side is lib/wire.c).
Every multi-byte field is little-endian; the decoder checks in the documented
order and reports the first failure under the name the vectors use
(selftests/vectors/frames.tsv).
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

WIRE_VERSION = 1
ABI_VERSION = 1
HDR_SIZE = 20
MAX_PAYLOAD = 1 << 30

F_REQUEST = 0x01
F_RESPONSE = 0x02
F_ERROR = 0x04
F_ONEWAY = 0x08
F_LEADER_HINT = 0x10
F_MORE = 0x20
F_CANCEL = 0x40
F_RESERVED = 0x80
F_TRACE = 0x80  # bit 7 for a receiver that granted CELL_FEAT_TRACE (else reserved)
F_KIND_MASK = F_REQUEST | F_RESPONSE | F_CANCEL

TRACE_TRAILER_SIZE = 32
TRACE_MAGIC = b"CTRC"
TRACE_VERSION = 1
TRACE_F_SAMPLED = 0x01

METHOD_CONTROL_BASE = 0xFF00
METHOD_HELLO = 0xFF01
METHOD_PING = 0xFF02
METHOD_GOODBYE = 0xFF03
METHOD_SCHEMA = 0xFF04
METHOD_ATTACHMENT = 0xFF05

_HDR = struct.Struct("<BBHIIQ")  # the two fingerprint halves are one LE u64
_ERR = struct.Struct("<HHI")


class Status(enum.IntEnum):
    """enum cell_status of <linux/cell.h>."""

    OK = 0
    CANCELLED = 1
    UNKNOWN_METHOD = 2
    BAD_MESSAGE = 3
    FINGERPRINT_MISMATCH = 4
    DEADLINE_EXCEEDED = 5
    RESOURCE_EXHAUSTED = 6
    UNAVAILABLE = 7
    NOT_LEADER = 8
    PERMISSION_DENIED = 9
    INTERNAL = 10
    UNSUPPORTED_VERSION = 11
    INVALID_ARGUMENT = 12
    NOT_FOUND = 13
    TOO_LARGE = 14


STATUS_MAX = 15


class CellError(Exception):
    """A call or connection failed; ``status`` is the cell status."""

    def __init__(self, status: int, detail: str = ""):
        try:
            status = Status(status)
        except ValueError:
            status = Status.INTERNAL
        self.status: Status = status
        self.detail: str = detail
        super().__init__(f"{status.name}: {detail}" if detail else status.name)


class WireError(CellError):
    """A frame that the wire rules refuse; ``name`` as in frames.tsv."""

    _STATUS = {"bad_version": Status.UNSUPPORTED_VERSION, "too_long": Status.TOO_LARGE}

    def __init__(self, name: str, text: str):
        self.name = name
        super().__init__(self._STATUS.get(name, Status.BAD_MESSAGE), f"{name}: {text}")


@dataclass
class Header:
    version: int = WIRE_VERSION
    flags: int = 0
    method: int = 0
    correlation: int = 0
    len: int = 0
    fingerprint: int = 0

    def encode(self) -> bytes:
        return _HDR.pack(self.version, self.flags, self.method, self.correlation,
                         self.len, self.fingerprint)


def fingerprint(text: bytes | str) -> int:
    """FNV-1a 64 over the bytes of the canonical schema text."""
    if isinstance(text, str):
        text = text.encode()
    h = 0xCBF29CE484222325
    for b in text:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _allowed_modifiers(kind: int) -> int:
    if kind == F_REQUEST:
        return F_ONEWAY | F_MORE
    if kind == F_RESPONSE:
        return F_ERROR | F_LEADER_HINT | F_MORE
    return 0


def check_header(h: Header, max_payload: int, accept_trace: bool = False) -> None:
    """The header rules in the documented order; accept_trace: the receiver
    granted CELL_FEAT_TRACE, so bit 7 is F_TRACE (on a request only)."""
    if h.version != WIRE_VERSION:
        raise WireError("bad_version", "unsupported wire version")
    if h.flags & F_RESERVED and not accept_trace:
        raise WireError("reserved_flag", "reserved flag bit set")
    kind = h.flags & F_KIND_MASK
    if kind not in (F_REQUEST, F_RESPONSE, F_CANCEL):
        raise WireError("bad_kind", "not exactly one of request, response, cancel")
    mods = h.flags & ~(F_KIND_MASK | F_RESERVED)
    if (mods & ~_allowed_modifiers(kind) or (h.flags & F_ERROR and h.flags & F_MORE)
            or (h.flags & F_LEADER_HINT and not h.flags & F_ERROR)):
        raise WireError("bad_flags", "flag combination not allowed")
    if h.flags & F_TRACE and kind != F_REQUEST:
        raise WireError("bad_flags", "flag combination not allowed")
    if (h.correlation == 0) != bool(h.flags & F_ONEWAY):
        raise WireError("bad_correlation",
                        "correlation id 0 without one-way, or set with one-way")
    if h.flags & F_CANCEL and h.len:
        raise WireError("cancel_payload", "cancel frame with a payload")
    if h.len > max_payload or h.len > MAX_PAYLOAD:
        raise WireError("too_long", "payload longer than the receiver accepts")
    if h.flags & F_TRACE and h.len < TRACE_TRAILER_SIZE:
        raise WireError("trace_truncated",
                        "trace flag set, payload shorter than the 32-byte trailer")


def decode_header(buf, max_payload: int = MAX_PAYLOAD, accept_trace: bool = False) -> Header:
    if len(buf) < HDR_SIZE:
        raise WireError("truncated", "frame shorter than the 20-byte header")
    h = Header(*_HDR.unpack_from(buf, 0))
    check_header(h, max_payload, accept_trace)
    return h


@dataclass
class TraceContext:
    """The trace trailer's context (Documentation/wire-format.rst)."""

    trace_id: bytes  # 16 bytes, not all zero
    span_id: bytes  # 8 bytes, not all zero
    flags: int = 0  # TRACE_F_*

    def encode(self) -> bytes:
        return (bytes(self.trace_id) + bytes(self.span_id)
                + bytes((TRACE_VERSION, self.flags, 0, 0)) + TRACE_MAGIC)


def decode_trace_trailer(b) -> TraceContext:
    """The 32-byte trailer from a peer, checked in lib/wire.c's order."""
    b = bytes(b)
    why = None
    if len(b) < TRACE_TRAILER_SIZE:
        why = "trace trailer shorter than 32 bytes"
    elif len(b) > TRACE_TRAILER_SIZE:
        why = "trace trailer longer than 32 bytes"
    elif b[28:32] != TRACE_MAGIC:
        why = 'trace trailer magic is not "CTRC"'
    elif b[24] != TRACE_VERSION:
        why = "trace trailer version is not 1"
    elif b[25] & ~TRACE_F_SAMPLED:
        why = "unknown trace flag"
    elif b[26] or b[27]:
        why = "trace trailer reserved bytes not zero"
    elif not any(b[:16]):
        why = "trace id is all zero"
    elif not any(b[16:24]):
        why = "span id is all zero"
    if why:
        raise WireError("trace_truncated" if len(b) < TRACE_TRAILER_SIZE else "bad_trace", why)
    return TraceContext(b[:16], b[16:24], b[25])


def decode_error(payload) -> tuple[int, str]:
    """(status, detail) of an ERROR payload, or WireError bad_error."""
    if len(payload) < _ERR.size:
        raise WireError("bad_error", "malformed error payload")
    status, reserved, dlen = _ERR.unpack_from(payload, 0)
    if status == 0 or status >= STATUS_MAX or reserved or dlen != len(payload) - _ERR.size:
        raise WireError("bad_error", "malformed error payload")
    detail = bytes(payload[_ERR.size:]).decode("utf-8", "replace")
    return status, detail


def encode_error(status: int, detail: str | bytes = b"") -> bytes:
    if isinstance(detail, str):
        detail = detail.encode()
    if status == 0 or status >= STATUS_MAX:
        raise ValueError("an error payload needs a status other than OK")
    return _ERR.pack(status, 0, len(detail)) + detail


def decode_frame_traced(buf, max_payload: int = MAX_PAYLOAD
                        ) -> tuple[Header, memoryview, TraceContext | None]:
    """decode_frame() for a receiver that granted CELL_FEAT_TRACE: with F_TRACE
    the trailer is checked and returned, and the payload view excludes it."""
    h, payload = decode_frame(buf, max_payload, accept_trace=True)
    if not h.flags & F_TRACE:
        return h, payload, None
    cut = len(payload) - TRACE_TRAILER_SIZE
    return h, payload[:cut], decode_trace_trailer(payload[cut:])


def decode_frame(buf, max_payload: int = MAX_PAYLOAD,
                 accept_trace: bool = False) -> tuple[Header, memoryview]:
    """Check a whole frame; return its header and a view of the payload
    (with accept_trace, a TRACE frame's trailer is not looked at)."""
    h = decode_header(buf, max_payload, accept_trace)
    if len(buf) - HDR_SIZE != h.len:
        raise WireError("length_mismatch", "frame size differs from header plus payload length")
    payload = memoryview(buf)[HDR_SIZE:]
    if h.flags & F_ERROR:
        decode_error(payload)
    return h, payload


def encode_frame(h: Header, payload: bytes = b"") -> bytes:
    h.len = len(payload)
    return h.encode() + bytes(payload)
