# tests/bench.cmake — the benchmark workloads (bench/bench_util.h): the mixed length
# distribution (and bench/traffic.py's copy of it for the peers), the lengths-file
# reader, packing under a token budget, the FLOP count; and `xfwd bench` running
# them on the CPU with the tiny shape.
add_executable(test_bench_lengths bench_lengths.c)
target_include_directories(test_bench_lengths PRIVATE ../include)
target_compile_options(test_bench_lengths PRIVATE ${XFWD_WARNINGS})
target_link_libraries(test_bench_lengths PRIVATE m)
set(_xf_bench_tmp ${CMAKE_CURRENT_BINARY_DIR}/bench_tmp)
file(MAKE_DIRECTORY ${_xf_bench_tmp})
xf_add_test(NAME bench_lengths COMMAND test_bench_lengths ${_xf_bench_tmp})
find_program(_xf_bench_python python3)
if(_xf_bench_python)
  # the peers' lengths (bench/traffic.py) are xfwd's, length for length
  xf_add_test(NAME bench_lengths_python COMMAND ${XF_BASH} -c
    "'${_xf_bench_python}' '${PROJECT_SOURCE_DIR}/bench/traffic.py' --mixed 5000 > '${_xf_bench_tmp}/py.txt' && '$<TARGET_FILE:test_bench_lengths>' '${_xf_bench_tmp}' '${_xf_bench_tmp}/py.txt'")
endif()
xf_add_test(NAME bench_cli COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/bench_cli.sh $<TARGET_FILE:xfwd_cli>
  ${_xf_bench_tmp})
