#!/usr/bin/env bash
# clang-format over the C++ and CUDA sources git tracks (vendored headers and the generated
# native/core/constants.h excluded: scripts/gen-constants.mjs writes that one).
#   bash scripts/format-native.sh          rewrite them in place
#   bash scripts/format-native.sh --check  list the files that differ and exit 1 (CI, npm run lint)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "format-native: clang-format not found (Debian: apt-get install clang-format)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files -- '*.cpp' '*.h' '*.cu' '*.cuh' ':!:native/vendor/**' ':!:native/core/constants.h')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
