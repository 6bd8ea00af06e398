# tests/cuda.cmake — the CUDA backend's tests (registered when it is built): the op
# tests and every golden case in every mode, the adapter merged too, and the
# engine checks of test_cuda.c. Without a GPU each exits 77 (skipped).
if(XFWD_CUDA)
  set(XF_CUDA_MODES f32 tf32 bf16 f16)
  # --devices 0,0: two CUDA engines (replicas) on GPU 0 give one engine's bytes
  xf_add_test(NAME replicas_cuda TIMEOUT 300
    COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/replicas.sh $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR} cuda)
  foreach(mode ${XF_CUDA_MODES})
    xf_add_test(NAME ops_cuda_${mode} COMMAND test_ops --backend cuda --dtype ${mode})
    foreach(case ${XF_GOLDEN_CASES})
      xf_add_test(NAME golden_cuda_${mode}_${case}
        COMMAND test_golden --backend cuda --dtype ${mode} --case ${XF_GOLDEN_DIR}/${case})
    endforeach()
    xf_add_test(NAME golden_cuda_${mode}_qwen3-tiny-lora-qv_merged
      COMMAND test_golden --backend cuda --dtype ${mode} --merge --case ${XF_GOLDEN_DIR}/qwen3-tiny-lora-qv)
  endforeach()
  add_executable(test_cuda test_cuda.c)
  target_link_libraries(test_cuda PRIVATE xf_testutil)
  target_compile_options(test_cuda PRIVATE ${XFWD_WARNINGS})
  xf_add_test(NAME cuda_engine COMMAND test_cuda ${XF_GOLDEN_DIR})
endif()
