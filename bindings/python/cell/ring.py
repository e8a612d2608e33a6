# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The SHM fast path for Python: the rings of <linux/cell.h>, mapped here.

The server sends three fds with its WELCOME: the request ring (we produce),
the response ring (we consume) and a doorbell eventfd.  They are memfds
sealed against shrinking and growing; we check the seals, the size and the
geometry (a private copy) before we trust the mapping, and every shared
word is read once into a local and checked, as lib/ring.c does: a peer that
scribbles on the pages gets CellError(BAD_MESSAGE), never a hang or a read
out of bounds.

Locking and memory ordering
---------------------------
Positions, ``wake`` and ``waiting`` are aligned words read and written
through ctypes objects over the mapping: one 4- or 8-byte load or store
each (ctypes copies a fixed-size scalar with a single move).  Python gives
no release/acquire operations, so this path relies on x86-64's ordering
(TSO: stores are seen in program order, loads are not reordered with older
loads): payload and record header are written before the tail is stored,
and the tail is loaded before the record is read.  The Dekker handshake
before a sleep and after a commit needs a full fence (store, then load of
the other side's flag); ``pthread_spin_trylock()`` of a private spinlock is
one ``lock cmpxchg`` on x86-64 glibc and serves as that fence.  On other
architectures ``supported()`` is False and the client stays on the unix path.

Waiting spins ``spin_us`` (no system call while both sides are awake), then
sleeps on the peer's futex word (FUTEX_WAIT_BITSET through ctypes
``syscall``) in slices of 20 ms, checking between slices that the server's
socket is still up and that the call's deadline has not passed.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import platform
import select
import stat
import struct
import time

from .wire import CellError, Status

PAGE = 4096
OFF_PRODUCER = PAGE
OFF_CONSUMER = 2 * PAGE
OFF_DATA = 3 * PAGE
RING_MAGIC = 0x474E5243
MIN_DATA = 1 << 12
MAX_DATA = 1 << 30
RECORD_WRAP = 0xFFFFFFFF
FRAME_PAD = 4
SLICE_S = 0.020

_GEOM = struct.Struct("<IHHIIQQQQQ8Q")  # struct cell_ring_geometry, 120 bytes
_REC = struct.Struct("<II")
_SYS_FUTEX = 202  # x86-64
_FUTEX_WAKE = 1
_FUTEX_WAIT_BITSET = 9
_BITSET_ANY = 0xFFFFFFFF
_SEALS_NEEDED = 0x0002 | 0x0004  # F_SEAL_SHRINK | F_SEAL_GROW

_libc = None
_spin = ctypes.c_int(0)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def unsupported_reason() -> str:
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"the Python SHM path needs x86-64 ordering, not {platform.machine()}"
    if not hasattr(fcntl, "F_GET_SEALS"):
        return "this Python has no fcntl.F_GET_SEALS"
    try:
        _lib()
    except OSError as e:
        return f"no libc for futex: {e}"
    return ""


def supported() -> bool:
    return not unsupported_reason()


def _lib():
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        lib.pthread_spin_trylock.argtypes = [ctypes.c_void_p]
        _libc = lib
    return _libc


def full_fence() -> None:
    """A full memory barrier (lock cmpxchg on x86-64), see the module text."""
    _libc.pthread_spin_trylock(ctypes.addressof(_spin))


def futex_wait(addr: int, val: int, abs_mono: float) -> None:
    ts = _Timespec(int(abs_mono), int((abs_mono % 1) * 1e9))
    _libc.syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(addr),
                  ctypes.c_int(_FUTEX_WAIT_BITSET), ctypes.c_uint32(val), ctypes.byref(ts),
                  None, ctypes.c_uint32(_BITSET_ANY))


def futex_wake(addr: int) -> None:
    _libc.syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(addr), ctypes.c_int(_FUTEX_WAKE),
                  ctypes.c_int(0x7FFFFFFF), None, None, ctypes.c_int(0))


def _bad(what: str) -> CellError:
    return CellError(Status.BAD_MESSAGE, f"ring: {what}")


def record_max(size: int) -> int:
    return size // 2 - 8


def _align8(n: int) -> int:
    return (n + 7) & ~7


