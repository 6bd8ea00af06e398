# tests/cpu_bf16.cmake — the fast CPU backend in bf16 (oneDNN matmuls, fp32 elsewhere):
# test_cpu_bf16 (auto dtype, no copy of a bf16 checkpoint, masks, batches, threads), the Hub
# cases, the op tests (the bf16 linear against the fp32 reference on bf16-rounded inputs) and
# every golden case with the bf16 tolerances (relative Frobenius <= 3e-2, every row's
# cosine >= 0.999), the adapter merged too. Registered when the build has oneDNN; on
# a CPU oneDNN cannot serve in bf16 the engine refuses and the tests report skipped.
if(XFWD_DNNL)
  add_executable(test_cpu_bf16 test_cpu_bf16.c)
  target_link_libraries(test_cpu_bf16 PRIVATE xf_testutil)
  target_compile_options(test_cpu_bf16 PRIVATE ${XFWD_WARNINGS})
  xf_add_test(NAME cpu_bf16 COMMAND test_cpu_bf16 ${XF_GOLDEN_DIR})
  xf_add_test(NAME ops_cpu_bf16 COMMAND test_ops --backend cpu --dtype bf16)
  foreach(case ${XF_GOLDEN_CASES})
    xf_add_test(NAME golden_cpu_bf16_${case} COMMAND test_golden --backend cpu --dtype bf16 --case ${XF_GOLDEN_DIR}/${case})
  endforeach()
  xf_add_test(NAME golden_cpu_bf16_qwen3-tiny-lora-qv_merged
    COMMAND test_golden --backend cpu --dtype bf16 --merge --case ${XF_GOLDEN_DIR}/qwen3-tiny-lora-qv)
  # the Hub-style folders (tests/hub.cmake), bf16 tolerances: masks, heads, pooling, Dense
  if(TARGET test_hub)
    foreach(case ${XF_HUB_CASES})
      xf_add_test(NAME hub_cpu_bf16_${case} TIMEOUT 300
        COMMAND test_hub --backend cpu --dtype bf16 --case ${XF_HUB_DIR}/${case})
    endforeach()
  endif()
endif()
