# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# The MCU port (mcu/): the Cortex-M3 build through cmake/cortex-m3.cmake and
# its checks in qemu-system-arm.
#   make mcu-build   firmware into build/mcu, and the size report
#   make mcu-check   (part of make check) the vector test on the target and
#                    libcell's UART transport calling the example firmware
# The host tests of mcu/ (selftests/mcu/) run with the other host tests.

MCU_BUILD := $(BUILD)/mcu
MCU_HOST := $(BUILD)/default
MCU_CELLC := $(MCU_HOST)/userspace/cellc/cellc
MCU_CLIENT := $(MCU_HOST)/selftests/mcu/uart_e2e_test

CHECK_PARTS += mcu-check
PART_TARGETS += mcu-build mcu-check

.PHONY: mcu-host mcu-build mcu-check

# Only what the MCU checks need from the host build (cellc, the client),
# so that a broken unrelated target does not stop them.
mcu-host:
	@$(DEPS) mcu
	@if [ ! -f $(MCU_HOST)/CMakeCache.txt ]; then \
		mkdir -p $(BUILD); \
		cmake -S $(TOP) -B $(MCU_HOST) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) \
			>$(MCU_HOST).configure.log 2>&1 || { cat $(MCU_HOST).configure.log; exit 1; }; \
	fi
	@cmake --build $(MCU_HOST) -j $(JOBS) --target cellc uart_e2e_test

mcu-build: mcu-host
	@cmake -S $(TOP)/mcu -B $(MCU_BUILD) \
		-DCMAKE_TOOLCHAIN_FILE=$(TOP)/cmake/cortex-m3.cmake \
		-DCELLC=$(MCU_CELLC) >$(MCU_BUILD).configure.log 2>&1 || \
		{ cat $(MCU_BUILD).configure.log; exit 1; }
	@cmake --build $(MCU_BUILD) -j $(JOBS)

mcu-check: mcu-build
	@mkdir -p $(TAP_DIR)
	@$(TOP)/tools/tap-run $(TAP_DIR)/mcu_qemu_vectors.tap \
		$(TOP)/mcu/qemu-run.sh vectors $(MCU_BUILD)/vectors.elf; \
	v=$$?; \
	$(TOP)/tools/tap-run $(TAP_DIR)/mcu_qemu_e2e.tap \
		$(TOP)/mcu/qemu-run.sh e2e $(MCU_BUILD)/sensor.elf $(MCU_CLIENT); \
	e=$$?; \
	[ $$v -eq 0 -o $$v -eq 4 ] && [ $$e -eq 0 -o $$e -eq 4 ]
