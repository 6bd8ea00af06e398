#!/usr/bin/env bash
# before-after.sh OLD_BUILD NEW_BUILD — the "no loss" check of a change (issue 14's rule: a
# slowdown over 2 % is a regression): the same CUDA and Vulkan benchmarks of two builds on one
# card in one visit, alternating old, new, old, new per workload so that clock drift hits both,
# then a table of the medians and the change. Builds nothing; run on the GPU machine from the
# repository root with both build folders carried (scripts/gpu-stage.sh) and, for Vulkan, the
# loader unpacked (.gl). Environment: OUT (logs; /tmp/xfwd-before-after); BA_LIST ("backend
# shape dtype batch seq ..."; default below); BA_ROUNDS (2).
set -uo pipefail
old=${1:?usage: before-after.sh OLD_BUILD NEW_BUILD}
new=${2:?usage: before-after.sh OLD_BUILD NEW_BUILD}
out=${OUT:-/tmp/xfwd-before-after}
mkdir -p "$out"
lt=$(find / -name 'libcublasLt.so.1*' -not -path '/proc/*' 2>/dev/null | head -n 1)
[ -n "$lt" ] && export LD_LIBRARY_PATH=$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
icd=$(find /usr /etc /opt -maxdepth 6 -name 'nvidia_icd*.json' 2>/dev/null | head -n 1)
[ -n "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
export XDG_CACHE_HOME=$out/cache
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
list=${BA_LIST:-"cuda qwen3-4b bf16 16 512,cuda qwen3-0.6b bf16 64 128,cuda qwen3-4b bf16 4 2048,cuda qwen3-8b bf16 16 512,vulkan qwen3-4b f16 16 512,vulkan qwen3-0.6b f16 64 128"}
log=$out/runs.txt
: >"$log"
IFS=, read -ra rows <<<"$list"
for row in "${rows[@]}"; do
  read -r be shape dtype b s <<<"$row"
  for _ in $(seq "${BA_ROUNDS:-2}"); do
    for which in old new; do
      dir=$old; [ $which = new ] && dir=$new
      bin=$dir/xfwd_${be}_bench
      iters="--iters 10 --warmup 2"; [ "$be" = vulkan ] && iters="--iters 5 --warmup 1"
      r=$(timeout 120 "$bin" --shape "$shape" --dtype "$dtype" --batch "$b" --seq "$s" $iters 2>&1 | grep -m1 '^RESULT')
      # the device-side figure: CUDA graph replay (tok_s), Vulkan timestamps (device_tok_s, else tok_s)
      v=$(sed -n 's/.* device_tok_s=\([0-9.]*\).*/\1/p' <<<"$r"); [ -n "$v" ] || v=$(sed -n 's/.* tok_s=\([0-9.]*\).*/\1/p' <<<"$r")
      echo "$be $shape $dtype ${b}x$s $which ${v:-FAILED}" | tee -a "$log"
    done
  done
done
echo
printf '%-7s %-11s %-5s %-9s %12s %12s %8s\n' backend shape dtype BxS old_tok/s new_tok/s change
awk '{ k = $1 " " $2 " " $3 " " $4; if ($6 == "FAILED") bad[k] = 1; else { n[k, $5]++; v[k, $5, n[k, $5]] = $6 }
       if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
     function med(k, w,   i, j, t, c, a) { c = n[k, w]; for (i = 1; i <= c; i++) a[i] = v[k, w, i]
       for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
       return c ? (c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2) : 0 }
     END { for (i = 1; i <= m; i++) { k = order[i]; split(k, f, " "); o = med(k, "old"); w = med(k, "new")
       printf "%-7s %-11s %-5s %-9s %12.0f %12.0f %7.1f%%%s\n", f[1], f[2], f[3], f[4], o, w, o ? 100 * (w / o - 1) : 0,
         (k in bad) ? "  (a run failed)" : "" } }' "$log"
