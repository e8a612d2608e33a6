#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# bpf/check.sh BUILD TAP_DIR: the BPF tests that need root, a BPF-capable
# kernel and network namespaces (make check runs this through bpf/bpf.mk).
# Each writes TAP through tools/tap-run; one that cannot run here exits 4
# with the reason, and a part that was not built is reported the same way.
# Exits 0 once the tests ran: tools/tap-summary judges their results.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
tap=$2
bin=$build/bpf
vectors=$top/selftests/bpf/pheromone_vectors.tsv

run() { # run NAME CMD...
	local name=$1
	shift
	echo "-- bpf: $name"
	"$top/tools/tap-run" "$tap/$name.tap" "$@"
}
skipped() { # skipped NAME REASON
	run "$1" sh -c 'echo "1..0 # SKIP $1"; exit 4' sh "$2"
}

mkdir -p "$tap"
if [ ! -x "$bin/ratelimit_unit" ]; then
	why=$(grep -m1 'BPF parts not built' "$build.configure.log" 2>/dev/null)
	why=${why#*: }
	for t in bpf-ratelimit-unit bpf-pheromone bpf-ratelimit-live bpf-ratelimit-netns; do
		skipped $t "BPF parts not built${why:+: $why}"
	done
	exit 0
fi
run bpf-ratelimit-unit "$bin/ratelimit_unit"
run bpf-pheromone "$bin/pheromone_test" "$vectors"
run bpf-ratelimit-live "$top/selftests/bpf/ratelimit_live.sh" "$bin/cell-ratelimit" "$bin/crl_traffic"
run bpf-ratelimit-netns "$top/selftests/bpf/ratelimit_netns.sh" "$bin/cell-ratelimit" "$bin/crl_traffic"
exit 0
