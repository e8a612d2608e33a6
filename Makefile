# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Cell: one entry point for every build and test.  On a fresh Debian 12
# machine `make demo` and `make check` are all that is needed: each target
# that needs packages installs them through tools/deps.sh first.
#
#   make all        libcell, programs and host tests (build/default)
#   make check      every test: host, ASan+UBSan, TSan, and each part's
#                   checks (VM, BPF, MCU); prints "check: N passed, N failed"
#   make check SANITIZE=address,undefined | SANITIZE=thread
#                   only that sanitizer build's tests
#   make CELL_PROFILE=rpc [check]
#                   only libcell's RPC core and cellc, libc only (build/rpc)
#   make install [DESTDIR=... PREFIX=/usr/local]
#                   what cmake --install puts in place, from build/default
#   make check T=NAME [ARGS='-t TEST']
#                   one test program (a ctest name, `ctest -N` in
#                   build/default lists them); ARGS go to the program: the
#                   harness takes -l, -t/-T test, -f/-F fixture, -v/-V variant
#   make demo       the example server and client (issue: fast path)
#   make install    libcell, cellc, cell, celld and celld.service under
#                   PREFIX (default /usr/local); DESTDIR=... for staging
#   make module     cell.ko against the running distribution's headers
#   make vm-check   the module's tests in a qemu VM
#   make bench      benchmarks (targets live here, never in tests)
#   make style      clang-format on all C, checkpatch --strict on module/, bpf/
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (default 60) each
#
# Parts of the tree add themselves through <part>/<part>.mk: they append
# check targets to CHECK_PARTS and benchmark targets to BENCH_PARTS, and
# write TAP into $(TAP_DIR) with tools/tap-run so the summary counts them.

TOP       := $(abspath .)
BUILD     ?= $(TOP)/build
TAP_DIR   := $(BUILD)/tap
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
DEPS      := $(TOP)/tools/deps.sh
CMAKE_ARGS ?=
# full: every part (build/default); rpc: libcell's core and cellc (build/rpc).
CELL_PROFILE ?= full
ifeq ($(CELL_PROFILE),rpc)
PROFILE_BUILD := rpc
DEPS_GROUPS := build
else ifeq ($(CELL_PROFILE),full)
PROFILE_BUILD := default
DEPS_GROUPS :=
else
$(error CELL_PROFILE must be rpc or full)
endif

# Parts append to these.
CHECK_PARTS :=
BENCH_PARTS :=
STYLE_KERNEL_FILES :=

.PHONY: all deps check check-default check-asan check-tsan check-summary \
	demo module vm-check bench style fuzz clean help install

all: deps
	@$(MAKE) --no-print-directory build-$(PROFILE_BUILD)

help:
	@sed -n '3,22p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@$(DEPS) $(DEPS_GROUPS)

# cmake-build DIR EXTRA-ARGS: configure once, then build.
define cmake-build
	@mkdir -p $(dir $(1))
	@cmake -S $(TOP) -B $(1) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(2) \
		$(CMAKE_ARGS) >$(1).configure.log 2>&1 || \
		{ cat $(1).configure.log; exit 1; }
	@cmake --build $(1) -j $(JOBS)
endef

.PHONY: build-default build-asan build-tsan
build-default:
	$(call cmake-build,$(BUILD)/default,)
build-asan:
	$(call cmake-build,$(BUILD)/asan,-DCELL_SANITIZE=address$(,)undefined)
build-tsan:
	$(call cmake-build,$(BUILD)/tsan,-DCELL_SANITIZE=thread)
.PHONY: build-rpc check-rpc
build-rpc:
	$(call cmake-build,$(BUILD)/rpc,-DCELL_PROFILE=rpc)
, := ,

# ctest-run DIR LABEL-REGEX: run the tests, never stop early; the summary
# (tools/tap-summary) decides pass or fail from the TAP each one kept.
define ctest-run
	@rm -rf $(1)/tap
	@cd $(1) && ctest --output-on-failure -j $(JOBS) $(if $(2),-L '$(2)') \
		>$(1)/ctest.log 2>&1; \
		grep -E '^(  *[0-9]+/[0-9]+ Test|[0-9]+% tests|The following)' \
			$(1)/ctest.log || true; \
		grep -A3 -E '\*\*\*(Failed|Exception|Timeout)' $(1)/ctest.log \
			| head -40 || true
endef

check-default: build-default
	$(call ctest-run,$(BUILD)/default,)
check-asan: build-asan
	$(call ctest-run,$(BUILD)/asan,unit)
check-tsan: build-tsan
	$(call ctest-run,$(BUILD)/tsan,tsan)
check-rpc: build-rpc
	$(call ctest-run,$(BUILD)/rpc,unit)

-include $(wildcard $(TOP)/*/*.mk $(TOP)/tools/*/*.mk)

ifeq ($(SANITIZE),)
CHECK_RUN := check-default check-asan check-tsan $(CHECK_PARTS)
CHECK_DIRS := $(BUILD)/default/tap $(BUILD)/asan/tap $(BUILD)/tsan/tap $(TAP_DIR) \
	$(if $(filter check-rpc,$(CHECK_PARTS)),$(BUILD)/rpc/tap)
