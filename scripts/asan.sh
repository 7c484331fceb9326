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
# grep reads all of ldd's output (no -q): with pipefail, an early exit would SIGPIPE ldd and
# fail the check now and then on a correctly linked addon.
ldd "$addon" | grep libasan >/dev/null || { echo "asan: $addon is not linked against libasan" >&2; exit 1; }
ldd "$addon" | grep libubsan >/dev/null || { echo "asan: $addon is not linked against libubsan" >&2; exit 1; }

export NOISED_TOPK_ADDON="$addon"
export LD_PRELOAD="$asan_rt${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
[ "${NOISED_TOPK_ASAN_BUILD_ONLY:-0}" = 1 ] && { echo "$addon"; exit 0; }
echo "asan: running the tests against $addon (runtime $asan_rt)"
# The unit and fuzz projects: the library's calls into the addon. The integration project is
# left out: it spawns toolchains and package managers (nvcc, npm, g++, a libtorch benchmark)
# that the preloaded ASan runtime would be forced into, and it tests packaging, not the addon's
# memory. Arguments replace the projects (e.g. one test file).
if [ $# -eq 0 ]; then set -- --project unit --project fuzz; fi
exec node node_modules/vitest/vitest.mjs run "$@"
