#!/usr/bin/env bash
# clang-tidy over the addon's C++ sources (native/sources.json: binding, core, cpu), the fuzz
# harness and the native checks under test/native, with the checks that .clang-tidy lists and
# explains. Headers under native/ are checked through the sources that include them, CUDA's
# shared headers (native/core) included. The .cu files are not: clang 14 does not parse CUDA 13.
#   bash scripts/tidy-native.sh     exit 1 on any finding (npm run lint, CI)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-tidy >/dev/null; then
  echo "tidy-native: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2
  exit 2
fi
napi_inc="$(node -p "require('node-api-headers').include_dir")"
addon_inc="$(node -p "require('node-addon-api').include_dir")"
mapfile -t files < <(node -p "const s = require('./native/sources.json'); [...s.binding, ...s.core, ...s.cpu].join('\n')")
files+=(native/fuzz/fuzz_core.cpp test/native/lazy_skip_check.cpp test/native/prune_bound_check.cpp)
mapfile -t flags < <(node -p "require('./native/sources.json').streamFlags.join('\n')")
flags+=(-std=c++17 -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS "-I$napi_inc" "-I$addon_inc" -Inative)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -I{} clang-tidy --quiet {} -- "${flags[@]}" >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  # clang-tidy's own chatter ("N warnings generated") is noise; the findings are what matter.
  grep -v 'warnings\? generated\.$' "$log" >&2 || true
  echo "tidy-native: findings in the files above (checks and reasons: .clang-tidy)" >&2
  exit 1
fi
echo "tidy-native: ${#files[@]} files clean"
