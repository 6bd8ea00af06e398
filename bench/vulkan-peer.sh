#!/usr/bin/env bash
# vulkan-peer.sh — xfwd's Vulkan backend beside llama.cpp's Vulkan backend on the same GPU,
# the same random-weight Qwen3 shapes and the same prompt-processing workloads, in one command
# (bench/vulkan-h100.md, "llama.cpp Vulkan peer"). Builds nothing; about 5 minutes on an H100.
#   bash bench/vulkan-peer.sh BUILD_DIR LLAMA_DIR
# BUILD_DIR holds xfwd_vulkan_bench; LLAMA_DIR is what bench/fetch-llama-vulkan.sh made, the
# folder or its .tar.xz / .tar.gz (unpacked under OUT). Run in the repository root with the
# Vulkan loader unpacked (.gl, as for bench/vulkan-h100.sh); python3 with numpy writes the GGUFs.
# Environment: OUT (logs; default /tmp/xfwd-vkpeer); VK_PEER_LIST "shape:BxS ..." (default the
# four rows below); VK_PEER_DTYPE (f16); VK_PEER_UBS, llama.cpp's ubatch sizes to try ("512 2048
# 8192"); VK_PEER_REPS, llama.cpp's measurements per run, the first discarded (4); GGUF_DIR
# (/tmp/xfwd-vkpeer-gguf; files kept between runs); VK_PEER_LIMIT, seconds the whole script may
# take (400: each step's timeout is cut to what is left, steps that would get < 30 s are skipped). Where a test driver such as lavapipe is the only device,
# set GGML_VK_VISIBLE_DEVICES=0 (ggml skips CPU devices otherwise) and a small VK_PEER_LIST.
#
# What is measured, per shape and workload B × S (B sequences of S random tokens, prompt
# processing, f16 weights, the whole model on the GPU):
#   xfwd:      xfwd_vulkan_bench --shape SHAPE --dtype f16 --batch B --seq S --iters 5 --warmup 2
#              (one forward of B·S tokens; final hidden states copied to the host). Reported:
#              device time (timestamp queries) and host wall; the ratio uses the host wall.
#   llama.cpp: llama-batched-bench -m SHAPE-f16.gguf -ngl 99 -fa on -fit off -no-kvu
#              -c B·S -b B·S -ub U -npp S,S,S,S -ntg 0 -npl B --output-format jsonl
#              for each U of VK_PEER_UBS; reported: the median of the 2nd..last S_PP (tokens/s),
#              best U.
# Why llama-batched-bench: llama-bench times one sequence (-p 512 is 1 × 512; -p 8192 would be
# one causal sequence of 8192 tokens, 16× the attention of 16 × 512). batched-bench decodes
# -npl B sequences of -npp S tokens each as one batch: B·S tokens in one llama_decode (-b B·S),
# cut into ubatches of U tokens on the GPU, and times it from the host (memory clear, decode,
# synchronize), as xfwd's host wall does. -no-kvu gives each sequence its own KV stream of
# c/B = S cells, so each token attends to its own sequence only, as in xfwd (a unified cache
# would attend over every sequence's cells under a mask: up to B× the attention work). -ntg 0:
# no generation. -npp S repeated: ggml's Vulkan backend compiles pipelines on first use, so the
# first measurement includes compilation and is dropped. -fit off: no silent change of -c or
# -ngl. llama.cpp computes logits for one token per batch, xfwd none: a negligible difference
# (≈ 0.1 % of the FLOPs). f16: the weight type llama.cpp's Vulkan matrix kernels have long
# supported on every path (cooperative matrix 1 and 2, and without); xfwd runs f16 and bf16
# equally fast (bench/vulkan-h100.md).
set -uo pipefail
build=${1:?usage: vulkan-peer.sh BUILD_DIR LLAMA_DIR}
llama=${2:?usage: vulkan-peer.sh BUILD_DIR LLAMA_DIR}
out=${OUT:-/tmp/xfwd-vkpeer}
gguf_dir=${GGUF_DIR:-/tmp/xfwd-vkpeer-gguf}
list=${VK_PEER_LIST:-"qwen3-4b:16x512 qwen3-4b:4x2048 qwen3-0.6b:16x512 qwen3-0.6b:4x2048"}
dtype=${VK_PEER_DTYPE:-f16}
ubs=${VK_PEER_UBS:-"512 2048 8192"}
reps=${VK_PEER_REPS:-4}
limit=${VK_PEER_LIMIT:-400}
mkdir -p "$out" "$gguf_dir"
results=$out/results.txt  # one line per measurement: impl shape workload key=value...
: >"$results"
rm -f "$out/skipped.txt" "$out/llama-setup.txt" "$out/llama-device.txt"
SECONDS=0
# in_time STEP: is there time for STEP? (prints "skipped" if not); then $tmo is its timeout in seconds
in_time() {
  tmo=$((limit - SECONDS))
  [ "$tmo" -gt 240 ] && tmo=240
  [ "$tmo" -ge 30 ] || { echo "skipped (the ${limit} s limit): $*" | tee -a "$out/skipped.txt"; false; }
}

