#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""A UDP relay of the QUIC tests' own: listens on LISTEN, forwards each
client's datagrams to SERVER and the answers back, and on the way drops,
duplicates and reorders a share of them (each with probability P) and
delays every one by DELAY ms (+- half of it).  Seeded: runs repeat.

    lossy_relay.py LISTEN_HOST:PORT SERVER_HOST:PORT P DELAY_MS SEED
Prints "relay ready" when listening; counts to stderr when killed (SIGTERM).
"""
import heapq, random, select, signal, socket, sys, time

def addr(s):
    h, p = s.rsplit(":", 1)
    return (h, int(p))

listen, server = addr(sys.argv[1]), addr(sys.argv[2])
p, delay, rng = float(sys.argv[3]), float(sys.argv[4]) / 1000, random.Random(int(sys.argv[5]))
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(listen)
backs = {}      # client address -> socket towards the server
clients = {}    # back socket fd -> client address
queue = []      # (due, seq, socket, data, dest)
held = {}       # direction -> a datagram held back to reorder
seq = 0
stats = {"in": 0, "drop": 0, "dup": 0, "reorder": 0}

def report(*_):
    sys.stderr.write("relay %s\n" % " ".join("%s=%d" % kv for kv in stats.items()))
    sys.exit(0)

signal.signal(signal.SIGTERM, report)

def push(sock, data, dest):
    global seq
    seq += 1
    d = delay * (0.5 + rng.random()) if delay else 0
    heapq.heappush(queue, (time.monotonic() + d, seq, sock, data, dest))

def relay(sock, data, dest, key):
    stats["in"] += 1
    r = rng.random()
    if r < p:
        stats["drop"] += 1
        return
    if r < 2 * p:
        stats["dup"] += 1
        push(sock, data, dest)
    elif r < 3 * p and key not in held:
        stats["reorder"] += 1
        held[key] = (sock, data, dest)
        return
    push(sock, data, dest)
    if key in held:
        push(*held.pop(key))

print("relay ready", flush=True)
while True:
    timeout = max(0, queue[0][0] - time.monotonic()) if queue else 0.05
    socks = [front] + list(backs.values())
    ready, _, _ = select.select(socks, [], [], timeout)
    for s in ready:
        data, src = s.recvfrom(65536)
        if s is front:
            b = backs.get(src)
            if b is None:
                b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                b.connect(server)
                backs[src] = b
                clients[b.fileno()] = src
            relay(b, data, None, ("up", src))
        else:
            relay(front, data, clients[s.fileno()], ("down", clients[s.fileno()]))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, sock, data, dest = heapq.heappop(queue)
        try:
            sock.send(data) if dest is None else sock.sendto(data, dest)
        except OSError:
            pass
