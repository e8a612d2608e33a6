#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Install every Debian package Cell needs (Debian 12).  Idempotent: asks dpkg
# first and prints nothing when all is present.  Uses sudo when not root.
#
#   tools/deps.sh            what make check needs (build kernel bpf mcu observe release)
#   tools/deps.sh GROUP...   only some groups (build kernel bpf mcu observe release bench)
set -euo pipefail

declare -A groups=(
	[build]="build-essential cmake pkg-config clang llvm lld libclang-rt-14-dev
		 clang-format perl xz-utils linux-source-6.1 gawk patch
		 libuv1-dev python3 python3-venv python3-pip python3-setuptools
		 libmicrohttpd-dev libsodium-dev libraft-dev
		 libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev
		 golang-go bubblewrap libseccomp-dev libcap-dev git
		 gnupg openssh-client"
	[kernel]="linux-headers-amd64 linux-image-amd64 qemu-system-x86
		  busybox-static cpio kmod sparse"
	[bpf]="libbpf-dev bpftool libelf-dev zlib1g-dev iproute2 nftables
	       libnl-3-dev libnl-genl-3-dev"
	[mcu]="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
	[observe]="prometheus tmux"
	[release]="python3-docutils man-db dkms dh-dkms debhelper dpkg-dev fakeroot lintian"
	[bench]="iceoryx libiceoryx-binding-c-dev libzmq3-dev libnng-dev
		 libgrpc++-dev protobuf-compiler-grpc gnuplot-nox util-linux python3-grpcio
		 etcd-server etcd-client"
)

wanted=()
if [ $# -eq 0 ]; then
	set -- build kernel bpf mcu observe release
fi
for group in "$@"; do
	if [ -z "${groups[$group]+set}" ]; then
		echo "deps.sh: unknown group '$group' (build kernel bpf mcu observe release bench)" >&2
		exit 2
	fi
	# shellcheck disable=SC2206
	wanted+=(${groups[$group]})
done

missing=()
for pkg in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	[ "${status:0:2}" = "ii" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "deps.sh: not root and no sudo; install: ${missing[*]}" >&2
		exit 1
	}
	sudo="sudo"
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list cannot find the packages: refresh it once.
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done"
