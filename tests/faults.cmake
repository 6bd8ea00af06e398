# Faults: output files under interrupts and full disks, input lines that cannot be
# held, labels JSON must escape (faults.sh), the output-file module itself
# (test_outfile), and one engine, model and tokenizer shared by threads (test_threads).
add_executable(test_outfile test_outfile.c ${PROJECT_SOURCE_DIR}/tools/outfile.c ${PROJECT_SOURCE_DIR}/tools/npy.c)
target_include_directories(test_outfile PRIVATE ${PROJECT_SOURCE_DIR}/tools)
target_compile_options(test_outfile PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME faults_outfile COMMAND test_outfile)

find_program(XF_BASH bash REQUIRED)
xf_add_test(NAME faults_cli COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/faults.sh $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR})

add_executable(test_threads test_threads.c)
target_link_libraries(test_threads PRIVATE xfwd Threads::Threads)
target_compile_options(test_threads PRIVATE ${XFWD_WARNINGS})
# under ThreadSanitizer: one CPU worker thread per engine call (see test_threads.c)
set(XF_THREADS_ARGS "")
if(XFWD_TSAN)
  set(XF_THREADS_ARGS --cpu-threads 1 --runs 10)
endif()
xf_add_test(NAME threads COMMAND test_threads ${XF_GOLDEN_DIR}/qwen3-tiny
  ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizers/qwen3/tokenizer.json ${XF_THREADS_ARGS})
if(XFWD_TSAN)
  set_tests_properties(threads PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1")
endif()

add_executable(faults_tokenizer faults_tokenizer.c)
target_link_libraries(faults_tokenizer PRIVATE xfwd)
target_compile_options(faults_tokenizer PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME faults_tokenizer COMMAND faults_tokenizer)

add_executable(faults_mapping faults_mapping.c)
target_link_libraries(faults_mapping PRIVATE xfwd)
target_compile_options(faults_mapping PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME faults_mapping COMMAND faults_mapping ${XF_GOLDEN_DIR}/qwen3-tiny)
