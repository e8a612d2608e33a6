# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Messages: encoders and validating decoders for cellc's fixed layout.

The generated module (``cellc --lang=python``) declares one dataclass per
struct and hands its layout to ``layout()``: every field's offset, kind and
array shape, as cellc's layout pass computed them (Documentation/cellc.rst,
"Wire layout of a message").  The rules the decoder enforces, and the text
it gives when it refuses, are those of the C ``<schema>_<struct>_validate()``
so the same bad message gets the same answer in every language:

* the message is at least the root's fixed part;
* bools are 0 or 1, everywhere;
* a span with len 0 has off 0; otherwise it lies inside the tail, a vector's
  off is a multiple of its element's alignment, and all spans together take
  no more bytes than the tail holds (overlap budget);
* strings are UTF-8 (Python's strict codec refuses the same forms).

The encoder writes the fixed part, then each span's bytes in field order,
depth first (a vector's elements, then their own spans), vectors aligned to
their element, padding zero: the order cellc's C builders produce when
called in field order (selftests/vectors/messages.tsv pins it).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from .wire import CellError, Status

SCALARS = {
    # kind: (struct code, size)
    "u8": ("B", 1), "u16": ("H", 2), "u32": ("I", 4), "u64": ("Q", 8),
    "i8": ("b", 1), "i16": ("h", 2), "i32": ("i", 4), "i64": ("q", 8),
    "bool": ("B", 1),
}
_SPAN = struct.Struct("<II")
_PACK = {k: struct.Struct("<" + c) for k, (c, _) in SCALARS.items()}


class BadMessage(CellError):
    """A message that its validator refuses (status BAD_MESSAGE)."""

    def __init__(self, why: str):
        self.why = why
        super().__init__(Status.BAD_MESSAGE, why)


@dataclass
class Field:
    name: str  # Python attribute
    wire_name: str  # name in the schema (for messages)
    kind: str  # a SCALARS key, "string", "bytes" or "struct"
    offset: int
    arr: str = ""  # "", "fixed" or "vector"
    count: int = 0  # fixed arrays
    struct: Any = None  # the dataclass of a struct field

    @property
    def is_span(self) -> bool:
        return self.kind in ("string", "bytes") or self.arr == "vector"

    def elem(self) -> tuple[int, int]:
        """(size, alignment) of one element of a span or array."""
        if self.kind in ("string", "bytes"):
            return 1, 1
        if self.kind == "struct":
            lay = self.struct._cell_layout
            return lay.size, lay.align
        size = SCALARS[self.kind][1]
        return size, size


class Layout:
    def __init__(self, cls, prefix: str, size: int, align: int, fields: list[Field]):
        self.cls = cls
        self.prefix = prefix  # "<schema>_<struct>", as in the C validator's texts
        self.size = size
        self.align = align
        self.fields = fields


def layout(cls, prefix: str, size: int, align: int, fields: list[Field]) -> None:
    """Attach a struct's layout to its dataclass (called by generated code)."""
    cls._cell_layout = Layout(cls, prefix, size, align, fields)


# ---- encoding -------------------------------------------------------------

def _bad_arg(lay: Layout, f: Field, what: str) -> CellError:
    return CellError(Status.INVALID_ARGUMENT, f"{lay.prefix}.{f.wire_name}: {what}")


def _put_scalar(buf: bytearray, off: int, kind: str, v, lay: Layout, f: Field) -> None:
    if kind == "bool":
        if v not in (0, 1, True, False):
            raise _bad_arg(lay, f, "bool is not 0 or 1")
        v = 1 if v else 0
    try:
        _PACK[kind].pack_into(buf, off, v)
    except (struct.error, TypeError) as e:
        raise _bad_arg(lay, f, f"{v!r} does not fit {kind}") from e


def _append(buf: bytearray, nbytes: int, align: int) -> int:
    at = (len(buf) + align - 1) & ~(align - 1)
    buf.extend(bytes(at + nbytes - len(buf)))
    return at


def _span_bytes(f: Field, lay: Layout, v) -> bytes:
    if f.kind == "string":
        if not isinstance(v, str):
            raise _bad_arg(lay, f, "not a str")
        try:
            return v.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _bad_arg(lay, f, "not UTF-8") from e
    try:
        return bytes(v)
    except TypeError as e:
        raise _bad_arg(lay, f, "not bytes") from e


def _write(buf: bytearray, base: int, obj, lay: Layout) -> None:
    for f in lay.fields:
        v = getattr(obj, f.name)
        at = base + f.offset
        if f.kind in ("string", "bytes"):
            data = _span_bytes(f, lay, v)
            if len(data) >= 1 << 32:
                raise _bad_arg(lay, f, "too long")
            off = _append(buf, len(data), 1) if data else 0
            buf[off:off + len(data)] = data
            _SPAN.pack_into(buf, at, off, len(data))
        elif f.arr == "vector":
            items = list(v)
            size, align = f.elem()
            off = _append(buf, size * len(items), align) if items else 0
            _SPAN.pack_into(buf, at, off, len(items))
            _write_items(buf, off, items, f, lay)
        elif f.arr == "fixed":
            items = list(v)
            if len(items) > f.count:
                raise _bad_arg(lay, f, f"more than {f.count} elements")
            _write_items(buf, at, items, f, lay)
        elif f.kind == "struct":
            _write(buf, at, v, f.struct._cell_layout)
        else:
            _put_scalar(buf, at, f.kind, v, lay, f)


def _write_items(buf: bytearray, at: int, items: list, f: Field, lay: Layout) -> None:
    size, _ = f.elem()
    if f.kind == "struct":
        inner = f.struct._cell_layout
        for i, item in enumerate(items):
            _write(buf, at + i * size, item, inner)
        return
    for i, item in enumerate(items):
        _put_scalar(buf, at + i * size, f.kind, item, lay, f)


def encode(obj) -> bytes:
    """The message bytes of a generated struct instance (its fixed layout)."""
    lay = type(obj)._cell_layout
    buf = bytearray(lay.size)
    _write(buf, 0, obj, lay)
    return bytes(buf)


# ---- validating decoder ---------------------------------------------------

class _Reader:
    __slots__ = ("buf", "n", "tail", "budget")

    def __init__(self, buf, tail: int):
        self.buf = buf
        self.n = len(buf)
        self.tail = tail
        self.budget = self.n - tail


_SPAN_WHY = ("", ": empty but with an offset", ": offset or length out of bounds",
             ": misaligned offset", ": more bytes than the message holds (overlapping)")


def _span(r: _Reader, at: int, f: Field, lay: Layout) -> tuple[int, int]:
    off, n = _SPAN.unpack_from(r.buf, at)
    size, align = f.elem()
    nbytes = n * size
    e = 0
    if not n:
        e = 1 if off else 0
    elif off < r.tail or off > r.n or nbytes > r.n - off:
        e = 2
    elif off & (align - 1):
        e = 3
    elif nbytes > r.budget:
        e = 4
    if e:
        raise BadMessage(f"{lay.prefix}.{f.wire_name}{_SPAN_WHY[e]}")
    r.budget -= nbytes
    return off, n


def _bool(r: _Reader, at: int, lay: Layout, f: Field) -> bool:
    b = r.buf[at]
    if b > 1:
        raise BadMessage(f"{lay.prefix}.{f.wire_name}: bool is not 0 or 1")
    return bool(b)


def _items(r: _Reader, at: int, count: int, f: Field, lay: Layout) -> list:
    size, _ = f.elem()
    if f.kind == "struct":
        inner = f.struct._cell_layout
        return [_read(r, at + i * size, inner) for i in range(count)]
    if f.kind == "bool":
        return [_bool(r, at + i, lay, f) for i in range(count)]
    code = SCALARS[f.kind][0]
    return list(struct.unpack_from(f"<{count}{code}", r.buf, at))


def _read(r: _Reader, base: int, lay: Layout):
    vals = {}
    for f in lay.fields:
        at = base + f.offset
        if f.kind in ("string", "bytes"):
            off, n = _span(r, at, f, lay)
            raw = bytes(r.buf[off:off + n])
            if f.kind == "string":
                try:
                    vals[f.name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise BadMessage(f"{lay.prefix}.{f.wire_name}: not UTF-8") from None
            else:
                vals[f.name] = raw
        elif f.arr == "vector":
            off, n = _span(r, at, f, lay)
            vals[f.name] = _items(r, off, n, f, lay)
        elif f.arr == "fixed":
            vals[f.name] = _items(r, at, f.count, f, lay)
        elif f.kind == "struct":
            vals[f.name] = _read(r, at, f.struct._cell_layout)
        elif f.kind == "bool":
            vals[f.name] = _bool(r, at, lay, f)
        else:
            vals[f.name] = _PACK[f.kind].unpack_from(r.buf, at)[0]
    return lay.cls(**vals)


def decode(cls, buf):
    """Validate @buf as a message of @cls and return the instance.

    Raises BadMessage (a CellError with status BAD_MESSAGE) naming the
    struct and field, as the C validator would.
    """
    lay = cls._cell_layout
    if len(buf) < lay.size:
        raise BadMessage(f"{lay.prefix}: shorter than its fixed part")
    return _read(_Reader(buf, lay.size), 0, lay)


def validate(cls, buf) -> str | None:
    """None if @buf is a valid message of @cls, else the reason."""
    try:
        decode(cls, buf)
    except BadMessage as e:
        return e.why
    return None
