# tests/cli_stream.cmake — the forward commands on real jobs (tests/cli_stream.sh):
# streaming in chunks, JSONL / f16 / stdin / stdout outputs, --on-error skip, an
# interrupted stream, the progress line, and peak RSS flat as the input grows.
find_program(XF_BASH bash REQUIRED)
xf_add_test(NAME cli_stream COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/cli_stream.sh $<TARGET_FILE:xfwd_cli>
  ${XF_GOLDEN_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/data/hub ${CMAKE_CURRENT_SOURCE_DIR}/data/hub-tok/tokenizer.json)