# llama.cpp: a folder, or its tarball unpacked under OUT
if [ -f "$llama" ]; then
  rm -rf "$out/llama"
  mkdir -p "$out/llama"
  tar -xf "$llama" -C "$out/llama" || { echo "cannot unpack $llama"; exit 1; }
  llama=$(dirname "$(ls "$out"/llama/*/run | head -n 1)")
fi
[ -x "$llama/run" ] || { echo "no $llama/run: give the folder or tarball of bench/fetch-llama-vulkan.sh"; exit 1; }
[ -x "$build/xfwd_vulkan_bench" ] || { echo "no $build/xfwd_vulkan_bench"; exit 1; }

# the NVIDIA ICD manifest (as bench/vulkan-h100.sh finds it) for both programs' loaders
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
           /etc/vulkan/icd.d/nvidia_icd.json $(find /usr /etc /opt -maxdepth 6 -name 'nvidia_icd*.json' 2>/dev/null); do
    [ -f "$f" ] && { export VK_DRIVER_FILES=$f VK_ICD_FILENAMES=$f; break; }
  done
fi
echo "ICD manifest: ${VK_DRIVER_FILES:-none set}; llama.cpp: $(grep -E '^llama.cpp-tools ' "$llama/VERSIONS" 2>/dev/null)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
export XDG_CACHE_HOME=$out/cache  # xfwd's pipeline cache; the driver's own shader cache stays on

# llama.cpp's view of the device (matrix cores: NV_coopmat2 / KHR_coopmat / none)
timeout 60 "$llama/run" llama-bench --list-devices >"$out/llama-devices.log" 2>&1
{ grep -m 1 'ggml_vulkan: 0 = ' "$out/llama-devices.log" || grep -m 1 ' Vulkan0: ' "$out/llama-devices.log"; } |
  sed 's/^ggml_vulkan: 0 = //; s/^ *//; s/^/llama.cpp device: /' | tee "$out/llama-device.txt"
[ -s "$out/llama-device.txt" ] || { echo "llama.cpp lists no Vulkan device:"; grep -v 'failed to enumerate' \
  "$out/llama-devices.log" | tail -n 5; }

# ---------------------------------------------------------------- GGUF files (random weights)
for shape in $(for t in $list; do echo "${t%%:*}"; done | awk '!seen[$0]++'); do
  g=$gguf_dir/$shape-$dtype.gguf
  [ -s "$g" ] && continue
  in_time "gguf $shape" || continue
  t0=$SECONDS
  timeout "$tmo" "${PYTHON:-python3}" bench/cpu_llama_gguf.py "$g.tmp" --shape "$shape" --dtype "$dtype" >"$out/gguf-$shape.log" 2>&1 &&
    mv "$g.tmp" "$g" || { echo "gguf $shape: FAILED"; tail -n 5 "$out/gguf-$shape.log"; rm -f "$g.tmp"; }
  [ -s "$g" ] && echo "gguf $shape $dtype: $(du -h "$g" | cut -f1) in $((SECONDS - t0)) s"
done

