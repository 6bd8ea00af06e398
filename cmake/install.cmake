# cmake/install.cmake — what `cmake --install` puts in place, and how programs find it:
#   bin/xfwd                          the command-line tool
#   lib/libxfwd.so.0.1.0 (+ links)    the shared library (cmake/shared_library.cmake)
#   lib/libxfwd.a                     the static library
#   include/xfwd.h                    the one public header
#   lib/pkgconfig/xfwd.pc             `pkg-config --cflags --libs xfwd` (--static: libxfwd.a's needs)
#   lib/cmake/xfwd/                   find_package(xfwd): xfwd::xfwd (shared), xfwd::xfwd_static
# (lib is CMAKE_INSTALL_LIBDIR: lib/<multiarch> under /usr on Debian.)
#
# Both the .pc file and the CMake package locate the prefix relative to their own
# place, so `cmake --install build --prefix DIR` may pick any DIR at install time.

include(CMakePackageConfigHelpers)

# ---- what a program linking libxfwd.a needs besides it ------------------------
# XF_PC_REQUIRES_PRIVATE: pkg-config modules; XF_PC_LIBS_PRIVATE: -L/-l flags;
# XF_STATIC_LINK: the same as CMake link items (library files and flags).
# (utf8proc as a plain -l: its .pc file adds a -D to every user's --cflags)
set(XF_PC_REQUIRES_PRIVATE jansson libpcre2-8)
set(XF_PC_LIBS_PRIVATE "")
set(XF_STATIC_LINK "")
foreach(lib ${UTF8PROC_LIBRARIES})
  list(APPEND XF_PC_LIBS_PRIVATE "-l${lib}")
endforeach()
foreach(mod JANSSON PCRE2 UTF8PROC)
  foreach(dir ${${mod}_LIBRARY_DIRS})
    if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      list(APPEND XF_STATIC_LINK "-L${dir}")
    endif()
  endforeach()
  foreach(lib ${${mod}_LIBRARIES})
    list(APPEND XF_STATIC_LINK "-l${lib}")
  endforeach()
endforeach()

# xf_pc_add_file(<library file>): a library given by its path, as -L<dir> -l<name>
# for pkg-config (no -L for the linker's own directories) and as the path for CMake.
function(xf_pc_add_file path)
  get_filename_component(dir ${path} DIRECTORY)
  get_filename_component(name ${path} NAME)
  string(REGEX REPLACE "^lib" "" name "${name}")
  string(REGEX REPLACE "\\.(so|a)(\\.[0-9.]+)?$" "" name "${name}")
  set(flags "")
  if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES AND NOT "-L${dir}" IN_LIST XF_PC_LIBS_PRIVATE)
    list(APPEND flags "-L${dir}")
  endif()
  list(APPEND flags "-l${name}")
  set(XF_PC_LIBS_PRIVATE ${XF_PC_LIBS_PRIVATE} ${flags} PARENT_SCOPE)
  set(XF_STATIC_LINK ${XF_STATIC_LINK} ${path} PARENT_SCOPE)
endfunction()

if(XFWD_CUDA)
  # the static CUDA runtime and its own needs, cuBLASLt, and libstdc++ for the
  # kernels' host stubs
  xf_pc_add_file(${CUDA_cudart_static_LIBRARY})
  xf_pc_add_file(${CUDA_cublasLt_LIBRARY})
  get_filename_component(_xf_cuda_libdir ${CUDA_cublasLt_LIBRARY} DIRECTORY)
  if(NOT _xf_cuda_libdir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    list(APPEND XF_PC_LIBS_PRIVATE "-Wl,-rpath,${_xf_cuda_libdir}")
    list(APPEND XF_STATIC_LINK "-Wl,-rpath,${_xf_cuda_libdir}")
  endif()
  list(APPEND XF_PC_LIBS_PRIVATE -ldl -lrt -lstdc++)
  list(APPEND XF_STATIC_LINK -ldl -lrt -lstdc++)
endif()
if(XFWD_VULKAN)
  pkg_check_modules(XF_VULKAN_PC QUIET vulkan)
  if(XF_VULKAN_PC_FOUND)
    list(APPEND XF_PC_REQUIRES_PRIVATE vulkan)
    list(APPEND XF_STATIC_LINK ${Vulkan_LIBRARY})
  else()
    xf_pc_add_file(${Vulkan_LIBRARY})
  endif()
endif()
foreach(lib ${BLAS_LIBRARIES})
  if(IS_ABSOLUTE ${lib})
    xf_pc_add_file(${lib})
  else()
    list(APPEND XF_PC_LIBS_PRIVATE ${lib})
    list(APPEND XF_STATIC_LINK ${lib})
  endif()
endforeach()
# oneDNN (the CPU backend's bf16 mode)
if(XFWD_DNNL)
  xf_pc_add_file(${DNNL_LIBRARY})
endif()
# OpenMP (GNU: libgomp), threads, libm
foreach(lib ${OpenMP_C_LIB_NAMES})
  if(OpenMP_${lib}_LIBRARY AND NOT lib STREQUAL "pthread")
    xf_pc_add_file(${OpenMP_${lib}_LIBRARY})
  endif()
endforeach()
list(APPEND XF_PC_LIBS_PRIVATE -lpthread -lm)
list(APPEND XF_STATIC_LINK -lpthread -lm)

list(JOIN XF_PC_REQUIRES_PRIVATE " " XF_PC_REQUIRES_PRIVATE_LINE)
list(JOIN XF_PC_LIBS_PRIVATE " " XF_PC_LIBS_PRIVATE_LINE)

# ---- pkg-config ----------------------------------------------------------------
set(XF_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
# the prefix seen from the .pc file's own folder (pkg-config sets ${pcfiledir})
file(RELATIVE_PATH XF_PC_TO_PREFIX /prefix/${XF_PKGCONFIG_DIR} /prefix)
string(REGEX REPLACE "/$" "" XF_PC_TO_PREFIX "${XF_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/xfwd.pc.in ${PROJECT_BINARY_DIR}/xfwd.pc @ONLY)

# ---- install rules -------------------------------------------------------------
# The CLI links libxfwd.a (it is self-contained); it finds non-system libraries it
# was linked against (cuBLASLt in /usr/local/cuda, say) where they were.
set_target_properties(xfwd_cli PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS xfwd_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS xfwd_shared EXPORT xfwdTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS xfwd ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/xfwd.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/xfwd.pc DESTINATION ${XF_PKGCONFIG_DIR})

# ---- CMake package ---------------------------------------------------------------
set(XF_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/xfwd)
install(EXPORT xfwdTargets NAMESPACE xfwd:: DESTINATION ${XF_CMAKE_DIR})
set(XF_STATIC_LIBRARY_NAME ${CMAKE_STATIC_LIBRARY_PREFIX}xfwd${CMAKE_STATIC_LIBRARY_SUFFIX})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xfwdConfig.cmake.in
  ${PROJECT_BINARY_DIR}/xfwdConfig.cmake
  INSTALL_DESTINATION ${XF_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a new minor version may change the ABI
write_basic_package_version_file(${PROJECT_BINARY_DIR}/xfwdConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/xfwdConfig.cmake ${PROJECT_BINARY_DIR}/xfwdConfigVersion.cmake
  DESTINATION ${XF_CMAKE_DIR})
