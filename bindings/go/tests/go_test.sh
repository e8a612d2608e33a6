#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# go_test.sh GO SRC GEN WORK SUITE [ARGS...]
#
# Builds bindings/go/testdata/celltap (testdata: ./... of the runtime's
# module leaves it out) in the module WORK of the build tree, which holds the packages cellc --lang=go generated in GEN (demo, all) and
# takes cell.dev/cell from SRC (bindings/go) by a replace directive, then
# runs the suite.  SUITE "vet" instead runs gofmt -l and go vet over the
# runtime, the generated code and the tests, and go test (the seeds of the
# runtime's fuzz targets).  Standard library only: no
# network (GOPROXY=off), caches in WORK (nothing written to $HOME), builds
# serialised by a lock so parallel ctest runs share the cache.
set -eu
GO=$1 SRC=$2 GEN=$3 WORK=$4 SUITE=$5
case $WORK in /*) ;; *) WORK=$PWD/$WORK ;; esac
shift 5
if [ -z "$GO" ] || ! [ -x "$GO" ]; then
	echo "1..0 # SKIP no go toolchain (tools/deps.sh build installs golang-go)"
	exit 4
fi
export GOCACHE="$WORK/cache" GOPATH="$WORK/gopath" GOPROXY=off GOFLAGS=-mod=mod \
	GO111MODULE=on GOWORK=off GOTELEMETRY=off CGO_ENABLED=0 HOME="$WORK"
mkdir -p "$WORK"
exec 9>"$WORK/lock"
flock 9
mod="$WORK/mod"
mkdir -p "$mod/demo" "$mod/all" "$mod/celltap"
cat >"$mod/go.mod.new" <<EOM
module cell.dev/celltests

go 1.19

require cell.dev/cell v0.0.0

replace cell.dev/cell => $SRC
EOM
cmp -s "$mod/go.mod.new" "$mod/go.mod" 2>/dev/null || cp "$mod/go.mod.new" "$mod/go.mod"
cp -p "$GEN/demo_cell.go" "$mod/demo/"
cp -p "$GEN/all_cell.go" "$mod/all/"
cp -p "$SRC"/testdata/celltap/*.go "$mod/celltap/"
cd "$mod"
if [ "$SUITE" = vet ]; then
	n=0
	bad=$(gofmt=$(dirname "$GO")/gofmt; "$gofmt" -l "$SRC" "$mod" 2>&1 || true)
	n=$((n + 1))
	if [ -z "$bad" ]; then echo "ok $n gofmt -l: runtime, generated code and tests"
	else echo "not ok $n gofmt -l: $bad"; fail=1; fi
	n=$((n + 1))
	if out=$("$GO" vet ./... 2>&1) && out2=$(cd "$SRC" && "$GO" vet ./... 2>&1); then
		echo "ok $n go vet ./... (runtime, generated packages, tests)"
	else
		echo "not ok $n go vet"; echo "$out" "${out2:-}" | sed 's/^/# /'; fail=1
	fi
	n=$((n + 1))
	if out=$(cd "$SRC" && "$GO" test ./... 2>&1); then
		echo "ok $n go test ./... (fuzz seeds, ring producer checks)"
	else
		echo "not ok $n go test ./..."; echo "$out" | sed 's/^/# /'; fail=1
	fi
	echo "1..$n"
	exit ${fail:-0}
fi
"$GO" build -o "$WORK/celltap" ./celltap
flock -u 9
exec "$WORK/celltap" "$SUITE" "$@"
