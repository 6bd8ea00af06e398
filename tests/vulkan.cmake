# Vulkan backend tests: op by op against the CPU reference in every mode, every
# golden case end to end in every mode, the merged LoRA, and the paths that only
# large models take on real devices (chunked submissions, split weights, 2-D
# dispatch), forced on the tiny cases by lowering the device limits. Without a
# Vulkan device each test exits 77 (skipped). CI runs them on Mesa's lavapipe.
# f32 must match within 1e-5; f16/bf16 run the plain shader path on Debian 12's
# lavapipe (no cooperative matrices) and the matrix-unit path where the device has
# it — in CI too, through Debian testing's lavapipe (the *_coopmat tests below).
if(NOT XFWD_VULKAN)
  return()
endif()

# --devices 0,0: two Vulkan engines (replicas) on one device give one engine's bytes
xf_add_test(NAME replicas_vulkan TIMEOUT 300
  COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/replicas.sh $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR} vulkan)
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

# The matrix-unit path on the CPU: Debian testing's lavapipe offers
# VK_KHR_cooperative_matrix (8×8×8 f16 fragments, subgroups of 8), so the KHR
# multiply (both prefetch depths), its fused SwiGLU, the unfused SwiGLU and the
# 16-bit activations run here against the CPU reference. scripts/fetch-vulkan-testing.sh
# provides the runtime; XFWD_VK_REQUIRE_COOPMAT=1 makes a run without matrix units
# fail instead of passing on the plain path. (Not under the sanitizers: the runtime
# brings its own C library.)
if(EXISTS ${PROJECT_SOURCE_DIR}/.cache/vulkan-testing/run AND NOT XFWD_SANITIZE)
  # skipped (77) where the build travels without the runtime (the GPU machine)
  set(XF_VK_TESTING ${CMAKE_CURRENT_SOURCE_DIR}/with-vulkan-testing.sh)
  set(_cm_tests ops_vulkan_f16_coopmat ops_vulkan_f16_coopmat_db golden_vulkan_f16_coopmat_unfused)
  xf_add_test(NAME ops_vulkan_f16_coopmat TIMEOUT 900
    COMMAND ${XF_VK_TESTING} $<TARGET_FILE:test_ops> --backend vulkan --dtype f16)
  # (db and grouped: the multiplies only; the full matrix runs in ops_vulkan_f16_coopmat)
  xf_add_test(NAME ops_vulkan_f16_coopmat_db TIMEOUT 900
    COMMAND ${XF_VK_TESTING} $<TARGET_FILE:test_ops> --backend vulkan --dtype f16 --op linear --op linear_swiglu)
  foreach(case ${XF_GOLDEN_CASES})
    xf_add_test(NAME golden_vulkan_f16_coopmat_${case} TIMEOUT 600
      COMMAND ${XF_VK_TESTING} $<TARGET_FILE:test_golden> --backend vulkan --dtype f16 --case ${XF_GOLDEN_DIR}/${case})
    list(APPEND _cm_tests golden_vulkan_f16_coopmat_${case})
  endforeach()
  xf_add_test(NAME golden_vulkan_f16_coopmat_unfused TIMEOUT 600
    COMMAND ${XF_VK_TESTING} $<TARGET_FILE:test_golden> --backend vulkan --dtype f16
            --case ${XF_GOLDEN_DIR}/qwen3-hd128-bf16)
  # workgroups walking groups of 3 tile rows, and a tile whose W slice has fewer
  # 16-byte units than the workgroup has invocations (subgroups of 8 here)
  xf_add_test(NAME ops_vulkan_f16_coopmat_grouped TIMEOUT 900
    COMMAND ${XF_VK_TESTING} $<TARGET_FILE:test_ops> --backend vulkan --dtype f16 --op linear --op linear_swiglu)
  xf_add_test(NAME golden_vulkan_f16_coopmat_grouped TIMEOUT 600
    COMMAND ${XF_VK_TESTING} $<TARGET_FILE:test_golden> --backend vulkan --dtype f16
            --case ${XF_GOLDEN_DIR}/qwen3-hd128-bf16)
  list(APPEND _cm_tests ops_vulkan_f16_coopmat_grouped golden_vulkan_f16_coopmat_grouped)
  foreach(t ${_cm_tests})
    set_property(TEST ${t} PROPERTY ENVIRONMENT XFWD_VK_REQUIRE_COOPMAT=1)
  endforeach()
  # db also on row-major weights (the default stores the layers' matrices blocked)
  set_property(TEST ops_vulkan_f16_coopmat_db APPEND PROPERTY ENVIRONMENT XFWD_VK_MM=db XFWD_VK_LAYOUT=rows)
  set_property(TEST golden_vulkan_f16_coopmat_unfused APPEND PROPERTY ENVIRONMENT XFWD_VK_GLU=0)
  foreach(t ops_vulkan_f16_coopmat_grouped golden_vulkan_f16_coopmat_grouped)
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT XFWD_VK_CM_TILE=64,16,16,8,16,3)
  endforeach()
endif()

# Per-sequence adapters, chunked submissions, the pipeline cache file; and the
# error a machine without a Vulkan driver gives (the loader pointed at nothing).
add_executable(test_vulkan test_vulkan.c)
target_link_libraries(test_vulkan PRIVATE xf_testutil)
target_compile_options(test_vulkan PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME vulkan_engine TIMEOUT 300 COMMAND test_vulkan ${XF_GOLDEN_DIR})
xf_add_test(NAME vulkan_no_device TIMEOUT 60 COMMAND test_vulkan ${XF_GOLDEN_DIR} --expect-no-device)
set_property(TEST vulkan_no_device PROPERTY ENVIRONMENT
  VK_DRIVER_FILES=${CMAKE_CURRENT_BINARY_DIR}/no-such-icd.json VK_ICD_FILENAMES=${CMAKE_CURRENT_BINARY_DIR}/no-such-icd.json)
