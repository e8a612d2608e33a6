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

# cell_add_fuzz(NAME n SOURCES files... [LIBS libs...])
#
# A file defining LLVMFuzzerTestOneInput().  With CELL_FUZZ (clang, make
# fuzz) it becomes the libFuzzer binary fuzz/fuzz_<n>; in every other build
# it is linked with selftests/fuzz/replay.c, which runs the seed corpus
# selftests/fuzz/corpus/<n>/ and random mutations of it as a unit test, so
# the sanitizer builds see every target too.
function(cell_add_fuzz)
	cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS" ${ARGN})
	set(target fuzz_${F_NAME})
	set(corpus ${CELL_TOP}/selftests/fuzz/corpus/${F_NAME})
	if(CELL_FUZZ)
		add_executable(${target} ${F_SOURCES})
		target_link_options(${target} PRIVATE -fsanitize=fuzzer)
		set_target_properties(${target} PROPERTIES
			RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
	else()
		add_executable(${target} ${F_SOURCES}
			       ${CELL_TOP}/selftests/fuzz/replay.c)
		cell_add_test(NAME ${target}
			      COMMAND $<TARGET_FILE:${target}> ${corpus}
			      LABELS unit TIMEOUT 300)
	endif()
	target_link_libraries(${target} PRIVATE ${F_LIBS})
endfunction()
