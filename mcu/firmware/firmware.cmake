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

add_library(cell_mcu STATIC src/wire.c src/cobs.c src/server.c src/names.c)
target_include_directories(cell_mcu PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include ${CELL_TOP}/uapi)
# The example board's buffer size (as in the host build, mcu/CMakeLists.txt).
target_compile_definitions(cell_mcu PUBLIC CELL_MCU_MAX_PAYLOAD=640)

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

function(cell_firmware name)
	add_executable(${name}.elf ${ARGN} ${fw}/board_lm3s6965.c)
	target_include_directories(${name}.elf PRIVATE ${fw} ${gen}
		${CMAKE_CURRENT_SOURCE_DIR}/example)
	target_link_libraries(${name}.elf PRIVATE cell_mcu)
	target_link_options(${name}.elf PRIVATE -nostartfiles -T ${fw}/link.ld
		-Wl,-Map=${CMAKE_CURRENT_BINARY_DIR}/${name}.map)
	set_target_properties(${name}.elf PROPERTIES LINK_DEPENDS ${fw}/link.ld)
endfunction()

cell_firmware(sensor ${fw}/main_sensor.c ${CMAKE_CURRENT_SOURCE_DIR}/example/sensor_app.c
	      ${gen}/sensor.mcu.h)
cell_firmware(vectors ${fw}/main_vectors.c ${gen}/vectors_gen.c)

add_custom_target(size-report ALL
	COMMAND sh ${fw}/size-report.sh ${CMAKE_SIZE} $<TARGET_FILE:cell_mcu>
		${CMAKE_CURRENT_BINARY_DIR}/sensor.map $<TARGET_FILE:sensor.elf>
		${CMAKE_CURRENT_BINARY_DIR}/vectors.map $<TARGET_FILE:vectors.elf>
	DEPENDS cell_mcu sensor.elf vectors.elf ${fw}/size-report.sh
	VERBATIM)
