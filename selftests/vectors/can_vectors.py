#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# can_vectors.py > can.tsv: the CAN-FD vectors, computed here from
# Documentation/can.rst alone (not from the C code), so that the C tests
# reading can.tsv check libcell and the MCU port against an independent
# implementation of the layout.
import struct
import zlib

PREFIX, SEG, ANN = 0x0C, 0x01, 0x02
LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)


def dlc_round(n):
    return next(v for v in LENGTHS if v >= n)


def can_id(kind, dst, src):
    return PREFIX << 24 | kind << 16 | dst << 8 | src


def hexs(b):
    return " ".join(f"{x:02x}" for x in b)


def segments(msg):
    """ISO 15765-2 style: single 00 LL, first 10 NN NN, consecutive 2S."""
    n = len(msg)
    if n <= 62:
        out = [bytes([0x00, n]) + msg]
    else:
        out = [bytes([0x10, n & 0xFF, n >> 8]) + msg[:61]]
        off, sn = 61, 1
        while off < n:
            out.append(bytes([0x20 | sn]) + msg[off:off + 63])
            off += 63
            sn = (sn + 1) & 0xF
    return [s + b"\xcc" * (dlc_round(len(s)) - len(s)) for s in out]


def frame(flags, method, corr, fp, payload):
    return struct.pack("<BBHIIQ", 1, flags, method, corr, len(payload), fp) + payload


def message_line(name, src, dst, f, desc):
    msg = f + struct.pack("<I", zlib.crc32(f))
    cid = can_id(SEG, dst, src)
    frames = " ; ".join(f"{cid:08x}#{hexs(s)}" for s in segments(msg))
    return f"{name}\tmessage\t{src:02x}\t{dst:02x}\t{hexs(f)}\t{frames}\t{desc}"


def announce_line(name, src, node, fp, slots, max_payload, desc):
    body = struct.pack("<BBBBQHH", 0xCE, 1, slots, len(node), fp, max_payload, 0) + node.encode()
    body += b"\xcc" * (dlc_round(len(body)) - len(body))
    fields = f"name={node} fingerprint=0x{fp:016x} slots={slots} max_payload={max_payload}"
    cid = can_id(ANN, 0xFF, src)
    return f"{name}\tannounce\t{src:02x}\tff\t{fields}\t{cid:08x}#{hexs(body)}\t{desc}"


FP = 0x0123456789ABCDEF
print("# CAN-FD vectors: Documentation/can.rst, selftests/vectors/README.rst; written by")
print("# can_vectors.py (do not edit).  Columns (tab-separated):")
print("# name\tkind (message|announce)\tsrc\tdst (hex node addresses)\tmessage: the Cell frame"
      " (header + payload, hex, without the CRC-32 the transport appends); announce: its fields"
      "\tthe CAN-FD frames in order: 29-bit id (hex) # data (hex), ' ; ' between frames\tdescription")
print(message_line("request_single", 0x01, 0x42, frame(0x01, 1, 7, FP, struct.pack("<ii", 2, 3)),
                   "request, 32-byte message: one single segment, padded to 48"))
print(message_line("response_empty", 0x42, 0x01, frame(0x02, 1, 8, FP, b""),
                   "empty response, 24 bytes: a single segment of exactly 26 -> 32"))
print(message_line("single_max", 0x01, 0x42, frame(0x01, 2, 9, FP, bytes(range(38))),
                   "62-byte message: the largest single segment (64, no padding)"))
print(message_line("first_min", 0x01, 0x42, frame(0x01, 2, 10, FP, bytes(range(39))),
                   "63-byte message: first segment (61 bytes) + consecutive of 2 (length 3)"))
print(message_line("two_full", 0x01, 0x42, frame(0x01, 3, 11, FP, bytes(i & 0xFF for i in range(100))),
                   "124-byte message: first + one full consecutive segment (64 + 64)"))
print(message_line("seq_wrap", 0x42, 0x01,
                   frame(0x02, 3, 12, FP, bytes((i * 7) & 0xFF for i in range(61 + 63 * 16 + 10 - 24))),
                   "1079-byte response: first + 17 consecutive, sequence 1..15, 0, 1; last of 11 -> 12"))
print(announce_line("announce_mcu", 0x42, "sensor", 0xBC05E159DB6ACC7A, 2, 640,
                    "the MCU port's announcement (2 slots, 640-byte payloads): 22 bytes -> 24"))
print(announce_line("announce_host", 0x01, "host.bridge-1", FP, 1, 4096,
                    "libcell's announcement (1 slot): 29 bytes -> 32"))
