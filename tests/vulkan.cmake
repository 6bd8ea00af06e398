# Vulkan backend tests: op by op against the CPU reference in every mode, every
# golden case end to end in every mode, the merged LoRA, and the paths that only
# large models take on real devices (chunked submissions, split weights, 2-D
# dispatch), forced on the tiny cases by lowering the device limits. Without a
# Vulkan device each test exits 77 (skipped). CI runs them on Mesa's lavapipe.
# f32 must match within 1e-5; f16/bf16 run the plain shader path on lavapipe
# (no cooperative matrices) and the matrix-unit path where the device has it.
if(NOT XFWD_VULKAN)
  return()
endif()

foreach(mode f32 f16 bf16)
  xf_add_test(NAME ops_vulkan_${mode} COMMAND test_ops --backend vulkan --dtype ${mode} TIMEOUT 300)
  foreach(case ${XF_GOLDEN_CASES})
    xf_add_test(NAME golden_vulkan_${mode}_${case} TIMEOUT 300
      COMMAND test_golden --backend vulkan --dtype ${mode} --case ${XF_GOLDEN_DIR}/${case})
  endforeach()
endforeach()
xf_add_test(NAME golden_vulkan_f32_qwen3-tiny-lora-qv_merged TIMEOUT 300
  COMMAND test_golden --backend vulkan --dtype f32 --merge --case ${XF_GOLDEN_DIR}/qwen3-tiny-lora-qv)

# 100 KiB bindings: llama-tiny's 87 tokens go in two submissions and gate|up in
# two pieces. 4 KiB weight pieces and ≤ 5 workgroups per grid row: every matrix
# (embedding and tied lm_head included) in many pieces, every grid 2-D.
xf_add_test(NAME golden_vulkan_f32_llama-tiny_small_range TIMEOUT 300
  COMMAND test_golden --backend vulkan --dtype f32 --case ${XF_GOLDEN_DIR}/llama-tiny)
set_property(TEST golden_vulkan_f32_llama-tiny_small_range PROPERTY ENVIRONMENT XFWD_VK_MAX_BUFFER_RANGE=102400)
xf_add_test(NAME golden_vulkan_f32_qwen3-tiny_split TIMEOUT 300
  COMMAND test_golden --backend vulkan --dtype f32 --case ${XF_GOLDEN_DIR}/qwen3-tiny)
set_property(TEST golden_vulkan_f32_qwen3-tiny_split PROPERTY ENVIRONMENT
  XFWD_VK_WEIGHT_PIECE=4096 XFWD_VK_MAX_GROUPS=5)

# Per-sequence adapters, chunked submissions, the pipeline cache file; and the
# error a machine without a Vulkan driver gives (the loader pointed at nothing).
add_executable(test_vulkan test_vulkan.c)
target_link_libraries(test_vulkan PRIVATE xf_testutil)
target_compile_options(test_vulkan PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME vulkan_engine TIMEOUT 300 COMMAND test_vulkan ${XF_GOLDEN_DIR})
xf_add_test(NAME vulkan_no_device TIMEOUT 60 COMMAND test_vulkan ${XF_GOLDEN_DIR} --expect-no-device)
set_property(TEST vulkan_no_device PROPERTY ENVIRONMENT
  VK_DRIVER_FILES=${CMAKE_CURRENT_BINARY_DIR}/no-such-icd.json VK_ICD_FILENAMES=${CMAKE_CURRENT_BINARY_DIR}/no-such-icd.json)