class Ring:
    """One side of one ring: a checked mapping and the words it may touch."""

    def __init__(self, fd: int, expect_size: int):
        try:
            st = os.fstat(fd)
            seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        except OSError as e:
            raise _bad(f"not a sealed memfd ({e.strerror})") from None
        if seals & _SEALS_NEEDED != _SEALS_NEEDED or not stat.S_ISREG(st.st_mode):
            raise _bad("not sealed against shrinking and growing")
        if not OFF_DATA + MIN_DATA <= st.st_size <= OFF_DATA + MAX_DATA:
            raise _bad(f"file of {st.st_size} bytes")
        self.fd = fd
        self.mm = mmap.mmap(fd, st.st_size, mmap.MAP_SHARED,
                            mmap.PROT_READ | mmap.PROT_WRITE)
        self.words: list = []
        g = _GEOM.unpack_from(self.mm, 0)  # one private copy
        (magic, abi, gsize, flags, page, size, poff, coff, doff, _rid, *reserved) = g
        if (magic != RING_MAGIC or abi != 1 or gsize != _GEOM.size or page != PAGE
                or flags & ~1 or any(reserved) or size & (size - 1)
                or not MIN_DATA <= size <= MAX_DATA or (expect_size and size != expect_size)
                or (poff, coff, doff) != (OFF_PRODUCER, OFF_CONSUMER, OFF_DATA)
                or st.st_size - OFF_DATA < size):
            self.close()
            raise _bad("bad geometry")
        self.size = size
        self.mask = size - 1
        self.prod_pos = self._word(ctypes.c_uint64, OFF_PRODUCER)
        self.prod_wake = self._word(ctypes.c_uint32, OFF_PRODUCER + 8)
        self.prod_waiting = self._word(ctypes.c_uint32, OFF_PRODUCER + 12)
        self.cons_pos = self._word(ctypes.c_uint64, OFF_CONSUMER)
        self.cons_wake = self._word(ctypes.c_uint32, OFF_CONSUMER + 8)
        self.cons_waiting = self._word(ctypes.c_uint32, OFF_CONSUMER + 12)
        tail, head = self.prod_pos.value, self.cons_pos.value
        if (tail | head) & 7 or head > tail or tail - head > size:
            self.close()
            raise _bad("bad positions")
        self.tail = tail
        self.head = head
        self.broken = False

    def _word(self, ctype, off: int):
        w = ctype.from_buffer(self.mm, off)
        self.words.append(w)
        return w

    def close(self) -> None:
        self.words.clear()
        for name in ("prod_pos", "prod_wake", "prod_waiting", "cons_pos", "cons_wake",
                     "cons_waiting"):
            self.__dict__.pop(name, None)
        if self.mm is not None:
            self.mm.close()
            self.mm = None
        os.close(self.fd)

    def fail(self, what: str) -> CellError:
        self.broken = True
        return _bad(what)

    # -- producer ---------------------------------------------------------

    def room_for(self, total: int) -> int | None:
        """Position to write a record of @total bytes at, or None if full."""
        off = self.tail & self.mask
        to_end = self.size - off
        at, need = (self.tail, total) if total <= to_end else (self.tail + to_end, to_end + total)
        if self.tail + need - self.head > self.size:
            head = self.cons_pos.value
            if head & 7 or head < self.head or head > self.tail or self.tail - head > self.size:
                raise self.fail("impossible consumer position")
            self.head = head
            if self.tail + need - head > self.size:
                return None
        if at != self.tail:
            _REC.pack_into(self.mm, OFF_DATA + off, RECORD_WRAP, self.tail & 0xFFFFFFFF)
        return at

    def commit(self, at: int, frame_parts: tuple) -> None:
        base = OFF_DATA + (at & self.mask)
        p = base + 8 + FRAME_PAD
        self.mm[base + 8:p] = b"\0\0\0\0"
        n = FRAME_PAD
        for part in frame_parts:
            self.mm[p:p + len(part)] = part
            p += len(part)
            n += len(part)
        _REC.pack_into(self.mm, base, n, at & 0xFFFFFFFF)
        self.tail = at + 8 + _align8(n)
        self.prod_pos.value = self.tail  # the release: x86-64 keeps store order

    # -- consumer ---------------------------------------------------------

    def read(self) -> tuple[bytes, int] | None:
        """(record bytes, end position) of the next record, or None if empty."""
        tail = self.prod_pos.value
        pos = self.head
        if tail & 7 or tail < self.tail or tail - pos > self.size:
            raise self.fail("impossible producer position")
        self.tail = tail
        if tail == pos:
            return None
        while True:
            off = pos & self.mask
            n, seq = _REC.unpack_from(self.mm, OFF_DATA + off)
            if seq != pos & 0xFFFFFFFF:
                raise self.fail("torn, stale or forged record")
            if n == RECORD_WRAP:
                if off == 0:
                    raise self.fail("wrap at offset 0")
                pos += self.size - off
                if pos >= tail:
                    raise self.fail("wrap without a record")
                continue
            total = 8 + _align8(n)
            if n > record_max(self.size) or total > self.size - off or total > tail - pos:
                raise self.fail("record out of bounds")
            start = OFF_DATA + off + 8
            return self.mm[start:start + n], pos + total  # a copy: the peer cannot change it

    def release(self, end: int) -> None:
        self.head = end
        self.cons_pos.value = end


