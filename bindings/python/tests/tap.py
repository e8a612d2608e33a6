# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""A small TAP writer for the binding tests: every case prints ok / not ok."""
import sys
import traceback

_n = 0
_failed = 0


def case(name, fn, *args):
    global _n, _failed
    _n += 1
    try:
        fn(*args)
    except SkipCase as e:
        print(f"ok {_n} {name} # SKIP {e}")
    except Exception:
        _failed += 1
        print(f"not ok {_n} {name}")
        for line in traceback.format_exc().splitlines():
            print(f"# {line}")
    else:
        print(f"ok {_n} {name}")
    sys.stdout.flush()


class SkipCase(Exception):
    pass


def skip_all(reason):
    print(f"1..0 # SKIP {reason}")
    sys.exit(4)


def done():
    print(f"1..{_n}")
    sys.exit(1 if _failed else 0)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")
