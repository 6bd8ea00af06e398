#!/usr/bin/env python3
"""make_hub_text_cases.py — text-level references for Hub folders, made with the
libraries users compare against (torch, transformers 5.x, sentence-transformers 5.x,
tokenizers; no network, CPU, well under 2 minutes):

    python3 tests/make_hub_text_cases.py [OUT_DIR]      (default: tests/data/hub-text)

It trains a tiny byte-level BPE tokenizer (tokenizers), then writes model folders
as their libraries save them, each with `runs.json`: the xfwd command lines to run
on the folder and the float64 outputs they must give.
  st-prompt        st-mean-dense's weights (Qwen3Model, mean, Dense tanh, Normalize)
                   with prompts: SentenceTransformer.encode(texts) and
                   encode(texts, prompt_name="query")
  st-noprompt      the same with include_prompt = false and default_prompt_name
                   "query": encode(texts) (the default prompt, left out of pooling),
                   encode(texts, prompt_name="passage")
  st-last-lower    st-last's weights (lasttoken, Normalize), do_lower_case,
                   max_seq_length 16: encode(texts) (sentence-transformers truncates;
                   xfwd is asked to with --truncate right)
  cross-encoder    Qwen3ForSequenceClassification (1 label, pad = eos) saved by
                   save_pretrained: sigmoid(logit) of (query, document) through the
                   tokenizer's pair template, and the raw logits of `classify`
  qwen3-reranker   Qwen3ForCausalLM: the Qwen3-Reranker recipe (prefix, formatted
                   pair, suffix; P(yes) from the last token's yes/no logits)
Each run is compared by tests/hub_text.sh (relative Frobenius error, f32 <= 1e-5)."""
import json
import os
import shutil
import sys

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
HUB = os.path.join(HERE, "data", "hub")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "data", "hub-text")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
VOCAB = 300  # the hub cases' vocabulary: every id of the tokenizer must be below it

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Yes, or No? MAYBE.",
    "a",
    "Embeddings of sentences: the same numbers, on every backend, as the reference library gives.",
    "café au lait, naïve résumé",
    "numbers 12345 and symbols #@!",
    "Line one\nline two\twith a tab",
]
QUERY = "what does the fox do?"
DOCS = ["The fox jumps over the dog.", "no", "yes it does", "Paris is the capital of France, and the fox is quick."]


def corpus():
    # "yes" and "no" at line starts far more often than anything else: their merges come
    # first, so both are single tokens as written ("yes", not "Ġyes")
    words = ["the", "fox", "dog", "query", "passage", "hello", "world", "document", "instruct"]
    lines = ["yes"] * 300 + ["no"] * 300
    for i in range(200):
        lines.append(f"{words[i % len(words)]} {words[(i * 7) % len(words)]} yes no.")
    return lines + TEXTS + DOCS


def train_tokenizer(path):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 4, special_tokens=SPECIALS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    eos = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A <|endoftext|>", pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
        special_tokens=[("<|endoftext|>", eos)])
    for t in ("yes", "no"):
        if tok.token_to_id(t) is None:   # not merged after all: an added (non-special) token then
            tok.add_tokens([t])
        assert tok.token_to_id(t) is not None, f"the trained tokenizer has no '{t}' token"
    assert tok.get_vocab_size() <= VOCAB, tok.get_vocab_size()
    tok.save(path)
    return tok


def save_tokenizer(folder, tok_path, max_len):
    shutil.copy(tok_path, os.path.join(folder, "tokenizer.json"))
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
           "model_max_length": max_len, "padding_side": "right", "truncation_side": "right",
           "add_bos_token": False, "clean_up_tokenization_spaces": False,
           "model_input_names": ["input_ids", "attention_mask"]}
    json.dump(cfg, open(os.path.join(folder, "tokenizer_config.json"), "w"), indent=1)


def edit_json(path, fn):
    d = json.load(open(path))
    fn(d)
    json.dump(d, open(path, "w"), indent=1)


def write_case(folder, runs, texts_lines):
    with open(os.path.join(folder, "texts.jsonl"), "w") as f:
        for line in texts_lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    json.dump({"runs": runs}, open(os.path.join(folder, "runs.json"), "w"), indent=1)
    print(f"{os.path.basename(folder)}: {len(runs)} runs")


def run(args, expected, input_file="texts.jsonl", tol=1e-5):
    arr = np.asarray(expected, dtype=np.float64)
    return {"args": args, "input": input_file, "shape": list(arr.shape), "expected": arr.reshape(-1).tolist(),
            "tol": tol}


def st_case(name, src, tok_path, edits, encodes):
    """A sentence-transformers folder from hub case `src`; encodes: [(xfwd args, encode kwargs)]."""
    from sentence_transformers import SentenceTransformer
    folder = os.path.join(OUT, name)
    shutil.copytree(os.path.join(HUB, src), folder)
    for p in ("golden.safetensors", "case.json"):
        os.remove(os.path.join(folder, p))
    for rel, fn in edits:
        edit_json(os.path.join(folder, rel), fn)
    max_len = json.load(open(os.path.join(folder, "sentence_bert_config.json")))["max_seq_length"]
    save_tokenizer(folder, tok_path, max_len)
    model = SentenceTransformer(folder, device="cpu", model_kwargs={"attn_implementation": "eager"})
    model.to(torch.float64)
    runs = []
    for args, kw in encodes:
        emb = model.encode(TEXTS, convert_to_tensor=True, batch_size=len(TEXTS), **kw)
        runs.append(run(["embed"] + args, emb.double().cpu().numpy()))
    write_case(folder, runs, [{"text": t} for t in TEXTS])


