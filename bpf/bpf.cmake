# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# BPF objects and libbpf skeletons, built once per build tree and used by
# libcell (lib/bpf/), tools/cell-ratelimit (bpf/) and selftests/bpf/.
#
#   <build>/bpf/vmlinux.h          bpftool btf dump of the running kernel
#   <build>/bpf/<prog>.bpf.o       clang -target bpf -mcpu=v3, with BTF (CO-RE)
#   <build>/bpf/<prog>.skel.h      bpftool gen skeleton
#
# Sets CELL_BPF_OK (ON when all of that can be built) and CELL_BPF_WHY (why
# not), the target cell_bpf_skel, CELL_BPF_INCLUDE (skeletons, cell_bpf.h)
# and CELL_LIBBPF_LIBRARIES.
include_guard(GLOBAL)

set(CELL_BPF_OK OFF)
set(CELL_BPF_WHY "")
set(CELL_BPF_SRC ${CELL_TOP}/bpf)
set(CELL_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
set(CELL_BPF_INCLUDE ${CELL_BPF_OUT} ${CELL_BPF_SRC})
set(CELL_BPF_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "BTF for vmlinux.h")

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
	pkg_check_modules(CELL_LIBBPF QUIET libbpf)
endif()
find_program(CELL_BPF_CLANG NAMES clang clang-14)
find_program(CELL_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
if(NOT CELL_LIBBPF_FOUND)
	set(CELL_BPF_WHY "libbpf-dev not installed (tools/deps.sh bpf)")
elseif(NOT CELL_BPF_CLANG)
	set(CELL_BPF_WHY "clang not found")
elseif(NOT CELL_BPFTOOL)
	set(CELL_BPF_WHY "bpftool not found (tools/deps.sh bpf)")
elseif(NOT EXISTS ${CELL_BPF_VMLINUX_BTF})
	set(CELL_BPF_WHY "no kernel BTF at ${CELL_BPF_VMLINUX_BTF}")
else()
	set(CELL_BPF_OK ON)
endif()
set(CELL_LIBBPF_LIBRARIES ${CELL_LIBBPF_LINK_LIBRARIES})
if(NOT CELL_LIBBPF_LIBRARIES)
	set(CELL_LIBBPF_LIBRARIES bpf)
endif()

if(CELL_BPF_OK)
	file(MAKE_DIRECTORY ${CELL_BPF_OUT})
	add_custom_command(OUTPUT ${CELL_BPF_OUT}/vmlinux.h
		COMMAND ${CELL_BPFTOOL} btf dump file ${CELL_BPF_VMLINUX_BTF} format c
			> ${CELL_BPF_OUT}/vmlinux.h.tmp
		COMMAND ${CMAKE_COMMAND} -E rename ${CELL_BPF_OUT}/vmlinux.h.tmp
			${CELL_BPF_OUT}/vmlinux.h
		COMMENT "vmlinux.h from ${CELL_BPF_VMLINUX_BTF}" VERBATIM)
	set(skels)
	foreach(prog ratelimit pheromone)
		set(obj ${CELL_BPF_OUT}/${prog}.bpf.o)
		add_custom_command(OUTPUT ${obj}
			COMMAND ${CELL_BPF_CLANG} -O2 -g -target bpf -mcpu=v3
				-D__TARGET_ARCH_x86 -DCELL_UAPI_NO_IOCTL -Wall -Werror
				-I${CELL_BPF_OUT} -I${CELL_BPF_SRC}/include -I${CELL_BPF_SRC}
				-I${CELL_UAPI} -c ${CELL_BPF_SRC}/${prog}.bpf.c -o ${obj}
			DEPENDS ${CELL_BPF_SRC}/${prog}.bpf.c ${CELL_BPF_SRC}/cell_bpf.h
				${CELL_BPF_SRC}/pheromone_check.h ${CELL_UAPI}/linux/cell.h
				${CELL_BPF_OUT}/vmlinux.h
			COMMENT "BPF ${prog}.bpf.o" VERBATIM)
		add_custom_command(OUTPUT ${CELL_BPF_OUT}/${prog}.skel.h
			COMMAND ${CELL_BPFTOOL} gen skeleton ${obj} name ${prog}_bpf
				> ${CELL_BPF_OUT}/${prog}.skel.h.tmp
			COMMAND ${CMAKE_COMMAND} -E rename ${CELL_BPF_OUT}/${prog}.skel.h.tmp
				${CELL_BPF_OUT}/${prog}.skel.h
			DEPENDS ${obj}
			COMMENT "BPF skeleton ${prog}.skel.h" VERBATIM)
		list(APPEND skels ${CELL_BPF_OUT}/${prog}.skel.h)
	endforeach()
	add_custom_target(cell_bpf_skel DEPENDS ${skels})
else()
	message(STATUS "BPF parts not built: ${CELL_BPF_WHY}")
endif()
# The results outlive this directory's scope (lib/bpf, bpf, selftests/bpf).
foreach(v CELL_BPF_OK CELL_BPF_WHY CELL_BPF_SRC CELL_BPF_OUT CELL_BPF_INCLUDE
	  CELL_LIBBPF_LIBRARIES)
	set(${v} "${${v}}" CACHE INTERNAL "bpf.cmake")
endforeach()