class ClientRings:
    """The client's two rings and doorbell, and one call at a time over them."""

    def __init__(self, fds: list[int], welcome: dict, sock, spin_us: float):
        _lib()
        self.sock = sock
        self.spin_s = spin_us / 1e6
        self.doorbell = -1
        self.tx = self.rx = None
        try:
            self.tx = Ring(fds[0], welcome["request_ring"])
            fds[0] = -1
            self.rx = Ring(fds[1], welcome["response_ring"])
            fds[1] = -1
        except BaseException:
            for i in (0, 1):
                if fds[i] >= 0:
                    os.close(fds[i])
            if self.tx is not None:
                self.tx.close()
            os.close(fds[2])
            raise
        self.doorbell = fds[2]
        self.tx.prod_waiting.value = 0  # a producer that died asleep left its flag
        self.rx.cons_waiting.value = 0
        self.cancelled: set[int] = set()
        self._poll = select.poll()
        self._poll.register(sock, select.POLLRDHUP)

    def close(self) -> None:
        for r in (self.tx, self.rx):
            if r is not None:
                r.close()
        self.tx = self.rx = None
        if self.doorbell >= 0:
            os.close(self.doorbell)
            self.doorbell = -1

    def alive(self) -> bool:
        for _, ev in self._poll.poll(0):
            if ev & (select.POLLHUP | select.POLLRDHUP | select.POLLERR | select.POLLNVAL):
                return False
        return True

    def _ring_doorbell(self) -> None:
        try:
            os.write(self.doorbell, b"\1\0\0\0\0\0\0\0")
        except BlockingIOError:
            pass  # saturated: the server is awake anyway
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise

    def _wait(self, ring: Ring, ready, wake_word, own_waiting, deadline: float):
        """Spin, then sleep on @wake_word with @own_waiting set, until ready()."""
        end = time.monotonic() + self.spin_s
        while True:
            r = ready()
            if r is not None:
                return r
            if time.monotonic() >= end:
                break
        addr = ctypes.addressof(wake_word)
        try:
            while True:
                seen = wake_word.value
                own_waiting.value = 1
                full_fence()
                r = ready()
                if r is not None:
                    return r
                now = time.monotonic()
                if now >= deadline:
                    raise CellError(Status.DEADLINE_EXCEEDED, "no answer in time")
                if not self.alive():
                    raise CellError(Status.UNAVAILABLE, "the server went away")
                futex_wait(addr, seen, min(deadline, now + SLICE_S))
        finally:
            own_waiting.value = 0

    def _submit(self, h, payload, deadline: float) -> None:
        hdr = h.encode()
        n = FRAME_PAD + len(hdr) + len(payload)
        if n > record_max(self.tx.size):
            raise CellError(Status.TOO_LARGE,
                            f"{len(payload)} bytes: larger than a ring record (attachments "
                            "are not supported by the Python runtime yet)")
        if self.tx.broken:
            raise _bad("request ring broken")
        total = 8 + _align8(n)
        tx = self.tx
        at = tx.room_for(total)
        if at is None:
            at = self._wait(tx, lambda: tx.room_for(total), tx.cons_wake, tx.prod_waiting,
                            deadline)
        tx.commit(at, (hdr, payload))
        full_fence()
        if tx.cons_waiting.value:
            tx.prod_wake.value = (tx.prod_wake.value + 1) & 0xFFFFFFFF
            self._ring_doorbell()

    def send(self, h, payload, deadline: float) -> None:
        self._submit(h, payload, deadline)

    def _release(self, end: int) -> None:
        rx = self.rx
        rx.release(end)
        full_fence()
        if rx.prod_waiting.value:
            rx.cons_wake.value = (rx.cons_wake.value + 1) & 0xFFFFFFFF
            self._ring_doorbell()
            futex_wake(ctypes.addressof(rx.cons_wake))

    def call(self, h, payload, deadline: float) -> bytes:
        self._submit(h, payload, deadline)
        rx = self.rx
        while True:
            if rx.broken:
                raise _bad("response ring broken")
            rec, end = self._wait(rx, rx.read, rx.prod_wake, rx.cons_waiting, deadline)
            self._release(end)
            if len(rec) < FRAME_PAD + 20:
                raise rx.fail("record shorter than a frame")
            frame = rec[FRAME_PAD:]
            cid = int.from_bytes(frame[4:8], "little")
            if cid != h.correlation and cid in self.cancelled:
                self.cancelled.discard(cid)
                continue  # the late answer to a call given up
            return frame
