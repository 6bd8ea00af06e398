/* cli_help.c — `xfwd --help` and `xfwd CMD --help`: every command's flags, one
 * place (README's "Command line" section says the same). */
#include <string.h>

#include "cli.h"

static const char overview[] =
    "usage: xfwd <command> [options]      (xfwd <command> --help for its options)\n"
    "  info       --model DIR [--verbose]                      the model, as JSON (+ the forward recipe)\n"
    "  hidden     --model DIR --input IN.jsonl --output OUT    final hidden states [T, H]\n"
    "  logits     --model DIR --input IN.jsonl --output OUT    logits [T, V]\n"
    "  embed      --model DIR --input IN.jsonl --output OUT    embeddings [B, D] (the folder's pipeline)\n"
    "  classify   --model DIR --input IN.jsonl --output OUT    scores [B, L] (+ labels)\n"
    "  rerank     --model DIR --query Q --documents DOCS.jsonl --output OUT.jsonl|OUT.npy\n"
    "  rerank     --model DIR --input IN.jsonl --token-ids YES,NO --output OUT.npy   P(yes) [B]\n"
    "  bench      (--model DIR | --shape NAME) [--batch B --seq S | --mixed N | --lengths FILE]\n"
    "  tokenize   (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl [--no-special]\n"
    "  detokenize (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl\n"
    "  serve      --model DIR [--port N --adapter NAME=DIR ...]   HTTP server (xfwd serve --help)\n"
    "Options take --key value or --key=value. IN/OUT may be - (standard input / output).\n"
    "IN.jsonl: one sequence per line: [ids...], {\"tokens\": [...]}, {\"ids\": [...]} (tokenize's output),\n"
    "          {\"text\": \"...\"}, {\"text\": \"...\", \"text_pair\": \"...\"} or a JSON string; an \"id\" is echoed\n";

static const char engine_flags[] =
    "engine:\n"
    "  --backend auto|cpu|cpu_ref|cuda|vulkan   auto (default): CUDA, else a Vulkan GPU (not a CPU device\n"
    "                               such as lavapipe), else the fast CPU path\n"
    "  --dtype auto|f32|tf32|bf16|f16   auto (default): the checkpoint's dtype on a GPU; on the CPU f32\n"
    "                               (bf16 for a BF16 checkpoint where the CPU has bf16 instructions)\n"
    "  --max-tokens N               tokens per forward and per chunk of input (default 8192)\n"
    "  --threads N                  CPU threads (0: all cores)\n"
    "  --cache-dir DIR              Vulkan pipeline cache and CUDA matmul choices (default ~/.cache/xfwd)\n"
    "  --devices 0,1,...            hidden/logits/embed/classify: one engine (replica) per GPU listed;\n"
    "                               a chunk of input each, run side by side, written in input order\n";

static const char forward_flags[] =
    "input and output:\n"
    "  --model DIR                  Hugging Face checkpoint folder\n"
    "  --input IN.jsonl             one sequence per line (xfwd --help); - reads standard input\n"
    "  --output OUT                 .npy (float32 rows, input order) or .jsonl; - writes standard output\n"
    "                               (JSONL; a .npy needs a file: its header is fixed up at the end)\n"
    "  --output-format npy|jsonl    default: jsonl for *.jsonl, *.json, *.ndjson and -, else npy\n"
    "  --output-dtype f32|f16       npy '<f4' (default) or '<f2'; JSONL values rounded to f16\n"
    "  --chunk-sequences N          at most N sequences per chunk (default 1024)\n"
    "  --max-line-bytes N           longest input line (default: 64 bytes per position, 1-256 MiB)\n"
    "  --truncate left|right        cut a sequence (ids or text) longer than max_seq_length instead of\n"
    "                               an error; text keeps its special tokens\n"
    "  --on-error fail|skip         fail (default): a bad line stops the run, old output kept; skip: the\n"
    "                               line gets an {\"error\"} line (JSONL) or a NaN row (per-sequence npy;\n"
    "                               none in a per-token npy) and the run goes on\n"
    "  --error-report FILE          with skip: one {\"line\": n, \"error\": \"...\"} per skipped line\n"
    "                               (else each is printed on stderr)\n"
    "  --quiet                      no progress line (it is shown only when stderr is a terminal)\n"
    "  --verbose                    print the backend and dtype chosen (embed: and its pipeline)\n"
    "  --adapter DIR [--merge-adapter]  a PEFT LoRA folder, applied per forward or merged at load\n";