def tiny_config(arch, **extra):
    from transformers import Qwen3Config
    cfg = Qwen3Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=136, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
                      rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False, **extra)
    cfg.architectures = [arch]
    return cfg


def scale_weights(model, seed):
    """O(1) random weights, so a wrong position or template shows as a large error."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(0.5 + torch.rand(p.shape, generator=g, dtype=torch.float64).to(p.dtype))
            else:
                p.copy_((torch.randn(p.shape, generator=g, dtype=torch.float64) / p.shape[-1] ** 0.5).to(p.dtype))


def cross_encoder_case(tok_path, tok):
    from transformers import AutoTokenizer, Qwen3ForSequenceClassification
    folder = os.path.join(OUT, "cross-encoder")
    os.makedirs(folder)
    eos = tok.token_to_id("<|endoftext|>")
    model = Qwen3ForSequenceClassification(tiny_config("Qwen3ForSequenceClassification", num_labels=1,
                                                       pad_token_id=eos)).eval()
    scale_weights(model, 21)
    model.save_pretrained(folder)
    save_tokenizer(folder, tok_path, 512)
    hf_tok = AutoTokenizer.from_pretrained(folder)
    model = model.to(torch.float64)
    logits = []
    with torch.no_grad():
        for d in DOCS:   # one pair at a time: no padding, the pad rule reads the token before the last eos
            enc = hf_tok(QUERY, d, return_tensors="pt")
            logits.append(model(**enc).logits[0, 0].item())
    logits = np.asarray(logits)
    with open(os.path.join(folder, "docs.jsonl"), "w") as f:
        for d in DOCS:
            f.write(json.dumps({"text": d}) + "\n")
    runs = [run(["rerank", "--query", QUERY, "--documents", "docs.jsonl"], 1 / (1 + np.exp(-logits)), input_file=None),
            run(["classify"], logits.reshape(-1, 1), input_file="pairs.jsonl")]
    with open(os.path.join(folder, "pairs.jsonl"), "w") as f:
        for d in DOCS:
            f.write(json.dumps({"text": QUERY, "text_pair": d}) + "\n")
    write_case(folder, runs, [{"text": t} for t in TEXTS])


def reranker_case(tok_path):
    from transformers import AutoTokenizer, Qwen3ForCausalLM
    folder = os.path.join(OUT, "qwen3-reranker")
    os.makedirs(folder)
    model = Qwen3ForCausalLM(tiny_config("Qwen3ForCausalLM")).eval()
    scale_weights(model, 22)
    model.save_pretrained(folder)
    save_tokenizer(folder, tok_path, 512)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = model.to(torch.float64)
    # the Qwen3-Reranker model card's recipe
    prefix = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
              "Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n")
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    instruction = "Given a web search query, retrieve relevant passages that answer the query"
    pre = tokenizer.encode(prefix, add_special_tokens=False)
    suf = tokenizer.encode(suffix, add_special_tokens=False)
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    scores = []
    with torch.no_grad():
        for d in DOCS:
            body = tokenizer(f"<Instruct>: {instruction}\n<Query>: {QUERY}\n<Document>: {d}")["input_ids"]
            ids = torch.tensor([pre + body + suf])
            last = model(input_ids=ids).logits[0, -1]
            pair = torch.stack([last[no], last[yes]])
            scores.append(torch.softmax(pair, dim=0)[1].item())
    with open(os.path.join(folder, "docs.jsonl"), "w") as f:
        for d in DOCS:
            f.write(json.dumps(d) + "\n")
    runs = [run(["rerank", "--query", QUERY, "--documents", "docs.jsonl"], scores, input_file=None)]
    write_case(folder, runs, [{"text": t} for t in TEXTS])


def main():
    torch.manual_seed(0)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    tok_path = os.path.join(OUT, "tokenizer.json")
    tok = train_tokenizer(tok_path)
    prompts = lambda d: d.update(prompts={"query": "query: ", "passage": "passage: "})
    st_case("st-prompt", "st-mean-dense", tok_path, [("config_sentence_transformers.json", prompts)],
            [([], {}), (["--prompt-name", "query"], {"prompt_name": "query"})])
    st_case("st-noprompt", "st-mean-dense", tok_path,
            [("config_sentence_transformers.json",
              lambda d: (prompts(d), d.update(default_prompt_name="query"))),
             ("1_Pooling/config.json", lambda d: d.update(include_prompt=False))],
            [([], {}), (["--prompt-name", "passage"], {"prompt_name": "passage"})])
    st_case("st-last-lower", "st-last", tok_path,
            [("sentence_bert_config.json", lambda d: d.update(do_lower_case=True, max_seq_length=16))],
            [(["--truncate", "right"], {})])
    cross_encoder_case(tok_path, tok)
    reranker_case(tok_path)
    os.remove(tok_path)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Generated by tests/make_hub_text_cases.py (sentence-transformers / transformers references in "
                "float64); run by tests/hub_text.sh. Each folder: a model folder, texts.jsonl and runs.json.\n")


if __name__ == "__main__":
    main()