else ifeq ($(SANITIZE),thread)
CHECK_RUN := check-tsan
CHECK_DIRS := $(BUILD)/tsan/tap
else ifeq ($(SANITIZE),address,undefined)
CHECK_RUN := check-asan
CHECK_DIRS := $(BUILD)/asan/tap
else
$(error SANITIZE must be address,undefined or thread)
endif

ifeq ($(CELL_PROFILE),rpc)
CHECK_RUN := check-rpc
CHECK_DIRS := $(BUILD)/rpc/tap
endif
# make check T=NAME [ARGS=...]: one program of the build SANITIZE picks.
ifneq ($(T),)
CHECK_BUILD := $(if $(SANITIZE),$(if $(filter thread,$(SANITIZE)),tsan,asan),$(PROFILE_BUILD))
CHECK_RUN := check-one
CHECK_DIRS := $(BUILD)/$(CHECK_BUILD)/tap
endif
.PHONY: check-one
check-one: build-$(CHECK_BUILD)
	@cd $(BUILD)/$(CHECK_BUILD) && rm -rf tap && \
	cmd=$$(ctest -N -V -R '^$(T)$$' | sed -n 's/^[0-9]*: Test command: //p'); \
	if [ -z "$$cmd" ]; then \
		echo "make check T=$(T): no such test (ctest -N in $(BUILD)/$(CHECK_BUILD) lists them)" >&2; \
		exit 1; fi; \
	if [ -z '$(ARGS)' ]; then ctest --output-on-failure -R '^$(T)$$'; \
	else eval "$$cmd $(ARGS)"; fi

# Each step runs even if an earlier one failed; the summary is the verdict.
check: deps
	@rm -rf $(TAP_DIR) $(BUILD)/check-errors; mkdir -p $(BUILD)
	@for t in $(CHECK_RUN); do \
		echo "== $$t"; \
		$(MAKE) --no-print-directory $$t || echo "== $$t: make failed" \
			>>$(BUILD)/check-errors; \
	done; \
	echo "== summary"; \
	$(TOP)/tools/tap-summary $(CHECK_DIRS); rc=$$?; \
	if [ -s $(BUILD)/check-errors ]; then \
		cat $(BUILD)/check-errors; rm -f $(BUILD)/check-errors; exit 1; \
	fi; exit $$rc

PREFIX ?= /usr/local
install: all
	@cmake -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(BUILD)/default >/dev/null
	@cmake --build $(BUILD)/default -j $(JOBS) >/dev/null
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)/default

bench:
	@if [ -z "$(strip $(BENCH_PARTS))" ]; then \
		echo "make bench: not built yet (the libcell fast-path issue adds it)" >&2; \
		exit 2; fi
	@$(DEPS)
	@$(DEPS) bench
	@for t in $(BENCH_PARTS); do $(MAKE) --no-print-directory $$t || exit 1; done

# Targets that later parts define; until then they say so and fail.
ifeq ($(filter demo,$(PART_TARGETS)),)
demo:
	@echo "make demo: not built yet (the libcell fast-path issue adds it)" >&2
	@exit 2
endif
ifeq ($(filter module,$(PART_TARGETS)),)
module:
	@echo "make module: not built yet (the cell.ko issue adds module/)" >&2
	@exit 2
endif
ifeq ($(filter vm-check,$(PART_TARGETS)),)
vm-check:
	@echo "make vm-check: not built yet (the cell.ko issue adds tools/vm/)" >&2
	@exit 2
endif

C_SOURCES = $(shell git -C $(TOP) ls-files -co --exclude-standard \
	'*.c' '*.h' | grep -v '^build/')
KERNEL_SOURCES = $(shell git -C $(TOP) ls-files -co --exclude-standard \
	'module/*.c' 'module/*.h' 'bpf/*.c' 'bpf/*.h' | grep -v vmlinux.h)

style: deps
	@echo "clang-format: $(words $(C_SOURCES)) files"
	@clang-format --dry-run -Werror $(C_SOURCES)
	@ksrc=$$($(TOP)/tools/kernel-src.sh) && \
	if [ -n "$(strip $(KERNEL_SOURCES))" ]; then \
		echo "checkpatch --strict: $(words $(KERNEL_SOURCES)) files"; \
		perl $$ksrc/scripts/checkpatch.pl --strict --no-tree --quiet \
			--show-types --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG \
			-f $(KERNEL_SOURCES); \
	else echo "checkpatch: no module/ or bpf/ sources yet"; fi
	@echo "style: clean"

fuzz: deps
	$(call cmake-build,$(BUILD)/fuzz,-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCELL_FUZZ=ON -DCELL_WERROR=ON)
	@cd $(BUILD)/fuzz && for f in $$(ls fuzz/fuzz_* 2>/dev/null); do \
		[ -x "$$f" ] || continue; \
		name=$$(basename $$f); corpus=$(TOP)/selftests/fuzz/corpus/$${name#fuzz_}; \
		mkdir -p work/$$name; \
		echo "== $$name for $(FUZZ_SECONDS) s"; \
		./$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=work/$$name/ work/$$name $$corpus \
			>work/$$name.log 2>&1 || { tail -40 work/$$name.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|Done ' work/$$name.log; \
	done

clean:
	rm -rf $(BUILD)