static const char embed_flags[] =
    "embed:\n"
    "  --pooling last|mean|first|max|mean_sqrt_len (cls, lasttoken)   override the folder's pooling\n"
    "  --normalize | --no-normalize override the folder's Normalize module\n"
    "  --prompt-name NAME | --prompt TEXT   the prompt put before each text (default: the folder's)\n"
    "  --dimensions N               keep the first N dimensions (Matryoshka) before normalising\n"
    "JSONL output: {\"id\": ..., \"embedding\": [...]}\n";

static const struct {
    const char *cmd, *usage, *extra;
    int forward;  /* takes the forward flags */
    int engine;   /* takes the engine flags */
} commands[] = {
    {"info", "usage: xfwd info --model DIR [--verbose [--backend B --dtype D --adapter DIR ...]]\n"
             "  prints the model's architecture, heads and embedding pipeline as JSON\n"
             "  --verbose                    also, on stderr: the engine the flags ask for and its forward recipe,\n"
             "                               one line per op with the backend's kernel, tile and layout\n"
             "  --adapter DIR [--merge-adapter]   a LoRA adapter (its terms show in the recipe)\n",
     "", 0, 1},
    {"hidden", "usage: xfwd hidden --model DIR --input IN.jsonl --output OUT [options]\n"
               "  final hidden states: float32 [T_total, H] (.npy), or {\"id\": ..., \"hidden\": [[...], ...]} per line\n",
     "", 1, 1},
    {"logits", "usage: xfwd logits --model DIR --input IN.jsonl --output OUT [options]\n"
               "  logits: float32 [T_total, V] (.npy), or {\"id\": ..., \"logits\": [[...], ...]} per line\n",
     "", 1, 1},
    {"embed", "usage: xfwd embed --model DIR --input IN.jsonl --output OUT [options]\n"
              "  embeddings through the folder's sentence-transformers pipeline: float32 [B, D]\n",
     embed_flags, 1, 1},
    {"classify", "usage: xfwd classify --model DIR --input IN.jsonl --output OUT [--jsonl LABELS.jsonl] [options]\n"
                 "  scores of the classification head: float32 [B, L] (.npy), or\n"
                 "  {\"id\": ..., \"label\": best, \"scores\": {name: score, ...}} per line (JSONL output or --jsonl)\n",
     "", 1, 1},
    {"rerank", "usage: xfwd rerank --model DIR --query Q --documents DOCS.jsonl --output OUT.jsonl|OUT.npy [options]\n"
               "       xfwd rerank --model DIR --input IN.jsonl --token-ids YES,NO --output OUT.npy\n"
               "  --instruction T --prefix T --suffix T --yes-token T --no-token T   the Qwen3-Reranker recipe's parts\n"
               "  --raw-scores                 logit(yes) - logit(no) (or the head's logit) instead of P(yes)\n"
               "  --truncate left|right        cut over-long pairs   --max-line-bytes N\n",
     "", 0, 1},
    {"bench", "usage: xfwd bench (--model DIR | --shape NAME) [--batch B --seq S | --mixed N | --lengths FILE]\n"
              "       [--max-batch-tokens N] [--iters N --warmup N]\n"
              "  times the forward: tokens/s, TFLOP/s, peak memory, one RESULT line\n"
              "  --backend auto|cpu|cpu_ref|cuda|vulkan  --dtype f32|tf32|bf16|f16 (default f32)\n"
              "  --max-tokens N  --threads N  --cache-dir DIR   as for the forward commands\n",
     "", 0, 0},
    {"tokenize", "usage: xfwd tokenize (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl\n"
                 "  {\"text\": ...} per line -> {\"ids\": [...]} per line (input of every forward command)\n"
                 "  --no-special                 no post-processor special tokens\n"
                 "  --max-line-bytes N           longest input line (default 64 MiB); IN/OUT may be -\n",
     "", 0, 0},
    {"detokenize", "usage: xfwd detokenize (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl\n"
                   "  {\"ids\": [...]} or [...] per line -> {\"text\": ...} per line\n"
                   "  --max-line-bytes N           longest input line (default 64 MiB); IN/OUT may be -\n",
     "", 0, 0},
};

int xf_cli_help(const char *cmd, FILE *f) {
    if (!cmd) return fputs(overview, f), 0;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].cmd)) continue;
        fputs(commands[i].usage, f);
        if (commands[i].forward) fputs(forward_flags, f);
        fputs(commands[i].extra, f);
        if (commands[i].engine) fputs(engine_flags, f);
        return 0;
    }
    return -1;
}
