#!/usr/bin/env bash
# Verification of the CUDA backend on a machine with an NVIDIA GPU, from the repository root:
#   bash scripts/gpu-check.sh
# Needs CUDA (nvcc), cmake, ninja and g++; Python 3 with PyTorch for the pytopk comparison.
# Node.js, node_modules and dist/ come either from the machine (`npm ci && npm run build`
# first) or, on a machine without Node.js or network, from .gpu/, which scripts/gpu-prepare.sh
# fills on the build machine (copy the working tree with .gpu/ across).
#
# Steps (each one time-boxed; later steps are skipped when the time budget is nearly spent):
#   1. Node.js, node_modules and dist (from .gpu/ when it is there)
#   2. the addon rebuilt here with cmake-js (sm_90 + PTX); the packed .gpu/noised_topk.node if that fails
#   3. vitest: test/cuda.test.ts (the GPU suite) + test/golden.test.ts + test/bitident.test.ts
#   4. bench/cuda built with cmake; bench_cuda --check (every path vs the CPU, bit for bit)
#   5. bench_cuda --bench, PyTorch pytopk (bench/cuda/pytopk_torch.py), Node end to end
#   6. compute-sanitizer memcheck and racecheck (and synccheck) on bench_cuda --check --small
# Written to $GPU_CHECK_OUT (default build/gpu-check): gpu-check.log (everything), vitest.txt,
# check.txt, sanitizer.txt, bench_cuda.md, pytopk_torch.md, node_e2e.md, summary.md. Copy the
# tables into bench/results/cuda-<card>.md. GPU_CHECK_BUDGET_S (default 540) bounds the run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${GPU_CHECK_OUT:-build/gpu-check}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-check.log") 2>&1
BUDGET=${GPU_CHECK_BUDGET_S:-540}  # stop starting new steps after this many seconds
start=$SECONDS
declare -a results=()
note() { results+=("$1"); echo ">>> $1"; }
step() { echo; echo "=== $* (t=$((SECONDS - start)) s, $(date +%T))"; }
left() { echo $((BUDGET - (SECONDS - start))); }
enough() {  # enough <seconds>: is there time for a step of about that length?
  if [ "$(left)" -lt "$1" ]; then note "SKIPPED (time): $2"; return 1; fi
}

step "machine"
if ! nvidia-smi -L; then
  echo "no GPU here (nvidia-smi failed): this check needs a machine with an NVIDIA GPU"
  exit 3
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -2 || true
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-' | tr -cd 'A-Za-z0-9_.-')
echo "card: ${card:-unknown}"

step "1. node, node_modules, dist"
if [ -s .gpu/node.xz ]; then
  # The packed Node.js goes into .gpu/bin, first on PATH for this script only; node_modules and
  # dist/ are replaced by the packed ones, which match it.
  mkdir -p .gpu/bin
  xz -dc .gpu/node.xz > .gpu/bin/node && chmod +x .gpu/bin/node
  export PATH="$PWD/.gpu/bin:$PATH"
  rm -rf node_modules && tar -xJf .gpu/node_modules.tar.xz
  rm -rf dist && cp -r .gpu/dist dist
elif ! command -v node > /dev/null || [ ! -d node_modules ] || [ ! -d dist ]; then
  echo "no Node.js setup: run npm ci && npm run build here, or scripts/gpu-prepare.sh on the build machine"
  exit 2
fi
node --version

step "2. build the addon (cmake-js, CUDA)"
export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
build_start=$SECONDS
if timeout 300 node node_modules/cmake-js/bin/cmake-js compile --log-level warn \
    "--CDCMAKE_CUDA_ARCHITECTURES=90-real;90-virtual"; then
  note "addon: built here in $((SECONDS - build_start)) s"
else
  if [ -s .gpu/noised_topk.node ]; then
    mkdir -p build/Release && cp .gpu/noised_topk.node build/Release/noised_topk.node
    note "addon: build FAILED here, using the packed .gpu/noised_topk.node"
  else
    note "addon: build FAILED here"
  fi
fi
node -e "
const a = require('./build/Release/noised_topk.node');
console.log('addon.cuda =', a.cuda, ' cudaUsable() =', a.cudaUsable && a.cudaUsable(), a.cudaProbeError ? a.cudaProbeError() : '');
" || true
node --input-type=module -e "import('./dist/index.js').then((m) => console.log('backends():', m.backends().join(', ')))" || true

step "3. vitest GPU suite"
if enough 60 "vitest"; then
  timeout $(( $(left) < 240 ? $(left) : 240 )) node node_modules/vitest/vitest.mjs run \
    test/cuda.test.ts test/golden.test.ts test/bitident.test.ts > "$OUT/vitest.txt" 2>&1
  rc=$?
  tail -25 "$OUT/vitest.txt"
  note "vitest (cuda + golden + bitident): exit $rc"
fi

step "4. bench/cuda build + bit-identity check"
bc=/tmp/bench-cuda-build
if cmake -S bench/cuda -B "$bc" -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 > /dev/null && cmake --build "$bc"; then
  note "bench_cuda: built"
  if enough 30 "bench_cuda --check"; then
    timeout 180 "$bc/bench_cuda" --check > "$OUT/check.txt" 2>&1
    rc=$?
    grep -E "^FAIL" "$OUT/check.txt" | head -20
    tail -3 "$OUT/check.txt"
    note "bench_cuda --check: exit $rc ($(tail -1 "$OUT/check.txt"))"
  fi
else
  note "bench_cuda: build FAILED"
fi

step "5. benchmarks"
if [ -x "$bc/bench_cuda" ] && enough 60 "bench_cuda --bench"; then
  timeout 180 "$bc/bench_cuda" --bench --out "$OUT/bench_cuda.md"
  note "bench_cuda --bench: exit $?"
fi
if enough 45 "pytopk_torch.py"; then
  PYTHONUNBUFFERED=1 timeout 150 python3 bench/cuda/pytopk_torch.py --out "$OUT/pytopk_torch.md"
  note "pytopk_torch.py: exit $?"
fi
if enough 40 "node_e2e.mjs"; then
  timeout 120 node bench/cuda/node_e2e.mjs --out "$OUT/node_e2e.md"
  note "node_e2e.mjs: exit $?"
fi

step "6. compute-sanitizer"
: > "$OUT/sanitizer.txt"
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || echo compute-sanitizer)
if [ -x "$bc/bench_cuda" ]; then
  for tool in memcheck racecheck synccheck; do
    if enough 40 "compute-sanitizer $tool"; then
      t=$(( $(left) < 150 ? $(left) : 150 ))
      echo "--- $tool" >> "$OUT/sanitizer.txt"
      timeout "$t" "$san" --tool "$tool" --error-exitcode 9 "$bc/bench_cuda" --check --small \
        >> "$OUT/sanitizer.txt" 2>&1
      rc=$?
      tail -4 "$OUT/sanitizer.txt"
      note "compute-sanitizer $tool: exit $rc (0 clean, 9 errors found, 124 timeout)"
    fi
  done
fi

step "summary"
{
  echo "# gpu-check on ${card:-unknown} ($(date -u +%F))"
  echo
  for r in "${results[@]}"; do echo "- $r"; done
  echo
  for f in bench_cuda.md pytopk_torch.md node_e2e.md; do
    [ -s "$OUT/$f" ] && { cat "$OUT/$f"; echo; }
  done
} > "$OUT/summary.md"
cat "$OUT/summary.md"
echo "total $((SECONDS - start)) s"
