# xfwd serve: end-to-end tests over HTTP on a free loopback port (Python standard
# library clients; the OpenAI Node library for the real-client test, skipped when
# npm cannot install it). Each test starts and stops its own servers.
find_program(XF_PYTHON3 python3)
if(XF_PYTHON3)
  set(XF_SERVE_WORK ${CMAKE_CURRENT_BINARY_DIR}/serve-work)
  xf_add_test(NAME serve TIMEOUT 600
    COMMAND ${XF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/serve_test.py $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR}
            ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizers ${XF_SERVE_WORK}/endpoints)
  xf_add_test(NAME serve_hub TIMEOUT 600
    COMMAND ${XF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/serve_hub.py $<TARGET_FILE:xfwd_cli>
            ${CMAKE_CURRENT_SOURCE_DIR}/data/hub ${CMAKE_CURRENT_SOURCE_DIR}/data/hub-tok/tokenizer.json ${XF_SERVE_WORK}/hub)
  xf_add_test(NAME serve_concurrency TIMEOUT 600
    COMMAND ${XF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/serve_concurrency.py $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR}
            ${XF_SERVE_WORK}/concurrency)
  xf_add_test(NAME serve_openai_node TIMEOUT 600
    COMMAND ${XF_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/serve_openai.py $<TARGET_FILE:xfwd_cli> ${XF_GOLDEN_DIR}
            ${XF_SERVE_WORK}/openai)
endif()
