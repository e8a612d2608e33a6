#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# bpf/bench.sh BUILD SECONDS: the XDP rate limiter against an nftables
# per-source meter doing the same job (netdev ingress, dynamic set with a
# per-address limit), on the same veth pair, in one run.  Not a test.
#
#   drop:  one peer blasts IPv4 UDP (AF_PACKET, one sender per CPU) at a
#          limit of 1000 pps: packets dropped per second, CPU per dropped
#          packet.  Senders and the receive path share the CPUs, so the
#          cheaper the filter, the more is sent and dropped.
#   pass:  the same blast under a limit it never reaches: CPU per passed
#          packet, against no filter at all
# CPU is all busy time of the machine from /proc/stat (both ends share
# it: the veth receive path runs on the senders' CPUs or in softirq), per
# packet counted.  The modes take turns run by run (3 rounds, medians), so
# other load on the machine weighs on each alike; the load average is
# printed with the figures.
set -u
build=$1
secs=$2
tool=$build/bpf/cell-ratelimit
traffic=$build/bpf/crl_traffic
R=crlb-r-$$ A=crlb-a-$$
export CELL_RATELIMIT_PIN=/sys/fs/bpf/cell-ratelimit-bench-$$

skip() {
	echo "bench-bpf: skipped: $*"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -x "$tool" ] && [ -x "$traffic" ] || skip "BPF parts not built ($build/bpf)"
command -v nft >/dev/null || skip "no nft (tools/deps.sh bpf)"
cleanup() {
	nsenter --net=/run/netns/$R "$tool" detach ra >/dev/null 2>&1
	ip netns del $A 2>/dev/null
	ip netns del $R 2>/dev/null
	rm -rf "$CELL_RATELIMIT_PIN" "$tmp"
}
tmp=$(mktemp -d)
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add $R && ip netns add $A || skip "cannot create network namespaces"
ip link add ra netns $R type veth peer name pa netns $A
ip -n $R addr add 10.202.0.1/24 dev ra
ip -n $A addr add 10.202.0.2/24 dev pa
ip -n $R link set ra up
ip -n $A link set pa up
mac=$(ip -n $R -br link show ra | awk '{ print $3 }')

busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)
# counter MODE WHAT: packets the filter counted (dropped or passed)
counter() {
	case $1 in
	xdp) "$tool" stats | awk -v k="$2" '$1 == "total" && $2 == k { print $3 }' ;;
	nft) ip netns exec $R nft list chain netdev crlbench in |
		awk -v k="$2" '/counter packets/ && ((k == "dropped") == ($0 ~ / drop$/)) {
			match($0, /counter packets [0-9]+/)
			split(substr($0, RSTART, RLENGTH), f, " ")
			print f[3] }' ;;
	none) echo 0 ;;
	esac
}
nft_on() { # nft_on RATE BURST
	ip netns exec $R nft -f - <<-NFT
	table netdev crlbench {
		set peers4 {
			type ipv4_addr
			size 65536
			flags dynamic,timeout
			timeout 60s
		}
		chain in {
			type filter hook ingress device "ra" priority 0; policy accept;
			ip saddr != 0.0.0.0 add @peers4 { ip saddr limit rate over $1/second burst $2 packets } counter drop
			ip saddr != 0.0.0.0 counter accept
		}
	}
	NFT
}
nft_off() { ip netns exec $R nft delete table netdev crlbench; }
xdp_on() { nsenter --net=/run/netns/$R "$tool" attach ra --rate "$1" --burst "$2" ${3:+--mode $3} >/dev/null; }
xdp_off() { nsenter --net=/run/netns/$R "$tool" detach ra >/dev/null; }

# run MODE WHAT -> "pps ns_per_pkt" (WHAT: dropped or passed)
run() {
	local c0 c1 k0 k1 sent s pkts i
	sleep 0.5
	k0=$(counter "$1" "$2")
	c0=$(busy)
	for i in $(seq "$(nproc)"); do
		ip netns exec $A "$traffic" blast pa "$mac" 10.202.0.2 10.202.0.1 9 "$secs" >"$tmp/blast.$i" &
	done
	wait
	c1=$(busy)
	read -r sent s < <(awk '{ n += $2; if ($4 > s) s = $4 } END { print n, s }' "$tmp"/blast.*)
	k1=$(counter "$1" "$2")
	pkts=$((k1 - k0))
	[ "$1" = none ] && pkts=$sent
	awk -v p=$pkts -v s="$s" -v c=$((c1 - c0)) -v hz="$hz" -v o="$sent" \
		'BEGIN { printf "%.0f %.0f %.0f\n", p / s, p ? c / hz * 1e9 / p : 0, o / s }'
}
echo "bench-bpf: XDP limiter vs nftables meter, veth, $secs s runs, median of 3 ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
# one MODE-KIND: a single run with the filter set up and removed again
one() {
	case $1 in
	xdp-drop) xdp_on 1000 100 && run xdp dropped; xdp_off ;;
	skb-drop) xdp_on 1000 100 skb && run xdp dropped; xdp_off ;;
	nft-drop) nft_on 1000 100 && run nft dropped; nft_off ;;
	xdp-pass) xdp_on 100000000 100000000 && run xdp passed; xdp_off ;;
	nft-pass) nft_on 100000000 100000000 && run nft passed; nft_off ;;
	none-pass) run none passed ;;
	esac
}
kinds="xdp-drop skb-drop nft-drop xdp-pass nft-pass none-pass"
for round in 1 2 3; do
	for k in $kinds; do one $k >>"$tmp/$k"; done
done
med() { sort -n "$tmp/$1" | sed -n 2p; }
read -r xd_pps xd_ns xd_off < <(med xdp-drop)
read -r xs_pps xs_ns xs_off < <(med skb-drop)
read -r nd_pps nd_ns nd_off < <(med nft-drop)
read -r xp_pps xp_ns _ < <(med xdp-pass)
read -r np_pps np_ns _ < <(med nft-pass)
read -r bp_pps bp_ns _ < <(med none-pass)

printf '%-28s %12s %12s %14s\n' "" "offered pps" "dropped pps" "CPU ns/dropped"
printf '%-28s %12s %12s %14s\n' "XDP limiter (native)" "$xd_off" "$xd_pps" "$xd_ns"
printf '%-28s %12s %12s %14s\n' "XDP limiter (generic, skb)" "$xs_off" "$xs_pps" "$xs_ns"
printf '%-28s %12s %12s %14s\n' "nftables meter (ingress)" "$nd_off" "$nd_pps" "$nd_ns"
awk -v x="$xd_pps" -v s="$xs_pps" -v n="$nd_pps" 'BEGIN {
	if (n > 0) printf "dropped pps / nftables: XDP native %.2fx, XDP generic %.2fx (target >= 3x)\n", x / n, s / n }'
printf '%-28s %12s %14s\n' "" "passed pps" "CPU ns/passed"
printf '%-28s %12s %14s\n' "XDP limiter (native)" "$xp_pps" "$xp_ns"
printf '%-28s %12s %14s\n' "nftables meter (ingress)" "$np_pps" "$np_ns"
printf '%-28s %12s %14s\n' "no filter" "$bp_pps" "$bp_ns"
