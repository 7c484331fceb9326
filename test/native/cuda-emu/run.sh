#!/usr/bin/env bash
# Builds and runs the emulated-kernel check (no GPU needed): the real kernels of
# native/cuda/select.cuh compiled as host C++ against the SIMT emulator in this folder, compared
# with the CPU kernels bit for bit. Usage: bash test/native/cuda-emu/run.sh [--quick]
# (test/cuda-emu.test.ts runs it with --quick)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${TMPDIR:-/tmp}/ntk-emu-check
# The kernels' sources, as the addon builds them (native/sources.json).
read -r -a kernels <<< "$(cd "$root" && node -p "const s = require('./native/sources.json'); [...s.core, ...s.cpu].map((f) => '$root/' + f).join(' ')")"
g++ -std=c++20 -O1 -ffp-contract=off -fno-fast-math -pthread -Wall -Wno-unknown-pragmas \
  -I "$root/test/native/cuda-emu" -I "$root/native" \
  "$root/test/native/cuda-emu/emu_check.cpp" "${kernels[@]}" -o "$out"
"$out" "$@"
