# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# make vm-can-check: libcell's CAN-FD transport and the MCU port's CAN
# server on vcan0 in a qemu VM, celld listening on the bus meanwhile
# (tools/vm/can.sh, about 30 s in TCG); part of make
# check, TAP in $(TAP_DIR)/vm_can.tap (no qemu or kernel: a loud SKIP).
CHECK_PARTS += vm-can-check-tap
PART_TARGETS += vm-can-check

.PHONY: vm-can-check vm-can-check-tap
vm-can-check: build-default
	@$(DEPS) kernel
	@CELL_BUILD=$(BUILD)/default $(TOP)/tools/vm/can.sh

vm-can-check-tap: build-default
	@mkdir -p $(TAP_DIR)
	@CELL_BUILD=$(BUILD)/default $(TOP)/tools/tap-run $(TAP_DIR)/vm_can.tap $(TOP)/tools/vm/can.sh
