# Tokenizer tests: exact agreement with Hugging Face `tokenizers` on the three real
# tokenizer.json files (fetched by scripts/fetch-tokenizers.sh; skipped without them),
# bad input, and the tokenize/detokenize subcommands. The speed benchmark is a build
# target only: tokenizer_bench TOKENIZERS_DIR DATA_DIR [MB] (see bench/tokenizer.md).
set(XF_TOKENIZER_DATA ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizer)
set(XF_TOKENIZERS_DIR ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizers)

add_executable(test_tokenizer test_tokenizer.c)
target_link_libraries(test_tokenizer PRIVATE xfwd)
target_compile_options(test_tokenizer PRIVATE ${XFWD_WARNINGS})
target_compile_definitions(test_tokenizer PRIVATE _POSIX_C_SOURCE=200809L)
xf_add_test(NAME tokenizer_golden COMMAND test_tokenizer ${XF_TOKENIZER_DATA} ${XF_TOKENIZERS_DIR})

add_executable(test_tokenizer_bad test_tokenizer_bad.c)
target_link_libraries(test_tokenizer_bad PRIVATE xfwd)
target_compile_options(test_tokenizer_bad PRIVATE ${XFWD_WARNINGS})
xf_add_test(NAME tokenizer_bad_input COMMAND test_tokenizer_bad ${XF_TOKENIZERS_DIR})

find_program(XF_BASH bash REQUIRED)
xf_add_test(NAME tokenizer_cli COMMAND ${XF_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_cli.sh
  $<TARGET_FILE:xfwd_cli> ${XF_TOKENIZERS_DIR} ${XF_TOKENIZER_DATA})

add_executable(tokenizer_bench ${PROJECT_SOURCE_DIR}/bench/tokenizer_bench.c)
target_link_libraries(tokenizer_bench PRIVATE xfwd)
target_compile_options(tokenizer_bench PRIVATE ${XFWD_WARNINGS})
