# Sanitizer builds only: the leak check is checked. leak_canary leaks one block of
# its own after a forward (CPU, and Vulkan so the driver is loaded and unloaded as
# in every Vulkan test); the test passes only if LeakSanitizer reports exactly it.
if(NOT XFWD_SANITIZE)
  return()
endif()
add_executable(leak_canary leak_canary.c)
target_link_libraries(leak_canary PRIVATE xfwd)
target_compile_options(leak_canary PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME leak_canary_cpu COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/leak_canary.sh
  $<TARGET_FILE:leak_canary> ${XF_GOLDEN_DIR}/qwen3-tiny cpu)
if(XFWD_VULKAN)
  xf_add_test(NAME leak_canary_vulkan COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/leak_canary.sh
    $<TARGET_FILE:leak_canary> ${XF_GOLDEN_DIR}/qwen3-tiny vulkan)
endif()
