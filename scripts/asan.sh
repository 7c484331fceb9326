#!/usr/bin/env bash
# npm run test:asan: builds the addon with AddressSanitizer + UBSan into build-asan/ (never
# build/), then runs the test suite (or the vitest arguments given) against it.
#   NOISED_TOPK_ADDON   makes lib/native.ts load the sanitized .node;
#   LD_PRELOAD          the ASan runtime must come first in a process (node is not built with it);
#   detect_leaks=0      node itself does not free everything at exit (scripts/soak.mjs checks
#                       the addon for leaks with LeakSanitizer on the kernels only, see README);
#   halt_on_error=1     any ASan or UBSan report fails the run.
# NOISED_TOPK_ASAN_SKIP_BUILD=1 reuses build-asan/; NOISED_TOPK_ASAN_BUILD_ONLY=1 only builds.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build-asan
if [ "${NOISED_TOPK_ASAN_SKIP_BUILD:-0}" != 1 ]; then
  node node_modules/cmake-js/bin/cmake-js compile --out "$out" --log-level warn \
    --CDNOISED_TOPK_SANITIZE=ON --CDNOISED_TOPK_CUDA=OFF --CDCMAKE_BUILD_TYPE=RelWithDebInfo
fi
addon="$PWD/$out/Release/noised_topk.node"
[ -f "$addon" ] || { echo "asan: $addon was not built" >&2; exit 1; }
asan_rt="$(${CXX:-g++} -print-file-name=libasan.so)"
ldd "$addon" | grep libasan >/dev/null || { echo "asan: $addon is not linked against libasan" >&2; exit 1; }
ldd "$addon" | grep libubsan >/dev/null || { echo "asan: $addon is not linked against libubsan" >&2; exit 1; }

export NOISED_TOPK_ADDON="$addon"
export LD_PRELOAD="$asan_rt${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
[ "${NOISED_TOPK_ASAN_BUILD_ONLY:-0}" = 1 ] && { echo "$addon"; exit 0; }
echo "asan: running the tests against $addon (runtime $asan_rt)"
# Two files are left out: fallback.test.ts checks the no-addon path, which NOISED_TOPK_ADDON
# would defeat (it runs no native code), and bench.test.ts builds and runs a separate libtorch
# benchmark program (not the addon), which the preloaded ASan runtime would be forced into.
exec node node_modules/vitest/vitest.mjs run --exclude test/fallback.test.ts --exclude test/bench.test.ts "$@"
