#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""relay.py N SEED MATRIX_OUT [ADDR PORT]: the delay line of the Vivaldi
test.  Nodes 10.77.0.1..N sit at random points of a 40 ms x 40 ms plane
with an access-link height of 1..5 ms each (seeded): RTT(i,j) = |pi - pj| +
hi + hj.  celld (-o discovery.relay=ADDR:PORT) sends every ping and pong
here with its destination in bytes 68..73; the relay writes the sender into
bytes 74..79 (not signed: bytes 80..143 sign 0..67) and forwards the
datagram to the destination half the RTT of the pair after the kernel
received it (SO_TIMESTAMPNS), so the time this process waited for a CPU
before reading is not added.  The matrix (us) is written to MATRIX_OUT
first; MATRIX_OUT.relay gets, every 2 s, how late datagrams left
(forwarded, late_us p50 p99 max): the error of the delay line itself, which
the test prints.  Run it at a real-time priority (the test does, when it
can): it stands for the wire, which does not wait for a CPU."""
import heapq, math, os, random, select, socket, struct, sys, time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python may lack the name

n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
addr = sys.argv[4] if len(sys.argv) > 4 else "10.77.0.254"
port = int(sys.argv[5]) if len(sys.argv) > 5 else 9999
rnd = random.Random(seed)
pos = [(rnd.uniform(0, 40000), rnd.uniform(0, 40000)) for _ in range(n)]
height = [rnd.uniform(1000, 5000) for _ in range(n)]
rtt = [[0 if i == j else math.dist(pos[i], pos[j]) + height[i] + height[j]
        for j in range(n)] for i in range(n)]
with open(out + ".tmp", "w") as f:
    for row in rtt:
        f.write(" ".join("%.0f" % x for x in row) + "\n")
os.rename(out + ".tmp", out)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind((addr, port))
queue = []  # (due, seq, data, dst)
seq = 0
late = []  # us each datagram left after its due time
reported = time.monotonic()


def index(ip):
    b = socket.inet_aton(ip)
    if b[:3] != b"\x0a\x4d\x00" or not 1 <= b[3] <= n:
        return None
    return b[3] - 1


def arrival(anc, now, wall):
    """The kernel's receive stamp (CLOCK_REALTIME) on the monotonic clock."""
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack_from("qq", data)
            age = wall - (sec + nsec * 1e-9)
            if 0 <= age < 10:
                return now - age
    return now


def report():
    v = sorted(late)
    if not v:
        return
    with open(out + ".relay.tmp", "w") as f:
        f.write("forwarded %d late_us p50 %.0f p99 %.0f max %.0f\n" % (
            len(v), v[len(v) // 2], v[min(len(v) - 1, len(v) * 99 // 100)], v[-1]))
    os.rename(out + ".relay.tmp", out + ".relay")


while True:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
    r, _, _ = select.select([s], [], [], timeout)
    if r:
        data, anc, _, (sip, sport) = s.recvmsg(512, 64)
        t = arrival(anc, time.monotonic(), time.time())
        if len(data) != 144:  # CELLD_PING_SIZE
            continue
        dip = socket.inet_ntoa(data[68:72])
        dport = struct.unpack_from("<H", data, 72)[0]
        i, j = index(sip), index(dip)
        if i is None or j is None:
            continue
        data = data[:74] + socket.inet_aton(sip) + struct.pack("<H", sport) + data[80:]
        seq += 1
        heapq.heappush(queue, (t + rtt[i][j] / 2e6, seq, data, (dip, dport)))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        due, _, data, dst = heapq.heappop(queue)
        s.sendto(data, dst)
        late.append((time.monotonic() - due) * 1e6)
    if now - reported > 2:
        reported = now
        report()
