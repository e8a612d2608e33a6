#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# test_pip.sh PYTHON SRC: bindings/python installs with pip from the tree,
# with no network (--no-index --no-build-isolation), into a temporary venv
# that sees Debian's setuptools; the installed package imports and works.
set -u
py=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$py" -c 'import setuptools, pip, venv' 2>/dev/null; then
	echo "1..0 # SKIP pip, setuptools or venv missing for $py (python3-pip python3-setuptools python3-venv)"
	exit 4
fi
echo "1..2"
cp -r "$src" "$tmp/src"
if "$py" -m venv --system-site-packages "$tmp/venv" >"$tmp/log" 2>&1 &&
	"$tmp/venv/bin/python" -m pip install -q --no-index --no-build-isolation "$tmp/src" >>"$tmp/log" 2>&1; then
	echo "ok 1 pip install --no-index --no-build-isolation into a venv"
else
	echo "not ok 1 pip install failed"
	sed 's/^/# /' "$tmp/log" | tail -20
fi
cd "$tmp" || exit 1
if "$tmp/venv/bin/python" -c 'import cell, sys; assert "venv" in cell.__file__, cell.__file__; assert cell.fingerprint("a") == 0xaf63dc4c8601ec8c'; then
	echo "ok 2 the installed package imports from the venv and computes a fingerprint"
else
	echo "not ok 2 the installed package does not work"
fi
