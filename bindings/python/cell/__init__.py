# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Cell for Python: the wire format, messages of cellc's fixed layout, and
clients and servers on the unix and SHM paths (Documentation/bindings.rst).

Standard library only.  Generated modules (``cellc --lang=python``) import
this package; most programs need only the generated client class::

    import demo_cell
    with demo_cell.DemoClient("demo") as c:
        r = c.echo(demo_cell.Blob(seq=1, data=b"hi"), timeout=0.5)
"""
from .wire import (CellError, Header, Status, TraceContext, WireError, decode_error,
                   decode_frame, decode_frame_traced, decode_header, encode_error, encode_frame,
                   fingerprint)
from .codec import BadMessage, decode, encode, validate
from .client import Connection, runtime_dir, socket_path

__all__ = [
    "BadMessage", "CellError", "Connection", "Header", "Status", "TraceContext", "WireError",
    "decode", "decode_error", "decode_frame", "decode_frame_traced", "decode_header", "encode", "encode_error", "encode_frame",
    "fingerprint", "runtime_dir", "socket_path", "validate",
]
__version__ = "0.1.0"
