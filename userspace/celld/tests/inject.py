#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""inject.py KEYHEX [GROUP PORT IFACE_ADDR]: capture one pheromone of the
node with that key from the group, then send it again (a replay), a copy
with a higher sequence (a forgery: its signature no longer verifies) and
a 100-byte junk datagram.  Run in the hub namespace (discovery_test.sh)."""
import socket, struct, sys, time

key = bytes.fromhex(sys.argv[1])
group = sys.argv[2] if len(sys.argv) > 2 else "239.255.70.77"
port = int(sys.argv[3]) if len(sys.argv) > 3 else 7946
iface = sys.argv[4] if len(sys.argv) > 4 else "10.77.0.254"

rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
rx.bind(("0.0.0.0", port))
rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
              socket.inet_aton(group) + socket.inet_aton(iface))
rx.settimeout(5)
deadline = time.time() + 5
captured = None
while time.time() < deadline:
    data, src = rx.recvfrom(512)
    if len(data) == 256 and data[160:192] == key:
        captured = data
        break
if not captured:
    print("no datagram of", sys.argv[1][:16], "seen")
    sys.exit(1)
seq = struct.unpack_from("<I", captured, 12)[0]
print("captured sequence", seq, "name", captured[24:56].rstrip(b"\0").decode())
time.sleep(1)  # receivers have seen newer sequences by now

tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface))
tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
tx.sendto(captured, (group, port))
forged = bytearray(captured)
struct.pack_into("<I", forged, 12, seq + 1000000)
tx.sendto(bytes(forged), (group, port))
tx.sendto(b"\x43\x45\x4c\x50" + b"\0" * 96, (group, port))
print("sent replay forged junk")