# ---------------------------------------------------------------- measurements
median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
for t in $list; do
  shape=${t%%:*} w=${t#*:}
  b=${w%%x*} s=${w#*x} n=$((${w%%x*} * ${w#*x}))
  if in_time "xfwd $shape $w"; then
    log=$out/xfwd-$shape-$w.log
    timeout "$tmo" "$build/xfwd_vulkan_bench" --shape "$shape" --dtype "$dtype" --batch "$b" --seq "$s" \
      --iters 5 --warmup 2 >"$log" 2>&1
    rc=$?
    r=$(grep '^RESULT' "$log" | tail -n 1)
    if [ -n "$r" ]; then
      tok=$(sed -n 's/.* tok_s=\([0-9.]*\).*/\1/p' <<<"$r") e2e=$(sed -n 's/.* e2e_tok_s=\([0-9.]*\).*/\1/p' <<<"$r")
      echo "xfwd $shape $w dev=$tok e2e=$e2e" | tee -a "$results"
    else
      echo "xfwd $shape $w FAILED rc=$rc: $(tail -n 1 "$log")" | tee -a "$results"
    fi
  fi
  g=$gguf_dir/$shape-$dtype.gguf
  [ -s "$g" ] || { echo "llama $shape $w FAILED: no GGUF" | tee -a "$results"; continue; }
  npp=$(for i in $(seq "$reps"); do printf '%s,' "$s"; done)
  for ub in $ubs; do
    [ "$ub" -le "$n" ] || continue
    in_time "llama.cpp $shape $w ub $ub" || continue
    log=$out/llama-$shape-$w-ub$ub.log
    timeout "$tmo" "$llama/run" llama-batched-bench -m "$g" -ngl 99 -fa on -fit off -no-kvu -c "$n" -b "$n" -ub "$ub" \
      -npp "${npp%,}" -ntg 0 -npl "$b" --output-format jsonl -lv 4 >"$log" 2>&1
    rc=$?
    speeds=$(grep '^{"n_kv_max"' "$log" | sed -n 's/.*"speed_pp": *\([0-9.]*\).*/\1/p')
    if [ "$(grep -c . <<<"$speeds")" -ge 2 ]; then
      med=$(tail -n +2 <<<"$speeds" | median)
      echo "llama $shape $w ub=$ub tok=$med first=$(head -n 1 <<<"$speeds")" | tee -a "$results"
    else
      echo "llama $shape $w ub=$ub FAILED rc=$rc: $(grep -v 'failed to enumerate' "$log" | tail -n 1)" | tee -a "$results"
    fi
    # the set-up as llama.cpp reports it: device, KV streams, attention, graph splits (2: the
    # token-embedding lookup on the CPU, the rest on the GPU)
    grep -E "using device|n_ctx_seq  |flash_attn  |kv_unified  |offloaded|graph: nodes" "$log" |
      sed "s/^[0-9.]* I //; s/^/  $shape $w ub=$ub: /" >>"$out/llama-setup.txt"
  done
done

# ---------------------------------------------------------------- table
echo
grep -h -m 1 '^device ' "$out"/xfwd-*.log 2>/dev/null | head -n 1 | sed 's/^device */xfwd device: /' | cut -c1-200
cat "$out/llama-device.txt" 2>/dev/null
if [ -s "$out/llama-setup.txt" ]; then
  head -n 6 "$out/llama-setup.txt"  # the first run's set-up
  echo "llama.cpp graph splits, all runs: $(grep -o 'splits = [0-9]*' "$out/llama-setup.txt" |
    sort | uniq -c | awk '{printf "%s%s in %d run(s)", (NR > 1 ? ", " : ""), $4, $1}')"
fi
{
printf '%-11s %-8s %10s %10s %10s %-32s %6s\n' shape workload "xfwd dev" "xfwd e2e" "llama.cpp" "llama.cpp tok/s@ubatch" "ratio"
for t in $list; do
  shape=${t%%:*} w=${t#*:}
  x=$(grep "^xfwd $shape $w dev=" "$results" | tail -n 1)
  dev=$(sed -n 's/.* dev=\([0-9.]*\).*/\1/p' <<<"$x") e2e=$(sed -n 's/.* e2e=\([0-9.]*\).*/\1/p' <<<"$x")
  per="" best=""
  while read -r _ _ _ u tok _; do
    [ -n "${tok:-}" ] || continue
    u=${u#ub=} tok=${tok#tok=}
    per="$per${per:+/}$(printf '%.0f' "$tok")@$u"
    if [ -z "$best" ] || awk -v a="$tok" -v b="$best" 'BEGIN{exit !(a > b)}'; then best=$tok; fi
  done < <(grep "^llama $shape $w ub=[0-9]* tok=" "$results")
  ratio=-
  [ -n "$e2e" ] && [ -n "$best" ] && ratio=$(awk -v a="$e2e" -v b="$best" 'BEGIN{printf "%.2fx", a / b}')
  printf '%-11s %-8s %10s %10s %10s %-32s %6s\n' "$shape" "$w" "${dev:--}" "${e2e:--}" \
    "$([ -n "$best" ] && printf '%.0f' "$best" || echo -)" "${per:--}" "$ratio"
done
} | tee "$out/table.txt"
echo "(tokens/s, $dtype weights; ratio = xfwd e2e / best llama.cpp; logs in $out; $SECONDS s)"
grep -h FAILED "$results"
cat "$out/skipped.txt" 2>/dev/null
exit 0
