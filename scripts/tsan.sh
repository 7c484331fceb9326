#!/usr/bin/env bash
# npm run test:tsan: builds the addon with ThreadSanitizer (gcc -fsanitize=thread) into
# build-tsan/ (never build/), then runs the tests that exercise the CPU thread pool and
# concurrent calls against it (or the vitest arguments given):
#   resources.test.ts    setThreads up and down (workers started and joined), wide-row scratch
#                        released by pool threads, 4 concurrent async calls;
#   bitident.test.ts     the kernels on 1, 2, 3 and 8 threads;
#   reliability.test.ts  concurrent async calls, SharedArrayBuffer memory written meanwhile;
#   workers.test.ts      the addon in six worker_threads at once, workers terminated mid-call;
#   native-guards.test.ts async entry points, twin SharedArrayBuffers.
#   NOISED_TOPK_ADDON   makes lib/native.ts load the instrumented .node;
#   LD_PRELOAD          the TSan runtime must be the first library in a process (node is not
#                       built with it), as scripts/asan.sh does for ASan;
#   halt_on_error=1     the first report fails the run; scripts/tsan.supp lists the only
#                       suppressions (node and V8 internals, which are not instrumented).
# The suppressions were checked against a build with a deliberate race in forwardCpu's chunk
# body (a static counter incremented by every chunk): reported, the run failed.
# NOISED_TOPK_TSAN_SKIP_BUILD=1 reuses build-tsan/.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build-tsan
if [ "${NOISED_TOPK_TSAN_SKIP_BUILD:-0}" != 1 ]; then
  CXX="${CXX:-g++}" node node_modules/cmake-js/bin/cmake-js compile --out "$out" --log-level warn \
    --CDNOISED_TOPK_TSAN=ON --CDNOISED_TOPK_CUDA=OFF --CDCMAKE_BUILD_TYPE=RelWithDebInfo
fi
addon="$PWD/$out/Release/noised_topk.node"
[ -f "$addon" ] || { echo "tsan: $addon was not built" >&2; exit 1; }
tsan_rt="$(${CXX:-g++} -print-file-name=libtsan.so)"
ldd "$addon" | grep libtsan >/dev/null || { echo "tsan: $addon is not linked against libtsan" >&2; exit 1; }

export NOISED_TOPK_ADDON="$addon"
export LD_PRELOAD="$tsan_rt${LD_PRELOAD:+:$LD_PRELOAD}"
symbolizer="$(command -v llvm-symbolizer || true)"
export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp${symbolizer:+:external_symbolizer_path=$symbolizer}:${TSAN_OPTIONS:-}"
echo "tsan: running the thread pool and concurrency tests against $addon (runtime $tsan_rt)"
start=$SECONDS
if [ $# -eq 0 ]; then
  set -- test/resources.test.ts test/bitident.test.ts test/reliability.test.ts test/workers.test.ts test/native-guards.test.ts
fi
node node_modules/vitest/vitest.mjs run "$@"
echo "tsan: no ThreadSanitizer report, $((SECONDS - start)) s"
