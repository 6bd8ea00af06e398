# tests/hub.cmake — the Hub-style folders (data/hub): every case against its golden
# outputs on the CPU reference and the fast CPU path, on Vulkan (f32, f16, bf16; on
# lavapipe here) when built, and on CUDA (every dtype; skipped, exit 77, without a
# GPU). bidir-qwen2 and mistral-window need bidirectional and sliding-window
# attention. Then the sentence-transformers / reranker command lines and the
# refusals of metadata xfwd cannot honour.
set(XF_HUB_DIR ${CMAKE_CURRENT_SOURCE_DIR}/data/hub)
set(XF_HUB_CASES bidir-qwen2 cls-pad headless-untied mistral-window rerank-yesno st-last st-mean-dense)
add_executable(test_hub test_hub.c)
target_link_libraries(test_hub PRIVATE xf_testutil)
target_compile_options(test_hub PRIVATE ${XFWD_WARNINGS})

set(_hub_runs cpu_ref:f32 cpu:f32 cuda:f32 cuda:tf32 cuda:bf16 cuda:f16)
if(XFWD_VULKAN)
  list(APPEND _hub_runs vulkan:f32 vulkan:f16 vulkan:bf16)
endif()
foreach(run ${_hub_runs})
  string(REPLACE ":" ";" _bd ${run})
  list(GET _bd 0 be)
  list(GET _bd 1 mode)
  foreach(case ${XF_HUB_CASES})
    xf_add_test(NAME hub_${be}_${mode}_${case} TIMEOUT 300
      COMMAND test_hub --backend ${be} --dtype ${mode} --case ${XF_HUB_DIR}/${case})
  endforeach()
endforeach()


xf_add_test(NAME hub_cli COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/hub_cli.sh $<TARGET_FILE:xfwd_cli> ${XF_HUB_DIR})
xf_add_test(NAME hub_bad_input COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/hub_bad_input.sh $<TARGET_FILE:xfwd_cli>
  ${XF_HUB_DIR})

# Text in: the tiny tokenizer of data/hub-tok on the hub folders (prompts, pairs,
# truncation, lower-casing, prompt-excluding pooling, the reranker recipe).
add_executable(test_hub_text test_hub_text.c)
target_link_libraries(test_hub_text PRIVATE xf_testutil)
target_compile_options(test_hub_text PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME hub_text COMMAND test_hub_text ${XF_HUB_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/data/hub-tok/tokenizer.json)
# Text-level references from sentence-transformers / transformers
# (tests/make_hub_text_cases.py writes data/hub-text on a machine with torch);
# skipped (77) until those cases are there.
find_program(XF_PYTHON3 python3 REQUIRED)
set(_hub_text_runs cpu:f32)
if(XFWD_VULKAN)
  list(APPEND _hub_text_runs vulkan:f32 vulkan:f16)
endif()
if(XFWD_CUDA)
  list(APPEND _hub_text_runs cuda:f32 cuda:tf32 cuda:bf16 cuda:f16)
endif()
foreach(run ${_hub_text_runs})
  string(REPLACE ":" ";" _bd ${run})
  list(GET _bd 0 be)
  list(GET _bd 1 mode)
  xf_add_test(NAME hub_text_cases_${be}_${mode} TIMEOUT 300 COMMAND ${XF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/hub_text.py
    $<TARGET_FILE:xfwd_cli> ${CMAKE_CURRENT_SOURCE_DIR}/data/hub-text --backend ${be} --dtype ${mode})
endforeach()
