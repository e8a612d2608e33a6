# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# cell.ko (module/) and its tests in a qemu VM (tools/vm/).
#
#   make module     build cell.ko (W=1) against Debian's packaged headers
#                   of the newest installed linux-image (KVER, KDIR override)
#   make vm-check   boot that kernel under qemu, load cell.ko, run
#                   selftests/module/; TAP on stdout, non-zero on failure
#
# make check runs vm-check-tap, which keeps the TAP in $(TAP_DIR)/vm.tap
# (a missing kernel image or qemu is a loud SKIP there, never a pass).

PART_TARGETS += module vm-check
CHECK_PARTS += vm-check-tap

KVER ?= $(shell $(TOP)/tools/vm/kver.sh)
KDIR ?= $(firstword $(wildcard /usr/src/linux-headers-$(KVER) /lib/modules/$(KVER)/build))

.PHONY: module vm-check vm-check-tap
module:
	@$(DEPS) build kernel
	@if [ -z "$(KDIR)" ]; then \
		echo "make module: no kernel build tree (linux-headers-amd64)" >&2; exit 1; fi
	@$(MAKE) --no-print-directory -C $(KDIR) M=$(TOP)/module W=1 modules

vm-check:
	@$(DEPS) build kernel
	@$(TOP)/tools/vm/run.sh

vm-check-tap:
	@$(TOP)/tools/tap-run $(TAP_DIR)/vm.tap $(TOP)/tools/vm/run.sh

# make bench runs bench-vm: /dev/cell rings against memfd rings and raw
# futex(2), measured side by side inside the VM (tools/bench/module_bench.c).
BENCH_PARTS += bench-vm
.PHONY: bench-vm
bench-vm:
	@$(DEPS) build kernel
	@VM_SOURCES=$(TOP)/tools/bench/module_bench.c $(TOP)/tools/vm/run.sh module_bench | \
		grep -aE '^# |^(not )?ok '
