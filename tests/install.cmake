# tests/install.cmake — the installed tree and the Python package:
#  install         cmake --install into a temporary prefix; a C program built against it
#                  with pkg-config (shared and --static) and find_package(xfwd) computes
#                  the qwen3-tiny golden hidden states (tests/install.sh)
#  python_*        tests/python with pytest, over this build's libxfwd.so
#                  (golden, hub_text: sentence-transformers references, api, threads,
#                  layout: the ctypes structs against the C header,
#                  install: pip install offline)
# Not in sanitizer builds: an instrumented library does not load into uninstrumented
# programs (cc-built apps, the Python interpreter).
if(XFWD_SANITIZE OR XFWD_TSAN OR XFWD_FUZZ)
  return()
endif()

xf_add_test(NAME install TIMEOUT 900
  COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/install.sh ${PROJECT_BINARY_DIR} ${XF_GOLDEN_DIR}/qwen3-tiny)

# The interpreter: XFWD_PYTHON, else the first of Debian's /usr/bin/python3 and the
# python3 on PATH that has numpy and pytest (a pyenv python3 may have neither).
set(XFWD_PYTHON "" CACHE FILEPATH "Python with numpy and pytest for tests/python (empty: look for one)")
set(_xf_py "${XFWD_PYTHON}")
if(NOT _xf_py)
  find_program(_xf_path_python3 python3)
  foreach(candidate /usr/bin/python3 ${_xf_path_python3})
    if(EXISTS ${candidate})
      execute_process(COMMAND ${candidate} -c "import numpy, pytest" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
      if(_rc EQUAL 0)
        set(_xf_py ${candidate})
        break()
      endif()
    endif()
  endforeach()
endif()

if(NOT _xf_py)
  set(_xf_py /usr/bin/python3)  # run.sh reports the tests skipped
endif()
# (paths end in "/", as scripts/gpu-run.sh rewrites them for a carried build)
foreach(part golden hub_text api threads layout install)
  xf_add_test(NAME python_${part} TIMEOUT 900
    COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/python/run.sh ${_xf_py} ${PROJECT_BINARY_DIR}/
            ${PROJECT_SOURCE_DIR}/python/ ${CMAKE_CURRENT_SOURCE_DIR}/python/test_${part}.py)
endforeach()
