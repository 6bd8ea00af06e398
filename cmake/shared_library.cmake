# cmake/shared_library.cmake — libxfwd.so, built from the whole of libxfwd.a (the
# static library every backend adds its sources to), so nothing is compiled twice.
#
# The shared library carries its dependencies (BLAS, OpenMP, jansson, PCRE2,
# utf8proc, the static CUDA runtime, cuBLASLt, the Vulkan loader, libstdc++) as
# DT_NEEDED entries or linked in, so `cc app.c -lxfwd` is a complete link line.
# It exports only the functions declared in include/xfwd.h: the version script is
# generated from the header at configure time (re-run when the header changes),
# so every other symbol — the library's internals and the static CUDA runtime —
# stays local. (Not --exclude-libs: the whole library comes from an archive.)
#
# Needs: the static target `xfwd` defined with POSITION_INDEPENDENT_CODE.

set(XF_PUBLIC_HEADER ${PROJECT_SOURCE_DIR}/include/xfwd.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${XF_PUBLIC_HEADER})

# xf_public_functions(<out var>): the names of the functions include/xfwd.h declares
# (every `xf_<name>(` in it; types are never followed by a parenthesis).
function(xf_public_functions out)
  file(READ ${XF_PUBLIC_HEADER} header)
  string(REGEX MATCHALL "xf_[a-z0-9_]+\\(" calls "${header}")
  set(names "")
  foreach(c ${calls})
    string(REPLACE "(" "" c "${c}")
    list(APPEND names ${c})
  endforeach()
  list(REMOVE_DUPLICATES names)
  list(SORT names)
  set(${out} ${names} PARENT_SCOPE)
endfunction()

xf_public_functions(XF_PUBLIC_FUNCTIONS)
set(XF_VERSION_SCRIPT ${PROJECT_BINARY_DIR}/xfwd.map)
list(JOIN XF_PUBLIC_FUNCTIONS ";\n    " _xf_globals)
file(CONFIGURE OUTPUT ${XF_VERSION_SCRIPT} CONTENT
"/* generated from include/xfwd.h by cmake/shared_library.cmake: the exported API */
{
  global:
    ${_xf_globals};
  local:
    *;
};
")
# the exported names, one a line, for the symbol test (tests/install.cmake)
list(JOIN XF_PUBLIC_FUNCTIONS "\n" _xf_lines)
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/xfwd.symbols CONTENT "${_xf_lines}\n")

# The shared library has no sources of its own; one empty file gives CMake a
# C translation unit to link with.
set(_xf_stub ${PROJECT_BINARY_DIR}/xfwd_shared_stub.c)
file(CONFIGURE OUTPUT ${_xf_stub} CONTENT "/* libxfwd.so is libxfwd.a whole: see cmake/shared_library.cmake */\ntypedef int xf_shared_stub;\n")

# SONAME libxfwd.so.<major>; while the major version is 0, a minor version may
# change the ABI, so it is libxfwd.so.0.<minor> then.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(XF_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(XF_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
add_library(xfwd_shared SHARED ${_xf_stub})
set_target_properties(xfwd_shared PROPERTIES
  OUTPUT_NAME xfwd
  EXPORT_NAME xfwd
  VERSION ${PROJECT_VERSION}
  SOVERSION ${XF_SOVERSION}
  LINKER_LANGUAGE C
  LINK_DEPENDS ${XF_VERSION_SCRIPT}
  # the installed library finds non-system dependencies (a CUDA toolkit under
  # /usr/local/cuda, say) where it was linked against them
  INSTALL_RPATH_USE_LINK_PATH ON
  INSTALL_RPATH "")
# (installed: the include directory comes from install(TARGETS ... INCLUDES DESTINATION))
target_include_directories(xfwd_shared PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
# Every object of libxfwd.a goes in (nothing references most of them from the stub),
# together with libxfwd.a's own link dependencies.
target_link_libraries(xfwd_shared PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,xfwd>")
# (local: * in the script also keeps the static CUDA runtime's symbols in)
target_link_options(xfwd_shared PRIVATE "LINKER:--version-script=${XF_VERSION_SCRIPT}")
if(NOT XFWD_SANITIZE AND NOT XFWD_TSAN AND NOT XFWD_FUZZ)
  # an unresolved symbol is a link error here, not a surprise for the user
  # (instrumented builds leave the runtimes' symbols to the executable)
  target_link_options(xfwd_shared PRIVATE "LINKER:--no-undefined")
endif()
