# Core tests: CPU reference and fast CPU path against every golden case, the
# fast-vs-reference op tests, the C API tests and the bad-input suite.
add_executable(test_golden test_golden.c)
target_link_libraries(test_golden PRIVATE xf_testutil)
add_executable(test_ops test_ops.c)
target_link_libraries(test_ops PRIVATE xf_testutil)
add_executable(test_api test_api.c)
target_link_libraries(test_api PRIVATE xf_testutil xf_adapter_writer)
add_executable(test_recipe test_recipe.c)
target_link_libraries(test_recipe PRIVATE xf_testutil)

foreach(case ${XF_GOLDEN_CASES})
  foreach(be cpu_ref cpu)
    xf_add_test(NAME golden_${be}_${case} COMMAND test_golden --backend ${be} --dtype f32 --case ${XF_GOLDEN_DIR}/${case})
  endforeach()
endforeach()
xf_add_test(NAME golden_cpu_qwen3-tiny-lora-qv_merged
  COMMAND test_golden --backend cpu --dtype f32 --merge --case ${XF_GOLDEN_DIR}/qwen3-tiny-lora-qv)
xf_add_test(NAME golden_cpu_ref_qwen3-tiny-lora-qv_merged
  COMMAND test_golden --backend cpu_ref --dtype f32 --merge --case ${XF_GOLDEN_DIR}/qwen3-tiny-lora-qv)
xf_add_test(NAME ops_cpu COMMAND test_ops --backend cpu --dtype f32)
xf_add_test(NAME api COMMAND test_api ${XF_GOLDEN_DIR})
xf_add_test(NAME recipe COMMAND test_recipe ${XF_GOLDEN_DIR})
find_program(XF_BASH bash REQUIRED)
xf_add_test(NAME bad_input COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/bad_input.sh $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR})
xf_add_test(NAME cli COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/cli.sh $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR})
# --devices: replicas of the engine give the bytes of one engine (several on one CPU here)
xf_add_test(NAME replicas COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/replicas.sh $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR} cpu)
xf_add_test(NAME text_input COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/text_input.sh $<TARGET_FILE:xfwd_cli>
  ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizers ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizer)
