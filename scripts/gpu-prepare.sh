#!/usr/bin/env bash
# Run HERE, on the CPU machine, before the one device call that runs scripts/gpu-check.sh.
# The GPU machine has CUDA, cmake, ninja, g++ and PyTorch but no Node.js and no network, so
# this fills .gpu/ (git-ignored) with what it lacks:
#   .gpu/node.xz              this machine's Node.js (../shared/gpu/prepare.sh)
#   .gpu/node_modules.tar.xz  node_modules without @tensorflow, typescript, @types (vitest,
#                             cmake-js, node-addon-api, node-api-headers are what it needs)
#   .gpu/dist/                the TypeScript build (bench/cuda/node_e2e.mjs imports dist/)
#   .gpu/noised_topk.node     the addon with CUDA built here (fallback if the build there fails)
# Then, with the device tool:
#   run(command: "bash scripts/gpu-check.sh", carry: [".gpu"], timeout_s: 600)
# Total is about 40 MiB of the 64 MiB a call may carry.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
"$root/../shared/gpu/prepare.sh"
mkdir -p .gpu
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude

echo "== dist"
rm -rf .gpu/dist
npx tsc -p tsconfig.build.json --outDir .gpu/dist

echo "== node_modules (trimmed)"
tar -cf - --exclude='node_modules/@tensorflow' --exclude='node_modules/typescript' --exclude='node_modules/@types' \
  --exclude='node_modules/.cache' node_modules | xz -T2 -6 -c > .gpu/node_modules.tar.xz

echo "== addon with CUDA (built here, a fallback for the GPU machine)"
rm -rf .gpu/build
npx cmake-js compile -O .gpu/build --log-level warn
cp .gpu/build/Release/noised_topk.node .gpu/noised_topk.node
rm -rf .gpu/build
node -e "const a = require('./.gpu/noised_topk.node'); if (!a.cuda) { console.error('the addon was built without CUDA (is nvcc on PATH?)'); process.exit(1); }"

ls -la .gpu
total=$(du -sm .gpu | cut -f1)
echo "carry: .gpu (${total} MiB of the 64 MiB a device call may carry, the working tree included)"
if [ "$total" -gt 56 ]; then
  echo "warning: .gpu is large; the working tree also travels" >&2
fi
