# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# The Cortex-M3 build (mcu/CMakeLists.txt includes this when it is the
# top-level project, with cmake/cortex-m3.cmake as toolchain file):
#   cell_mcu      the port alone, libcell_mcu.a
#   sensor.elf    the example firmware: sensor.cell over UART0
#   vectors.elf   selftests/vectors/ checked on the target (semihosting)
# and, at every build, the size report (size-report.sh).
# CELLC: the host's cellc (build/default/userspace/cellc/cellc).
get_filename_component(CELL_TOP ${CMAKE_CURRENT_SOURCE_DIR}/.. ABSOLUTE)
set(CELLC "" CACHE FILEPATH "cellc built for the host")
if(NOT CELLC OR NOT EXISTS ${CELLC})
	message(FATAL_ERROR "set -DCELLC=<host cellc> (make mcu-build does)")
endif()
if(NOT CMAKE_BUILD_TYPE)
	set(CMAKE_BUILD_TYPE MinSizeRel)
endif()
set(CMAKE_C_STANDARD 99)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)
add_compile_options(-Wall -Wextra -Werror -g)

set(fw ${CMAKE_CURRENT_SOURCE_DIR}/firmware)
set(gen ${CMAKE_CURRENT_BINARY_DIR}/gen)

# cell_mcu: the port as the example uses it; cell_mcu_min: without error
# detail texts (CELL_MCU_NO_DETAILS), the smallest build.  Both with the
# example board's buffer size (as in the host build, mcu/CMakeLists.txt).
foreach(lib cell_mcu cell_mcu_min)
	add_library(${lib} STATIC src/wire.c src/cobs.c src/server.c src/names.c src/can.c
		src/can_seg.c src/can_announce.c)
	target_include_directories(${lib} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
		${CELL_TOP}/uapi)
	target_compile_definitions(${lib} PUBLIC CELL_MCU_MAX_PAYLOAD=640)
endforeach()
target_compile_definitions(cell_mcu_min PUBLIC CELL_MCU_NO_DETAILS)

add_custom_command(OUTPUT ${gen}/sensor.mcu.h
	COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}
	COMMAND ${CELLC} --mcu -o ${gen}/sensor.mcu.h ${CMAKE_CURRENT_SOURCE_DIR}/example/sensor.cell
	DEPENDS ${CELLC} ${CMAKE_CURRENT_SOURCE_DIR}/example/sensor.cell
	COMMENT "cellc --mcu sensor.cell" VERBATIM)
add_custom_command(OUTPUT ${gen}/vectors_gen.c
	COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}
	COMMAND sh -c "awk -F'\t' -f ${fw}/vectors.awk ${CELL_TOP}/selftests/vectors/frames.tsv ${CELL_TOP}/selftests/vectors/fingerprints.tsv > ${gen}/vectors_gen.c"
	DEPENDS ${fw}/vectors.awk ${CELL_TOP}/selftests/vectors/frames.tsv
		${CELL_TOP}/selftests/vectors/fingerprints.tsv
	COMMENT "vectors.awk" VERBATIM)

# One target owns the generated files: with two firmwares listing the same
# custom-command output, parallel make would run cellc twice at once.
add_custom_target(mcu_generated DEPENDS ${gen}/sensor.mcu.h ${gen}/vectors_gen.c)

function(cell_firmware name lib)
	add_executable(${name}.elf ${ARGN} ${fw}/board_lm3s6965.c)
	add_dependencies(${name}.elf mcu_generated)
	target_include_directories(${name}.elf PRIVATE ${fw} ${gen}
		${CMAKE_CURRENT_SOURCE_DIR}/example)
	target_link_libraries(${name}.elf PRIVATE ${lib})
	target_link_options(${name}.elf PRIVATE -nostartfiles -T ${fw}/link.ld
		-Wl,-Map=${CMAKE_CURRENT_BINARY_DIR}/${name}.map)
	set_target_properties(${name}.elf PROPERTIES LINK_DEPENDS ${fw}/link.ld)
endfunction()

set(sensor_src ${fw}/main_sensor.c ${CMAKE_CURRENT_SOURCE_DIR}/example/sensor_app.c
	${gen}/sensor.mcu.h)
cell_firmware(sensor cell_mcu ${sensor_src})
cell_firmware(sensor_min cell_mcu_min ${sensor_src})
cell_firmware(vectors cell_mcu ${fw}/main_vectors.c ${gen}/vectors_gen.c)

add_custom_target(size-report ALL
	COMMAND sh ${fw}/size-report.sh ${CMAKE_SIZE} $<TARGET_FILE:cell_mcu>
		${CMAKE_CURRENT_BINARY_DIR}/sensor.map $<TARGET_FILE:sensor.elf>
		${CMAKE_CURRENT_BINARY_DIR}/sensor_min.map $<TARGET_FILE:sensor_min.elf>
		${CMAKE_CURRENT_BINARY_DIR}/vectors.map $<TARGET_FILE:vectors.elf>
	DEPENDS cell_mcu sensor.elf sensor_min.elf vectors.elf ${fw}/size-report.sh
	VERBATIM)
