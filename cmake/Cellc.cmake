# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# cell_schema(<target> <file.cell>...)
#
# Compiles each schema with cellc at build time into
# <current binary dir>/<target>.cellc/<schema>.cell.h and adds that
# directory (and libcell's headers) to <target>'s include path, so its
# sources can #include "<schema>.cell.h".  <schema> is the name on the
# file's "schema <name>;" line; editing a schema re-runs cmake so that a
# renamed schema is picked up.  Defined by userspace/cellc/CMakeLists.txt
# (processed before every directory that calls it).
function(cell_schema target)
	if(NOT TARGET ${target})
		message(FATAL_ERROR "cell_schema: no target '${target}'")
	endif()
	set(outdir ${CMAKE_CURRENT_BINARY_DIR}/${target}.cellc)
	foreach(src ${ARGN})
		get_filename_component(abs ${src} ABSOLUTE)
		if(NOT EXISTS ${abs})
			message(FATAL_ERROR "cell_schema: ${abs} does not exist")
		endif()
		file(STRINGS ${abs} line REGEX "^[ \t]*schema[ \t]+[a-z][a-z0-9_]*"
		     LIMIT_COUNT 1)
		string(REGEX REPLACE "^[ \t]*schema[ \t]+([a-z][a-z0-9_]*).*" "\\1" name "${line}")
		if(NOT name)
			message(FATAL_ERROR "cell_schema: no 'schema <name>;' line in ${abs}")
		endif()
		set(header ${outdir}/${name}.cell.h)
		add_custom_command(OUTPUT ${header}
			COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
			COMMAND cellc -o ${header} ${abs}
			DEPENDS cellc ${abs}
			COMMENT "cellc ${src}"
			VERBATIM)
		target_sources(${target} PRIVATE ${header})
		set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${abs})
	endforeach()
	target_include_directories(${target} PRIVATE ${outdir}
		$<TARGET_PROPERTY:cell,INTERFACE_INCLUDE_DIRECTORIES>)
endfunction()
