# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# cell_add_test(NAME n COMMAND cmd... [LABELS l...] [TIMEOUT s])
#
# Registers a TAP-speaking test with CTest.  tools/tap-run keeps its output
# in <build>/tap/<name>.tap so tools/tap-summary can count cases, not only
# programs.  Exit code 4 (KSFT_SKIP) marks the whole program skipped.
#
# Labels say where a test runs:
#   unit    host tests; also run in the sanitizer builds
#   tsan    run in the ThreadSanitizer build
#   system  needs the whole machine (VM, BPF, qemu-arm): default build only
function(cell_add_test)
	cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 300)
	endif()
	add_test(NAME ${T_NAME}
		 COMMAND ${CELL_TOP}/tools/tap-run
			 ${CMAKE_BINARY_DIR}/tap/${T_NAME}.tap ${T_COMMAND})
	set_tests_properties(${T_NAME} PROPERTIES
		SKIP_RETURN_CODE 4 TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()

# cell_add_ksft(name sources... [LABELS l...]): a kselftest-harness program.
function(cell_add_ksft name)
	cmake_parse_arguments(T "" "TIMEOUT" "LABELS;LIBS" ${ARGN})
	add_executable(${name} ${T_UNPARSED_ARGUMENTS})
	target_link_libraries(${name} PRIVATE kselftest ${T_LIBS})
	# The harness passes arguments some tests do not use.
	target_compile_options(${name} PRIVATE -Wno-unused-parameter)
	if(NOT T_LABELS)
		set(T_LABELS unit)
	endif()
	cell_add_test(NAME ${name} COMMAND $<TARGET_FILE:${name}>
		      LABELS ${T_LABELS} TIMEOUT ${T_TIMEOUT})
endfunction()
