#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Writes pheromone_vectors.tsv: discovery datagram payloads (struct
# cell_pheromone, uapi/linux/cell.h) and what the pheromone filter must
# decide for each, given the subscriptions the tests make:
#   ("alpha", any fingerprint), (any name, 0x0123456789abcdef),
#   ("exact", 0x1111111111111111)
# Only needed to change the vectors; the tests read the .tsv.
import struct
import sys

MAGIC, SIZE = 0x504C4543, 256


def endpoint(family=1, transport=1, port=4433, addr=bytes([10, 0, 0, 1])):
    return struct.pack("<BBH16s", family, transport, port, addr)


def datagram(magic=MAGIC, version=1, flags=0, count=1, res0=0, ttl=60, res1=0,
             seq=7, fp=0x0123456789ABCDEF, name=b"alpha", endpoints=None,
             res2=(0, 0), raw_name=None):
    eps = endpoints if endpoints is not None else [endpoint()] * count
    eps = eps + [bytes(20)] * (4 - len(eps))
    nm = raw_name if raw_name is not None else name.ljust(32, b"\0")
    body = struct.pack("<IBBBBHHIII", magic, version, flags, count, res0, ttl,
                       res1, seq, fp & 0xFFFFFFFF, fp >> 32)
    body += nm + b"".join(eps)
    body += struct.pack("<4i", 100, -200, 300, 16) + struct.pack("<2I", *res2)
    body += bytes(range(32)) + bytes([0xA5]) * 64
    assert len(body) == SIZE, len(body)
    return body


def v6ep(port=4433):
    return endpoint(2, 1, port, bytes.fromhex("fd000000000000000000000000000001"))


V = [
    ("valid_alpha", "pass", datagram(), "name alpha (subscribed by name), one IPv4 QUIC endpoint"),
    ("valid_by_fingerprint", "pass", datagram(name=b"beta", fp=0x0123456789ABCDEF),
     "name beta, subscribed fingerprint"),
    ("valid_exact", "pass", datagram(name=b"exact", fp=0x1111111111111111),
     "name and fingerprint subscribed together"),
    ("valid_full", "pass", datagram(flags=3, name=b"a-z.0_9@node-0123456789abcdefghi",
                                    count=4, endpoints=[endpoint(), v6ep(), endpoint(1, 2, 7946),
                                                        v6ep(9)], ttl=3600),
     "every flag, four endpoints, a 32-byte name without NUL, ttl at the maximum"),
    ("valid_no_endpoints", "pass", datagram(count=0, ttl=1), "no endpoints, ttl 1"),
    ("valid_withdraw", "pass", datagram(flags=1, ttl=1), "WITHDRAW flag"),
    ("unsubscribed_name", "unsubscribed", datagram(name=b"gamma", fp=0x42),
     "well-formed, neither name nor fingerprint subscribed"),
    ("unsubscribed_exact_other_fp", "unsubscribed", datagram(name=b"exact", fp=0x2222),
     "name exact is only subscribed with another fingerprint"),
    ("bad_length_short", "bad_length", datagram()[:255], "255 bytes"),
    ("bad_length_long", "bad_length", datagram() + b"\0", "257 bytes"),
    ("bad_length_empty", "bad_length", b"", "empty datagram"),
    ("bad_length_header_only", "bad_length", datagram()[:24], "only the fixed header"),
    ("bad_magic", "bad_magic", datagram(magic=0x504C4544), "magic off by one"),
    ("bad_magic_swapped", "bad_magic", datagram(magic=0x43454C50), "magic in big-endian"),
    ("bad_magic_hello", "bad_magic", datagram(magic=0x4F4C4548), "a HELLO magic"),
    ("bad_version_0", "bad_version", datagram(version=0), "version 0"),
    ("bad_version_2", "bad_version", datagram(version=2), "version 2"),
    ("bad_flags_4", "bad_flags", datagram(flags=4), "unknown flag 0x04"),
    ("bad_flags_80", "bad_flags", datagram(flags=0x81), "unknown flag 0x80"),
    ("bad_reserved0", "bad_reserved", datagram(res0=1), "reserved0 set"),
    ("bad_reserved1", "bad_reserved", datagram(res1=0x100), "reserved1 set"),
    ("bad_reserved2", "bad_reserved", datagram(res2=(0, 1)), "reserved2[1] set"),
    ("bad_ttl_0", "bad_ttl", datagram(ttl=0), "ttl 0"),
    ("bad_ttl_3601", "bad_ttl", datagram(ttl=3601), "ttl one past the maximum"),
    ("bad_ttl_ffff", "bad_ttl", datagram(ttl=0xFFFF), "ttl 65535"),
    ("bad_endpoint_count", "bad_endpoints", datagram(count=5, endpoints=[endpoint()] * 4),
     "endpoint_count 5"),
    ("bad_endpoint_family", "bad_endpoints", datagram(endpoints=[endpoint(family=3)]),
     "unknown family 3"),
    ("bad_endpoint_none_used", "bad_endpoints", datagram(endpoints=[endpoint(family=0)]),
     "a used endpoint of family NONE"),
    ("bad_endpoint_transport", "bad_endpoints", datagram(endpoints=[endpoint(transport=9)]),
     "unknown transport 9"),
    ("bad_endpoint_port_0", "bad_endpoints", datagram(endpoints=[endpoint(port=0)]), "port 0"),
    ("bad_endpoint_unused_set", "bad_endpoints",
     datagram(count=1, endpoints=[endpoint(), endpoint()]), "count 1 but a second endpoint set"),
    ("bad_name_empty", "bad_name", datagram(name=b""), "empty name"),
    ("bad_name_upper", "bad_name", datagram(name=b"Alpha"), "upper-case letter"),
    ("bad_name_space", "bad_name", datagram(name=b"al pha"), "space"),
    ("bad_name_slash", "bad_name", datagram(name=b"al/pha"), "slash"),
    ("bad_name_high", "bad_name", datagram(name=b"alph\xe9"), "byte 0xe9"),
    ("bad_name_after_nul", "bad_name", datagram(raw_name=b"alpha\0x".ljust(32, b"\0")),
     "a byte after the NUL padding"),
    ("bad_name_leading_nul", "bad_name", datagram(raw_name=b"\0alpha".ljust(32, b"\0")),
     "NUL first, name after it"),
]

out = sys.stdout
out.write("# Pheromone filter vectors: selftests/bpf/pheromone_vectors.py writes this file.\n")
out.write("# Subscriptions: (alpha, any), (any, 0x0123456789abcdef), (exact, 0x1111111111111111)\n")
out.write("# name\texpect (cell_pheromone_verdict_name)\tpayload (hex, - when empty)\tdescription\n")
for name, expect, data, desc in V:
    out.write(f"{name}\t{expect}\t{data.hex() or '-'}\t{desc}\n")
