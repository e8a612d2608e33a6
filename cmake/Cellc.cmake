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

# cell_schema_from_running(<cell> <output_dir> [TARGET <target>] [PIN <0xfp>]
#                          [LANG c|python|go])
#
# Pulls the schema of the running cell <cell> (NAME or NAME@node) at build
# time with `cellc --from-running` and writes <output_dir>/<cell>.cell.h
# (LANG c, the default), <cell>_cell.py (python) or <cell>_cell.go (go).  A
# target cell_pull_<cell> (part of ALL) asks the cell on every build and
# replaces the file only when its content changes, so a cell that changed
# its schema, or a PIN that no longer matches, fails the build with
# cellc's message; an absent cell fails it too.  With TARGET, <target>
# depends on the pull and gets <output_dir> on its include path.  The
# cell's runtime directory is the build's CELL_RUNTIME_DIR environment
# (or the default).  Documentation/cellc.rst.
function(cell_schema_from_running cell outdir)
	cmake_parse_arguments(P "" "TARGET;PIN;LANG" "" ${ARGN})
	if(P_UNPARSED_ARGUMENTS)
		message(FATAL_ERROR "cell_schema_from_running: unknown ${P_UNPARSED_ARGUMENTS}")
	endif()
	if(NOT P_LANG)
		set(P_LANG c)
	endif()
	string(REGEX REPLACE "@.*" "" base "${cell}")
	if(P_LANG STREQUAL "c")
		set(file ${outdir}/${base}.cell.h)
	elseif(P_LANG STREQUAL "python")
		set(file ${outdir}/${base}_cell.py)
	elseif(P_LANG STREQUAL "go")
		set(file ${outdir}/${base}_cell.go)
	else()
		message(FATAL_ERROR "cell_schema_from_running: LANG ${P_LANG}: c, python or go")
	endif()
	set(pin "")
	if(P_PIN)
		set(pin --pin ${P_PIN})
	endif()
	add_custom_target(cell_pull_${base} ALL
		COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
		COMMAND cellc --lang=${P_LANG} -o ${file}.pulled --from-running ${cell} ${pin}
		COMMAND ${CMAKE_COMMAND} -E copy_if_different ${file}.pulled ${file}
		COMMAND ${CMAKE_COMMAND} -E remove ${file}.pulled
		BYPRODUCTS ${file}
		COMMENT "cellc --from-running ${cell}"
		VERBATIM)
	if(P_TARGET)
		add_dependencies(${P_TARGET} cell_pull_${base})
		target_include_directories(${P_TARGET} PRIVATE ${outdir})
		if(TARGET cell)
			target_include_directories(${P_TARGET} PRIVATE
				$<TARGET_PROPERTY:cell,INTERFACE_INCLUDE_DIRECTORIES>)
		endif()
	endif()
endfunction()
