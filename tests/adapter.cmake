# tests/adapter.cmake — LoRA adapters: the shared PEFT-folder writer (tests can
# build adapters of their own with it) and the adapter loader test: the golden
# adapter, PEFT config features, merging, and the bad-adapter suite.

add_library(xf_adapter_writer STATIC adapter_writer.c)
target_include_directories(xf_adapter_writer PUBLIC . ../src ../include)
target_link_libraries(xf_adapter_writer PUBLIC xfwd)
target_compile_options(xf_adapter_writer PRIVATE ${XFWD_WARNINGS})

add_executable(test_adapter test_adapter.c)
target_link_libraries(test_adapter PRIVATE xf_adapter_writer m)
target_compile_options(test_adapter PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME adapter COMMAND test_adapter ${XF_GOLDEN_DIR}/qwen3-tiny-lora-qv)
