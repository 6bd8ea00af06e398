#!/usr/bin/env python3
"""make_tokenizer.py — writes tokenizer.json here: a tiny byte-level BPE tokenizer
for the hub tests (standard library only). Vocabulary: printable ASCII and newline
(ids 0..95), merges "y e", "ye s", "n o" (96..98), added tokens <|im_start|>,
<|im_end|>, <|endoftext|> (99..101): every id fits the hub cases' vocabularies
(>= 256). The post-processor appends <|endoftext|> to a text and to each text of a
pair (single: $A eos; pair: $A eos $B eos)."""
import json, os


def bytes_to_unicode():  # GPT-2's byte -> printable character map
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))


m = bytes_to_unicode()
vocab = {}
for b in list(range(32, 127)) + [10]:
    vocab[m[b]] = len(vocab)
merges = [("y", "e"), ("ye", "s"), ("n", "o")]
for a, b in merges:
    vocab[a + b] = len(vocab)
added = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
eos = len(vocab) + 2
tok = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": len(vocab) + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True} for i, c in enumerate(added)],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {
        "type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}],
        "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [eos], "tokens": ["<|endoftext|>"]}},
    },
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": [[a, b] for a, b in merges]},
}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "tokenizer.json"), "w") as f:
    json.dump(tok, f, ensure_ascii=False, indent=1)
