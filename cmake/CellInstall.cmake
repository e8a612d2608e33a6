# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# What `cmake --install` (make install) adds beyond each target's own
# install(): man pages built from Documentation/man/*.rst and the public
# headers (rst2man, python3-docutils), and the CMake package for cellc
# (find_package(Cell) then cell_schema()).  Documentation/install.rst.
include(GNUInstallDirs)

find_program(CELL_RST2MAN NAMES rst2man rst2man.py)
find_package(Python3 COMPONENTS Interpreter)
if(NOT CELL_RST2MAN OR NOT Python3_Interpreter_FOUND)
	message(WARNING "rst2man or python3 not found: no man pages (tools/deps.sh release)")
else()
	set(man_out ${CMAKE_BINARY_DIR}/man)
	set(man_pages "")
	file(GLOB man_src ${CELL_TOP}/Documentation/man/*.rst)
	foreach(src ${man_src})
		get_filename_component(page ${src} NAME_WLE)   # cell.1
		list(APPEND man_pages ${man_out}/${page})
		add_custom_command(OUTPUT ${man_out}/${page}
			COMMAND ${CMAKE_COMMAND} -E make_directory ${man_out}
			COMMAND ${CELL_RST2MAN} --halt=warning ${src} ${man_out}/${page}
			DEPENDS ${src} VERBATIM)
	endforeach()
	foreach(h ${CELL_PUBLIC_HEADERS})
		get_filename_component(base ${h} NAME)
		set(page cell_${base}.3)
		list(APPEND man_pages ${man_out}/${page})
		add_custom_command(OUTPUT ${man_out}/${page}
			COMMAND ${CMAKE_COMMAND} -E make_directory ${man_out}/rst
			COMMAND ${Python3_EXECUTABLE} ${CELL_TOP}/tools/release/header-man.py
				${h} ${man_out}/rst/${page}.rst
			COMMAND ${CELL_RST2MAN} --halt=warning ${man_out}/rst/${page}.rst
				${man_out}/${page}
			DEPENDS ${h} ${CELL_TOP}/tools/release/header-man.py VERBATIM)
	endforeach()
	add_custom_target(cell_man ALL DEPENDS ${man_pages})
	foreach(p ${man_pages})
		string(REGEX MATCH "[0-9]$" sec ${p})
		install(FILES ${p} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec})
	endforeach()
endif()

# The CMake package: Cell::cell, the cellc program and cell_schema().
set(cell_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/Cell)
file(RELATIVE_PATH CELL_REL_PREFIX ${CMAKE_INSTALL_PREFIX}/${cell_cmake_dir}
     ${CMAKE_INSTALL_PREFIX})
configure_file(${CELL_TOP}/cmake/CellConfig.cmake.in
	       ${CMAKE_BINARY_DIR}/CellConfig.cmake @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/CellConfigVersion.cmake
	COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/CellConfig.cmake
	      ${CMAKE_BINARY_DIR}/CellConfigVersion.cmake
	      ${CELL_TOP}/cmake/Cellc.cmake
	DESTINATION ${cell_cmake_dir})
