#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""activation_test.py BUILD: socket activation without systemd.  The test
binds and listens on <runtime dir>/nucleus.sock itself (SOCK_SEQPACKET, as
celld.socket does), then starts celld with that socket as fd 3 and
LISTEN_FDS=1, LISTEN_PID=<celld's pid>, LISTEN_FDNAMES=nucleus (sd_listen_fds
semantics); celld must serve on it (`cell ps -j`, a demo cell registers)
without binding a new socket; the socket file survives celld's exit, and a
second celld on the same socket serves again.  Refused: a socket bound at
another path, a stream socket, LISTEN_FDS that is not a number.  TAP."""
import json, os, signal, socket, subprocess, sys, tempfile, time

build = sys.argv[1]
celld = os.path.join(build, "userspace/celld/celld")
cell = os.path.join(build, "userspace/cell/cell")
demo = os.path.join(build, "userspace/examples/demo_server")
n = 0
failed = 0
procs = []


def ok(cond, what):
    global n, failed
    n += 1
    if not cond:
        failed = 1
    print("%sok %d %s" % ("" if cond else "not ", n, what), flush=True)


tmp = tempfile.mkdtemp(prefix="celld-activation.")
run = os.path.join(tmp, "run")
os.makedirs(run, mode=0o700)
env = dict(os.environ, CELL_RUNTIME_DIR=run)
for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
    env.pop(k, None)


def listener(path, kind=socket.SOCK_SEQPACKET):
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    s.listen(16)
    return s


def ps():
    try:
        out = subprocess.run([cell, "ps", "-j"], env=env, capture_output=True, timeout=10)
        return json.loads(out.stdout) if out.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError):
        return None


def wait(cond, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


print("TAP version 13")
if not os.access(celld, os.X_OK) or not os.access(cell, os.X_OK):
    print("1..0 # SKIP celld or cell not built")
    sys.exit(0)
path = os.path.join(run, "nucleus.sock")
sock = listener(path)
ino = os.stat(path).st_ino
# LISTEN_PID must be celld's own pid: a tiny wrapper sets it to its $$ and
# execs celld (exec keeps the pid).  Python's own fds are not inheritable
# (PEP 446), so with close_fds=False only fd 3 (dup2 in the child) reaches it.
wrapper = os.path.join(tmp, "wrap.sh")
with open(wrapper, "w") as f:
    f.write('#!/bin/sh\nexport LISTEN_PID=$$\nexec "$@"\n')
os.chmod(wrapper, 0o755)


def to_fd3(fd):
    if fd == 3:
        os.set_inheritable(3, True)  # dup2(3, 3) would not clear close-on-exec
    else:
        os.dup2(fd, 3)  # the copy is inheritable


def start_wrapped(s, log, names="nucleus", fds="1", extra=()):
    fd = s.fileno()
    e = dict(env, LISTEN_FDS=fds)
    if names:
        e["LISTEN_FDNAMES"] = names
    p = subprocess.Popen([wrapper, celld, "-r", run, "-s", os.path.join(tmp, "state"), "-v",
                          "-o", "discovery=off", "-o", "collect.spans_ms=0", *extra],
                         env=e, stdout=log, stderr=subprocess.STDOUT, close_fds=False,
                         preexec_fn=lambda: to_fd3(fd))
    procs.append(p)
    return p


log1 = open(os.path.join(tmp, "celld1.log"), "w+")
p1 = start_wrapped(sock, log1)
ok(wait(lambda: ps() is not None), "celld serves `cell ps -j` on the socket passed as LISTEN_FDS")
ok(os.stat(path).st_ino == ino, "the socket file is the test's (celld did not bind a new one)")
log1.flush()
text = open(log1.name).read()
ok("socket activation" in text, "celld logs that it was socket-activated")
cenv = dict(env)
d = subprocess.Popen([demo, "alpha"], env=cenv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs.append(d)
ok(wait(lambda: any(c.get("name") == "alpha" for c in (ps() or []))),
   "a demo cell registers with it and `cell ps -j` lists it")
stop(p1)
ok(p1.returncode == 0 and os.path.exists(path) and os.stat(path).st_ino == ino,
   "celld exits 0 and leaves the socket file (its owner made it)")
# the listening socket is still the test's: a connect now waits in the backlog
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ok(c.connect_ex(path) == 0, "while celld is down a client still connects (the backlog)")
c.close()
log2 = open(os.path.join(tmp, "celld2.log"), "w+")
p2 = start_wrapped(sock, log2)
ok(wait(lambda: any(c.get("name") == "alpha" for c in (ps() or []))),
   "a restarted celld on the same socket serves again and finds the live cell")
stop(p2)


def refused(s, what, needle, **kw):
    log = open(os.path.join(tmp, "bad%d.log" % n), "w+")
    p = start_wrapped(s, log, **kw)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    log.flush()
    t = open(log.name).read()
    ok(p.returncode == 1 and needle in t, "%s: celld exits 1 (%s)" % (what, t.strip().splitlines()[-1] if t.strip() else "no log"))


other = listener(os.path.join(tmp, "elsewhere.sock"))
refused(other, "a socket bound at another path", "not at")
other.close()
os.unlink(path)
stream = listener(path, socket.SOCK_STREAM)
refused(stream, "a stream socket", "SOCK_SEQPACKET")
stream.close()
os.unlink(path)
sock2 = listener(path)
refused(sock2, "LISTEN_FDS=x", "not numbers", fds="x")
sock2.close()
for p in procs:
    stop(p)
sock.close()
subprocess.run(["rm", "-rf", tmp])
print("1..%d" % n)
sys.exit(failed)
