#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""ping_replay.py IFACE SRC DST KEYHEX SECONDS: run in the hub namespace
(discovery_test.sh).  Capture one signed ping SRC -> DST:7947 on the
bridge port IFACE (AF_PACKET), send it again to DST from the hub and wait
1 s for a pong (prints "replay answered" or "replay not answered"); then
flood DST with pings under KEYHEX whose signatures do not verify, as fast
as the hub can for SECONDS (prints "flood sent N")."""
import os, socket, struct, sys, time

iface, src, dst, key, secs = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4]), float(sys.argv[5])
PORT = 7947

# ETH_P_ALL: on a bridge port the frames go to the bridge before ETH_P_IP taps see them
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind((iface, 0))
rx.settimeout(1)
deadline = time.time() + 10
ping = None
while time.time() < deadline and ping is None:
    try:
        frame = rx.recv(2048)
    except socket.timeout:
        continue
    ip = frame[14:]
    if frame[12:14] != b"\x08\x00" or len(ip) < 28 or ip[9] != 17:
        continue
    ihl = (ip[0] & 15) * 4
    if socket.inet_ntoa(ip[12:16]) != src or socket.inet_ntoa(ip[16:20]) != dst:
        continue
    dport = struct.unpack_from("!H", ip, ihl + 2)[0]
    payload = ip[ihl + 8:]
    if dport == PORT and len(payload) >= 144 and payload[4] == 1:
        ping = bytes(payload[:144])
rx.close()
if ping is None:
    print("no ping", src, "->", dst, "seen")
    sys.exit(1)
print("captured a ping", src, "->", dst, "nonce", ping[8:16].hex())
time.sleep(0.3)  # the original was answered by now

tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind(("10.77.0.254", 0))
tx.settimeout(1)
tx.sendto(ping, (dst, PORT))
try:
    tx.recvfrom(512)
    print("replay answered")
except socket.timeout:
    print("replay not answered")

b = bytearray(ping)
struct.pack_into("<Q", b, 8, 0)
b[36:68] = key
sent = 0
end = time.time() + secs
while time.time() < end:
    for _ in range(100):
        b[80:144] = os.urandom(64)
        try:
            tx.sendto(b, (dst, PORT))
            sent += 1
        except OSError:
            pass
    time.sleep(0.001)
print("flood sent", sent)
